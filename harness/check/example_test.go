package check_test

import (
	"fmt"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// Two processes listen on the same path: one of them on an orphaned socket.
func ExampleJudge() {
	path := "/tmp/demo.sock"
	h := []history.Record{
		{T: 0, Kind: history.KindRun, Run: &history.Run{Version: 1, Addr: path, Liveness: time.Second}},
		{T: 1 * time.Millisecond, Kind: history.KindStart, Peer: "p1", PID: 11},
		{T: 2 * time.Millisecond, Kind: history.KindStart, Peer: "p2", PID: 12},
		{T: 9 * time.Millisecond, Kind: history.KindObservation, Snapshot: &kernel.Snapshot{
			PathInode: 72,
			Listeners: []kernel.Listener{
				{Inode: 501, PIDs: []int{11}, Name: path, VFSInode: 71, Orphaned: true},
				{Inode: 502, PIDs: []int{12}, Name: path, VFSInode: 72},
			},
		}},
	}
	rs := check.Judge(h, check.SingleListener{}, check.ReachableLeader{})
	for _, r := range rs.Parts {
		fmt.Println(r.Name, r.Verdict)
	}
	fmt.Println("exit", rs.ExitCode())
	// Output:
	// single-listener fail
	// reachable-leader fail
	// exit 1
}
