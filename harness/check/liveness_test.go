package check_test

import (
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

func leaderObs(t time.Duration, inode uint64, pid int) history.Record {
	s := &kernel.Snapshot{}
	if pid != 0 {
		s.Listeners = []kernel.Listener{{Inode: inode, PIDs: []int{pid}, VFSInode: inode}}
		s.PathInode = inode
	}
	return history.Record{T: t, Kind: history.KindObservation, Snapshot: s}
}

func exitRec(t time.Duration, peer string, pid int) history.Record {
	return history.Record{T: t, Kind: history.KindExit, Peer: peer, PID: pid, Exit: &history.Exit{Code: -1, Signal: "SIGKILL", ByHarness: true}}
}

// TestLivenessClockStopsWhileNoPeerLives: every peer is killed, and only 5s later one is
// restarted; the leaderless time that counts begins at that start.
func TestLivenessClockStopsWhileNoPeerLives(t *testing.T) {
	ms := time.Millisecond
	run := history.Record{Kind: history.KindRun, Run: &history.Run{Version: 1, Liveness: time.Second}}
	base := []history.Record{
		run,
		{T: 1 * ms, Kind: history.KindStart, Peer: "p1", PID: 11},
		{T: 2 * ms, Kind: history.KindStart, Peer: "p2", PID: 12},
		leaderObs(10*ms, 501, 11),
		exitRec(100*ms, "p1", 11),
		exitRec(101*ms, "p2", 12),
		leaderObs(150*ms, 0, 0),
		{T: 5000 * ms, Kind: history.KindStart, Peer: "p1", PID: 13},
	}
	good := append(append([]history.Record{}, base...), leaderObs(5100*ms, 502, 13))
	r := check.Liveness{}.Check(good)
	if r.Verdict != check.Pass || r.Figures["gap_max_ms"] != 100 {
		t.Errorf("verdict %s, gap_max_ms %v, want pass and 100: %s", r.Verdict, r.Figures["gap_max_ms"], r.Summary)
	}
	// The restarted peer never leads: 1.5s without a leader while it lives.
	bad := append(append([]history.Record{}, base...), leaderObs(6500*ms, 0, 0))
	r = check.Liveness{}.Check(bad)
	if r.Verdict != check.Fail {
		t.Errorf("verdict %s, want fail: %s", r.Verdict, r.Summary)
	}
}

// TestLivenessIgnoresLossAfterEnd: the harness stops the leader after the "end" phase.
func TestLivenessIgnoresLossAfterEnd(t *testing.T) {
	ms := time.Millisecond
	h := []history.Record{
		{Kind: history.KindRun, Run: &history.Run{Version: 1, Liveness: time.Second}},
		{T: 1 * ms, Kind: history.KindStart, Peer: "p1", PID: 11},
		{T: 2 * ms, Kind: history.KindStart, Peer: "p2", PID: 12},
		leaderObs(10*ms, 501, 11),
		{T: 20 * ms, Kind: history.KindPhase, Detail: check.PhaseEnd},
		exitRec(30*ms, "p1", 11),
		leaderObs(5000*ms, 0, 0),
	}
	if r := (check.Liveness{}).Check(h); r.Verdict != check.Pass || r.Figures["failovers"] != 0 {
		t.Errorf("verdict %s, failovers %v: %s", r.Verdict, r.Figures["failovers"], r.Summary)
	}
}
