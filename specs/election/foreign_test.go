package election_test

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

var _ = Describe("Another user", func() {
	var path string
	BeforeEach(func() {
		if os.Geteuid() != 0 {
			Skip("running a peer as uid 65534 needs root")
		}
		// A directory every uid may create files in, sticky as /tmp is.
		path = filepath.Join(tempDir(0o777|os.ModeSticky), "e.sock")
	})

	// leaderOf starts p1 as the test's uid and waits until it leads.
	leaderOf := func() (*peer, uint64, uint64) {
		p1 := startPeer(peerSpec{ID: "p1", Addr: path})
		Eventually(p1.Role).Should(HaveField("Kind", protocol.EventLeader))
		ino := expectKernelLeader(path, p1)
		return p1, p1.Role().Epoch, ino
	}

	It("cannot join our group: its peer does not become a member, says why, and our leader keeps leading", func() {
		p1, epoch, listener := leaderOf()
		sock := pathInode(path)

		foreign := startPeer(peerSpec{ID: "p9", Addr: path, UID: nobody})
		Eventually(foreign.session).Should(gexec.Exit())
		Expect(foreign.session.ExitCode()).NotTo(BeZero())
		Expect(foreign.Of(protocol.EventFollower)).To(BeEmpty())
		Expect(foreign.Of(protocol.EventLeader)).To(BeEmpty())
		Expect(foreign.Of(protocol.EventError)).To(ContainElement(HaveField("Error",
			And(ContainSubstring(path), ContainSubstring("uid")))))

		Expect(p1.Of(protocol.EventConnection)).To(BeEmpty())
		stillLeads(p1, epoch)
		Expect(expectKernelLeader(path, p1)).To(Equal(listener))
		Expect(pathInode(path)).To(Equal(sock), "our socket is untouched")
		Expect(acceptedAt(path)).To(BeEmpty(), "nobody is connected")
	})

	It("cannot even connect to our leader's socket: the kernel refuses it (mode 0600)", func() {
		p1, epoch, _ := leaderOf()
		r := dialAs(nobody, path)
		Expect(r.DialError).To(ContainSubstring("permission denied"))
		Expect(p1.Of(protocol.EventConnection)).To(BeEmpty())
		stillLeads(p1, epoch)
	})

	It("is refused by our leader through its peer credentials when the socket mode lets it connect", func() {
		p1, epoch, _ := leaderOf()
		// Open the socket to everyone: only SO_PEERCRED stands between uid 65534 and the group.
		Expect(os.Chmod(path, 0o777)).To(Succeed())

		r := dialAs(nobody, path)
		Expect(r.DialError).To(BeEmpty())
		Expect(r.Closed).To(BeTrue(), "the leader hangs up on it (read: %s)", r.ReadError)
		Expect(string(r.Received)).NotTo(ContainSubstring("splitbrain/1"), "no handshake is offered to another uid")
		Expect(string(r.Received)).To(ContainSubstring("65534"), "the refusal names its uid")

		Expect(p1.Of(protocol.EventConnection)).To(BeEmpty())
		stillLeads(p1, epoch)

		// The group itself still works.
		p2 := startPeer(peerSpec{ID: "p2", Addr: path})
		Expect(awaitSettled([]*peer{p1, p2})).To(Equal(p1))
		expectKernelMembers(path, p1, []*peer{p2})
	})

	It("leads a group of its own that our process refuses to follow, naming the path and the uid", func() {
		theirs := startPeer(peerSpec{ID: "n1", Addr: path, UID: nobody})
		Eventually(theirs.Role).Should(HaveField("Kind", protocol.EventLeader))
		epoch := theirs.Role().Epoch
		listener := expectKernelLeader(path, theirs)
		before := stateOf(path)
		Expect(before.UID).To(BeEquivalentTo(nobody))

		ours := startPeer(peerSpec{ID: "p1", Addr: path})
		Eventually(ours.session).Should(gexec.Exit())
		Expect(ours.session.ExitCode()).NotTo(BeZero())
		Expect(ours.Of(protocol.EventFollower)).To(BeEmpty(), "we never follow another uid's leader")
		Expect(ours.Of(protocol.EventLeader)).To(BeEmpty())
		Expect(ours.Of(protocol.EventError)).To(ContainElement(HaveField("Error",
			And(ContainSubstring(path), ContainSubstring(strconv.Itoa(nobody))))))

		Expect(theirs.Of(protocol.EventConnection)).To(BeEmpty())
		stillLeads(theirs, epoch)
		Expect(expectKernelLeader(path, theirs)).To(Equal(listener))
		Expect(stateOf(path)).To(Equal(before), "their socket is untouched")
		var st syscall.Stat_t
		Expect(syscall.Lstat(path+".lock", &st)).To(Succeed())
		Expect(st.Uid).To(BeEquivalentTo(nobody), "their lock file is untouched")
	})

	It("leads a group that our process refuses to follow by its peer credentials, even when its socket file looks like ours", func() {
		theirs := startPeer(peerSpec{ID: "n1", Addr: path, UID: nobody})
		Eventually(theirs.Role).Should(HaveField("Kind", protocol.EventLeader))
		epoch := theirs.Role().Epoch
		listener := expectKernelLeader(path, theirs)
		// The files now claim our uid; only SO_PEERCRED on the connection can tell.
		Expect(os.Chown(path, os.Geteuid(), os.Getegid())).To(Succeed())
		Expect(os.Chown(path+".lock", os.Geteuid(), os.Getegid())).To(Succeed())
		before := stateOf(path)

		ours := startPeer(peerSpec{ID: "p1", Addr: path})
		Eventually(ours.session).Should(gexec.Exit())
		Expect(ours.session.ExitCode()).NotTo(BeZero())
		Expect(ours.Of(protocol.EventFollower)).To(BeEmpty(), "we never follow another uid's leader")
		Expect(ours.Of(protocol.EventLeader)).To(BeEmpty())
		Expect(ours.Of(protocol.EventError)).To(ContainElement(HaveField("Error", ContainSubstring("uid "+strconv.Itoa(nobody)))))

		Expect(theirs.Of(protocol.EventConnection)).To(BeEmpty())
		stillLeads(theirs, epoch)
		Expect(expectKernelLeader(path, theirs)).To(Equal(listener))
		Expect(stateOf(path)).To(Equal(before), "their socket is untouched")
	})

	It("names the path when it refuses a leader of another uid by its peer credentials", func() {
		theirs := startPeer(peerSpec{ID: "n1", Addr: path, UID: nobody})
		Eventually(theirs.Role).Should(HaveField("Kind", protocol.EventLeader))
		Expect(os.Chown(path, os.Geteuid(), os.Getegid())).To(Succeed())
		Expect(os.Chown(path+".lock", os.Geteuid(), os.Getegid())).To(Succeed())

		ours := startPeer(peerSpec{ID: "p1", Addr: path})
		Eventually(ours.session).Should(gexec.Exit())
		Expect(ours.Of(protocol.EventError)).To(ContainElement(HaveField("Error",
			And(ContainSubstring(path), ContainSubstring("uid "+strconv.Itoa(nobody))))))
	})
})
