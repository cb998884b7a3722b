package verdicts_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/report"
)

// Item B: lost peers are judged every round and at any time, not only at the end.
var _ = Describe("no-lost-peers", func() {
	BeforeEach(needPython)

	It("passes a correct Python peer under leader and follower kills", func() {
		code, r := run("--impl", "python3 "+pyPeer, "--peers", "4", "--duration", "8s", "--faults", "kill-leader,kill-follower,start")
		v, why := verdict(r, "no-lost-peers")
		Expect(v).To(Equal(check.Pass), why)
		Expect(code).To(Equal(0), verdicts(r))
	})

	It("fails a peer whose followers give up after three lost leaders, round by round", func() {
		code, r := run("--impl", "python3 "+pyPeer+" --give-up 3", "--peers", "4", "--duration", "8s", "--faults", "kill-leader")
		v, why := verdict(r, "no-lost-peers")
		Expect(v).To(Equal(check.Fail), why)
		Expect(code).To(Equal(1))
	})

	It("fails a peer lost for longer than the bound mid-run, though it heals before the end", func() {
		// Each follower naps 7s a second into its life and then rejoins; start faults add
		// peers (and nap them) early, and the run goes on long after the last nap ends, so
		// the group is whole at the end: only judging at any time sees it.
		code, r := run("--impl", "python3 "+pyPeer+" --nap 7", "--peers", "3", "--duration", "16s",
			"--faults", "start", "--liveness", "5s")
		v, why := verdict(r, "no-lost-peers")
		Expect(v).To(Equal(check.Fail), why)
		// A settle window may also end while peers nap (then the summary names it first);
		// the episode longer than the bound must be in the evidence either way.
		Expect(figure(r, "no-lost-peers", "lost_too_long")).To(BeNumerically(">=", 1), why)
		Expect(code).To(Equal(1))
	})
})

// figure returns results.json's figure name of the invariant inv (0 when absent).
func figure(r report.Results, inv, name string) float64 {
	for _, x := range r.Invariants {
		if x.Name == inv {
			return x.Figures[name]
		}
	}
	return 0
}
