package election_test

import (
	"errors"
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// expectKernelTCP waits until the kernel shows exactly one socket listening on port (any
// address, both families), held by leader, and exactly one established connection per
// follower: the server ends all held by the leader, the client ends one per follower.
func expectKernelTCP(port int, leader *peer, followers []*peer) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		ls, err := tcpListenersOn(port)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(ls).To(HaveLen(1), "sockets listening on port %d", port)
		g.Expect(heldBy(leader.Pid(), ls)).To(Equal(ls), "the listener is held by the leader %s", leader.ID)
		server, client, err := tcpEstablishedTo(port)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(server).To(HaveLen(len(followers)), "established server ends on port %d", port)
		g.Expect(heldBy(leader.Pid(), server)).To(HaveLen(len(followers)), "server ends held by the leader")
		g.Expect(client).To(HaveLen(len(followers)), "established client ends to port %d", port)
		for _, f := range followers {
			g.Expect(heldBy(f.Pid(), client)).To(HaveLen(1), "%s holds one connection to the port", f.ID)
		}
	}).Should(Succeed())
}

var _ = Describe("Election over 127.0.0.1:PORT", func() {
	var addr, secret string
	var port int
	BeforeEach(func() {
		port = freePort()
		addr = fmt.Sprintf("127.0.0.1:%d", port)
		secret = secretFile(tempDir(0o700), "secret")
	})
	tcpPeer := func(id string) peerSpec {
		return peerSpec{ID: id, Transport: "tcp", Addr: addr, SecretFile: secret}
	}

	It("lets a lone process lead and a second become its client", func() {
		p1 := startPeer(tcpPeer("p1"))
		Eventually(p1.Role).Should(HaveField("Kind", protocol.EventLeader))
		p2 := startPeer(tcpPeer("p2"))
		Expect(awaitSettled([]*peer{p1, p2})).To(Equal(p1))
		Eventually(p1.membersSinceLead).Should(Equal([]string{"p2"}))
		expectKernelTCP(port, p1, []*peer{p2})
	})

	It("makes a survivor lead at a greater epoch when the leader is SIGKILLed", func() {
		ps := []*peer{startPeer(tcpPeer("p1")), startPeer(tcpPeer("p2")), startPeer(tcpPeer("p3"))}
		old := awaitSettled(ps)
		oldEpoch := old.Role().Epoch
		old.kill()
		survivors := without(ps, old)
		leader := awaitSettled(survivors)
		Expect(leader.Role().Epoch).To(BeNumerically(">", oldEpoch))
		expectKernelTCP(port, leader, without(survivors, leader))
	})

	It("keeps out a process with the wrong secret, which says why", func() {
		p1 := startPeer(tcpPeer("p1"))
		Eventually(p1.Role).Should(HaveField("Kind", protocol.EventLeader))
		epoch := p1.Role().Epoch

		wrong := tcpPeer("p9")
		wrong.SecretFile = secretFile(tempDir(0o700), "other-secret")
		p9 := startPeer(wrong)
		Eventually(p9.session).Should(gexec.Exit())
		Expect(p9.session.ExitCode()).NotTo(BeZero())
		Expect(p9.Of(protocol.EventFollower)).To(BeEmpty())
		Expect(p9.Of(protocol.EventLeader)).To(BeEmpty())
		Expect(p9.Of(protocol.EventError)).To(ContainElement(HaveField("Error",
			And(ContainSubstring(addr), ContainSubstring("secret")))))
		Expect(p9.stderr()).To(ContainSubstring("secret"))

		Expect(p1.Of(protocol.EventConnection)).To(BeEmpty(), "no member joined")
		stillLeads(p1, epoch)
		expectKernelTCP(port, p1, nil)
	})

	DescribeTable("refuses an address that is not 127.0.0.1:PORT with a clear error",
		func(bad string) {
			p := startPeer(peerSpec{ID: "p1", Transport: "tcp", Addr: fmt.Sprintf(bad, port), SecretFile: secret})
			Eventually(p.session).Should(gexec.Exit())
			Expect(p.session.ExitCode()).NotTo(BeZero())
			Expect(p.stderr()).To(And(ContainSubstring(fmt.Sprintf(bad, port)), ContainSubstring("127.0.0.1:PORT")))
			Expect(p.Of(protocol.EventLeader)).To(BeEmpty())
			ls, err := tcpListenersOn(port)
			Expect(err).NotTo(HaveOccurred())
			Expect(ls).To(BeEmpty(), "nothing listens on the port")
		},
		Entry("the wildcard", "0.0.0.0:%d"),
		Entry("another host", "192.0.2.1:%d"),
		Entry("IPv6 loopback", "[::1]:%d"),
		Entry("a host name", "localhost:%d"),
	)

	// The peer checks its environment before the library sees the address, so the library's
	// own check is specified here, in process.
	DescribeTable("the library itself refuses an address that is not 127.0.0.1:PORT, naming it and the fix",
		func(bad, named string) {
			_, err := election.New(election.Options{Network: "tcp", Address: bad, SecretFile: secret})
			Expect(errors.Is(err, election.ErrNotLoopback)).To(BeTrue(), "got %v", err)
			Expect(err.Error()).To(And(ContainSubstring(named), ContainSubstring("127.0.0.1:")))
		},
		Entry("the wildcard", "0.0.0.0:7000", "0.0.0.0"),
		Entry("another host", "192.0.2.1:7000", "192.0.2.1"),
		Entry("IPv6 loopback", "[::1]:7000", "::1"),
		Entry("a host name", "localhost:7000", "localhost:7000"),
		Entry("port 0", "127.0.0.1:0", "port 0"),
	)
})
