package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/engine"
	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// startWait bounds how long a started steered peer may take to reach its first failpoint,
// and a killed or terminated peer to exit: generous, for a loaded machine.
const startWait = 10 * time.Second

// resultWait bounds how long the story of a step that ended at a violation waits for the
// results of calls let go before it (a made call's result is back a moment after its effect).
const resultWait = time.Second

// poll is how often a wait looks at the kernel when no peer event wakes it.
const poll = 10 * time.Millisecond

// driver executes one schedule's steps on one engine and tells the story. It keeps no
// invariant of its own: the engine's online judge ends the schedule at the first
// violation, and [check.Judge] gives the verdict.
type driver struct {
	cfg *Config
	e   *engine.Engine

	steps       []Step
	stepAt      []time.Duration // when each step began
	story       []string
	lastDesc    string
	leaderKills int
	broadcasts  int        // broadcast commands taken so far: the next id is b(broadcasts+1)
	deaf        bool       // a broadcast went unanswered: the peers do not read commands
	violation   *Violation // the verdict's, once judged
	judged      []string   // the invariants that earned a pass, once judged
	finished    bool
}

func newDriver(cfg *Config) (*driver, error) {
	fps := ""
	if cfg.Mode == ModeSteered {
		fps = "*=announce"
	}
	liveness := cfg.Settle + startWait
	e, err := engine.New(engine.Config{
		Impl: cfg.Impl, Transport: cfg.Transport, Failpoints: fps,
		MaxLive: 2 * cfg.MaxPeers, Timeout: startWait, Quiet: cfg.Quiet, Poll: poll,
		Grace: time.Second, StderrLines: 10, StopAtViolation: true, Story: true, Invariants: cfg.Invariants,
		Syscalls: cfg.Syscalls, SteerSyscalls: cfg.Mode == ModeSyscalls,
		Run: history.Run{Settle: cfg.Settle, Liveness: liveness, Faults: []string{"chaos:" + cfg.Mode},
			Invariants: cfg.Invariants},
	})
	if err != nil {
		return nil, err
	}
	e.Phase(check.PhaseFaults)
	return &driver{cfg: cfg, e: e}, nil
}

// close stops and reaps every peer: SIGKILL at once, since a peer paused at a failpoint may
// never get to its shutdown path, and a graceful stop is a step of its own (OpTerm).
func (d *driver) close() { _ = d.e.Close(true) }

// judge gives the verdict on the whole history with [check.Judge] over the configured
// invariants; the violation is the failed part with the earliest evidence.
func (d *driver) judge() *Violation {
	res := check.Judge(d.e.Records()) // the run record names cfg.Invariants
	var v *Violation
	d.judged = nil
	for _, part := range res.Parts {
		if part.Verdict == check.Pass {
			d.judged = append(d.judged, part.Name)
		}
		if part.Verdict != check.Fail {
			continue
		}
		c := &Violation{Invariant: part.Name, What: part.Summary}
		var t time.Duration
		if len(part.Evidence) > 0 {
			ev := part.Evidence[0]
			c.What, c.Snapshot, t = ev.What, ev.Snapshot, ev.T
		}
		c.Step = d.stepOf(t)
		if v == nil || t < v.t {
			c.t = t
			v = c
		}
	}
	return v
}

// stepOf returns the 1-based step during or after which time t fell.
func (d *driver) stepOf(t time.Duration) int {
	step := 0
	for i, at := range d.stepAt {
		if at <= t {
			step = i + 1
		}
	}
	return max(step, 1)
}

// exec runs step i (1-based) and tells its story. It reports whether the schedule should
// stop: the online judge saw a violation.
func (d *driver) exec(ctx context.Context, i int, st Step) (stop bool, err error) {
	d.e.TakeLog()
	at := d.e.Now()
	if st.Delay > 0 {
		if err := fault.Sleep(ctx, st.Delay); err != nil { // the delay is the schedule's timing
			return false, err
		}
	}
	note, did, err := d.do(ctx, &st)
	if errors.Is(err, engine.ErrViolation) {
		err = nil
	}
	if d.e.Violation() != nil {
		d.e.AwaitResults(ctx, resultWait)
	}
	if err != nil {
		return false, err
	}
	if !did {
		// A step that found nothing to act on did nothing: it is left out of the schedule,
		// so that what is saved and shrunk is only what happened.
		return d.e.Violation() != nil, nil
	}
	d.steps = append(d.steps, st)
	d.stepAt = append(d.stepAt, at)
	if d.e.Violation() == nil && st.Op != OpSettle {
		d.e.Snapshot("") // the "" action of the state machine: the kernel right after the step
	}
	d.tellStep(len(d.steps), st, note)
	return d.e.Violation() != nil, nil
}

// tellStep appends step i's story line: the step, what peers did, what the kernel shows.
func (d *driver) tellStep(i int, st Step, note string) {
	log := d.e.TakeLog()
	if (st.Op == OpStart && st.Steered) || st.Op == OpBroadcast {
		// Peers started at once reach their first pause in any order; the members of a
		// group get a broadcast in any order.
		slices.Sort(log)
	}
	line := fmt.Sprintf("%d. %s", i, st)
	if note != "" {
		line += ": " + note
	}
	if len(log) > 0 {
		sep := ": "
		if note != "" {
			sep = "; "
		}
		line += sep + compact(log)
	}
	var s kernel.Snapshot
	ok := true
	if v := d.e.Violation(); v != nil && v.Snapshot != nil {
		s = *v.Snapshot
	} else {
		s, ok = d.e.Snapshot("")
	}
	if ok {
		if desc := d.describe(s); desc != d.lastDesc || d.e.Violation() != nil {
			line += " [kernel: " + desc + "]"
			d.lastDesc = desc
		}
	}
	d.story = append(d.story, line)
}

// finish closes the engine, judges the history and ends the story with the verdict.
func (d *driver) finish() {
	if d.finished {
		return
	}
	d.finished = true
	d.close()
	d.violation = d.judge()
	if v := d.violation; v != nil {
		d.story = append(d.story, fmt.Sprintf("   => %s violated: %s", v.Invariant, v.What))
	}
}

// compact joins a step's log, folding runs of "pX passes A", "pX passes B" into
// "pX passes A, B".
func compact(log []string) string {
	var out []string
	for _, s := range log {
		if n := len(out); n > 0 {
			prev := out[n-1]
			id, what, _ := strings.Cut(s, " ")
			if strings.HasPrefix(what, "passes ") && strings.HasPrefix(prev, id+" passes ") {
				out[n-1] = prev + ", " + strings.TrimPrefix(what, "passes ")
				continue
			}
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

// rest waits for the group to come to rest after a step: settled (when it can settle), or
// every live peer resting.
func (d *driver) rest(ctx context.Context) error {
	_, err := d.calm(ctx)
	return err
}

// calm is rest, and reports whether the group came to rest in time.
func (d *driver) calm(ctx context.Context) (bool, error) { return d.calmWithin(ctx, d.cfg.Settle) }

// calmWithin is calm with settle as the time a free group gets to settle.
func (d *driver) calmWithin(ctx context.Context, settle time.Duration) (bool, error) {
	if d.e.AllFree() {
		return d.e.WaitSettled(ctx, settle, true)
	}
	return d.resting(ctx)
}

// resting waits until every live peer rests (quiet, or paused, or held), and reports
// whether they did in time.
func (d *driver) resting(ctx context.Context) (bool, error) {
	return d.e.WaitFor(ctx, startWait, func(kernel.Snapshot) bool {
		for _, p := range d.e.Live() {
			if !d.e.Resting(p.ID()) {
				return false
			}
		}
		return true
	})
}

// target is the fault.Target a step names.
func target(st Step) fault.Target {
	return fault.Target{Peer: st.Peer, Role: fault.Role(st.Role)}
}

// do carries out one step with the engine and the fault package. did is false when the
// step found nothing to act on; note is for the story.
func (d *driver) do(ctx context.Context, st *Step) (note string, did bool, err error) {
	e := d.e
	switch st.Op {
	case OpChurn:
		return d.churn(ctx, st)

	case OpStart:
		if d.cfg.Mode != ModeTiming && !st.Steered {
			// Steered schedules keep their races in the steering: free peers start one
			// after the other, each once the group is at rest, so a schedule replays (and
			// shrinks) as one interleaving. Storms of free peers are timing schedules'.
			for _, id := range st.Peers {
				if err := (fault.Start{IDs: []string{id}}).Inject(ctx, e); err != nil {
					return "", true, err
				}
				if err := d.rest(ctx); err != nil {
					return "", true, err
				}
				// The kernel shows a follower connected a moment before it says so: wait
				// for a white-box peer's claim too, so that the story tells it in this step.
				if _, err := e.WaitFor(ctx, startWait, func(kernel.Snapshot) bool {
					s := e.Status(id)
					return !s.Spoke || s.Roles > 0 || e.Resting(id)
				}); err != nil {
					return "", true, err
				}
			}
			return "one after the other", true, nil
		}
		e.Record(history.Record{Kind: history.KindFault, Fault: &history.Fault{Name: "start", Detail: strings.Join(st.Peers, " ")}})
		if err := e.StartWith(st.Peers, engine.StartOptions{Steered: st.Steered, Gap: st.Gap}); err != nil {
			return "", true, err
		}
		if st.Steered {
			_, err := e.WaitFor(ctx, startWait, func(kernel.Snapshot) bool {
				for _, id := range st.Peers {
					if !e.AtRest(id, 0) {
						return false
					}
				}
				return true
			})
			return "", true, err
		}
		return "", true, d.rest(ctx)

	case OpContinue, OpRunTo, OpFree:
		if e.Peer(st.Peer) == nil {
			return "no such peer", false, nil
		}
		before := e.Status(st.Peer)
		switch st.Op {
		case OpContinue:
			e.Continue(st.Peer)
		case OpRunTo:
			e.RunTo(st.Peer, st.At)
		case OpFree:
			e.Free(st.Peer)
		}
		_, err := e.WaitFor(ctx, startWait, func(kernel.Snapshot) bool {
			if st.Op == OpFree {
				return d.claimed(st.Peer, before) || e.AtRest(st.Peer, -1)
			}
			return e.AtRest(st.Peer, before.Pauses)
		})
		e.EndRunTo(st.Peer) // a run-to that did not arrive ends with the step
		return "", true, err

	case OpKill, OpTerm:
		p, err := target(*st).Resolve(e, string(st.Op))
		if err != nil || p == nil {
			return "no target", false, err
		}
		status := e.Status(p.ID())
		note := p.ID()
		if status.Paused != "" {
			note += " at " + status.Paused
		}
		k := fault.Kill{At: fault.Target{Peer: p.ID()}, Graceful: st.Op == OpTerm}
		if err := k.Inject(ctx, e); errors.Is(err, fault.ErrNoTarget) {
			return "no target", false, nil
		} else if err != nil {
			return note, true, err
		}
		if err := e.WaitExit(ctx, p, startWait); err != nil {
			return note, true, err
		}
		if status.Role == engine.RoleLeader || st.Role == RoleLeader {
			d.leaderKills++
		}
		return note, true, d.rest(ctx)

	case OpPause:
		p, err := target(*st).Resolve(e, "pause")
		if err != nil || p == nil {
			return "no target", false, err
		}
		if err := (fault.Pause{At: fault.Target{Peer: p.ID()}}).Inject(ctx, e); errors.Is(err, fault.ErrNoTarget) {
			return "it had exited", false, nil
		} else if err != nil {
			return "", true, err
		}
		return p.ID() + " stopped", true, nil

	case OpResume:
		stopped := e.Stopped()
		if err := (fault.Resume{}).Inject(ctx, e); errors.Is(err, fault.ErrNoTarget) {
			return "nobody was stopped", false, nil
		} else if err != nil {
			return "", true, err
		}
		var ids []string
		for _, p := range stopped {
			ids = append(ids, p.ID())
		}
		return strings.Join(ids, " ") + " continued", true, d.rest(ctx)

	case OpStale:
		if d.cfg.Transport != "unix" {
			return "not for tcp", false, nil
		}
		if err := (fault.StaleSocket{KeepDown: true}).Inject(ctx, e); errors.Is(err, fault.ErrNoTarget) {
			return "no socket can be left there", false, nil
		} else if err != nil {
			return "", true, err
		}
		return "every peer killed; a stale socket stays", true, nil

	case OpPlant:
		if d.cfg.Transport != "unix" {
			return "not for tcp", false, nil
		}
		// Each peer in turn (one interleaving) gets its chance to do damage.
		pl := fault.Plant{Type: st.Plant, Data: st.Data, Peers: st.Peers, OneByOne: true, Hold: d.cfg.Quiet}
		if err := pl.Inject(ctx, e); errors.Is(err, fault.ErrNoTarget) {
			return "the address is taken", false, nil
		} else if err != nil {
			return "", true, err
		}
		return fmt.Sprintf("planted a %s, started %s, removed the plant", st.Plant, strings.Join(st.Peers, " ")), true, d.rest(ctx)

	case OpBroadcast:
		return d.broadcast(ctx, st)

	case OpSettle:
		return d.settle(ctx)
	}
	return "", false, fmt.Errorf("unknown step op %q", st.Op)
}

// churn carries out OpChurn, and keeps in st the rounds it ran and the peers it started.
func (d *driver) churn(ctx context.Context, st *Step) (string, bool, error) {
	e := d.e
	var killed []string
	used, round := 0, 0
	note := func() string { return "killed " + strings.Join(killed, " ") }
	defer func() { st.Peers, st.Rounds = st.Peers[:used], round }()
	for rounds := st.rounds(); round < rounds && used < len(st.Peers); {
		p, err := target(Step{Role: st.Role}).Resolve(e, "churn")
		if err != nil {
			return note(), round > 0, err
		}
		if p == nil {
			break
		}
		leader := e.Status(p.ID()).Role == engine.RoleLeader || st.Role == RoleLeader
		if err := (fault.Kill{At: fault.Target{Peer: p.ID()}}).Inject(ctx, e); errors.Is(err, fault.ErrNoTarget) {
			break
		} else if err != nil {
			return note(), true, err
		}
		if err := e.WaitExit(ctx, p, startWait); err != nil {
			return note(), true, err
		}
		round++
		if leader {
			d.leaderKills++
		}
		killed = append(killed, p.ID())
		for n := 0; n < d.cfg.MaxPeers && used < len(st.Peers) && (n == 0 || len(e.Live()) < d.cfg.MaxPeers); n++ {
			id := st.Peers[used]
			used++
			if err := (fault.Start{IDs: []string{id}}).Inject(ctx, e); err != nil {
				return note(), true, err
			}
			// The group may look settled before the new peer has even dialled: wait for
			// its attempt (it leads, follows, fails or goes quiet), so that it joins.
			if _, err := e.WaitAttempt(ctx, id, startWait, d.cfg.Quiet); err != nil {
				return note(), true, err
			}
		}
		// A quarter of the settle time: a group that has not settled by then is left to
		// the settle step, which gives it the whole settle time and judges it. (A failing
		// schedule is replayed again and again while it shrinks: this halves its cost.)
		if ok, err := d.calmWithin(ctx, d.cfg.Settle/4); err != nil {
			return note(), true, err
		} else if !ok {
			return note() + "; the group did not come to rest, so the churn stops", true, nil
		}
	}
	if round == 0 {
		return "no target", false, nil
	}
	return note(), true, nil
}

// answerWait bounds how long a broadcast's sender may take to answer it (sent or
// send-failed). Answering is optional in the protocol: a peer that never reads its stdin
// costs one wait a schedule, and its later broadcast steps do nothing.
const answerWait = 2 * time.Second

// broadcastable reports whether peer status s may be handed a broadcast: a white-box peer
// that runs free (a paused or held one would answer only when let go).
func broadcastable(s engine.PeerStatus) bool {
	return s.Live && s.Spoke && !s.Steered && !s.Stopped && s.Paused == ""
}

// talker reports whether some live peer may be handed a broadcast.
func (d *driver) talker() bool {
	for _, p := range d.e.Live() {
		if broadcastable(d.e.Status(p.ID())) {
			return true
		}
	}
	return false
}

// broadcast carries out OpBroadcast.
func (d *driver) broadcast(ctx context.Context, st *Step) (string, bool, error) {
	e := d.e
	if d.deaf {
		return "the peers did not answer a broadcast", false, nil
	}
	p, err := target(*st).Resolve(e, "broadcast")
	if err != nil || p == nil {
		return "no target", false, err
	}
	if !broadcastable(e.Status(p.ID())) {
		return "no free white-box target", false, nil
	}
	// Every peer at rest first: the group the judge reads from the peers' events (a
	// leader announces a member a moment after the member says it follows) is the one the
	// kernel shows, and the same in a replay.
	if _, err := d.resting(ctx); err != nil {
		return "", true, err
	}
	before := e.Status(p.ID())
	if !broadcastable(before) {
		return "no free white-box target", false, nil
	}
	id := fmt.Sprintf("b%d", d.broadcasts+1)
	if !p.Send(protocol.Command{Cmd: protocol.CmdBroadcast, ID: id, Data: st.Data}) {
		return "the command was not taken", false, nil
	}
	d.broadcasts++
	note := id
	answered, err := e.WaitFor(ctx, answerWait, func(kernel.Snapshot) bool {
		s := e.Status(p.ID())
		return s.Answers > before.Answers || !s.Live
	})
	if err != nil {
		return note, true, err
	}
	if !answered {
		d.deaf = true
		note += fmt.Sprintf(" (no answer in %v)", answerWait)
	}
	// Every peer at rest: the members' message events are in before the next step.
	_, err = d.resting(ctx)
	return note, true, err
}

// settle carries out OpSettle: every stopped peer resumed, every steered one freed (one at
// a time, in start order, so the settle itself is one interleaving), then up to
// Config.Settle for the group to settle, and a last observation that no-lost-peers judges.
func (d *driver) settle(ctx context.Context) (string, bool, error) {
	e := d.e
	if len(e.Live()) == 0 {
		return "nobody to settle", false, nil
	}
	e.Phase(check.PhaseSettle)
	if err := (fault.Resume{Detail: "settle"}).Inject(ctx, e); err != nil && !errors.Is(err, fault.ErrNoTarget) {
		return "", true, err
	}
	for _, id := range e.IDs() {
		s := e.Status(id)
		if !s.Live || !s.Steered {
			continue
		}
		e.Free(id)
		if _, err := e.WaitFor(ctx, startWait, func(kernel.Snapshot) bool {
			return d.claimed(id, s) || e.AtRest(id, -1)
		}); err != nil {
			return "", true, err
		}
	}
	if _, err := e.WaitSettled(ctx, d.cfg.Settle, true); err != nil {
		return "", true, err
	}
	e.Snapshot(check.PhaseSettle)
	return "every peer free", true, nil
}

// claimed reports whether a freed peer has claimed a role since before: in steered mode
// that ends its turn. Steered at syscalls it does not: the peer still runs on to its next
// calls, and the next peer freed would race it, so its turn ends only at rest.
func (d *driver) claimed(id string, before engine.PeerStatus) bool {
	return d.cfg.Mode != ModeSyscalls && d.e.Status(id).Roles > before.Roles
}

// listeners describes the listeners of s by owner, e.g. "p1's (orphaned), p2's".
func (d *driver) listeners(s kernel.Snapshot) string {
	var parts []string
	for _, l := range s.Listeners {
		owner := "an unknown process's"
		if p := d.e.PeerOf(l.PIDs); p != nil {
			owner = p.ID() + "'s"
		} else if len(l.PIDs) > 0 {
			owner = fmt.Sprintf("pid %d's", l.PIDs[0])
		}
		if l.Orphaned {
			owner += " (orphaned)"
		}
		parts = append(parts, owner)
	}
	slices.Sort(parts) // the kernel's order is not the story's
	return strings.Join(parts, ", ")
}

// describe says what the kernel shows, for the story.
func (d *driver) describe(s kernel.Snapshot) string {
	switch len(s.Listeners) {
	case 0:
		return fmt.Sprintf("no listener, %d connections", len(s.Conns))
	case 1:
		l := s.Listeners[0]
		accepted := 0
		for _, c := range s.Conns {
			if c.ListenerInode == l.Inode && c.ServerInode != 0 {
				accepted++
			}
		}
		state := "reachable"
		if l.Orphaned {
			state = "orphaned"
		}
		return fmt.Sprintf("one listener, %s, %s; %d connected", strings.TrimSuffix(strings.TrimSuffix(d.listeners(s), " (orphaned)"), "'s"), state, accepted)
	}
	return fmt.Sprintf("%d listeners: %s", len(s.Listeners), d.listeners(s))
}
