package engine

import (
	"context"
	"sync"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// recorder stamps, keeps and writes records (w may be nil: memory only), hands each to the
// online judge, and wakes those waiting for an event.
type recorder struct {
	base  time.Time
	w     *history.Writer
	judge func(history.Record) // called with every record, outside the lock

	mu      sync.Mutex
	recs    []history.Record
	err     error // first write error
	subs    map[int]*sub
	nextSub int
	onEvent func(history.Record) // progress hook, may be nil
	flushed time.Time            // when the file was last flushed
}

// flushEvery bounds how much of the history a harness killed outright (SIGKILL, OOM) loses.
const flushEvery = time.Second

type sub struct {
	match func(history.Record) bool
	ch    chan history.Record
}

func (r *recorder) now() time.Duration { return time.Since(r.base) }

// add appends rec as it is (T already stamped).
func (r *recorder) add(rec history.Record) {
	r.mu.Lock()
	r.append(rec)
	r.mu.Unlock()
	if r.judge != nil {
		r.judge(rec)
	}
}

// append keeps and writes rec and wakes its waiters; r.mu is held.
func (r *recorder) append(rec history.Record) {
	r.recs = append(r.recs, rec)
	if r.w != nil {
		if err := r.w.Append(rec); err != nil && r.err == nil {
			r.err = err
		}
		if now := time.Now(); now.Sub(r.flushed) > flushEvery {
			r.flushed = now
			if err := r.w.Flush(); err != nil && r.err == nil {
				r.err = err
			}
		}
	}
	if rec.Kind == history.KindEvent && rec.Event != nil {
		for id, s := range r.subs {
			if s.match(rec) {
				s.ch <- rec // cap 1, sent once
				delete(r.subs, id)
			}
		}
		if r.onEvent != nil {
			r.onEvent(rec)
		}
	}
}

// record stamps rec with the time now and appends it.
func (r *recorder) record(rec history.Record) {
	rec.T = r.now()
	r.add(rec)
}

// waitEvent waits for the first event record from now on that match accepts.
func (r *recorder) waitEvent(ctx context.Context, match func(history.Record) bool) (history.Record, error) {
	s := &sub{match: match, ch: make(chan history.Record, 1)}
	r.mu.Lock()
	if r.subs == nil {
		r.subs = map[int]*sub{}
	}
	id := r.nextSub
	r.nextSub++
	r.subs[id] = s
	r.mu.Unlock()
	select {
	case rec := <-s.ch:
		return rec, nil
	case <-ctx.Done():
		r.mu.Lock()
		delete(r.subs, id)
		r.mu.Unlock()
		select {
		case rec := <-s.ch: // matched as we gave up
			return rec, nil
		default:
		}
		return history.Record{}, ctx.Err()
	}
}

func (r *recorder) records() []history.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]history.Record(nil), r.recs...)
}
