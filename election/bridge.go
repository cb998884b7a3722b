// This file keeps the relay's leader side and member side together, past 500 lines: they
// share the frame format, the queues and the drain rules that Send's promise rests on, and
// reading one without the other is how that promise was broken before.

package election

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// The bridge: the leader is the hub. A member sends a frame to the leader; the leader queues
// it for every other member and for its own user, then acknowledges it to the sender. Each
// member has its own bounded queue and writer, so a slow member delays nobody: when its queue
// overflows it is dropped, and learns it by losing its link.

// hub is the leader's side of the bridge.
type hub struct {
	e     *Elector
	epoch uint64

	mu      sync.Mutex
	members map[*member]struct{}  // welcomed members, who receive relays
	order   []*member             // members in the order they joined
	deck    *member               // the successor: the member that joined first
	conns   map[net.Conn]struct{} // every accepted connection, welcomed or not
	limit   int                   // the largest message every member (and we) accept
	closing bool                  // no more relays: the leader is stopping
	flush   chan struct{}         // closed when the leader stops: writers drain and return
	wg      sync.WaitGroup
}

// member is one connected member as the leader sees it.
type member struct {
	id    string
	conn  net.Conn
	limit int // the member's MaxMessage, from its hello

	mu          sync.Mutex
	q           chan []byte
	bytes       int
	dropped     error
	undelivered int           // frames left unwritten when the leader stopped
	quit        chan struct{} // closed when the member's read side ends
	written     chan struct{} // closed when the writer returns
}

// checkEvery is how often a leader checks that its path still names its socket and its
// lock file is still the one at the path.
const checkEvery = 50 * time.Millisecond

// serve leads: it accepts members until ctx is done, the listener fails, or the watchdog
// finds that this leader was displaced. It then resigns (the listener and the lock go),
// drains what it queued for its members for up to DrainTimeout, and hangs up.
func (e *Elector) serve(ctx context.Context, ln net.Listener, epoch uint64) error {
	h := &hub{e: e, epoch: epoch, members: map[*member]struct{}{}, conns: map[net.Conn]struct{}{},
		limit: e.opts.MaxMessage, flush: make(chan struct{})}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	// The watchdog: a leader whose path or lock file changed under it must resign, or new
	// processes would elect another leader beside it.
	var displaced error
	watchdog := make(chan struct{})
	go func() {
		defer close(watchdog)
		t := time.NewTicker(checkEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := e.t.check(); err != nil {
					displaced = err
					ln.Close()
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	e.setRole(Leader, h, nil)
	e.emit(ctx, Event{Kind: Leader, Epoch: epoch})
	var err error
	for {
		var c net.Conn
		c, err = ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				break
			}
			// Out of file descriptors and the like: keep leading, try again shortly.
			if !sleep(ctx, 5*time.Millisecond) {
				break
			}
			continue
		}
		h.mu.Lock()
		h.conns[c] = struct{}{}
		h.mu.Unlock()
		h.wg.Add(1)
		go h.handle(ctx, c)
	}
	cancel()
	<-watchdog
	e.setRole(0, nil, nil)
	// Resign before hanging up on the members: once they see EOF they try the lock, and it
	// must be free by then. Our socket is gone first, so no successor binds beside it.
	e.t.resign(ln)
	h.stop(e.opts.DrainTimeout)
	h.wg.Wait()
	switch {
	case displaced != nil:
		return displaced
	case parent.Err() != nil:
		return nil
	}
	return fmt.Errorf("accept on %s: %w", e.t, err)
}

// stop ends the relay: no more messages are taken, each member's writer writes what is
// queued for it (within d), and then every connection is closed.
func (h *hub) stop(d time.Duration) {
	deadline := time.Now().Add(d)
	h.mu.Lock()
	h.closing = true
	var ms []*member
	for m := range h.members {
		m.conn.SetWriteDeadline(deadline)
		ms = append(ms, m)
	}
	close(h.flush)
	h.mu.Unlock()
	timer := time.NewTimer(d)
	defer timer.Stop()
wait:
	for _, m := range ms {
		select {
		case <-m.written:
		case <-m.quit:
		case <-timer.C:
			break wait
		}
	}
	h.mu.Lock()
	for c := range h.conns {
		c.Close()
	}
	h.mu.Unlock()
}

func (h *hub) handle(ctx context.Context, c net.Conn) {
	defer h.wg.Done()
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
	}()
	defer c.Close()
	e := h.e
	e.opts.Failpoints.Hit(FailAfterAccept)
	if _, err := e.t.checkPeer(c, false); err != nil {
		c.Write(appendFrame(nil, frameRefuse, []byte(err.Error())))
		return
	}
	m := &member{conn: c, q: make(chan []byte, e.opts.QueueLength), quit: make(chan struct{}), written: make(chan struct{})}
	// The member joins the relay before it is welcomed: a message relayed after it knows it
	// follows must reach it. Frames queued meanwhile wait for the writer, after the welcome.
	joined := false
	err := e.admit(c, h.epoch, func(id string, limit int) error {
		m.id, m.limit = id, limit
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.closing {
			return ErrNoLeader
		}
		h.members[m] = struct{}{}
		h.order = append(h.order, m)
		h.limit = min(h.limit, limit)
		joined = true
		if h.deck == nil {
			h.designate(m)
		}
		return nil
	})
	if err != nil {
		if joined {
			h.leave(m)
			close(m.quit)
		}
		return
	}
	id := m.id
	e.emit(ctx, Event{Kind: Connection, Member: id, Epoch: h.epoch})

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); defer close(m.written); m.write(h.flush) }()

	var buf []byte
	for {
		typ, p, err := readFrame(c, e.opts.MaxMessage+8, buf)
		if err != nil {
			break
		}
		buf = p
		if typ != frameSend || len(p) < 8 {
			m.drop(fmt.Errorf("%w: unexpected frame %q", ErrProtocol, typ))
			break
		}
		switch err := h.relay(ctx, m.id, m, p[8:]); {
		case err == nil:
			m.enqueue(appendFrame(nil, frameAck, p[:8]), e.opts.QueueBytes)
		case errors.Is(err, ErrTooLarge):
			m.enqueue(appendFrame(nil, frameNack, p[:8], []byte(err.Error())), e.opts.QueueBytes)
		}
		// Refused because we are stopping: no answer; the member's Send fails when we
		// hang up.
	}
	h.leave(m)
	close(m.quit)
	c.Close()
	wg.Wait()
	m.mu.Lock()
	reason := m.dropped
	if m.undelivered > 0 && reason == nil {
		reason = fmt.Errorf("%w: %d frames queued for %s were not written within %v of the leader stopping",
			ErrUndelivered, m.undelivered, id, e.opts.DrainTimeout)
	}
	m.mu.Unlock()
	e.emit(ctx, Event{Kind: Disconnection, Member: id, Epoch: h.epoch, Err: reason})
}

// leave takes m out of the relay, recomputes the group's message limit, and puts another
// member on deck if m was.
func (h *hub) leave(m *member) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.members, m)
	h.limit = h.e.opts.MaxMessage
	for o := range h.members {
		h.limit = min(h.limit, o.limit)
	}
	for i, o := range h.order {
		if o == m {
			h.order = append(h.order[:i], h.order[i+1:]...)
			break
		}
	}
	if h.deck == m {
		h.deck = nil
		if len(h.order) > 0 && !h.closing {
			h.designate(h.order[0])
		}
	}
}

// designate puts m on deck: it alone wakes to try the lock when this leader goes; the others
// sleep until the next leader's socket appears (or, should m be gone too, a timer). The
// oldest member is chosen, the one least likely to be leaving. Called with h.mu held.
func (h *hub) designate(m *member) {
	h.deck = m
	m.enqueue(appendFrame(nil, frameDeck), h.e.opts.QueueBytes)
}

// relay queues data from one member (nil: the leader itself) for every other member, and
// hands it to the leader's own user unless the leader sent it. It refuses a message larger
// than some member accepts (ErrTooLarge), and any message once the leader is stopping.
func (h *hub) relay(ctx context.Context, from string, src *member, data []byte) error {
	f := appendFrame(nil, frameDeliver, deliverPayload(from, data)...)
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return ErrNoLeader
	}
	if len(data) > h.limit {
		limit := h.limit
		h.mu.Unlock()
		return fmt.Errorf("%w: %d bytes; a member of the group accepts at most %d (its Options.MaxMessage)", ErrTooLarge, len(data), limit)
	}
	for m := range h.members {
		if m != src {
			m.enqueue(f, h.e.opts.QueueBytes)
		}
	}
	h.mu.Unlock()
	if src != nil {
		h.e.emit(ctx, Event{Kind: Message, Member: from, Data: bytes.Clone(data), Epoch: h.epoch})
	}
	return nil
}

// enqueue never blocks: a member whose queue is full is dropped instead.
func (m *member) enqueue(f []byte, maxBytes int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dropped != nil {
		return
	}
	if len(m.q) == cap(m.q) || m.bytes+len(f) > maxBytes {
		m.dropped = ErrSlowMember
		m.conn.Close()
		return
	}
	m.bytes += len(f)
	m.q <- f
}

func (m *member) drop(err error) {
	m.mu.Lock()
	if m.dropped == nil {
		m.dropped = err
	}
	m.mu.Unlock()
	m.conn.Close()
}

// write sends queued frames, batching whatever is waiting into one writev. When flush is
// closed (the leader stops) it writes what is left in the queue and returns; frames it
// could not write are counted as undelivered.
func (m *member) write(flush <-chan struct{}) {
	var bufs net.Buffers
	send := func(f []byte) error {
		bufs = append(bufs[:0], f)
		n := len(f)
	more:
		for len(bufs) < 64 {
			select {
			case f := <-m.q:
				bufs = append(bufs, f)
				n += len(f)
			default:
				break more
			}
		}
		count := len(bufs)
		_, err := bufs.WriteTo(m.conn)
		m.mu.Lock()
		m.bytes -= n
		if err != nil {
			m.undelivered += count + len(m.q)
		}
		m.mu.Unlock()
		if err != nil {
			m.conn.Close()
		}
		return err
	}
	for {
		select {
		case f := <-m.q:
			if send(f) != nil {
				return
			}
		case <-m.quit:
			return
		case <-flush:
			for {
				select {
				case f := <-m.q:
					if send(f) != nil {
						return
					}
				default:
					return
				}
			}
		}
	}
}

// link is a follower's connection to its leader.
type link struct {
	c      net.Conn
	leader string
	epoch  uint64
	limit  int // the largest message this member may send: its own limit and the leader's

	wsem chan struct{} // the writer: one Send writes at a time

	pmu     sync.Mutex
	seq     uint64
	pending map[uint64]chan error
	dead    bool
}

// follow runs one connection to a leader until it ends. Errors that retrying cannot fix
// (a foreign listener) are returned; a link that merely ends returns nil after Lost.
func (e *Elector) follow(ctx context.Context, c net.Conn) error {
	defer c.Close()
	e.opts.Failpoints.Hit(FailAfterConnect)
	pid, err := e.t.checkPeer(c, true)
	if err != nil {
		return err
	}
	leader, epoch, limit, err := e.greet(c)
	if err != nil {
		return err
	}
	e.saw(epoch)
	e.t.standby(pid)
	l := &link{c: c, leader: leader, epoch: epoch, limit: min(limit, e.opts.MaxMessage),
		wsem: make(chan struct{}, 1), pending: map[uint64]chan error{}}
	e.setRole(Follower, nil, l)
	e.emit(ctx, Event{Kind: Follower, Leader: leader, LeaderPID: pid, Epoch: epoch})

	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	var buf []byte
	for {
		var typ byte
		var p []byte
		typ, p, err = readFrame(c, e.opts.MaxMessage+frameOverhead, buf)
		if err != nil {
			break
		}
		buf = p
		switch typ {
		case frameDeliver:
			from, data, perr := parseDeliver(p)
			if perr != nil {
				err = perr
			} else {
				e.emit(ctx, Event{Kind: Message, Member: from, Data: bytes.Clone(data), Epoch: epoch})
			}
		case frameAck:
			if len(p) == 8 {
				l.resolve(binary.BigEndian.Uint64(p), nil)
			}
		case frameDeck:
			e.t.onDeck()
		case frameNack:
			if len(p) >= 8 {
				l.resolve(binary.BigEndian.Uint64(p), fmt.Errorf("%w: the leader refused it: %s", ErrTooLarge, p[8:]))
			}
		default:
			err = fmt.Errorf("%w: unexpected frame %q", ErrProtocol, typ)
		}
		if err != nil {
			break
		}
	}
	c.Close()
	l.fail()
	e.setRole(0, nil, nil)
	if ctx.Err() == nil {
		e.emit(ctx, Event{Kind: Lost, Leader: leader, Epoch: epoch, Err: err})
	}
	return nil
}

func (l *link) resolve(seq uint64, err error) {
	l.pmu.Lock()
	ch := l.pending[seq]
	delete(l.pending, seq)
	l.pmu.Unlock()
	if ch != nil {
		ch <- err
	}
}

func (l *link) forget(seq uint64) {
	l.pmu.Lock()
	delete(l.pending, seq)
	l.pmu.Unlock()
}

func (l *link) fail() {
	l.pmu.Lock()
	l.dead = true
	for seq, ch := range l.pending {
		ch <- ErrLeaderLost
		delete(l.pending, seq)
	}
	l.pmu.Unlock()
}

// closeWrite shuts down the writing half of c (or all of it, if it cannot).
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		return
	}
	c.Close()
}

// aLongTimeAgo is a deadline that makes a blocked write return at once.
var aLongTimeAgo = time.Unix(1, 0)

func (l *link) send(ctx context.Context, data []byte) error {
	if len(data) > l.limit {
		return fmt.Errorf("%w: %d bytes; the limit is %d (Options.MaxMessage here and at the leader %s)",
			ErrTooLarge, len(data), l.limit, l.leader)
	}
	ch := make(chan error, 1)
	l.pmu.Lock()
	if l.dead {
		l.pmu.Unlock()
		return ErrNoLeader
	}
	l.seq++
	seq := l.seq
	l.pending[seq] = ch
	l.pmu.Unlock()

	// Wait for the writer, or for ctx.
	select {
	case l.wsem <- struct{}{}:
	case <-ctx.Done():
		l.forget(seq)
		return ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		<-l.wsem
		l.forget(seq)
		return err
	}
	f := appendFrame(nil, frameSend, u64(seq), data)
	// A cancellation cuts the write short with a deadline in the past. If it fires while we
	// finish, wait for it before clearing the deadline, or the deadline would stay in the
	// past and break the next Send.
	cut := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		l.c.SetWriteDeadline(aLongTimeAgo)
		close(cut)
	})
	n, err := l.c.Write(f)
	if !stop() {
		<-cut
	}
	l.c.SetWriteDeadline(time.Time{})
	<-l.wsem
	if err != nil {
		l.forget(seq)
		if n > 0 || ctx.Err() == nil {
			// A frame cut in the middle breaks the stream to the leader: stop writing, so
			// the leader drops us. Reading goes on: what the leader wrote before it went
			// (a closing leader drains its queues) is still ours to deliver.
			closeWrite(l.c)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %v", ErrLeaderLost, err)
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		l.forget(seq)
		return ctx.Err()
	}
}

// Send broadcasts data to every other member of the group, the leader included.
//
// It returns nil once the leader has taken the message and queued it for every member
// connected to it at that time (when this process leads: at once). The leader then writes
// it to each of them, in order, unless that member leaves or is dropped for falling behind
// (it then loses its link, and elects again); a leader that closes or resigns first writes
// what it has queued, for up to Options.DrainTimeout, and reports what it could not write
// as ErrUndelivered in that member's Disconnection event.
//
// It returns an error if the leader did not take the message: ErrNoLeader (no leader now),
// ErrLeaderLost (the leader went before acknowledging it: it may have reached some members,
// or none), ErrTooLarge (larger than this process's or some member's Options.MaxMessage:
// reached nobody), or ctx's error. ctx is honoured while Send waits for another Send to
// finish writing, while it writes (a write cut in the middle of a frame ends the link, as
// ErrLeaderLost would), and while it waits for the acknowledgement. A cancelled Send never
// affects the next one.
//
// Send is safe for concurrent use.
func (e *Elector) Send(ctx context.Context, data []byte) error {
	if len(data) > e.opts.MaxMessage {
		return fmt.Errorf("%w: %d bytes; the limit is %d (Options.MaxMessage)", ErrTooLarge, len(data), e.opts.MaxMessage)
	}
	e.mu.Lock()
	role, h, l := e.role, e.hub, e.link
	e.mu.Unlock()
	switch role {
	case Leader:
		return h.relay(ctx, e.opts.ID, nil, data)
	case Follower:
		return l.send(ctx, data)
	}
	return ErrNoLeader
}
