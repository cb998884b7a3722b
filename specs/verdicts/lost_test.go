package verdicts_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/harness/check"
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
		// The at-any-time rule must see it; the summary may lead with a settle window that
		// also ended during a nap (its evidence comes first), so the figure is what counts.
		Expect(figure(r, "no-lost-peers", "lost_too_long")).To(BeNumerically(">=", 1), why)
		Expect(code).To(Equal(1))
	})

	It("fails an old leader that resigns but keeps serving half its followers, beside the new leader", func() {
		// The run's first leader, a second after it has two followers, closes its
		// listener, removes the path, releases the lock and drops half its followers; they
		// elect a new leader, while the other half stay on the old leader's accepted
		// connections for 4s more: two groups at once. No listener is orphaned
		// (reachable-leader has nothing to see: the old leader listens no more), 4s is under
		// the liveness bound (5s), and the settle windows wait until the group has settled:
		// the judge before the second-group rule passed 9 of 10 such runs.
		code, r := run("--impl", "python3 "+pyPeer+" --resign 4", "--peers", "4", "--duration", "6s", "--faults", "start")
		v, why := verdict(r, "no-lost-peers")
		Expect(v).To(Equal(check.Fail), why)
		Expect(figure(r, "no-lost-peers", "second_group")).To(BeNumerically(">=", 1), why)
		Expect(evidence(r, "no-lost-peers")).To(ContainSubstring("a second group beside the leader's"))
		Expect(code).To(Equal(1))
	})
})
