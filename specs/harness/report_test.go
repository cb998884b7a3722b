package harness_test

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/report"
)

// reportTestdata holds saved runs with the golden report files of package report.
const reportTestdata = "../../harness/report/testdata/runs"

// junitDoc is junit.xml as a CI system reads it.
type junitDoc struct {
	XMLName  xml.Name `xml:"testsuites"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Skipped  int      `xml:"skipped,attr"`
	Suites   []struct {
		Name       string `xml:"name,attr"`
		Tests      int    `xml:"tests,attr"`
		Failures   int    `xml:"failures,attr"`
		Errors     int    `xml:"errors,attr"`
		Skipped    int    `xml:"skipped,attr"`
		Properties []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
				Type    string `xml:"type,attr"`
			} `xml:"error"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

var _ = Describe("The report files", func() {
	DescribeTable("written by `splitbrain check` for a saved history have the golden shape",
		func(run string, exit int) {
			dir := GinkgoT().TempDir()
			hist, err := os.ReadFile(filepath.Join(reportTestdata, run, "history.jsonl"))
			Expect(err).NotTo(HaveOccurred())
			Expect(os.WriteFile(filepath.Join(dir, report.HistoryFile), hist, 0o644)).To(Succeed())
			s, err := gexec.Start(exec.Command(splitbrainBin, "check", dir), GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			Eventually(s).Should(gexec.Exit(exit))

			gotJSON, err := os.ReadFile(filepath.Join(dir, report.ResultsFile))
			Expect(err).NotTo(HaveOccurred())
			goldenJSON, err := os.ReadFile(filepath.Join(reportTestdata, run, "results.json.golden"))
			Expect(err).NotTo(HaveOccurred())
			Expect(gotJSON).To(MatchJSON(goldenJSON))

			// results.json: one invariant per checker, in registry order, and an exit code
			// that agrees with the CLI's.
			var res report.Results
			Expect(json.Unmarshal(gotJSON, &res)).To(Succeed())
			Expect(res.ExitCode).To(Equal(exit))
			Expect(res.Invariants).To(HaveLen(len(check.All())))
			failed, inconclusive, skipped := 0, 0, 0
			for i, c := range check.All() {
				inv := res.Invariants[i]
				Expect(inv.Name).To(Equal(c.Name()))
				Expect(inv.Summary).NotTo(BeEmpty())
				switch inv.Verdict {
				case check.Fail:
					failed++
					Expect(inv.Evidence).NotTo(BeEmpty(), inv.Name)
				case check.Inconclusive:
					inconclusive++
				case check.NotJudged:
					skipped++
				}
			}

			gotXML, err := os.ReadFile(filepath.Join(dir, report.JUnitFile))
			Expect(err).NotTo(HaveOccurred())
			goldenXML, err := os.ReadFile(filepath.Join(reportTestdata, run, "junit.xml.golden"))
			Expect(err).NotTo(HaveOccurred())
			Expect(gotXML).To(MatchXML(goldenXML))

			// junit.xml: one suite, one case per invariant; a violation is a <failure>, an
			// inconclusive invariant an <error>, a not-judged one <skipped>.
			var doc junitDoc
			Expect(xml.Unmarshal(gotXML, &doc)).To(Succeed())
			Expect(doc.Tests).To(Equal(len(check.All())))
			Expect([]int{doc.Failures, doc.Errors, doc.Skipped}).To(Equal([]int{failed, inconclusive, skipped}))
			Expect(doc.Suites).To(HaveLen(1))
			suite := doc.Suites[0]
			Expect(suite.Name).To(Equal("splitbrain"))
			Expect(suite.Properties).To(ContainElement(HaveField("Name", "replay")))
			Expect(suite.Properties).To(ContainElement(And(HaveField("Name", "verdict"), HaveField("Value", string(res.Verdict)))))
			Expect(suite.Cases).To(HaveLen(len(res.Invariants)))
			for i, c := range suite.Cases {
				inv := res.Invariants[i]
				Expect(c.Name).To(Equal(inv.Name))
				Expect(c.Failure != nil).To(Equal(inv.Verdict == check.Fail), c.Name)
				Expect(c.Error != nil).To(Equal(inv.Verdict == check.Inconclusive), c.Name)
				Expect(c.Skipped != nil).To(Equal(inv.Verdict == check.NotJudged), c.Name)
				if c.Failure != nil {
					Expect(c.Failure.Message).To(Equal(inv.Summary))
					Expect(c.Failure.Type).To(Equal("violation"))
					Expect(c.Failure.Body).To(ContainSubstring("replay: " + res.Replay))
				}
			}
		},
		Entry("a valid run", "good", 0),
		Entry("a split brain", "split-brain", 1),
		Entry("a run in which no leader appeared", "never-leader", 2),
	)
})
