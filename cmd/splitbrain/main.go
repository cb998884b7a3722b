// Command splitbrain tests socket leader election implementations: it runs N peer
// processes of any implementation, watches them from the kernel, injects faults, and judges
// the history. Subcommands: run, check, conformance, merge, explore, replay, peer, version. Exit codes: 0 valid, 1 violation,
// 2 inconclusive, 3 harness error, 128+signal when interrupted.
//
// main only routes; each subcommand lives in its own file and wires harness packages.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
)

// Exit codes beyond the verdicts (0, 1, 2, from package check).
const (
	exitHarness = 3 // the harness itself failed, or was misused (bad flag, missing command)
)

const usage = `usage: splitbrain COMMAND [flags]

commands:
  run      run peers of an implementation under faults and judge them
  check    re-judge a saved result folder: splitbrain check DIR
  conformance  run the versioned conformance suite (or a shard of it) against an implementation
  merge    merge result folders (e.g. conformance shards) into one report: splitbrain merge OUT DIR...
  explore  rapid explores fault schedules (steered interleavings for white-box peers) and shrinks a counterexample
  replay   run a saved schedule again: splitbrain replay DIR/schedule.json
  peer     run one reference (or canary) peer; the harness starts these
  version  print the version

exit codes: 0 valid, 1 violation, 2 inconclusive, 3 harness error, 128+signal interrupted
Run 'splitbrain COMMAND -h' for a command's flags.
`

func main() {
	// A peer started under --syscalls is this binary re-executed as `splitbrain shim -- CMD`:
	// it installs the seccomp filter and becomes CMD, before anything else runs.
	syscalls.ShimIfAsked()
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitHarness
	}
	switch args[0] {
	case "run":
		return runCmd(args[1:], stdout, stderr)
	case "check":
		return checkCmd(args[1:], stdout, stderr)
	case "explore":
		return exploreCmd(args[1:], stdout, stderr)
	case "replay":
		return replayCmd(args[1:], stdout, stderr)
	case "conformance":
		return conformanceCmd(args[1:], stdout, stderr)
	case "merge":
		return mergeCmd(args[1:], stdout, stderr)
	case "peer":
		return peerCmd(args[1:], stderr)
	case "shim": // hidden: only the harness starts it, with the supervisor's socket set
		fmt.Fprintf(stderr, "splitbrain shim: started without %s; the harness starts it for --syscalls\n", syscalls.EnvSocket)
		return exitHarness
	case "version":
		return versionCmd(stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "splitbrain: unknown command %q\n\n%s", args[0], usage)
	return exitHarness
}
