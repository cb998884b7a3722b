package engine

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
)

// SyscallPoints are the points a peer steered at its syscalls (Config.SteerSyscalls) stops
// at, before the call, by the names [Engine.RunTo] takes: connect, bind and listen on the
// address, unlink and rename (of the address or an entry of its folder), and lock (flock or
// an fcntl record lock on a file of that folder). accept is watched but not a point: a
// leader makes one per member.
var SyscallPoints = []string{"connect", "bind", "listen", "unlink", "rename", "lock"}

// pointOf names the point a watched call stops at, "" for none.
func pointOf(call string) string {
	switch call {
	case "connect", "bind", "listen", "unlink", "rename":
		return call
	case "unlinkat":
		return "unlink"
	case "renameat", "renameat2":
		return "rename"
	case "flock", "fcntl":
		return "lock"
	}
	return ""
}

// hold is one call a steered peer waits in until the harness lets it go.
type hold struct {
	label     string
	tid       int
	release   chan struct{}
	withdrawn bool // its caller's wait was interrupted: the call comes again, as a new hold
}

// withdrawnPoll is how often a held call is checked for having been withdrawn: a signal
// interrupts the caller's wait, and the call comes again, restarted, as a new notification.
const withdrawnPoll = 50 * time.Millisecond

// steerAt holds c's caller, if its peer is steered at syscalls and c is a point, until
// Continue, RunTo, Free or Close lets it go, the peer ends, or the call is withdrawn. It
// runs in the supervisor's goroutine for c, before the call is made.
func (e *Engine) steerAt(c *syscalls.Call) {
	point := pointOf(c.Name)
	e.mu.Lock()
	ps := e.states[c.Peer]
	if ps == nil || ps.p == nil || gone(ps.p) {
		e.mu.Unlock()
		return
	}
	ps.calls++
	ps.lastCall = time.Now()
	if point == "" || !ps.steered || e.closed || (ps.runTo != "" && ps.runTo != point) {
		// Not held: the story still tells a steered peer's calls (on its way to a run-to
		// point), and any peer's connects and key calls (a settle, a freed peer).
		if point != "" && (ps.steered || c.Key || point == "connect") {
			e.tellCall(ps.id, c)
		}
		e.notify()
		e.mu.Unlock()
		return
	}
	ps.runTo = ""
	h := &hold{label: e.short(c), tid: c.TID, release: make(chan struct{})}
	for _, old := range ps.holds {
		if old.tid == c.TID {
			// The thread left the old wait (a signal: SIGSTOP, SIGCONT) and restarted the
			// call: the old hold is void.
			old.withdrawn = true
			ps.unhold(old)
			close(old.release)
			break
		}
	}
	ps.holds = append(ps.holds, h)
	ps.paused = ps.holds[0].label
	ps.pauses++
	e.tell(ps.id, "holds at "+h.label)
	e.notify()
	p := ps.p
	e.mu.Unlock()

	tick := time.NewTicker(withdrawnPoll)
	defer tick.Stop()
	released := false
wait:
	for {
		select {
		case <-h.release:
			released = true
			break wait
		case <-p.Done():
			break wait
		case <-tick.C:
			if !c.Valid() {
				break wait
			}
		}
	}
	e.mu.Lock()
	ps.unhold(h)
	if released && !h.withdrawn {
		e.tellCall(ps.id, c)
	}
	e.notify()
	e.mu.Unlock()
}

// unhold removes h from the holds, if there; e.mu is held.
func (ps *peerState) unhold(h *hold) {
	for i, x := range ps.holds {
		if x == h {
			ps.holds = append(ps.holds[:i], ps.holds[i+1:]...)
			break
		}
	}
	ps.paused = ""
	if len(ps.holds) > 0 {
		ps.paused = ps.holds[0].label
	}
}

// releaseHeld lets peer id's oldest held call go, if it has one; e.mu is held.
func (ps *peerState) releaseHeld() bool {
	if len(ps.holds) == 0 {
		return false
	}
	h := ps.holds[0]
	ps.unhold(h)
	close(h.release)
	return true
}

// releaseAll frees every peer held at a syscall, for Close.
func (e *Engine) releaseAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ps := range e.states {
		ps.steered = false
		for ps.releaseHeld() {
		}
	}
}

// tellCall tells call c of peer id, which goes on now: at once, or with its result once the
// supervisor has made it; e.mu is held. A call let go before the first violation is told
// with its result even when the violation comes first: the judge's look may see its effect
// (an unlink) a moment before its result is back.
func (e *Engine) tellCall(id string, c *syscalls.Call) {
	if c.Made {
		if !e.told.Load() {
			e.released.Store(c, id)
		}
		return
	}
	e.tell(id, e.short(c))
}

// tellResult notes a made call's result for the story, if the call was let go by steering.
func (e *Engine) tellResult(c *syscalls.Call) {
	if c.Phase != syscalls.After {
		return
	}
	if id, ok := e.released.LoadAndDelete(c); ok {
		e.mu.Lock()
		e.note(id.(string), e.short(c))
		e.notify()
		e.mu.Unlock()
	}
}

// AwaitResults waits, up to limit, for the results of the calls let go by steering that are
// not back yet, so that the story of a step tells them.
func (e *Engine) AwaitResults(ctx context.Context, limit time.Duration) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		e.mu.Lock()
		changed := e.changed
		e.mu.Unlock()
		pending := false
		e.released.Range(func(any, any) bool { pending = true; return false })
		if !pending {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// short says a call the way a story does: "connect sock -> ECONNREFUSED", paths by their
// base name (they all lie in the run's own folder) and the election's tcp port as PORT, so
// that the replay of an interleaving tells the same story.
func (e *Engine) short(c *syscalls.Call) string {
	s := c.Name
	for _, a := range []string{c.Path, c.Path2, c.Addr} {
		if a == "" {
			continue
		}
		if filepath.IsAbs(a) {
			a = filepath.Base(a)
		} else if _, port, err := net.SplitHostPort(e.cfg.Addr); err == nil && strings.HasSuffix(a, ":"+port) {
			a = strings.TrimSuffix(a, port) + "PORT"
		}
		s += " " + a
	}
	if c.Phase == syscalls.After {
		s += " -> " + c.Result
	}
	return s
}
