package syscalls_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/chaos"
	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
)

// exploration is one finished `splitbrain explore` or `splitbrain replay`.
type exploration struct {
	code   int
	stderr string
	res    chaos.Result
	dir    string
}

// steps returns the numbered lines of the counterexample's story: the interleaving, without
// the verdict line (which names inodes and pids that differ from run to run).
func (x exploration) steps() []string {
	GinkgoHelper()
	Expect(x.res.Counterexample).NotTo(BeNil(), x.stderr)
	var out []string
	for _, l := range x.res.Counterexample.Story {
		if !strings.HasPrefix(strings.TrimSpace(l), "=>") {
			out = append(out, l)
		}
	}
	return out
}

// splitbrain runs `splitbrain CMD --out DIR ARGS...` with extra environment to its end and
// reads DIR/exploration.json.
func splitbrain(env []string, cmd string, args ...string) exploration {
	GinkgoHelper()
	dir := filepath.Join(GinkgoT().TempDir(), "out")
	c := exec.Command(bin, append([]string{cmd, "--out", dir}, args...)...)
	c.Env = append(os.Environ(), env...)
	s, err := gexec.Start(c, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { s.Terminate().Wait() })
	Eventually(s).Should(gexec.Exit())
	x := exploration{code: s.ExitCode(), stderr: string(s.Err.Contents()), dir: dir}
	if b, err := os.ReadFile(filepath.Join(dir, "exploration.json")); err == nil {
		var doc struct {
			Exploration chaos.Result `json:"exploration"`
		}
		Expect(json.Unmarshal(b, &doc)).To(Succeed())
		x.res = doc.Exploration
	}
	return x
}

// splitBrain hunts the split brain itself: the two invariants it breaks, no plants, and only
// steps that keep every race in the steering. A kill, a term or a churn leaves the free peers
// among the survivors to race by their own timing (a real bug too, which replays by chance);
// what these specs show is the interleaving of syscalls that replays exactly.
var splitBrain = []string{"--invariants", "single-listener,reachable-leader",
	"--leave-out", "plant,stale,churn,kill,term,pause,resume", "--quiet"}

// caughtAndReplayed expects an exploration that found a split brain, shrunk to at most 6
// steps told in syscalls, whose schedule.json replays the very same interleaving.
func caughtAndReplayed(x exploration, replays int) {
	GinkgoHelper()
	Expect(x.code).To(Equal(1), x.stderr)
	Expect(x.res.Mode).To(Equal(chaos.ModeSyscalls))
	Expect(x.res.Violation.Invariant).To(BeElementOf("single-listener", "reachable-leader"))
	Expect(x.res.Counterexample.Len()).To(BeNumerically("<=", 6), strings.Join(x.res.Counterexample.Story, "\n"))
	story := strings.Join(x.steps(), "\n")
	Expect(story).To(MatchRegexp(`listen \S+ -> ok`), "the story is told in syscalls")
	Expect(story).To(ContainSubstring(" holds at "))
	for i := 0; i < replays; i++ {
		By("replaying schedule.json: the same interleaving, the same violation")
		again := splitbrain(nil, "replay", filepath.Join(x.dir, "schedule.json"))
		Expect(again.code).To(Equal(1), again.stderr)
		Expect(again.res.Violation.Invariant).To(Equal(x.res.Violation.Invariant))
		Expect(again.steps()).To(Equal(x.steps()))
	}
}

var _ = Describe("steering at syscalls", Label("syscalls"), func() {
	It("steers a black-box Python probe-then-unlink peer into a split brain of at most 6 syscall steps within a 60 s search, and replays it exactly", func() {
		needPython()
		needSeccomp()
		naive, err := filepath.Abs(filepath.Join("..", "..", "peers", "python", "naive_peer.py"))
		Expect(err).NotTo(HaveOccurred())
		// No --mode: a black-box peer is steered at its syscalls wherever the kernel allows.
		x := splitbrain(nil, "explore", append([]string{"--impl", python + " " + naive, "--budget", "60s", "--seed", "1"}, splitBrain...)...)
		caughtAndReplayed(x, 3)
		Expect(x.res.Counterexample.Story).To(ContainElement(ContainSubstring("unlink election.sock -> ok")), "the unlink that orphans the first leader")
	})

	It("finds the Node probe-unlink canary with its failpoints off, unchanged", func() {
		needSeccomp()
		node, err := exec.LookPath("node")
		if err != nil {
			Skip("node is not on PATH: .ci/run installs it")
		}
		js, err := filepath.Abs(filepath.Join("..", "..", "examples", "adapters", "node-probe-unlink", "peer.js"))
		Expect(err).NotTo(HaveOccurred())
		x := splitbrain(nil, "explore", append([]string{"--impl", node + " " + js, "--mode", "syscalls",
			"--budget", "60s", "--seed", "1", "--shrink-time", "5s"}, splitBrain...)...)
		caughtAndReplayed(x, 1)
		Expect(strings.Join(x.steps(), "\n")).NotTo(ContainSubstring("pauses at"), "no failpoint was used")
	})

	// dual-stack is found the same way; its steered counterexample is replayed in CI with the
	// other regression schedules (chaos/testdata/schedules/dual-stack.syscalls.json).
	for _, c := range []string{"reuseport"} {
		It("finds the tcp canary "+c+" by steering, not by chance", func() {
			needSeccomp()
			x := splitbrain(nil, "explore", append([]string{"--impl", bin + " peer --impl " + c, "--mode", "syscalls",
				"--transport", "tcp", "--budget", "60s", "--seed", "1", "--shrink-time", "5s"}, splitBrain...)...)
			caughtAndReplayed(x, 1)
		})
	}

	It("never flags the reference, steered at its syscalls", func() {
		needSeccomp()
		x := splitbrain(nil, "explore", "--mode", "syscalls", "--budget", "15s", "--quiet")
		Expect(x.code).To(Equal(0), x.stderr)
		Expect(x.res.Mode).To(Equal(chaos.ModeSyscalls))
		// A quiet machine runs about 30 schedules and 60 leader kills in 10 s.
		Expect(x.res.Schedules).To(BeNumerically(">=", 3), "the budget bought schedules")
	})

	Context("where seccomp notification is unavailable (simulated: "+syscalls.EnvUnavailable+")", func() {
		hook := []string{syscalls.EnvUnavailable + "=simulated for the spec"}

		It("says so once and gives a black-box peer drawn timings instead", func() {
			needPython()
			naive, err := filepath.Abs(filepath.Join("..", "..", "peers", "python", "naive_peer.py"))
			Expect(err).NotTo(HaveOccurred())
			x := splitbrain(hook, "explore", "--impl", python+" "+naive, "--budget", "2s", "--quiet", "--shrink-time", "1s",
				"--invariants", "single-listener,reachable-leader", "--leave-out", "plant,stale,churn")
			Expect(x.code).To(BeElementOf(0, 1), x.stderr) // timing may or may not hit the race
			Expect(strings.Count(x.stderr, "seccomp user notification unavailable")).To(Equal(1), x.stderr)
			Expect(x.stderr).To(ContainSubstring("drawn fault timings"))
			Expect(x.res.Mode).To(Equal(chaos.ModeTiming))
		})

		It("refuses --mode syscalls with exit 3, naming why", func() {
			x := splitbrain(hook, "explore", "--mode", "syscalls", "--budget", "2s", "--quiet")
			Expect(x.code).To(Equal(3), x.stderr)
			Expect(x.stderr).To(ContainSubstring("simulated for the spec"))
		})
	})
})

var _ = Describe("steering at syscalls without root", Label("syscalls"), func() {
	It("works as uid 65534: the shim sets no_new_privs and the supervisor needs no privilege", func() {
		needPython()
		needSeccomp()
		if os.Geteuid() != 0 {
			Skip("the spec starts splitbrain as uid 65534, which needs root")
		}
		py := "/usr/bin/python3" // the system's: an interpreter under root's home is not uid 65534's
		if _, err := os.Stat(py); err != nil {
			Skip(py + " is missing: .ci/run installs it")
		}
		// A folder uid 65534 can read and write, with the binary and the peer in it.
		dir, err := os.MkdirTemp("", "sb-nobody-")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(os.RemoveAll, dir)
		Expect(os.Chmod(dir, 0o755)).To(Succeed())
		exe, naive := filepath.Join(dir, "splitbrain"), filepath.Join(dir, "naive_peer.py")
		for from, to := range map[string]string{bin: exe, filepath.Join("..", "..", "peers", "python", "naive_peer.py"): naive} {
			b, err := os.ReadFile(from)
			Expect(err).NotTo(HaveOccurred())
			Expect(os.WriteFile(to, b, 0o755)).To(Succeed())
		}
		out := filepath.Join(dir, "out")
		Expect(os.Mkdir(out, 0o755)).To(Succeed())
		Expect(os.Chown(out, 65534, 65534)).To(Succeed())

		cmd := exec.Command(exe, append([]string{"explore", "--out", filepath.Join(out, "x"), "--impl", py + " " + naive,
			"--budget", "60s", "--seed", "1", "--shrink-time", "2s"}, splitBrain...)...)
		cmd.Dir = out
		cmd.Env = append(os.Environ(), "HOME="+out, "TMPDIR="+out)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { s.Terminate().Wait() })
		Eventually(s).Should(gexec.Exit(1))
		b, err := os.ReadFile(filepath.Join(out, "x", "schedule.json"))
		Expect(err).NotTo(HaveOccurred())
		var sched chaos.Schedule
		Expect(json.Unmarshal(b, &sched)).To(Succeed())
		Expect(sched.Mode).To(Equal(chaos.ModeSyscalls), "steered at its syscalls, not timed")
		Expect(sched.Len()).To(BeNumerically("<=", 6))
		Expect(sched.Violation.Invariant).To(BeElementOf("single-listener", "reachable-leader"))
	})
})

var _ = Describe("run --faults hold-at-syscall", Label("syscalls"), func() {
	It("lets the others run ahead of a held peer, and so catches a black-box probe-then-unlink peer at its unlink", func() {
		needPython()
		needSeccomp()
		naive, err := filepath.Abs(filepath.Join("..", "..", "peers", "python", "naive_peer.py"))
		Expect(err).NotTo(HaveOccurred())
		// Staggered, the group elects without racing at its start: the race is the hold's.
		o := run(nil, "--impl", python+" "+naive+" --stagger 0.5", "--peers", "4", "--faults", "hold-at-syscall",
			"--syscalls", "on", "--duration", "30s", "--settle", "1s", "--fail-fast", "--seed", "1")
		Expect(o.code).To(Equal(1), o.stderr)
		var held []string
		for _, r := range o.records() {
			if r.Fault != nil && r.Fault.Name == "hold-at-syscall" && strings.HasPrefix(r.Fault.Detail, "held at ") {
				held = append(held, r.Fault.Detail)
			}
		}
		Expect(held).To(ContainElement(MatchRegexp(`held at p\d+ unlink\S* \S+ until p\d+ listened`)))
		Expect(o.results.Verdict).To(Equal(check.Fail))
	})
})
