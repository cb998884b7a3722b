package election_test

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// stormSize is how many processes a storm starts at once.
const stormSize = 50

// startStorm forks n gated peers from n goroutines, registers their cleanups (kill and
// reap) in the spec's goroutine, then releases them all at once.
func startStorm(n int, spec func(id string) peerSpec) []*peer {
	GinkgoHelper()
	ps := make([]*peer, n)
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			s := spec(fmt.Sprintf("p%d", i+1))
			s.Gated = true
			ps[i], errs[i] = launchPeer(s)
		}()
	}
	ready.Wait()
	close(gate)
	done.Wait()
	for _, p := range ps {
		if p != nil {
			DeferCleanup(p.cleanup)
		}
	}
	for _, err := range errs {
		Expect(err).NotTo(HaveOccurred())
	}
	// Every process is forked and waiting: let them all go at once.
	for _, p := range ps {
		Expect(p.release()).To(Succeed())
	}
	return ps
}

// expectStormMembers checks the leader's own account: one connection event per follower,
// each follower once, since it began to lead.
func expectStormMembers(leader *peer, followers []*peer) {
	GinkgoHelper()
	Eventually(leader.membersSinceLead).Should(ConsistOf(idsOf(followers)))
}

var _ = Describe("A storm of processes started at once", Label("storm"), Serial, func() {
	DescribeTable(fmt.Sprintf("ends, on a unix path, with exactly one listener (orphans included) and %d clients connected to it", stormSize-1), func(failpoints string, stale bool) {
		path := socketPath()
		if stale {
			plantStaleSocket(path)
		}
		// The kernel is sampled throughout: at no observation may two sockets listen on
		// the path, orphaned or not.
		sampler := sampleListeners(func() ([]uint64, error) { return listeningAt(path) })
		DeferCleanup(sampler.Stop)

		start := time.Now()
		ps := startStorm(stormSize, func(id string) peerSpec { return peerSpec{ID: id, Addr: path, Failpoints: failpoints} })
		leader := awaitSettled(ps)
		followers := without(ps, leader)
		expectKernelLeader(path, leader)
		expectKernelMembers(path, leader, followers)
		expectStormMembers(leader, followers)
		settledIn := time.Since(start)

		sampler.Stop()
		most, evidence := sampler.Max()
		Expect(most).To(Equal(1), "listeners bound to %s at once: %s", path, evidence)
		Expect(leader.Of(protocol.EventLeader)).To(HaveLen(1))
		leaders := 0
		for _, p := range ps {
			leaders += len(p.Of(protocol.EventLeader))
		}
		Expect(leaders).To(Equal(1), "exactly one process ever led")
		AddReportEntry("unix storm", fmt.Sprintf("%d processes settled in %v", stormSize, settledIn))
	},
		Entry("as they come", "", false),
		// Slowing every step widens the windows a racy election would fall into; the
		// reference must still end with one reachable listener.
		Entry("with every election step slowed by 20ms", "*=sleep(20ms)", false),
		Entry("on a stale socket, with every election step slowed by 20ms", "*=sleep(20ms)", true),
	)

	It(fmt.Sprintf("ends, on 127.0.0.1:PORT, with exactly one listener and %d clients connected to it", stormSize-1), func() {
		port := freePort()
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		secret := secretFile(tempDir(0o700), "secret")
		sampler := sampleListeners(func() ([]uint64, error) { return tcpListenersOn(port) })
		DeferCleanup(sampler.Stop)

		start := time.Now()
		ps := startStorm(stormSize, func(id string) peerSpec {
			return peerSpec{ID: id, Transport: "tcp", Addr: addr, SecretFile: secret}
		})
		leader := awaitSettled(ps)
		followers := without(ps, leader)
		expectKernelTCP(port, leader, followers)
		expectStormMembers(leader, followers)
		settledIn := time.Since(start)

		sampler.Stop()
		most, evidence := sampler.Max()
		Expect(most).To(Equal(1), "listeners on port %d at once: %s", port, evidence)
		epochs := map[uint64]bool{}
		for _, p := range ps {
			for _, ev := range p.Of(protocol.EventLeader) {
				Expect(ev.Epoch).NotTo(BeNil())
				Expect(epochs).NotTo(HaveKey(*ev.Epoch), "epoch %d led twice", *ev.Epoch)
				epochs[*ev.Epoch] = true
			}
		}
		AddReportEntry("tcp storm", fmt.Sprintf("%d processes settled in %v; epochs %v", stormSize, settledIn, slices.Sorted(maps.Keys(epochs))))
	})
})
