package election

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Wire frames: a 4-byte big-endian length (of type + payload), a type byte, the payload.
const (
	frameChallenge byte = 'C' // leader → member: magic, nonce
	frameHello     byte = 'H' // member → leader: id, nonce, max message(4), mac
	frameWelcome   byte = 'W' // leader → member: epoch, leader id, max message(4), mac
	frameRefuse    byte = 'R' // leader → member: reason
	frameSend      byte = 'S' // member → leader: seq(8), data
	frameAck       byte = 'A' // leader → member: seq(8)
	frameNack      byte = 'N' // leader → member: seq(8), reason (the message was relayed to nobody)
	frameDeliver   byte = 'D' // leader → member: len(from)(2), from, data
	frameDeck      byte = 'U' // leader → member: you are my successor (try the lock first)
)

// magic opens every challenge so a member can tell a group leader from an unrelated program.
// Version 2 added the message limits to the handshake.
const magic = "splitbrain/2"

// frameOverhead is what a frame adds to its payload, beyond the message itself: the length,
// the type, and the largest header (a sequence number or a member id).
const frameOverhead = 4 + 1 + 2 + 255

func appendFrame(dst []byte, typ byte, parts ...[]byte) []byte {
	n := 1
	for _, p := range parts {
		n += len(p)
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, typ)
	for _, p := range parts {
		dst = append(dst, p...)
	}
	return dst
}

// readFrame reads one frame whose payload is at most max bytes. buf is reused if large enough.
func readFrame(r io.Reader, max int, buf []byte) (typ byte, payload []byte, err error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:4]))
	if n < 1 || n-1 > max {
		return 0, nil, fmt.Errorf("%w: frame of %d bytes (limit %d)", ErrProtocol, n-1, max)
	}
	if cap(buf) < n-1 {
		buf = make([]byte, n-1)
	}
	buf = buf[:n-1]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return hdr[4], buf, nil
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func deliverPayload(from string, data []byte) [][]byte {
	return [][]byte{binary.BigEndian.AppendUint16(nil, uint16(len(from))), []byte(from), data}
}

func parseDeliver(p []byte) (from string, data []byte, err error) {
	if len(p) < 2 {
		return "", nil, fmt.Errorf("%w: short deliver frame", ErrProtocol)
	}
	n := int(binary.BigEndian.Uint16(p))
	if len(p) < 2+n {
		return "", nil, fmt.Errorf("%w: short deliver frame", ErrProtocol)
	}
	return string(p[2 : 2+n]), p[2+n:], nil
}
