package fault

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/splitbrain-dev/splitbrain/harness/proc"
)

// Start starts one new peer, or, Storm, between 2 and MaxLive/2 new peers at once (killing
// random followers first if that many would not fit under MaxLive). Names: start, storm.
// A schedule's step names the peers instead (IDs), all started at once.
type Start struct {
	Storm bool
	IDs   []string
}

// Name implements Fault.
func (s Start) Name() string {
	if s.Storm {
		return "storm"
	}
	return "start"
}

// Inject implements Fault.
func (s Start) Inject(ctx context.Context, env Env) error {
	if len(s.IDs) > 0 {
		record(env, "start", nil, "", strings.Join(s.IDs, " "))
		return env.Start(s.IDs)
	}
	n := 1
	if s.Storm {
		n = 2 + env.Rand().IntN(max(1, env.MaxLive()/2-1))
	}
	live := env.Live()
	if over := len(live) + n - env.MaxLive(); over > 0 {
		if !s.Storm {
			return fmt.Errorf("start: %d peers already run: %w", len(live), ErrNoTarget)
		}
		leader, err := env.Leader(s.Name())
		if err != nil {
			return err
		}
		live = slices.DeleteFunc(live, func(p *proc.Peer) bool { return leader != nil && p.ID() == leader.ID() })
		env.Rand().Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
		for _, p := range live[:min(over, len(live))] {
			_ = signal(env, s.Name(), p, false, "to make room for the storm")
		}
	}
	ids := env.NewIDs(n)
	record(env, s.Name(), nil, "", strings.Join(ids, " "))
	return env.Start(ids)
}

// RestartDead restarts every peer whose process has exited, all at once, under its old id.
type RestartDead struct{}

// Name implements Fault.
func (RestartDead) Name() string { return "restart-dead" }

// Inject implements Fault.
func (f RestartDead) Inject(ctx context.Context, env Env) error {
	ids := env.DeadIDs()
	if room := env.MaxLive() - len(env.Live()); len(ids) > room {
		ids = ids[:max(room, 0)]
	}
	if len(ids) == 0 {
		return fmt.Errorf("%s: %w", f.Name(), ErrNoTarget)
	}
	record(env, f.Name(), nil, "", strings.Join(ids, " "))
	return env.Start(ids)
}
