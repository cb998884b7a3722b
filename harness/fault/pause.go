package fault

import (
	"context"
	"fmt"
	"time"
)

// Pause stops a peer with SIGSTOP (the leader half the time, else a random peer) and resumes
// it with SIGCONT after longer than any timeout (Env.Timeout plus up to half again), in the
// background: the run goes on meanwhile.
//
// A schedule's step sets At instead: that peer or role is stopped until a [Resume] step.
type Pause struct {
	At Target
}

// Name implements Fault.
func (Pause) Name() string { return "pause" }

// Inject implements Fault.
func (f Pause) Inject(ctx context.Context, env Env) error {
	if f.At.set() {
		p, err := f.At.Resolve(env, f.Name())
		if err != nil {
			return err
		}
		if p == nil {
			return fmt.Errorf("%s: %w", f.Name(), ErrNoTarget)
		}
		record(env, f.Name(), p, "SIGSTOP", "until resumed")
		if err := env.Stop(p); err != nil {
			return fmt.Errorf("%s: %w: %w", f.Name(), ErrNoTarget, err)
		}
		return nil
	}
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
	if err := env.Stop(p); err != nil {
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
		_ = env.Cont(p)
	})
	return nil
}

// Resume sends SIGCONT to every peer a Pause stopped. Detail goes into the history.
type Resume struct {
	Detail string
}

// Name implements Fault.
func (Resume) Name() string { return "resume" }

// Inject implements Fault.
func (f Resume) Inject(ctx context.Context, env Env) error {
	stopped := env.Stopped()
	if len(stopped) == 0 {
		return fmt.Errorf("%s: nobody is stopped: %w", f.Name(), ErrNoTarget)
	}
	for _, p := range stopped {
		record(env, f.Name(), p, "SIGCONT", f.Detail)
		_ = env.Cont(p)
	}
	return nil
}
