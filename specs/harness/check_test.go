package harness_test

import (
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// checkTestdata holds the hand-made histories of package check, each made to break one
// invariant (or none: good.jsonl).
const checkTestdata = "../../harness/check/testdata"

func loadHistory(name string) []history.Record {
	GinkgoHelper()
	h, err := history.ReadFile(filepath.Join(checkTestdata, name))
	Expect(err).NotTo(HaveOccurred())
	return h
}

// badHistory names, for every checker, a history that must fail it.
var badHistory = map[string][]string{
	"single-listener":     {"split-brain.jsonl"},
	"reachable-leader":    {"orphan.jsonl", "split-brain.jsonl"},
	"no-lost-peers":       {"lost-peer.jsonl", "split-brain.jsonl"},
	"liveness":            {"slow-failover.jsonl"},
	"no-data-loss":        {"data-loss.jsonl"},
	"no-unexpected-exits": {"crash.jsonl"},
	"delivery":            {"lost-message.jsonl", "unreported-broadcast.jsonl"},
	"leadership":          {"split-brain.jsonl"},
	"exposure":            {"exposed.jsonl"},
	"protocol":            {"protocol-error.jsonl"},
}

// checkerEntries is one table entry per checker and bad history.
func checkerEntries() []TableEntry {
	var out []TableEntry
	for _, c := range check.All() {
		for _, bad := range badHistory[c.Name()] {
			out = append(out, Entry(nil, c.Name(), bad))
		}
	}
	return out
}

var _ = Describe("The checkers", func() {
	It("have a bad history each: a new checker needs one here", func() {
		for _, c := range check.All() {
			Expect(badHistory).To(HaveKey(c.Name()))
		}
		Expect(badHistory).To(HaveLen(len(check.All())))
	})

	DescribeTable("each fails on its bad history, with evidence, and passes on the good one",
		func(name, bad string) {
			c, ok := check.ByName(name)
			Expect(ok).To(BeTrue())

			r := c.Check(loadHistory(bad))
			Expect(r.Verdict).To(Equal(check.Fail), "%s on %s: %s", name, bad, r.Summary)
			Expect(r.Summary).NotTo(BeEmpty())
			Expect(r.Evidence).NotTo(BeEmpty())
			Expect(r.Evidence[0].What).NotTo(BeEmpty())

			good := c.Check(loadHistory("good.jsonl"))
			want := check.Pass
			if name == "exposure" {
				want = check.NotJudged // good.jsonl is a unix run: nothing to expose
			}
			Expect(good.Verdict).To(Equal(want), "%s on good.jsonl: %s", name, good.Summary)

			// Judged as a whole, the bad history is a violation that names this checker.
			rs := check.Judge(loadHistory(bad))
			Expect(rs.ExitCode()).To(Equal(check.ExitViolation))
			Expect(rs.Error()).To(MatchError(ContainSubstring(name + ": ")))
		},
		checkerEntries(),
		func(name, bad string) string { return name + " on " + bad },
	)

	DescribeTable("`splitbrain check DIR` exits with the verdict of a saved history",
		func(file string, exit int) {
			dir := GinkgoT().TempDir()
			data, err := os.ReadFile(filepath.Join(checkTestdata, file))
			Expect(err).NotTo(HaveOccurred())
			Expect(os.WriteFile(filepath.Join(dir, "history.jsonl"), data, 0o644)).To(Succeed())
			s, err := gexec.Start(exec.Command(splitbrainBin, "check", dir), GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			Eventually(s).Should(gexec.Exit(exit))
			Expect(filepath.Join(dir, "results.json")).To(BeAnExistingFile())
			Expect(filepath.Join(dir, "junit.xml")).To(BeAnExistingFile())
		},
		Entry("valid", "good.jsonl", 0),
		Entry("black-box, valid", "black-box.jsonl", 0),
		Entry("a split brain", "split-brain.jsonl", 1),
		Entry("a crashed peer", "crash.jsonl", 1),
		Entry("a protocol error", "protocol-error.jsonl", 1),
		Entry("a port open beyond loopback", "exposed.jsonl", 1),
		Entry("no leader ever: inconclusive", "never-leader.jsonl", 2),
		Entry("a planted file never looked at again: inconclusive", "no-final-plant.jsonl", 2),
	)
})
