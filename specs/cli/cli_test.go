package cli_test

import (
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/check"
)

var _ = Describe("splitbrain run", func() {
	It("exits 0 for the reference peer, writes every report, and check DIR agrees", func() {
		out := filepath.Join(GinkgoT().TempDir(), "res")
		s := start("", runArgs(out, "", short...)...)
		Eventually(s).Should(gexec.Exit(check.ExitValid))
		Expect(s.Out).To(gbytes.Say(`PASS`))
		Expect(string(s.Out.Contents())).To(ContainSubstring(filepath.Join(out, "timeline.html")))
		expectReports(out)
		r := results(out)
		Expect(r.Verdict).To(Equal(check.Pass))

		c := start("", "check", out)
		Eventually(c).Should(gexec.Exit(check.ExitValid))
		Expect(results(out).Verdict).To(Equal(check.Pass))
	})

	It("judges real broadcast traffic: delivery passes with recipients to check", func() {
		// Only starts as faults: the leader stays, so every broadcast has followers that
		// must receive it, whatever the seed.
		out := filepath.Join(GinkgoT().TempDir(), "res")
		s := start("", runArgs(out, "", "--peers", "5", "--duration", "3s", "--settle", "1s",
			"--liveness", "3s", "--faults", "start", "--broadcasts", "20", "--quiet")...)
		Eventually(s).Should(gexec.Exit(check.ExitValid))
		delivery, ok := invariant(results(out), "delivery")
		Expect(ok).To(BeTrue())
		Expect(delivery.Verdict).To(Equal(check.Pass), delivery.Summary)
		Expect(delivery.Figures["broadcasts"]).To(BeNumerically(">", 0))
		Expect(delivery.Figures["deliveries_required"]).To(BeNumerically(">", 0))
	})

	Describe("a peer that never leads is inconclusive (exit 2)", func() {
		It("when it runs but never listens", func() {
			out := filepath.Join(GinkgoT().TempDir(), "res")
			s := start("", "run", "--out", out, "--impl", "sleep 1000", "--peers", "3", "--liveness", "1s", "--quiet")
			Eventually(s).Should(gexec.Exit(check.ExitInconclusive))
			Expect(s.Out).To(gbytes.Say(`INCONCLUSIVE`))
			Expect(s.Out).To(gbytes.Say(`no leader ever appeared`))
			expectReports(out)
			pids := startedPIDs(out)
			Expect(pids).To(HaveLen(3))
			for _, pid := range pids {
				Expect(running(pid)).To(BeFalse(), "pid %d", pid)
			}
		})

		It("when it exits at once, showing the last lines of its stderr", func() {
			out := filepath.Join(GinkgoT().TempDir(), "res")
			s := start("", "run", "--out", out, "--impl", "sh -c 'echo cannot open config >&2; exit 4'", "--quiet")
			Eventually(s, 20*time.Second).Should(gexec.Exit(check.ExitInconclusive))
			Expect(s.Out).To(gbytes.Say(`all 10 peers exited on their own`))
			Expect(s.Out).To(gbytes.Say(`exited with status 4; stderr ends: "cannot open config"`))
			expectReports(out)
		})

		It("when it exits 0 at once, hinting that it may daemonize", func() {
			out := filepath.Join(GinkgoT().TempDir(), "res")
			s := start("", "run", "--out", out, "--impl", "sh -c 'exit 0'", "--peers", "3", "--quiet")
			Eventually(s, 20*time.Second).Should(gexec.Exit(check.ExitInconclusive))
			Expect(s.Out).To(gbytes.Say(`exited with status 0 within 2s of starting: a peer must stay in the foreground`))
		})
	})

	DescribeTable("misuse is a harness error (exit 3) that names the fix",
		func(want string, args ...string) {
			s := start("", args...)
			Eventually(s).Should(gexec.Exit(3))
			Expect(string(s.Err.Contents()) + string(s.Out.Contents())).To(ContainSubstring(want))
		},
		Entry("no command", "usage: splitbrain COMMAND"),
		Entry("an unknown command", `unknown command "runn"`, "runn"),
		Entry("a bad flag", "flag provided but not defined: -nope", "run", "--nope"),
		Entry("a bad transport", `--transport "udp": use unix or tcp`, "run", "--transport", "udp"),
		Entry("a seed that is not a number", "is not an integer", "run", "--seed", "x"),
		Entry("a stray argument", "quote the peer command as one --impl value", "run", "node", "peer.js"),
		Entry("check without a folder", "want exactly one result folder", "check"),
		Entry("check of a folder that is not there", "does not exist", "check", "/nonexistent-splitbrain-results"),
		Entry("no peers", "--peers 0: use 1 or more", "run", "--peers", "0"),
		Entry("more peers than the machine allows", "use fewer --peers, or --force to run anyway", "run", "--peers", "1000000"),
		Entry("a confidence rate that is not a rate", "--until-confidence 2: give a rate between 0 and 1", "run", "--until-confidence", "2"),
	)

	It("says where the results go only once the configuration is valid", func() {
		s := start("", "run", "--peers", "0", "--out", "nowhere")
		Eventually(s).Should(gexec.Exit(3))
		Expect(string(s.Err.Contents()) + string(s.Out.Contents())).NotTo(ContainSubstring("results in"))
	})

	It("exits 3 for a missing peer command, and still writes the reports", func() {
		out := filepath.Join(GinkgoT().TempDir(), "res")
		s := start("", "run", "--out", out, "--impl", "/nonexistent/splitbrain-peer", "--quiet")
		Eventually(s).Should(gexec.Exit(3))
		Expect(s.Err).To(gbytes.Say(`/nonexistent/splitbrain-peer.*check --impl`))
		expectReports(out)
	})
})

// canary is one deliberately broken peer and what must catch it.
type canary struct {
	name, transport string
	seed            string
	// duration is the fault phase: the tcp canaries need two peers to race between a
	// refused connect and their listen after a leader dies, which took 0.1s to 8.5s in
	// trials (and once more than 30s on a loaded machine), so they get longer; every canary
	// runs with --fail-fast, so a catch ends the fault phase at once.
	duration string
	// oneOf are invariants of which at least one must fail.
	oneOf []string
}

// unixCatch are the invariants that catch a unix canary: two listeners, an orphaned one, or
// (the same unlink bug, aimed at a planted file) another user's file removed.
var unixCatch = []string{"single-listener", "reachable-leader", "no-data-loss"}

var canaries = []canary{
	{name: "probe-unlink", transport: "unix", seed: "11", duration: "10s", oneOf: unixCatch},
	{name: "no-lock", transport: "unix", seed: "12", duration: "10s", oneOf: unixCatch},
	{name: "unlink-on-close", transport: "unix", seed: "13", duration: "10s", oneOf: unixCatch},
	{name: "lockfile-deleted", transport: "unix", seed: "14", duration: "10s", oneOf: unixCatch},
	{name: "reuseport", transport: "tcp", seed: "15", duration: "60s", oneOf: []string{"single-listener"}},
	{name: "dual-stack", transport: "tcp", seed: "16", duration: "60s", oneOf: []string{"single-listener"}},
}

var _ = Describe("canaries at the default faults", Ordered, ContinueOnFailure, Label("slow"), func() {
	// All six run at once, each in its own result folder on its own address: they share
	// nothing but the machine, and together take about as long as one.
	sessions := map[string]*gexec.Session{}
	dirs := map[string]string{}
	BeforeAll(func() {
		for _, c := range canaries {
			dirs[c.name] = filepath.Join(GinkgoT().TempDir(), c.name)
			sessions[c.name] = start("", runArgs(dirs[c.name], " --impl "+c.name,
				"--transport", c.transport, "--duration", c.duration, "--peers", "8", "--seed", c.seed, "--fail-fast", "--quiet")...)
		}
	})

	for _, c := range canaries {
		It("catches "+c.name+" (exit 1) within 60s, naming the invariant", func() {
			s := sessions[c.name]
			Eventually(s, 3*time.Minute).Should(gexec.Exit(check.ExitViolation))
			dir := dirs[c.name]
			expectReports(dir)
			r := results(dir)
			Expect(r.Verdict).To(Equal(check.Fail))
			Expect(failed(r)).To(ContainElement(BeElementOf(c.oneOf)), "failed: %v", failed(r))
			at, ok := firstViolation(r)
			Expect(ok).To(BeTrue())
			Expect(at).To(BeNumerically("<=", 60*time.Second))
			Expect(string(s.Out.Contents())).To(ContainSubstring("first violation at"))
			Expect(replayLine(string(s.Out.Contents()))).To(ContainSubstring("--seed " + c.seed))
		})
	}

	It("re-judges a canary's folder to the same verdict with splitbrain check", func() {
		dir := dirs["probe-unlink"]
		Eventually(sessions["probe-unlink"], 3*time.Minute).Should(gexec.Exit())
		before := failed(results(dir))
		c := start("", "check", dir)
		Eventually(c).Should(gexec.Exit(check.ExitViolation))
		Expect(failed(results(dir))).To(Equal(before))
		Expect(filepath.Join(dir, "timeline.html")).To(BeAnExistingFile())
	})

	It("prints a replay command that reproduces a violation", func() {
		s := sessions["probe-unlink"]
		Eventually(s, 3*time.Minute).Should(gexec.Exit())
		replay := replayLine(string(s.Out.Contents()))
		// It names the binary that ran (make build puts it on no PATH), and works as
		// printed, in a fresh folder: the results go to its default ./splitbrain-results/...
		Expect(replay).To(HavePrefix(bin + " run "))
		cwd := GinkgoT().TempDir()
		cmd := exec.Command("sh", "-c", replay+" --quiet")
		cmd.Dir = cwd
		r, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { stop(r) })
		Eventually(r, 3*time.Minute).Should(gexec.Exit(check.ExitViolation))
		found, _ := filepath.Glob(filepath.Join(cwd, "splitbrain-results", "*", "results.json"))
		Expect(found).To(HaveLen(1))
	})
})

var _ = Describe("--fail-fast", Label("slow"), func() {
	It("ends a long run at the first violation, then judges and reports it", func() {
		out := filepath.Join(GinkgoT().TempDir(), "res")
		began := time.Now()
		s := start("", runArgs(out, " --impl probe-unlink", "--duration", "5m", "--fail-fast", "--seed", "21", "--quiet")...)
		Eventually(s, 2*time.Minute).Should(gexec.Exit(check.ExitViolation))
		Expect(time.Since(began)).To(BeNumerically("<", 90*time.Second))
		Expect(s.Out).To(gbytes.Say(`first violation at`))
		expectReports(out)
		Expect(replayLine(string(s.Out.Contents()))).To(ContainSubstring("--fail-fast"))
	})
})

var _ = Describe("an interrupted run", Label("slow"), func() {
	It("of 300 peers, after 20s, ends within 15s with its reports written and nothing left", func() {
		out := filepath.Join(GinkgoT().TempDir(), "res")
		began := time.Now()
		s := start("", runArgs(out, "", "--duration", "5m", "--peers", "300", "--quiet")...)
		Eventually(historyHas(out, `"detail":"faults"`), 2*time.Minute).Should(BeTrue())
		Eventually(func() time.Duration { return time.Since(began) }, time.Minute).Should(BeNumerically(">=", 20*time.Second))
		s.Signal(syscall.SIGINT)
		Eventually(s, 15*time.Second).Should(gexec.Exit(128 + int(syscall.SIGINT)))
		expectReports(out)
		r := results(out)
		Expect(r.Exercised.Rounds).To(BeNumerically(">", 0))
		pids := startedPIDs(out)
		Expect(len(pids)).To(BeNumerically(">=", 300))
		for _, pid := range pids {
			Expect(running(pid)).To(BeFalse(), "peer pid %d outlived the run", pid)
		}
		Expect(filepath.Dir(r.Run.Addr)).NotTo(BeADirectory())
	})

	DescribeTable("stops every peer, writes the reports and exits 128+signal",
		func(sig syscall.Signal) {
			out := filepath.Join(GinkgoT().TempDir(), "res")
			s := start("", runArgs(out, "", "--duration", "2m", "--peers", "6", "--quiet")...)
			Eventually(historyHas(out, `"detail":"faults"`)).Should(BeTrue())
			Eventually(historyHas(out, `"cmd":"broadcast"`)).Should(BeTrue())
			s.Signal(sig)
			Eventually(s, 30*time.Second).Should(gexec.Exit(128 + int(sig)))
			Expect(s.Out).To(gbytes.Say(`interrupted by`))
			expectReports(out)
			pids := startedPIDs(out)
			Expect(len(pids)).To(BeNumerically(">=", 6))
			for _, pid := range pids {
				Expect(running(pid)).To(BeFalse(), "peer pid %d outlived the run", pid)
			}
			By("removing the temporary socket folder")
			r := results(out)
			Expect(r.Run).NotTo(BeNil())
			Expect(filepath.Dir(r.Run.Addr)).NotTo(BeADirectory())
		},
		Entry("SIGTERM", syscall.SIGTERM),
		Entry("SIGINT", syscall.SIGINT),
	)
})
