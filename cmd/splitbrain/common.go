package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"

	"github.com/splitbrain-dev/splitbrain/harness/proc"
)

// implUsage is the help of --impl for the commands whose default is the reference peer.
const implUsage = "the peer command line, split like a shell would (default: this binary's reference peer, 'splitbrain peer')"

// defaultImpl sets an empty *impl to this binary's reference peer ("BINARY peer", the path
// quoted for a shell). It returns false, after saying so on stderr as "splitbrain CMD: ...",
// only when the binary cannot be found; the caller then exits with exitHarness.
func defaultImpl(impl *string, cmd string, stderr io.Writer) bool {
	if *impl != "" {
		return true
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain %s: cannot find this binary for the reference peer (%v): give --impl\n", cmd, err)
		return false
	}
	*impl = proc.Quote(self) + " peer"
	return true
}

// list splits a comma-separated flag value, dropping empty items.
func list(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// selfCommand is how a printed command line names this binary so that it works as printed:
// the name it was run by when that is what PATH finds, else its absolute path ("make
// build" leaves bin/splitbrain, which is on no PATH).
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "splitbrain"
	}
	if name := os.Args[0]; !strings.Contains(name, "/") {
		if p, err := exec.LookPath(name); err == nil && sameFile(p, exe) {
			return name
		}
	}
	return proc.Quote(exe)
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// interruptible returns a context cancelled by SIGINT or SIGTERM, and a stop function that
// stops listening, cancels the context and reports which signal came (0 if none). On the
// first signal it prints "\nPREFIX: SIGNAL: DOING (again to quit at once)" to stderr; a
// second signal exits at once with 128+signal, and peers die with us through Pdeathsig.
func interruptible(stderr io.Writer, prefix, doing string) (context.Context, func() syscall.Signal) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	got := make(chan syscall.Signal, 1)
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		got <- s.(syscall.Signal)
		fmt.Fprintf(stderr, "\n%s: %v: %s (again to quit at once)\n", prefix, s, doing)
		cancel()
		if s2, ok := <-sigs; ok {
			os.Exit(128 + int(s2.(syscall.Signal)))
		}
	}()
	return ctx, func() syscall.Signal {
		signal.Stop(sigs)
		cancel()
		select {
		case s := <-got:
			return s
		default:
			return 0
		}
	}
}

// usageExit is the exit code after a FlagSet failed to parse: 0 for -h/-help (the usage was
// printed as asked), else exitHarness (the FlagSet has said what was wrong).
func usageExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return exitHarness
}
