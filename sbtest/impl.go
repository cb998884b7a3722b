package sbtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/proc"
	"github.com/splitbrain-dev/splitbrain/harness/run"
	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

// Impl is the implementation a run starts as its peers: a command line ([Command]) or a Go
// function registered with [Peer]. The zero Impl is unset, and Run refuses it.
type Impl struct {
	cmdline string // Command
	goPeer  string // Peer: the registered name
}

// Command is the peer command line cmdline, split like a shell would, as the CLI's --impl;
// e.g. Command("node peer.js") or Command("./mypeer --flag").
func Command(cmdline string) Impl { return Impl{cmdline: cmdline} }

// PeerFunc is a Go peer: it runs one peer process's election until ctx is done, which
// happens when the harness asks the peer to stop (a `close` command, SIGTERM or SIGINT).
// It then runs its shutdown path and returns nil; the process exits 0. An error ends the
// process with status 1 and the error on stderr, which the harness shows; a peer that must
// refuse its address (a planted file) returns one.
//
// p speaks the peer protocol (docs/PROTOCOL.md): p.Env() is the address and transport,
// p.Emit writes events (a peer that writes none is judged black-box), p.Commands delivers
// broadcasts, and p.Failpoints() are the steered failpoints, to give election.Options.
// sbtest writes no event itself.
type PeerFunc func(ctx context.Context, p *peerio.Peer) error

// peerArg and checkArg are the test binary's first argument when it runs as a peer, and
// when the harness side asks whether it would. They are not flags of package testing, so a
// binary whose TestMain does not call Main stops at them (flag provided but not defined)
// rather than running its tests again inside every peer.
const (
	peerArg  = "-sbtest.peer="
	checkArg = "-sbtest.check="
)

var (
	registryMu sync.Mutex
	registry   = map[string]PeerFunc{}
	validName  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
)

// Peer registers fn as the Go peer called name and returns it as an Impl. Call it at package
// level (var p = sbtest.Peer(...)), so that it is registered in the re-executed test binary
// before TestMain runs, and call [Main] from TestMain. Names are letters, digits, '.', '_'
// and '-', unique within the test binary; Peer panics otherwise, as a duplicate or a bad
// name is a mistake in the test's source.
func Peer(name string, fn PeerFunc) Impl {
	if !validName.MatchString(name) {
		panic(fmt.Sprintf("sbtest.Peer: name %q: use letters, digits, '.', '_' and '-'", name))
	}
	if fn == nil {
		panic(fmt.Sprintf("sbtest.Peer %q: nil function", name))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("sbtest.Peer: %q is registered twice", name))
	}
	registry[name] = fn
	return Impl{goPeer: name}
}

// String returns the command line as the harness runs it ("" for the zero Impl). For a Go
// peer it names the test binary, which `go test` deletes at the end, so to replay a run by
// hand build the binary to keep with `go test -c`.
func (i Impl) String() string {
	s, _ := i.command()
	return s
}

// command returns the command line the harness runs.
func (i Impl) command() (string, error) {
	switch {
	case i.goPeer != "":
		self, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("go peer %s: find the test binary: %w", i.goPeer, err)
		}
		return proc.Quote(self) + " " + peerArg + i.goPeer, nil
	case strings.TrimSpace(i.cmdline) != "":
		return i.cmdline, nil
	}
	return "", fmt.Errorf("%w: no peer: set Peer to sbtest.Command(\"CMD ARGS\") or a Go peer from sbtest.Peer", ErrConfig)
}

// Main runs m's tests and exits with their status, unless this process is the test binary
// re-executed as a Go peer: then it runs the peer registered under that name and exits with
// its status. Call it from TestMain:
//
//	func TestMain(m *testing.M) { sbtest.Main(m) }
//
// A TestMain that sets up and tears down around m.Run calls [Dispatch] first instead.
func Main(m *testing.M) {
	Dispatch()
	os.Exit(m.Run())
}

// Dispatch returns at once, unless this process is the test binary re-executed as a Go
// peer (or as the shim of a watched peer): then it runs the peer and exits with its status. Call it first in a TestMain of
// your own, before any setup, since whatever runs before it runs in every peer too.
func Dispatch() {
	syscalls.ShimIfAsked() // the shim of peers watched at their syscalls (RunConfig.Syscalls)
	if code, ok := dispatch(os.Args); ok {
		os.Exit(code)
	}
}

// dispatch runs the peer that args name, if they name one, and returns its exit status.
func dispatch(args []string) (int, bool) {
	if len(args) < 2 {
		return 0, false
	}
	if name, ok := strings.CutPrefix(args[1], checkArg); ok {
		if _, err := lookup(name); err != nil {
			fmt.Fprintf(os.Stderr, "sbtest: %v\n", err)
			return 3, true
		}
		fmt.Fprintln(os.Stdout, "sbtest: go peer", name, "ok")
		return 0, true
	}
	name, ok := strings.CutPrefix(args[1], peerArg)
	if !ok {
		return 0, false
	}
	return runPeer(name), true
}

func lookup(name string) (PeerFunc, error) {
	registryMu.Lock()
	defer registryMu.Unlock()
	fn, ok := registry[name]
	if !ok {
		names := make([]string, 0, len(registry))
		for n := range registry {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, fmt.Errorf("no go peer %q is registered in this test binary (registered: %s): call sbtest.Peer at package level, so that it runs before TestMain",
			name, strings.Join(names, ", "))
	}
	return fn, nil
}

// runPeer is a whole peer process: the protocol on this process's environment and standard
// streams, the function until it returns. Exit statuses: 0 after a stop, 1 when the function
// failed, 3 when it could not start (as the reference peer's ExitUsage).
func runPeer(name string) int {
	fn, err := lookup(name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sbtest: %v\n", err)
		return 3
	}
	p, err := peerio.Open()
	if err != nil {
		fmt.Fprintf(os.Stderr, "sbtest: go peer %s: %v\n", name, err)
		return 3
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-p.Stop()
		cancel()
	}()
	if err := fn(ctx, p); err != nil {
		fmt.Fprintf(os.Stderr, "sbtest: go peer %s (%s): %v\n", name, p.ID(), err)
		return 1
	}
	return 0
}

// checked holds the Go peers whose test binary was seen to dispatch them.
var checked sync.Map

// preflight makes sure, once per name, that the test binary runs the Go peer rather than
// its tests: without Main in TestMain every peer would die at start, and the run would say
// only "inconclusive".
func (i Impl) preflight(ctx context.Context) error {
	if i.goPeer == "" {
		return nil
	}
	if _, ok := checked.Load(i.goPeer); ok {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("go peer %s: find the test binary: %w", i.goPeer, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, checkArg+i.goPeer)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("%s (%v)", lastLines(strings.TrimSpace(string(out)), 5), err)
		if strings.Contains(string(out), "flag provided but not defined: "+strings.TrimSuffix(checkArg, "=")) {
			msg = "its TestMain must call sbtest.Main(m), or sbtest.Dispatch() before anything else"
		}
		return fmt.Errorf("go peer %s: %w: %s", i.goPeer, ErrNoMain, msg)
	}
	checked.Store(i.goPeer, true)
	return nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Sentinel errors of Run and Check.
var (
	// ErrConfig marks a plan the run refuses; the message names the field and the fix. It
	// is the harness's own (run.ErrConfig), so every refusal wraps it.
	ErrConfig = run.ErrConfig
	// ErrNoMain marks a Go peer that the re-executed test binary does not run: TestMain must
	// call Main (or Dispatch), and the peer must be registered at package level.
	ErrNoMain = errors.New("the test binary does not run this Go peer")
	// ErrHarness marks a failure of the harness itself during a run (not of the peer): the
	// verdict does not count. The Result is still returned, with Verdict HarnessError.
	ErrHarness = errors.New("harness error")
)
