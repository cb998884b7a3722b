package election_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/election"
)

// group starts n Electors on one path in this process. flock locks belong to open files,
// so they contend for the lock exactly as processes do. The first one starts alone and
// leads; the rest join it.
func group(t *testing.T, path string, n int, opts election.Options) []*rec {
	t.Helper()
	var rs []*rec
	for i := 0; i < n; i++ {
		o := opts
		o.Address, o.ID = path, "e"+strconv.Itoa(i)
		rs = append(rs, start(t, o))
	}
	return rs
}

// settled waits until exactly one of live leads epoch and all the others follow it, and
// returns the leader.
func settled(t *testing.T, live []*rec, epoch uint64) *rec {
	t.Helper()
	var leader *rec
	eventually(t, fmt.Sprintf("a leader of epoch %d", epoch), func() bool {
		for _, r := range live {
			if r.count(isKindEpoch(election.Leader, epoch)) > 0 {
				leader = r
				return true
			}
		}
		return false
	})
	for _, r := range live {
		if r == leader {
			continue
		}
		ev := r.wait(t, fmt.Sprintf("follower of epoch %d", epoch), isKindEpoch(election.Follower, epoch))
		if ev.Leader != leader.e.ID() {
			t.Errorf("%s follows %q; the leader is %s", r.e.ID(), ev.Leader, leader.e.ID())
		}
		if ev.LeaderPID != os.Getpid() {
			t.Errorf("%s: LeaderPID %d; want %d", r.e.ID(), ev.LeaderPID, os.Getpid())
		}
		if n := r.count(isKindEpoch(election.Leader, epoch)); n != 0 {
			t.Errorf("%s also led epoch %d", r.e.ID(), epoch)
		}
	}
	for _, r := range live {
		if r.e.IsLeader() != (r == leader) {
			t.Errorf("%s: IsLeader() = %v", r.e.ID(), r.e.IsLeader())
		}
	}
	return leader
}

func TestOneLeader(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	rs := group(t, path, 5, election.Options{})
	leader := settled(t, rs, 1)
	for _, r := range rs {
		if r != leader {
			leader.wait(t, "connection of "+r.e.ID(), func(ev election.Event) bool {
				return ev.Kind == election.Connection && ev.Member == r.e.ID()
			})
		}
	}
	// Nobody ever led another epoch.
	for _, r := range rs {
		if n := r.count(isKind(election.Leader)); r != leader && n != 0 {
			t.Errorf("%s led %d times", r.e.ID(), n)
		}
	}
}

// TestFailoverOnClose closes the leader again and again: each time another takes over
// with the next epoch, and every survivor follows it.
func TestFailoverOnClose(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	live := group(t, path, 5, election.Options{})
	leader := settled(t, live, 1)
	for epoch := uint64(2); len(live) > 1; epoch++ {
		leader.e.Close()
		leader.waitClosed(t)
		var rest []*rec
		for _, r := range live {
			if r != leader {
				rest = append(rest, r)
			}
		}
		live = rest
		for _, r := range live {
			r.wait(t, "lost", func(ev election.Event) bool { return ev.Kind == election.Lost && ev.Epoch == epoch-1 })
		}
		leader = settled(t, live, epoch)
	}
	// The last one standing leads epoch 5; the lock file holds the epoch.
	b, err := os.ReadFile(path + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%020d\n", 5); string(b) != want {
		t.Errorf("lock file holds %q; want %q", b, want)
	}
	leader.e.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still at %s after the last leader closed: %v", path, err)
	}
}

func TestBridge(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	rs := group(t, path, 4, election.Options{})
	leader := settled(t, rs, 1)
	for _, r := range rs {
		if r != leader {
			leader.wait(t, "connection", func(ev election.Event) bool { return ev.Kind == election.Connection && ev.Member == r.e.ID() })
		}
	}
	ctx := context.Background()
	msg := func(from string, data string) func(election.Event) bool {
		return func(ev election.Event) bool {
			return ev.Kind == election.Message && ev.Member == from && string(ev.Data) == data
		}
	}
	// Leader to members.
	if err := leader.e.Send(ctx, []byte("from the leader")); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r != leader {
			r.wait(t, "the leader's message", msg(leader.e.ID(), "from the leader"))
		}
	}
	// Each member to everyone else, the leader included.
	for _, s := range rs {
		if s == leader {
			continue
		}
		data := "from " + s.e.ID()
		if err := s.e.Send(ctx, []byte(data)); err != nil {
			t.Fatalf("%s: Send: %v", s.e.ID(), err)
		}
		for _, r := range rs {
			if r != s {
				r.wait(t, data, msg(s.e.ID(), data))
			}
		}
	}
	// Nobody hears its own messages back.
	for _, r := range rs {
		if n := r.count(func(ev election.Event) bool { return ev.Kind == election.Message && ev.Member == r.e.ID() }); n != 0 {
			t.Errorf("%s got %d of its own messages back", r.e.ID(), n)
		}
	}
}

// rawMember joins the leader at path by hand, speaking the frames of frame.go and
// handshake.go (unix: no secret, so an empty MAC, and the hello first), and then never
// reads again.
func rawMember(t *testing.T, path, id string) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(waitTimeout))
	// On unix the member speaks first: its hello needs nothing from the challenge.
	hello := []byte{byte(len(id))}
	hello = append(hello, id...)
	hello = append(hello, make([]byte, 16)...)                               // our nonce
	hello = binary.BigEndian.AppendUint32(hello, election.DefaultMaxMessage) // our message limit
	if _, err := c.Write(frame('H', hello)); err != nil {
		t.Fatal(err)
	}
	typ, p := readRaw(t, c)
	const magic = "splitbrain/2"
	if typ != 'C' || !bytes.HasPrefix(p, []byte(magic)) || len(p) != len(magic)+16 {
		t.Fatalf("challenge: type %q payload %q", typ, p)
	}
	if typ, p = readRaw(t, c); typ != 'W' {
		t.Fatalf("welcome: type %q payload %q", typ, p)
	}
	c.SetDeadline(time.Time{})
	return c
}

func frame(typ byte, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)))
	return append(append(b, typ), payload...)
}

func readRaw(t *testing.T, c net.Conn) (byte, []byte) {
	t.Helper()
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("read frame header: %v", err)
	}
	p := make([]byte, binary.BigEndian.Uint32(hdr[:4])-1)
	if _, err := io.ReadFull(c, p); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	return hdr[4], p
}

// TestSlowMemberDropped: a member that stops reading its socket fills its queue at the
// leader and is dropped with ErrSlowMember; a member that keeps up receives everything.
func TestSlowMemberDropped(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	opts := election.Options{QueueLength: 4, QueueBytes: 1 << 20}
	rs := group(t, path, 2, opts)
	leader := settled(t, rs, 1)
	good := rs[0]
	if good == leader {
		good = rs[1]
	}
	raw := rawMember(t, path, "raw")
	leader.wait(t, "raw's connection", func(ev election.Event) bool { return ev.Kind == election.Connection && ev.Member == "raw" })

	dropped := func(ev election.Event) bool { return ev.Kind == election.Disconnection && ev.Member == "raw" }
	payload := make([]byte, 64<<10)
	ctx := context.Background()
	sent := 0
	send := func() {
		t.Helper()
		binary.BigEndian.PutUint32(payload, uint32(sent))
		if err := leader.e.Send(ctx, payload); err != nil {
			t.Fatal(err)
		}
		sent++
		// Lockstep with the good member, so only the raw one can fall behind.
		want := uint32(sent - 1)
		good.wait(t, fmt.Sprintf("message %d", want), func(ev election.Event) bool {
			return ev.Kind == election.Message && len(ev.Data) == len(payload) && binary.BigEndian.Uint32(ev.Data) == want
		})
	}
	// The socket buffers hold a few hundred KiB; then 4 queued frames overflow.
	for leader.count(dropped) == 0 {
		if sent == 1000 {
			t.Fatalf("raw member not dropped after %d messages of 64 KiB", sent)
		}
		send()
	}
	ev := leader.wait(t, "raw's disconnection", dropped)
	if !errors.Is(ev.Err, election.ErrSlowMember) {
		t.Errorf("raw dropped with %v; want ErrSlowMember", ev.Err)
	}
	t.Logf("raw member dropped after %d messages", sent)
	// The good member is still connected and keeps receiving.
	for i := 0; i < 10; i++ {
		send()
	}
	if n := leader.count(func(ev election.Event) bool { return ev.Kind == election.Disconnection && ev.Member == good.e.ID() }); n != 0 {
		t.Errorf("the good member was dropped too")
	}
	if n := good.count(isKind(election.Message)); n != sent {
		t.Errorf("good member got %d messages; %d were sent", n, sent)
	}
	// The leader hung up on raw: after what was buffered, EOF.
	raw.SetReadDeadline(time.Now().Add(waitTimeout))
	if _, err := io.Copy(io.Discard, raw); err != nil {
		t.Errorf("raw member: %v; want EOF from the leader's hang-up", err)
	}
}

// TestCancelStopsRun: cancelling Run's context ends it with nil and closes Events, for a
// leader and a follower; a leader's socket goes, the lock file stays.
func TestCancelStopsRun(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	rs := group(t, path, 2, election.Options{})
	leader := settled(t, rs, 1)
	follower := rs[0]
	if follower == leader {
		follower = rs[1]
	}
	for _, r := range []*rec{follower, leader} {
		r.cancel()
		select {
		case err := <-r.runErr:
			if err != nil {
				t.Errorf("%s: Run = %v after cancel; want nil", r.e.ID(), err)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("%s: Run did not return after cancel", r.e.ID())
		}
		r.waitClosed(t)
		if err := r.e.Run(context.Background()); !errors.Is(err, election.ErrClosed) {
			t.Errorf("%s: second Run = %v; want ErrClosed", r.e.ID(), err)
		}
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left at %s: %v", path, err)
	}
	if _, err := os.Lstat(path + ".lock"); err != nil {
		t.Errorf("lock file gone: %v", err)
	}
}

// TestStaleSocketReplaced: a socket of ours that refuses connections (its owner died) is
// removed and replaced by the new leader.
func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	// A second name keeps the stale inode alive, so its number cannot be reused.
	if err := os.Link(path, path+".keep"); err != nil {
		t.Fatal(err)
	}
	stale := stateOf(t, path)
	r := start(t, election.Options{Address: path})
	r.wait(t, "leader", isKind(election.Leader))
	if now := stateOf(t, path); now.ino == stale.ino {
		t.Errorf("the stale socket (inode %d) is still at the path", stale.ino)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial the new leader: %v", err)
	}
	c.Close()
}

// TestJoinThenReceive: once a member has been welcomed (its Follower event), a message
// another member sends must reach it. The leader sends Welcome before it adds the member to
// the relay set, so a message relayed in between is acknowledged to its sender but never
// delivered to the new member.
func TestJoinThenReceive(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	rs := group(t, path, 2, election.Options{})
	leader := settled(t, rs, 1)
	sender := rs[0]
	if sender == leader {
		sender = rs[1]
	}
	ctx := context.Background()
	missed := 0
	const trials = 300
	for i := 0; i < trials; i++ {
		id := "raw" + strconv.Itoa(i)
		raw := rawMember(t, path, id)
		probe := "probe " + id
		if err := sender.e.Send(ctx, []byte(probe)); err != nil {
			t.Fatal(err)
		}
		// A marker sent once the leader surely has the member: it follows the probe in
		// the member's queue, so reaching the marker without the probe means it was lost.
		leader.wait(t, "connection of "+id, func(ev election.Event) bool { return ev.Kind == election.Connection && ev.Member == id })
		marker := "marker " + id
		if err := leader.e.Send(ctx, []byte(marker)); err != nil {
			t.Fatal(err)
		}
		raw.SetReadDeadline(time.Now().Add(waitTimeout))
		seen := false
		for {
			typ, p := readRaw(t, raw)
			if typ != 'D' {
				continue
			}
			data := string(p[2+int(binary.BigEndian.Uint16(p)):])
			if data == probe {
				seen = true
			}
			if data == marker {
				break
			}
		}
		if !seen {
			missed++
		}
		raw.Close()
	}
	if missed > 0 {
		t.Errorf("%d of %d newly welcomed members missed a message sent after their welcome", missed, trials)
	}
}

// bugWelcomeBeforeRegister: hub.handle calls admit (which writes Welcome) before it adds
// the member to h.members, so a Send relayed in that window is acknowledged without
// reaching the new member, though the member already reported Follower. Fix: register the
// member (and its queue) before writing Welcome.
