package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/splitbrain-dev/splitbrain/harness/conformance"
)

// conformanceCmd runs the versioned conformance suite (or one shard of it) against --impl.
func conformanceCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("splitbrain conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	impl := fs.String("impl", "", implUsage)
	transport := fs.String("transport", "unix", "the election transport: unix or tcp")
	out := fs.String("out", "splitbrain-conformance", "the result folder: results.json and junit.xml over the suite, cases/NAME per case")
	shardStr := fs.String("shard", "", "run shard I of N (I counts from 0), e.g. 0/4 ... 3/4; default the whole suite")
	sizeStr := fs.String("size", "full", "full (users' pipelines) or quick (a CI budget: fewer rounds, one seed per scenario)")
	only := fs.String("case", "", "run only these cases (comma-separated), e.g. to replay one; see --list")
	list := fs.Bool("list", false, "list this shard's cases and exit")
	version := fs.Bool("suite-version", false, "print the suite version and exit")
	quiet := fs.Bool("quiet", false, "no progress lines")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: splitbrain conformance --impl CMD [flags]

Runs the conformance suite %s (fixed scenarios, fixed seeds) against --impl, one case after
another, and writes DIR/results.json, DIR/junit.xml (a testsuite per case, a testcase per
invariant) and DIR/cases/NAME (each case's own result folder). Exit code: 1 if any case found
a violation, else 3 if the harness failed on any, else 2 if any was inconclusive, else 0.

Shards: --shard I/N assigns each case to exactly one of N shards, longest first to the least
loaded shard (a fixed rule: the same suite and N always give the same split). Join the shards'
folders with 'splitbrain merge OUT DIR...'.

flags:
`, conformance.SuiteVersion)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageExit(err)
	}
	if *version {
		fmt.Fprintln(stdout, conformance.SuiteVersion)
		return 0
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "splitbrain conformance: unexpected argument %q: quote the peer command as one --impl value, e.g. --impl 'node peer.js'\n", fs.Arg(0))
		return exitHarness
	}
	shard, err := conformance.ParseShard(*shardStr)
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain conformance: %v\n", err)
		return exitHarness
	}
	size, err := conformance.ParseSize(*sizeStr)
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain conformance: %v\n", err)
		return exitHarness
	}
	if *transport != "unix" && *transport != "tcp" {
		fmt.Fprintf(stderr, "splitbrain conformance: --transport %q: use unix or tcp\n", *transport)
		return exitHarness
	}
	if *list {
		cs := shard.Cases(conformance.Cases(size, *transport))
		if *only != "" {
			if cs, err = conformance.Select(cs, *only); err != nil {
				fmt.Fprintf(stderr, "splitbrain conformance: --case: %v\n", err)
				return exitHarness
			}
		}
		for _, c := range cs {
			skip := ""
			if c.Skip != "" {
				skip = " (skipped: " + c.Skip + ")"
			}
			fmt.Fprintf(stdout, "%-20s %3d peers %3d rounds seed %d  %s%s\n", c.Name, c.Peers, c.Rounds, c.Seed, c.Scenario.Doc, skip)
		}
		return 0
	}
	if !defaultImpl(impl, "conformance", stderr) {
		return exitHarness
	}
	fmt.Fprintf(stderr, "splitbrain conformance: suite %s (%s), shard %s, %s over %s, results in %s\n",
		conformance.SuiteVersion, size, shard, *impl, *transport, *out)

	ctx, stop := interruptible(stderr, "splitbrain conformance", "stopping the case and writing the report")
	opt := conformance.Options{Impl: *impl, Transport: *transport, Out: *out, Size: size, Shard: shard, Only: *only, Binary: selfCommand()}
	if !*quiet {
		opt.Progress = stderr
	}
	rep, err := conformance.Run(ctx, opt)
	sig := stop()
	if err != nil && rep == nil {
		fmt.Fprintf(stderr, "splitbrain conformance: %v\n", err)
		return exitHarness
	}
	_ = conformance.Summary(stdout, rep)
	fmt.Fprintf(stdout, "splitbrain conformance: results in %s\n", *out)
	switch {
	case sig != 0:
		return 128 + int(sig)
	case err != nil:
		fmt.Fprintf(stderr, "splitbrain conformance: %v\n", err)
		return exitHarness
	}
	return rep.ExitCode
}
