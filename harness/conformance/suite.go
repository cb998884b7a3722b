package conformance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
	"github.com/splitbrain-dev/splitbrain/harness/run"
)

// SuiteVersion names the suite: the scenarios, their seeds and both sizes. It changes
// whenever any of them does, so that two reports of the same version ran the same cases, and
// [Merge] refuses to join reports of different versions.
const SuiteVersion = "2026.1"

// Size is how big a suite is: [Full] for users' pipelines, [Quick] for a CI budget.
type Size string

// Sizes.
const (
	// Full runs every scenario with its rounds and seeds as listed.
	Full Size = "full"
	// Quick runs every scenario with a quarter of its rounds (at least 2), at most 8 peers
	// (20 for storms), one seed, and a 1s settle time: about a minute on 2 cores.
	Quick Size = "quick"
)

// ParseSize reads --size.
func ParseSize(s string) (Size, error) {
	switch Size(s) {
	case Full, Quick:
		return Size(s), nil
	case "":
		return Full, nil
	}
	return "", fmt.Errorf("size %q: use --size full or --size quick", s)
}

// Scenario is one kind of run of the suite. Each of its Seeds is a separate [Case].
type Scenario struct {
	// Name is stable and filesystem-safe; cases are named after it.
	Name string
	// Doc says in one line what the scenario exercises.
	Doc string
	// Peers is how many peers start; Rounds how many fault rounds run (no time bound).
	Peers, Rounds int
	// Faults are the fault names (fault.Names) chosen from at random each round.
	Faults []string
	// Seeds are the fixed seeds, one case each; a long scenario has several so shards can
	// share it.
	Seeds []int64
	// Settle and Liveness are as in run.Config; zero takes the run's defaults.
	Settle, Liveness time.Duration
}

// Scenarios returns the suite's scenarios in suite order (SuiteVersion names this list).
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "cold-start-storm", Doc: "many peers start at once, again and again, on a fresh address",
			Peers: 20, Rounds: 8, Faults: []string{"storm"}, Seeds: []int64{101}},
		{Name: "leader-kills", Doc: "SIGKILL the leader, and the new leader as soon as it appears",
			Peers: 10, Rounds: 12, Faults: []string{"kill-leader", "kill-new-leader", "restart-dead"}, Seeds: []int64{201}},
		{Name: "graceful-stops", Doc: "SIGTERM the leader and followers: each runs its own shutdown path",
			Peers: 10, Rounds: 12, Faults: []string{"term-leader", "term-follower", "restart-dead"}, Seeds: []int64{301}},
		{Name: "follower-churn", Doc: "followers die and new peers join while the leader stays",
			Peers: 10, Rounds: 16, Faults: []string{"kill-follower", "term-follower", "start", "restart-dead"}, Seeds: []int64{401}},
		{Name: "pause-resume", Doc: "SIGSTOP a peer (often the leader) for longer than any timeout, then SIGCONT",
			Peers: 6, Rounds: 4, Faults: []string{"pause", "kill-leader"}, Seeds: []int64{501}},
		{Name: "stale-socket", Doc: "kill every peer and leave a stale socket file, then restart them all at once",
			Peers: 8, Rounds: 8, Faults: []string{"stale-socket", "kill-leader"}, Seeds: []int64{601}},
		{Name: "planted-files", Doc: "a regular file, a directory, another user's socket at the address must survive",
			Peers: 6, Rounds: 6, Faults: []string{"plant-file", "plant-dir", "plant-foreign-socket"}, Seeds: []int64{701}},
		{Name: "mixed-long", Doc: "every default fault, at random, for a long-ish run",
			Peers: 12, Rounds: 40, Faults: fault.Default(), Seeds: []int64{801, 802, 803, 804}},
	}
}

// Case is one run of the suite: a scenario with one seed.
type Case struct {
	// Name is the scenario's name, with "-K" (K = 1, 2 ...) when the scenario has several
	// seeds; unique in the suite, and the case's folder name.
	Name     string
	Scenario Scenario
	Seed     int64
	// Peers, Rounds and Settle are the scenario's, scaled to the size.
	Peers, Rounds int
	Settle        time.Duration
	// Skip, if set, says why the case does not apply (e.g. a unix-only fault on tcp).
	Skip string
}

// Cases returns the suite's cases for size and transport, in suite order. Cases that do not
// apply to transport are still listed, with Skip set, so every shard of every transport
// lists the same names.
func Cases(size Size, transport string) []Case {
	var out []Case
	for _, s := range Scenarios() {
		seeds := s.Seeds
		if size == Quick {
			seeds = seeds[:1]
		}
		for i, seed := range seeds {
			c := Case{Name: s.Name, Scenario: s, Seed: seed, Peers: s.Peers, Rounds: s.Rounds, Settle: s.Settle}
			if len(s.Seeds) > 1 {
				c.Name = fmt.Sprintf("%s-%d", s.Name, i+1)
			}
			if size == Quick {
				c.Rounds = max(2, s.Rounds/4)
				if s.Faults[0] != "storm" {
					c.Peers = min(c.Peers, 8)
				}
				c.Settle = time.Second
			}
			if _, err := fault.Parse(strings.Join(s.Faults, ","), transport); err != nil {
				c.Skip = fmt.Sprintf("does not apply to transport %s: %v", transport, err)
			}
			out = append(out, c)
		}
	}
	return out
}

// cost estimates a case's run time in tenths of a second, for balancing shards: a fixed
// start and settle, and per round the mean cost of its faults (a pause outlasts every
// timeout; a plant stops and restarts the whole group).
func (c Case) cost() int {
	sum := 0
	for _, f := range c.Scenario.Faults {
		switch {
		case f == "pause":
			sum += 60
		case strings.HasPrefix(f, "plant-"):
			sum += 20
		default:
			sum += 3
		}
	}
	return 20 + c.Peers + c.Rounds*sum/max(1, len(c.Scenario.Faults))
}

// Config returns the run configuration of c against impl over transport, writing to out.
// Seeds and rounds fix the run; there is no time bound, so a slow machine runs the same
// rounds as a fast one.
func (c Case) Config(impl, transport, out string) (run.Config, error) {
	fs, err := fault.Parse(strings.Join(c.Scenario.Faults, ","), transport)
	if err != nil {
		return run.Config{}, fmt.Errorf("case %s: %w", c.Name, err)
	}
	return run.Config{
		Impl: impl, Transport: transport, Peers: c.Peers, Rounds: c.Rounds, Faults: fs,
		Seed: c.Seed, Out: out, Settle: c.Settle, Liveness: c.Scenario.Liveness,
		Replay: c.Replay("", impl, transport),
	}, nil
}

// Replay is the `splitbrain run` command line that runs c alone; bin names the binary
// ("splitbrain" when empty).
func (c Case) Replay(bin, impl, transport string) string {
	if bin == "" {
		bin = "splitbrain"
	}
	args := []string{bin, "run", "--impl", proc.Quote(impl), "--transport", transport,
		"--peers", fmt.Sprint(c.Peers), "--rounds", fmt.Sprint(c.Rounds),
		"--faults", strings.Join(c.Scenario.Faults, ","), "--seed", fmt.Sprint(c.Seed)}
	if c.Settle > 0 {
		args = append(args, "--settle", c.Settle.String())
	}
	if c.Scenario.Liveness > 0 {
		args = append(args, "--liveness", c.Scenario.Liveness.String())
	}
	return strings.Join(args, " ")
}

// Names returns the names of cs, in order.
func Names(cs []Case) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// Select returns the cases of cs named in names (comma-separated), in suite order, or an
// error naming the unknown ones and the known ones.
func Select(cs []Case, names string) ([]Case, error) {
	want := map[string]bool{}
	for _, n := range strings.Split(names, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	var out []Case
	for _, c := range cs {
		if want[c.Name] {
			out = append(out, c)
			delete(want, c.Name)
		}
	}
	if len(want) > 0 {
		var unknown []string
		for n := range want {
			unknown = append(unknown, n)
		}
		slices.Sort(unknown)
		return nil, fmt.Errorf("unknown case %s: choose from %s", strings.Join(unknown, ", "), strings.Join(Names(cs), ", "))
	}
	return out, nil
}
