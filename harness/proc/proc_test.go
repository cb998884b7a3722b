package proc_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

const helperEnv = "SPLITBRAIN_PROC_TEST_HELPER"

// helpers are the child processes the tests start: the test binary re-executed.
var helpers = map[string]func(){
	"events": func() {
		fmt.Println(`{"event":"ready"}`)
		fmt.Println(`{"event":"leader","epoch":3}`)
		fmt.Println(`this is not json`)
		fmt.Println(`{"event":"bogus"}`)
		fmt.Fprintln(os.Stderr, "stderr line one")
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			c, err := protocol.ParseCommand(sc.Bytes())
			if err == nil && c.Cmd == protocol.CmdClose {
				fmt.Println(`{"event":"closed"}`)
				os.Exit(0)
			}
		}
		os.Exit(4)
	},
	"sleep": func() { time.Sleep(time.Hour) },
	"ignore-term": func() {
		signal.Ignore(syscall.SIGTERM)
		fmt.Println(`{"event":"ready"}`)
		time.Sleep(time.Hour)
	},
	// spawn starts a grandchild in its own process group (inherited), reports its pid, then
	// sleeps (or exits at once with "spawn-exit").
	"spawn":      func() { spawn(false) },
	"spawn-exit": func() { spawn(true) },
	"flood": func() {
		chunk := strings.Repeat("x", 1<<20)
		for i := 0; i < 32; i++ { // 32 MiB without a newline, then many short lines
			os.Stdout.WriteString(chunk)
			os.Stderr.WriteString(chunk)
		}
		line := `{"event":"ready"}` + "\n"
		many := strings.Repeat(line, 1<<20/len(line))
		for i := 0; i < 32; i++ {
			os.Stdout.WriteString(many)
			os.Stderr.WriteString(many)
		}
		fmt.Fprintln(os.Stderr, "last words")
		os.Exit(5)
	},
	// harness is a harness in miniature: it starts a sleeping peer, prints its pid and
	// waits to be killed, so a test can check Pdeathsig.
	"harness": func() {
		g := proc.NewGroup(time.Now(), func(history.Record) {}, proc.Options{})
		p, err := g.Start(proc.Spec{ID: "p1", Argv: []string{os.Args[0]}, Env: []string{helperEnv + "=sleep"}})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(p.PID())
		time.Sleep(time.Hour)
	},
}

func spawn(exit bool) {
	c := exec.Command(os.Args[0])
	c.Env = append(os.Environ(), helperEnv+"=sleep")
	if err := c.Start(); err != nil {
		os.Exit(1)
	}
	fmt.Printf(`{"event":"error","error":"%d"}`+"\n", c.Process.Pid)
	if exit {
		os.Exit(0)
	}
	time.Sleep(time.Hour)
}

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		helpers[name]()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// recorder collects records from a Group.
type recorder struct {
	mu   sync.Mutex
	recs []history.Record
}

func (r *recorder) sink(rec history.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
}

func (r *recorder) all() []history.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]history.Record(nil), r.recs...)
}

func (r *recorder) find(kind history.Kind, match func(history.Record) bool) (history.Record, bool) {
	for _, rec := range r.all() {
		if rec.Kind == kind && (match == nil || match(rec)) {
			return rec, true
		}
	}
	return history.Record{}, false
}

func newGroup(t *testing.T, opt proc.Options) (*proc.Group, *recorder) {
	t.Helper()
	r := &recorder{}
	g := proc.NewGroup(time.Now(), r.sink, opt)
	t.Cleanup(func() {
		g.Close(time.Second)
		for _, p := range g.Peers() {
			if !gone(p.PID()) {
				t.Errorf("peer %s pid %d still exists after Close", p.ID(), p.PID())
			}
		}
	})
	return g, r
}

func start(t *testing.T, g *proc.Group, id, helper string) *proc.Peer {
	t.Helper()
	p, err := g.Start(proc.Spec{ID: id, Argv: []string{os.Args[0]}, Env: []string{helperEnv + "=" + helper}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gone reports whether pid no longer runs: absent, or a zombie left to its new parent.
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitDone(t *testing.T, p *proc.Peer) *history.Exit {
	t.Helper()
	select {
	case <-p.Done():
		return p.Exit()
	case <-time.After(20 * time.Second):
		t.Fatalf("peer %s did not exit", p.ID())
		return nil
	}
}

func TestEventsProtocolErrorsAndClose(t *testing.T) {
	g, r := newGroup(t, proc.Options{})
	p := start(t, g, "p1", "events")
	eventually(t, 10*time.Second, "two protocol errors", func() bool {
		n := 0
		for _, rec := range r.all() {
			if rec.Kind == history.KindProtocolError {
				n++
			}
		}
		return n == 2
	})
	if _, ok := r.find(history.KindStart, func(rec history.Record) bool { return rec.PID == p.PID() && rec.Peer == "p1" }); !ok {
		t.Error("no start record")
	}
	lead, ok := r.find(history.KindEvent, func(rec history.Record) bool { return rec.Event.Event == protocol.EventLeader })
	if !ok || lead.Event.Epoch == nil || *lead.Event.Epoch != 3 || lead.Peer != "p1" {
		t.Errorf("leader event = %+v, want epoch 3 from p1", lead)
	}
	bad, _ := r.find(history.KindProtocolError, func(rec history.Record) bool { return strings.Contains(rec.Detail, "not json") })
	if bad.Peer != "p1" || !strings.Contains(bad.Detail, "this is not json") {
		t.Errorf("protocol error does not name peer and line: %+v", bad)
	}
	if !p.Send(protocol.Command{Cmd: protocol.CmdClose}) {
		t.Fatal("Send close dropped")
	}
	ex := waitDone(t, p)
	if ex.Code != 0 || ex.ByHarness || ex.Signal != "" {
		t.Errorf("exit = %+v, want code 0 not by harness", ex)
	}
	if len(ex.StderrTail) != 1 || ex.StderrTail[0] != "stderr line one" {
		t.Errorf("stderr tail = %q", ex.StderrTail)
	}
	if _, ok := r.find(history.KindEvent, func(rec history.Record) bool { return rec.Event.Event == protocol.EventClosed }); !ok {
		t.Error("closed event not recorded before exit")
	}
	if err := p.Kill(); !errors.Is(err, proc.ErrExited) {
		t.Errorf("Kill after exit = %v, want ErrExited", err)
	}
}

func childPID(t *testing.T, r *recorder, id string) int {
	t.Helper()
	var rec history.Record
	eventually(t, 10*time.Second, "child pid", func() bool {
		var ok bool
		rec, ok = r.find(history.KindEvent, func(rec history.Record) bool { return rec.Peer == id && rec.Event.Event == protocol.EventError })
		return ok
	})
	pid, err := strconv.Atoi(rec.Event.Error)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func TestKillReachesWholeGroup(t *testing.T) {
	g, r := newGroup(t, proc.Options{})
	p := start(t, g, "p1", "spawn")
	child := childPID(t, r, "p1")
	if gone(child) {
		t.Fatal("child not running before the kill")
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	ex := waitDone(t, p)
	if ex.Signal != "SIGKILL" || !ex.ByHarness || ex.Code != -1 {
		t.Errorf("exit = %+v, want SIGKILL by harness", ex)
	}
	eventually(t, 10*time.Second, "grandchild gone", func() bool { return gone(child) })
}

func TestPeerChildrenDieWhenPeerExits(t *testing.T) {
	g, r := newGroup(t, proc.Options{})
	p := start(t, g, "p1", "spawn-exit")
	child := childPID(t, r, "p1")
	ex := waitDone(t, p)
	if ex.Code != 0 || ex.ByHarness {
		t.Errorf("exit = %+v", ex)
	}
	eventually(t, 10*time.Second, "orphaned grandchild killed", func() bool { return gone(child) })
}

func TestPdeathsigKillsPeersOfADeadHarness(t *testing.T) {
	h := exec.Command(os.Args[0])
	h.Env = append(os.Environ(), helperEnv+"=harness")
	out, err := h.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(); err != nil {
		t.Fatal(err)
	}
	defer h.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	peer, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("harness helper said %q", line)
	}
	defer unix.Kill(-peer, unix.SIGKILL) // only if the test fails
	if gone(peer) {
		t.Fatal("peer not running")
	}
	if err := h.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = h.Wait()
	eventually(t, 10*time.Second, "peer of the killed harness gone", func() bool { return gone(peer) })
}

func TestHugeOutputIsBounded(t *testing.T) {
	const maxLine, maxStdout = 4 << 10, 1 << 20
	g, r := newGroup(t, proc.Options{MaxLine: maxLine, MaxStdout: maxStdout, StderrLines: 5})
	p := start(t, g, "p1", "flood")
	ex := waitDone(t, p)
	if ex.Code != 5 {
		t.Errorf("exit code = %d, want 5", ex.Code)
	}
	recs := r.all()
	var bytes, events, long, dropped int
	for _, rec := range recs {
		b, _ := jsonLen(rec)
		bytes += b
		switch {
		case rec.Kind == history.KindEvent:
			events++
		case rec.Kind == history.KindProtocolError && strings.Contains(rec.Detail, "longer than"):
			long++
		case rec.Kind == history.KindProtocolError && strings.Contains(rec.Detail, "dropped"):
			dropped++
		}
	}
	if long != 1 || dropped != 1 || events == 0 {
		t.Errorf("long=%d dropped=%d events=%d, want 1, 1, >0", long, dropped, events)
	}
	// 64 MiB went to stdout; what was kept is bounded by MaxStdout plus record overhead.
	if bytes > 2*maxStdout {
		t.Errorf("records hold %d bytes for a %d byte budget", bytes, maxStdout)
	}
	if len(ex.StderrTail) != 5 || ex.StderrTail[4] != "last words" {
		t.Errorf("stderr tail = %q", ex.StderrTail)
	}
	for _, l := range ex.StderrTail {
		if len(l) > 210 {
			t.Errorf("stderr tail line of %d bytes", len(l))
		}
	}
}

func TestSendNeverBlocks(t *testing.T) {
	g, r := newGroup(t, proc.Options{StdinQueue: 4})
	p := start(t, g, "p1", "sleep")
	data := strings.Repeat("d", 4096)
	began := time.Now()
	sent := 0
	for i := 0; i < 2000; i++ { // 8 MB, far past the pipe buffer of a peer that never reads
		if p.Send(protocol.Command{Cmd: protocol.CmdBroadcast, ID: strconv.Itoa(i), Data: data}) {
			sent++
		}
	}
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("2000 Sends took %v", d)
	}
	if sent == 2000 {
		t.Error("no command was dropped by a peer that never reads")
	}
	if _, ok := r.find(history.KindCommand, func(rec history.Record) bool { return strings.Contains(rec.Detail, "not reading") }); !ok {
		t.Error("drop not recorded")
	}
}

func TestCloseReapsEverything(t *testing.T) {
	g, r := newGroup(t, proc.Options{})
	var peers []*proc.Peer
	for i := 0; i < 10; i++ {
		peers = append(peers, start(t, g, fmt.Sprintf("p%d", i), "sleep"))
	}
	stubborn := start(t, g, "stubborn", "ignore-term")
	stopped := start(t, g, "stopped", "spawn")
	child := childPID(t, r, "stopped")
	eventually(t, 10*time.Second, "stubborn ready", func() bool {
		_, ok := r.find(history.KindEvent, func(rec history.Record) bool { return rec.Peer == "stubborn" })
		return ok
	})
	if err := stopped.Stop(); err != nil {
		t.Fatal(err)
	}
	killed := g.Close(300 * time.Millisecond)
	if len(killed) != 1 || killed[0] != "stubborn" {
		t.Errorf("killed = %v, want [stubborn]", killed)
	}
	for _, p := range append(peers, stubborn, stopped) {
		if !p.Exited() || p.Exit() == nil || !p.Exit().ByHarness {
			t.Errorf("%s: exit %+v", p.ID(), p.Exit())
		}
	}
	if ex := stopped.Exit(); ex.Signal != "SIGTERM" {
		t.Errorf("stopped peer ended by %q, want SIGTERM (SIGCONT must follow SIGTERM)", ex.Signal)
	}
	eventually(t, 10*time.Second, "grandchild of stopped peer gone", func() bool { return gone(child) })
	if _, err := g.Start(proc.Spec{ID: "late", Argv: []string{os.Args[0]}}); !errors.Is(err, proc.ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
}

func TestStartFailureNamesTheCommand(t *testing.T) {
	g, _ := newGroup(t, proc.Options{})
	_, err := g.Start(proc.Spec{ID: "p1", Argv: []string{"/nonexistent/peer-binary"}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/peer-binary") {
		t.Errorf("err = %v", err)
	}
}

func TestSplit(t *testing.T) {
	t.Setenv("SB_TEST_DIR", "/opt/x y")
	for in, want := range map[string][]string{
		`node peer.js --fast`:          {"node", "peer.js", "--fast"},
		`'/a b/peer' "x y" z\ w`:       {"/a b/peer", "x y", "z w"},
		`"$SB_TEST_DIR/peer" --impl n`: {"/opt/x y/peer", "--impl", "n"},
	} {
		got, err := proc.Split(in)
		if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("Split(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "   ", `"unterminated`} {
		if _, err := proc.Split(bad); err == nil {
			t.Errorf("Split(%q): no error", bad)
		}
	}
}

func TestEnv(t *testing.T) {
	env := strings.Join(proc.Env(proc.EnvSpec{Transport: "unix", Addr: "/tmp/s", Peer: "p2"}), "\n")
	for _, want := range []string{"SPLITBRAIN_PROTOCOL=1", "SPLITBRAIN_TRANSPORT=unix", "SPLITBRAIN_ADDR=/tmp/s", "SPLITBRAIN_PEER=p2"} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %s", want)
		}
	}
	if strings.Contains(env, "SECRET") || strings.Contains(env, "FAILPOINTS") {
		t.Errorf("unset variables present: %s", env)
	}
}
