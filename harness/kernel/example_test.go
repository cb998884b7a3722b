package kernel_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// A listener whose path was unlinked is still there, orphaned: the kernel sees it.
func ExampleObserver_Snapshot() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "election.sock")

	l, _ := net.Listen("unix", path)
	defer l.Close()
	_ = os.Remove(path) // what a racing "probe, unlink, listen" peer does

	o := kernel.NewUnix(path)
	s, err := o.Snapshot([]int{os.Getpid()})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, reachable := s.Reachable()
	fmt.Println("listeners:", len(s.Listeners))
	fmt.Println("orphaned:", s.Listeners[0].Orphaned)
	fmt.Println("ours:", s.Listeners[0].PIDs[0] == os.Getpid())
	fmt.Println("reachable:", reachable)
	// Output:
	// listeners: 1
	// orphaned: true
	// ours: true
	// reachable: false
}
