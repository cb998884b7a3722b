package sbtest_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/splitbrain-dev/splitbrain/sbtest"
)

// Run a Go function as the peers (the reference peer, registered with sbtest.Peer in a
// package-level var; TestMain calls sbtest.Main) under leader kills and stale sockets, and
// read the verdicts.
func ExampleRun() {
	res, err := sbtest.Run(context.Background(), sbtest.RunConfig{
		Peer: referencePeer, Peers: 4, Duration: 3 * time.Second, Settle: time.Second,
		Faults: []string{"kill-leader", "term-leader", "kill-new-leader", "stale-socket"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(res.Dir)
	fmt.Println("verdict:", res.Verdict)
	for _, name := range []string{"single-listener", "reachable-leader"} {
		inv, _ := res.Invariant(name)
		fmt.Println(inv.Name, inv.Verdict)
	}
	// Output:
	// verdict: pass
	// single-listener pass
	// reachable-leader pass
}
