package sbtest_test

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
	"github.com/splitbrain-dev/splitbrain/sbtest"
)

// fatalTB is a testing.TB whose Fatalf records the message and ends the calling goroutine,
// as the real one does, without failing the test that watches it.
type fatalTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fatalTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg != ""
}

// check runs sbtest.Check on a fatalTB in its own goroutine (Fatalf ends it) and returns the
// result (nil after a Fatalf) and the fatal message.
func check(t *testing.T, plan sbtest.Plan) (*sbtest.Result, *fatalTB) {
	f := &fatalTB{TB: t}
	var res *sbtest.Result
	done := make(chan struct{})
	go func() {
		defer close(done)
		res = sbtest.Check(f, plan)
	}()
	<-done
	return res, f
}

func TestCheckFailsWithTheVerdictTableAndKeepsTheFolder(t *testing.T) {
	var dir string
	t.Cleanup(func() { // runs after Check's own cleanup: the folder of a failure stays
		if dir == "" {
			return
		}
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("the result folder of a failed check is gone: %v", err)
		}
		os.RemoveAll(dir)
	})
	res, f := check(t, sbtest.RunConfig{Peer: probeUnlinkPeer, Peers: 8, Duration: 30 * time.Second,
		Faults: []string{"kill-leader", "stale-socket", "storm"}, FailFast: true})
	if res != nil || f.msg == "" {
		t.Fatalf("Check on the probe-unlink canary did not fail the test (verdict %v)", res)
	}
	for _, want := range []string{"splitbrain: FAIL:", "replay: splitbrain run --impl", "-sbtest.peer=probe-unlink", "results in ",
		"rerun: SBTEST_SEED=", " go test -run '^TestCheckFailsWithTheVerdictTableAndKeepsTheFolder$'"} {
		if !strings.Contains(f.msg, want) {
			t.Errorf("the failure message lacks %q:\n%s", want, f.msg)
		}
	}
	if !regexp.MustCompile(`FAIL +(single-listener|reachable-leader) `).MatchString(f.msg) {
		t.Errorf("neither single-listener nor reachable-leader failed:\n%s", f.msg)
	}
	_, after, _ := strings.Cut(f.msg, "results in ")
	dir, _, _ = strings.Cut(after, " ")
}

func TestCheckPassesOverTCPAndRemovesItsFolder(t *testing.T) {
	var res *sbtest.Result
	t.Cleanup(func() {
		if res == nil {
			return
		}
		if _, err := os.Stat(res.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the result folder of a passed check is still there (%v)", err)
			os.RemoveAll(res.Dir)
		}
	})
	res = sbtest.Check(t, sbtest.RunConfig{Peer: referencePeer, Transport: "tcp", Peers: 4, Duration: 3 * time.Second,
		Faults: []string{"kill-leader", "term-leader"}, Settle: time.Second})
	if inv, _ := res.Invariant("exposure"); inv.Verdict != sbtest.Pass {
		t.Fatalf("exposure over tcp: %s (%s)", inv.Verdict, inv.Reason)
	}
	if inv, _ := res.Invariant("single-listener"); inv.Verdict != sbtest.Pass {
		t.Fatalf("single-listener: %s", inv.Verdict)
	}
}

func TestResultErrWrapsTheVerdict(t *testing.T) {
	for v, want := range map[sbtest.Verdict]error{
		sbtest.Fail: sbtest.ErrViolation, sbtest.Inconclusive: sbtest.ErrInconclusive, sbtest.HarnessError: sbtest.ErrHarness,
	} {
		if err := (&sbtest.Result{Verdict: v}).Err(); !errors.Is(err, want) {
			t.Errorf("%s: Err() = %v, want %v", v, err, want)
		}
	}
	if err := (&sbtest.Result{Verdict: sbtest.Pass}).Err(); err != nil {
		t.Errorf("pass: Err() = %v", err)
	}
}

// With Syscalls, the Go peers run under the test binary as their shim: the reference's
// exact verdict holds under hold-at-syscall, and the replay command says --syscalls on.
func TestRunWatchesSyscalls(t *testing.T) {
	self, _ := os.Executable()
	if err := syscalls.Available(self); err != nil {
		t.Skip(err)
	}
	res := sbtest.Check(t, sbtest.RunConfig{Peer: referencePeer, Peers: 4, Duration: 4 * time.Second,
		Faults: []string{"hold-at-syscall", "kill-leader"}, Settle: time.Second, Syscalls: true, Seed: 1})
	if inv, _ := res.Invariant("single-listener"); inv.Verdict != sbtest.Pass {
		t.Fatalf("single-listener: %s (%s)", inv.Verdict, inv.Reason)
	}
	if !strings.Contains(res.Replay, "--syscalls on") {
		t.Fatalf("the replay command does not watch syscalls: %s", res.Replay)
	}
	if !strings.Contains(res.String(), "exact") {
		t.Errorf("the summary does not say the split-brain invariants were judged exactly:\n%s", res)
	}
}
