package election_test

import (
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

var _ = Describe("The bridge", func() {
	var p1, p2, p3 *peer
	BeforeEach(func() {
		path := socketPath()
		p1 = startPeer(peerSpec{ID: "p1", Addr: path})
		Eventually(p1.Role).Should(HaveField("Kind", protocol.EventLeader))
		p2 = startPeer(peerSpec{ID: "p2", Addr: path})
		p3 = startPeer(peerSpec{ID: "p3", Addr: path})
		Expect(awaitSettled([]*peer{p1, p2, p3})).To(Equal(p1))
		Eventually(p1.membersSinceLead).Should(ConsistOf("p2", "p3"))
	})

	message := func(from, id, data string) protocol.Event {
		return protocol.Event{Event: protocol.EventMessage, From: from, ID: id, Data: data}
	}

	It("relays the leader's broadcast to every follower, and tells the leader it was sent", func() {
		p1.send(protocol.Command{Cmd: protocol.CmdBroadcast, ID: "b1", Data: "from the leader"})
		Eventually(p1.Of).WithArguments(protocol.EventSent).Should(ConsistOf(HaveField("ID", "b1")))
		for _, f := range []*peer{p2, p3} {
			Eventually(f.Of).WithArguments(protocol.EventMessage).Should(
				ConsistOf(message("p1", "b1", "from the leader")), "at %s", f.ID)
		}
		Expect(p1.Of(protocol.EventMessage)).To(BeEmpty(), "the sender does not hear itself")
		Expect(p1.Of(protocol.EventSendFailed)).To(BeEmpty())
	})

	It("relays a follower's broadcast to the leader and to every other follower, and tells the sender it was sent", func() {
		p2.send(protocol.Command{Cmd: protocol.CmdBroadcast, ID: "b2", Data: "from a follower"})
		Eventually(p2.Of).WithArguments(protocol.EventSent).Should(ConsistOf(HaveField("ID", "b2")))
		for _, r := range []*peer{p1, p3} {
			Eventually(r.Of).WithArguments(protocol.EventMessage).Should(
				ConsistOf(message("p2", "b2", "from a follower")), "at %s", r.ID)
		}
		Expect(p2.Of(protocol.EventMessage)).To(BeEmpty(), "the sender does not hear itself")
		Expect(p2.Of(protocol.EventSendFailed)).To(BeEmpty())
	})

	It("relays many broadcasts from everyone to every other member, each exactly once", func() {
		const n = 50
		senders := []*peer{p1, p2, p3}
		for i := range n {
			for _, s := range senders {
				s.send(protocol.Command{Cmd: protocol.CmdBroadcast, ID: s.ID + "-" + itoa(i), Data: itoa(i)})
			}
		}
		for _, s := range senders {
			Eventually(func() int { return len(s.Of(protocol.EventSent)) }).Should(Equal(n), "sent at %s", s.ID)
			Expect(s.Of(protocol.EventSendFailed)).To(BeEmpty())
		}
		for _, r := range senders {
			// The reference peer sends each broadcast from its own goroutine, so a sender's
			// order is not promised; each message arrives once.
			var want []string
			for _, s := range without(senders, r) {
				for i := range n {
					want = append(want, s.ID+"-"+itoa(i))
				}
			}
			got := func() []string {
				var ids []string
				for _, m := range r.Of(protocol.EventMessage) {
					ids = append(ids, m.ID)
				}
				return ids
			}
			Eventually(got).Should(ConsistOf(want), "messages at %s", r.ID)
		}
	})

	It("writes every broadcast a closing leader acknowledged to every follower before it hangs up", func() {
		// p3 stops reading (SIGSTOP) while p1 broadcasts 600 KB: more than the socket
		// buffers hold, so most of it waits in p1's queue for p3 when p1 is told to close.
		// p3 resumes at once: p1 must write the rest to it before it hangs up (it has
		// Options.DrainTimeout, 1 s, to do so), not drop it.
		const n = 300
		data := strings.Repeat("x", 2000)
		p3.signal(syscall.SIGSTOP)
		for i := range n {
			p1.send(protocol.Command{Cmd: protocol.CmdBroadcast, ID: "L" + itoa(i), Data: data})
		}
		Eventually(func() int { return len(p1.Of(protocol.EventSent)) }).Should(Equal(n))
		Eventually(func() int { return len(p2.Of(protocol.EventMessage)) }).Should(Equal(n))
		p1.send(protocol.Command{Cmd: protocol.CmdClose})
		p3.signal(syscall.SIGCONT)
		Eventually(p1.session).Should(gexec.Exit(0))
		for _, f := range []*peer{p2, p3} {
			Eventually(f.Of).WithArguments(protocol.EventLost).ShouldNot(BeEmpty(), "%s saw the leader go", f.ID)
			got := map[string]bool{}
			for _, m := range f.Of(protocol.EventMessage) {
				got[m.ID] = true
			}
			for _, ev := range p1.Of(protocol.EventSent) {
				Expect(got).To(HaveKey(ev.ID), "%s acknowledged to p1, but %s never got it", ev.ID, f.ID)
			}
		}
	})
})
