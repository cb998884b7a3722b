package conformance_test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/conformance"
)

// sb starts the binary with args in dir and returns the session.
func sb(dir string, args ...string) *gexec.Session {
	cmd := exec.Command(splitbrain, args...)
	cmd.Dir = dir
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Kill().Wait(5 * time.Second) })
	return s
}

// exits waits for s to exit with code and returns its stdout and stderr.
func exits(s *gexec.Session, code int, within time.Duration) (string, string) {
	Eventually(s, within).Should(gexec.Exit(code), "stdout:\n%s\nstderr:\n%s", s.Out.Contents(), s.Err.Contents())
	return string(s.Out.Contents()), string(s.Err.Contents())
}

type junit struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Suites   []struct {
		Name  string `xml:"name,attr"`
		Props []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"properties>property"`
		Cases []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
			Error   *struct{} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(path string) junit {
	raw, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	var j junit
	Expect(xml.Unmarshal(raw, &j)).To(Succeed())
	return j
}

func readReport(dir string) conformance.Report {
	raw, err := os.ReadFile(filepath.Join(dir, "results.json"))
	Expect(err).NotTo(HaveOccurred())
	var r conformance.Report
	Expect(json.Unmarshal(raw, &r)).To(Succeed())
	return r
}

var _ = Describe("splitbrain conformance", func() {
	It("prints its suite version", func() {
		out, _ := exits(sb("", "conformance", "--suite-version"), 0, 10*time.Second)
		Expect(strings.TrimSpace(out)).To(Equal(conformance.SuiteVersion))
	})

	DescribeTable("refuses a bad --shard with exit 3, naming the flag and the fix",
		func(shard, want string) {
			_, errOut := exits(sb("", "conformance", "--shard", shard, "--list"), 3, 10*time.Second)
			Expect(errOut).To(ContainSubstring("--shard"))
			Expect(errOut).To(ContainSubstring(want))
		},
		Entry("I = N", "4/4", "must be below N: use --shard 0/4 ... --shard 3/4"),
		Entry("I > N", "7/4", "must be below N"),
		Entry("N = 0", "0/0", "must be 1 or more"),
		Entry("negative I", "-1/4", "must be below N"),
		Entry("a word", "one/4", "whole numbers"),
		Entry("no N", "3", "want I/N"),
	)

	It("lists shards that together hold the suite once, for N from 1 to 10", func() {
		list := func(args ...string) []string {
			out, _ := exits(sb("", append([]string{"conformance", "--list"}, args...)...), 0, 10*time.Second)
			var names []string
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				if f := strings.Fields(l); len(f) > 0 {
					names = append(names, f[0])
				}
			}
			return names
		}
		suite := list()
		Expect(suite).To(ContainElements("cold-start-storm", "leader-kills", "graceful-stops", "follower-churn",
			"pause-resume", "stale-socket", "planted-files", "mixed-long-1"))
		slices.Sort(suite)
		for n := 1; n <= 10; n++ {
			var union []string
			for i := 0; i < n; i++ {
				union = append(union, list("--shard", fmt.Sprintf("%d/%d", i, n))...)
			}
			slices.Sort(union)
			Expect(union).To(Equal(suite), "N=%d: shards overlap or leave cases out", n)
		}
	})

	Describe("the CI-size suite", Label("conformance"), Ordered, func() {
		var dir string
		BeforeAll(func() {
			dir = GinkgoT().TempDir()
		})

		It("passes the reference peer, in two shards run at once, and merges them into one report", func() {
			impl := splitbrain + " peer"
			s0 := sb(dir, "conformance", "--size", "quick", "--quiet", "--impl", impl, "--shard", "0/2", "--out", "s0")
			s1 := sb(dir, "conformance", "--size", "quick", "--quiet", "--impl", impl, "--shard", "1/2", "--out", "s1")
			out0, _ := exits(s0, 0, 3*time.Minute)
			exits(s1, 0, 3*time.Minute)
			Expect(out0).To(ContainSubstring("suite " + conformance.SuiteVersion + " (quick)"))

			out, _ := exits(sb(dir, "merge", "merged", "s0", "s1"), 0, 30*time.Second)
			Expect(out).To(ContainSubstring("shards 0/2,1/2: PASS (exit 0)"))
			r := readReport(filepath.Join(dir, "merged"))
			Expect(r.SuiteVersion).To(Equal(conformance.SuiteVersion))
			Expect(r.Missing).To(BeEmpty())
			Expect(r.Cases).To(HaveLen(len(conformance.Cases(conformance.Quick, "unix"))))
			for _, c := range r.Cases {
				Expect(filepath.Join(dir, c.Dir, "history.jsonl")).To(BeAnExistingFile()) // relative to where merge ran
				Expect(filepath.Join(dir, c.Dir, "junit.xml")).To(BeAnExistingFile())
			}
			j := readJUnit(filepath.Join(dir, "merged", "junit.xml"))
			Expect(j.Suites).To(HaveLen(len(r.Cases)))
			Expect(j.Failures + j.Errors).To(BeZero())
			Expect(j.Tests).To(Equal(len(r.Cases) * len(r.Cases[0].Invariants)))
		})

		It("says a merge of one shard is incomplete (exit 2), naming the missing cases", func() {
			out, _ := exits(sb(dir, "merge", "half", "s0"), 2, 30*time.Second)
			Expect(out).To(ContainSubstring("MISSING"))
			Expect(readReport(filepath.Join(dir, "half")).Missing).NotTo(BeEmpty())
		})

		It("catches the probe-unlink canary (exit 1), failing the invariant it broke in the scenario that broke it", func() {
			s := sb(dir, "conformance", "--size", "quick", "--quiet", "--impl", splitbrain+" peer --impl probe-unlink",
				"--case", "planted-files", "--out", "canary")
			out, _ := exits(s, 1, 2*time.Minute)
			// The replay line names the binary that ran, so that it works as printed.
			Expect(out).To(ContainSubstring("replay: " + splitbrain + " run --impl"))
			j := readJUnit(filepath.Join(dir, "canary", "junit.xml"))
			Expect(j.Suites).To(HaveLen(1))
			Expect(j.Suites[0].Name).To(Equal("conformance.planted-files"))
			var failed []string
			for _, c := range j.Suites[0].Cases {
				if c.Failure != nil {
					failed = append(failed, c.Name)
				}
			}
			Expect(failed).To(ContainElement("no-data-loss"))
		})

		It("refuses to merge folders of different implementations (exit 3)", func() {
			_, errOut := exits(sb(dir, "merge", "mixed", "s0", "canary"), 3, 30*time.Second)
			Expect(errOut).To(ContainSubstring("implementation"))
			Expect(errOut).To(ContainSubstring("merge only the shards of one conformance run"))
		})

		It("refuses to merge a shard with itself (exit 3)", func() {
			_, errOut := exits(sb(dir, "merge", "twice", "s0", "s0"), 3, 30*time.Second)
			Expect(errOut).To(ContainSubstring("given twice"))
		})

		It("names the file and the fix when a folder is hand-edited or cut off", func() {
			// A conformance results.json cut off: merge names it.
			Expect(os.WriteFile(filepath.Join(dir, "s1", "results.json"), []byte(`{"kind":"splitbrain-conformance","suite`), 0o644)).To(Succeed())
			_, errOut := exits(sb(dir, "merge", "broken", "s0", "s1"), 3, 30*time.Second)
			Expect(errOut).To(ContainSubstring(filepath.Join("s1", "results.json")))

			// A case folder whose history lost its end: check names the line.
			r := readReport(filepath.Join(dir, "s0"))
			caseDir := filepath.Join(dir, "s0", r.Cases[0].Dir)
			h := filepath.Join(caseDir, "history.jsonl")
			raw, err := os.ReadFile(h)
			Expect(err).NotTo(HaveOccurred())
			Expect(os.WriteFile(h, raw[:len(raw)-20], 0o644)).To(Succeed())
			_, errOut = exits(sb(dir, "check", caseDir), 3, 30*time.Second)
			Expect(errOut).To(MatchRegexp(`history.jsonl line \d+: bad history: the last line is cut off`))

			// A hand-edited record: check names the line and what is missing.
			lines := strings.SplitAfter(string(raw), "\n")
			lines[1] = `{"t":5,"kind":"observation"}` + "\n"
			Expect(os.WriteFile(h, []byte(strings.Join(lines, "")), 0o644)).To(Succeed())
			_, errOut = exits(sb(dir, "check", caseDir), 3, 30*time.Second)
			Expect(errOut).To(ContainSubstring(`history.jsonl line 2: bad history: observation record has no "snapshot" field`))

			// No history at all.
			Expect(os.Remove(h)).To(Succeed())
			_, errOut = exits(sb(dir, "check", caseDir), 3, 30*time.Second)
			Expect(errOut).To(ContainSubstring("has no history.jsonl"))
		})
	})
})
