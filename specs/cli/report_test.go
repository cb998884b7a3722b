package cli_test

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/report"
)

var _ = Describe("the report of a run", func() {
	It("counts what held and what was not judged, says what was exercised and how sure it is, and how to replay it", func() {
		out := filepath.Join(GinkgoT().TempDir(), "res")
		s := start("", runArgs(out, "", "--peers", "5", "--duration", "5s", "--faults", "kill-leader,term-leader,kill-follower", "--quiet")...)
		Eventually(s).Should(gexec.Exit(0))

		By("a headline that never counts a not-judged invariant as holding")
		// Over unix, exposure has nothing to judge; the planted-file check has no plant.
		Expect(s.Out).To(gbytes.Say(`PASS: 8 invariants hold, 2 not judged \(no-data-loss, exposure\) \(exit 0\)`))
		r := results(out)
		exposure, ok := invariant(r, "exposure")
		Expect(ok).To(BeTrue())
		Expect(exposure.Verdict).To(Equal(check.NotJudged))

		By("JUnit marking the not-judged invariants skipped, and carrying the confidence")
		var j report.JUnitSuites
		b, err := os.ReadFile(filepath.Join(out, report.JUnitFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(xml.Unmarshal(b, &j)).To(Succeed())
		Expect(j.Skipped).To(Equal(2))
		props := map[string]string{}
		for _, p := range j.Suites[0].Properties {
			props[p.Name] = p.Value
		}
		Expect(props).To(HaveKeyWithValue("confidence_level", "0.95"))
		Expect(props).To(HaveKey("confidence_rate_upper_bound"))

		By("results.json saying what ran: rounds, faults, leader kills, failovers, the observer's interval")
		ex := r.Exercised
		Expect(ex.Rounds).To(BeNumerically(">", 0))
		Expect(ex.FaultsRun).To(HaveKey("kill-leader"))
		Expect(ex.LeaderKills).To(BeNumerically(">", 0))
		Expect(ex.Failovers).To(BeNumerically(">", 0))
		Expect(ex.Failovers).To(BeNumerically("<=", ex.LeaderKills))
		Expect(ex.Observations).To(BeNumerically(">=", ex.RecordedObservations))
		Expect(ex.IntervalMedianMS).To(BeNumerically(">", 0))
		Expect(ex.IntervalMaxMS).To(BeNumerically(">=", ex.IntervalMedianMS))

		By("and the exact bound on the split-brain rate per leader kill")
		c := r.Confidence
		Expect(c.Trials).To(Equal(ex.LeaderKills))
		Expect(c.Violations).To(Equal(0))
		Expect(c.RateUpperBound).To(BeNumerically("~", check.RateUpperBound(0, c.Trials, 0.95), 1e-9))
		Expect(s.Out).To(gbytes.Say(`confidence: no split brain in \d+ leader kills: rate below [\d.]+ % at 95 % confidence`))

		By("a replay line on a passing run too, naming the binary that ran")
		Expect(replayLine(string(s.Out.Contents()))).To(HavePrefix(bin + " run "))
		Expect(string(s.Out.Contents())).To(ContainSubstring("process timing, and so the interleaving, may differ"))
	})

	It("with --until-confidence keeps going until the bound is below the rate", func() {
		out := filepath.Join(GinkgoT().TempDir(), "res")
		s := start("", runArgs(out, "", "--peers", "5", "--duration", "4m", "--until-confidence", "0.05", "--quiet")...)
		Eventually(s, 5*time.Minute).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`--until-confidence 5.0 %: reached after \d+ leader kills`))
		c := results(out).Confidence
		Expect(c.RateUpperBound).To(BeNumerically("<", 0.05))
		Expect(c.Trials).To(BeNumerically(">=", 59)) // 1-(0.05)^(1/58) is above 5 %
	})

	It("with --until-confidence says when the run ended short of the bound", func() {
		out := filepath.Join(GinkgoT().TempDir(), "res")
		s := start("", runArgs(out, "", "--peers", "3", "--rounds", "2", "--faults", "kill-follower", "--until-confidence", "0.001", "--quiet")...)
		Eventually(s).Should(gexec.Exit(0))
		Expect(s.Out).To(gbytes.Say(`--until-confidence 0.1 %: ended short`))
	})
})
