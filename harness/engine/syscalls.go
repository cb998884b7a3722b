package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
)

// startSupervisor starts the seccomp supervisor peers will be wrapped for. Over tcp the
// folder of the secret (our temp folder) holds any lock files peers make beside it.
func (e *Engine) startSupervisor() error {
	if e.cfg.Shim == "" {
		if !syscalls.CanShim() {
			return fmt.Errorf("syscalls: this program cannot be the peers' shim: call syscalls.ShimIfAsked first thing in main (or TestMain), or set engine.Config.Shim to the splitbrain binary")
		}
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("syscalls: find this executable for the shim: %w", err)
		}
		e.cfg.Shim = exe
	}
	dir := ""
	if e.cfg.Transport == "tcp" {
		dir = filepath.Dir(e.secret)
	}
	sup, err := syscalls.Start(syscalls.Config{Transport: e.cfg.Transport, Addr: e.cfg.Addr,
		Dir: dir, OnCall: e.onSyscall, Results: e.cfg.SteerSyscalls})
	if err != nil {
		return fmt.Errorf("syscalls: %w", err)
	}
	e.sup = sup
	return nil
}

// onSyscall records a watched call while its caller is held; at a key call (bind, listen,
// unlink or rename of the address) it observes the kernel too, so that single-listener and
// reachable-leader are judged at the very instants they can change.
func (e *Engine) onSyscall(c *syscalls.Call) {
	peer := c.Peer
	if p := e.procOf(c.PID); p != nil {
		peer = p.ID()
	}
	e.Record(history.Record{Kind: history.KindSyscall, Peer: peer, PID: c.PID, Syscall: &history.Syscall{
		Call: c.Name, Phase: c.Phase, FD: c.FD, Path: c.Path, Path2: c.Path2, Addr: c.Addr,
		Key: c.Key, Result: c.Result}})
	if e.cfg.SteerSyscalls {
		e.tellResult(c) // before the observation, which may end the step
	}
	// The instant that matters is just after the call; before it only when the caller
	// makes the call itself (a bind, or a path call under other ids).
	if c.Key && (c.Phase == syscalls.After || !c.Made) {
		e.awaitDying(c.PID)
		e.snapshot("syscall: " + c.String())
	}
	if e.cfg.OnSyscall != nil {
		e.cfg.OnSyscall(c)
	}
	e.hookMu.Lock()
	var act func(*syscalls.Call)
	for i, h := range e.hooks {
		if h.match(c) {
			act = h.act
			e.hooks = append(e.hooks[:i], e.hooks[i+1:]...)
			break
		}
	}
	e.hookMu.Unlock()
	if act != nil {
		act(c)
	}
	if e.cfg.SteerSyscalls && c.Phase == syscalls.Before {
		e.steerAt(c)
	}
}

// dyingWait bounds how long an observation waits for SIGKILLed peers to end.
const dyingWait = 200 * time.Millisecond

// awaitDying waits (bounded) until no peer the harness SIGKILLed is still exiting, except
// the process group of except (a held caller's own; 0 for none). Such a process runs no
// more code, but the kernel shows its sockets, with no owner, until its exit has closed
// them; that exit takes milliseconds on a loaded machine (and under the seccomp filter),
// long enough for an observation right after a kill to judge a dead leader's sockets (over
// tcp, on 127.0.0.1 and [::1], ownerless and so two leaders) as a second listener.
func (e *Engine) awaitDying(except int) {
	pgid := -1
	if except > 0 {
		if g, err := unix.Getpgid(except); err == nil {
			pgid = g
		}
	}
	timeout := time.NewTimer(dyingWait)
	defer timeout.Stop()
	for _, p := range e.group.Peers() {
		if !p.Dying() || p.PID() == except || p.PID() == pgid {
			continue
		}
		select {
		case <-p.Done():
		case <-timeout.C:
			return
		}
	}
}

// syscallHook is one armed [Engine.AtSyscall].
type syscallHook struct {
	match func(*syscalls.Call) bool
	act   func(*syscalls.Call)
}

// WatchesSyscalls implements fault.SyscallHolder.
func (e *Engine) WatchesSyscalls() bool { return e.sup != nil }

// AtSyscall implements fault.SyscallHolder: act runs once, on the first watched call match
// accepts, while its caller is held.
func (e *Engine) AtSyscall(match func(*syscalls.Call) bool, act func(*syscalls.Call)) (disarm func()) {
	h := &syscallHook{match: match, act: act}
	e.hookMu.Lock()
	e.hooks = append(e.hooks, h)
	e.hookMu.Unlock()
	return func() {
		e.hookMu.Lock()
		defer e.hookMu.Unlock()
		for i, x := range e.hooks {
			if x == h {
				e.hooks = append(e.hooks[:i], e.hooks[i+1:]...)
				return
			}
		}
	}
}

// SyscallStats returns what the seccomp supervisor saw; zero without Config.Syscalls.
func (e *Engine) SyscallStats() syscalls.Stats {
	if e.sup == nil {
		return syscalls.Stats{}
	}
	return e.sup.Stats()
}
