package chaos_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/chaos"
	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
	"github.com/splitbrain-dev/splitbrain/peers/canary"
)

// budget scales a CI-size budget by $CHAOS_SCALE (e.g. 10 for a long local run).
func budget(d time.Duration) time.Duration {
	if f, err := strconv.ParseFloat(os.Getenv("CHAOS_SCALE"), 64); err == nil && f > 0 {
		return time.Duration(float64(d) * f)
	}
	return d
}

func TestExploreFindsProbeUnlink(t *testing.T) {
	res, err := chaos.Explore(context.Background(), chaos.Config{
		Impl: impl("probe-unlink"), Budget: 2 * time.Minute, Out: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Found() {
		t.Fatalf("probe-unlink not caught in %d schedules (%v, seed %d)", res.Schedules, res.Search, res.Seed)
	}
	if n := res.Counterexample.Len(); n > 6 {
		t.Errorf("counterexample has %d steps, want at most 6:\n%s", n, res.Counterexample.StoryText())
	}
	if !res.Reproduced {
		t.Errorf("the shrunk counterexample did not replay:\n%s", res.Counterexample.StoryText())
	}
	for _, f := range []string{"history.jsonl", "results.json", "schedule.json", "story.txt"} {
		if _, err := os.Stat(filepath.Join(res.Dir, f)); err != nil {
			t.Errorf("result folder: %v", err)
		}
	}
	t.Logf("found in %v (%d schedules), %d steps:\n%s", res.Search, res.Schedules, res.Counterexample.Len(), res.Counterexample.StoryText())
}

func TestReferenceSurvivesExploration(t *testing.T) {
	for _, tr := range []string{"unix", "tcp"} {
		t.Run(tr, func(t *testing.T) {
			res, err := chaos.Explore(context.Background(), chaos.Config{
				Impl: impl("reference"), Transport: tr, Budget: budget(15 * time.Second),
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Found() {
				t.Fatalf("the reference broke %v (seed %d):\n%s", res.Violation, res.FailingSeed, res.Counterexample.StoryText())
			}
			if res.Mode != chaos.ModeSteered {
				t.Errorf("the reference peer announces failpoints: mode %s, want %s", res.Mode, chaos.ModeSteered)
			}
			if res.Schedules < 10 || res.LeaderKills == 0 {
				t.Errorf("exploration too thin to mean anything: %d schedules, %d leader kills", res.Schedules, res.LeaderKills)
			}
			t.Logf("%d schedules in %v (%.0f/min), %d leader kills survived", res.Schedules, res.Elapsed.Round(time.Millisecond),
				float64(res.Schedules)/res.Elapsed.Minutes(), res.LeaderKills)
		})
	}
}

// TestRegressionSchedules replays every committed counterexample: against the canary it
// was found on it must break the same invariant again; against the reference it must pass.
func TestRegressionSchedules(t *testing.T) {
	files, _ := filepath.Glob("testdata/schedules/*.json")
	if len(files) == 0 {
		t.Fatal("no schedules in testdata/schedules")
	}
	for _, f := range files {
		// CANARY.json, or CANARY.MODE.json for a second schedule of another mode.
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			s, err := chaos.LoadSchedule(f)
			if err != nil {
				t.Fatal(err)
			}
			if s.Mode == chaos.ModeSyscalls {
				self, _ := os.Executable()
				if err := syscalls.Available(self); err != nil {
					t.Skip(err)
				}
			}
			canary, _, _ := strings.Cut(name, ".")
			res, err := chaos.Replay(context.Background(), f, chaos.Config{Impl: impl(canary)})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Reproduced {
				t.Errorf("%s no longer breaks %s: %v\n%s", name, s.Violation.Invariant, res.Violation, res.Counterexample.StoryText())
			}
			ref, err := chaos.Replay(context.Background(), f, chaos.Config{Impl: impl("reference")})
			if err != nil {
				t.Fatal(err)
			}
			if ref.Found() {
				t.Errorf("the reference breaks %s's counterexample: %v\n%s", name, ref.Violation, ref.Counterexample.StoryText())
			}
		})
	}
}

// TestMeasureCanaries is the measurement behind the numbers in the report, not a CI test:
// CHAOS_MEASURE=N explores every canary with N seeds and logs time to the first
// counterexample and shrunk length (medians); CHAOS_SAVE=1 also saves each canary's
// shortest counterexample under testdata/schedules.
func TestMeasureCanaries(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CHAOS_MEASURE"))
	if n <= 0 {
		t.Skip("set CHAOS_MEASURE=N to measure")
	}
	for _, c := range canary.All() {
		var times []time.Duration
		var lens []int
		var best *chaos.Schedule
		scheds := 0
		var elapsed time.Duration
		for i := 0; i < n; i++ {
			res, err := chaos.Explore(context.Background(), chaos.Config{
				Impl: impl(c.Name), Transport: c.Transport, Budget: 2 * time.Minute, Seed: uint64(1000*i + 1),
			})
			if err != nil {
				t.Fatal(err)
			}
			scheds += res.Schedules
			elapsed += res.Search
			if !res.Found() {
				t.Errorf("%s seed %d: not found in %v", c.Name, res.Seed, res.Search)
				continue
			}
			times = append(times, res.Search)
			lens = append(lens, res.Counterexample.Len())
			if res.Reproduced && (best == nil || res.Counterexample.Len() < best.Len()) {
				best = res.Counterexample
			}
		}
		slices.Sort(times)
		slices.Sort(lens)
		if len(times) > 0 {
			t.Logf("%-17s found %d/%d; time to first counterexample: median %v (min %v, max %v); shrunk steps: median %d (%v); %.0f schedules/min",
				c.Name, len(times), n, times[len(times)/2].Round(time.Millisecond), times[0].Round(time.Millisecond),
				times[len(times)-1].Round(time.Millisecond), lens[len(lens)/2], lens, float64(scheds)/elapsed.Minutes())
		}
		if best != nil && os.Getenv("CHAOS_SAVE") != "" {
			best.Impl = "splitbrain peer --impl " + c.Name
			if err := best.Save(filepath.Join("testdata", "schedules", c.Name+".json")); err != nil {
				t.Fatal(err)
			}
			fmt.Println(best.StoryText())
		}
	}
}
