package election_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/election"
	"golang.org/x/sys/unix"
)

// envHelper names the helper a re-executed test binary runs instead of the tests.
const envHelper = "ELECTION_TEST_HELPER"

// helpers are the commands a child process (the test binary, re-executed) can run.
var helpers = map[string]func() int{
	"new":     helperNew,
	"crash":   helperCrash,
	"elector": helperElector,
	"hold":    helperHold,
	"emfile":  helperEMFILE,
	"open":    helperOpen,
}

func TestMain(m *testing.M) {
	if name := os.Getenv(envHelper); name != "" {
		h, ok := helpers[name]
		if !ok {
			fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
			os.Exit(3)
		}
		os.Exit(h())
	}
	os.Exit(m.Run())
}

// helperNew calls New on $ADDR and prints the euid, the error, and whether it is
// ErrBadDirectory. It is run as another uid to see what New says to an unprivileged user.
func helperNew() int {
	_, err := election.New(election.Options{Address: os.Getenv("ADDR")})
	fmt.Printf("euid=%d\n", os.Geteuid())
	fmt.Printf("bad-directory=%v\n", errors.Is(err, election.ErrBadDirectory))
	fmt.Printf("err=%v\n", err)
	return 0
}

// helperCrash runs an Elector on $ADDR with failpoints from the environment; a "crash"
// failpoint ends it with election.CrashStatus. It exits 0 if it ever leads, 1 on error.
func helperCrash() int {
	fp, err := election.FailpointsFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e, err := election.New(election.Options{Address: os.Getenv("ADDR"), Failpoints: fp})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go e.Run(ctx)
	for ev := range e.Events() {
		if ev.Kind == election.Leader {
			return 0
		}
	}
	return 1
}

// helperElector runs an Elector on $ADDR with id $ID until killed, and prints each event
// as "MONO_NS KIND EPOCH" (CLOCK_MONOTONIC, comparable across processes).
func helperElector() int {
	e, err := election.New(election.Options{Address: os.Getenv("ADDR"), ID: os.Getenv("ID")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		// The parent holds our stdin open; EOF means it is gone.
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	go e.Run(context.Background())
	buf := make([]byte, 0, 64)
	for ev := range e.Events() {
		t := monoNow()
		buf = strconv.AppendInt(buf[:0], t, 10)
		buf = append(buf, ' ')
		buf = append(buf, ev.Kind.String()...)
		buf = append(buf, ' ')
		buf = strconv.AppendUint(buf, ev.Epoch, 10)
		buf = append(buf, '\n')
		os.Stdout.Write(buf)
	}
	return 0
}

// monoNow is CLOCK_MONOTONIC in nanoseconds: the same clock in every process.
func monoNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// helperCmd returns a command that re-executes the test binary as helper name. The child
// dies with us (Pdeathsig) and runs in its own process group.
func helperCmd(t testing.TB, bin, name string, env ...string) *exec.Cmd {
	t.Helper()
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{envHelper + "=" + name}, env...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// publicCopy copies the test binary into a fresh 0755 directory so another uid can run
// it (go test's work directory is 0700). It returns the directory and the binary's path.
func publicCopy(t testing.TB) (dir, bin string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir = shortDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	bin = filepath.Join(dir, "election.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}

// shortDir makes a temporary directory with a short path (socket paths are limited to
// 107 bytes, and t.TempDir's names grow with the test's name).
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "el")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// rec runs one Elector and records every event it emits, so tests can wait for one.
type rec struct {
	e      *election.Elector
	cancel context.CancelFunc
	runErr chan error // Run's result, once

	mu      sync.Mutex
	evs     []election.Event
	closed  bool // Events was closed
	changed chan struct{}
}

// start creates an Elector with opts and runs it until the test ends.
func start(t testing.TB, opts election.Options) *rec {
	t.Helper()
	e, err := election.New(opts)
	if err != nil {
		t.Fatalf("New(%+v): %v", opts, err)
	}
	return run(t, e)
}

// run runs e until the test ends, recording its events.
func run(t testing.TB, e *election.Elector) *rec {
	ctx, cancel := context.WithCancel(context.Background())
	r := &rec{e: e, cancel: cancel, runErr: make(chan error, 1), changed: make(chan struct{})}
	go func() { r.runErr <- e.Run(ctx) }()
	go func() {
		for ev := range e.Events() {
			r.mu.Lock()
			r.evs = append(r.evs, ev)
			close(r.changed)
			r.changed = make(chan struct{})
			r.mu.Unlock()
		}
		r.mu.Lock()
		r.closed = true
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}()
	t.Cleanup(func() { cancel(); e.Close() })
	return r
}

// waitTimeout bounds every wait for an event; generous for a loaded 2-core machine.
const waitTimeout = 15 * time.Second

// wait returns the first recorded event that matches pred, waiting for it if need be.
func (r *rec) wait(t testing.TB, what string, pred func(election.Event) bool) election.Event {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		r.mu.Lock()
		for _, ev := range r.evs {
			if pred(ev) {
				r.mu.Unlock()
				return ev
			}
		}
		closed, ch := r.closed, r.changed
		r.mu.Unlock()
		if closed {
			t.Fatalf("%s: waiting for %s, but Events was closed; got %v", r.e.ID(), what, r.events())
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: no %s within %v; got %v", r.e.ID(), what, waitTimeout, r.events())
		}
	}
}

// waitClosed waits until Events is closed.
func (r *rec) waitClosed(t testing.TB) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		r.mu.Lock()
		closed, ch := r.closed, r.changed
		r.mu.Unlock()
		if closed {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: Events not closed within %v", r.e.ID(), waitTimeout)
		}
	}
}

// events returns a copy of what was recorded so far.
func (r *rec) events() []election.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]election.Event(nil), r.evs...)
}

// count returns how many recorded events match pred.
func (r *rec) count(pred func(election.Event) bool) int {
	n := 0
	for _, ev := range r.events() {
		if pred(ev) {
			n++
		}
	}
	return n
}

func isKind(k election.EventKind) func(election.Event) bool {
	return func(ev election.Event) bool { return ev.Kind == k }
}

func isKindEpoch(k election.EventKind, epoch uint64) func(election.Event) bool {
	return func(ev election.Event) bool { return ev.Kind == k && ev.Epoch == epoch }
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}
