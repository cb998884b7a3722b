package verdicts_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/harness/check"
)

// Item C: liveness measures election, not interpreter start-up, and never loses a gap.
var _ = Describe("liveness", func() {
	BeforeEach(needPython)

	It("passes a correct peer whose interpreter takes longer than the bound to start", func() {
		// Every stale-socket fault takes the group down and starts it again; each peer
		// sleeps 6s before it says ready (bound 5s). The first release measured from the
		// restart and failed it.
		code, r := run("--impl", "python3 "+pyPeer+" --startup 6", "--peers", "4", "--duration", "14s",
			"--settle", "10s", "--liveness", "5s", "--faults", "stale-socket")
		v, why := verdict(r, "liveness")
		Expect(v).To(Equal(check.Pass), why)
		Expect(code).To(Equal(0), verdicts(r))
	})

	It("fails a peer whose followers never take over after SIGKILL, whatever fault comes last", func() {
		// Followers take over only on a goodbye; a SIGKILLed leader leaves them waiting.
		// A stale-socket fault later restarts the whole group, which elects at once: the
		// gap before it must not be erased.
		code, r := run("--impl", "python3 "+pyPeer+" --goodbye-only", "--peers", "4", "--rounds", "2",
			"--settle", "6s", "--liveness", "3s", "--faults", "kill-leader", "--seed", "1")
		v, why := verdict(r, "liveness")
		Expect(v).To(Equal(check.Fail), why)
		Expect(code).To(Equal(1))

		code, r = run("--impl", "python3 "+pyPeer+" --goodbye-only", "--peers", "4", "--duration", "12s",
			"--settle", "6s", "--liveness", "3s", "--faults", "kill-leader,stale-socket", "--seed", "3")
		v, why = verdict(r, "liveness")
		Expect(v).To(Equal(check.Fail), why)
		Expect(code).To(Equal(1))
	})
})
