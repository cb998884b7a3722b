package peerio

import (
	"context"
	"encoding/json"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// Broadcast is how a Go peer built on the election library carries a broadcast command's
// id with its data through the bridge, so that the receiver can print it as `message`.
type Broadcast struct {
	ID   string `json:"id"`
	Data string `json:"data"`
}

// Broadcast sends broadcast command c through e, with its id, and tells the harness
// `sent` or `send-failed`.
func (p *Peer) Broadcast(ctx context.Context, e *election.Elector, c protocol.Command) {
	msg, _ := json.Marshal(Broadcast{ID: c.ID, Data: c.Data})
	if err := e.Send(ctx, msg); err != nil {
		p.Emit(protocol.Event{Event: protocol.EventSendFailed, ID: c.ID, Error: err.Error()})
		return
	}
	p.Emit(protocol.Event{Event: protocol.EventSent, ID: c.ID})
}

// Translate turns an election library event into the protocol event that tells it.
func Translate(ev election.Event) protocol.Event {
	reason := ""
	if ev.Err != nil {
		reason = ev.Err.Error()
	}
	switch ev.Kind {
	case election.Leader:
		return protocol.Event{Event: protocol.EventLeader, Epoch: protocol.Uint64(ev.Epoch)}
	case election.Follower:
		return protocol.Event{Event: protocol.EventFollower, Leader: ev.Leader, Epoch: protocol.Uint64(ev.Epoch)}
	case election.Connection:
		return protocol.Event{Event: protocol.EventConnection, Member: ev.Member}
	case election.Disconnection:
		return protocol.Event{Event: protocol.EventDisconnection, Member: ev.Member, Reason: reason}
	case election.Lost:
		return protocol.Event{Event: protocol.EventLost, Reason: reason}
	case election.Retry:
		return protocol.Event{Event: protocol.EventError, Error: reason}
	case election.Message:
		var m Broadcast
		if json.Unmarshal(ev.Data, &m) != nil {
			m = Broadcast{Data: string(ev.Data)}
		}
		return protocol.Event{Event: protocol.EventMessage, From: ev.Member, ID: m.ID, Data: m.Data}
	}
	return protocol.Event{Event: protocol.EventError, Error: "unknown election event " + ev.Kind.String()}
}
