package fault

import (
	"context"
	"fmt"
	"time"
)

// Pause stops a peer with SIGSTOP (the leader half the time, else a random peer) and resumes
// it with SIGCONT after longer than any timeout (Env.Timeout plus up to half again), in the
// background: the run goes on meanwhile.
type Pause struct{}

// Name implements Fault.
func (Pause) Name() string { return "pause" }

// Inject implements Fault.
func (f Pause) Inject(ctx context.Context, env Env) error {
	p, err := env.Leader(f.Name())
	if err != nil {
		return err
	}
	if p == nil || env.Rand().IntN(2) == 0 {
		p = pick(env, env.Live())
	}
	if p == nil {
		return fmt.Errorf("%s: %w", f.Name(), ErrNoTarget)
	}
	d := env.Timeout() + time.Duration(env.Rand().Int64N(int64(env.Timeout()/2)+1))
	record(env, f.Name(), p, "SIGSTOP", fmt.Sprintf("for %v", d.Round(time.Millisecond)))
	if err := p.Stop(); err != nil {
		return fmt.Errorf("%s: %w: %w", f.Name(), ErrNoTarget, err)
	}
	env.Go(func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		record(env, "resume", p, "SIGCONT", "end of pause")
		_ = p.Cont()
	})
	return nil
}
