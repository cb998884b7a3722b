package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/splitbrain-dev/splitbrain/harness/conformance"
)

// mergeCmd merges result folders (conformance shards, or run folders) into one report.
func mergeCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("splitbrain merge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: splitbrain merge OUT DIR...

Merges the result folders DIR... (the shards of one 'splitbrain conformance' run, or folders of
'splitbrain run' against one implementation) into OUT/results.json and OUT/junit.xml, with the
worst verdict as exit code. Refuses folders of different suite versions, sizes, implementations
or transports, and overlapping shards. Shards of one N that leave cases out make the merged
report inconclusive (exit 2), naming the missing cases.
`)
	}
	if err := fs.Parse(args); err != nil {
		return exitHarness
	}
	if fs.NArg() < 2 {
		fmt.Fprintf(stderr, "splitbrain merge: want an output folder and at least one result folder, got %d arguments: splitbrain merge OUT DIR...\n", fs.NArg())
		return exitHarness
	}
	var reps []*conformance.Report
	for _, dir := range fs.Args()[1:] {
		r, err := conformance.Load(dir)
		if err != nil {
			fmt.Fprintf(stderr, "splitbrain merge: %v\n", err)
			return exitHarness
		}
		reps = append(reps, r)
	}
	merged, err := conformance.Merge(reps)
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain merge: %v\n", err)
		return exitHarness
	}
	out := fs.Arg(0)
	if err := conformance.Write(out, merged); err != nil {
		fmt.Fprintf(stderr, "splitbrain merge: %v\n", err)
		return exitHarness
	}
	_ = conformance.Summary(stdout, merged)
	fmt.Fprintf(stdout, "splitbrain merge: %d folders merged into %s\n", len(reps), out)
	return merged.ExitCode
}
