package gotest_test

import (
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/sbtest"
	. "github.com/splitbrain-dev/splitbrain/sbtest/sbmatchers"
)

var _ = Describe("Leader election on a unix socket", func() {
	It("keeps one reachable leader through leader kills, stops, pauses, storms, stale sockets and planted files with the election library", func(ctx SpecContext) {
		res, err := sbtest.Run(ctx, sbtest.RunConfig{
			Peer:     referencePeer, // 10 peers, as the CLI
			Duration: 10 * time.Second,
			// No Faults: every default fault (pauses and planted files too).
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(cleanupPassed, res) // keep the result folder only when the spec fails
		Expect(res).To(Pass())
		Expect(res).To(HoldInvariant("single-listener"))
	}, SpecTimeout(2*time.Minute))

	It("is caught with two leaders when it probes, unlinks and listens without a lock", func(ctx SpecContext) {
		res, err := sbtest.Run(ctx, sbtest.RunConfig{
			Peer:     naivePeer,
			Peers:    10,
			Duration: 30 * time.Second,
			// Peers race at a cold start and when a leader dies; the failpoint widens the
			// window between a peer's probe and its unlink, so that the race is met at once
			// rather than by luck; FailFast ends the faults at the first violation.
			Faults:     []string{"kill-leader", "stale-socket", "storm"},
			Failpoints: "before-unlink=sleep(5ms)",
			FailFast:   true,
		})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(cleanupPassed, res)
		GinkgoWriter.Print(res) // the verdict table and the evidence, shown with -v
		Expect(res).NotTo(Pass())
		Expect(res).To(Or(FailInvariant("single-listener"), FailInvariant("reachable-leader")))
	}, SpecTimeout(2*time.Minute))
})

// cleanupPassed removes the result folder of a spec that passed; a failed spec's folder
// (history.jsonl, results.json, timeline.html) stays, and the failure message names it.
func cleanupPassed(res *sbtest.Result) {
	if !CurrentSpecReport().Failed() {
		Expect(os.RemoveAll(res.Dir)).To(Succeed())
	}
}
