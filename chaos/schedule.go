package chaos

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// Op is what one Step does.
type Op string

// Step operations. A Step names its target by peer id (Peer) or by role (Role), which the
// driver resolves from the kernel when the step runs.
const (
	// OpStart starts Peers at once (a storm when more than one). Steered peers start with
	// every failpoint set to pause and the step ends when each has paused at its first
	// failpoint; free peers are continued at every failpoint and the step waits for the
	// group to settle. Gap, if set, is the time between two starts (timing schedules).
	OpStart Op = "start"
	// OpContinue resumes a steered peer from its failpoint (or lets the syscall it waits in
	// go on); the step ends when it pauses at the next one, exits, or stays quiet for
	// Config.Quiet (e.g. blocked on a lock).
	OpContinue Op = "continue"
	// OpRunTo continues a steered peer at every failpoint (syscall) until it pauses at At:
	// a failpoint name, or one of engine.SyscallPoints.
	OpRunTo Op = "run-to"
	// OpFree lets a steered peer run free (continued at every failpoint from now on); the
	// step ends when it leads, follows, exits or stays quiet.
	OpFree Op = "free"
	// OpKill sends SIGKILL to the target (wherever it is, e.g. paused at a failpoint) and
	// waits for its exit.
	OpKill Op = "kill"
	// OpTerm frees the target and sends SIGTERM (a graceful stop: its own shutdown path
	// runs), then waits for its exit and for the group to settle.
	OpTerm Op = "term"
	// OpPause stops the target with SIGSTOP until OpResume or the next OpSettle.
	OpPause Op = "pause"
	// OpResume sends SIGCONT to every stopped peer.
	OpResume Op = "resume"
	// OpStale kills every peer and leaves a stale socket file at the address (the one the
	// leader left, or one the driver binds and closes). Unix only.
	OpStale Op = "stale"
	// OpPlant kills every peer, plants a Plant ("file" or "dir") at the address, starts
	// Peers free, lets them try until each has made an attempt (or Config.Quiet), checks
	// the plant, removes it and waits for the group to settle. Unix only.
	OpPlant Op = "plant"
	// OpChurn is a run's nemesis in one step, for Rounds rounds: SIGKILL the target Role
	// (the leader or a follower, from the kernel at that moment), wait for its exit, then
	// start the next of Peers free, one at a time, each until it has made its attempt, until
	// Config.MaxPeers peers live (at least one a round, at most MaxPeers), and wait for the
	// group to come to rest (a quarter of Config.Settle at most). A full group makes each leader kill cost every follower a
	// leader. It ends early when the role has nobody, Peers run out, or the group does not
	// come to rest; the step keeps the rounds it ran and the peers it started.
	OpChurn Op = "churn"
	// OpBroadcast hands the target, a free white-box peer (one that speaks the protocol),
	// a broadcast command: a fresh id ("b1", "b2", ... in the order the schedule sends
	// them) and Data as its payload. The step ends when the peer answers (sent or
	// send-failed) or exits, and every live peer is at rest, so the deliveries are in. The
	// delivery judge requires the message of every member of the sender's group.
	OpBroadcast Op = "broadcast"
	// OpSettle frees every steered peer (one at a time, in start order, each until it
	// leads, follows, exits or is quiet), resumes every stopped one and waits for the group
	// to settle; then the settle invariants are judged. Every schedule ends with one.
	OpSettle Op = "settle"
)

// Roles a Step may target instead of a peer id.
const (
	RoleLeader   = "leader"   // the peer owning the reachable listener, by the kernel
	RoleFollower = "follower" // the first live peer, in start order, that is not the leader
)

// Step is one action of a Schedule. Only the fields its Op uses are set.
type Step struct {
	Op      Op            `json:"op"`
	Peer    string        `json:"peer,omitempty"`    // target peer id
	Role    string        `json:"role,omitempty"`    // target role, when Peer is empty
	Peers   []string      `json:"peers,omitempty"`   // OpStart, OpPlant, OpChurn: ids to start
	Steered bool          `json:"steered,omitempty"` // OpStart: pause at every failpoint
	At      string        `json:"at,omitempty"`      // OpRunTo: the failpoint to stop at
	Plant   string        `json:"plant,omitempty"`   // OpPlant: "file", "dir" or "foreign-socket"
	Data    string        `json:"data,omitempty"`    // OpPlant: the planted file's content; OpBroadcast: the payload
	Delay   time.Duration `json:"delay,omitempty"`   // timing schedules: wait before acting, ns
	Gap     time.Duration `json:"gap,omitempty"`     // OpStart: time between starts, ns
	Rounds  int           `json:"rounds,omitempty"`  // OpChurn: rounds (default len(Peers))
}

// String says what the step does, e.g. "kill p2" or "start p1 p2 (steered)".
func (s Step) String() string {
	var b strings.Builder
	if s.Delay > 0 {
		fmt.Fprintf(&b, "after %v, ", s.Delay)
	}
	if s.Op == OpChurn {
		fmt.Fprintf(&b, "churn the %s %d times, starting %s", s.Role, s.rounds(), strings.Join(s.Peers, " "))
		return b.String()
	}
	b.WriteString(string(s.Op))
	if s.Op == OpBroadcast {
		b.WriteString(" from")
	}
	if s.Peer != "" {
		b.WriteString(" " + s.Peer)
	} else if s.Role != "" {
		b.WriteString(" the " + s.Role)
	}
	if s.Op == OpPlant {
		b.WriteString(" a " + s.Plant)
	}
	if len(s.Peers) > 0 {
		b.WriteString(" " + strings.Join(s.Peers, " "))
	}
	if s.Steered {
		b.WriteString(" (steered)")
	}
	if s.Gap > 0 {
		fmt.Fprintf(&b, " (%v apart)", s.Gap)
	}
	if s.At != "" {
		b.WriteString(" to " + s.At)
	}
	return b.String()
}

// rounds is an OpChurn step's number of rounds.
func (s Step) rounds() int {
	if s.Rounds > 0 {
		return s.Rounds
	}
	return len(s.Peers)
}

// Schedule is one interleaving: the steps the driver executes, in order, against a fresh
// group of real peer processes. A schedule is data: saved as JSON it replays exactly the
// same steps ([Replay]); with steered peers it replays the same interleaving.
type Schedule struct {
	Version   int    `json:"version"`   // schedule format version, 1
	Impl      string `json:"impl"`      // the peer command line it was found with
	Transport string `json:"transport"` // "unix" or "tcp"
	Mode      string `json:"mode"`      // ModeSteered, ModeSyscalls or ModeTiming
	Seed      uint64 `json:"seed"`      // the rapid seed of the exploration that found it
	Steps     []Step `json:"steps"`
	// Violation is what the schedule showed when it was recorded (nil if nothing).
	Violation *Violation `json:"violation,omitempty"`
	// Story is the numbered story of that execution, for humans.
	Story []string `json:"story,omitempty"`
	// judged are the invariants that execution earned a pass on (not saved).
	judged []string
}

// ScheduleVersion is the Schedule format this package writes and reads.
const ScheduleVersion = 1

// Len is the number of steps, the final settle included.
func (s Schedule) Len() int { return len(s.Steps) }

// Save writes s as indented JSON to path.
func (s Schedule) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode schedule: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save schedule: %w", err)
	}
	return nil
}

// LoadSchedule reads a schedule written by Save.
func LoadSchedule(path string) (Schedule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Schedule{}, fmt.Errorf("load schedule: %w", err)
	}
	var s Schedule
	if err := json.Unmarshal(b, &s); err != nil {
		return Schedule{}, fmt.Errorf("schedule %s: %w", path, err)
	}
	if s.Version != ScheduleVersion {
		return Schedule{}, fmt.Errorf("schedule %s is version %d; this splitbrain reads version %d", path, s.Version, ScheduleVersion)
	}
	if len(s.Steps) == 0 {
		return Schedule{}, fmt.Errorf("schedule %s has no steps", path)
	}
	return s, nil
}

// StoryText returns the story as one numbered text block.
func (s Schedule) StoryText() string {
	return strings.Join(s.Story, "\n")
}
