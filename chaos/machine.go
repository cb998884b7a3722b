package chaos

import (
	"context"
	"fmt"
	"time"

	"pgregory.net/rapid"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/harness/engine"
)

// machine is the rapid state machine: each action draws one Step (every choice a labelled
// Draw, so a rapid seed replays it), executes it on the live group through the driver, and
// fails the property on a violation. The "" action judges the always-invariants.
type machine struct {
	ctx  context.Context
	d    *driver
	cfg  *Config
	next int // the last peer number handed out
	// harness is the first error of the harness itself (not of the peers).
	harness error
}

// Timing choices a timing schedule draws from, in nanoseconds: small, since races live in
// the first milliseconds of an election.
var (
	gaps   = []time.Duration{0, 2 * time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond}
	delays = []time.Duration{0, 5 * time.Millisecond, 20 * time.Millisecond, 60 * time.Millisecond}
)

// Actions are the steps a schedule may draw, by the names Config.LeaveOut takes: stale and
// plant on unix only, continue, run-to and free for steered peers only.
var Actions = []string{"start", "kill", "term", "pause", "resume", "settle", "stale", "plant", "continue", "run-to", "free", "churn", "broadcast"}

// maxRounds bounds the rounds of one churn step: a random run kills about 8 leaders a
// second, and 32 rounds are a few seconds of that.
const maxRounds = 32

func (m *machine) actions() map[string]func(*rapid.T) {
	a := map[string]func(*rapid.T){
		"":       m.check,
		"start":  m.start,
		"kill":   func(t *rapid.T) { m.signal(t, OpKill) },
		"term":   func(t *rapid.T) { m.signal(t, OpTerm) },
		"pause":  m.pause,
		"resume": m.resume,
		"settle": func(t *rapid.T) { m.step(t, Step{Op: OpSettle}) },
		"churn":  m.churn,

		"broadcast": m.broadcast,
	}
	if m.cfg.Transport == "unix" {
		a["stale"] = func(t *rapid.T) { m.step(t, Step{Op: OpStale}) }
		a["plant"] = m.plant
	}
	if m.cfg.Mode != ModeTiming {
		a["continue"] = func(t *rapid.T) { m.steer(t, OpContinue) }
		a["run-to"] = func(t *rapid.T) { m.steer(t, OpRunTo) }
		a["free"] = func(t *rapid.T) { m.steer(t, OpFree) }
	}
	for _, name := range m.cfg.LeaveOut {
		delete(a, name)
	}
	for name, act := range a {
		if name != "" {
			a[name] = func(t *rapid.T) {
				if !m.done() {
					act(t)
				}
			}
		}
	}
	return a
}

// done reports whether the schedule is over: a violation was seen or the harness failed.
// The actions rapid still draws then do nothing, and shrinking drops them.
func (m *machine) done() bool { return m.harness != nil || m.d.e.Violation() != nil }

// step executes st as the schedule's next step, unless the schedule is over.
func (m *machine) step(t *rapid.T, st Step) {
	if m.done() {
		return
	}
	if _, err := m.d.exec(m.ctx, len(m.d.steps)+1, st); err != nil {
		m.harness = err
	}
}

// check is the "" action: a fresh kernel snapshot, which the engine's online judge judges.
// It only records; [machine.verdict] fails the property, from one place, after the whole
// history is judged, so that rapid sees the same failure (message and traceback) when it
// replays and shrinks the schedule.
func (m *machine) check(t *rapid.T) {
	if m.done() || len(m.d.steps) == 0 {
		return
	}
	m.d.e.Snapshot("")
}

// verdict fails t if the schedule broke an invariant; the story has the details.
func (m *machine) verdict(t *rapid.T) {
	if m.harness != nil {
		t.Fatalf("harness error")
	}
	if m.d.violation != nil {
		// One message for every invariant: the same race may first show as an orphan
		// (reachable-leader) or as two listeners (single-listener) depending on when the
		// kernel is sampled, and rapid must see it as the same failure to shrink it.
		t.Fatalf("invariant violated")
	}
}

func (m *machine) ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		m.next++
		out[i] = fmt.Sprintf("p%d", m.next)
	}
	return out
}

func (m *machine) start(t *rapid.T) {
	room := m.cfg.MaxPeers - len(m.d.e.Live())
	if room <= 0 && !m.done() {
		t.Skip("the group is full")
	}
	n := rapid.IntRange(1, min(3, room)).Draw(t, "count")
	st := Step{Op: OpStart}
	if m.cfg.Mode != ModeTiming {
		st.Steered = rapid.Bool().Draw(t, "steered")
	} else if n > 1 {
		st.Gap = rapid.SampledFrom(gaps).Draw(t, "gap")
	}
	st.Peers = m.ids(n)
	m.step(t, st)
}

// target draws whom a fault hits: the leader, a follower, or (steered) any live peer, so
// that a peer paused at a failpoint can be killed right there.
func (m *machine) target(t *rapid.T) (peer, role string) {
	var live []string
	for _, p := range m.d.e.Live() {
		live = append(live, p.ID())
	}
	if len(live) == 0 && !m.done() {
		t.Skip("no live peer")
	}
	if m.done() {
		return "", RoleLeader
	}
	choices := []string{RoleLeader, RoleFollower}
	if m.cfg.Mode != ModeTiming {
		choices = append(choices, "peer")
	}
	c := rapid.SampledFrom(choices).Draw(t, "target")
	if c == RoleLeader || c == RoleFollower {
		return "", c
	}
	return rapid.SampledFrom(live).Draw(t, "peer"), ""
}

func (m *machine) signal(t *rapid.T, op Op) {
	peer, role := m.target(t)
	st := Step{Op: op, Peer: peer, Role: role}
	if m.cfg.Mode == ModeTiming {
		st.Delay = rapid.SampledFrom(delays).Draw(t, "delay")
	}
	m.step(t, st)
}

func (m *machine) pause(t *rapid.T) {
	peer, role := m.target(t)
	m.step(t, Step{Op: OpPause, Peer: peer, Role: role})
}

func (m *machine) resume(t *rapid.T) {
	if len(m.d.e.Stopped()) > 0 {
		m.step(t, Step{Op: OpResume})
		return
	}
	if !m.done() {
		t.Skip("nobody is stopped")
	}
}

func (m *machine) plant(t *rapid.T) {
	kind := rapid.SampledFrom([]string{"file", "dir", "foreign-socket"}).Draw(t, "plant")
	n := rapid.IntRange(1, min(3, m.cfg.MaxPeers)).Draw(t, "count")
	st := Step{Op: OpPlant, Plant: kind, Peers: m.ids(n)}
	if kind == "file" {
		st.Data = fmt.Sprintf("planted %d\n", rapid.IntRange(0, 1<<20).Draw(t, "data"))
	}
	m.step(t, st)
}

// churn draws a churn step: the leader or a follower, killed and replaced, round after round.
// It is a free group's fault, as in a random run: with a peer paused (at a failpoint or by
// SIGSTOP) each round would wait for the quiet time, and the paused peer is what the
// schedule steers.
func (m *machine) churn(t *rapid.T) {
	if (len(m.d.e.Live()) == 0 || !m.d.e.AllFree()) && !m.done() {
		t.Skip("no free group to churn")
	}
	role := rapid.SampledFrom([]string{RoleLeader, RoleFollower}).Draw(t, "churn")
	n := rapid.IntRange(1, maxRounds).Draw(t, "rounds")
	// Enough ids for the most a churn may start; the step keeps those it used.
	m.step(t, Step{Op: OpChurn, Role: role, Rounds: n, Peers: m.ids(n * m.cfg.MaxPeers)})
}

// broadcast draws a broadcast from the leader, a follower or (steered) any peer, so that
// delivery is judged: by the leader to its members, by a follower through its leader.
func (m *machine) broadcast(t *rapid.T) {
	if !m.d.talker() && !m.done() {
		t.Skip("no free white-box peer to broadcast")
	}
	peer, role := m.target(t)
	data := fmt.Sprintf("%016x", rapid.Uint64().Draw(t, "data"))
	m.step(t, Step{Op: OpBroadcast, Peer: peer, Role: role, Data: data})
}

// steer draws a steering step for a steered peer that is paused at a failpoint.
func (m *machine) steer(t *rapid.T, op Op) {
	var ids []string
	for _, id := range m.d.e.IDs() {
		s := m.d.e.Status(id)
		if s.Live && s.Steered && (op == OpFree || s.Paused != "") {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		if m.done() {
			return
		}
		t.Skip("no steered peer to steer")
	}
	st := Step{Op: op, Peer: rapid.SampledFrom(ids).Draw(t, "peer")}
	if op == OpRunTo {
		points := election.FailpointNames
		if m.cfg.Mode == ModeSyscalls {
			points = engine.SyscallPoints
		}
		st.At = rapid.SampledFrom(points).Draw(t, "at")
	}
	m.step(t, st)
}
