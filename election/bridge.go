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
	members map[*member]struct{}
	wg      sync.WaitGroup
}

// member is one connected member as the leader sees it.
type member struct {
	id   string
	conn net.Conn

	mu      sync.Mutex
	q       chan []byte
	bytes   int
	dropped error
	quit    chan struct{}
}

// serve leads: it accepts members until ctx is done or the listener fails.
func (e *Elector) serve(ctx context.Context, ln net.Listener, epoch uint64) error {
	h := &hub{e: e, epoch: epoch, members: map[*member]struct{}{}}
	e.setRole(Leader, h, nil)
	defer e.setRole(0, nil, nil)
	e.emit(ctx, Event{Kind: Leader, Epoch: epoch})

	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var err error
	for {
		var c net.Conn
		c, err = ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				break
			}
			// Out of file descriptors and the like: keep leading, try again shortly.
			select {
			case <-time.After(5 * time.Millisecond):
				continue
			case <-ctx.Done():
			}
			break
		}
		h.wg.Add(1)
		go h.handle(ctx, c)
	}
	cancel()
	ln.Close()
	h.mu.Lock()
	for m := range h.members {
		m.conn.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("accept on %s: %w", e.t, err)
}

func (h *hub) handle(ctx context.Context, c net.Conn) {
	defer h.wg.Done()
	e := h.e
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	e.opts.Failpoints.Hit(FailAfterAccept)
	if _, err := e.t.checkPeer(c, false); err != nil {
		c.Write(appendFrame(nil, frameRefuse, []byte(err.Error())))
		return
	}
	m := &member{conn: c, q: make(chan []byte, e.opts.QueueLength), quit: make(chan struct{})}
	// The member joins the relay before it is welcomed: a message relayed after it knows it
	// follows must reach it. Frames queued meanwhile wait for the writer, after the welcome.
	err := e.admit(c, h.epoch, func(id string) {
		m.id = id
		h.mu.Lock()
		h.members[m] = struct{}{}
		h.mu.Unlock()
	})
	if err != nil {
		h.mu.Lock()
		delete(h.members, m)
		h.mu.Unlock()
		return
	}
	id := m.id
	e.emit(ctx, Event{Kind: Connection, Member: id, Epoch: h.epoch})

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); m.write() }()

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
		h.relay(ctx, m.id, m, p[8:])
		m.enqueue(appendFrame(nil, frameAck, p[:8]), e.opts.QueueBytes)
	}
	h.mu.Lock()
	delete(h.members, m)
	h.mu.Unlock()
	close(m.quit)
	c.Close()
	wg.Wait()
	m.mu.Lock()
	reason := m.dropped
	m.mu.Unlock()
	e.emit(ctx, Event{Kind: Disconnection, Member: id, Epoch: h.epoch, Err: reason})
}

// relay queues data from one member (nil: the leader itself) for every other member, and
// hands it to the leader's own user unless the leader sent it.
func (h *hub) relay(ctx context.Context, from string, src *member, data []byte) {
	f := appendFrame(nil, frameDeliver, deliverPayload(from, data)...)
	h.mu.Lock()
	for m := range h.members {
		if m != src {
			m.enqueue(f, h.e.opts.QueueBytes)
		}
	}
	h.mu.Unlock()
	if src != nil {
		h.e.emit(ctx, Event{Kind: Message, Member: from, Data: bytes.Clone(data), Epoch: h.epoch})
	}
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

// write sends queued frames, batching whatever is waiting into one writev.
func (m *member) write() {
	var bufs net.Buffers
	for {
		select {
		case f := <-m.q:
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
			_, err := bufs.WriteTo(m.conn)
			m.mu.Lock()
			m.bytes -= n
			m.mu.Unlock()
			if err != nil {
				m.conn.Close()
				return
			}
		case <-m.quit:
			return
		}
	}
}

// link is a follower's connection to its leader.
type link struct {
	c      net.Conn
	leader string
	epoch  uint64

	wmu sync.Mutex

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
	leader, epoch, err := e.greet(c)
	if err != nil {
		return err
	}
	e.t.standby()
	l := &link{c: c, leader: leader, epoch: epoch, pending: map[uint64]chan error{}}
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

func (l *link) fail() {
	l.pmu.Lock()
	l.dead = true
	for seq, ch := range l.pending {
		ch <- ErrLeaderLost
		delete(l.pending, seq)
	}
	l.pmu.Unlock()
}

func (l *link) send(ctx context.Context, data []byte) error {
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

	f := appendFrame(nil, frameSend, u64(seq), data)
	l.wmu.Lock()
	stop := context.AfterFunc(ctx, func() { l.c.SetWriteDeadline(time.Now()) })
	_, err := l.c.Write(f)
	stop()
	l.c.SetWriteDeadline(time.Time{})
	l.wmu.Unlock()
	if err != nil {
		// A frame cut in the middle breaks the stream: hang up, and elect again.
		l.c.Close()
		l.resolve(seq, nil)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %v", ErrLeaderLost, err)
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		l.pmu.Lock()
		delete(l.pending, seq)
		l.pmu.Unlock()
		return ctx.Err()
	}
}

// Send broadcasts data to every other member of the group. It returns nil once the leader
// has queued it for every member connected at that time (for the leader itself: at once),
// and an error if no leader took it: ErrNoLeader, ErrLeaderLost, ErrTooLarge, or ctx's.
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
		h.relay(ctx, e.opts.ID, nil, data)
		return nil
	case Follower:
		return l.send(ctx, data)
	}
	return ErrNoLeader
}
