package chaos_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/chaos"
	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/report"
	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
	"github.com/splitbrain-dev/splitbrain/peers/canary"
)

// canaryBudget is the search budget per canary; shrinking gets shrinkBudget on top.
const (
	canaryBudget = 2 * time.Minute
	shrinkBudget = 30 * time.Second
)

var _ = Describe("Exploration", Label("chaos"), func() {
	for _, c := range canary.All() {
		It("catches the "+c.Name+" canary with a shrunk counterexample of at most 6 steps that replays", func(ctx SpecContext) {
			out := GinkgoT().TempDir()
			// Churn steps are left out: their rounds are races of free peers, so a canary
			// first caught in one (reuseport's two listeners after a leader kill) may not
			// replay every time; these specs are about short steered counterexamples.
			res, err := chaos.Explore(ctx, chaos.Config{
				Impl: peerCmd + " --impl " + c.Name, Transport: c.Transport,
				Budget: canaryBudget, ShrinkTime: shrinkBudget, Out: out, LeaveOut: []string{"churn"},
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Found()).To(BeTrue(), "no violation in %d schedules (%v, seed %d)", res.Schedules, res.Search, res.Seed)
			Expect(res.Search).To(BeNumerically("<", canaryBudget))
			Expect(res.Counterexample.Len()).To(BeNumerically("<=", 6), res.Counterexample.StoryText())
			Expect(res.Reproduced).To(BeTrue(), "the shrunk schedule did not replay:\n%s", res.Counterexample.StoryText())
			GinkgoWriter.Printf("%s: %v after %v (%d schedules), %d steps, seed %d:\n%s\n", c.Name, res.Violation.Invariant,
				res.Search.Round(time.Millisecond), res.Schedules, res.Counterexample.Len(), res.FailingSeed, res.Counterexample.StoryText())

			By("replaying the saved schedule.json the same way")
			// A steered interleaving replays every time; a race between free peers that
			// a schedule starts together may need another try, as Explore's own check.
			var again chaos.Result
			for try := 0; try < 3 && !again.Reproduced; try++ {
				again, err = chaos.Replay(ctx, filepath.Join(out, "schedule.json"), chaos.Config{Impl: peerCmd + " --impl " + c.Name})
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(again.Reproduced).To(BeTrue(), again.Counterexample.StoryText())
			Expect(filepath.Join(out, "history.jsonl")).To(BeAnExistingFile())
			Expect(filepath.Join(out, "results.json")).To(BeAnExistingFile())
		}, SpecTimeout(canaryBudget+shrinkBudget+time.Minute))
	}

	// The deep variants: bugs that need a follower to lose several leaders, or a leader to
	// welcome many joins, which only churn steps reach within a short schedule. A schedule
	// that loses a peer waits out the settle time (twice: the churn, then the last settle),
	// and shrinking replays it again and again, so these specs give the group 1 s to settle
	// instead of 5 s and rapid 10 s to shrink: the search is the same, CI waits less.
	// The white-box variants elect correctly and lie to their user: only broadcast steps
	// (delivery) and the epochs of the leader claims (leadership) show them, in short
	// schedules that shrink within 5 s.
	for _, v := range []struct {
		name, invariant string
		shrink          time.Duration
	}{
		{"give-up-3", check.NoLostPeers{}.Name(), 10 * time.Second},
		{"turn-away-16", check.NoUnexpectedExits{}.Name(), 10 * time.Second},
		{"deaf-leader", check.Delivery{}.Name(), 5 * time.Second},
		{"deaf-follower", check.Delivery{}.Name(), 5 * time.Second},
		{"epoch-one", check.Leadership{}.Name(), 5 * time.Second},
	} {
		It("catches the "+v.name+" reference variant ("+v.invariant+") with a counterexample that replays", func(ctx SpecContext) {
			out := GinkgoT().TempDir()
			impl := peerCmd + " --impl " + v.name
			res, err := chaos.Explore(ctx, chaos.Config{Impl: impl, Budget: canaryBudget, ShrinkTime: v.shrink,
				Settle: time.Second, Out: out})
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Found()).To(BeTrue(), "no violation in %d schedules (%v, seed %d)", res.Schedules, res.Search, res.Seed)
			Expect(res.Search).To(BeNumerically("<", canaryBudget))
			Expect(res.Violation.Invariant).To(Equal(v.invariant), res.Counterexample.StoryText())
			Expect(res.Reproduced).To(BeTrue(), "the shrunk schedule did not replay:\n%s", res.Counterexample.StoryText())
			GinkgoWriter.Printf("%s: %v after %v (%d schedules), %d steps, seed %d:\n%s\n", v.name, res.Violation.Invariant,
				res.Search.Round(time.Millisecond), res.Schedules, res.Counterexample.Len(), res.FailingSeed, res.Counterexample.StoryText())
			var again chaos.Result
			for try := 0; try < 3 && !again.Reproduced; try++ {
				again, err = chaos.Replay(ctx, filepath.Join(out, "schedule.json"), chaos.Config{Impl: impl, Settle: time.Second})
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(again.Reproduced).To(BeTrue(), again.Counterexample.StoryText())
		}, SpecTimeout(canaryBudget+shrinkBudget+2*time.Minute))
	}

	for _, tr := range []string{"unix", "tcp"} {
		It("finds nothing wrong with the reference implementation over "+tr, func(ctx SpecContext) {
			res, err := chaos.Explore(ctx, chaos.Config{Impl: peerCmd, Transport: tr, Budget: 20 * time.Second})
			Expect(err).NotTo(HaveOccurred())
			if res.Found() {
				Fail("the reference broke " + res.Violation.Error() + ":\n" + res.Counterexample.StoryText())
			}
			Expect(res.Mode).To(Equal(chaos.ModeSteered))
			Expect(res.Schedules).To(BeNumerically(">=", 10))
			Expect(res.LeaderKills).To(BeNumerically(">", 0))
			// A pass is earned: the invariants every group gives something to judge were
			// judged (delivery and leadership, which need broadcasts and failovers, below).
			for _, n := range []string{check.SingleListener{}.Name(), check.ReachableLeader{}.Name(), check.NoUnexpectedExits{}.Name()} {
				Expect(res.Judged).To(HaveKeyWithValue(n, BeNumerically(">", 0)), "%s was never judged", n)
			}
			GinkgoWriter.Printf("reference/%s: %d schedules in %v (%.0f/min), %d leader kills survived, judged %v\n", tr,
				res.Schedules, res.Elapsed.Round(time.Millisecond), float64(res.Schedules)/res.Elapsed.Minutes(), res.LeaderKills, res.Judged)
		}, SpecTimeout(2*time.Minute))
	}

	It("judges delivery and leadership on the reference: broadcasts to its groups, and epochs across leader kills", func(ctx SpecContext) {
		// A fixed seed and a number of schedules, not a budget: the same schedules on a
		// loaded machine.
		res, err := chaos.Explore(ctx, chaos.Config{Impl: peerCmd, Seed: 1, MaxSchedules: 12, Budget: 5 * time.Minute,
			LeaveOut: []string{"stale", "plant", "pause", "resume", "churn", "term", "continue", "run-to", "free"}})
		Expect(err).NotTo(HaveOccurred())
		if res.Found() {
			Fail("the reference broke " + res.Violation.Error() + ":\n" + res.Counterexample.StoryText())
		}
		Expect(res.Schedules).To(Equal(12))
		for _, n := range []string{check.Delivery{}.Name(), check.Leadership{}.Name()} {
			Expect(res.Judged).To(HaveKeyWithValue(n, BeNumerically(">", 0)), "%s was never judged", n)
		}
		GinkgoWriter.Printf("reference: judged %v in %d schedules\n", res.Judged, res.Schedules)
	}, SpecTimeout(6*time.Minute))

	It("replays a committed counterexample exactly, and the reference passes it", func(ctx SpecContext) {
		file := filepath.Join("..", "..", "chaos", "testdata", "schedules", "probe-unlink.json")
		Expect(file).To(BeAnExistingFile())
		res, err := chaos.Replay(ctx, file, chaos.Config{Impl: peerCmd + " --impl probe-unlink"})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Reproduced).To(BeTrue())
		ref, err := chaos.Replay(ctx, file, chaos.Config{Impl: peerCmd})
		Expect(err).NotTo(HaveOccurred())
		Expect(ref.Violation).To(BeNil())
	})

	It("gives the verdict its result folder gives, on every committed counterexample and on the reference", func(ctx SpecContext) {
		files, err := filepath.Glob(filepath.Join("..", "..", "chaos", "testdata", "schedules", "*.json"))
		Expect(err).NotTo(HaveOccurred())
		Expect(files).NotTo(BeEmpty())
		for _, file := range files {
			name := strings.TrimSuffix(filepath.Base(file), ".json")
			canary, mode, _ := strings.Cut(name, ".") // CANARY.json, or CANARY.MODE.json
			if mode == chaos.ModeSyscalls {
				if self, _ := os.Executable(); syscalls.Available(self) != nil {
					By(name + ": skipped, seccomp user notification is unavailable here")
					continue
				}
			}
			for _, impl := range []string{peerCmd + " --impl " + canary, peerCmd} {
				By(name + " replayed with " + impl)
				out := GinkgoT().TempDir()
				res, err := chaos.Replay(ctx, file, chaos.Config{Impl: impl, Out: out})
				Expect(err).NotTo(HaveOccurred())

				failed := func(parts []check.Result) []string {
					var names []string
					for _, p := range parts {
						if p.Verdict == check.Fail {
							names = append(names, p.Name)
						}
					}
					return names
				}
				var results report.Results
				b, err := os.ReadFile(filepath.Join(out, report.ResultsFile))
				Expect(err).NotTo(HaveOccurred())
				Expect(json.Unmarshal(b, &results)).To(Succeed())
				recs, err := report.Load(out)
				Expect(err).NotTo(HaveOccurred())
				offline := check.Judge(recs) // what `splitbrain check DIR` judges

				if res.Found() {
					Expect(failed(results.Invariants)).To(ContainElement(res.Violation.Invariant), res.Counterexample.StoryText())
					Expect(failed(offline.Parts)).To(ContainElement(res.Violation.Invariant))
					Expect(offline.ExitCode()).To(Equal(check.ExitViolation))
				} else {
					Expect(failed(results.Invariants)).To(BeEmpty())
					Expect(failed(offline.Parts)).To(BeEmpty())
				}
				if impl == peerCmd {
					Expect(res.Found()).To(BeFalse(), "the reference broke %s's counterexample: %v", name, res.Violation)
				} else {
					Expect(res.Reproduced).To(BeTrue(), "%s no longer breaks its counterexample:\n%s", name, res.Counterexample.StoryText())
				}
			}
		}
	}, SpecTimeout(5*time.Minute))

	It("refuses a configuration without a peer command, naming the fix", func(ctx SpecContext) {
		_, err := chaos.Explore(ctx, chaos.Config{})
		Expect(err).To(MatchError(chaos.ErrConfig))
		Expect(err.Error()).To(ContainSubstring("set Impl"))
	})
})
