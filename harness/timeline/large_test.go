package timeline

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// large makes a history of about n records over peers peers: a leader is killed every
// 1000 records and restarted, followers re-follow, messages flow, and the kernel is
// observed every 10 records with the whole peer graph.
func large(peers, n int) []history.Record {
	rng := rand.New(rand.NewPCG(1, 2))
	var x h
	x.add(0, history.Record{Kind: history.KindRun, Run: &history.Run{Impl: "big", Transport: "unix", Addr: "/tmp/big/s.sock", Peers: peers, Seed: 1, Replay: "splitbrain run --seed 1"}})
	t := time.Duration(0)
	pid := map[string]int{}
	next := 1000
	for i := range peers {
		id := fmt.Sprintf("p%d", i+1)
		next++
		pid[id] = next
		x.start(t, id, next)
	}
	leader := "p1"
	for len(x) < n {
		t += 100 * time.Microsecond
		switch {
		case len(x)%1000 == 0:
			old := leader
			x.fault(t, "kill-leader", old, pid[old], "SIGKILL")
			x.exit(t+time.Microsecond, old, pid[old], history.Exit{Code: -1, Signal: "SIGKILL", ByHarness: true})
			leader = fmt.Sprintf("p%d", rng.IntN(peers)+1)
			for leader == old {
				leader = fmt.Sprintf("p%d", rng.IntN(peers)+1)
			}
			x.event(t+2*time.Microsecond, leader, pid[leader], protocol.EventLeader)
			next++
			pid[old] = next
			x.start(t+3*time.Microsecond, old, next)
		case len(x)%10 == 0:
			snap := []kernel.Conn{}
			for id, p := range pid {
				if id != leader {
					snap = append(snap, conn(p, pid[leader]))
				}
			}
			x.observe(t, []kernel.Listener{listener(uint64(len(x)), pid[leader], false)}, snap)
		default:
			id := fmt.Sprintf("p%d", rng.IntN(peers)+1)
			if id == leader {
				x.event(t, id, pid[id], protocol.EventLeader)
			} else if rng.IntN(5) == 0 {
				x.event(t, id, pid[id], protocol.EventFollower)
			} else {
				x.add(t, history.Record{Kind: history.KindEvent, Peer: id, PID: pid[id], Event: &protocol.Event{Event: protocol.EventMessage, From: leader, ID: "m", Data: "hello"}})
			}
		}
	}
	return x
}

// TestRenderLarge renders 200 peers and 100k records and checks the page stays small: the
// model is intervals (a state change opens one), not records.
func TestRenderLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large history: skipped in -short")
	}
	recs := large(200, 100_000)
	res := check.Judge(recs)
	start := time.Now()
	r := render(t, recs, res)
	took := time.Since(start)
	spans := 0
	for _, l := range r.model.Lanes {
		spans += len(l.Spans)
	}
	t.Logf("%d records, %d lanes: %d spans, %d faults, page %d KiB, rendered in %v",
		len(recs), len(r.model.Lanes), spans, len(r.model.Faults), len(r.page)>>10, took)
	if len(r.model.Lanes) != 200 {
		t.Errorf("lanes = %d, want 200", len(r.model.Lanes))
	}
	// About 100 kills: each makes a dead, a starting, a follower and a leader span, and a
	// follower that reports again makes none.
	if spans > 200+100*6 {
		t.Errorf("%d spans for 100 failovers: intervals are not merged", spans)
	}
	if len(r.page) > 2<<20 {
		t.Errorf("page is %d bytes for %d records: too big to open comfortably", len(r.page), len(recs))
	}
}

func BenchmarkRender(b *testing.B) {
	recs := large(200, 100_000)
	res := check.Judge(recs)
	var buf bytes.Buffer
	if err := Render(&buf, recs, res); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	b.ResetTimer()
	for b.Loop() {
		if err := Render(io.Discard, recs, res); err != nil {
			b.Fatal(err)
		}
	}
}
