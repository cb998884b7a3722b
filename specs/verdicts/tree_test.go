package verdicts_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"os/exec"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/report"
)

// Item A: a peer is its whole process tree.
var _ = Describe("a peer behind a wrapper, or one that daemonizes", func() {
	BeforeEach(needPython)

	for _, wrap := range []string{"sh -c 'python3 %s; true'", "timeout 60 python3 %s"} {
		It("is judged valid behind "+strings.Fields(wrap)[0], func() {
			// The first release attributed sockets to the direct child only: the wrapper
			// held none, and no-lost-peers was INCONCLUSIVE.
			impl := strings.Replace(wrap, "%s", pyPeer, 1)
			code, r := run("--impl", impl, "--peers", "4", "--duration", "6s", "--faults", "kill-leader,kill-follower")
			Expect(code).To(Equal(0), verdicts(r))
		})
	}

	It("names a peer that daemonizes, and leaves none of its processes behind", func() {
		// Each peer forks, exits 0, and its child calls setsid and forks the daemon. When
		// the harness's group kill at the peer's exit beats the child's setsid, no daemon
		// ever runs; that child outlived its peer all the same and must be named: before,
		// a run where every child lost that race had no daemon on record, no leader, and
		// was judged INCONCLUSIVE (exit 2), a CI flake under load.
		out := filepath.Join(GinkgoT().TempDir(), "out")
		cmd := exec.Command(bin, "run", "--out", out, "--quiet", "--impl", "python3 "+pyPeer+" --daemonize",
			"--peers", "3", "--duration", "4s", "--faults", "kill-leader")
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { s.Kill().Wait() })
		Eventually(s).Should(gexec.Exit(), "the run did not end")
		// The run's own words on failure: its summary (stdout) and its log (stderr).
		output := func() string {
			return fmt.Sprintf("stdout:\n%s\nstderr:\n%s", s.Out.Contents(), s.Err.Contents())
		}
		Expect(s.ExitCode()).To(Equal(1), output)

		b, err := os.ReadFile(filepath.Join(out, report.ResultsFile))
		Expect(err).NotTo(HaveOccurred())
		var r report.Results
		Expect(json.Unmarshal(b, &r)).To(Succeed())
		v, why := verdict(r, "no-unexpected-exits")
		Expect(v).To(Equal(check.Fail), why)

		By("naming every peer whose process exited on its own, as daemonized")
		h, err := history.ReadFile(filepath.Join(out, report.HistoryFile))
		Expect(err).NotTo(HaveOccurred())
		named, ownExits := map[string]bool{}, map[string]bool{}
		for _, rec := range h {
			switch {
			case rec.Kind == history.KindProcess && strings.HasPrefix(rec.Detail, "daemonized"):
				named[rec.Peer] = true
			case rec.Kind == history.KindExit && rec.Exit != nil && !rec.Exit.ByHarness:
				ownExits[rec.Peer] = true
			}
		}
		Expect(ownExits).NotTo(BeEmpty(), output)
		for peer := range ownExits {
			Expect(named).To(HaveKey(peer), "%s exited on its own and left a child, not named\n%s", peer, output())
		}

		By("ending every process of the peers' trees")
		seen := 0
		for _, rec := range h {
			if rec.Kind != history.KindStart && rec.Kind != history.KindProcess {
				continue
			}
			seen++
			cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(rec.PID) + "/cmdline")
			if err == nil {
				Expect(string(cmdline)).NotTo(ContainSubstring("flock_peer.py"), "pid %d of %s is still running", rec.PID, rec.Peer)
			}
		}
		Expect(seen).To(BeNumerically(">", 3))
	})
})
