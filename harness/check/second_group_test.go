package check_test

import (
	"strings"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// resignHistory: p1 (pid 101) leads p2 (102) and p3 (103). At 1s p1 resigns: its listener
// is gone, p2 listens, and p3 stays connected to p1's accepted socket for apart, then joins
// p2. Observations every 50ms until 6s, or (sparse) only when the view changes, as the
// engine records them. stop, if set, is SIGSTOP's target pid at 900ms.
func resignHistory(apart time.Duration, stop int, sparse bool) []history.Record {
	h := []history.Record{{Kind: history.KindRun, Run: &history.Run{Peers: 3, Liveness: 5 * time.Second, Settle: 3 * time.Second}}}
	for i, id := range []string{"p1", "p2", "p3"} {
		pid := 101 + i
		h = append(h, history.Record{T: ms, Kind: history.KindStart, Peer: id, PID: pid},
			event(2*ms, id, pid, protocol.Event{Event: protocol.EventReady}))
	}
	if stop != 0 {
		h = append(h, history.Record{T: 900 * ms, Kind: history.KindFault, Peer: "p1", PID: stop,
			Fault: &history.Fault{Name: "pause", Target: "p1", PID: stop, Signal: "SIGSTOP"}})
	}
	conn := func(client, server int, inode, listener uint64) kernel.Conn {
		return kernel.Conn{ClientInode: inode, ClientPIDs: []int{client}, ServerInode: inode + 1000,
			ServerPIDs: []int{server}, ListenerInode: listener}
	}
	phase := -1
	for t := 10 * ms; t <= 6*time.Second; t += 50 * ms {
		s := &kernel.Snapshot{Taken: t}
		now := 0
		switch {
		case t < time.Second:
			s.Listeners = []kernel.Listener{{Inode: 1, PIDs: []int{101}, Name: "/x"}}
			s.Conns = []kernel.Conn{conn(102, 101, 10, 1), conn(103, 101, 11, 1)}
		case t < time.Second+apart:
			now = 1
			s.Listeners = []kernel.Listener{{Inode: 2, PIDs: []int{102}, Name: "/x"}}
			s.Conns = []kernel.Conn{conn(101, 102, 20, 2), conn(103, 101, 11, 0)}
		default:
			now = 2
			s.Listeners = []kernel.Listener{{Inode: 2, PIDs: []int{102}, Name: "/x"}}
			s.Conns = []kernel.Conn{conn(101, 102, 20, 2), conn(103, 102, 21, 2)}
		}
		if sparse && now == phase {
			continue
		}
		phase = now
		h = append(h, history.Record{T: t, Kind: history.KindObservation, Snapshot: s})
	}
	return h
}

// A follower kept by a resigned leader while another leads is in a second group: past
// SecondGroupGrace it fails no-lost-peers, though the liveness bound (5s) is not reached
// and it joins the leader in the end.
func TestNoLostPeersSecondGroup(t *testing.T) {
	for _, sparse := range []bool{false, true} {
		r := (check.NoLostPeers{}).Check(resignHistory(3*time.Second, 0, sparse))
		if r.Verdict != check.Fail || r.Figures["second_group"] != 1 || r.Figures["lost_too_long"] != 0 {
			t.Fatalf("kept 3s (sparse %v): %s %v: %s", sparse, r.Verdict, r.Figures, r.Summary)
		}
		if !strings.Contains(r.Summary, "p3 stayed connected to p1, which does not lead (p2 listens)") {
			t.Errorf("summary: %s", r.Summary)
		}
		// A leader hanging up within the grace (writing what it queued first) is not a group.
		if r := (check.NoLostPeers{}).Check(resignHistory(time.Second, 0, sparse)); r.Figures["second_group"] != 0 {
			t.Errorf("kept 1s (sparse %v): %s %v: %s", sparse, r.Verdict, r.Figures, r.Summary)
		}
		// The old leader stopped by a fault cannot hang up: the fault's doing.
		if r := (check.NoLostPeers{}).Check(resignHistory(3*time.Second, 101, sparse)); r.Figures["second_group"] != 0 {
			t.Errorf("kept 3s by a stopped p1 (sparse %v): %s %v: %s", sparse, r.Verdict, r.Figures, r.Summary)
		}
	}
}
