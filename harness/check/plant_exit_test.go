package check_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// withAddressPlant returns good.jsonl where p3 (pid 103) exits at 262ms with exit, while
// (plantedAt, finalAt) a plant sits at the election address; p3's later records are gone.
func withAddressPlant(t *testing.T, exit history.Exit, plantedAt, finalAt time.Duration) []history.Record {
	t.Helper()
	h := load(t, "good.jsonl")
	addr := check.RunConfig(h).Addr
	h = slices.DeleteFunc(h, func(r history.Record) bool { return r.PID == 103 && r.T > 262*time.Millisecond })
	pl := history.Plant{Path: addr, Type: "dir", Inode: 4242}
	h = append(h,
		history.Record{T: plantedAt, Kind: history.KindPlant, Plant: &pl, Detail: check.PlantPlanted},
		history.Record{T: 262 * time.Millisecond, Kind: history.KindExit, Peer: "p3", PID: 103, Exit: &exit},
		history.Record{T: finalAt, Kind: history.KindPlant, Plant: &pl, Detail: check.PlantFinal},
	)
	slices.SortStableFunc(h, func(a, b history.Record) int { return int(a.T - b.T) })
	return h
}

func TestRefusingAPlantedAddressIsNotAnUnexpectedExit(t *testing.T) {
	refusal := history.Exit{Code: 1, StderrTail: []string{"splitbrain peer p3: /tmp/sb-7/s.sock is a directory; it is left untouched: choose another path"}}
	crash := history.Exit{Code: -1, Signal: "SIGSEGV"}
	ms := time.Millisecond
	for _, tt := range []struct {
		name          string
		exit          history.Exit
		planted, fin  time.Duration
		reported      time.Duration // p3 reports an error event then, if set
		want          check.Verdict
		wantRefusedFg float64
	}{
		{name: "status exit while planted", exit: refusal, planted: 261 * ms, fin: 263 * ms, want: check.Pass, wantRefusedFg: 1},
		{name: "signal while planted", exit: crash, planted: 261 * ms, fin: 263 * ms, want: check.Fail},
		{name: "status exit after the plant is gone", exit: refusal, planted: 255 * ms, fin: 258 * ms, want: check.Fail},
		// It reported the refusal while the plant was there and exited slowly.
		{name: "status exit after the plant is gone, reported while planted", exit: refusal, planted: 255 * ms, fin: 258 * ms, reported: 256 * ms, want: check.Pass, wantRefusedFg: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := withAddressPlant(t, tt.exit, tt.planted, tt.fin)
			if tt.reported > 0 {
				h = append(h, history.Record{T: tt.reported, Kind: history.KindEvent, Peer: "p3", PID: 103,
					Event: &protocol.Event{Event: protocol.EventError, Error: "is a directory"}})
				slices.SortStableFunc(h, func(a, b history.Record) int { return int(a.T - b.T) })
			}
			r := check.NoUnexpectedExits{}.Check(h)
			if r.Verdict != tt.want || r.Figures["refused_planted_address"] != tt.wantRefusedFg {
				t.Errorf("verdict %s, figures %v, want %s and %v refused: %s", r.Verdict, r.Figures, tt.want, tt.wantRefusedFg, r.Summary)
			}
		})
	}
}

func TestDeliveryIgnoresDroppedCommandsAndSilentImplementations(t *testing.T) {
	h := load(t, "good.jsonl")
	dropped := history.Record{T: 61 * time.Millisecond, Kind: history.KindCommand, Peer: "p2", PID: 102,
		Command: &protocol.Command{Cmd: protocol.CmdBroadcast, ID: "b-dropped"}, Detail: "dropped: peer has exited"}
	h = append(slices.Clone(h[:20]), append([]history.Record{dropped}, h[20:]...)...)
	if r := (check.Delivery{}).Check(h); r.Verdict != check.Pass {
		t.Errorf("a dropped broadcast was judged: %s %s", r.Verdict, r.Summary)
	}
	silent := slices.DeleteFunc(load(t, "good.jsonl"), func(r history.Record) bool {
		return r.Kind == history.KindEvent && (r.Event.Event == "sent" || r.Event.Event == "send-failed" || r.Event.Event == "message")
	})
	r := check.Delivery{}.Check(silent)
	if r.Verdict != check.NotJudged || !strings.Contains(r.Summary, "answered") {
		t.Errorf("a peer that never answers a broadcast: %s %s", r.Verdict, r.Summary)
	}
}

// TestDeliveryExcusesStoppedPeers: p1 misses broadcast b2 (sent by p3 at 300ms); that is a
// violation unless p1 was stopped (SIGSTOP) when b1 was sent or while it was delivered.
func TestDeliveryExcusesStoppedPeers(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct {
		name       string
		stop, cont time.Duration
		late       bool // a follower event p1 wrote before the SIGSTOP is read after it
		want       check.Verdict
	}{
		{name: "not stopped", want: check.Fail},
		{name: "stopped and resumed before", stop: 295 * ms, cont: 298 * ms, want: check.Fail},
		{name: "stopped across", stop: 295 * ms, cont: 305 * ms, want: check.Pass},
		{name: "stopped during delivery", stop: 302 * ms, cont: 305 * ms, want: check.Pass},
		{name: "stopped, then its earlier event read", stop: 250 * ms, cont: 900 * ms, late: true, want: check.Pass},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := slices.DeleteFunc(load(t, "good.jsonl"), func(r history.Record) bool {
				return r.Kind == history.KindEvent && r.Event.Event == "message" && r.Event.ID == "b2" && r.Peer == "p1"
			})
			if tt.stop > 0 {
				h = append(h,
					history.Record{T: tt.stop, Kind: history.KindFault, Peer: "p1", PID: 104, Fault: &history.Fault{Name: "pause", Target: "p1", PID: 104, Signal: "SIGSTOP"}},
					history.Record{T: tt.cont, Kind: history.KindFault, Peer: "p1", PID: 104, Fault: &history.Fault{Name: "resume", Target: "p1", PID: 104, Signal: "SIGCONT"}})
				if tt.late {
					i := slices.IndexFunc(h, func(r history.Record) bool {
						return r.Peer == "p1" && r.Kind == history.KindEvent && r.Event.Event == "follower"
					})
					ev := h[i]
					ev.T = tt.stop + ms
					h = append(h, ev)
				}
				slices.SortStableFunc(h, func(a, b history.Record) int { return int(a.T - b.T) })
			}
			if r := (check.Delivery{}).Check(h); r.Verdict != tt.want {
				t.Errorf("delivery %s, want %s: %s", r.Verdict, tt.want, r.Summary)
			}
		})
	}
}

// A plant no peer made an election attempt over proves nothing: not judged.
func TestPlantNoPeerMetIsNotJudged(t *testing.T) {
	ms := time.Millisecond
	pl := history.Plant{Path: "/s", Type: "file", Inode: 7, SHA256: "ab"}
	h := []history.Record{
		{Kind: history.KindRun, Run: &history.Run{Version: 1, Addr: "/s", Liveness: time.Second}},
		{T: 1 * ms, Kind: history.KindPlant, Plant: &pl, Detail: check.PlantPlanted},
		{T: 2 * ms, Kind: history.KindPlant, Plant: &pl, Peer: "p1", Detail: check.PlantUnmet},
		{T: 3 * ms, Kind: history.KindPlant, Plant: &pl, Detail: check.PlantFinal},
	}
	r := check.NoDataLoss{}.Check(h)
	if r.Verdict != check.NotJudged || !strings.Contains(r.Summary, "not judged") {
		t.Fatalf("unmet plant: %s: %s", r.Verdict, r.Summary)
	}
	h[2].Detail = check.PlantMet
	if r := (check.NoDataLoss{}).Check(h); r.Verdict != check.Pass {
		t.Fatalf("met plant: %s: %s", r.Verdict, r.Summary)
	}
}

// TestDeliveryExcusesALeavingRecipient: p1 misses b2 (sent at 300ms); the harness's SIGTERM
// to p1 meanwhile excuses p1 alone, and a SIGTERM to another follower excuses nobody.
func TestDeliveryExcusesALeavingRecipient(t *testing.T) {
	ms := time.Millisecond
	for _, tt := range []struct {
		peer string
		pid  int
		want check.Verdict
	}{
		{"p1", 104, check.Pass},
		{"p2", 102, check.Fail},
	} {
		h := slices.DeleteFunc(load(t, "good.jsonl"), func(r history.Record) bool {
			return r.Kind == history.KindEvent && r.Event.Event == "message" && r.Event.ID == "b2" && r.Peer == "p1"
		})
		h = append(h, history.Record{T: 300*ms + ms/2, Kind: history.KindFault, Peer: tt.peer, PID: tt.pid,
			Fault: &history.Fault{Name: "term-follower", Target: tt.peer, PID: tt.pid, Signal: "SIGTERM"}})
		slices.SortStableFunc(h, func(a, b history.Record) int { return int(a.T - b.T) })
		if r := (check.Delivery{}).Check(h); r.Verdict != tt.want {
			t.Errorf("SIGTERM to %s: delivery %s, want %s: %s", tt.peer, r.Verdict, tt.want, r.Summary)
		}
	}
}
