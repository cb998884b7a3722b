package election_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// epochsSeen returns the epochs of p's leader and follower events, in order.
func epochsSeen(p *peer) []uint64 {
	var es []uint64
	for _, ev := range p.Events() {
		if (ev.Event == protocol.EventLeader || ev.Event == protocol.EventFollower) && ev.Epoch != nil {
			es = append(es, *ev.Epoch)
		}
	}
	return es
}

// lostDisplaced reports whether p said it lost its leadership because it was displaced.
func lostDisplaced(p *peer) bool {
	for _, ev := range p.Of(protocol.EventLost) {
		if strings.Contains(ev.Reason, "leader displaced") {
			return true
		}
	}
	return false
}

var _ = Describe("A hostile filesystem under a leader", func() {
	var path string
	BeforeEach(func() {
		dir := filepath.Join(tempDir(0o755), "d")
		Expect(os.Mkdir(dir, 0o755)).To(Succeed())
		path = filepath.Join(dir, "e.sock")
	})

	DescribeTable("makes the leader resign within about 100 ms, and one reachable leader takes the path at a greater epoch, followed by every peer",
		func(displace func(path string)) {
			ps := []*peer{
				startPeer(peerSpec{ID: "p1", Addr: path}),
				startPeer(peerSpec{ID: "p2", Addr: path}),
				startPeer(peerSpec{ID: "p3", Addr: path}),
			}
			old := awaitSettled(ps)
			oldEpoch := old.Role().Epoch
			expectKernelLeader(path, old)

			t0 := time.Now()
			displace(path)
			// 100 ms is the aim; the bound leaves room for a loaded 2-core machine.
			Eventually(func() bool { return lostDisplaced(old) }, 3*time.Second, 5*time.Millisecond).Should(BeTrue(),
				"%s says it lost its leadership because it was displaced", old.ID)
			AddReportEntry("resigned after", time.Since(t0).String())

			var leader *peer
			Eventually(func(g Gomega) {
				var err error
				leader, err = settled(ps)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(leader.Role().Epoch).To(BeNumerically(">", oldEpoch))
			}).Should(Succeed())
			// One listener bound to the path, orphans included, and the path leads to it.
			expectKernelLeader(path, leader)
			expectKernelMembers(path, leader, without(ps, leader))
			for _, p := range ps {
				Expect(p.session.ExitCode()).To(Equal(-1), "%s still runs", p.ID)
			}
		},
		Entry("when its socket file is removed", func(path string) {
			Expect(os.Remove(path)).To(Succeed())
		}),
		Entry("when its socket file is replaced by a stale socket (unlink, then bind)", func(path string) {
			Expect(os.Remove(path)).To(Succeed())
			plantStaleSocket(path)
		}),
		Entry("when its directory is renamed and made again", func(path string) {
			dir := filepath.Dir(path)
			Expect(os.Rename(dir, dir+".old")).To(Succeed())
			Expect(os.Mkdir(dir, 0o755)).To(Succeed())
		}),
		Entry("when its lock file is removed", func(path string) {
			Expect(os.Remove(path + ".lock")).To(Succeed())
		}),
		Entry("when its lock file is replaced", func(path string) {
			Expect(os.WriteFile(path+".new", nil, 0o600)).To(Succeed())
			Expect(os.Rename(path+".new", path+".lock")).To(Succeed())
		}),
	)

	It("never lets an epoch repeat or go back when the lock file is deleted again and again, newcomers included", func() {
		ps := []*peer{
			startPeer(peerSpec{ID: "p1", Addr: path}),
			startPeer(peerSpec{ID: "p2", Addr: path}),
		}
		last := awaitSettled(ps).Role().Epoch
		for round := 3; round <= 5; round++ {
			Expect(os.Remove(path + ".lock")).To(Succeed())
			ps = append(ps, startPeer(peerSpec{ID: "p" + itoa(round), Addr: path}))
			Eventually(func(g Gomega) {
				leader, err := settled(ps)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(leader.Role().Epoch).To(BeNumerically(">", last))
				last = leader.Role().Epoch
			}).Should(Succeed())
		}
		led := map[uint64]string{}
		for _, p := range ps {
			es := epochsSeen(p)
			for i := 1; i < len(es); i++ {
				Expect(es[i]).To(BeNumerically(">=", es[i-1]), "%s saw epochs %v", p.ID, es)
			}
			for _, ev := range p.Of(protocol.EventLeader) {
				Expect(led).NotTo(HaveKey(*ev.Epoch), "epoch %d led by %s and %s", *ev.Epoch, led[*ev.Epoch], p.ID)
				led[*ev.Epoch] = p.ID
			}
		}
	})

	It("refuses a directory other users may write in without the sticky bit, naming it", func() {
		dir := filepath.Dir(path)
		Expect(os.Chmod(dir, 0o777)).To(Succeed())
		p := startPeer(peerSpec{ID: "p1", Addr: path})
		Eventually(p.session).Should(gexec.Exit())
		Expect(p.Of(protocol.EventError)).To(ContainElement(HaveField("Error", ContainSubstring(dir))))
		_, err := os.Lstat(path + ".lock")
		Expect(err).To(MatchError(os.ErrNotExist), "nothing was created there")
	})

	It("tightens a lock file of ours that others could open to 0600", func() {
		Expect(os.WriteFile(path+".lock", nil, 0o644)).To(Succeed())
		Expect(os.Chmod(path+".lock", 0o666)).To(Succeed())
		p := startPeer(peerSpec{ID: "p1", Addr: path})
		Eventually(p.Role).Should(HaveField("Kind", protocol.EventLeader))
		var st syscall.Stat_t
		Expect(syscall.Stat(path+".lock", &st)).To(Succeed())
		Expect(st.Mode & 0o777).To(BeEquivalentTo(0o600))
	})
})

var _ = Describe("A failover that also takes the leader's successor", func() {
	It("still elects one reachable leader among the others, who were asleep", func() {
		path := socketPath()
		p1 := startPeer(peerSpec{ID: "p1", Addr: path})
		Eventually(p1.Role).Should(HaveField("Kind", protocol.EventLeader))
		// p2 joins first, so p1 puts it on deck: it alone would try the lock at once.
		p2 := startPeer(peerSpec{ID: "p2", Addr: path})
		Eventually(p1.membersSinceLead).Should(Equal([]string{"p2"}))
		rest := []*peer{
			startPeer(peerSpec{ID: "p3", Addr: path}),
			startPeer(peerSpec{ID: "p4", Addr: path}),
			startPeer(peerSpec{ID: "p5", Addr: path}),
		}
		Expect(awaitSettled(append([]*peer{p1, p2}, rest...))).To(Equal(p1))
		epoch := p1.Role().Epoch

		p1.signal(syscall.SIGKILL)
		p2.signal(syscall.SIGKILL)
		Eventually(p1.session).Should(gexec.Exit())
		Eventually(p2.session).Should(gexec.Exit())

		leader := awaitSettled(rest)
		Expect(leader.Role().Epoch).To(BeNumerically(">", epoch))
		expectKernelLeader(path, leader)
		expectKernelMembers(path, leader, without(rest, leader))
	})
})
