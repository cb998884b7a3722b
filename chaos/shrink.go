package chaos

import (
	"context"
	"slices"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// minimize simplifies a failing schedule one change at a time, keeping each change after
// which a replay still fails, until none does: it deletes a step (the final settle
// included, when the violation comes before it), starts a steered peer free, or starts two
// free peers in one step (outside timing schedules, where a free start of several peers is
// one after the other, to rest, just as two starts are). It is bounded by the schedule's
// size, not by time. A deleted last step may come back as the settle every schedule ends
// with: that counts as simpler, since a settle only lets the group be and looks.
func minimize(ctx context.Context, cfg *Config, s Schedule, recs []history.Record) (Schedule, []history.Record, int, error) {
	runs := 0
	for changed := true; changed && len(s.Steps) > 1; {
		changed = false
		for _, steps := range simplifications(s.Steps, cfg.Mode != ModeTiming) {
			try := s
			try.Steps = steps
			got, grecs, err := runSchedule(ctx, cfg, try)
			runs++
			if err != nil {
				return s, recs, runs, err
			}
			if got.Violation != nil && simpler(got.Steps, s.Steps) {
				s, recs, changed = got, grecs, true
				break
			}
		}
	}
	return s, recs, runs, nil
}

// simplifications lists the candidates one change away from steps, deletions first (from
// the last step back), then free starts, then merged starts (when merge).
func simplifications(steps []Step, merge bool) [][]Step {
	var out [][]Step
	for i := len(steps) - 1; i >= 0 && len(steps) > 1; i-- {
		out = append(out, slices.Delete(slices.Clone(steps), i, i+1))
	}
	for i, st := range steps {
		if st.Op == OpStart && st.Steered {
			c := slices.Clone(steps)
			c[i].Steered = false
			out = append(out, c)
		}
	}
	if merge {
		for i := 0; i+1 < len(steps); i++ {
			a, b := steps[i], steps[i+1]
			if a.Op == OpStart && b.Op == OpStart && !a.Steered && !b.Steered && a.Delay == 0 && b.Delay == 0 {
				c := slices.Delete(slices.Clone(steps), i+1, i+2)
				c[i].Peers = append(slices.Clone(a.Peers), b.Peers...)
				out = append(out, c)
			}
		}
	}
	return out
}

// simpler reports whether steps a make a smaller counterexample than steps b: fewer steps,
// or as many with fewer that act (not a settle), or as many acting with fewer steered starts.
func simpler(a, b []Step) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	count := func(steps []Step, f func(Step) bool) int {
		n := 0
		for _, st := range steps {
			if f(st) {
				n++
			}
		}
		return n
	}
	acting := func(st Step) bool { return st.Op != OpSettle }
	steered := func(st Step) bool { return st.Op == OpStart && st.Steered }
	if x, y := count(a, acting), count(b, acting); x != y {
		return x < y
	}
	return count(a, steered) < count(b, steered)
}
