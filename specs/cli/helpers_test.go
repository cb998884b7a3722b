package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/report"
	"github.com/splitbrain-dev/splitbrain/harness/timeline"
)

// short are run flags for a quick run of the reference peer: a few seconds of faults.
var short = []string{"--peers", "5", "--duration", "3s", "--settle", "1s", "--liveness", "3s", "--quiet"}

// reportFiles are the files every run writes into its result folder.
var reportFiles = []string{report.HistoryFile, report.ResultsFile, report.JUnitFile, timeline.File}

// start runs `splitbrain ARGS...` in dir (a fresh temp folder when ""), with output to the
// Ginkgo writer; a spec that ends early kills it.
func start(dir string, args ...string) *gexec.Session {
	GinkgoHelper()
	if dir == "" {
		dir = GinkgoT().TempDir()
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { stop(s) })
	return s
}

// stop ends a session that is still running the way a user would, with SIGTERM, so that it
// reaps its peers and removes its temporary folder; SIGKILL after 30s.
func stop(s *gexec.Session) {
	s.Terminate()
	select {
	case <-s.Exited:
	case <-time.After(30 * time.Second):
		s.Kill()
		<-s.Exited
	}
}

// runPeers returns `splitbrain run` args for impl (a `splitbrain peer` flag list, or ""
// for the reference peer) writing to out.
func runArgs(out string, impl string, extra ...string) []string {
	args := []string{"run", "--out", out, "--impl", bin + " peer" + impl}
	return append(args, extra...)
}

// results reads results.json of the result folder dir.
func results(dir string) report.Results {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join(dir, report.ResultsFile))
	Expect(err).NotTo(HaveOccurred())
	var r report.Results
	Expect(json.Unmarshal(b, &r)).To(Succeed())
	return r
}

// failed returns the names of the invariants results.json says failed.
func failed(r report.Results) []string {
	var out []string
	for _, inv := range r.Invariants {
		if inv.Verdict == check.Fail {
			out = append(out, inv.Name)
		}
	}
	return out
}

// firstViolation returns the earliest evidence time of any failed invariant.
func firstViolation(r report.Results) (time.Duration, bool) {
	var at time.Duration
	ok := false
	for _, inv := range r.Invariants {
		if inv.Verdict != check.Fail {
			continue
		}
		for _, e := range inv.Evidence {
			if !ok || e.T < at {
				at, ok = e.T, true
			}
		}
	}
	return at, ok
}

// expectReports checks that every report file is in dir.
func expectReports(dir string) {
	GinkgoHelper()
	for _, f := range reportFiles {
		Expect(filepath.Join(dir, f)).To(BeAnExistingFile())
	}
}

// startedPIDs returns the pid of every peer process the history says was started.
func startedPIDs(dir string) []int {
	GinkgoHelper()
	recs, err := history.ReadFile(filepath.Join(dir, report.HistoryFile))
	Expect(err).NotTo(HaveOccurred())
	var pids []int
	for _, r := range recs {
		if r.Kind == history.KindStart {
			pids = append(pids, r.PID)
		}
	}
	return pids
}

// running reports whether pid is a process that has not exited (a zombie has).
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) <= i+2 || s[i+2] != 'Z'
}

// historyHas reports whether dir's history.jsonl (as written so far) contains s.
func historyHas(dir, s string) func() bool {
	return func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, report.HistoryFile))
		return strings.Contains(string(b), s)
	}
}

// replayLine returns the command after "replay: " in out.
func replayLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		if r, ok := strings.CutPrefix(l, "replay: "); ok {
			return r
		}
	}
	return ""
}

// invariant returns the result of the invariant called name in r.
func invariant(r report.Results, name string) (check.Result, bool) {
	for _, inv := range r.Invariants {
		if inv.Name == name {
			return inv, true
		}
	}
	return check.Result{}, false
}
