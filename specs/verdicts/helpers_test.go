package verdicts_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/report"
)

// needPython skips a spec on a machine without python3, saying so.
func needPython() {
	GinkgoHelper()
	if _, err := exec.LookPath("python3"); err != nil {
		Skip("python3 is not on PATH: .ci/run installs it")
	}
}

// needNode skips a spec on a machine without node, saying so.
func needNode() {
	GinkgoHelper()
	if _, err := exec.LookPath("node"); err != nil {
		Skip("node is not on PATH: .ci/run installs nodejs")
	}
}

// run runs `splitbrain run --out DIR --quiet ARGS...` to its end and returns its exit code
// and results.json.
func run(args ...string) (int, report.Results) {
	GinkgoHelper()
	code, r, _ := runOut(args...)
	return code, r
}

// runOut is run, and also returns the result folder.
func runOut(args ...string) (int, report.Results, string) {
	GinkgoHelper()
	out := filepath.Join(GinkgoT().TempDir(), "out")
	cmd := exec.Command(bin, append([]string{"run", "--out", out, "--quiet"}, args...)...)
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Terminate().Wait() })
	Eventually(s).Should(gexec.Exit())
	b, err := os.ReadFile(filepath.Join(out, report.ResultsFile))
	Expect(err).NotTo(HaveOccurred())
	var r report.Results
	Expect(json.Unmarshal(b, &r)).To(Succeed())
	return s.ExitCode(), r, out
}

// noneLeft expects that no process the run in out started, nor any descendant it recorded,
// still runs a command line containing marker (a pid reused since runs something else).
// It returns how many processes the history names.
func noneLeft(out, marker string) int {
	GinkgoHelper()
	h, err := history.ReadFile(filepath.Join(out, report.HistoryFile))
	Expect(err).NotTo(HaveOccurred())
	seen := 0
	for _, rec := range h {
		if rec.Kind != history.KindStart && rec.Kind != history.KindProcess {
			continue
		}
		seen++
		cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(rec.PID) + "/cmdline")
		if err == nil {
			Expect(string(cmdline)).NotTo(ContainSubstring(marker), "pid %d of %s is still running", rec.PID, rec.Peer)
		}
	}
	return seen
}

// verdicts says every invariant's verdict and summary, one a line, for failure messages.
func verdicts(r report.Results) string {
	var b strings.Builder
	for _, inv := range r.Invariants {
		fmt.Fprintf(&b, "%s: %s: %s\n", inv.Name, inv.Verdict, inv.Summary)
	}
	return b.String()
}

// verdict returns results.json's verdict on the invariant name, with its summary.
func verdict(r report.Results, name string) (check.Verdict, string) {
	for _, inv := range r.Invariants {
		if inv.Name == name {
			return inv.Verdict, inv.Summary
		}
	}
	return "", "no such invariant in results.json"
}

// figure returns results.json's figure name of the invariant inv (0 if absent).
func figure(r report.Results, inv, name string) float64 {
	for _, res := range r.Invariants {
		if res.Name == inv {
			return res.Figures[name]
		}
	}
	return 0
}

// evidence joins what every piece of evidence of the invariant inv says, one a line.
func evidence(r report.Results, inv string) string {
	var b strings.Builder
	for _, res := range r.Invariants {
		if res.Name == inv {
			for _, ev := range res.Evidence {
				b.WriteString(ev.What + "\n")
			}
		}
	}
	return b.String()
}
