package election

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"
)

// The handshake: the leader speaks first with the magic and a nonce, so a member can tell a
// group leader from any other program on the address. On TCP both sides prove they hold the
// shared secret (HMAC over both nonces) without sending it; on unix sockets the kernel's peer
// credentials do that job.

const nonceLen = 16

var errHandshakeTimeout = errors.New("leader did not answer the handshake in time")

func (e *Elector) mac(label string, parts ...[]byte) []byte {
	if e.secret == nil {
		return nil
	}
	h := hmac.New(sha256.New, e.secret)
	h.Write([]byte(label))
	for _, p := range parts {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(p))))
		h.Write(p)
	}
	return h.Sum(nil)
}

func nonce() []byte {
	b := make([]byte, nonceLen)
	rand.Read(b)
	return b
}

// greet is the member side. It returns the leader's id, epoch and message limit (the
// largest message the leader accepts).
func (e *Elector) greet(c net.Conn) (string, uint64, int, error) {
	c.SetDeadline(time.Now().Add(e.opts.HandshakeTimeout))
	defer c.SetDeadline(time.Time{})
	nc := nonce()
	id := []byte(e.opts.ID)
	lim := binary.BigEndian.AppendUint32(nil, uint32(e.opts.MaxMessage))
	hello := func(nl []byte) error {
		h := appendFrame(nil, frameHello, []byte{byte(len(id))}, id, nc, lim, e.mac("hello", nl, nc, id, lim))
		if _, err := c.Write(h); err != nil {
			return fmt.Errorf("handshake: %w", err)
		}
		return nil
	}
	// Without a secret (unix: the kernel vouches for the peer) the hello needs nothing from
	// the challenge: send it at once, which saves the leader a wake-up and a round trip per
	// member when a whole group reconnects.
	early := e.secret == nil
	if early {
		if err := hello(nil); err != nil {
			return "", 0, 0, err
		}
	}
	typ, p, err := readFrame(c, 512, nil)
	if err != nil {
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			return "", 0, 0, errHandshakeTimeout
		case errors.Is(err, ErrProtocol):
			// Bytes that are no frame of ours: another program holds the address. (A
			// leader on its way out hangs up instead, which is worth retrying.)
			return "", 0, 0, fmt.Errorf("%w: %s answered, but not as a splitbrain leader (protocol %q)", ErrForeignListener, e.t, magic)
		}
		return "", 0, 0, fmt.Errorf("handshake: %w", err)
	}
	if typ != frameChallenge || !bytes.HasPrefix(p, []byte(magic)) || len(p) != len(magic)+nonceLen {
		return "", 0, 0, fmt.Errorf("%w: %s answered, but not as a splitbrain leader (protocol %q)", ErrForeignListener, e.t, magic)
	}
	nl := bytes.Clone(p[len(magic):])
	if !early {
		if err := hello(nl); err != nil {
			return "", 0, 0, err
		}
	}
	typ, p, err = readFrame(c, 512, nil)
	if err != nil {
		return "", 0, 0, fmt.Errorf("handshake: %w", err)
	}
	switch typ {
	case frameRefuse:
		return "", 0, 0, fmt.Errorf("%w: the leader at %s refused us: %s", ErrForeignListener, e.t, p)
	case frameWelcome:
	default:
		return "", 0, 0, fmt.Errorf("%w: unexpected frame %q in handshake", ErrProtocol, typ)
	}
	if len(p) < 9 || len(p) < 9+int(p[8])+4 {
		return "", 0, 0, fmt.Errorf("%w: short welcome", ErrProtocol)
	}
	epoch := binary.BigEndian.Uint64(p)
	lid := p[9 : 9+int(p[8])]
	llim := p[9+int(p[8]) : 9+int(p[8])+4]
	got := p[9+int(p[8])+4:]
	if want := e.mac("welcome", nl, nc, p[:8], lid, llim); !hmac.Equal(got, want) {
		return "", 0, 0, fmt.Errorf("%w: the leader at %s does not hold our shared secret", ErrForeignListener, e.t)
	}
	limit := int(binary.BigEndian.Uint32(llim))
	if limit < 1 {
		return "", 0, 0, fmt.Errorf("%w: the leader announced a message limit of %d", ErrProtocol, limit)
	}
	return string(lid), epoch, limit, nil
}

// admit is the leader side. join is called with the member's id and message limit once it
// has proved itself, just before the welcome is written; an error from join refuses it.
func (e *Elector) admit(c net.Conn, epoch uint64, join func(id string, limit int) error) error {
	c.SetDeadline(time.Now().Add(e.opts.HandshakeTimeout))
	defer c.SetDeadline(time.Time{})
	nl := nonce()
	challenge := appendFrame(nil, frameChallenge, []byte(magic), nl)
	// Without a secret the member's hello does not depend on the challenge and comes first
	// (see greet): the challenge then goes out with the welcome, in one write, and the
	// member wakes once for both.
	early := e.secret == nil
	if !early {
		if _, err := c.Write(challenge); err != nil {
			return err
		}
	}
	typ, p, err := readFrame(c, 512, nil)
	if err != nil {
		return err
	}
	if typ != frameHello || len(p) < 1 || len(p) < 1+int(p[0])+nonceLen+4 {
		return fmt.Errorf("%w: bad hello", ErrProtocol)
	}
	id := p[1 : 1+int(p[0])]
	nc := p[1+int(p[0]) : 1+int(p[0])+nonceLen]
	mlim := p[1+int(p[0])+nonceLen : 1+int(p[0])+nonceLen+4]
	got := p[1+int(p[0])+nonceLen+4:]
	if want := e.mac("hello", nl, nc, id, mlim); !hmac.Equal(got, want) {
		c.Write(appendFrame(nil, frameRefuse, []byte("wrong shared secret")))
		return fmt.Errorf("member %q does not hold our shared secret", id)
	}
	limit := int(binary.BigEndian.Uint32(mlim))
	if limit < 1 {
		return fmt.Errorf("%w: member %q announced a message limit of %d", ErrProtocol, id, limit)
	}
	if e.opts.Failpoints.refuses(string(id)) {
		r := appendFrame(nil, frameRefuse, []byte("the group is full"))
		if early {
			r = append(challenge, r...)
		}
		c.Write(r)
		return errTurnedAway
	}
	if err := join(string(id), limit); err != nil {
		return err
	}
	lid := []byte(e.opts.ID)
	ep := u64(epoch)
	lim := binary.BigEndian.AppendUint32(nil, uint32(e.opts.MaxMessage))
	w := appendFrame(nil, frameWelcome, ep, []byte{byte(len(lid))}, lid, lim, e.mac("welcome", nl, nc, ep, lid, lim))
	if early {
		w = append(challenge, w...)
	}
	if _, err := c.Write(w); err != nil {
		return err
	}
	return nil
}
