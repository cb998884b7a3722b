package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// Kill sends SIGKILL (or, Graceful, SIGTERM) to the leader or to a random follower, after a
// random delay of up to MaxDelay (default 100ms) so that kills land at every stage of a peer's
// life. Names: kill-leader, term-leader, kill-follower, term-follower.
//
// A schedule's step sets At instead: the peer or role it names (a follower is then the
// first in start order), after exactly Delay, so that a replay does the same.
type Kill struct {
	Role     Role
	Graceful bool
	MaxDelay time.Duration
	At       Target
	Delay    time.Duration
}

// Name implements Fault.
func (k Kill) Name() string {
	if k.Graceful {
		return "term-" + string(k.Role)
	}
	return "kill-" + string(k.Role)
}

// Inject implements Fault.
func (k Kill) Inject(ctx context.Context, env Env) error {
	name := k.Name()
	if k.At.set() {
		name = "kill"
		if k.Graceful {
			name = "term"
		}
	}
	delay := k.Delay
	if !k.At.set() {
		maxDelay := k.MaxDelay
		if maxDelay <= 0 {
			maxDelay = 100 * time.Millisecond
		}
		delay = time.Duration(env.Rand().Int64N(int64(maxDelay)))
	}
	if err := Sleep(ctx, delay); err != nil {
		return err
	}
	var p *proc.Peer
	var err error
	switch {
	case k.At.set():
		p, err = k.At.Resolve(env, name)
	case k.Role == Leader:
		p, err = env.Leader(name)
	default:
		p, err = follower(env, name, false)
	}
	if err != nil {
		return err
	}
	if p == nil {
		return fmt.Errorf("%s: %w", name, ErrNoTarget)
	}
	return signal(env, name, p, k.Graceful, fmt.Sprintf("after %v", delay.Round(time.Millisecond)))
}

// signal records the fault, then kills or terminates p. The record comes first so that the
// exit it causes follows it in the history.
func signal(env Env, name string, p *proc.Peer, graceful bool, detail string) error {
	sig := "SIGKILL"
	if graceful {
		sig = "SIGTERM"
	}
	record(env, name, p, sig, detail)
	var err error
	if graceful {
		err = env.Term(p)
	} else {
		err = p.Kill()
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %w", name, ErrNoTarget, err) // it died meanwhile
	}
	return nil
}

// KillNewLeader kills the leader, waits for its successor and kills that one the moment it
// is seen (its `leader` event, or the kernel showing its listener), so that a leader dies
// before it has finished taking over: its followers may be half connected.
type KillNewLeader struct{}

// Name implements Fault.
func (KillNewLeader) Name() string { return "kill-new-leader" }

// Inject implements Fault.
func (f KillNewLeader) Inject(ctx context.Context, env Env) error {
	old, err := env.Leader(f.Name())
	if err != nil {
		return err
	}
	if old == nil {
		return fmt.Errorf("%s: %w", f.Name(), ErrNoTarget)
	}
	if err := signal(env, f.Name(), old, false, "the leader"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout())
	defer cancel()
	// Whichever comes first: the successor's leader event, or the kernel.
	events := make(chan string, 1)
	go func() {
		r, err := env.WaitEvent(ctx, func(r history.Record) bool {
			return r.Event.Event == protocol.EventLeader && r.Peer != old.ID()
		})
		if err == nil {
			events <- r.Peer
		}
	}()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: no successor within %v: %w", f.Name(), env.Timeout(), ErrNoTarget)
		case id := <-events:
			for _, p := range env.Live() {
				if p.ID() == id {
					return signal(env, f.Name(), p, false, "the successor, at its leader event")
				}
			}
		case <-tick.C:
			p, err := env.Leader("")
			if err == nil && p != nil && p.ID() != old.ID() {
				return signal(env, f.Name(), p, false, "the successor, as soon as the kernel showed it")
			}
		}
	}
}

// KillAtFailpoint kills the leader, then kills the first peer that announces a failpoint
// named Point (picked at random from Points when empty) in the election that follows. Peers
// are started with every failpoint set to announce. A black-box peer never announces, and
// the fault then ends as having no target.
type KillAtFailpoint struct {
	Point string
}

// Points are the failpoints KillAtFailpoint picks from: the steps of the classic race.
var Points = []string{"after-lock", "after-probe", "before-unlink", "before-listen", "after-listen"}

// Name implements Fault.
func (KillAtFailpoint) Name() string { return "kill-at-failpoint" }

// Failpoints implements FailpointUser.
func (KillAtFailpoint) Failpoints() string { return "*=announce" }

// Inject implements Fault.
func (f KillAtFailpoint) Inject(ctx context.Context, env Env) error {
	point := f.Point
	if point == "" {
		point = Points[env.Rand().IntN(len(Points))]
	}
	old, err := env.Leader(f.Name())
	if err != nil {
		return err
	}
	if old == nil {
		return fmt.Errorf("%s: %w", f.Name(), ErrNoTarget)
	}
	ctx, cancel := context.WithTimeout(ctx, env.Timeout())
	defer cancel()
	got := make(chan history.Record, 1)
	go func() {
		r, err := env.WaitEvent(ctx, func(r history.Record) bool {
			return r.Event.Event == protocol.EventFailpoint && r.Event.Name == point
		})
		if err == nil {
			got <- r
		}
	}()
	if err := signal(env, f.Name(), old, false, "the leader, to start an election"); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return fmt.Errorf("%s: no peer reached %s within %v: %w", f.Name(), point, env.Timeout(), ErrNoTarget)
	case r := <-got:
		for _, p := range env.Live() {
			if p.ID() == r.Peer {
				return signal(env, f.Name(), p, false, "at failpoint "+point)
			}
		}
		return fmt.Errorf("%s: %s exited at %s: %w", f.Name(), r.Peer, point, ErrNoTarget)
	}
}
