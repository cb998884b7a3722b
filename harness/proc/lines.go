package proc

import (
	"bytes"
	"sync"
)

// lineWriter is an io.Writer that cuts what it is given into lines and hands each to emit.
// A line longer than max is cut: emit gets its first max bytes with long=true, and the rest
// of that line is dropped, so a peer writing megabytes without a newline costs max bytes.
type lineWriter struct {
	max  int
	emit func(line []byte, long bool)

	buf  []byte
	skip bool // dropping the rest of an over-long line
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		var chunk []byte
		if i < 0 {
			chunk, p = p, nil
		} else {
			chunk, p = p[:i], p[i+1:]
		}
		if !w.skip {
			room := w.max - len(w.buf)
			if len(chunk) > room {
				w.buf = append(w.buf, chunk[:room]...)
				w.emit(w.buf, true)
				w.buf = w.buf[:0]
				w.skip = true
			} else {
				w.buf = append(w.buf, chunk...)
			}
		}
		if i >= 0 {
			if !w.skip {
				w.emit(w.buf, false)
			}
			w.buf = w.buf[:0]
			w.skip = false
		}
	}
	return n, nil
}

// flush emits a last line that had no newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 && !w.skip {
		w.emit(w.buf, false)
	}
	w.buf = w.buf[:0]
	w.skip = false
}

// ring keeps the last n lines given to it. It is safe for concurrent use.
type ring struct {
	mu    sync.Mutex
	lines []string
	next  int
	full  bool
}

func newRing(n int) *ring { return &ring{lines: make([]string, n)} }

func (r *ring) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) == 0 {
		return
	}
	r.lines[r.next] = s
	r.next = (r.next + 1) % len(r.lines)
	if r.next == 0 {
		r.full = true
	}
}

// tail returns the kept lines, oldest first.
func (r *ring) tail() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return append([]string(nil), r.lines[:r.next]...)
	}
	out := append([]string(nil), r.lines[r.next:]...)
	return append(out, r.lines[:r.next]...)
}
