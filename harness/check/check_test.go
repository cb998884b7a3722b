package check_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
)

func load(t testing.TB, name string) []history.Record {
	t.Helper()
	h, err := history.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestHistories judges each hand-made history and compares every checker's verdict with
// the expected one: each checker fails on its bad history and passes on the good one.
func TestHistories(t *testing.T) {
	const (
		P = check.Pass
		F = check.Fail
		N = check.NotJudged
		I = check.Inconclusive
	)
	tests := []struct {
		file string
		want map[string]check.Verdict // checkers not named must pass
		exit int
	}{
		{file: "good.jsonl", exit: 0},
		{file: "send-failed.jsonl", want: map[string]check.Verdict{"delivery": N}, exit: 0},
		{file: "black-box.jsonl", want: map[string]check.Verdict{"delivery": N, "leadership": N}, exit: 0},
		{file: "split-brain.jsonl", want: map[string]check.Verdict{
			"single-listener": F, "reachable-leader": F, "no-lost-peers": F, "leadership": F}, exit: 1},
		{file: "orphan.jsonl", want: map[string]check.Verdict{"reachable-leader": F, "no-lost-peers": F}, exit: 1},
		{file: "lost-peer.jsonl", want: map[string]check.Verdict{"no-lost-peers": F, "delivery": N}, exit: 1},
		{file: "slow-failover.jsonl", want: map[string]check.Verdict{"liveness": F}, exit: 1},
		{file: "data-loss.jsonl", want: map[string]check.Verdict{"no-data-loss": F}, exit: 1},
		{file: "no-final-plant.jsonl", want: map[string]check.Verdict{"no-data-loss": I}, exit: 2},
		{file: "crash.jsonl", want: map[string]check.Verdict{"no-unexpected-exits": F, "delivery": N}, exit: 1},
		{file: "lost-message.jsonl", want: map[string]check.Verdict{"delivery": F}, exit: 1},
		{file: "unreported-broadcast.jsonl", want: map[string]check.Verdict{"delivery": F}, exit: 1},
		{file: "protocol-error.jsonl", want: map[string]check.Verdict{"protocol": F}, exit: 1},
		{file: "exposed.jsonl", want: map[string]check.Verdict{
			"exposure": F, "liveness": N, "no-data-loss": N, "delivery": N, "leadership": N}, exit: 1},
		{file: "never-leader.jsonl", want: map[string]check.Verdict{
			"single-listener": N, "reachable-leader": N, "no-lost-peers": I, "liveness": I, "no-data-loss": N, "no-unexpected-exits": I, "delivery": N, "leadership": N}, exit: 2},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rs := check.Judge(load(t, tt.file))
			if len(rs.Parts) != len(check.All()) {
				t.Fatalf("got %d results, want %d", len(rs.Parts), len(check.All()))
			}
			for _, r := range rs.Parts {
				want, ok := tt.want[r.Name]
				if !ok {
					want = check.Pass
					if r.Name == "exposure" { // every history here is a unix run
						want = check.NotJudged
					}
				}
				if r.Verdict != want {
					t.Errorf("%s: verdict %s, want %s: %s", r.Name, r.Verdict, want, r.Summary)
				}
				if r.Summary == "" {
					t.Errorf("%s: empty summary", r.Name)
				}
				if r.Verdict == check.Fail && len(r.Evidence) == 0 {
					t.Errorf("%s: fails without evidence", r.Name)
				}
			}
			if got := rs.ExitCode(); got != tt.exit {
				t.Errorf("exit code %d, want %d; %v", got, tt.exit, rs.Error())
			}
			err := rs.Error()
			if (err == nil) != (tt.exit == 0) {
				t.Errorf("Error() = %v with exit code %d", err, tt.exit)
			}
			if tt.exit == 1 && !errors.Is(err, check.ErrViolation) {
				t.Errorf("Error() = %v does not wrap ErrViolation", err)
			}
			if tt.exit == 2 && (errors.Is(err, check.ErrViolation) || !errors.Is(err, check.ErrInconclusive)) {
				t.Errorf("Error() = %v; want ErrInconclusive only", err)
			}
		})
	}
}

func TestLivenessFigures(t *testing.T) {
	r := check.Liveness{}.Check(load(t, "good.jsonl"))
	// p1 is killed at 101ms (its exit record); p2's listener is first seen at 160ms.
	want := map[string]float64{"failovers": 1, "gap_min_ms": 59, "gap_median_ms": 59, "gap_p99_ms": 59, "gap_max_ms": 59, "first_leader_ms": 12}
	for k, v := range want {
		if r.Figures[k] != v {
			t.Errorf("figure %s = %v, want %v (all: %v)", k, r.Figures[k], v, r.Figures)
		}
	}
	r = check.Liveness{}.Check(load(t, "slow-failover.jsonl"))
	if got := r.Figures["gap_max_ms"]; got != 1359 {
		t.Errorf("slow failover gap_max_ms = %v, want 1359", got)
	}
}

func TestNeverLeaderEvidenceHasStderr(t *testing.T) {
	r := check.Liveness{}.Check(load(t, "never-leader.jsonl"))
	if len(r.Evidence) != 3 {
		t.Fatalf("got %d pieces of evidence, want one per exited peer: %+v", len(r.Evidence), r.Evidence)
	}
	for _, e := range r.Evidence {
		if len(e.Records) != 1 || e.Records[0].Exit == nil || len(e.Records[0].Exit.StderrTail) == 0 {
			t.Errorf("evidence %q lacks the exit record with its stderr tail", e.What)
		}
	}
	if r.Summary != "no leader ever appeared: all 3 peers exited on their own (see their stderr)" {
		t.Errorf("summary %q", r.Summary)
	}
}

// TestJudgeSortsByTime shows that records appended out of T order are judged in T order,
// and that the caller's slice is left alone.
func TestJudgeSortsByTime(t *testing.T) {
	h := load(t, "slow-failover.jsonl")
	i := len(h) / 2
	h[i], h[i+1] = h[i+1], h[i]
	before := h[i].T
	rs := check.Judge(h)
	if got := rs.ExitCode(); got != 1 {
		t.Fatalf("exit code %d, want 1", got)
	}
	if r, _ := rs.Get("liveness"); r.Verdict != check.Fail {
		t.Errorf("liveness %s", r.Verdict)
	}
	if h[i].T != before {
		t.Errorf("Judge reordered the caller's slice")
	}
}

func TestResultsVerdict(t *testing.T) {
	mk := func(vs ...check.Verdict) check.Results {
		var rs check.Results
		for i, v := range vs {
			rs.Parts = append(rs.Parts, check.Result{Name: string(rune('a' + i)), Verdict: v, Summary: "s"})
		}
		return rs
	}
	tests := []struct {
		rs   check.Results
		want check.Verdict
		exit int
	}{
		{rs: mk(check.Pass, check.NotJudged), want: check.Pass, exit: 0},
		{rs: mk(check.Pass, check.Inconclusive), want: check.Inconclusive, exit: 2},
		{rs: mk(check.Inconclusive, check.Fail, check.Pass), want: check.Fail, exit: 1},
		{rs: mk(), want: check.Inconclusive, exit: 2},
	}
	for _, tt := range tests {
		if got := tt.rs.Verdict(); got != tt.want {
			t.Errorf("%v: verdict %s, want %s", tt.rs, got, tt.want)
		}
		if got := tt.rs.ExitCode(); got != tt.exit {
			t.Errorf("%v: exit %d, want %d", tt.rs, got, tt.exit)
		}
	}
	err := mk(check.Fail, check.Pass, check.Fail).Error()
	if want := "a: s: violation\nc: s: violation"; err == nil || err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}

func TestByName(t *testing.T) {
	for _, c := range check.All() {
		got, ok := check.ByName(c.Name())
		if !ok || got.Name() != c.Name() {
			t.Errorf("ByName(%q) = %v, %v", c.Name(), got, ok)
		}
	}
	if _, ok := check.ByName("nope"); ok {
		t.Error("ByName found an unknown checker")
	}
}

// TestMalformedRecordsDoNotPanic feeds records whose payloads are missing.
func TestMalformedRecordsDoNotPanic(t *testing.T) {
	h := []history.Record{
		{T: 0, Kind: history.KindRun},
		{T: 1, Kind: history.KindObservation},
		{T: 2, Kind: history.KindExit, Peer: "p1", PID: 1},
		{T: 3, Kind: history.KindEvent, Peer: "p1", PID: 1},
		{T: 4, Kind: history.KindCommand},
		{T: 5, Kind: history.KindPlant, Detail: check.PlantFinal},
		{T: time.Second, Kind: history.KindPhase, Detail: check.PhaseEnd},
	}
	rs := check.Judge(h)
	if rs.ExitCode() == 0 {
		t.Errorf("a history without a run or observation judged valid: %v", rs.Parts)
	}
}
