package canary_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// nodePeer returns the path of the Node.js probe-unlink canary in examples/adapters, found
// from this source file so that the test binary may run from any directory.
func nodePeer(t *testing.T) string {
	t.Helper()
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source")
	}
	p := filepath.Join(filepath.Dir(here), "..", "..", "examples", "adapters", "node-probe-unlink", "peer.js")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("the Node canary: %v", err)
	}
	return p
}

func startNode(t *testing.T, id, addr, failpoints string) *peer {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; the Node canary cannot run")
	}
	return startCmd(t, []string{node, nodePeer(t)}, "NODE_NO_WARNINGS=1", "unix", id, addr, failpoints)
}

// The Node canary behaves like a peer: it leads, its followers relay through it, and it
// takes over when the leader dies. Its frames are the Go canaries', so a Go peer can join.
func TestNodeProbeUnlinkBehaves(t *testing.T) {
	path := sockPath(t)
	p1 := startNode(t, "p1", path, "")
	p1.waitLeader()
	p2 := startNode(t, "p2", path, "")
	p2.waitFollower("p1")
	p3 := startPeer(t, "probe-unlink", "p3", path, "")
	p3.waitFollower("p1")
	p2.send(protocol.Command{Cmd: protocol.CmdBroadcast, ID: "m1", Data: "hi"})
	p2.waitEvent("sent m1", func(ev protocol.Event) bool { return ev.Event == protocol.EventSent && ev.ID == "m1" })
	p3.waitEvent("message m1", func(ev protocol.Event) bool {
		return ev.Event == protocol.EventMessage && ev.ID == "m1" && ev.From == "p2"
	})
	p3.kill()
	p1.kill()
	p2.waitEvent("lost", kind(protocol.EventLost))
	p2.waitLeader() // via the stale socket p1 left: probe, unlink, listen
	p2.term()
	p2.waitExit()
}

// Two Node peers find the same stale socket and both lead.
func TestNodeProbeUnlinkTwoLeaders(t *testing.T) {
	path := sockPath(t)
	staleSocket(t, path)
	a := startNode(t, "pa", path, "before-unlink=pause")
	b := startNode(t, "pb", path, "before-unlink=pause")
	bothLead(a, b, "before-unlink")
	requireSplitBrain(t, "unix", path, a, b, a)
}
