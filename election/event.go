package election

import "fmt"

// EventKind says what an Event reports.
type EventKind int

// Event kinds, in the order a process usually sees them.
const (
	// Leader: this process listens on the address and leads. Epoch is set.
	Leader EventKind = iota + 1
	// Follower: this process is connected to a leader as a member. Leader and Epoch are set.
	Follower
	// Connection: leader side, a member joined. Member is set.
	Connection
	// Disconnection: leader side, a member left, or was dropped (Err is ErrSlowMember).
	Disconnection
	// Lost: this process lost its leader (or its leadership). It elects again by itself.
	Lost
	// Message: a broadcast from another member arrived. Member is the sender.
	Message
)

var kindNames = map[EventKind]string{
	Leader: "leader", Follower: "follower", Connection: "connection",
	Disconnection: "disconnection", Lost: "lost", Message: "message",
}

// String returns the kind's protocol name, e.g. "leader".
func (k EventKind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one thing that happened to an Elector.
type Event struct {
	Kind EventKind
	// Epoch is the fencing token of the leadership the event concerns; it grows with each
	// new leader of the address.
	Epoch uint64
	// Leader is the id of the leader this process follows (Follower).
	Leader string
	// LeaderPID is the leader's process id, from the kernel's peer credentials (Follower,
	// unix transport only; 0 otherwise).
	LeaderPID int
	// Member is the other member concerned: who joined or left, or who sent a Message.
	Member string
	// Data is a Message's payload. It belongs to the receiver.
	Data []byte
	// Err says why, for Lost and Disconnection.
	Err error
}

func (e Event) String() string {
	switch e.Kind {
	case Leader:
		return fmt.Sprintf("leader epoch=%d", e.Epoch)
	case Follower:
		return fmt.Sprintf("follower of %s epoch=%d", e.Leader, e.Epoch)
	case Message:
		return fmt.Sprintf("message from %s (%d bytes)", e.Member, len(e.Data))
	case Lost, Disconnection:
		return fmt.Sprintf("%s %s: %v", e.Kind, e.Member, e.Err)
	}
	return fmt.Sprintf("%s %s", e.Kind, e.Member)
}
