package election_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// fileState is what must not change about a planted file: its identity, type, mode, owner,
// times, and content (a regular file's bytes, a directory's names, a symlink's target).
type fileState struct {
	Ino, Dev      uint64
	Mode          uint32
	UID           uint32
	Size          int64
	Mtime, Ctime  syscall.Timespec
	Content       string
	TargetContent string // a symlink's target's bytes, if it is a regular file
}

func stateOf(path string) fileState {
	GinkgoHelper()
	var st syscall.Stat_t
	Expect(syscall.Lstat(path, &st)).To(Succeed(), "lstat %s", path)
	s := fileState{Ino: st.Ino, Dev: st.Dev, Mode: st.Mode, UID: st.Uid, Size: st.Size, Mtime: st.Mtim, Ctime: st.Ctim}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		b, err := os.ReadFile(path)
		Expect(err).NotTo(HaveOccurred())
		s.Content = string(b)
	case syscall.S_IFDIR:
		ents, err := os.ReadDir(path)
		Expect(err).NotTo(HaveOccurred())
		for _, e := range ents {
			s.Content += e.Name() + "\n"
		}
	case syscall.S_IFLNK:
		t, err := os.Readlink(path)
		Expect(err).NotTo(HaveOccurred())
		s.Content = t
		if b, err := os.ReadFile(path); err == nil {
			s.TargetContent = string(b)
		}
	}
	return s
}

// planters put something that is not ours to remove at a path.
var (
	plantFile = func(path string) {
		Expect(os.WriteFile(path, []byte("precious data\n"), 0o644)).To(Succeed())
	}
	plantDir = func(path string) {
		Expect(os.Mkdir(path, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(path, "inside"), []byte("x"), 0o644)).To(Succeed())
	}
	plantSymlinkToFile = func(path string) {
		target := path + ".target"
		Expect(os.WriteFile(target, []byte("the target's data\n"), 0o644)).To(Succeed())
		Expect(os.Symlink(target, path)).To(Succeed())
	}
	plantDanglingSymlink = func(path string) {
		Expect(os.Symlink(path+".nowhere", path)).To(Succeed())
	}
	plantFIFO = func(path string) {
		Expect(syscall.Mkfifo(path, 0o644)).To(Succeed())
	}
)

// plantStaleSocket leaves a socket of ours at path that nothing listens on: bound, closed,
// never unlinked, as a crashed leader leaves it.
func plantStaleSocket(path string) {
	GinkgoHelper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	Expect(err).NotTo(HaveOccurred())
	l.SetUnlinkOnClose(false)
	Expect(l.Close()).To(Succeed())
}

var _ = Describe("What is already at the path", func() {
	var path string
	BeforeEach(func() { path = socketPath() })

	It("replaces a stale socket of ours (bound, closed, never unlinked): the peer leads", func() {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		Expect(err).NotTo(HaveOccurred())
		l.SetUnlinkOnClose(false)
		Expect(l.Close()).To(Succeed())
		stale := pathInode(path)
		Expect(stale).NotTo(BeZero(), "the stale socket file stays")
		Expect(listeningAt(path)).To(BeEmpty(), "nothing listens on it")
		// A second name keeps the stale inode allocated, so a new socket cannot reuse it.
		Expect(os.Link(path, path+".keep")).To(Succeed())

		p1 := startPeer(peerSpec{ID: "p1", Addr: path})
		Eventually(p1.Role).Should(HaveField("Kind", protocol.EventLeader))
		expectKernelLeader(path, p1)
		Expect(pathInode(path)).NotTo(Equal(stale), "the path names a new socket")

		p2 := startPeer(peerSpec{ID: "p2", Addr: path})
		Expect(awaitSettled([]*peer{p1, p2})).To(Equal(p1))
		expectKernelMembers(path, p1, []*peer{p2})
	})

	It("replaces a stale socket once when several processes find it at once: one leads, the others follow", func() {
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		Expect(err).NotTo(HaveOccurred())
		l.SetUnlinkOnClose(false)
		Expect(l.Close()).To(Succeed())

		var ps []*peer
		for i := 1; i <= 5; i++ {
			ps = append(ps, startPeer(peerSpec{ID: "p" + strconv.Itoa(i), Addr: path}))
		}
		leader := awaitSettled(ps)
		expectKernelLeader(path, leader)
		expectKernelMembers(path, leader, without(ps, leader))
	})

	DescribeTable("leaves something that is not a socket untouched, and reports it naming the path",
		func(plant func(string)) {
			plant(path)
			before := stateOf(path)

			p := startPeer(peerSpec{ID: "p1", Addr: path})
			Eventually(p.session).Should(gexec.Exit())
			Expect(p.session.ExitCode()).NotTo(BeZero(), "the peer exits non-zero")
			Expect(p.stderr()).To(ContainSubstring(path), "stderr names the path")
			Expect(p.Of(protocol.EventError)).To(ContainElement(HaveField("Error", ContainSubstring(path))))
			Expect(p.Of(protocol.EventLeader)).To(BeEmpty())
			Expect(stateOf(path)).To(Equal(before), "the planted thing is untouched")
			Expect(listeningAt(path)).To(BeEmpty())
		},
		Entry("a regular file", plantFile),
		Entry("a directory", plantDir),
		Entry("a symlink to a regular file", plantSymlinkToFile),
		Entry("a dangling symlink", plantDanglingSymlink),
		Entry("a FIFO", plantFIFO),
	)

	DescribeTable("leaves a lock file that is not a regular file untouched, and reports it naming the lock file",
		func(plant func(string)) {
			lock := path + ".lock"
			plant(lock)
			before := stateOf(lock)

			p := startPeer(peerSpec{ID: "p1", Addr: path})
			Eventually(p.session).Should(gexec.Exit())
			Expect(p.session.ExitCode()).NotTo(BeZero(), "the peer exits non-zero")
			Expect(p.stderr()).To(ContainSubstring(lock), "stderr names the lock file")
			Expect(p.Of(protocol.EventError)).To(ContainElement(HaveField("Error", ContainSubstring(lock))))
			Expect(p.Of(protocol.EventLeader)).To(BeEmpty())
			Expect(stateOf(lock)).To(Equal(before), "the lock file is untouched")
			Expect(pathInode(path)).To(BeZero(), "no socket was bound at the path")
			_, err := os.Lstat(lock + ".nowhere")
			Expect(err).To(MatchError(os.ErrNotExist), "a dangling symlink's target is not created")
		},
		Entry("a directory", plantDir),
		Entry("a symlink to a regular file", plantSymlinkToFile),
		Entry("a dangling symlink", plantDanglingSymlink),
		Entry("a FIFO", plantFIFO),
	)
})
