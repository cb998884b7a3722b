package peerio_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func goodUnix() map[string]string {
	return map[string]string{
		protocol.EnvProtocol:  "1",
		protocol.EnvTransport: "unix",
		protocol.EnvAddr:      "/tmp/x.sock",
		protocol.EnvPeer:      "p1",
	}
}

func TestParseEnv(t *testing.T) {
	env, err := peerio.ParseEnv(envOf(goodUnix()))
	if err != nil {
		t.Fatal(err)
	}
	if env.Transport != "unix" || env.Addr != "/tmp/x.sock" || env.Peer != "p1" || env.Protocol != 1 {
		t.Fatalf("got %+v", env)
	}
	tcp := goodUnix()
	tcp[protocol.EnvTransport] = "tcp"
	tcp[protocol.EnvAddr] = "127.0.0.1:4000"
	tcp[protocol.EnvSecretFile] = "/tmp/secret"
	tcp[protocol.EnvFailpoints] = "*=announce"
	env, err = peerio.ParseEnv(envOf(tcp))
	if err != nil {
		t.Fatal(err)
	}
	if env.SecretFile != "/tmp/secret" || env.Failpoints != "*=announce" {
		t.Fatalf("got %+v", env)
	}

	bad := []struct {
		key, val, want string // val "" deletes the key
	}{
		{protocol.EnvProtocol, "", "SPLITBRAIN_PROTOCOL is not set"},
		{protocol.EnvProtocol, "2", "speaks protocol version 1"},
		{protocol.EnvTransport, "", "SPLITBRAIN_TRANSPORT is not set"},
		{protocol.EnvTransport, "udp", `want "unix" or "tcp"`},
		{protocol.EnvAddr, "", "SPLITBRAIN_ADDR is not set"},
		{protocol.EnvAddr, "rel.sock", "absolute socket path"},
		{protocol.EnvPeer, "", "SPLITBRAIN_PEER is not set"},
	}
	for _, b := range bad {
		m := goodUnix()
		if b.val == "" {
			delete(m, b.key)
		} else {
			m[b.key] = b.val
		}
		_, err := peerio.ParseEnv(envOf(m))
		if !errors.Is(err, peerio.ErrEnv) || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%s=%q: got %v, want ErrEnv containing %q", b.key, b.val, err, b.want)
		}
	}
	for _, addr := range []string{"localhost:80", "127.0.0.1", "127.0.0.1:0", "[::1]:80"} {
		m := goodUnix()
		m[protocol.EnvTransport] = "tcp"
		m[protocol.EnvAddr] = addr
		if _, err := peerio.ParseEnv(envOf(m)); !errors.Is(err, peerio.ErrEnv) {
			t.Errorf("tcp addr %q: got %v, want ErrEnv", addr, err)
		}
	}
}

// pipes is a Peer wired to real pipes, as in a peer process: the test writes its stdin and
// reads its stdout.
type pipes struct {
	peer   *peerio.Peer
	stdin  *os.File
	events chan protocol.Event
}

// chunky writes each Write in 512-byte pieces, as a writer without its own lock may: only
// Emit's lock then keeps concurrent lines whole. (*os.File alone would serialize writes.)
type chunky struct{ w io.Writer }

func (c chunky) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(512, len(b))
		m, err := c.w.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		b = b[k:]
		runtime.Gosched()
	}
	return n, nil
}

func start(t *testing.T, failpoints string) *pipes {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inW.Close(); outW.Close(); outR.Close(); inR.Close() })
	env, _ := peerio.ParseEnv(envOf(goodUnix()))
	env.Failpoints = failpoints
	p, err := peerio.New(peerio.Config{Env: env, In: inR, Out: chunky{w: outW}})
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan protocol.Event, 1000)
	go func() {
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			ev, err := protocol.ParseEvent(sc.Bytes())
			if err != nil {
				t.Errorf("peer wrote a bad line: %v", err)
				continue
			}
			events <- ev
		}
	}()
	return &pipes{peer: p, stdin: inW, events: events}
}

func (p *pipes) send(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatal(err)
	}
}

func (p *pipes) next(t *testing.T) protocol.Event {
	t.Helper()
	select {
	case ev := <-p.events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return protocol.Event{}
}

func TestEmitConcurrentLinesStayWhole(t *testing.T) {
	p := start(t, "")
	const writers, each = 8, 100
	data := strings.Repeat("x", 5000) // ten chunks of chunky
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("%d-%d", w, i)
				if err := p.peer.Emit(protocol.Event{Event: protocol.EventMessage, From: "p2", ID: id, Data: data}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	seen := map[string]bool{}
	for range writers * each {
		ev := p.next(t)
		if ev.Event != protocol.EventMessage || ev.Data != data || seen[ev.ID] {
			t.Fatalf("bad or repeated event %q id %q (data %d bytes)", ev.Event, ev.ID, len(ev.Data))
		}
		seen[ev.ID] = true
	}
	wg.Wait()
}

func TestCommandsGarbageCloseAndEOF(t *testing.T) {
	p := start(t, "")
	p.send(t, `{"cmd":"broadcast","id":"a","data":"one"}`)
	p.send(t, `not json`)
	p.send(t, `{"cmd":"launch"}`)
	p.send(t, ``)
	p.send(t, `{"cmd":"broadcast","id":"b","data":"two"}`)
	p.send(t, `{"cmd":"close"}`)
	p.stdin.Close()

	for _, want := range []string{"not a JSON command", `unknown command "launch"`} {
		ev := p.next(t)
		if ev.Event != protocol.EventError || !strings.Contains(ev.Error, want) {
			t.Fatalf("got %+v, want an error event containing %q", ev, want)
		}
	}
	var ids []string
	for c := range p.peer.Commands() { // closed at EOF, or the test times out
		if c.Cmd != protocol.CmdBroadcast {
			t.Fatalf("delivered %+v; only broadcasts should be", c)
		}
		ids = append(ids, c.ID)
	}
	if strings.Join(ids, ",") != "a,b" {
		t.Fatalf("broadcasts %v, want [a b]", ids)
	}
	select {
	case <-p.peer.Stop():
		if p.peer.StopReason() != "close command" {
			t.Fatalf("stop reason %q", p.peer.StopReason())
		}
	default:
		t.Fatal("close command did not close Stop")
	}
}

func TestNilInClosesCommands(t *testing.T) {
	p, err := peerio.New(peerio.Config{Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := <-p.Commands(); ok {
		t.Fatal("Commands delivered a command with no input")
	}
	if p.Failpoints() != nil {
		t.Fatal("failpoints set without a spec")
	}
	p.Hit("after-lock") // nil failpoints: must not block
}

func TestFailpointPauseAndContinue(t *testing.T) {
	p := start(t, "before-unlink=pause,after-probe=announce")
	// Broadcasts nobody reads must not keep the reader from seeing the continue.
	p.send(t, `{"cmd":"broadcast","id":"q1","data":"x"}`)
	p.send(t, `{"cmd":"broadcast","id":"q2","data":"x"}`)

	done := make(chan struct{})
	go func() {
		p.peer.Hit("after-probe")
		p.peer.Hit("before-unlink")
		close(done)
	}()
	if ev := p.next(t); ev.Event != protocol.EventFailpoint || ev.Name != "after-probe" || ev.Paused {
		t.Fatalf("got %+v, want announced after-probe", ev)
	}
	if ev := p.next(t); ev.Event != protocol.EventFailpoint || ev.Name != "before-unlink" || !ev.Paused {
		t.Fatalf("got %+v, want paused before-unlink", ev)
	}
	select {
	case <-done:
		t.Fatal("Hit returned before continue")
	case <-time.After(50 * time.Millisecond): // a pause that fails to hold shows up here
	}
	p.send(t, `{"cmd":"continue","name":"before-unlink"}`)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("continue did not release the failpoint")
	}
	if c := <-p.peer.Commands(); c.ID != "q1" {
		t.Fatalf("first queued command %+v", c)
	}
}

func TestBadFailpointSpec(t *testing.T) {
	env, _ := peerio.ParseEnv(envOf(goodUnix()))
	env.Failpoints = "after-lock=explode"
	_, err := peerio.New(peerio.Config{Env: env, Out: io.Discard})
	if !errors.Is(err, peerio.ErrEnv) || !strings.Contains(err.Error(), "SPLITBRAIN_FAILPOINTS") {
		t.Fatalf("got %v", err)
	}
}
