package timeline

import (
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// TestHealthy checks which lanes the page may fold away: in the split brain, every lane has
// a story (p1 and p2 led, p2 was orphaned, p10 crashed),
// and in a quiet run of followers only the leader stays.
func TestHealthy(t *testing.T) {
	recs := splitBrain()
	r := render(t, recs, check.Judge(recs))
	got := map[string]bool{}
	for _, l := range r.model.Lanes {
		got[l.Peer] = l.Healthy
	}
	for _, peer := range []string{"p1", "p2", "p10"} {
		if got[peer] {
			t.Errorf("%s is healthy; it led, was orphaned or crashed", peer)
		}
	}

	var x h
	x.add(0, history.Record{Kind: history.KindRun, Run: &history.Run{Version: 1, Impl: "quiet", Transport: "unix", Addr: "/tmp/x/s.sock", Peers: 4, Liveness: time.Second, Settle: 10 * ms}})
	for i, p := range []string{"p1", "p2", "p3", "p4"} {
		x.start(ms, p, 101+i)
	}
	x.event(5*ms, "p1", 101, protocol.EventLeader)
	x.event(6*ms, "p2", 102, protocol.EventFollower)
	x.event(6*ms, "p3", 103, protocol.EventFollower)
	x.event(6*ms, "p4", 104, protocol.EventFollower)
	x.add(7*ms, history.Record{Kind: history.KindProtocolError, Peer: "p4", PID: 104, Detail: "garbage"})
	x.observe(10*ms, []kernel.Listener{listener(1, 101, false)}, []kernel.Conn{conn(102, 101), conn(103, 101), conn(104, 101)})
	x.add(20*ms, history.Record{Kind: history.KindPhase, Detail: check.PhaseEnd})
	r = render(t, x, check.Judge(x))
	want := map[string]bool{"p1": false, "p2": true, "p3": true, "p4": false}
	for _, l := range r.model.Lanes {
		if l.Healthy != want[l.Peer] {
			t.Errorf("%s: healthy = %v, want %v (p1 led, p4 broke the protocol)", l.Peer, l.Healthy, want[l.Peer])
		}
	}
}
