package fault

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/proc"
	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
)

// SyscallHolder is implemented by an Env that watches its peers' syscalls (--syscalls).
type SyscallHolder interface {
	// WatchesSyscalls reports whether the peers run under the seccomp supervisor.
	WatchesSyscalls() bool
	// AtSyscall arms a one-shot hook: act runs on the first watched call match accepts,
	// while its caller is held (after the call is recorded and observed). disarm removes
	// the hook if it has not run.
	AtSyscall(match func(*syscalls.Call) bool, act func(*syscalls.Call)) (disarm func())
}

// SyscallPoints are the points KillAtSyscall picks from: the calls on the address where a
// dying peer leaves the others a different world. bind and unlink are held before they
// happen, listen just after (the peer dies listening).
var SyscallPoints = []string{"bind", "listen", "unlink"}

// KillAtSyscall kills the leader, then SIGKILLs the first peer that reaches Point (picked
// at random from SyscallPoints when empty) on the address in the election that follows,
// while the supervisor holds it there. It needs --syscalls; any implementation will do.
type KillAtSyscall struct {
	Point string
}

// Name implements Fault.
func (KillAtSyscall) Name() string { return "kill-at-syscall" }

// Inject implements Fault.
func (f KillAtSyscall) Inject(ctx context.Context, env Env) error {
	point := f.Point
	if point == "" {
		point = SyscallPoints[env.Rand().IntN(len(SyscallPoints))]
	}
	match := func(c *syscalls.Call) bool { return atPoint(c, point) }
	return atNextElection(ctx, env, f.Name(), point, match, func(_ context.Context, _ SyscallHolder, c *syscalls.Call, p *proc.Peer) error {
		c.Abandon() // the group's SIGKILL ends it: nothing is to be made in its name
		return signal(env, f.Name(), p, false, "held at "+c.String())
	})
}

// atNextElection kills the leader to start an election and runs act on the first watched
// call of it that match accepts, while the caller (peer p) is held there; it returns act's
// error, or ErrNoTarget when the peers are not watched, there is no leader, or no call
// matched within the liveness bound.
func atNextElection(ctx context.Context, env Env, name, point string, match func(*syscalls.Call) bool,
	act func(context.Context, SyscallHolder, *syscalls.Call, *proc.Peer) error) error {
	h, ok := env.(SyscallHolder)
	if !ok || !h.WatchesSyscalls() {
		return fmt.Errorf("%s needs the peers' syscalls watched (--syscalls on): %w", name, ErrNoTarget)
	}
	old, err := env.Leader(name)
	if err != nil {
		return err
	}
	if old == nil {
		return fmt.Errorf("%s: %w", name, ErrNoTarget)
	}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout())
	defer cancel()
	done := make(chan error, 1)
	disarm := h.AtSyscall(match, func(c *syscalls.Call) {
		p := env.Peer(c.Peer)
		if p == nil {
			done <- fmt.Errorf("%s: %s is not a live peer: %w", name, c.Peer, ErrNoTarget)
			return
		}
		done <- act(ctx, h, c, p)
	})
	defer disarm()
	if err := signal(env, name, old, false, "the leader, to start an election"); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("%s: no peer reached %s on the address within %v: %w", name, point, env.Timeout(), ErrNoTarget)
	case err := <-done:
		return err
	}
}

// atPoint: a key call of the point's kind, in the phase the point names.
func atPoint(c *syscalls.Call, point string) bool {
	if !c.Key {
		return false
	}
	switch point {
	case "bind":
		return c.Name == "bind"
	case "unlink":
		return (c.Name == "unlink" || c.Name == "unlinkat") && c.Phase == syscalls.Before
	case "listen":
		return c.Name == "listen" && (c.Phase == syscalls.After || !c.Made)
	}
	return false
}

// HoldPoints are the points HoldAtSyscall picks from: where a peer that waits lets the
// others elect behind its back. Each is held before it happens.
var HoldPoints = []string{"unlink", "bind", "rename"}

// HoldAtSyscall kills the leader, then holds the first peer that reaches Point (picked at
// random from HoldPoints when empty) on the address in the election that follows, and lets
// the others run ahead: the held call goes on once another peer has listened on the address,
// or after Hold (default the quiet bound). A probe-then-unlink peer held between its refused
// probe and its unlink so removes the new leader's socket, whatever its timing. It needs
// --syscalls; any implementation will do.
type HoldAtSyscall struct {
	Point string
	Hold  time.Duration
}

// Name implements Fault.
func (HoldAtSyscall) Name() string { return "hold-at-syscall" }

// Inject implements Fault.
func (f HoldAtSyscall) Inject(ctx context.Context, env Env) error {
	point := f.Point
	if point == "" {
		point = HoldPoints[env.Rand().IntN(len(HoldPoints))]
	}
	hold := f.Hold
	if hold <= 0 {
		hold = env.Quiet()
	}
	match := func(c *syscalls.Call) bool { return heldAt(c, point) }
	return atNextElection(ctx, env, f.Name(), point, match, func(ctx context.Context, h SyscallHolder, c *syscalls.Call, p *proc.Peer) error {
		ahead := make(chan string, 1)
		disarmAhead := h.AtSyscall(func(o *syscalls.Call) bool {
			return o.Peer != c.Peer && atPoint(o, "listen")
		}, func(o *syscalls.Call) { ahead <- o.Peer })
		defer disarmAhead()
		timer := time.NewTimer(hold)
		defer timer.Stop()
		what := fmt.Sprintf("held at %s for %v: nobody listened meanwhile", c, hold)
		select {
		case other := <-ahead:
			what = fmt.Sprintf("held at %s until %s listened", c, other)
		case <-timer.C:
		case <-ctx.Done():
		case <-p.Done():
			what = fmt.Sprintf("held at %s until it died", c)
		}
		record(env, f.Name(), p, "", what)
		return nil
	})
}

// heldAt: a call at point, before it happens (rename of the address, or onto it).
func heldAt(c *syscalls.Call, point string) bool {
	if !c.Key || c.Phase != syscalls.Before {
		return false
	}
	switch point {
	case "rename":
		return strings.HasPrefix(c.Name, "rename")
	case "bind":
		return c.Name == "bind"
	}
	return atPoint(c, point)
}
