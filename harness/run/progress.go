package run

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// progress shows what the run is doing: one updating line on a terminal (at most every
// 100ms), or plain lines at most every 5s (and at each phase) when the output is a file.
type progress struct {
	w    io.Writer
	tty  bool
	mu   sync.Mutex
	last time.Time
	line string
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		p.tty = err == nil
	}
	return p
}

func (p *progress) show(line string, force bool) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	every := 5 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	p.line = line
	if !force && time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) set(format string, args ...any) {
	p.show("splitbrain: "+fmt.Sprintf(format, args...), true)
}

func (p *progress) round(n int, fault string, began time.Time, live int) {
	p.show(fmt.Sprintf("splitbrain: round %d (%s in), %s, %d peers live", n,
		time.Since(began).Round(time.Second), fault, live), false)
}

// done ends the updating line.
func (p *progress) done() {
	if p == nil || p.w == nil || !p.tty {
		return
	}
	fmt.Fprintln(p.w)
}
