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
	// Retry: an election attempt failed with an error that retrying may fix (out of file
	// descriptors, a full disk, a permission or a lock file that cannot be read). Err is the
	// cause and Attempt counts the failures in a row; the Elector waits (10 ms, doubling up
	// to 1 s) and tries again, and Run gives up after Options.MaxRetries of them.
	Retry
)

var kindNames = map[EventKind]string{
	Leader: "leader", Follower: "follower", Connection: "connection",
	Disconnection: "disconnection", Lost: "lost", Message: "message", Retry: "retry",
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
	// Err says why, for Lost, Disconnection and Retry.
	Err error
	// Attempt counts the failed attempts in a row (Retry).
	Attempt int
}

// String describes the event in one line, e.g. "follower of p1 epoch=3".
func (e Event) String() string {
	switch e.Kind {
	case Leader:
		return fmt.Sprintf("leader epoch=%d", e.Epoch)
	case Follower:
		return fmt.Sprintf("follower of %s epoch=%d", e.Leader, e.Epoch)
	case Message:
		return fmt.Sprintf("message from %s (%d bytes)", e.Member, len(e.Data))
	case Lost:
		if e.Leader != "" {
			return fmt.Sprintf("lost leader %s epoch=%d: %v", e.Leader, e.Epoch, e.Err)
		}
		return fmt.Sprintf("lost leadership epoch=%d: %v", e.Epoch, e.Err)
	case Disconnection:
		return fmt.Sprintf("disconnection %s: %v", e.Member, e.Err)
	case Retry:
		return fmt.Sprintf("retry attempt=%d: %v", e.Attempt, e.Err)
	}
	return fmt.Sprintf("%s %s", e.Kind, e.Member)
}
