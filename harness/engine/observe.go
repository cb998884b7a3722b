package engine

import (
	"context"
	"reflect"
	"slices"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
)

// Snapshot takes the kernel's view of the address, scanning the live peers' processes, and
// records it (judged online) when detail is set or it differs from the last one recorded.
// ok is false when the snapshot failed (recorded as an observation with the error).
func (e *Engine) Snapshot(detail string) (s kernel.Snapshot, ok bool) {
	e.awaitDying(0) // see awaitDying: a killed peer's sockets outlive it a moment
	return e.snapshot(detail)
}

// snapshot is Snapshot without the wait for dying peers.
func (e *Engine) snapshot(detail string) (s kernel.Snapshot, ok bool) {
	e.obsMu.Lock()
	defer e.obsMu.Unlock()
	now := time.Now()
	if !e.lastObs.IsZero() && len(e.intervals) < maxIntervals {
		e.intervals = append(e.intervals, now.Sub(e.lastObs))
	}
	e.lastObs = now
	e.observations++
	look := func(force bool) (kernel.Snapshot, error) {
		pids := []int{}
		for _, p := range e.group.Live() {
			pids = append(pids, p.PID())
		}
		// A peer is its whole process tree: its descendants' sockets are its own.
		pids = append(pids, e.tree.refresh(e.rootMap(), e.isPeer, e.Record, force)...)
		return e.obs.Snapshot(pids)
	}
	s, err := look(false)
	// A socket no scanned process holds belongs to a descendant the walk has not found (a
	// child another thread forked), or to a process that is dying: its fd table is gone
	// and its sockets close a moment later (a killed tcp leader's two listeners, seen then,
	// look like two leaders of unknown owners). Walk every thread now and look again,
	// shortly, a few times: what is still unowned after that is recorded as it is.
	for pause := time.Millisecond; err == nil && unowned(s) && pause <= 4*time.Millisecond; pause *= 2 {
		e.tree.wantDeep()
		time.Sleep(pause)
		s, err = look(true)
	}
	t := e.rec.now()
	if err != nil {
		e.rec.add(history.Record{T: t, Kind: history.KindObservation, Detail: "snapshot failed: " + err.Error()})
		return kernel.Snapshot{}, false
	}
	s.Taken = t
	e.mu.Lock()
	keep := detail != "" || e.prev == nil || !sameSnapshot(*e.prev, s)
	if keep {
		e.prev = &s
	}
	e.mu.Unlock()
	if keep {
		e.rec.add(history.Record{T: t, Kind: history.KindObservation, Snapshot: &s, Detail: detail})
	}
	return s, true
}

// unowned reports whether s shows a socket on the address that no scanned process holds:
// a peer's descendant the tree walk has not found, or a dying process's.
func unowned(s kernel.Snapshot) bool {
	for _, l := range s.Listeners {
		if len(l.PIDs) == 0 {
			return true
		}
	}
	for _, c := range s.Conns {
		if len(c.ClientPIDs) == 0 || (c.ServerInode != 0 && len(c.ServerPIDs) == 0) {
			return true
		}
	}
	return false
}

func sameSnapshot(a, b kernel.Snapshot) bool {
	a.Taken, b.Taken = 0, 0
	return reflect.DeepEqual(a, b)
}

// Sample records the kernel's view every interval (when it changed) until ctx ends.
func (e *Engine) Sample(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.Snapshot("")
		}
	}
}

// WaitFor takes snapshots until cond holds for one (true), limit passes (false), or ctx ends
// (its error). A peer record or Config.Poll wakes it. With Config.StopAtViolation it ends
// with ErrViolation as soon as the online judge has seen a violation.
func (e *Engine) WaitFor(ctx context.Context, limit time.Duration, cond func(kernel.Snapshot) bool) (bool, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(e.cfg.Poll)
	defer tick.Stop()
	for {
		e.mu.Lock()
		changed := e.changed
		e.mu.Unlock()
		s, ok := e.Snapshot("")
		if e.cfg.StopAtViolation && e.online.First() != nil {
			return false, ErrViolation
		}
		if ok && cond(s) {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-deadline.C:
			return false, nil
		case <-changed:
		case <-tick.C:
		}
	}
}

// liveMap returns the pids and ids of the peers whose exit is not recorded yet: the live
// peers as the history (and so the judge) sees them.
func (e *Engine) liveMap() map[int]string {
	m := map[int]string{}
	for _, p := range e.group.Peers() {
		select {
		case <-p.Done():
		default:
			m[p.PID()] = p.ID()
		}
	}
	return m
}

// Settled reports whether s shows the group settled (check.Settled: one reachable listener
// held by a live peer, every other live peer connected to it, nobody elsewhere); why says
// what is missing. A group with a peer the harness has killed but not yet reaped has not
// settled: the kernel may still show that peer's sockets.
func (e *Engine) Settled(s kernel.Snapshot) (ok bool, why string) {
	for _, p := range e.group.Peers() {
		if p.Doomed() {
			return false, p.ID() + " is being stopped"
		}
	}
	stopped := map[int]bool{}
	for _, p := range e.Stopped() {
		stopped[p.PID()] = true
	}
	return check.Settled(&s, e.liveMap(), stopped, e.tree.roots())
}

// rootMap returns the live peers' processes: pid -> peer id.
func (e *Engine) rootMap() map[int]string {
	m := map[int]string{}
	for _, p := range e.group.Live() {
		m[p.PID()] = p.ID()
	}
	return m
}

// WaitSettled waits up to limit for the group to settle; with !full, only for a reachable
// leader held by a live peer. It gives up early when no peer lives (no leader can appear).
func (e *Engine) WaitSettled(ctx context.Context, limit time.Duration, full bool) (bool, error) {
	return e.WaitFor(ctx, limit, func(s kernel.Snapshot) bool {
		if full {
			ok, _ := e.Settled(s)
			return ok
		}
		if l, ok := s.Reachable(); ok && e.PeerOf(l.PIDs) != nil {
			return true
		}
		return len(e.group.Live()) == 0
	})
}

// Leader takes a fresh kernel snapshot (recorded, with detail) and returns the live peer
// owning the reachable listener, or nil.
func (e *Engine) Leader(detail string) (*proc.Peer, error) {
	s, ok := e.Snapshot(detail)
	if !ok {
		return nil, nil
	}
	l, ok := s.Reachable()
	if !ok {
		return nil, nil
	}
	return e.PeerOf(l.PIDs), nil
}

// WaitAttempt waits until peer id has made an election attempt, or limit passes, and
// reports whether it made one. A white-box peer (one that spoke) has made one when it leads
// or follows, reports errors (a failed attempt: once it exits or goes quiet, or at its
// second, since it keeps trying), exits after speaking, or has
// run for blackBox since it first spoke; a black-box peer, when it has run for blackBox
// (nothing else shows its attempts). A peer that exits before it spoke made none.
func (e *Engine) WaitAttempt(ctx context.Context, id string, limit, blackBox time.Duration) (bool, error) {
	attempted := func() (done, made bool) {
		e.mu.Lock()
		defer e.mu.Unlock()
		ps := e.states[id]
		switch {
		case ps == nil || ps.p == nil:
			return true, false
		case ps.role != "":
			return true, true
		case ps.errors >= 2:
			return true, true // it failed and keeps trying
		case ps.errors > 0:
			// A reported failure: done once it exits (a refusal) or goes quiet (it keeps
			// trying), so that its exit is recorded while the plant is still there.
			return gone(ps.p) || time.Since(ps.last) > e.cfg.Quiet, true
		case gone(ps.p):
			return true, ps.events > 1 // spoke before its exit record
		case ps.events == 0:
			return time.Since(ps.started) > blackBox, time.Since(ps.started) > blackBox
		default:
			return time.Since(ps.spoke) > blackBox, time.Since(ps.spoke) > blackBox
		}
	}
	var made bool
	_, err := e.WaitFor(ctx, limit, func(kernel.Snapshot) bool {
		done, m := attempted()
		made = m
		return done
	})
	return made, err
}

// isPeer reports whether pid is one of the processes the group started.
func (e *Engine) isPeer(pid int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.byPID[pid]
	return ok
}

// maxIntervals bounds the observation intervals kept for ObservationStats.
const maxIntervals = 1 << 18

// ObservationStats returns how many kernel snapshots the engine took and the achieved
// interval between consecutive ones (median and max): what the observer can resolve.
func (e *Engine) ObservationStats() (count int, median, most time.Duration) {
	e.obsMu.Lock()
	defer e.obsMu.Unlock()
	d := slices.Clone(e.intervals)
	if len(d) == 0 {
		return e.observations, 0, 0
	}
	slices.Sort(d)
	return e.observations, d[len(d)/2], d[len(d)-1]
}
