package canary_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
	"github.com/splitbrain-dev/splitbrain/peers/canary"
)

// envCanary makes the re-executed test binary run the canary it names instead of tests.
const envCanary = "CANARY_TEST_RUN"

func TestMain(m *testing.M) {
	if name := os.Getenv(envCanary); name != "" {
		os.Exit(canary.Main(name))
	}
	os.Exit(m.Run())
}

// waitFor bounds every wait on a peer; generous, because the machine may be loaded.
const waitFor = 20 * time.Second

// peer is one canary process started by a test.
type peer struct {
	t      *testing.T
	id     string
	cmd    *exec.Cmd
	stdin  *os.File
	stderr *syncBuffer
	exited chan struct{} // closed once Wait returned

	mu     sync.Mutex
	events []protocol.Event
	cursor int // waitEvent searches from here
	notify chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startPeer runs canary name as peer id on addr, in its own process group, killed with the
// test if not before.
func startPeer(t *testing.T, name, id, addr, failpoints string) *peer {
	t.Helper()
	c, ok := canary.Lookup(name)
	if !ok {
		t.Fatalf("no canary %q", name)
	}
	return startCmd(t, []string{os.Args[0], "-test.run=^$"}, envCanary+"="+name, c.Transport, id, addr, failpoints)
}

// startCmd runs argv as a protocol peer; extra is one more environment entry.
func startCmd(t *testing.T, argv []string, extra, transport, id, addr, failpoints string) *peer {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(),
		extra,
		protocol.EnvProtocol+"=1",
		protocol.EnvTransport+"="+transport,
		protocol.EnvAddr+"="+addr,
		protocol.EnvPeer+"="+id,
		protocol.EnvFailpoints+"="+failpoints,
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{t: t, id: id, cmd: cmd, stdin: inW, stderr: &syncBuffer{}, exited: make(chan struct{}), notify: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inR.Close()
	outW.Close()
	go func() {
		sc := bufio.NewScanner(outR)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			ev, err := protocol.ParseEvent(sc.Bytes())
			if err != nil {
				ev = protocol.Event{Event: "garbage", Error: err.Error()}
			}
			p.mu.Lock()
			p.events = append(p.events, ev)
			close(p.notify)
			p.notify = make(chan struct{})
			p.mu.Unlock()
		}
		outR.Close()
	}()
	go func() {
		cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		inW.Close()
		if t.Failed() {
			t.Logf("%s (%s) events: %s\nstderr:\n%s", id, argv, p.eventLog(), p.stderr.String())
		}
	})
	return p
}

func (p *peer) pid() int { return p.cmd.Process.Pid }

func (p *peer) eventLog() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for _, ev := range p.events {
		b.Write(protocol.Encode(ev))
	}
	return b.String()
}

// waitEvent waits for the next event, after the last one waitEvent returned, that ok
// accepts, and fails the test if none comes within waitFor.
func (p *peer) waitEvent(what string, ok func(protocol.Event) bool) protocol.Event {
	p.t.Helper()
	deadline := time.After(waitFor)
	for {
		p.mu.Lock()
		for i := p.cursor; i < len(p.events); i++ {
			if ev := p.events[i]; ok(ev) {
				p.cursor = i + 1
				p.mu.Unlock()
				return ev
			}
		}
		ch := p.notify
		p.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			p.t.Fatalf("%s: no %s event within %v; events so far:\n%s", p.id, what, waitFor, p.eventLog())
		}
	}
}

func kind(k string) func(protocol.Event) bool {
	return func(ev protocol.Event) bool { return ev.Event == k }
}

func pausedAt(name string) func(protocol.Event) bool {
	return func(ev protocol.Event) bool {
		return ev.Event == protocol.EventFailpoint && ev.Name == name && ev.Paused
	}
}

// bothLead forces the race: a and b both wait at failpoint fp, then go on one after the
// other, and each must end up leading.
func bothLead(a, b *peer, fp string) {
	a.t.Helper()
	a.waitEvent("pause "+fp, pausedAt(fp))
	b.waitEvent("pause "+fp, pausedAt(fp))
	a.resume()
	a.waitLeader()
	b.resume()
	b.waitLeader()
}

func (p *peer) waitLeader() { p.t.Helper(); p.waitEvent("leader", kind(protocol.EventLeader)) }

func (p *peer) waitFollower(leader string) {
	p.t.Helper()
	p.waitEvent("follower of "+leader, func(ev protocol.Event) bool {
		return ev.Event == protocol.EventFollower && ev.Leader == leader
	})
}

func (p *peer) send(c protocol.Command) {
	p.t.Helper()
	if _, err := p.stdin.Write(protocol.Encode(c)); err != nil {
		p.t.Fatalf("%s: write command: %v", p.id, err)
	}
}

func (p *peer) resume() { p.t.Helper(); p.send(protocol.Command{Cmd: protocol.CmdContinue}) }

// term stops the peer with SIGTERM and waits for it to run its shutdown path.
func (p *peer) term() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
}

// waitExit waits for the process to end and checks it ended gracefully (status 0, `closed`).
func (p *peer) waitExit() {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(waitFor):
		p.t.Fatalf("%s did not exit within %v", p.id, waitFor)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		p.t.Fatalf("%s exited with status %d, want 0", p.id, code)
	}
	p.waitEvent("closed", kind(protocol.EventClosed))
}

func (p *peer) kill() {
	p.t.Helper()
	syscall.Kill(-p.pid(), syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(waitFor):
		p.t.Fatalf("%s survived SIGKILL", p.id)
	}
}

// sockPath returns a fresh socket path short enough for sun_path.
func sockPath(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "canary")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

// freePort returns a loopback TCP address with a port that was free a moment ago, on
// both families.
func freePort(t *testing.T) string {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, port, _ := net.SplitHostPort(addr)
		if l6, err := net.Listen("tcp", "[::1]:"+port); err == nil {
			l6.Close()
			return addr
		}
	}
	t.Fatal("no port free on both 127.0.0.1 and ::1")
	return ""
}

// snapshot asks the kernel who listens on addr now.
func snapshot(t *testing.T, transport, addr string) kernel.Snapshot {
	t.Helper()
	var o *kernel.Observer
	if transport == "tcp" {
		var err error
		if o, err = kernel.NewTCP(addr); err != nil {
			t.Fatal(err)
		}
	} else {
		o = kernel.NewUnix(addr)
	}
	s, err := o.Snapshot(nil)
	if err != nil {
		t.Fatalf("kernel snapshot of %s: %v", addr, err)
	}
	return s
}

// listenerOf returns the listener p owns in s.
func listenerOf(s kernel.Snapshot, p *peer) (kernel.Listener, bool) {
	for _, l := range s.Listeners {
		if slices.Contains(l.PIDs, p.pid()) {
			return l, true
		}
	}
	return kernel.Listener{}, false
}

func describe(s kernel.Snapshot) string {
	var b strings.Builder
	fmt.Fprintf(&b, "path inode %d;", s.PathInode)
	for _, l := range s.Listeners {
		fmt.Fprintf(&b, " listener %s inode %d pids %v orphaned=%v;", l.Name, l.Inode, l.PIDs, l.Orphaned)
	}
	return b.String()
}

// staleSocket leaves a socket file at path that nobody listens on, as a crashed leader does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := net.Dial("unix", path); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("stale socket: dial gave %v, want ECONNREFUSED", err)
	}
}
