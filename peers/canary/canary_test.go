package canary_test

import (
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
	"github.com/splitbrain-dev/splitbrain/peers/canary"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

func addrFor(t *testing.T, c canary.Canary) string {
	if c.Transport == "tcp" {
		return freePort(t)
	}
	return sockPath(t)
}

// requireSplitBrain checks, from the kernel, that a and b both listen on addr, and that
// orphan's listener (if orphan is not nil) is the one the address no longer leads to.
func requireSplitBrain(t *testing.T, transport, addr string, a, b, orphan *peer) kernel.Snapshot {
	t.Helper()
	s := snapshot(t, transport, addr)
	la, okA := listenerOf(s, a)
	lb, okB := listenerOf(s, b)
	if !okA || !okB || len(s.Listeners) != 2 {
		t.Fatalf("want two listeners, of %s (pid %d) and %s (pid %d); kernel: %s", a.id, a.pid(), b.id, b.pid(), describe(s))
	}
	if orphan != nil {
		lo, _ := listenerOf(s, orphan)
		other := lb
		if orphan == b {
			other = la
		}
		if !lo.Orphaned || other.Orphaned {
			t.Fatalf("want only %s's listener orphaned; kernel: %s", orphan.id, describe(s))
		}
	}
	return s
}

func TestNamesMatchRegistry(t *testing.T) {
	want := []string{"dual-stack", "lockfile-deleted", "no-lock", "probe-unlink", "reuseport", "unlink-on-close"}
	if got := canary.Names(); !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for _, c := range canary.All() {
		if c.Bug == "" || len(c.Failpoints) == 0 || (c.Transport != "unix" && c.Transport != "tcp") {
			t.Errorf("canary %s is not fully described: %+v", c.Name, c)
		}
	}
}

// TestBehavesLikeAnElection checks that every canary looks like a correct peer from the
// outside when nothing races: one leads, the others follow, broadcasts are relayed and
// acknowledged, a killed leader is replaced, and SIGTERM closes gracefully.
func TestBehavesLikeAnElection(t *testing.T) {
	for _, c := range canary.All() {
		t.Run(c.Name, func(t *testing.T) {
			addr := addrFor(t, c)
			p1 := startPeer(t, c.Name, "p1", addr, "")
			p1.waitLeader()
			p2 := startPeer(t, c.Name, "p2", addr, "")
			p2.waitFollower("p1")
			p1.waitEvent("connection p2", func(ev protocol.Event) bool { return ev.Event == protocol.EventConnection && ev.Member == "p2" })
			p3 := startPeer(t, c.Name, "p3", addr, "")
			p3.waitFollower("p1")
			p1.waitEvent("connection p3", func(ev protocol.Event) bool { return ev.Event == protocol.EventConnection && ev.Member == "p3" })

			p2.send(protocol.Command{Cmd: protocol.CmdBroadcast, ID: "m1", Data: "hello"})
			p2.waitEvent("sent m1", func(ev protocol.Event) bool { return ev.Event == protocol.EventSent && ev.ID == "m1" })
			for _, p := range []*peer{p1, p3} {
				p.waitEvent("message m1", func(ev protocol.Event) bool {
					return ev.Event == protocol.EventMessage && ev.ID == "m1" && ev.From == "p2" && ev.Data == "hello"
				})
			}
			p1.send(protocol.Command{Cmd: protocol.CmdBroadcast, ID: "m2", Data: "from the leader"})
			p1.waitEvent("sent m2", func(ev protocol.Event) bool { return ev.Event == protocol.EventSent && ev.ID == "m2" })
			p3.waitEvent("message m2", func(ev protocol.Event) bool { return ev.Event == protocol.EventMessage && ev.ID == "m2" })

			// A follower dies; the leader sees it go. (Not a graceful stop, which is
			// lockfile-deleted's bug.)
			p3.kill()
			p1.waitEvent("disconnection p3", func(ev protocol.Event) bool { return ev.Event == protocol.EventDisconnection && ev.Member == "p3" })

			// The leader dies; the one survivor takes over, and a newcomer joins it. (With
			// two survivors the takeover is a race, which some canaries lose on purpose.)
			p1.kill()
			p2.waitEvent("lost", kind(protocol.EventLost))
			p2.waitLeader()
			p4 := startPeer(t, c.Name, "p4", addr, "")
			p4.waitFollower("p2")
			if s := snapshot(t, c.Transport, addr); len(s.Listeners) != 1 {
				t.Fatalf("after the takeover, want one listener; kernel: %s", describe(s))
			}
			p4.term()
			p4.waitExit()
			p2.term()
			p2.waitExit()
		})
	}
}

// Two peers find the same stale socket; both unlink and listen. The first leader is left
// on an orphaned socket.
func TestProbeUnlinkTwoLeaders(t *testing.T) {
	path := sockPath(t)
	staleSocket(t, path)
	a := startPeer(t, "probe-unlink", "pa", path, "before-unlink=pause")
	b := startPeer(t, "probe-unlink", "pb", path, "before-unlink=pause")
	bothLead(a, b, "before-unlink")
	requireSplitBrain(t, "unix", path, a, b, a)

	// A newcomer finds only b: a's members are lost to everyone else for good.
	c := startPeer(t, "probe-unlink", "pc", path, "")
	c.waitFollower("pb")
}

// Two peers start on an empty path; both fail to connect, both unlink and listen.
func TestNoLockTwoLeaders(t *testing.T) {
	path := sockPath(t)
	a := startPeer(t, "no-lock", "pa", path, "before-unlink=pause")
	b := startPeer(t, "no-lock", "pb", path, "before-unlink=pause")
	bothLead(a, b, "before-unlink")
	requireSplitBrain(t, "unix", path, a, b, a)
}

// A regular file at the address is data; both unlocked canaries delete it.
func TestUnlinkingCanariesDeletePlantedFile(t *testing.T) {
	for _, name := range []string{"no-lock", "probe-unlink"} {
		t.Run(name, func(t *testing.T) {
			path := sockPath(t)
			if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
				t.Fatal(err)
			}
			p := startPeer(t, name, "p1", path, "")
			p.waitLeader()
			fi, err := os.Lstat(path)
			if err != nil || fi.Mode()&os.ModeSocket == 0 {
				t.Fatalf("path after the election: %v, %v; want the leader's socket in place of the file", fi, err)
			}
		})
	}
}

// The leader is stopped gracefully. It steps down and drops its members; a member wins the
// lock and listens; then the old leader's Close unlinks the path, which now names the new
// leader's socket.
func TestUnlinkOnCloseOrphansSuccessor(t *testing.T) {
	path := sockPath(t)
	old := startPeer(t, "unlink-on-close", "p1", path, canary.FailBeforeClose+"=pause")
	old.waitLeader()
	next := startPeer(t, "unlink-on-close", "p2", path, "")
	next.waitFollower("p1")

	old.term()
	old.waitEvent("pause before-close", pausedAt(canary.FailBeforeClose))
	next.waitLeader()
	old.resume()
	old.waitExit()

	s := snapshot(t, "unix", path)
	l, ok := listenerOf(s, next)
	if len(s.Listeners) != 1 || !ok || !l.Orphaned || s.PathInode != 0 {
		t.Fatalf("want p2's listener alone and orphaned, the path gone; kernel: %s", describe(s))
	}
	if _, err := net.Dial("unix", path); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("dial %s: %v, want ENOENT: the leader is unreachable", path, err)
	}
}

// A follower stops gracefully and deletes the lock file the leader holds; a newcomer
// creates a new lock file, locks it, and leads too, unlinking the old leader's socket.
func TestLockfileDeletedTwoLeaders(t *testing.T) {
	path := sockPath(t)
	old := startPeer(t, "lockfile-deleted", "p1", path, "")
	old.waitLeader()
	f := startPeer(t, "lockfile-deleted", "p2", path, "")
	f.waitFollower("p1")
	f.term()
	f.waitExit()
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock file after a graceful stop: %v, want it deleted", err)
	}
	n := startPeer(t, "lockfile-deleted", "p3", path, "")
	n.waitLeader()
	requireSplitBrain(t, "unix", path, old, n, old)
}

// Two peers are refused at once and both listen on the port.
func TestTCPCanariesTwoLeaders(t *testing.T) {
	for _, name := range []string{"reuseport", "dual-stack"} {
		t.Run(name, func(t *testing.T) {
			addr := freePort(t)
			a := startPeer(t, name, "pa", addr, "before-listen=pause")
			b := startPeer(t, name, "pb", addr, "before-listen=pause")
			bothLead(a, b, "before-listen")
			s := requireSplitBrain(t, "tcp", addr, a, b, nil)
			_, port, _ := net.SplitHostPort(addr)
			var names []string
			for _, l := range s.Listeners {
				names = append(names, l.Name)
			}
			slices.Sort(names)
			want := []string{"127.0.0.1:" + port, "127.0.0.1:" + port}
			if name == "dual-stack" {
				want = []string{"127.0.0.1:" + port, "[::1]:" + port}
			}
			if !slices.Equal(names, want) {
				t.Fatalf("listener names %v, want %v", names, want)
			}
			// A newcomer joins only one of them.
			c := startPeer(t, name, "pc", addr, "")
			c.waitEvent("follower", kind(protocol.EventFollower))
		})
	}
}

func TestRunRejectsWrongTransport(t *testing.T) {
	err := canary.Run("reuseport", newPeer(t, "unix", sockPath(t)))
	if err == nil || !containsAll(err.Error(), "reuseport", "tcp") {
		t.Fatalf("got %v, want an error naming the canary's transport", err)
	}
	err = canary.Run("nope", newPeer(t, "unix", sockPath(t)))
	if !errors.Is(err, canary.ErrUnknown) {
		t.Fatalf("got %v, want ErrUnknown", err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// newPeer is an in-process Peer with no stdin, for Run's argument checks.
func newPeer(t *testing.T, transport, addr string) *peerio.Peer {
	t.Helper()
	p, err := peerio.New(peerio.Config{
		Env: peerio.Env{Protocol: 1, Transport: transport, Addr: addr, Peer: "p1"},
		Out: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A peer whose shutdown hangs (here, paused at a failpoint) dies at the second SIGTERM:
// peerio.Open turns only the first signal into a graceful stop.
func TestSecondSignalKillsHungShutdown(t *testing.T) {
	path := sockPath(t)
	p := startPeer(t, "unlink-on-close", "p1", path, canary.FailBeforeClose+"=pause")
	p.waitLeader()
	p.term()
	p.waitEvent("pause before-close", pausedAt(canary.FailBeforeClose))
	p.term()
	select {
	case <-p.exited:
	case <-time.After(waitFor):
		t.Fatalf("the second SIGTERM did not end the peer within %v", waitFor)
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("peer ended with %v, want killed by SIGTERM", p.cmd.ProcessState)
	}
}
