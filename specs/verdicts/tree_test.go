package verdicts_test

import (
	"encoding/json"
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
		out := filepath.Join(GinkgoT().TempDir(), "out")
		cmd := exec.Command(bin, "run", "--out", out, "--quiet", "--impl", "python3 "+pyPeer+" --daemonize",
			"--peers", "3", "--duration", "4s", "--faults", "kill-leader")
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		Eventually(s).Should(gexec.Exit(1))

		b, err := os.ReadFile(filepath.Join(out, report.ResultsFile))
		Expect(err).NotTo(HaveOccurred())
		var r report.Results
		Expect(json.Unmarshal(b, &r)).To(Succeed())
		v, why := verdict(r, "no-unexpected-exits")
		Expect(v).To(Equal(check.Fail), why)
		Expect(why).To(ContainSubstring("daemonized"))

		By("ending every process of the peers' trees")
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
				Expect(string(cmdline)).NotTo(ContainSubstring("flock_peer.py"), "pid %d of %s is still running", rec.PID, rec.Peer)
			}
		}
		Expect(seen).To(BeNumerically(">", 3))
	})
})
