package engine_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/engine"
	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
)

// Under the seccomp supervisor the reference elects and fails over as usual; each listen
// on the address is a syscall record with an observation taken while the caller was held,
// and single-listener is judged exactly (and passes).
func TestEngineWatchesSyscalls(t *testing.T) {
	needSyscalls(t)
	ctx := context.Background()
	e := newEngine(t, "reference", engine.Config{Timeout: 10 * time.Second, Syscalls: true})
	startSettled(ctx, t, e, 3)
	if err := (fault.Kill{At: fault.Target{Role: fault.Leader}}).Inject(ctx, e); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.WaitSettled(ctx, 20*time.Second, true); !ok || err != nil {
		t.Fatalf("not settled after the kill: %v", err)
	}
	recs := e.Records()
	listens := 0
	for i, r := range recs {
		if r.Kind != history.KindSyscall || r.Syscall.Call != "listen" || r.Syscall.Phase != syscalls.After {
			continue
		}
		listens++
		if !r.Syscall.Key || r.Syscall.Result != "ok" || r.Peer == "" {
			t.Fatalf("listen record %+v %+v", r, *r.Syscall)
		}
		if i+1 >= len(recs) || !observedAfter(recs[i+1:], r) {
			t.Fatalf("no observation right after the listen of %s", r.Peer)
		}
	}
	if listens < 2 {
		t.Fatalf("%d listen records for an election and a failover", listens)
	}
	res := check.Judge(recs, check.SingleListener{})
	if r := res.Parts[0]; r.Verdict != check.Pass || r.Observation != check.Exact {
		t.Fatalf("single-listener: %+v", r)
	}
	if st := e.SyscallStats(); st.Peers != 3 {
		t.Fatalf("stats %+v: want a filter for each of the 3 peers", st)
	}
}

// observedAfter: among the next records, an observation with the held listener in it.
func observedAfter(next []history.Record, listen history.Record) bool {
	for _, r := range next[:min(len(next), 20)] {
		if r.Kind == history.KindObservation && r.Snapshot != nil {
			for _, l := range r.Snapshot.Listeners {
				for _, pid := range l.PIDs {
					if pid == listen.PID {
						return true
					}
				}
			}
		}
	}
	return false
}

// kill-at-syscall kills the leader, holds the next peer at its listen on the address and
// kills it there; the last peer then leads, and nothing is left listening.
func TestKillAtSyscall(t *testing.T) {
	needSyscalls(t)
	ctx := context.Background()
	e := newEngine(t, "reference", engine.Config{Timeout: 10 * time.Second, Syscalls: true})
	startSettled(ctx, t, e, 3)
	if err := (fault.KillAtSyscall{Point: "listen"}).Inject(ctx, e); err != nil {
		t.Fatal(err)
	}
	var held *history.Record
	for _, r := range e.Records() {
		if r.Kind == history.KindFault && r.Fault.Name == "kill-at-syscall" && strings.HasPrefix(r.Fault.Detail, "held at ") {
			held = &r
		}
	}
	if held == nil || !strings.Contains(held.Fault.Detail, " listen ") {
		t.Fatalf("no kill held at listen: %+v", held)
	}
	for _, p := range e.Live() {
		if p.PID() == held.PID {
			select {
			case <-p.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("%s still runs after its kill", held.Peer)
			}
			if x := p.Exit(); x.Signal != "SIGKILL" || !x.ByHarness {
				t.Fatalf("%s ended with %+v, want SIGKILL by the harness", held.Peer, x)
			}
		}
	}
	if ok, err := e.WaitSettled(ctx, 20*time.Second, true); !ok || err != nil {
		t.Fatalf("the last peer did not take over: %v", err)
	}
	if v := e.Violation(); v != nil {
		t.Fatalf("the reference broke %v", v)
	}
}

// Steered at its syscalls, a peer holds before each point until told: two peers held at
// their first call; one run to its listen and on, so it leads while the other still waits;
// then the other freed, so it follows. The kernel shows one listener throughout.
func TestEngineSteersAtSyscalls(t *testing.T) {
	needSyscalls(t)
	ctx := context.Background()
	e := newEngine(t, "reference", engine.Config{Timeout: 10 * time.Second, SteerSyscalls: true, Story: true})
	if err := e.StartWith([]string{"p1", "p2"}, engine.StartOptions{Steered: true}); err != nil {
		t.Fatal(err)
	}
	held := func(id, point string) func(kernel.Snapshot) bool {
		return func(kernel.Snapshot) bool { return strings.HasPrefix(e.Status(id).Paused, point+" ") }
	}
	for _, id := range []string{"p1", "p2"} {
		if ok, err := e.WaitFor(ctx, 10*time.Second, func(kernel.Snapshot) bool { return e.Status(id).Paused != "" }); !ok || err != nil {
			t.Fatalf("%s not held at its first call: %v", id, err)
		}
	}
	e.RunTo("p1", "listen")
	if ok, err := e.WaitFor(ctx, 10*time.Second, held("p1", "listen")); !ok || err != nil {
		t.Fatalf("p1 not held at listen: %+v %v", e.Status("p1"), err)
	}
	if s, _ := e.Snapshot(""); len(s.Listeners) != 0 {
		t.Fatalf("a listener before p1's held listen: %+v", s.Listeners)
	}
	e.Continue("p1")
	if ok, err := e.WaitFor(ctx, 10*time.Second, func(s kernel.Snapshot) bool { return len(s.Listeners) == 1 }); !ok || err != nil {
		t.Fatalf("p1's listen did not listen: %v", err)
	}
	if st := e.Status("p2"); st.Paused == "" || st.Roles != 0 {
		t.Fatalf("p2 moved while held: %+v", st)
	}
	e.Free("p1")
	e.Free("p2")
	if ok, err := e.WaitSettled(ctx, 20*time.Second, true); !ok || err != nil {
		t.Fatalf("not settled once free: %v", err)
	}
	if ok, err := e.WaitFor(ctx, 10*time.Second, func(kernel.Snapshot) bool {
		return e.Status("p1").Role == engine.RoleLeader && e.Status("p2").Role == engine.RoleFollower
	}); !ok || err != nil {
		t.Fatalf("p1 %+v, p2 %+v: %v", e.Status("p1"), e.Status("p2"), err)
	}
	log := strings.Join(e.TakeLog(), "\n")
	for _, want := range []string{"p1 holds at listen", "p1 listen election.sock -> ok", "p2 connect election.sock -> ok"} {
		if !strings.Contains(log, want) {
			t.Errorf("the story lacks %q:\n%s", want, log)
		}
	}
}

// hold-at-syscall kills the leader and holds the next peer at a key call while the others
// run ahead; the reference's lock lets nobody else listen meanwhile, so the hold ends on
// its bound, and the group settles with no violation.
func TestHoldAtSyscall(t *testing.T) {
	needSyscalls(t)
	ctx := context.Background()
	e := newEngine(t, "reference", engine.Config{Timeout: 10 * time.Second, Syscalls: true})
	startSettled(ctx, t, e, 3)
	if err := (fault.HoldAtSyscall{Point: "bind", Hold: 100 * time.Millisecond}).Inject(ctx, e); err != nil {
		t.Fatal(err)
	}
	var held *history.Record
	for _, r := range e.Records() {
		if r.Kind == history.KindFault && r.Fault.Name == "hold-at-syscall" && strings.HasPrefix(r.Fault.Detail, "held at ") {
			held = &r
		}
	}
	if held == nil || !strings.Contains(held.Fault.Detail, " bind ") || !strings.Contains(held.Fault.Detail, "nobody listened") {
		t.Fatalf("no hold at bind that ended on its bound: %+v", held)
	}
	if ok, err := e.WaitSettled(ctx, 20*time.Second, true); !ok || err != nil {
		t.Fatalf("not settled after the hold: %v", err)
	}
	if v := e.Violation(); v != nil {
		t.Fatalf("the reference broke %v", v)
	}
}

// A peer steered at its syscalls can be killed where it waits: the held call never returns
// to it, it dies of the harness's SIGKILL, and the other peer, freed, leads alone.
func TestEngineKillsAPeerHeldAtASyscall(t *testing.T) {
	needSyscalls(t)
	ctx := context.Background()
	e := newEngine(t, "reference", engine.Config{Timeout: 10 * time.Second, SteerSyscalls: true, Story: true})
	if err := e.StartWith([]string{"p1", "p2"}, engine.StartOptions{Steered: true}); err != nil {
		t.Fatal(err)
	}
	e.RunTo("p1", "listen")
	if ok, err := e.WaitFor(ctx, 10*time.Second, func(kernel.Snapshot) bool {
		return strings.HasPrefix(e.Status("p1").Paused, "listen ") && e.Status("p2").Paused != ""
	}); !ok || err != nil {
		t.Fatalf("not held: p1 %+v, p2 %+v: %v", e.Status("p1"), e.Status("p2"), err)
	}
	p1 := e.Peer("p1")
	if err := (fault.Kill{At: fault.Target{Peer: "p1"}}).Inject(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitExit(ctx, p1, 10*time.Second); err != nil {
		t.Fatalf("p1 held at listen did not die: %v", err)
	}
	if x := p1.Exit(); x.Signal != "SIGKILL" || !x.ByHarness {
		t.Fatalf("p1 ended with %+v, want SIGKILL by the harness", x)
	}
	e.Free("p2")
	if ok, err := e.WaitFor(ctx, 20*time.Second, func(s kernel.Snapshot) bool {
		return e.Status("p2").Role == engine.RoleLeader && len(s.Listeners) == 1
	}); !ok || err != nil {
		t.Fatalf("p2 did not take over: %+v: %v", e.Status("p2"), err)
	}
	if v := e.Violation(); v != nil {
		t.Fatalf("the reference broke %v", v)
	}
}

// needSyscalls skips a test where seccomp user notification does not work, saying why.
func needSyscalls(t *testing.T) {
	t.Helper()
	self, _ := os.Executable()
	if err := syscalls.Available(self); err != nil {
		t.Skip(err)
	}
}

// startSettled starts n peers and waits until they have settled.
func startSettled(ctx context.Context, t *testing.T, e *engine.Engine, n int) {
	t.Helper()
	if err := e.Start(e.NewIDs(n)); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.WaitSettled(ctx, 20*time.Second, true); !ok || err != nil {
		t.Fatalf("not settled: %v", err)
	}
}
