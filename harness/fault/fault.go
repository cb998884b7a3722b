package fault

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
)

// Errors a fault may return.
var (
	// ErrNoTarget means the fault found nothing to act on (e.g. no leader, no follower); the
	// round is recorded as skipped, not as a harness failure.
	ErrNoTarget = errors.New("no target for fault")
)

// Fault is one kind of fault. Inject acts once and records what it did through env; it
// returns when the fault is in place (a pause may still be running, see Env.Go).
type Fault interface {
	// Name is the fault's stable name, as --faults takes it.
	Name() string
	// Inject injects the fault once.
	Inject(ctx context.Context, env Env) error
}

// Applicable is implemented by faults that make sense for one transport only.
type Applicable interface {
	Applies(transport string) bool
}

// FailpointUser is implemented by faults that need peers started with failpoints set, e.g.
// "*=announce"; the run sets SPLITBRAIN_FAILPOINTS to the joined specs.
type FailpointUser interface {
	Failpoints() string
}

// Env is what a fault sees of the group it acts on; harness/engine implements it.
type Env interface {
	// Rand is the run's one seeded source.
	Rand() *rand.Rand
	// Transport is "unix" or "tcp"; Addr the election address.
	Transport() string
	Addr() string
	// Live returns the peers whose process runs, in start order; Peer the running process
	// of one id, or nil.
	Live() []*proc.Peer
	Peer(id string) *proc.Peer
	// Leader takes a fresh kernel snapshot (and records it, with detail) and returns the peer
	// owning the reachable listener, or nil if there is none or no peer owns it.
	Leader(detail string) (*proc.Peer, error)
	// Start starts peers with these ids at once (a restart when the id ran before).
	Start(ids []string) error
	// NewIDs returns n fresh peer ids; DeadIDs the ids whose last process has exited.
	NewIDs(n int) []string
	DeadIDs() []string
	// MaxLive is the most peers that may run at once.
	MaxLive() int
	// KillAll sends SIGKILL to every live peer and returns once all are reaped.
	KillAll(ctx context.Context) error
	// Term sends SIGTERM to p and frees it from any failpoint pause or SIGSTOP, so that its
	// shutdown path runs. Stop and Cont send SIGSTOP and SIGCONT; Stopped lists the live
	// peers stopped now.
	Term(p *proc.Peer) error
	Stop(p *proc.Peer) error
	Cont(p *proc.Peer) error
	Stopped() []*proc.Peer
	// WaitAttempt waits up to limit until peer id has made an election attempt and reports
	// whether it did: it leads or follows, reports an error, exits after speaking, or has
	// run for blackBox (since it first spoke, or since its start if it never speaks).
	WaitAttempt(ctx context.Context, id string, limit, blackBox time.Duration) (bool, error)
	// WaitEvent waits for the next event record (after the call) that match accepts.
	WaitEvent(ctx context.Context, match func(history.Record) bool) (history.Record, error)
	// Record appends a record to the history, stamping T.
	Record(r history.Record)
	// Go runs f in the background; the run waits for it before it ends.
	Go(f func())
	// Timeout is the longest any peer timeout can be (the liveness bound): a pause lasts
	// longer, a wait for a new leader no longer. Quiet is how long a peer that spoke must
	// be silent to count as at rest.
	Timeout() time.Duration
	Quiet() time.Duration
}

// All returns every fault, in registry order.
func All() []Fault {
	return []Fault{
		Kill{Role: Leader}, Kill{Role: Leader, Graceful: true},
		Kill{Role: Follower}, Kill{Role: Follower, Graceful: true},
		KillNewLeader{}, KillAtFailpoint{}, KillAtSyscall{}, HoldAtSyscall{},
		Pause{},
		Start{}, Start{Storm: true}, RestartDead{},
		StaleSocket{},
		Plant{Type: "file"}, Plant{Type: "dir"}, Plant{Type: "foreign-socket"},
	}
}

// Default is the fault list of a run without --faults: everything but kill-at-failpoint
// (which needs every peer to announce its failpoints). The plants are in: a peer may keep
// retrying or refuse the planted address with an error exit, and the checkers accept both
// (check.NoUnexpectedExits); it must never remove the plant.
func Default() []string {
	return []string{"kill-leader", "term-leader", "kill-follower", "term-follower",
		"kill-new-leader", "pause", "start", "storm", "restart-dead", "stale-socket",
		"plant-file", "plant-dir", "plant-foreign-socket"}
}

// weights make a run spend itself on what it exists for: faults to the leader and its
// followers in a live group are about 3/4 of the rounds, and the faults that kill and restart
// the whole group (plants, stale socket) or grow it (start, storm) are rare. A fault not
// named here weighs 1.
var weights = map[string]int{
	"kill-leader": 8, "term-leader": 6, "kill-new-leader": 4,
	"kill-follower": 4, "term-follower": 4, "pause": 4, "kill-at-failpoint": 4,
	"start": 2, "restart-dead": 2, "storm": 1, "stale-socket": 1,
	"plant-file": 1, "plant-dir": 1, "plant-foreign-socket": 1,
}

// Weight is how often a run draws f relative to the others.
func Weight(f Fault) int {
	if w, ok := weights[f.Name()]; ok {
		return w
	}
	return 1
}

// Draw picks one of fs at random, in proportion to Weight.
func Draw(rng *rand.Rand, fs []Fault) Fault {
	total := 0
	for _, f := range fs {
		total += Weight(f)
	}
	n := rng.IntN(total)
	for _, f := range fs {
		if n -= Weight(f); n < 0 {
			return f
		}
	}
	return fs[len(fs)-1]
}

// Names returns the names of All.
func Names() []string {
	var out []string
	for _, f := range All() {
		out = append(out, f.Name())
	}
	return out
}

// ByName returns the fault of All named name.
func ByName(name string) (Fault, bool) {
	for _, f := range All() {
		if f.Name() == name {
			return f, true
		}
	}
	return nil, false
}

// Parse reads a comma-separated fault list; "all" means every fault, "" the Default list.
// Faults that do not apply to transport are left out of "all" and "", and refused when
// named.
func Parse(list, transport string) ([]Fault, error) {
	var names []string
	switch strings.TrimSpace(list) {
	case "":
		names = Default()
	case "all":
		names = Names()
	default:
		for _, n := range strings.Split(list, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	explicit := list != "" && list != "all"
	var out []Fault
	for _, n := range names {
		f, ok := ByName(n)
		if !ok {
			return nil, fmt.Errorf("unknown fault %q: use a comma-separated list of %s, or all", n, strings.Join(Names(), ", "))
		}
		if a, ok := f.(Applicable); ok && !a.Applies(transport) {
			if explicit {
				return nil, fmt.Errorf("fault %q does not apply to transport %s: leave it out of --faults", n, transport)
			}
			continue
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("fault list %q is empty: name at least one of %s", list, strings.Join(Names(), ", "))
	}
	return out, nil
}

// Role is whom a fault targets.
type Role string

// Roles.
const (
	Leader   Role = "leader"
	Follower Role = "follower"
)

// record appends a fault record.
func record(env Env, name string, p *proc.Peer, signal, detail string) {
	r := history.Record{Kind: history.KindFault, Fault: &history.Fault{Name: name, Signal: signal, Detail: detail}}
	if p != nil {
		r.Peer, r.PID = p.ID(), p.PID()
		r.Fault.Target, r.Fault.PID = p.ID(), p.PID()
	}
	env.Record(r)
}

// pick returns a random element of ps, or nil.
func pick(env Env, ps []*proc.Peer) *proc.Peer {
	if len(ps) == 0 {
		return nil
	}
	return ps[env.Rand().IntN(len(ps))]
}

// follower returns a live peer other than the leader: a random one, or (first) the first
// in start order, so that a schedule's step picks the same one again.
func follower(env Env, detail string, first bool) (*proc.Peer, error) {
	leader, err := env.Leader(detail)
	if err != nil {
		return nil, err
	}
	live := slices.DeleteFunc(env.Live(), func(p *proc.Peer) bool { return leader != nil && p.ID() == leader.ID() })
	if first && len(live) > 0 {
		return live[0], nil
	}
	return pick(env, live), nil
}

// Target names whom a scheduled fault hits: a peer by id, or else a role. The zero Target
// lets the fault draw its own.
type Target struct {
	Peer string // a peer id
	Role Role   // Leader, or Follower: the first live non-leader in start order
}

// Resolve returns the live peer t names, or nil.
func (t Target) Resolve(env Env, detail string) (*proc.Peer, error) {
	switch {
	case t.Peer != "":
		return env.Peer(t.Peer), nil
	case t.Role == Leader:
		return env.Leader(detail)
	case t.Role == Follower:
		return follower(env, detail, true)
	}
	return nil, nil
}

// set reports whether t names a target.
func (t Target) set() bool { return t.Peer != "" || t.Role != "" }

// Sleep waits d, or until ctx ends and then returns ctx.Err(); nil after the full d. Faults
// and the run loop use it so that a cancelled run stops waiting at once.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
