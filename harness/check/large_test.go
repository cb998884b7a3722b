package check_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// bigHistory builds a valid white-box run of about n records: five peers, a broadcast and
// an observation every cycle, and a leader killed and restarted every tenth cycle.
func bigHistory(n int) []history.Record {
	const peersN = 5
	h := make([]history.Record, 0, n+64)
	t := time.Duration(0)
	tick := func() time.Duration { t += 100 * time.Microsecond; return t }
	h = append(h, history.Record{Kind: history.KindRun, Run: &history.Run{
		Version: 1, Transport: "unix", Addr: "/tmp/big.sock", Peers: peersN,
		Settle: 10 * time.Millisecond, Liveness: time.Second, Replay: "splitbrain run --seed 1",
	}})
	pids := make([]int, peersN) // pids[i] is peer i's current process
	nextPID := 1000
	ev := func(i int, e protocol.Event) {
		h = append(h, history.Record{T: tick(), Kind: history.KindEvent, Peer: fmt.Sprintf("p%d", i), PID: pids[i], Event: &e})
	}
	start := func(i int) {
		nextPID++
		pids[i] = nextPID
		h = append(h, history.Record{T: tick(), Kind: history.KindStart, Peer: fmt.Sprintf("p%d", i), PID: pids[i]})
		ev(i, protocol.Event{Event: protocol.EventReady})
	}
	inode := uint64(1)
	leader := 0
	observe := func() {
		l := kernel.Listener{Inode: inode, PIDs: []int{pids[leader]}, Name: "/tmp/big.sock", VFSInode: inode + 1}
		s := &kernel.Snapshot{PathInode: inode + 1, Listeners: []kernel.Listener{l}}
		for i := range pids {
			if i != leader {
				s.Conns = append(s.Conns, kernel.Conn{ClientInode: uint64(i), ClientPIDs: []int{pids[i]},
					ServerInode: uint64(100 + i), ServerPIDs: []int{pids[leader]}, ListenerInode: inode})
			}
		}
		h = append(h, history.Record{T: tick(), Kind: history.KindObservation, Snapshot: s})
	}
	elect := func() {
		ev(leader, protocol.Event{Event: protocol.EventLeader})
		observe()
		for i := range pids {
			if i != leader {
				ev(i, protocol.Event{Event: protocol.EventFollower})
			}
		}
	}
	for i := range pids {
		start(i)
	}
	elect()
	h = append(h, history.Record{T: tick(), Kind: history.KindPhase, Detail: check.PhaseFaults})
	for cycle := 0; len(h) < n; cycle++ {
		sender := (leader + 1 + cycle%(peersN-1)) % peersN
		id := fmt.Sprintf("m%d", cycle)
		h = append(h, history.Record{T: tick(), Kind: history.KindCommand, Peer: fmt.Sprintf("p%d", sender), PID: pids[sender],
			Command: &protocol.Command{Cmd: protocol.CmdBroadcast, ID: id, Data: "x"}})
		ev(sender, protocol.Event{Event: protocol.EventSent, ID: id})
		for i := range pids {
			if i != sender {
				ev(i, protocol.Event{Event: protocol.EventMessage, ID: id, From: fmt.Sprintf("p%d", sender), Data: "x"})
			}
		}
		observe()
		t += check.DeliveryMargin // so that delivery is required: nothing changes within the margin
		if cycle%10 == 9 {
			dead := leader
			h = append(h, history.Record{T: tick(), Kind: history.KindExit, Peer: fmt.Sprintf("p%d", dead), PID: pids[dead],
				Exit: &history.Exit{Code: -1, Signal: "SIGKILL", ByHarness: true}})
			for i := range pids {
				if i != dead {
					ev(i, protocol.Event{Event: protocol.EventLost})
				}
			}
			leader = (leader + 1) % peersN
			inode += 2
			start(dead)
			elect()
		}
	}
	h = append(h, history.Record{T: tick(), Kind: history.KindPhase, Detail: check.PhaseSettle})
	t += 20 * time.Millisecond
	observe()
	h = append(h, history.Record{T: tick(), Kind: history.KindPhase, Detail: check.PhaseEnd})
	for i := range pids {
		h = append(h, history.Record{T: tick(), Kind: history.KindExit, Peer: fmt.Sprintf("p%d", i), PID: pids[i],
			Exit: &history.Exit{ByHarness: true}})
	}
	return h
}

func TestLargeHistory(t *testing.T) {
	h := bigHistory(200_000)
	began := time.Now()
	rs := check.Judge(h)
	t.Logf("judged %d records in %v", len(h), time.Since(began))
	for _, r := range rs.Parts {
		want := check.Pass
		if r.Name == "no-data-loss" || r.Name == "exposure" { // nothing planted; a unix run
			want = check.NotJudged
		}
		if r.Verdict != want {
			t.Errorf("%s: %s: %s", r.Name, r.Verdict, r.Summary)
		}
	}
	if r, _ := rs.Get("liveness"); r.Figures["failovers"] < 1000 {
		t.Errorf("liveness measured %v failovers, want the thousands the history holds", r.Figures["failovers"])
	}
}

func BenchmarkJudge(b *testing.B) {
	h := bigHistory(100_000)
	b.ReportAllocs()
	for b.Loop() {
		check.Judge(h)
	}
}
