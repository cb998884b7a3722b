package main

import (
	"crypto/rand"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
	"github.com/splitbrain-dev/splitbrain/harness/report"
	"github.com/splitbrain-dev/splitbrain/harness/run"
	"github.com/splitbrain-dev/splitbrain/harness/timeline"
)

// runCmd runs a group of peers under faults and judges it. Flags use the standard library:
// four subcommands with a handful of flags each do not need a dependency, and a FlagSet per
// subcommand keeps them apart.
func runCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("splitbrain run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	impl := fs.String("impl", "", implUsage)
	transport := fs.String("transport", "unix", "the election transport: unix or tcp")
	addr := fs.String("addr", "", "the election address (default: a fresh socket path in a temp folder, or a free 127.0.0.1 port)")
	peers := fs.Int("peers", 10, "how many peers to start")
	rounds := fs.Int("rounds", 0, "how many fault rounds (0: as many as fit in --duration)")
	duration := fs.Duration("duration", 45*time.Second, "how long the fault phase lasts (0 with --rounds: no time bound)")
	faults := fs.String("faults", "", "comma-separated faults, or all (default: "+strings.Join(fault.Default(), ",")+"); all faults: "+strings.Join(fault.Names(), ","))
	seedStr := fs.String("seed", "", "the random seed, to replay a run (default: a random one, printed)")
	out := fs.String("out", "", "the result folder (default: ./splitbrain-results/TIME-seed-SEED)")
	settle := fs.Duration("settle", 3*time.Second, "how long peers get after the last fault before every live peer must be connected to the leader")
	liveness := fs.Duration("liveness", 5*time.Second, "the bound on leaderless time while a peer lives")
	failpoints := fs.String("failpoints", "", "SPLITBRAIN_FAILPOINTS for every peer, e.g. 'before-listen=sleep(5ms)'")
	broadcasts := fs.Float64("broadcasts", 5, "broadcast commands a second sent to peers that speak the protocol, during faults and settle, for the delivery check (0: none)")
	failFast := fs.Bool("fail-fast", false, "end the fault phase at the first violation seen online: two listeners, an orphaned one, or a planted file changed (then settle, judge and report as usual)")
	quiet := fs.Bool("quiet", false, "no progress line")
	sysMode := fs.String("syscalls", defaultSyscalls, syscallsUsage)
	force := fs.Bool("force", false, "run even when --peers exceeds what this machine allows (CPUs, memory, process ids, open files)")
	untilConf := fs.Float64("until-confidence", 0, "keep injecting faults until the 95 % bound on the split-brain rate per leader kill is below RATE (e.g. 0.01), or --duration ends")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: splitbrain run [flags]\n\nRuns --peers processes of --impl on one election address, injects faults, and judges the\nhistory. Writes history.jsonl, results.json, junit.xml and timeline.html to --out.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "splitbrain run: unexpected argument %q: quote the peer command as one --impl value, e.g. --impl 'node peer.js'\n", fs.Arg(0))
		return exitHarness
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["rounds"] && !set["duration"] {
		*duration = 0 // --rounds alone: the rounds bound the run
	}

	var seed int64
	if *seedStr == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		seed = int64(binary.LittleEndian.Uint64(b[:]) >> 1)
	} else {
		s, err := strconv.ParseInt(*seedStr, 10, 64)
		if err != nil {
			fmt.Fprintf(stderr, "splitbrain run: --seed %q is not an integer: give the seed a previous run printed, e.g. --seed 42\n", *seedStr)
			return exitHarness
		}
		seed = s
	}
	if !defaultImpl(impl, "run", stderr) {
		return exitHarness
	}
	if *transport != "unix" && *transport != "tcp" {
		fmt.Fprintf(stderr, "splitbrain run: --transport %q: use unix or tcp\n", *transport)
		return exitHarness
	}
	if *peers < 1 {
		fmt.Fprintf(stderr, "splitbrain run: --peers %d: use 1 or more\n", *peers)
		return exitHarness
	}
	if *broadcasts < 0 {
		fmt.Fprintf(stderr, "splitbrain run: --broadcasts %v: use 0 (none) or a positive rate a second\n", *broadcasts)
		return exitHarness
	}
	rate := *broadcasts
	if rate == 0 {
		rate = -1 // run.Config: negative sends none, 0 is the default
	}
	fl, err := fault.Parse(*faults, *transport)
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain run: --faults: %v\n", err)
		return exitHarness
	}
	if *out == "" {
		*out = filepath.Join("splitbrain-results", fmt.Sprintf("%s-seed-%d", time.Now().Format("20060102-150405"), seed))
	}
	watch, ok := decideSyscalls("run", *sysMode, stderr)
	if !ok {
		return exitHarness
	}
	for _, f := range fl {
		if (f.Name() == (fault.KillAtSyscall{}).Name() || f.Name() == (fault.HoldAtSyscall{}).Name()) && !watch {
			fmt.Fprintf(stderr, "splitbrain run: --faults %s needs the peers' syscalls watched: add --syscalls on\n", f.Name())
			return exitHarness
		}
	}

	// The replay command: every flag that shapes the run, with the seed; not --addr or --out.
	replay := []string{selfCommand(), "run"}
	for _, name := range []string{"impl", "transport", "peers", "rounds", "duration", "faults", "settle", "liveness", "failpoints", "broadcasts", "fail-fast", "until-confidence", "force", "syscalls"} {
		switch {
		case name == "fail-fast" && *failFast:
			replay = append(replay, "--fail-fast")
		case name == "force" && *force:
			replay = append(replay, "--force")
		case name == "fail-fast" || name == "force":
		case name == "impl" || set[name]:
			replay = append(replay, "--"+name, proc.Quote(fs.Lookup(name).Value.String()))
		}
	}
	replay = append(replay, "--seed", strconv.FormatInt(seed, 10))

	cfg := run.Config{
		Impl: *impl, Transport: *transport, Addr: *addr, Peers: *peers, Rounds: *rounds,
		Duration: *duration, Faults: fl, Seed: seed, Out: *out, Settle: *settle,
		Liveness: *liveness, Failpoints: *failpoints, Replay: strings.Join(replay, " "),
		Broadcasts: rate, FailFast: *failFast, Report: writeReports,
		Force: *force, UntilConfidence: *untilConf, Syscalls: watch,
	}
	if err := cfg.Check(); err != nil {
		fmt.Fprintf(stderr, "splitbrain run: %v\n", err)
		return exitHarness
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	fmt.Fprintf(stderr, "splitbrain: seed %d, %d peers of %s over %s, results in %s\n", seed, *peers, *impl, *transport, *out)

	ctx, stop := interruptible(stderr, "splitbrain", "stopping peers and writing the report")
	outcome, err := run.Run(ctx, cfg)
	sig := stop()
	if err != nil && outcome == nil {
		fmt.Fprintf(stderr, "splitbrain run: %v\n", err)
		return exitHarness
	}
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain run: harness error: %v\n", err)
	}
	fmt.Fprintf(stdout, "splitbrain: %d rounds (%d without a target), %d processes started, %d broadcasts, %v\n",
		outcome.Rounds, outcome.Skipped, outcome.Started, outcome.Broadcasts, outcome.Elapsed.Round(time.Millisecond))
	if *untilConf > 0 {
		c := outcome.Confidence
		if outcome.ConfidenceReached {
			fmt.Fprintf(stdout, "splitbrain: --until-confidence %s: reached after %d leader kills (bound %s)\n", report.Percent(*untilConf), c.Trials, report.Percent(c.RateUpperBound))
		} else {
			fmt.Fprintf(stdout, "splitbrain: --until-confidence %s: ended short: the bound is %s after %d leader kills when the run ended; give a longer --duration\n", report.Percent(*untilConf), report.Percent(c.RateUpperBound), c.Trials)
		}
	}
	if outcome.StoppedEarly {
		fmt.Fprintf(stdout, "splitbrain: --fail-fast: the fault phase stopped at %v: %s\n", seconds(outcome.ViolationAt), outcome.Violation)
	}
	_ = report.Summary(stdout, report.NewResults(outcome.Records, outcome.Results))
	printFooter(stdout, outcome.Dir, outcome.Results)
	switch {
	case sig != 0:
		fmt.Fprintf(stdout, "splitbrain: interrupted by %v (exit %d); the report covers the run up to then\n", sig, 128+int(sig))
		return 128 + int(sig)
	case err != nil:
		fmt.Fprintf(stdout, "splitbrain: the harness failed (exit %d), so the verdict above does not count: %v\n", exitHarness, err)
		return exitHarness
	}
	return outcome.Results.ExitCode()
}

// writeReports writes results.json, junit.xml and timeline.html into dir.
func writeReports(dir string, records []history.Record, results check.Results) error {
	err := report.Write(dir, records, results)
	if _, terr := timeline.WriteFile(dir, records, results); terr != nil && err == nil {
		err = terr
	}
	return err
}

// printFooter ends a summary: when the first violation was seen, and where the files are.
func printFooter(w io.Writer, dir string, results check.Results) {
	if at, name, ok := firstViolation(results); ok {
		fmt.Fprintf(w, "splitbrain: first violation at %v (%s)\n", seconds(at), name)
	}
	fmt.Fprintf(w, "splitbrain: results in %s (timeline: %s)\n", dir, filepath.Join(dir, timeline.File))
}

// firstViolation returns the time of the earliest evidence of any failed invariant, and
// that invariant's name.
func firstViolation(results check.Results) (time.Duration, string, bool) {
	var at time.Duration
	name, ok := "", false
	for _, r := range results.Parts {
		if r.Verdict != check.Fail {
			continue
		}
		for _, e := range r.Evidence {
			if !ok || e.T < at {
				at, name, ok = e.T, r.Name, true
			}
		}
	}
	return at, name, ok
}

// seconds renders d as seconds with millisecond precision, e.g. "3.142s".
func seconds(d time.Duration) string { return fmt.Sprintf("%.3fs", d.Seconds()) }
