package election_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/election"
)

// TestCancelledSendNeverBreaksTheNext: Sends whose context is cancelled while they run, in
// a race with their own write, never leave the link unusable: the next Send succeeds and
// the link is never lost.
func TestCancelledSendNeverBreaksTheNext(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	rs := group(t, path, 2, election.Options{})
	leader := settled(t, rs, 1)
	f := rs[0]
	if f == leader {
		f = rs[1]
	}
	leader.wait(t, "connection", isKind(election.Connection))
	const rounds = 5000
	broken := 0
	for i := 0; i < rounds; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		go cancel()
		f.e.Send(ctx, []byte("maybe"))
		if err := f.e.Send(context.Background(), []byte("surely")); err != nil {
			broken++
			if broken < 5 {
				t.Errorf("round %d: the Send after a cancelled one: %v", i, err)
			}
		}
	}
	if broken > 0 {
		t.Errorf("%d of %d Sends after a cancelled one failed", broken, rounds)
	}
	if n := f.count(isKind(election.Lost)); n != 0 {
		t.Errorf("the follower lost its link %d times: %v", n, f.events())
	}
}

// fakeLeader listens at path outside the election, welcomes one member (speaking the leader
// side of handshake.go) and then never reads from it. It returns the accepted connection.
func fakeLeader(t *testing.T, path string) <-chan net.Conn {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		t.Cleanup(func() { c.Close() })
		c.Write(frame('C', append([]byte("splitbrain/2"), make([]byte, 16)...)))
		var hdr [5]byte
		if _, err := c.Read(hdr[:]); err != nil {
			return
		}
		hello := make([]byte, binary.BigEndian.Uint32(hdr[:4])-1)
		if _, err := c.Read(hello); err != nil {
			return
		}
		w := binary.BigEndian.AppendUint64(nil, 7)
		w = append(w, 4)
		w = append(w, "fake"...)
		w = binary.BigEndian.AppendUint32(w, election.DefaultMaxMessage)
		c.Write(frame('W', w))
		conns <- c
	}()
	return conns
}

// TestSendHonoursContextWhileWaitingForTheWriter: a Send stuck writing to a leader that
// does not read holds the writer; another Send with a deadline returns at its deadline
// instead of waiting behind it.
func TestSendHonoursContextWhileWaitingForTheWriter(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	conns := fakeLeader(t, path)
	r := start(t, election.Options{Address: path})
	r.wait(t, "follower of the fake leader", isKind(election.Follower))
	c := <-conns
	stuck := make(chan error, 1)
	go func() { stuck <- r.e.Send(context.Background(), make([]byte, election.DefaultMaxMessage)) }()
	// The big Send fills the socket buffer and blocks in write, holding the writer. Its
	// state is not observable from here: let later Sends try until one has to wait.
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		t0 := time.Now()
		err := r.e.Send(ctx, []byte("small"))
		took := time.Since(t0)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send while the writer is stuck = %v; want DeadlineExceeded", err)
		}
		if took > waitTimeout/3 {
			t.Fatalf("Send with a 50 ms deadline returned after %v", took)
		}
		select {
		case err := <-stuck:
			t.Fatalf("the big Send returned (%v) though nobody reads", err)
		default:
		}
		if i == 3 {
			break
		}
	}
	c.Close()
	if err := <-stuck; !errors.Is(err, election.ErrLeaderLost) {
		t.Errorf("the stuck Send, once the leader hung up: %v; want ErrLeaderLost", err)
	}
}

// TestCloseDrainsQueuedMessages: a leader that closes right after queueing many messages
// writes them all to its members before it hangs up.
func TestCloseDrainsQueuedMessages(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	opts := election.Options{QueueLength: 1 << 14, QueueBytes: 1 << 28}
	rs := group(t, path, 3, opts)
	leader := settled(t, rs, 1)
	for _, r := range rs {
		if r != leader {
			leader.wait(t, "connection of "+r.e.ID(), func(ev election.Event) bool {
				return ev.Kind == election.Connection && ev.Member == r.e.ID()
			})
		}
	}
	const n = 3000
	payload := make([]byte, 4096)
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint32(payload, uint32(i))
		if err := leader.e.Send(context.Background(), payload); err != nil {
			t.Fatal(err)
		}
	}
	leader.e.Close()
	for _, r := range rs {
		if r == leader {
			continue
		}
		r.wait(t, "lost", func(ev election.Event) bool { return ev.Kind == election.Lost && ev.Epoch == 1 })
		got := 0
		for _, ev := range r.events() {
			if ev.Kind == election.Lost {
				break
			}
			if ev.Kind == election.Message && ev.Member == leader.e.ID() {
				if i := int(binary.BigEndian.Uint32(ev.Data)); i != got {
					t.Fatalf("%s: message %d where %d was due", r.e.ID(), i, got)
				}
				got++
			}
		}
		if got != n {
			t.Errorf("%s received %d of the %d messages the leader queued before Close", r.e.ID(), got, n)
		}
	}
}

// TestCloseReportsUndelivered: a member that does not read cannot hold Close up beyond
// DrainTimeout; what was queued for it is reported as undelivered.
func TestCloseReportsUndelivered(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	const drain = 200 * time.Millisecond
	leader := start(t, election.Options{Address: path, ID: "leader", DrainTimeout: drain, QueueLength: 1 << 14, QueueBytes: 1 << 28})
	leader.wait(t, "leader", isKind(election.Leader))
	rawMember(t, path, "raw")
	leader.wait(t, "raw's connection", isKind(election.Connection))
	payload := make([]byte, 64<<10)
	for i := 0; i < 200; i++ { // 12.5 MiB: far more than the socket buffers hold
		if err := leader.e.Send(context.Background(), payload); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Now()
	leader.e.Close()
	took := time.Since(t0)
	if took > drain+waitTimeout/3 {
		t.Errorf("Close took %v with a DrainTimeout of %v", took, drain)
	}
	if took < drain/2 {
		t.Errorf("Close took %v: it did not try to drain for %v", took, drain)
	}
	t.Logf("Close took %v", took)
	leader.waitClosed(t)
	ev := leader.wait(t, "raw's disconnection", isKind(election.Disconnection))
	if !errors.Is(ev.Err, election.ErrUndelivered) {
		t.Errorf("raw's disconnection: %v; want ErrUndelivered", ev.Err)
	}
}

// TestMaxMessageAgreed: the group accepts only messages every member accepts. A message
// larger than some member's MaxMessage is refused to its sender with ErrTooLarge, and that
// member stays connected; a member whose limit is above the leader's is held to the
// leader's.
func TestMaxMessageAgreed(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	leader := start(t, election.Options{Address: path, ID: "leader", MaxMessage: 10000})
	leader.wait(t, "leader", isKind(election.Leader))
	small := start(t, election.Options{Address: path, ID: "small", MaxMessage: 1000})
	big := start(t, election.Options{Address: path, ID: "big", MaxMessage: 100000})
	small.wait(t, "follower", isKind(election.Follower))
	big.wait(t, "follower", isKind(election.Follower))
	eventually(t, "both members connected", func() bool { return leader.count(isKind(election.Connection)) == 2 })
	ctx := context.Background()
	// Above small's limit, within the leader's: refused by the leader, for small's sake.
	err := big.e.Send(ctx, make([]byte, 5000))
	wantErr(t, err, election.ErrTooLarge, "1000")
	err = leader.e.Send(ctx, make([]byte, 5000))
	wantErr(t, err, election.ErrTooLarge, "1000")
	// Above the leader's limit: refused before it is sent.
	err = big.e.Send(ctx, make([]byte, 20000))
	wantErr(t, err, election.ErrTooLarge, "10000")
	// Within every limit: delivered, and nobody was disconnected on the way.
	for i, r := range []*rec{big, leader} {
		data := []byte(fmt.Sprintf("%0999d", i))
		if err := r.e.Send(ctx, data); err != nil {
			t.Fatalf("%s: Send of 999 bytes: %v", r.e.ID(), err)
		}
		small.wait(t, "message "+strconv.Itoa(i), func(ev election.Event) bool {
			return ev.Kind == election.Message && string(ev.Data) == string(data)
		})
	}
	for _, r := range []*rec{small, big} {
		if n := r.count(isKind(election.Lost)); n != 0 {
			t.Errorf("%s lost its link: %v", r.e.ID(), r.events())
		}
	}
	if n := leader.count(isKind(election.Disconnection)); n != 0 {
		t.Errorf("the leader dropped members: %v", leader.events())
	}
	// small leaves: the limit goes back to the leader's own.
	small.e.Close()
	leader.wait(t, "small's disconnection", isKind(election.Disconnection))
	if err := big.e.Send(ctx, make([]byte, 5000)); err != nil {
		t.Errorf("5000 bytes once small left: %v", err)
	}
}
