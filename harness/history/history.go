// Package history is the record of one run: every fault the harness injected, every event a
// peer reported, every process start and exit, and every kernel observation, each stamped with
// a monotonic time since the run began. It is written as history.jsonl, one Record a line, and
// is all a checker needs to judge the run again (`splitbrain check DIR`).
package history

import (
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// Kind names what a Record holds.
type Kind string

// Record kinds.
const (
	KindRun           Kind = "run"            // the first record: configuration and seed
	KindStart         Kind = "start"          // a peer process started (Peer, PID)
	KindExit          Kind = "exit"           // a peer process ended (Exit)
	KindEvent         Kind = "event"          // a peer wrote a protocol event (Event)
	KindProtocolError Kind = "protocol-error" // a peer wrote a line that is not an event (Detail)
	KindFault         Kind = "fault"          // the harness injected a fault (Fault)
	KindObservation   Kind = "observation"    // a kernel snapshot (Snapshot)
	KindPlant         Kind = "plant"          // the harness planted a file to be kept intact (Plant)
	KindPhase         Kind = "phase"          // a phase of the run began (Detail: "faults", "settle", "quiesce", "end")
	KindCommand       Kind = "command"        // the harness sent a protocol command (Command)
	KindProcess       Kind = "process"        // a descendant of a peer's process (Peer, PID; Detail says what: child, daemonized, gone, killed)
	KindSyscall       Kind = "syscall"        // a peer's process made an election syscall, seen by seccomp (Syscall)
	KindRound         Kind = "round"          // a driver's fault round ended (Round)
	KindObserver      Kind = "observer"       // the kernel observer's own figures, at the end (Observer)
)

// Record is one line of history.jsonl. T is the time since the run began, in nanoseconds
// on the monotonic clock. Exactly the field that Kind names is set, plus Peer and PID where a
// peer is concerned.
type Record struct {
	T        time.Duration     `json:"t"`
	Kind     Kind              `json:"kind"`
	Peer     string            `json:"peer,omitempty"`
	PID      int               `json:"pid,omitempty"`
	Run      *Run              `json:"run,omitempty"`
	Event    *protocol.Event   `json:"event,omitempty"`
	Command  *protocol.Command `json:"command,omitempty"`
	Fault    *Fault            `json:"fault,omitempty"`
	Snapshot *kernel.Snapshot  `json:"snapshot,omitempty"`
	Exit     *Exit             `json:"exit,omitempty"`
	Plant    *Plant            `json:"plant,omitempty"`
	Syscall  *Syscall          `json:"syscall,omitempty"`
	Round    *Round            `json:"round,omitempty"`
	Observer *Observer         `json:"observer,omitempty"`
	Detail   string            `json:"detail,omitempty"`
}

// Run describes the run: what was tested and how, so a checker and a replay can use it.
type Run struct {
	Version   int           `json:"version"` // history format version, 1
	Impl      string        `json:"impl"`    // the peer command line
	Transport string        `json:"transport"`
	Addr      string        `json:"addr"`
	Peers     int           `json:"peers"`
	Rounds    int           `json:"rounds"`
	Duration  time.Duration `json:"duration"`
	Faults    []string      `json:"faults"`
	Seed      int64         `json:"seed"`
	Settle    time.Duration `json:"settle"`   // how long peers get to settle after faults stop
	Liveness  time.Duration `json:"liveness"` // the bound on leaderless time while a peer lives
	Replay    string        `json:"replay"`   // the command that replays this run
	// Invariants are the invariants this history is judged on (check's names); empty
	// means every one. An exploration judges only those a schedule can show.
	Invariants []string `json:"invariants,omitempty"`
	// Syscalls is "on" when every peer ran under the seccomp supervisor (harness/syscalls):
	// the kernel was observed at every listen, unlink and rename of the address.
	Syscalls string    `json:"syscalls,omitempty"`
	Started  time.Time `json:"started"` // wall clock at T=0, for humans only
}

// Fault is one injected fault.
type Fault struct {
	Name   string `json:"name"`             // e.g. "kill-leader", "term-follower", "pause", "stale-socket"
	Target string `json:"target,omitempty"` // peer id, or a path
	PID    int    `json:"pid,omitempty"`
	Signal string `json:"signal,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Exit is how a peer process ended.
type Exit struct {
	Code       int      `json:"code"`                  // exit status, -1 if killed by a signal
	Signal     string   `json:"signal,omitempty"`      // the signal that ended it
	ByHarness  bool     `json:"by_harness"`            // the harness killed or stopped it on purpose
	StderrTail []string `json:"stderr_tail,omitempty"` // the last lines of its stderr
}

// Plant is a file the harness put at (or beside) the address that must survive the run
// unchanged: no data loss.
type Plant struct {
	Path   string `json:"path"`
	Type   string `json:"type"` // "file", "dir", "foreign-socket"
	UID    int    `json:"uid"`
	Inode  uint64 `json:"inode"`
	SHA256 string `json:"sha256,omitempty"` // content digest, regular files only
}

// Syscall is an election syscall of a peer's process (the address, its folder or a lock
// file), seen by seccomp user notification while the caller was held.
type Syscall struct {
	Call  string `json:"call"`  // e.g. "listen", "unlinkat", "connect"
	Phase string `json:"phase"` // "before": held on entry; "after": made by the harness for the caller (listen)
	FD    int    `json:"fd"`    // the fd argument, -1 if none
	Path  string `json:"path,omitempty"`
	Path2 string `json:"path2,omitempty"` // rename: the new name
	Addr  string `json:"addr,omitempty"`  // bind, connect: the address given; listen, accept: the socket's own
	// Key is set for listen on the address and unlink or rename of it: the kernel was
	// observed while the caller was held (the next observation record).
	Key    bool   `json:"key,omitempty"`
	Result string `json:"result,omitempty"` // phase after: "ok" or the errno's name
}

// Round is one round of a driver: the fault it drew and whether it ran. It is what
// results.json counts as exercised.
type Round struct {
	N       int    `json:"n"`                 // 1, 2, ...
	Fault   string `json:"fault"`             // the fault's name
	Skipped string `json:"skipped,omitempty"` // why it did not run (e.g. no target); empty if it ran
}

// Observer is what the kernel observer achieved: how many snapshots it took and the
// interval between consecutive ones. A split brain shorter than the interval may go unseen.
type Observer struct {
	Snapshots int           `json:"snapshots"`
	Median    time.Duration `json:"median_interval"`
	Max       time.Duration `json:"max_interval"`
}
