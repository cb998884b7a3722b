// Package protocol holds the wire types of the splitbrain peer protocol (docs/PROTOCOL.md):
// the environment a peer is started with, the events it writes on stdout and the commands it
// reads on stdin. Both the harness and the reference peer use it, so the two cannot drift.
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Version is the protocol version this package speaks, set in EnvProtocol.
const Version = 1

// Environment variable names. Users' adapters depend on them: never rename.
const (
	EnvProtocol   = "SPLITBRAIN_PROTOCOL"
	EnvTransport  = "SPLITBRAIN_TRANSPORT"
	EnvAddr       = "SPLITBRAIN_ADDR"
	EnvPeer       = "SPLITBRAIN_PEER"
	EnvSecretFile = "SPLITBRAIN_SECRET_FILE"
	EnvFailpoints = "SPLITBRAIN_FAILPOINTS"
)

// Event kinds a peer writes on stdout.
const (
	EventReady         = "ready"
	EventLeader        = "leader"
	EventFollower      = "follower"
	EventConnection    = "connection"
	EventDisconnection = "disconnection"
	EventLost          = "lost"
	EventMessage       = "message"
	EventSent          = "sent"
	EventSendFailed    = "send-failed"
	EventFailpoint     = "failpoint"
	EventError         = "error"
	EventClosed        = "closed"
)

// Command kinds a peer reads on stdin.
const (
	CmdBroadcast = "broadcast"
	CmdContinue  = "continue"
	CmdClose     = "close"
)

var knownEvents = map[string]bool{
	EventReady: true, EventLeader: true, EventFollower: true, EventConnection: true,
	EventDisconnection: true, EventLost: true, EventMessage: true, EventSent: true,
	EventSendFailed: true, EventFailpoint: true, EventError: true, EventClosed: true,
}

// Event is one line a peer writes on stdout. Only Event is required; the other fields are
// set as the kind needs them (see docs/PROTOCOL.md).
type Event struct {
	Event  string  `json:"event"`
	Epoch  *uint64 `json:"epoch,omitempty"`
	Leader string  `json:"leader,omitempty"`
	Member string  `json:"member,omitempty"`
	From   string  `json:"from,omitempty"`
	ID     string  `json:"id,omitempty"`
	Data   string  `json:"data,omitempty"`
	Name   string  `json:"name,omitempty"`
	Paused bool    `json:"paused,omitempty"`
	Reason string  `json:"reason,omitempty"`
	Error  string  `json:"error,omitempty"`
}

// Command is one line the harness writes on a peer's stdin.
type Command struct {
	Cmd  string `json:"cmd"`
	ID   string `json:"id,omitempty"`
	Data string `json:"data,omitempty"`
	Name string `json:"name,omitempty"`
}

// ErrProtocol marks a stdout line that is not a valid event.
var ErrProtocol = errors.New("protocol error")

// ParseEvent decodes one stdout line. A line that is not a JSON object with a known event
// kind returns an error wrapping ErrProtocol that quotes the line (cut to 200 bytes).
func ParseEvent(line []byte) (Event, error) {
	line = bytes.TrimRight(line, "\r\n")
	var ev Event
	if err := json.Unmarshal(line, &ev); err != nil {
		return Event{}, fmt.Errorf("%w: not a JSON event object: %q", ErrProtocol, clip(line))
	}
	if ev.Event == "" {
		return Event{}, fmt.Errorf("%w: no \"event\" field: %q", ErrProtocol, clip(line))
	}
	if !knownEvents[ev.Event] {
		return Event{}, fmt.Errorf("%w: unknown event %q: %q", ErrProtocol, ev.Event, clip(line))
	}
	return ev, nil
}

// ParseCommand decodes one stdin line.
func ParseCommand(line []byte) (Command, error) {
	var c Command
	if err := json.Unmarshal(bytes.TrimSpace(line), &c); err != nil {
		return Command{}, fmt.Errorf("%w: not a JSON command object: %q", ErrProtocol, clip(line))
	}
	switch c.Cmd {
	case CmdBroadcast, CmdContinue, CmdClose:
		return c, nil
	}
	return Command{}, fmt.Errorf("%w: unknown command %q", ErrProtocol, c.Cmd)
}

// Encode returns v as one JSON line, newline included.
func Encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // Event and Command always marshal
	}
	return append(b, '\n')
}

// Uint64 returns a pointer to v, for Event.Epoch.
func Uint64(v uint64) *uint64 { return &v }

func clip(b []byte) []byte {
	if len(b) > 200 {
		return append(b[:200:200], "..."...)
	}
	return b
}
