package election_test

import (
	"net"
	"os"
	"slices"
	"strconv"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

var _ = Describe("Election over a unix socket path", func() {
	var path string
	BeforeEach(func() { path = socketPath() })

	It("lets a lone process lead, listening on the path", func() {
		p1 := startPeer(peerSpec{ID: "p1", Addr: path})
		Eventually(p1.Role).Should(HaveField("Kind", protocol.EventLeader))
		Expect(p1.Role().Epoch).To(BeNumerically(">=", 1))
		Expect(p1.Of(protocol.EventReady)).To(HaveLen(1))
		expectKernelLeader(path, p1)

		var st syscall.Stat_t
		Expect(syscall.Lstat(path, &st)).To(Succeed())
		Expect(st.Mode & syscall.S_IFMT).To(BeEquivalentTo(syscall.S_IFSOCK))
		Expect(st.Mode&0o777).To(BeEquivalentTo(0o600), "the socket is reachable by its own uid only")
	})

	It("makes a second process a client of the first", func() {
		p1 := startPeer(peerSpec{ID: "p1", Addr: path})
		Eventually(p1.Role).Should(HaveField("Kind", protocol.EventLeader))
		epoch := p1.Role().Epoch
		p2 := startPeer(peerSpec{ID: "p2", Addr: path})

		Eventually(p2.Role).Should(Equal(role{Kind: protocol.EventFollower, Leader: "p1", Epoch: epoch}))
		Eventually(p1.members).Should(Equal([]string{"p2"}))
		Expect(p1.Role()).To(Equal(role{Kind: protocol.EventLeader, Epoch: epoch}), "the first keeps leading")
		Expect(p2.Of(protocol.EventLeader)).To(BeEmpty(), "the second never led")
		expectKernelLeader(path, p1)
		expectKernelMembers(path, p1, []*peer{p2})
	})

	DescribeTable("makes another process lead at a greater epoch when the leader is SIGKILLed, and every survivor reconnects to it",
		func(n int) {
			var ps []*peer
			for i := 1; i <= n; i++ {
				ps = append(ps, startPeer(peerSpec{ID: "p" + itoa(i), Addr: path}))
			}
			old := awaitSettled(ps)
			oldEpoch := old.Role().Epoch
			oldListener := expectKernelLeader(path, old)
			expectKernelMembers(path, old, without(ps, old))

			old.signal(syscall.SIGKILL)
			Eventually(old.session).Should(gexec.Exit(128 + int(syscall.SIGKILL)))

			survivors := without(ps, old)
			leader := awaitSettled(survivors)
			Expect(leader.Role().Epoch).To(BeNumerically(">", oldEpoch))
			for _, p := range without(survivors, leader) {
				Expect(p.Of(protocol.EventLost)).NotTo(BeEmpty(), "%s saw its leader go", p.ID)
				Expect(p.Of(protocol.EventFollower)).To(ContainElement(HaveField("Leader", leader.ID)))
			}
			Expect(leader.Of(protocol.EventLost)).NotTo(BeEmpty(), "the new leader saw the old one go")
			Eventually(leader.membersSinceLead).Should(ConsistOf(idsOf(without(survivors, leader))))

			newListener := expectKernelLeader(path, leader)
			Expect(newListener).NotTo(Equal(oldListener))
			expectKernelMembers(path, leader, without(survivors, leader))
		},
		Entry("with 3 processes", 3),
		Entry("with 5 processes", 5),
	)

	DescribeTable("severs every connection on Close: the followers see lost, and one of them leads",
		func(closeIt func(*peer)) {
			p1 := startPeer(peerSpec{ID: "p1", Addr: path})
			Eventually(p1.Role).Should(HaveField("Kind", protocol.EventLeader))
			oldEpoch := p1.Role().Epoch
			p2 := startPeer(peerSpec{ID: "p2", Addr: path})
			p3 := startPeer(peerSpec{ID: "p3", Addr: path})
			Expect(awaitSettled([]*peer{p1, p2, p3})).To(Equal(p1))
			expectKernelMembers(path, p1, []*peer{p2, p3})

			closeIt(p1)
			Eventually(p1.session).Should(gexec.Exit(0))
			Expect(p1.Role().Kind).To(Equal(protocol.EventClosed))

			followers := []*peer{p2, p3}
			leader := awaitSettled(followers)
			Expect(leader.Role().Epoch).To(BeNumerically(">", oldEpoch))
			for _, f := range followers {
				evs := kinds(f.Events())
				firstFollow := slices.Index(evs, protocol.EventFollower)
				lost := slices.Index(evs, protocol.EventLost)
				Expect(firstFollow).To(BeNumerically(">=", 0))
				Expect(lost).To(BeNumerically(">", firstFollow), "%s saw lost after following p1: %v", f.ID, evs)
			}
			expectKernelLeader(path, leader)
			expectKernelMembers(path, leader, without(followers, leader))
		},
		Entry("by the close command", func(p *peer) { p.send(protocol.Command{Cmd: protocol.CmdClose}) }),
		Entry("by SIGTERM", func(p *peer) { p.signal(syscall.SIGTERM) }),
	)

	DescribeTable("removes the path when a closing leader's own socket is there",
		func(closeIt func(*peer)) {
			p1 := startPeer(peerSpec{ID: "p1", Addr: path})
			Eventually(p1.Role).Should(HaveField("Kind", protocol.EventLeader))
			expectKernelLeader(path, p1)

			closeIt(p1)
			Eventually(p1.session).Should(gexec.Exit(0))
			Expect(p1.Of(protocol.EventClosed)).To(HaveLen(1))
			_, err := os.Lstat(path)
			Expect(err).To(MatchError(os.ErrNotExist), "the leader removed its own socket")
			Expect(listeningAt(path)).To(BeEmpty())
			lock, err := os.Lstat(path + ".lock")
			Expect(err).NotTo(HaveOccurred(), "the lock file is never deleted")
			Expect(lock.Mode().IsRegular()).To(BeTrue())
		},
		Entry("by the close command", func(p *peer) { p.send(protocol.Command{Cmd: protocol.CmdClose}) }),
		Entry("by SIGTERM", func(p *peer) { p.signal(syscall.SIGTERM) }),
	)

	DescribeTable("leaves the path alone when a closing leader's socket is no longer there",
		func(closeIt func(*peer)) {
			p1 := startPeer(peerSpec{ID: "p1", Addr: path})
			Eventually(p1.Role).Should(HaveField("Kind", protocol.EventLeader))
			orphan := expectKernelLeader(path, p1)

			// Someone (here, the test) replaced the path with a listener of its own.
			Expect(os.Remove(path)).To(Succeed())
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			Expect(err).NotTo(HaveOccurred())
			l.SetUnlinkOnClose(false)
			DeferCleanup(l.Close)
			mine := pathInode(path)

			closeIt(p1)
			Eventually(p1.session).Should(gexec.Exit(0))
			Expect(pathInode(path)).To(Equal(mine), "the path still names the test's socket")
			inos, err := listeningAt(path)
			Expect(err).NotTo(HaveOccurred())
			Expect(inos).To(HaveLen(1))
			Expect(inos).NotTo(ContainElement(orphan))
			Expect(heldBy(os.Getpid(), inos)).To(Equal(inos), "the one listener left is the test's")
		},
		Entry("by the close command", func(p *peer) { p.send(protocol.Command{Cmd: protocol.CmdClose}) }),
		Entry("by SIGTERM", func(p *peer) { p.signal(syscall.SIGTERM) }),
	)
})

func kinds(evs []protocol.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Event)
	}
	return out
}

func idsOf(ps []*peer) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

func itoa(i int) string { return strconv.Itoa(i) }
