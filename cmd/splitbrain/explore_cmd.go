package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/chaos"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
)

const exploreUsage = `usage: splitbrain explore [flags]

Explores fault schedules with rapid against --impl until one breaks an invariant or --budget is
spent. White-box peers (that announce failpoints) get steered interleavings: one schedule is one
interleaving of real processes. Black-box peers, unchanged, are steered at their election
syscalls (connect, bind, listen, unlink, rename, lock) with seccomp user notification where the
kernel allows it (--syscalls auto, the default), and get drawn fault timings where it does not;
--mode syscalls steers any peer so. A counterexample is shrunk, replayed to confirm it, printed
as a numbered story and saved as DIR/schedule.json; 'splitbrain replay DIR/schedule.json' runs
it again.

Exit codes: 0 nothing found within the budget, 1 a violation, 3 harness error, 128+signal.

flags:
`

func exploreCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("splitbrain explore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	impl := fs.String("impl", "", "the peer command line (default: this binary's reference peer)")
	transport := fs.String("transport", "unix", "the election transport: unix or tcp")
	budget := fs.Duration("budget", time.Minute, "how long to search for a counterexample (shrinking comes on top)")
	seedStr := fs.String("seed", "", "the rapid seed of the first schedule (default: random, printed)")
	out := fs.String("out", "", "the result folder (default: ./splitbrain-results/explore-TIME)")
	mode := fs.String("mode", "", "steered, syscalls or timing (default: steered if the peer announces failpoints, else syscalls where seccomp notification works, else timing)")
	peers := fs.Int("peers", 0, "the most live peers in a schedule (default 4)")
	steps := fs.Int("steps", 0, "the average number of steps a schedule draws (default 5)")
	schedules := fs.Int("schedules", 0, "stop the search after this many schedules, or --budget, whichever comes first (with --seed: the same schedules on any machine)")
	quiet := fs.Bool("quiet", false, "no progress lines")
	shrink := fs.Duration("shrink-time", 0, "how long rapid may shrink a counterexample (default 20s); deleting steps one at a time while a replay still fails comes after it")
	invariants := fs.String("invariants", "", "comma-separated invariants to judge (default: "+strings.Join(chaos.Invariants, ",")+"); e.g. single-listener,reachable-leader hunts the split brain itself")
	leaveOut := fs.String("leave-out", "", "comma-separated steps a schedule never draws, of "+strings.Join(chaos.Actions, ",")+" (e.g. plant)")
	sysMode := fs.String("syscalls", syscalls.ModeAuto, "steer black-box peers at their syscalls with seccomp user notification: auto (when the kernel allows it, else time them and say so), on (also watch white-box peers, so single-listener and reachable-leader are judged exactly; exit 3 when unavailable) or off")
	fs.Usage = func() { fmt.Fprint(stderr, exploreUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return usageExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "splitbrain explore: unexpected argument %q: every option is a flag\n", fs.Arg(0))
		return exitHarness
	}
	if *schedules < 0 {
		fmt.Fprintf(stderr, "splitbrain explore: --schedules %d is negative: give a number of schedules, or 0 for --budget alone\n", *schedules)
		return exitHarness
	}
	var seed uint64
	if *seedStr != "" {
		s, err := strconv.ParseUint(*seedStr, 10, 64)
		if err != nil {
			fmt.Fprintf(stderr, "splitbrain explore: --seed %q is not a non-negative integer: give the seed a previous exploration printed\n", *seedStr)
			return exitHarness
		}
		seed = s
	}
	if !defaultImpl(impl, "explore", stderr) {
		return exitHarness
	}
	if *out == "" {
		*out = filepath.Join("splitbrain-results", "explore-"+time.Now().Format("20060102-150405"))
	}
	avail, ok := exploreSyscalls(*sysMode, *mode, stderr)
	if !ok {
		return exitHarness
	}
	cfg := chaos.Config{Impl: *impl, Transport: *transport, Mode: *mode, Budget: *budget, Seed: seed,
		Out: *out, MaxPeers: *peers, Steps: *steps, MaxSchedules: *schedules, Invariants: list(*invariants), LeaveOut: list(*leaveOut),
		Syscalls: avail && *sysMode == syscalls.ModeOn, SteerBlackBox: avail, ShrinkTime: *shrink}
	if !*quiet {
		cfg.Progress = stderr
	}
	ctx, stop := interruptible(stderr, "splitbrain", "stopping peers")
	res, err := chaos.Explore(ctx, cfg)
	if sig := stop(); sig != 0 {
		fmt.Fprintf(stdout, "splitbrain explore: interrupted by %v after %d schedules\n", sig, res.Schedules)
		return 128 + int(sig)
	}
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain explore: %v\n", err)
		return exitHarness
	}
	return exploreReport(stdout, "explore", res)
}

const replayUsage = `usage: splitbrain replay [flags] FILE

Runs a schedule saved by 'splitbrain explore' (FILE, usually DIR/schedule.json) again, step by
step, against the implementation it names (or --impl).

Exit codes: 0 the schedule no longer breaks an invariant, 1 it does, 3 harness error.

flags:
`

func replayCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("splitbrain replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	impl := fs.String("impl", "", "the peer command line (default: the one the schedule names)")
	out := fs.String("out", "", "the result folder (default: none)")
	sysMode := fs.String("syscalls", defaultSyscalls, syscallsUsage)
	fs.Usage = func() { fmt.Fprint(stderr, replayUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return usageExit(err)
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "splitbrain replay: give one schedule file, e.g. splitbrain replay splitbrain-results/explore-X/schedule.json\n")
		return exitHarness
	}
	watch, ok := decideSyscalls("replay", *sysMode, stderr)
	if !ok {
		return exitHarness
	}
	ctx, stop := interruptible(stderr, "splitbrain", "stopping peers")
	res, err := chaos.Replay(ctx, fs.Arg(0), chaos.Config{Impl: *impl, Out: *out, Syscalls: watch})
	if sig := stop(); sig != 0 {
		return 128 + int(sig)
	}
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain replay: %v\n", err)
		return exitHarness
	}
	return exploreReport(stdout, "replay", res)
}

func exploreReport(w io.Writer, what string, res chaos.Result) int {
	fmt.Fprintf(w, "splitbrain %s: %s peers over %s (%s), seed %d: %d schedules, %d runs in all, %d leader kills survived, %v\n",
		what, res.Impl, res.Transport, res.Mode, res.Seed, res.Schedules, res.Runs, res.LeaderKills, res.Elapsed.Round(time.Millisecond))
	if !res.Found() {
		fmt.Fprintf(w, "splitbrain %s: PASS: no schedule broke an invariant (exit 0)\n", what)
		fmt.Fprintf(w, "splitbrain %s: %s\n", what, judgedLine(res))
		if res.Dir != "" {
			fmt.Fprintf(w, "splitbrain: results in %s\n", res.Dir)
		}
		return 0
	}
	fmt.Fprintf(w, "splitbrain %s: FAIL: %v (exit 1)\n", what, res.Violation)
	if res.Counterexample != nil {
		fmt.Fprintf(w, "\n%s\n", res.Counterexample.StoryText())
	}
	if what == "explore" {
		fmt.Fprintf(w, "found after %v of search (%d schedules); shrunk to %d steps; replayed: %v\n",
			res.Search.Round(time.Millisecond), res.Schedules, res.Counterexample.Len(), res.Reproduced)
		if res.Unreproduced > 0 {
			fmt.Fprintf(w, "(%d earlier counterexamples did not replay in 3 tries, races of free peers, and the search went on)\n", res.Unreproduced)
		}
	}
	if res.Dir != "" {
		fmt.Fprintf(w, "replay: %s replay %s\n", selfCommand(), proc.Quote(filepath.Join(res.Dir, "schedule.json")))
		fmt.Fprintf(w, "splitbrain: results in %s\n", res.Dir)
	}
	return 1
}

// judgedLine says in how many passing schedules each invariant had something to judge, and
// which never did: a pass is earned only where there was something to judge.
func judgedLine(res chaos.Result) string {
	var judged, not []string
	for _, n := range res.Invariants {
		if c := res.Judged[n]; c > 0 {
			judged = append(judged, fmt.Sprintf("%s %d", n, c))
		} else {
			not = append(not, n)
		}
	}
	line := "judged in passing schedules: none"
	if len(judged) > 0 {
		line = "judged in passing schedules: " + strings.Join(judged, ", ")
	}
	if len(not) > 0 {
		line += "; not judged (nothing to judge in any schedule): " + strings.Join(not, ", ")
	}
	return line
}
