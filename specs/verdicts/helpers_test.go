package verdicts_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/report"
)

// needPython skips a spec on a machine without python3, saying so.
func needPython() {
	GinkgoHelper()
	if _, err := exec.LookPath("python3"); err != nil {
		Skip("python3 is not on PATH: .ci/run installs it")
	}
}

// run runs `splitbrain run --out DIR --quiet ARGS...` to its end and returns its exit code
// and results.json.
func run(args ...string) (int, report.Results) {
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
	return s.ExitCode(), r
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
