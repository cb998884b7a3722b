package engine

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
)

var _ fault.Env = (*Engine)(nil)

// Rand implements fault.Env: the engine's one seeded source.
func (e *Engine) Rand() *mrand.Rand { return e.rng }

// Transport implements fault.Env.
func (e *Engine) Transport() string { return e.cfg.Transport }

// Addr implements fault.Env.
func (e *Engine) Addr() string { return e.cfg.Addr }

// MaxLive implements fault.Env.
func (e *Engine) MaxLive() int { return e.cfg.MaxLive }

// Timeout implements fault.Env.
func (e *Engine) Timeout() time.Duration { return e.cfg.Timeout }

// Quiet implements fault.Env.
func (e *Engine) Quiet() time.Duration { return e.cfg.Quiet }

// Record implements fault.Env: it stamps r and appends it to the history.
func (e *Engine) Record(r history.Record) {
	r.T = e.rec.now()
	e.rec.add(r)
}

// Go implements fault.Env: the engine waits for f before Close returns.
func (e *Engine) Go(f func()) {
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		f()
	}()
}

// Wait waits for every task started with Go.
func (e *Engine) Wait() { e.bg.Wait() }

// WaitEvent implements fault.Env.
func (e *Engine) WaitEvent(ctx context.Context, match func(history.Record) bool) (history.Record, error) {
	return e.rec.waitEvent(ctx, match)
}

// Term implements fault.Env: SIGTERM (then SIGCONT, so a stopped peer handles it) to p's
// process group, and p is freed from its failpoint, so that its shutdown path runs.
func (e *Engine) Term(p *proc.Peer) error {
	e.mu.Lock()
	ps := e.states[p.ID()]
	if ps != nil && ps.p == p {
		ps.steered, ps.stopped = false, false
	}
	e.mu.Unlock()
	err := p.Term()
	if ps != nil && ps.p == p {
		e.Continue(p.ID())
	}
	return err
}

// Stop implements fault.Env: SIGSTOP to p's process group, remembered until Cont.
func (e *Engine) Stop(p *proc.Peer) error {
	if err := p.Stop(); err != nil {
		return err
	}
	e.setStopped(p, true)
	return nil
}

// Cont implements fault.Env: SIGCONT to p's process group.
func (e *Engine) Cont(p *proc.Peer) error {
	e.setStopped(p, false)
	return p.Cont()
}

// Stopped implements fault.Env: the live peers stopped by Stop, in start order.
func (e *Engine) Stopped() []*proc.Peer {
	var out []*proc.Peer
	for _, p := range e.group.Live() {
		e.mu.Lock()
		ps := e.states[p.ID()]
		stopped := ps != nil && ps.p == p && ps.stopped
		e.mu.Unlock()
		if stopped {
			out = append(out, p)
		}
	}
	return out
}

// KillAll implements fault.Env: SIGKILL to every live peer, each recorded as a kill-all
// fault, and it returns once all are reaped. Every peer is stopped (SIGSTOP) first, so the
// group ends as one: no survivor runs between two kills, to take over and claim to lead
// (the end of a schedule would otherwise judge a takeover that only the teardown made).
func (e *Engine) KillAll(ctx context.Context) error {
	live := e.group.Live()
	for _, p := range live {
		_ = p.Stop()
	}
	for _, p := range live {
		e.Record(history.Record{Kind: history.KindFault, Peer: p.ID(), PID: p.PID(),
			Fault: &history.Fault{Name: "kill-all", Target: p.ID(), PID: p.PID(), Signal: "SIGKILL"}})
		_ = p.Kill()
	}
	for _, p := range live {
		select {
		case <-p.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if len(live) > 0 {
		e.Snapshot("all peers down")
	}
	return nil
}

// WaitExit waits up to limit for p to exit, then kills it (the story says so) and waits
// for it to be reaped.
func (e *Engine) WaitExit(ctx context.Context, p *proc.Peer, limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-p.Done():
		return nil
	case <-t.C:
		e.mu.Lock()
		e.tell(p.ID(), fmt.Sprintf("does not exit within %v and is killed", limit))
		e.mu.Unlock()
		_ = p.Kill()
		<-p.Done()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
