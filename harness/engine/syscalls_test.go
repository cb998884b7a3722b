package engine_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/engine"
	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
)

// Under the seccomp supervisor the reference elects and fails over as usual; each listen
// on the address is a syscall record with an observation taken while the caller was held,
// and single-listener is judged exactly (and passes).
func TestEngineWatchesSyscalls(t *testing.T) {
	self, _ := os.Executable()
	if err := syscalls.Available(self); err != nil {
		t.Skip(err)
	}
	ctx := context.Background()
	e := newEngine(t, "reference", engine.Config{Timeout: 10 * time.Second, Syscalls: true})
	if err := e.Start(e.NewIDs(3)); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.WaitSettled(ctx, 20*time.Second, true); !ok || err != nil {
		t.Fatalf("not settled: %v", err)
	}
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
