package check_test

import (
	"math"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

func TestRateUpperBound(t *testing.T) {
	for _, tt := range []struct {
		x, n int
		want float64
	}{
		{0, 412, 0.00725}, // 1-(0.05)^(1/412), the "below 0.73 %"
		{0, 1, 0.95},      // one trial says little
		{1, 10, 0.3942},   // Clopper–Pearson, one-sided 95 %
		{5, 100, 0.1024},  // ditto
		{0, 0, 1},         // no trials, no bound
		{3, 3, 1},         // every trial failed
	} {
		if got := check.RateUpperBound(tt.x, tt.n, 0.95); math.Abs(got-tt.want) > 5e-4 {
			t.Errorf("RateUpperBound(%d, %d) = %.5f, want %.4f", tt.x, tt.n, got, tt.want)
		}
	}
}

// TestExercise: two leader kills, the first followed by a failover, the second by two
// listeners (a violated trial); a skipped round; the observer's figures.
func TestExercise(t *testing.T) {
	ms := time.Millisecond
	listen := func(pids ...int) *kernel.Snapshot {
		s := &kernel.Snapshot{PathInode: 7}
		for i, pid := range pids {
			s.Listeners = append(s.Listeners, kernel.Listener{Inode: uint64(100 + i), VFSInode: 7, PIDs: []int{pid}})
		}
		return s
	}
	h := []history.Record{
		{Kind: history.KindRun, Run: &history.Run{Version: 1, Addr: "/s", Transport: "unix"}},
		{T: 1 * ms, Kind: history.KindStart, Peer: "p1", PID: 11},
		{T: 1 * ms, Kind: history.KindStart, Peer: "p2", PID: 12},
		{T: 1 * ms, Kind: history.KindStart, Peer: "p3", PID: 13},
		{T: 2 * ms, Kind: history.KindObservation, Snapshot: listen(11)},
		{T: 3 * ms, Kind: history.KindFault, Peer: "p1", PID: 11, Fault: &history.Fault{Name: "kill-leader", PID: 11, Signal: "SIGKILL"}},
		{T: 3 * ms, Kind: history.KindRound, Round: &history.Round{N: 1, Fault: "kill-leader"}},
		{T: 4 * ms, Kind: history.KindObservation, Snapshot: listen(12)},
		{T: 5 * ms, Kind: history.KindRound, Round: &history.Round{N: 2, Fault: "restart-dead", Skipped: "no target"}},
		// A kill of another name counts when its target held the listener.
		{T: 6 * ms, Kind: history.KindFault, Peer: "p2", PID: 12, Fault: &history.Fault{Name: "kill-at-failpoint", PID: 12, Signal: "SIGKILL"}},
		{T: 6 * ms, Kind: history.KindRound, Round: &history.Round{N: 3, Fault: "kill-at-failpoint"}},
		{T: 7 * ms, Kind: history.KindObservation, Snapshot: listen(13, 14)},
		// A follower's kill is not a trial.
		{T: 8 * ms, Kind: history.KindFault, Peer: "p3", PID: 15, Fault: &history.Fault{Name: "kill-follower", PID: 15, Signal: "SIGKILL"}},
		{T: 9 * ms, Kind: history.KindObserver, Observer: &history.Observer{Snapshots: 40, Median: 2 * ms, Max: 9 * ms}},
	}
	ex, c := check.Exercise(h, 0)
	if ex.Rounds != 3 || ex.FaultsRun["kill-leader"] != 1 || ex.FaultsSkipped["restart-dead"]["no target"] != 1 {
		t.Errorf("rounds and faults: %+v", ex)
	}
	if ex.LeaderKills != 2 || ex.Failovers != 1 {
		t.Errorf("leader kills %d (want 2), failovers %d (want 1)", ex.LeaderKills, ex.Failovers)
	}
	if ex.Observations != 40 || ex.RecordedObservations != 3 || ex.IntervalMedianMS != 2 || ex.IntervalMaxMS != 9 {
		t.Errorf("observations: %+v", ex)
	}
	if c.Trials != 2 || c.Violations != 1 || c.Level != check.DefaultLevel || c.RateUpperBound != check.RateUpperBound(1, 2, 0.95) {
		t.Errorf("confidence: %+v", c)
	}
}
