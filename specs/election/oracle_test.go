package election_test

import (
	"fmt"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// pidsOf returns the peers' pids.
func pidsOf(ps []*peer) []int {
	var pids []int
	for _, p := range ps {
		pids = append(pids, p.Pid())
	}
	return pids
}

// without returns ps without q.
func without(ps []*peer, q *peer) []*peer {
	var out []*peer
	for _, p := range ps {
		if p != q {
			out = append(out, p)
		}
	}
	return out
}

// expectKernelLeader waits until the kernel shows exactly one listening socket bound to
// path, orphans included (/proc/net/unix), held by leader, and that it is the socket the
// path names (sock_diag's bound inode equals the path's inode). It returns the listener's
// socket inode.
func expectKernelLeader(path string, leader *peer) uint64 {
	GinkgoHelper()
	var ino uint64
	obs := kernel.NewUnix(path)
	Eventually(func(g Gomega) {
		inos, err := listeningAt(path)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(inos).To(HaveLen(1), "listening unix sockets bound to %s, orphans included", path)
		g.Expect(heldBy(leader.Pid(), inos)).To(Equal(inos), "the listener is held by the leader %s (pid %d)", leader.ID, leader.Pid())
		snap, err := obs.Snapshot([]int{leader.Pid()})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(snap.Listeners).To(HaveLen(1), "sock_diag listeners: %+v", snap.Listeners)
		l := snap.Listeners[0]
		g.Expect(l.Inode).To(Equal(inos[0]), "sock_diag and /proc/net/unix agree")
		g.Expect(l.Orphaned).To(BeFalse(), "the listener is reachable")
		g.Expect(l.VFSInode).NotTo(BeZero())
		g.Expect(l.VFSInode).To(Equal(pathInode(path)), "the path names the listener's socket file")
		ino = inos[0]
	}).Should(Succeed())
	return ino
}

// expectKernelMembers waits until the kernel shows every follower connected to leader at
// path, and nobody else: the connected sockets named path (the accepted ends) are exactly
// len(followers), all held by the leader, and their peers are held one each by the
// followers (sock_diag's peer graph).
func expectKernelMembers(path string, leader *peer, followers []*peer) {
	GinkgoHelper()
	obs := kernel.NewUnix(path)
	all := append([]*peer{leader}, followers...)
	want := pidsOf(followers)
	slices.Sort(want)
	Eventually(func(g Gomega) {
		accepted, err := acceptedAt(path)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(accepted).To(HaveLen(len(followers)), "connected sockets named %s (accepted ends)", path)
		g.Expect(heldBy(leader.Pid(), accepted)).To(HaveLen(len(followers)), "accepted sockets held by the leader %s", leader.ID)
		snap, err := obs.Snapshot(pidsOf(all))
		g.Expect(err).NotTo(HaveOccurred())
		var clients []int
		for _, c := range snap.Conns {
			g.Expect(c.ServerPIDs).To(Equal([]int{leader.Pid()}), "conn %+v: server end held by the leader", c)
			g.Expect(c.ClientPIDs).To(HaveLen(1), "conn %+v: client end held by one process", c)
			clients = append(clients, c.ClientPIDs[0])
		}
		slices.Sort(clients)
		g.Expect(clients).To(Equal(want), "the followers' pids, one connection each")
	}).Should(Succeed())
}

// listenerSampler polls /proc/net/unix (or /proc/net/tcp) in the background and keeps the
// largest number of listeners it saw bound to the address at one observation.
type listenerSampler struct {
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	max     int
	worst   []uint64
	samples int
}

func sampleListeners(list func() ([]uint64, error)) *listenerSampler {
	s := &listenerSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			select {
			case <-s.stop:
				return
			case <-time.After(time.Millisecond):
			}
			inos, err := list()
			if err != nil {
				continue
			}
			s.mu.Lock()
			s.samples++
			if len(inos) > s.max {
				s.max, s.worst = len(inos), inos
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// Stop ends sampling; it is safe to call twice.
func (s *listenerSampler) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// Max returns the most listeners seen at once, the inodes seen then, and the sample count.
func (s *listenerSampler) Max() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.max, fmt.Sprintf("listeners %v at the worst of %d samples", s.worst, s.samples)
}
