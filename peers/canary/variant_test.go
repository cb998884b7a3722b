package canary_test

import (
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
	"github.com/splitbrain-dev/splitbrain/peers/canary"
)

// startVariant starts the reference variant name over transport.
func startVariant(t *testing.T, name, transport, id, addr string) *peer {
	t.Helper()
	if _, ok := canary.Lookup(name); !ok {
		t.Fatalf("no variant %q", name)
	}
	return startCmd(t, []string{os.Args[0], "-test.run=^$"}, envCanary+"="+name, transport, id, addr, "")
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
	if want := []string{"any-addr", "deaf-follower", "deaf-leader", "epoch-one"}; !slices.Equal(names, want) {
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
