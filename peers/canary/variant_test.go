package canary_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
	"github.com/splitbrain-dev/splitbrain/peers/canary"
)

// startVariant starts the reference variant name over transport.
func startVariant(t *testing.T, name, transport, id, addr string) *peer {
	t.Helper()
	if _, ok := canary.Lookup(name); !ok {
		t.Fatalf("no variant %q", name)
	}
	return startVariantAt(t, name, transport, id, addr, "")
}

// startVariantAt starts the reference variant name with failpoints set.
func startVariantAt(t *testing.T, name, transport, id, addr, failpoints string) *peer {
	t.Helper()
	if _, ok := canary.Lookup(name); !ok {
		t.Fatalf("no variant %q", name)
	}
	return startCmd(t, []string{os.Args[0], "-test.run=^$"}, envCanary+"="+name, transport, id, addr, failpoints)
}

func message(id string) func(protocol.Event) bool {
	return func(ev protocol.Event) bool { return ev.Event == protocol.EventMessage && ev.ID == id }
}

// hasMessage reports whether p has written a message with id so far.
func (p *peer) hasMessage(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.events, message(id))
}

func TestVariantsAreLookedUpButNotCanaries(t *testing.T) {
	var names []string
	for _, v := range canary.Variants() {
		names = append(names, v.Name)
		if v.Bug == "" {
			t.Errorf("variant %s has no Bug", v.Name)
		}
		if slices.Contains(canary.Names(), v.Name) {
			t.Errorf("variant %s is among the canaries every driver must catch", v.Name)
		}
	}
	want := []string{"any-addr", "deaf-follower", "deaf-leader", "epoch-one", "give-up-3", "turn-away-16"}
	if !slices.Equal(names, want) {
		t.Fatalf("Variants() = %v, want %v", names, want)
	}
}

// A leader's relays and a member's broadcasts go out in one order to each member, so once a
// follower has the member's later broadcast it has had the leader's earlier one too.
func TestDeafFollowerDropsOnlyItsLeadersBroadcasts(t *testing.T) {
	addr := sockPath(t)
	p1 := startVariant(t, "deaf-follower", "unix", "p1", addr)
	p1.waitLeader()
	p2 := startVariant(t, "deaf-follower", "unix", "p2", addr)
	p2.waitFollower("p1")
	p1.waitEvent("connection p2", func(ev protocol.Event) bool { return ev.Event == protocol.EventConnection && ev.Member == "p2" })
	p3 := startVariant(t, "deaf-follower", "unix", "p3", addr)
	p3.waitFollower("p1")
	p1.waitEvent("connection p3", func(ev protocol.Event) bool { return ev.Event == protocol.EventConnection && ev.Member == "p3" })

	p1.send(protocol.Command{Cmd: protocol.CmdBroadcast, ID: "from-leader", Data: "x"})
	p1.waitEvent("sent from-leader", func(ev protocol.Event) bool { return ev.Event == protocol.EventSent && ev.ID == "from-leader" })
	p3.send(protocol.Command{Cmd: protocol.CmdBroadcast, ID: "from-member", Data: "y"})
	p2.waitEvent("message from-member", message("from-member"))
	p1.waitEvent("message from-member", message("from-member"))
	if p2.hasMessage("from-leader") || p3.hasMessage("from-leader") {
		t.Fatalf("a follower wrote the leader's broadcast:\np2:\n%s\np3:\n%s", p2.eventLog(), p3.eventLog())
	}
}

func TestEpochOneRepeatsTheEpoch(t *testing.T) {
	addr := sockPath(t)
	p1 := startVariant(t, "epoch-one", "unix", "p1", addr)
	ev := p1.waitEvent("leader", kind(protocol.EventLeader))
	p2 := startVariant(t, "epoch-one", "unix", "p2", addr)
	p2.waitFollower("p1")
	p1.kill()
	next := p2.waitEvent("leader", kind(protocol.EventLeader))
	if ev.Epoch == nil || next.Epoch == nil || *ev.Epoch != 1 || *next.Epoch != 1 {
		t.Fatalf("epochs %v then %v, want 1 then 1:\n%s", ev.Epoch, next.Epoch, p2.eventLog())
	}
}

func TestAnyAddrListensOnTheWildcard(t *testing.T) {
	addr := freePort(t)
	p1 := startVariant(t, "any-addr", "tcp", "p1", addr)
	p1.waitLeader()
	p2 := startVariant(t, "any-addr", "tcp", "p2", addr)
	p2.waitFollower("p1") // reached through 127.0.0.1
	s := snapshot(t, "tcp", addr)
	l, ok := listenerOf(s, p1)
	if !ok || len(s.Listeners) != 1 {
		t.Fatalf("want p1's one listener; kernel: %s", describe(s))
	}
	want := netip.MustParseAddrPort(addr)
	if ap, err := netip.ParseAddrPort(l.Name); err != nil || !ap.Addr().IsUnspecified() || ap.Port() != want.Port() {
		t.Fatalf("p1 listens on %s, want 0.0.0.0 on the port of %s", l.Name, addr)
	}
	p2.term()
	p2.waitExit()
	p1.term()
	p1.waitExit()
}

// connected returns how many connections the listener of leader has accepted, by the kernel.
func connected(t *testing.T, addr string, leader *peer) int {
	t.Helper()
	s := snapshot(t, "unix", addr)
	l, ok := listenerOf(s, leader)
	if !ok || len(s.Listeners) != 1 {
		t.Fatalf("want %s's one listener; kernel: %s", leader.id, describe(s))
	}
	n := 0
	for _, c := range s.Conns {
		if c.ListenerInode == l.Inode && c.ServerInode != 0 {
			n++
		}
	}
	return n
}

// The watched follower f is stopped (SIGSTOP) while its leader is killed and the next one
// starts, so that f always follows a fresh leader: three leaders, three losses.
func TestGiveUp3LeavesTheElectionAfterItsThirdLostLeader(t *testing.T) {
	addr := sockPath(t)
	leader := startVariant(t, "give-up-3", "unix", "l1", addr)
	leader.waitLeader()
	f := startVariant(t, "give-up-3", "unix", "f", addr)
	f.waitFollower("l1")
	for i := 2; i <= 4; i++ {
		f.stop()
		leader.kill()
		leader = startVariant(t, "give-up-3", "unix", fmt.Sprintf("l%d", i), addr)
		leader.waitLeader()
		f.cont()
		f.waitEvent("lost", kind(protocol.EventLost))
		if i < 4 {
			f.waitFollower(leader.id)
		}
	}
	m := startVariant(t, "give-up-3", "unix", "m", addr)
	m.waitFollower("l4")
	leader.waitEvent("connection m", func(ev protocol.Event) bool { return ev.Event == protocol.EventConnection && ev.Member == "m" })
	if n := connected(t, addr, leader); n != 1 {
		t.Fatalf("l4 has %d members, want 1 (m): f gave up\nf:\n%s", n, f.eventLog())
	}
	select {
	case <-f.exited:
		t.Fatalf("f exited; it must stay alive outside the group:\n%s", f.eventLog())
	default:
	}
	f.term()
	f.waitExit()
}

// stop sends SIGSTOP and waits until the kernel shows the process stopped.
func (p *peer) stop() {
	p.t.Helper()
	if err := syscall.Kill(p.pid(), syscall.SIGSTOP); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(waitFor)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid()))
		if err != nil {
			p.t.Fatal(err)
		}
		// The state follows the command name's closing parenthesis.
		if st := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(st) > 0 && st[0] == "T" {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not stopped within %v", p.id, waitFor)
		}
		time.Sleep(time.Millisecond) // polling the kernel's state, not a timed wait
	}
}

func (p *peer) cont() {
	p.t.Helper()
	if err := syscall.Kill(p.pid(), syscall.SIGCONT); err != nil {
		p.t.Fatal(err)
	}
}

func TestTurnAway16RefusesTheSeventeenthJoin(t *testing.T) {
	addr := sockPath(t)
	leader := startVariant(t, "turn-away-16", "unix", "l", addr)
	leader.waitLeader()
	for i := 1; i <= 16; i++ {
		m := startVariant(t, "turn-away-16", "unix", fmt.Sprintf("m%d", i), addr)
		m.waitFollower("l")
		m.kill()
	}
	late := startVariant(t, "turn-away-16", "unix", "m17", addr)
	select {
	case <-late.exited:
	case <-time.After(waitFor):
		t.Fatalf("m17 did not give up within %v:\n%s", waitFor, late.eventLog())
	}
	if code := late.cmd.ProcessState.ExitCode(); code != 3 || !strings.Contains(late.stderr.String(), "the group is full") {
		t.Fatalf("m17 exited with status %d, want 3 after a refusal; stderr:\n%s", code, late.stderr.String())
	}
	leader.term()
	leader.waitExit()
}
