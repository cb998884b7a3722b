package chaos

import (
	"context"
	"slices"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// minimize deletes steps of a failing schedule one at a time (the final settle included,
// when the violation comes before it), keeping each deletion after which a replay still
// fails, until no single deletion does. It is bounded by the schedule's length, not by time.
// A deleted last step may come back as the settle every schedule ends with: that counts as
// simpler, since a settle only lets the group be and looks.
func minimize(ctx context.Context, cfg *Config, s Schedule, recs []history.Record) (Schedule, []history.Record, int, error) {
	runs := 0
	for changed := true; changed && len(s.Steps) > 1; {
		changed = false
		for i := len(s.Steps) - 1; i >= 0 && len(s.Steps) > 1; i-- {
			try := s
			try.Steps = slices.Delete(slices.Clone(s.Steps), i, i+1)
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

// simpler reports whether steps a make a smaller counterexample than steps b: fewer steps,
// or as many with fewer that act (not a settle).
func simpler(a, b []Step) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	acting := func(steps []Step) int {
		n := 0
		for _, st := range steps {
			if st.Op != OpSettle {
				n++
			}
		}
		return n
	}
	return acting(a) < acting(b)
}
