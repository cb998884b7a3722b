package adapters_test

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
)

// runResults is the part of a run's results.json these specs read.
type runResults struct {
	Verdict    string `json:"verdict"`
	Invariants []struct {
		Name    string             `json:"name"`
		Verdict string             `json:"verdict"`
		Figures map[string]float64 `json:"figures"`
	} `json:"invariants"`
}

// verdicts maps each invariant of a result folder to its verdict.
func (r runResults) verdicts() map[string]string {
	m := map[string]string{}
	for _, inv := range r.Invariants {
		m[inv.Name] = inv.Verdict
	}
	return m
}

func (r runResults) figure(invariant, name string) float64 {
	for _, inv := range r.Invariants {
		if inv.Name == invariant {
			return inv.Figures[name]
		}
	}
	return 0
}

// run runs `splitbrain run` on impl with args and returns its exit code and results.json.
func run(impl string, args ...string) (int, runResults) {
	out := filepath.Join(GinkgoT().TempDir(), "results")
	cmd := exec.Command(splitbrain, append([]string{"run", "--impl", impl, "--quiet", "--out", out}, args...)...)
	session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { session.Interrupt().Wait(10 * time.Second) })
	Eventually(session, 2*time.Minute).Should(gexec.Exit(), "splitbrain run --impl %s", impl)
	var res runResults
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	Expect(err).NotTo(HaveOccurred(), "the run wrote no results.json")
	Expect(json.Unmarshal(b, &res)).To(Succeed())
	return session.ExitCode(), res
}

// example is the command line of an example peer: the interpreter and the script, quoted.
func example(interpreter, install, script string, args ...string) string {
	impl := need(interpreter, install) + " '" + filepath.Join(root, script) + "'"
	for _, a := range args {
		impl += " " + a
	}
	return impl
}

var _ = Describe("A peer adapter", Label("adapters"), func() {
	DescribeTable("turns a correct election into a white-box peer that the harness finds valid",
		func(interpreter, install, script string) {
			code, res := run(example(interpreter, install, script), "--peers", "5", "--duration", "15s")
			v := res.verdicts()
			Expect(code).To(Equal(0), "exit code; verdicts %v", v)
			By("judging it white-box: its events and its broadcasts, with leaders killed")
			Expect(v).To(HaveKeyWithValue("protocol", "pass"))
			Expect(v).To(HaveKeyWithValue("delivery", "pass"))
			Expect(res.figure("protocol", "events")).To(BeNumerically(">", 0))
			Expect(res.figure("liveness", "failovers")).To(BeNumerically(">=", 1), "no leader was ever replaced")
		},
		Entry("Node.js", "node", "apt-get install -y nodejs", "examples/adapters/node/example.js"),
		Entry("Python", "python3", "apt-get install -y python3", "examples/adapters/python/example.py"),
	)

	DescribeTable("passes an exploration that judges its broadcasts and its epochs",
		func(interpreter, install, script string) {
			// A fixed seed and a number of schedules, not a budget: the same schedules on a
			// loaded machine. Steps that only wait (pause, churn) are left out to keep it short.
			out := filepath.Join(GinkgoT().TempDir(), "x")
			cmd := exec.Command(splitbrain, "explore", "--impl", example(interpreter, install, script), "--seed", "1",
				"--schedules", "12", "--budget", "5m", "--quiet", "--out", out,
				"--leave-out", "stale,plant,pause,resume,churn,term,continue,run-to,free")
			session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(func() { session.Interrupt().Wait(10 * time.Second) })
			Eventually(session, 6*time.Minute).Should(gexec.Exit())
			Expect(session.ExitCode()).To(Equal(0), "a correct election broke an invariant")
			var doc struct {
				Exploration struct {
					Schedules int            `json:"schedules"`
					Judged    map[string]int `json:"judged"`
				} `json:"exploration"`
			}
			b, err := os.ReadFile(filepath.Join(out, "exploration.json"))
			Expect(err).NotTo(HaveOccurred())
			Expect(json.Unmarshal(b, &doc)).To(Succeed())
			Expect(doc.Exploration.Schedules).To(Equal(12))
			for _, n := range []string{"single-listener", "reachable-leader", "no-lost-peers", "delivery", "leadership"} {
				Expect(doc.Exploration.Judged).To(HaveKeyWithValue(n, BeNumerically(">", 0)), "%s was never judged", n)
			}
		},
		Entry("Node.js", "node", "apt-get install -y nodejs", "examples/adapters/node/example.js"),
		Entry("Python", "python3", "apt-get install -y python3", "examples/adapters/python/example.py"),
	)

	DescribeTable("lets the harness catch the same election without its lock (--broken: probe, then unlink)",
		func(interpreter, install, script string) {
			// The failpoint widens the race window the broken election has, so the harness
			// sees two listeners at the first leader kill rather than by luck.
			code, res := run(example(interpreter, install, script, "--broken"),
				"--peers", "5", "--duration", "15s", "--fail-fast",
				"--faults", "kill-leader,stale-socket", "--failpoints", "before-unlink=sleep(20ms)")
			v := res.verdicts()
			Expect(code).To(Equal(1), "exit code; verdicts %v", v)
			Expect([]string{v["single-listener"], v["reachable-leader"]}).To(ContainElement("fail"))
		},
		Entry("Node.js", "node", "apt-get install -y nodejs", "examples/adapters/node/example.js"),
		Entry("Python", "python3", "apt-get install -y python3", "examples/adapters/python/example.py"),
	)
})

// protocolPeer starts one example peer by itself, as the harness would, on a fresh address
// with SPLITBRAIN_FAILPOINTS set, and returns its session and its stdin.
func protocolPeer(interpreter, install, script, failpoints string) (*gexec.Session, io.WriteCloser) {
	dir, err := os.MkdirTemp("", "sb-adapter-") // short: a socket path has 107 bytes at most
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	cmd := exec.Command(need(interpreter, install), filepath.Join(root, script))
	cmd.Env = append(os.Environ(), "SPLITBRAIN_PROTOCOL=1", "SPLITBRAIN_TRANSPORT=unix",
		"SPLITBRAIN_ADDR="+filepath.Join(dir, "s.sock"), "SPLITBRAIN_PEER=p1", "SPLITBRAIN_FAILPOINTS="+failpoints)
	stdin, err := cmd.StdinPipe()
	Expect(err).NotTo(HaveOccurred())
	session, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { session.Kill().Wait(10 * time.Second) })
	return session, stdin
}

var _ = Describe("An adapter's protocol", func() {
	DescribeTable("pauses at a failpoint until `continue`, leads, answers a broadcast, and closes on `close`",
		func(interpreter, install, script string) {
			session, stdin := protocolPeer(interpreter, install, script, "before-listen=pause,after-lock=announce")
			Eventually(session, time.Minute).Should(gbytes.Say(`{"event": ?"ready"}`))
			Eventually(session, 30*time.Second).Should(gbytes.Say(`{"event": ?"failpoint", ?"name": ?"after-lock", ?"paused": ?false}`))
			Eventually(session).Should(gbytes.Say(`{"event": ?"failpoint", ?"name": ?"before-listen", ?"paused": ?true}`))
			Consistently(session.Out, 300*time.Millisecond).ShouldNot(gbytes.Say(`"leader"`), "it leads while paused")

			_, err := io.WriteString(stdin, `{"cmd":"continue","name":"before-listen"}`+"\n")
			Expect(err).NotTo(HaveOccurred())
			Eventually(session, 30*time.Second).Should(gbytes.Say(`{"event": ?"leader"}`))

			_, err = io.WriteString(stdin, `{"cmd":"broadcast","id":"b1","data":"hi"}`+"\n"+"garbage\n")
			Expect(err).NotTo(HaveOccurred())
			Eventually(session, 30*time.Second).Should(gbytes.Say(`{"event": ?"sent", ?"id": ?"b1"}`))
			Eventually(session, 30*time.Second).Should(gbytes.Say(`{"event": ?"error", ?"error": ?"stdin: not a JSON command`))

			_, err = io.WriteString(stdin, `{"cmd":"close"}`+"\n")
			Expect(err).NotTo(HaveOccurred())
			Eventually(session, 30*time.Second).Should(gbytes.Say(`{"event": ?"closed"}`))
			Eventually(session, 30*time.Second).Should(gexec.Exit(0))
		},
		Entry("Node.js", "node", "apt-get install -y nodejs", "examples/adapters/node/example.js"),
		Entry("Python", "python3", "apt-get install -y python3", "examples/adapters/python/example.py"),
	)
})
