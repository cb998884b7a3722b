package canary

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

// strategy is one canary's election: the part where the bugs live.
type strategy interface {
	// elect returns a listener when this process now leads, or a connection to the leader
	// when it follows. It retries until it has one, and returns errStopped once stop is
	// closed.
	elect(stop <-chan struct{}) (net.Listener, net.Conn, error)
	// resign is the leader's graceful shutdown path. It must close ln and call
	// dropMembers, in whatever order the canary gets wrong.
	resign(ln net.Listener, dropMembers func())
	// close releases what the strategy holds for the life of the process.
	close()
}

// errStopped is elect's answer once the peer was asked to stop.
var errStopped = errors.New("stopped")

const (
	// retryDelay is how long an election waits before trying again (leader starting).
	retryDelay = 25 * time.Millisecond
	// writeTimeout bounds one frame write, so a stopped member cannot block the hub.
	writeTimeout = 2 * time.Second
)

// pause waits d, or until stop is closed; it reports whether the caller may go on.
func pause(stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stop:
		return false
	case <-t.C:
		return true
	}
}

func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// frame is one line of the canaries' own wire protocol between peers (JSON lines).
type frame struct {
	T     string `json:"t"` // hello (member->leader), welcome, msg, ack, nack
	Peer  string `json:"peer,omitempty"`
	From  string `json:"from,omitempty"`
	ID    string `json:"id,omitempty"`
	Data  string `json:"data,omitempty"`
	Error string `json:"error,omitempty"`
}

// link is one connection, with writes serialized.
type link struct {
	c   net.Conn
	dec *json.Decoder
	mu  sync.Mutex
}

func newLink(c net.Conn) *link { return &link{c: c, dec: json.NewDecoder(c)} }

func (l *link) send(f frame) error {
	b, _ := json.Marshal(f)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := l.c.Write(append(b, '\n'))
	return err
}

func (l *link) recv() (frame, error) {
	var f frame
	err := l.dec.Decode(&f)
	return f, err
}

type roleKind int

const (
	roleNone roleKind = iota
	roleLeading
	roleResigning
	roleFollowing
)

// node is the outward behaviour every canary shares: a hub when leading, a client when
// following, and the protocol events of both.
type node struct {
	p *peerio.Peer
	s strategy

	mu      sync.Mutex // guards the fields below; held during fan-out so joins and relays are ordered
	role    roleKind
	members map[*link]string // leader: member link -> peer id
	leader  *link            // follower: the link to the leader
	pending map[string]bool  // follower: broadcast ids the leader has not acknowledged
}

func run(p *peerio.Peer, s strategy) error {
	defer s.close()
	n := &node{p: p, s: s, pending: map[string]bool{}}
	n.emit(protocol.Event{Event: protocol.EventReady})
	go func() {
		for c := range p.Commands() {
			if c.Cmd == protocol.CmdBroadcast {
				n.broadcast(c.ID, c.Data)
			}
		}
	}()
	for {
		ln, conn, err := s.elect(p.Stop())
		if errors.Is(err, errStopped) {
			break
		}
		if err != nil {
			return err
		}
		var done bool
		if ln != nil {
			done = n.lead(ln)
		} else {
			done = n.follow(conn)
		}
		if done {
			break
		}
	}
	n.emit(protocol.Event{Event: protocol.EventClosed})
	return nil
}

func (n *node) emit(ev protocol.Event) { n.p.Emit(ev) } // EPIPE: the harness is gone; nothing to do

// lead serves as the hub on ln until the peer is stopped (true) or the listener fails
// (false: re-elect).
func (n *node) lead(ln net.Listener) bool {
	n.p.Hit(election.FailAfterListen)
	n.mu.Lock()
	n.role, n.members = roleLeading, map[*link]string{}
	n.mu.Unlock()
	n.emit(protocol.Event{Event: protocol.EventLeader})

	acceptErr := make(chan error, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				acceptErr <- err
				return
			}
			go n.serve(c)
		}
	}()
	select {
	case <-n.p.Stop():
		n.mu.Lock()
		n.role = roleResigning // joins during the shutdown path are turned away
		n.mu.Unlock()
		n.s.resign(ln, n.dropMembers)
		<-acceptErr
		return true
	case err := <-acceptErr:
		n.emit(protocol.Event{Event: protocol.EventLost, Reason: fmt.Sprintf("accept: %v", err)})
		ln.Close()
		n.mu.Lock()
		n.role = roleNone
		n.mu.Unlock()
		n.dropMembers()
		return false
	}
}

// dropMembers closes every member's connection; serve reports each disconnection.
func (n *node) dropMembers() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for l := range n.members {
		l.c.Close()
	}
}

// serve is the leader's side of one member connection.
func (n *node) serve(c net.Conn) {
	defer c.Close()
	n.p.Hit(election.FailAfterAccept)
	l := newLink(c)
	hello, err := l.recv()
	if err != nil || hello.T != "hello" || hello.Peer == "" {
		return
	}
	n.mu.Lock()
	if n.role != roleLeading {
		n.mu.Unlock()
		return
	}
	if err := l.send(frame{T: "welcome", Peer: n.p.ID()}); err != nil {
		n.mu.Unlock()
		return
	}
	n.members[l] = hello.Peer
	n.mu.Unlock()
	n.emit(protocol.Event{Event: protocol.EventConnection, Member: hello.Peer})
	defer func() {
		n.mu.Lock()
		delete(n.members, l)
		n.mu.Unlock()
		n.emit(protocol.Event{Event: protocol.EventDisconnection, Member: hello.Peer})
	}()
	for {
		f, err := l.recv()
		if err != nil {
			return
		}
		if f.T != "msg" {
			continue
		}
		n.emit(protocol.Event{Event: protocol.EventMessage, From: f.From, ID: f.ID, Data: f.Data})
		n.mu.Lock()
		err = n.fanOut(f, l)
		n.mu.Unlock()
		if err != nil {
			l.send(frame{T: "nack", ID: f.ID, Error: err.Error()})
		} else {
			l.send(frame{T: "ack", ID: f.ID})
		}
	}
}

// fanOut sends f to every member but skip. n.mu is held.
func (n *node) fanOut(f frame, skip *link) error {
	var errs []error
	for l, id := range n.members {
		if l == skip {
			continue
		}
		if err := l.send(f); err != nil {
			errs = append(errs, fmt.Errorf("to %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// follow is the member's side of conn until the peer is stopped (true) or the leader is
// lost (false: re-elect).
func (n *node) follow(conn net.Conn) bool {
	n.p.Hit(election.FailAfterConnect)
	l := newLink(conn)
	defer conn.Close()
	done := make(chan struct{})
	defer close(done)
	go func() { // a stop closes the connection, which ends the read loop below
		select {
		case <-n.p.Stop():
			conn.Close()
		case <-done:
		}
	}()
	if err := l.send(frame{T: "hello", Peer: n.p.ID()}); err != nil {
		return stopped(n.p.Stop()) || !pause(n.p.Stop(), retryDelay)
	}
	w, err := l.recv()
	if err != nil || w.T != "welcome" {
		return stopped(n.p.Stop()) || !pause(n.p.Stop(), retryDelay)
	}
	n.mu.Lock()
	n.role, n.leader = roleFollowing, l
	n.mu.Unlock()
	n.emit(protocol.Event{Event: protocol.EventFollower, Leader: w.Peer})

	var readErr error
	for {
		f, err := l.recv()
		if err != nil {
			readErr = err
			break
		}
		switch f.T {
		case "msg":
			n.emit(protocol.Event{Event: protocol.EventMessage, From: f.From, ID: f.ID, Data: f.Data})
		case "ack", "nack":
			n.mu.Lock()
			was := n.pending[f.ID]
			delete(n.pending, f.ID)
			n.mu.Unlock()
			if !was {
				continue
			}
			if f.T == "ack" {
				n.emit(protocol.Event{Event: protocol.EventSent, ID: f.ID})
			} else {
				n.emit(protocol.Event{Event: protocol.EventSendFailed, ID: f.ID, Error: f.Error})
			}
		}
	}
	n.mu.Lock()
	n.role, n.leader = roleNone, nil
	lost := n.pending
	n.pending = map[string]bool{}
	n.mu.Unlock()
	for id := range lost {
		n.emit(protocol.Event{Event: protocol.EventSendFailed, ID: id, Error: "leader lost before it acknowledged"})
	}
	if stopped(n.p.Stop()) {
		return true
	}
	n.emit(protocol.Event{Event: protocol.EventLost, Reason: fmt.Sprintf("leader connection: %v", readErr)})
	return false
}

// broadcast sends data to every other member through the hub and reports the outcome.
func (n *node) broadcast(id, data string) {
	f := frame{T: "msg", From: n.p.ID(), ID: id, Data: data}
	n.mu.Lock()
	switch n.role {
	case roleLeading:
		err := n.fanOut(f, nil)
		n.mu.Unlock()
		if err != nil {
			n.emit(protocol.Event{Event: protocol.EventSendFailed, ID: id, Error: err.Error()})
		} else {
			n.emit(protocol.Event{Event: protocol.EventSent, ID: id})
		}
	case roleFollowing:
		n.pending[id] = true
		l := n.leader
		n.mu.Unlock()
		if err := l.send(f); err != nil {
			n.mu.Lock()
			was := n.pending[id]
			delete(n.pending, id)
			n.mu.Unlock()
			if was {
				n.emit(protocol.Event{Event: protocol.EventSendFailed, ID: id, Error: err.Error()})
			}
		}
	default:
		n.mu.Unlock()
		n.emit(protocol.Event{Event: protocol.EventSendFailed, ID: id, Error: "no leader: an election is under way"})
	}
}
