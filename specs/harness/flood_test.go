package harness_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/report"
	"github.com/splitbrain-dev/splitbrain/internal/procmem"
)

// floodImpl is a peer that writes a 2 MB line with no newline, then floods stdout with
// "garbage" lines and stderr with "stderr-flood" lines, as fast as the harness reads them,
// until it is stopped. It never listens: no leader ever appears.
const floodImpl = `sh -c 'head -c 2000000 /dev/zero | tr "\000" x; echo; yes stderr-flood >&2 & exec yes garbage'`

// floodRun is what one `splitbrain run` of flooding peers came to.
type floodRun struct {
	dir     string
	vmHWM   int64 // the largest VmHWM read from /proc/PID/status while it ran, bytes
	maxRSS  int64 // ru_maxrss at exit (the process, or a reaped child if larger), bytes
	dropped int64 // stdout lines the harness read and dropped over its budget, all peers
	records []history.Record
}

var droppedRE = regexp.MustCompile(`: (\d+) lines dropped`)

// flood runs `splitbrain run` with peers flooding peers for about 2*liveness (the wait
// for a first leader), watching the harness's VmHWM all along.
func flood(peers int, liveness time.Duration) floodRun {
	GinkgoHelper()
	fr := floodRun{dir: filepath.Join(GinkgoT().TempDir(), "out")}
	cmd := exec.Command(splitbrainBin, "run", "--impl", floodImpl, "--peers", strconv.Itoa(peers),
		"--liveness", liveness.String(), "--settle", "1s", "--quiet", "--out", fr.dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Kill(); Eventually(s).Should(gexec.Exit()) })

	peak := procmem.WatchPeak(s.Command.Process.Pid, 2*time.Millisecond, s.Exited)
	// The run judges, writes its reports and exits 1: the protocol invariant fails.
	Eventually(s, 2*liveness+time.Minute).Should(gexec.Exit(check.ExitViolation))
	fr.vmHWM = peak()
	fr.maxRSS = s.Command.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10

	fr.records, err = report.Load(fr.dir)
	Expect(err).NotTo(HaveOccurred())
	for _, r := range fr.records {
		if m := droppedRE.FindStringSubmatch(r.Detail); r.Kind == history.KindProtocolError && m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			fr.dropped += n
		}
	}
	AddReportEntry(fmt.Sprintf("flood %d peers, liveness %v", peers, liveness), fmt.Sprintf(
		"VmHWM %d MiB, ru_maxrss %d MiB, %d lines (%d MiB) dropped over budget, %d records",
		fr.vmHWM>>20, fr.maxRSS>>20, fr.dropped, fr.dropped*8>>20, len(fr.records)))
	return fr
}

var _ = Describe("A peer that floods stdout and stderr with garbage", Label("flood"), func() {
	It("is a protocol error naming the peer and the line, and the harness's memory stays bounded", func() {
		short := flood(2, time.Second)

		By("naming each peer and quoting its line")
		var results report.Results
		data, err := os.ReadFile(filepath.Join(short.dir, report.ResultsFile))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Unmarshal(data, &results)).To(Succeed())
		var proto check.Result
		for _, inv := range results.Invariants {
			if inv.Name == "protocol" {
				proto = inv
			}
		}
		Expect(proto.Verdict).To(Equal(check.Fail))
		Expect(proto.Summary).To(MatchRegexp(`p[12] \(pid \d+\) wrote: protocol error`))
		Expect(proto.Evidence).NotTo(BeEmpty())

		starts := map[string]int{}
		garbage, long := map[string]bool{}, map[string]bool{}
		for _, r := range short.records {
			switch {
			case r.Kind == history.KindStart:
				starts[r.Peer] = r.PID
			case r.Kind == history.KindProtocolError && strings.Contains(r.Detail, `"garbage"`):
				Expect(r.PID).To(Equal(starts[r.Peer]), "the record names the peer's process")
				garbage[r.Peer] = true
			case r.Kind == history.KindProtocolError && strings.Contains(r.Detail, "line longer than 65536 bytes"):
				long[r.Peer] = true
			}
		}
		Expect(garbage).To(Equal(map[string]bool{"p1": true, "p2": true}))
		Expect(long).To(Equal(map[string]bool{"p1": true, "p2": true}), "a 2 MB line is one cut error")

		By("keeping at most its budgets of each peer's output")
		Expect(short.dropped).To(BeNumerically(">", 0), "the peers wrote past the 8 MiB stdout budget")
		for _, id := range []string{"p1", "p2"} {
			log, err := os.Stat(filepath.Join(short.dir, "logs", id+".stderr.log"))
			Expect(err).NotTo(HaveOccurred())
			Expect(log.Size()).To(BeNumerically("<=", 16<<20), "stderr log is capped at 16 MiB")
		}

		By("using no more memory when the flood runs three times longer")
		long3 := flood(2, 3*time.Second)
		// Larger, not three times larger: how much two `yes` processes write in a second
		// depends on what else the machine runs.
		Expect(long3.dropped).To(BeNumerically(">", short.dropped), "the longer flood was larger")
		Expect(long3.vmHWM).To(BeNumerically(">", 0))
		Expect(long3.vmHWM).To(BeNumerically("<", short.vmHWM*3/2+64<<20), "VmHWM grew with the flood")
		Expect(long3.maxRSS).To(BeNumerically("<", short.maxRSS*3/2+64<<20), "ru_maxrss grew with the flood")
		// An absolute bound too: 2 flooding peers cost well under 512 MiB.
		Expect(max(short.vmHWM, long3.vmHWM, short.maxRSS, long3.maxRSS)).To(BeNumerically("<", 512<<20))
	})
})
