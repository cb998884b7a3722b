package sbtest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/types"

	"github.com/splitbrain-dev/splitbrain/peers/canary"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
	"github.com/splitbrain-dev/splitbrain/peers/reference"
	"github.com/splitbrain-dev/splitbrain/sbtest"
	. "github.com/splitbrain-dev/splitbrain/sbtest/sbmatchers"
)

// The Go peers, registered at package level so that the re-executed binary has them.
var (
	referencePeer = sbtest.Peer("reference", func(ctx context.Context, p *peerio.Peer) error {
		if code := reference.Run(p, os.Stderr); code != reference.ExitOK {
			return fmt.Errorf("reference peer: exit %d", code)
		}
		return nil
	})
	probeUnlinkPeer = sbtest.Peer("probe-unlink", func(ctx context.Context, p *peerio.Peer) error {
		return canary.Run("probe-unlink", p)
	})
)

// failovers are the faults of the run that must pass: every default one (nil).
var failovers []string

// The matchers are Gomega matchers by their method set alone.
var _ types.GomegaMatcher = Pass()

var _ = Describe("A Go function run as a peer", func() {
	It("is the reference peer, judged white-box by the CLI's judge, and passes", func(ctx SpecContext) {
		res, err := sbtest.Run(ctx, sbtest.RunConfig{Peer: referencePeer, Peers: 5, Duration: 8 * time.Second,
			Faults: failovers, Out: filepath.Join(GinkgoT().TempDir(), "run")})
		Expect(err).NotTo(HaveOccurred())
		Expect(res).To(Pass())
		Expect(res.ExitCode).To(Equal(0))
		Expect(res).To(HoldInvariant("single-listener"))
		Expect(res).To(HoldInvariant("reachable-leader"))
		By("judging its events: leadership and delivery were judged, not skipped")
		Expect(res).To(HoldInvariant("leadership"))
		Expect(res).To(HoldInvariant("delivery"))
		liveness, _ := res.Invariant("liveness")
		Expect(liveness.Figures).To(HaveKeyWithValue("failovers", BeNumerically(">=", 1)), "no leader was replaced")

		By("writing the CLI's result folder, which splitbrain check judges the same")
		for _, f := range []string{"history.jsonl", "results.json", "junit.xml", "timeline.html"} {
			Expect(filepath.Join(res.Dir, f)).To(BeAnExistingFile())
		}
		Expect(res.Replay).To(ContainSubstring("-sbtest.peer=reference"))
		Expect(res.Replay).To(ContainSubstring(fmt.Sprintf("--seed %d", res.Seed)))

		By("saying so when a matcher expects otherwise")
		m := FailInvariant("single-listener")
		Expect(m.Match(res)).To(BeFalse())
		Expect(m.FailureMessage(res)).To(And(
			ContainSubstring("Expected the splitbrain run to fail invariant single-listener, but single-listener is pass"),
			ContainSubstring("PASS: "), ContainSubstring("invariants hold"), ContainSubstring(res.Dir)))
		_, err = HoldInvariant("split-brain").Match(res)
		Expect(err).To(MatchError(ContainSubstring("no invariant \"split-brain\": choose from single-listener, reachable-leader")))
	})

	It("is a canary, and the judge catches it, saying where and how to replay it", func(ctx SpecContext) {
		res, err := sbtest.Run(ctx, sbtest.RunConfig{Peer: probeUnlinkPeer, Peers: 8, Duration: 30 * time.Second,
			Faults: []string{"kill-leader", "stale-socket", "storm"}, FailFast: true,
			Out: filepath.Join(GinkgoT().TempDir(), "run")})
		Expect(err).NotTo(HaveOccurred())
		Expect(res).NotTo(Pass())
		Expect(res).To(HaveVerdict(sbtest.Fail))
		Expect(res.ExitCode).To(Equal(1))
		Expect(res).To(Or(FailInvariant("single-listener"), FailInvariant("reachable-leader")))
		Expect(errors.Is(res.Err(), sbtest.ErrViolation)).To(BeTrue())

		m := Pass()
		Expect(m.Match(res)).To(BeFalse())
		msg := m.FailureMessage(res)
		Expect(msg).To(ContainSubstring("Expected the splitbrain run to pass, but its verdict is fail."))
		Expect(msg).To(MatchRegexp(`FAIL +(single-listener|reachable-leader) `), "the verdict table")
		Expect(msg).To(ContainSubstring("replay: splitbrain run --impl"))
		Expect(msg).To(ContainSubstring("results in " + res.Dir))
		inv, _ := res.Invariant("reachable-leader")
		if inv.Verdict == sbtest.Fail {
			Expect(inv.Evidence).NotTo(BeEmpty())
			Expect(inv.Evidence[0]).To(MatchRegexp(`^at \d+\.\d{3}s: `))
		}
	})

	It("that TestMain cannot dispatch is refused before the run, saying why", func(ctx SpecContext) {
		// Registered after TestMain: the re-executed binary does not have it.
		late := sbtest.Peer("registered-late", func(context.Context, *peerio.Peer) error { return nil })
		res, err := sbtest.Run(ctx, sbtest.RunConfig{Peer: late, Out: GinkgoT().TempDir()})
		Expect(res).To(BeNil())
		Expect(err).To(MatchError(sbtest.ErrNoMain))
		Expect(err).To(MatchError(ContainSubstring(`no go peer "registered-late" is registered in this test binary`)))
	})
})

var _ = Describe("A test binary whose TestMain does not call sbtest.Main", func() {
	It("stops at the peer argument, so that no peer runs the tests again, and the test says to call Main", func(ctx SpecContext) {
		cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "./testdata/nomain")
		out, err := cmd.CombinedOutput()
		Expect(err).To(HaveOccurred(), "%s", out)
		Expect(string(out)).To(ContainSubstring("go peer forgotten: the test binary does not run this Go peer: its TestMain must call sbtest.Main(m)"))
		Expect(string(out)).To(ContainSubstring("--- FAIL: TestForgottenMain"))
	})
})

var _ = Describe("A plan", func() {
	It("is refused, naming the field and the fix, when it cannot run", func(ctx SpecContext) {
		_, err := sbtest.Run(ctx, sbtest.RunConfig{})
		Expect(err).To(MatchError(sbtest.ErrConfig))
		Expect(err).To(MatchError(ContainSubstring("no peer: set Peer")))
		_, err = sbtest.Run(ctx, sbtest.RunConfig{Peer: referencePeer, Faults: []string{"kill-everyone"}})
		Expect(err).To(MatchError(sbtest.ErrConfig))
		_, err = sbtest.Run(ctx, sbtest.Conformance{Peer: referencePeer, Shard: "4/4"})
		Expect(err).To(MatchError(sbtest.ErrConfig))
	})
})

var _ = Describe("The conformance suite", func() {
	It("runs against a command line and gives a case per scenario, with the worst verdict per invariant", func(ctx SpecContext) {
		res, err := sbtest.Run(ctx, sbtest.Conformance{
			Peer: sbtest.Command(splitbrain + " peer"), Size: sbtest.SizeQuick,
			Cases: []string{"leader-kills", "graceful-stops"}, Out: filepath.Join(GinkgoT().TempDir(), "conf"),
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(res).To(Pass())
		Expect(res.Cases).To(HaveLen(2))
		for _, c := range res.Cases {
			Expect(c.Verdict).To(Equal(sbtest.Pass), c.Name)
			Expect(filepath.Join(c.Dir, "results.json")).To(BeAnExistingFile())
			Expect(c.Replay).To(HavePrefix("splitbrain run --impl"))
		}
		Expect(res).To(HoldInvariant("single-listener"))
		Expect(filepath.Join(res.Dir, "junit.xml")).To(BeAnExistingFile())
		Expect(strings.Fields(res.Replay)[:2]).To(Equal([]string{"splitbrain", "conformance"}))
	})
})
