package check_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

const ms = time.Millisecond

// edit returns good.jsonl with f applied to every record (f may change it in place) and
// extra records added, in T order.
func edit(t *testing.T, f func(r *history.Record), extra ...history.Record) []history.Record {
	t.Helper()
	h := load(t, "good.jsonl")
	if f != nil {
		for i := range h {
			f(&h[i])
		}
	}
	h = append(h, extra...)
	slices.SortStableFunc(h, func(a, b history.Record) int { return int(a.T - b.T) })
	return h
}

func event(t time.Duration, peer string, pid int, ev protocol.Event) history.Record {
	return history.Record{T: t, Kind: history.KindEvent, Peer: peer, PID: pid, Event: &ev}
}

func isEvent(r *history.Record, peer, name, id string) bool {
	return r.Kind == history.KindEvent && r.Peer == peer && r.Event.Event == name && r.Event.ID == id
}

// In good.jsonl p3 (a follower of p2, the leader) broadcasts b2 "world" at 300ms; p2 and p1
// (followers of p2 since 230ms) write it; nobody changes until the end at 1s.
func TestDeliveryJudgesEveryRecipientOnceAndIntact(t *testing.T) {
	if r := (check.Delivery{}).Check(load(t, "good.jsonl")); r.Verdict != check.Pass || r.Figures["deliveries_required"] != 2 {
		t.Fatalf("good.jsonl: %s %v: %s", r.Verdict, r.Figures, r.Summary)
	}
	for _, tt := range []struct {
		name  string
		f     func(r *history.Record)
		extra []history.Record
		want  string
	}{
		{name: "the leader never writes it", f: func(r *history.Record) {
			if isEvent(r, "p2", "message", "b2") {
				r.Event = &protocol.Event{Event: protocol.EventError, Error: "gone"}
			}
		}, want: "never reached p2 (the leader"},
		{name: "a follower never writes it", f: func(r *history.Record) {
			if isEvent(r, "p1", "message", "b2") {
				r.Event = &protocol.Event{Event: protocol.EventError, Error: "gone"}
			}
		}, want: "never reached p1 (followers of p2"},
		{name: "a duplicate", extra: []history.Record{
			event(302*ms, "p1", 104, protocol.Event{Event: protocol.EventMessage, From: "p3", ID: "b2", Data: "world"})},
			want: "delivered twice to p1"},
		{name: "the wrong sender", f: func(r *history.Record) {
			if isEvent(r, "p1", "message", "b2") {
				r.Event.From = "p2"
			}
		}, want: `with from "p2", not "p3"`},
		{name: "the wrong data", f: func(r *history.Record) {
			if isEvent(r, "p1", "message", "b2") {
				r.Event.Data = "word"
			}
		}, want: `with data "word", not "world"`},
		{name: "an echo to the sender", extra: []history.Record{
			event(302*ms, "p3", 103, protocol.Event{Event: protocol.EventMessage, From: "p3", ID: "b2", Data: "world"})},
			want: "the sender got its own broadcast back"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := check.Delivery{}.Check(edit(t, tt.f, tt.extra...))
			if r.Verdict != check.Fail || !strings.Contains(r.Summary, tt.want) {
				t.Errorf("got %s %q, want a failure saying %q", r.Verdict, r.Summary, tt.want)
			}
		})
	}
}

func TestDeliveryExcusesChangesWithinTheMarginOnly(t *testing.T) {
	lose := func(r *history.Record) { // p1 never writes b2
		if isEvent(r, "p1", "message", "b2") {
			r.Event = &protocol.Event{Event: protocol.EventError, Error: "gone"}
		}
	}
	for _, tt := range []struct {
		name string
		at   time.Duration // p1 loses its leader
		want check.Verdict
	}{
		{name: "within the margin", at: 301*ms + check.DeliveryMargin/2, want: check.Pass},
		{name: "after the margin", at: 301*ms + 2*check.DeliveryMargin, want: check.Fail},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := edit(t, lose, event(tt.at, "p1", 104, protocol.Event{Event: protocol.EventLost}))
			if r := (check.Delivery{}).Check(h); r.Verdict != tt.want {
				t.Errorf("delivery %s, want %s: %s", r.Verdict, tt.want, r.Summary)
			}
		})
	}
}

func TestDeliveryWithNothingRequiredIsNotJudged(t *testing.T) {
	// b2 is the only broadcast left, and the leader dies at once: no recipient is required.
	h := edit(t, nil,
		history.Record{T: 305 * ms, Kind: history.KindFault, Peer: "p2", PID: 102, Fault: &history.Fault{Name: "kill-leader", PID: 102, Signal: "SIGKILL"}},
		history.Record{T: 306 * ms, Kind: history.KindExit, Peer: "p2", PID: 102, Exit: &history.Exit{Code: -1, Signal: "SIGKILL", ByHarness: true}})
	h = slices.DeleteFunc(h, func(r history.Record) bool {
		return (r.PID == 102 && r.T > 306*ms) || (r.Kind == history.KindCommand && r.Command.ID == "b1")
	})
	r := check.Delivery{}.Check(h)
	if r.Verdict != check.NotJudged || !strings.Contains(r.Summary, "not judged") {
		t.Errorf("got %s %q, want not judged", r.Verdict, r.Summary)
	}
}

// In good.jsonl p1 leads with epoch 1 from 10ms until it is killed at 100ms; p2 leads with
// epoch 2 from 150ms to the end.
func TestLeadership(t *testing.T) {
	if r := (check.Leadership{}).Check(load(t, "good.jsonl")); r.Verdict != check.Pass || r.Figures["claims_with_epoch"] != 2 {
		t.Fatalf("good.jsonl: %s %v: %s", r.Verdict, r.Figures, r.Summary)
	}
	epoch := func(n uint64) *uint64 { return &n }
	for _, tt := range []struct {
		name  string
		f     func(r *history.Record)
		extra []history.Record
		want  check.Verdict
		say   string
	}{
		{name: "an epoch that does not grow", f: func(r *history.Record) {
			if r.Kind == history.KindEvent && r.Peer == "p2" && r.Event.Event == protocol.EventLeader {
				r.Event.Epoch = epoch(1)
			}
		}, want: check.Fail, say: "did not grow"},
		{name: "two leaders at once", extra: []history.Record{
			event(400*ms, "p3", 103, protocol.Event{Event: protocol.EventLeader, Epoch: epoch(3)})},
			want: check.Fail, say: "still did"},
		{name: "a successor read a little before its predecessor's end", extra: []history.Record{
			event(1000*ms-check.LeadershipGrace/2, "p3", 103, protocol.Event{Event: protocol.EventLeader, Epoch: epoch(3)})},
			want: check.Pass},
		{name: "claims without epochs", f: func(r *history.Record) {
			if r.Kind == history.KindEvent && r.Event.Event == protocol.EventLeader {
				r.Event.Epoch = nil
			}
		}, want: check.Pass, say: "no claim gave an epoch"},
		{name: "a single claim", f: func(r *history.Record) {
			if r.Kind == history.KindEvent && r.Peer == "p2" && r.Event.Event == protocol.EventLeader {
				r.Event = &protocol.Event{Event: protocol.EventError, Error: "x"}
			}
		}, want: check.NotJudged, say: "nothing to compare"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := check.Leadership{}.Check(edit(t, tt.f, tt.extra...))
			if r.Verdict != tt.want || !strings.Contains(r.Summary, tt.say) {
				t.Errorf("got %s %q, want %s saying %q", r.Verdict, r.Summary, tt.want, tt.say)
			}
		})
	}
}

func TestExposure(t *testing.T) {
	tcp := func(names ...string) []history.Record {
		h := []history.Record{{Kind: history.KindRun, Run: &history.Run{Version: 1, Transport: "tcp", Addr: "127.0.0.1:7777"}}}
		s := &kernel.Snapshot{}
		for i, n := range names {
			s.Listeners = append(s.Listeners, kernel.Listener{Inode: uint64(i + 1), PIDs: []int{100 + i}, Name: n})
		}
		return append(h, history.Record{T: ms, Kind: history.KindObservation, Snapshot: s})
	}
	for _, tt := range []struct {
		name string
		h    []history.Record
		want check.Verdict
	}{
		{name: "127.0.0.1", h: tcp("127.0.0.1:7777"), want: check.Pass},
		{name: "::1", h: tcp("[::1]:7777"), want: check.Pass},
		{name: "0.0.0.0 alone", h: tcp("0.0.0.0:7777"), want: check.Fail},
		{name: "[::]", h: tcp("[::]:7777"), want: check.Fail},
		{name: "a LAN address beside loopback", h: tcp("127.0.0.1:7777", "192.0.2.2:7777"), want: check.Fail},
		{name: "no listener", h: tcp(), want: check.NotJudged},
		{name: "unix", h: load(t, "good.jsonl"), want: check.NotJudged},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := (check.Exposure{}).Check(tt.h); r.Verdict != tt.want {
				t.Errorf("exposure %s, want %s: %s", r.Verdict, tt.want, r.Summary)
			}
		})
	}
}

// In good.jsonl the harness sends close to every peer at the end (1001ms) and each exits 0.
func TestExitsAfterAStopRequest(t *testing.T) {
	for _, tt := range []struct {
		name string
		exit history.Exit
		want check.Verdict
		say  string
	}{
		{name: "status 0", exit: history.Exit{Code: 0, ByHarness: true}, want: check.Pass},
		{name: "SIGTERM's default action", exit: history.Exit{Code: -1, Signal: "SIGTERM", ByHarness: true}, want: check.Pass},
		{name: "a shell's 128+SIGTERM", exit: history.Exit{Code: 143, ByHarness: true}, want: check.Pass},
		{name: "ignored: killed at the end of the grace", exit: history.Exit{Code: -1, Signal: "SIGKILL", ByHarness: true}, want: check.Fail, say: "had to kill it"},
		{name: "status 3", exit: history.Exit{Code: 3, ByHarness: true}, want: check.Fail, say: "shutdown path"},
		{name: "SIGSEGV", exit: history.Exit{Code: -1, Signal: "SIGSEGV", ByHarness: true}, want: check.Fail, say: "shutdown path"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := edit(t, func(r *history.Record) {
				if r.Kind == history.KindExit && r.PID == 102 {
					e := tt.exit
					r.Exit = &e
				}
			})
			r := check.NoUnexpectedExits{}.Check(h)
			if r.Verdict != tt.want || !strings.Contains(r.Summary, tt.say) {
				t.Errorf("got %s %q, want %s saying %q", r.Verdict, r.Summary, tt.want, tt.say)
			}
		})
	}
}
