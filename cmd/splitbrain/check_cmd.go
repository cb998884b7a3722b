package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/report"
)

// checkCmd re-judges a saved result folder and rewrites its reports.
func checkCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("splitbrain check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: splitbrain check DIR\n\nJudges DIR/history.jsonl again with the current checkers, rewrites results.json, junit.xml and timeline.html,\nand exits 0 valid, 1 violation, 2 inconclusive, 3 if the folder cannot be read.\n")
	}
	if err := fs.Parse(args); err != nil {
		return exitHarness
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "splitbrain check: want exactly one result folder, got %d arguments: splitbrain check DIR\n", fs.NArg())
		return exitHarness
	}
	dir := fs.Arg(0)
	recs, err := report.Load(dir)
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain check: %v\n", err)
		return exitHarness
	}
	results := check.Judge(recs)
	if err := writeReports(dir, recs, results); err != nil {
		fmt.Fprintf(stderr, "splitbrain check: write reports: %v\n", err)
		return exitHarness
	}
	if err := report.Summary(stdout, report.NewResults(recs, results)); err != nil {
		fmt.Fprintf(stderr, "splitbrain check: %v\n", err)
		return exitHarness
	}
	printFooter(stdout, dir, results)
	return results.ExitCode()
}
