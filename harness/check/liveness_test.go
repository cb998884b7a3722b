package check_test

import (
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
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
// restarted; the leaderless time that counts begins when the restarted peer can elect:
// this black-box peer's bind is its first sign, so its 100ms are start-up, not election.
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
	if r.Verdict != check.Pass || r.Figures["gap_max_ms"] != 0 || r.Figures["startup_max_ms"] != 100 {
		t.Errorf("verdict %s, gap_max_ms %v, startup_max_ms %v, want pass, 0 and 100: %s", r.Verdict, r.Figures["gap_max_ms"], r.Figures["startup_max_ms"], r.Summary)
	}
	// The restarted peer never leads, nor shows any sign: after a bound of start-up
	// allowance (until 6s), 1.5s more without a leader.
	bad := append(append([]history.Record{}, base...), leaderObs(7500*ms, 0, 0))
	r = check.Liveness{}.Check(bad)
	if r.Verdict != check.Fail {
		t.Errorf("verdict %s, want fail: %s", r.Verdict, r.Summary)
	}
}

// TestLivenessIgnoresLossAfterEnd: the harness stops the leader after the "end" phase; with
// no other loss there is nothing to judge.
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
	if r := (check.Liveness{}).Check(h); r.Verdict != check.NotJudged || r.Figures["failovers"] != 0 {
		t.Errorf("verdict %s, failovers %v: %s", r.Verdict, r.Figures["failovers"], r.Summary)
	}
}

// TestLivenessNeverErasesAGap: the leader dies, the followers live on for 3s without a
// leader (bound 1s), then the harness takes the group down and restarts it, and a new
// leader appears at once. The 3s gap is a violation: the restart does not erase it.
func TestLivenessNeverErasesAGap(t *testing.T) {
	ms := time.Millisecond
	ready := func(t time.Duration, peer string, pid int) history.Record {
		return history.Record{T: t, Kind: history.KindEvent, Peer: peer, PID: pid, Event: &protocol.Event{Event: protocol.EventReady}}
	}
	h := []history.Record{
		{Kind: history.KindRun, Run: &history.Run{Version: 1, Liveness: time.Second}},
		{T: 1 * ms, Kind: history.KindStart, Peer: "p1", PID: 11},
		{T: 2 * ms, Kind: history.KindStart, Peer: "p2", PID: 12},
		ready(3*ms, "p1", 11), ready(4*ms, "p2", 12),
		leaderObs(10*ms, 501, 11),
		exitRec(100*ms, "p1", 11),
		leaderObs(110*ms, 0, 0),
		exitRec(3100*ms, "p2", 12),
		{T: 3200 * ms, Kind: history.KindStart, Peer: "p1", PID: 13},
		ready(3210*ms, "p1", 13),
		leaderObs(3220*ms, 502, 13),
	}
	r := check.Liveness{}.Check(h)
	if r.Verdict != check.Fail {
		t.Fatalf("verdict %s, want fail: %s", r.Verdict, r.Summary)
	}
}

// TestLivenessStartsAtReady: a white-box peer restarted after the group was down takes 4s
// to say ready (a slow interpreter) and leads 50ms later: 50ms of election, within the 1s
// bound; the 4s are start-up.
func TestLivenessStartsAtReady(t *testing.T) {
	ms := time.Millisecond
	h := []history.Record{
		{Kind: history.KindRun, Run: &history.Run{Version: 1, Liveness: time.Second}},
		{T: 1 * ms, Kind: history.KindStart, Peer: "p1", PID: 11},
		{T: 5 * ms, Kind: history.KindEvent, Peer: "p1", PID: 11, Event: &protocol.Event{Event: protocol.EventReady}},
		leaderObs(10*ms, 501, 11),
		exitRec(100*ms, "p1", 11),
		{T: 200 * ms, Kind: history.KindStart, Peer: "p1", PID: 12},
		{T: 4200 * ms, Kind: history.KindEvent, Peer: "p1", PID: 12, Event: &protocol.Event{Event: protocol.EventReady}},
		leaderObs(4250*ms, 502, 12),
	}
	r := check.Liveness{}.Check(h)
	if r.Verdict == check.Fail {
		t.Fatalf("verdict %s, want pass: %s", r.Verdict, r.Summary)
	}
}

// Two leader events read from two pipes 14µs apart, the greater epoch first: the earlier
// claim was read late, not an epoch that went backwards.
func TestLeadershipEpochsReadOutOfOrder(t *testing.T) {
	ms := time.Millisecond
	leader := func(t time.Duration, peer string, pid int, epoch uint64) history.Record {
		return history.Record{T: t, Kind: history.KindEvent, Peer: peer, PID: pid, Event: &protocol.Event{Event: protocol.EventLeader, Epoch: &epoch}}
	}
	h := []history.Record{
		{Kind: history.KindRun, Run: &history.Run{Version: 1, Liveness: time.Second}},
		{T: 1 * ms, Kind: history.KindStart, Peer: "p1", PID: 11},
		{T: 2 * ms, Kind: history.KindStart, Peer: "p2", PID: 12},
		leader(10*ms, "p2", 12, 10),
		leader(10*ms+14*time.Microsecond, "p1", 11, 9),
		exitRec(20*ms, "p1", 11),
	}
	if r := (check.Leadership{}).Check(h); r.Verdict == check.Fail {
		t.Fatalf("%s: %s", r.Verdict, r.Summary)
	}
	h[4].T = 300 * ms // well after: the epoch did go backwards
	if r := (check.Leadership{}).Check(h); r.Verdict != check.Fail {
		t.Fatalf("%s: %s", r.Verdict, r.Summary)
	}
}

// TestLivenessStopsTheClockWhileTheOnlySurvivorIsStopped: the leader p1 dies while the only
// other peer, p2, is stopped (SIGSTOP) by the harness; p2 elects 100ms after it is resumed.
// The 3s it was stopped are not election time; the same gap with p2 running is.
func TestLivenessStopsTheClockWhileTheOnlySurvivorIsStopped(t *testing.T) {
	ms := time.Millisecond
	listen := func(pid int, inode uint64) *kernel.Snapshot {
		return &kernel.Snapshot{PathInode: 7, Listeners: []kernel.Listener{{Inode: inode, VFSInode: 7, PIDs: []int{pid}}}}
	}
	for _, tt := range []struct {
		name  string
		pause bool
		want  check.Verdict
	}{
		{"stopped", true, check.Pass},
		{"running", false, check.Fail},
	} {
		h := []history.Record{
			{Kind: history.KindRun, Run: &history.Run{Version: 1, Addr: "/s", Transport: "unix", Liveness: time.Second}},
			{T: 1 * ms, Kind: history.KindStart, Peer: "p1", PID: 101},
			{T: 1 * ms, Kind: history.KindStart, Peer: "p2", PID: 102},
			{T: 5 * ms, Kind: history.KindObservation, Snapshot: &kernel.Snapshot{PathInode: 7,
				Listeners: []kernel.Listener{{Inode: 1, VFSInode: 7, PIDs: []int{101}}},
				Conns:     []kernel.Conn{{ClientPIDs: []int{102}, ServerPIDs: []int{101}, ServerInode: 3, ListenerInode: 1}}}},
		}
		if tt.pause {
			h = append(h, history.Record{T: 100 * ms, Kind: history.KindFault, Peer: "p2", PID: 102,
				Fault: &history.Fault{Name: "pause", Target: "p2", PID: 102, Signal: "SIGSTOP"}})
		}
		h = append(h,
			history.Record{T: 200 * ms, Kind: history.KindFault, Peer: "p1", PID: 101, Fault: &history.Fault{Name: "kill-leader", Target: "p1", PID: 101, Signal: "SIGKILL"}},
			history.Record{T: 201 * ms, Kind: history.KindExit, Peer: "p1", PID: 101, Exit: &history.Exit{Code: -1, Signal: "SIGKILL", ByHarness: true}})
		if tt.pause {
			h = append(h, history.Record{T: 3000 * ms, Kind: history.KindFault, Peer: "p2", PID: 102,
				Fault: &history.Fault{Name: "resume", Target: "p2", PID: 102, Signal: "SIGCONT"}})
		}
		h = append(h, history.Record{T: 3100 * ms, Kind: history.KindObservation, Snapshot: listen(102, 2)})
		if r := (check.Liveness{}).Check(h); r.Verdict != tt.want {
			t.Errorf("%s survivor: liveness %s, want %s: %s", tt.name, r.Verdict, tt.want, r.Summary)
		}
	}
}
