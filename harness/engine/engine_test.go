package engine_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/engine"
	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
	"github.com/splitbrain-dev/splitbrain/peers/canary"
	"github.com/splitbrain-dev/splitbrain/peers/reference"
)

const helperEnv = "SPLITBRAIN_ENGINE_TEST_PEER"

// TestMain re-executes the test binary as a peer: the reference, or a canary by name.
func TestMain(m *testing.M) {
	syscalls.ShimIfAsked() // a peer started with Config.Syscalls comes through here first
	switch name := os.Getenv(helperEnv); name {
	case "":
		os.Exit(m.Run())
	case "reference":
		os.Exit(reference.Main(nil, os.Stderr))
	default:
		os.Exit(canary.Main(name))
	}
}

func newEngine(t *testing.T, impl string, cfg engine.Config) *engine.Engine {
	t.Helper()
	t.Setenv(helperEnv, impl)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Impl = strconv.Quote(self)
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(true); err != nil {
			t.Error(err)
		}
		if live := e.Live(); len(live) > 0 {
			t.Errorf("%d peers still live after Close", len(live))
		}
	})
	return e
}

// The engine starts a group, sees it settle from the kernel, knows the leader, and after a
// kill-leader fault sees the group settle again on another leader.
func TestEngineSettlesAndFailsOver(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, "reference", engine.Config{Timeout: 10 * time.Second})
	if err := e.Start(e.NewIDs(4)); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.WaitSettled(ctx, 20*time.Second, true); !ok || err != nil {
		t.Fatalf("not settled: %v", err)
	}
	old, err := e.Leader("test")
	if err != nil || old == nil {
		t.Fatalf("no leader: %v", err)
	}
	if err := (fault.Kill{At: fault.Target{Role: fault.Leader}}).Inject(ctx, e); err != nil {
		t.Fatal(err)
	}
	<-old.Done()
	if ok, err := e.WaitSettled(ctx, 20*time.Second, true); !ok || err != nil {
		t.Fatalf("not settled after the kill: %v", err)
	}
	now, _ := e.Leader("test")
	if now == nil || now.ID() == old.ID() {
		t.Fatalf("leader after the kill: %v (was %s)", now, old.ID())
	}
	if v := e.Violation(); v != nil {
		t.Fatalf("the reference broke %v", v)
	}
}

// A steered peer stops at its failpoints and moves only when continued; RunTo takes it to a
// named one.
func TestEngineSteersAPeerOneFailpointAtATime(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, "reference", engine.Config{})
	if err := e.StartWith([]string{"p1"}, engine.StartOptions{Steered: true}); err != nil {
		t.Fatal(err)
	}
	paused := func(mark int) func(kernel.Snapshot) bool {
		return func(kernel.Snapshot) bool { s := e.Status("p1"); return s.Paused != "" && s.Pauses > mark }
	}
	if ok, err := e.WaitFor(ctx, 20*time.Second, paused(0)); !ok || err != nil {
		t.Fatalf("p1 did not pause at a failpoint: %v", err)
	}
	first := e.Status("p1")
	e.Continue("p1")
	if ok, err := e.WaitFor(ctx, 20*time.Second, paused(first.Pauses)); !ok || err != nil {
		t.Fatalf("p1 did not pause again after continue: %v", err)
	}
	if s := e.Status("p1"); s.Paused == first.Paused && s.Pauses == first.Pauses {
		t.Fatalf("p1 did not move: %+v", s)
	}
	e.RunTo("p1", "after-listen")
	if ok, err := e.WaitFor(ctx, 20*time.Second, func(kernel.Snapshot) bool { return e.Status("p1").Paused == "after-listen" }); !ok || err != nil {
		t.Fatalf("p1 did not run to after-listen: %+v %v", e.Status("p1"), err)
	}
	e.Free("p1")
	if ok, err := e.WaitSettled(ctx, 20*time.Second, true); !ok || err != nil {
		t.Fatalf("a freed p1 does not lead: %v", err)
	}
}

// The online judge sees a canary's split brain as it is recorded, and check.Judge finds
// the same violation in the history; a wait with StopAtViolation ends at it.
func TestEngineJudgesOnlineWhatTheJudgeFinds(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, "reuseport", engine.Config{Transport: "tcp", StopAtViolation: true})
	if err := e.StartWith([]string{"p1", "p2"}, engine.StartOptions{Steered: true}); err != nil {
		t.Fatal(err)
	}
	both := func(kernel.Snapshot) bool {
		return e.Status("p1").Paused != "" && e.Status("p2").Paused != ""
	}
	if ok, err := e.WaitFor(ctx, 20*time.Second, both); !ok || err != nil {
		t.Fatalf("the steered peers did not pause: %v", err)
	}
	// Each reaches its listen before the other has one: SO_REUSEPORT lets both bind.
	e.RunTo("p1", "after-listen")
	e.RunTo("p2", "after-listen")
	_, err := e.WaitFor(ctx, 20*time.Second, func(kernel.Snapshot) bool { return false })
	v := e.Violation()
	if err != engine.ErrViolation || v == nil || v.Invariant != "single-listener" {
		t.Fatalf("wait ended with %v, violation %v; want single-listener", err, v)
	}
	_ = e.Close(true)
	res := check.Judge(e.Records(), check.SingleListener{})
	if res.Parts[0].Verdict != check.Fail || res.Parts[0].Evidence[0].T != v.T {
		t.Fatalf("offline: %+v; online saw %v at %v", res.Parts[0], v, v.T)
	}
}

// Close ends every peer, even one paused at a failpoint or stopped, records the end, and
// removes the temporary address.
func TestEngineCloseLeavesNothing(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, "reference", engine.Config{Grace: 200 * time.Millisecond})
	if err := e.Start([]string{"p1"}); err != nil {
		t.Fatal(err)
	}
	if err := e.StartWith([]string{"p2"}, engine.StartOptions{Steered: true}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.WaitSettled(ctx, 20*time.Second, false); !ok {
		t.Fatal("no leader")
	}
	if err := (fault.Pause{At: fault.Target{Peer: "p1"}}).Inject(ctx, e); err != nil {
		t.Fatal(err)
	}
	addr := e.Addr()
	if err := e.Close(false); err != nil {
		t.Fatal(err)
	}
	if live := e.Live(); len(live) != 0 {
		t.Fatalf("live after Close: %d", len(live))
	}
	if _, err := os.Stat(addr); !os.IsNotExist(err) {
		t.Fatalf("the address %s is still there: %v", addr, err)
	}
	recs := e.Records()
	if !slices.ContainsFunc(recs, func(r history.Record) bool { return r.Kind == history.KindPhase && r.Detail == check.PhaseEnd }) {
		t.Fatal("no end phase recorded")
	}
}

// A peer whose process exits on its own while a child of its still runs in its process
// group (a double fork that has not reached setsid yet) is named: the child is recorded as
// daemonized before the group kill ends it, and it is reaped by Close.
func TestEngineNamesAChildLeftBehind(t *testing.T) {
	e, err := engine.New(engine.Config{Impl: `sh -c 'sleep 60 & exit 0'`})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start([]string{"p1"}); err != nil {
		t.Fatal(err)
	}
	p := e.Peer("p1")
	if p == nil {
		t.Fatal("p1 did not start")
	}
	<-p.Done()
	var child int
	for _, r := range e.Records() {
		if r.Kind == history.KindProcess && r.Peer == "p1" && strings.HasPrefix(r.Detail, engine.ProcDaemonized) {
			child = r.PID
		}
	}
	if err := e.Close(true); err != nil {
		t.Fatal(err)
	}
	if child == 0 {
		t.Fatalf("no daemonized record for p1's child; records: %+v", e.Records())
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(child)); err == nil {
		t.Errorf("pid %d, p1's child, still exists after Close", child)
	}
}
