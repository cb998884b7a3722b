package check

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// NoLostPeers checks that after every fault's settle window every live peer is connected
// to the one reachable leader, and nobody to anything else; and that at no time a peer that
// had joined the group stays lost for longer than the liveness bound, even if it heals.
//
// A settle window begins at the first "settle" or "quiesce" phase record after faults and
// ends at the next "faults" or "end" phase record (or the end of the history); a run has
// one per fault round and one at the end. The last observation in each window is judged
// (one taken before Run.Settle has passed only if it shows the group settled; else the
// window is inconclusive): every live peer (started, not exited), except those holding the
// reachable listener, must be the client of an accepted connection whose server side is
// held by the reachable listener's process (by PID), and no connection may go to another
// process or listener. A connection still in the backlog does not count as connected:
// after the settle time the leader must have accepted it. A peer a fault stopped (SIGSTOP),
// or resumed less than Run.Settle ago, is not asked to be connected; nor is anyone while
// the leader itself is stopped, since a stopped leader accepts nobody.
//
// Between windows, every observation is watched (see lostTooLong): a live peer that said
// ready, or was seen connected or leading, and is then not connected to the reachable
// leader for longer than Run.Liveness is a violation, healed or not. A peer that stays
// connected to a process that does not lead while another leads is held to the shorter
// [SecondGroupGrace]: it is not looking for a leader, it is in a second group (an old
// leader that resigned but goes on serving some of its followers), a split brain of
// membership that the liveness bound would let last for seconds.
type NoLostPeers struct{}

// SecondGroupGrace is how long a live peer may stay connected (accepted) to a process that
// does not hold the reachable listener while one does: a leader that resigns or closes
// hangs up on its members after it lets go of the address, and may first write what it
// queued for them (the reference leader, for up to a second); a second more is slack for a
// loaded machine. Unlike the liveness bound it does not grow with --liveness.
const SecondGroupGrace = 2 * time.Second

// Name implements Checker.
func (NoLostPeers) Name() string { return "no-lost-peers" }

type settleWindow struct {
	start time.Duration // the phase record that opened it
	obs   int           // index of its last observation, -1 if none
}

// Check implements Checker.
func (NoLostPeers) Check(h []history.Record) Result {
	if !leaderAppeared(h) {
		return noLeader(h)
	}
	var settle time.Duration
	if run := RunConfig(h); run != nil {
		settle = run.Settle
	}

	// Pass 1: find each window's last observation.
	var windows []settleWindow
	open := false
	for i, r := range h {
		switch {
		case r.Kind == history.KindPhase && (r.Detail == PhaseSettle || r.Detail == PhaseQuiesce):
			if !open {
				open = true
				windows = append(windows, settleWindow{start: r.T, obs: -1})
			}
		case r.Kind == history.KindPhase && (r.Detail == PhaseFaults || r.Detail == PhaseEnd):
			open = false
		case r.Kind == history.KindObservation && r.Snapshot != nil && open:
			windows[len(windows)-1].obs = i
		}
	}

	// Pass 2: judge each window's observation with the live peers at that point.
	var res Result
	p := newPeers()
	w := 0
	judged, lost, early := 0, 0, 0
	var first Evidence // the first lost-peers evidence, for the summary
	for i := range h {
		p.apply(h, i)
		for w < len(windows) && windows[w].obs < i {
			w++ // windows without an observation are skipped here and counted below
		}
		if w >= len(windows) || windows[w].obs != i {
			continue
		}
		win := windows[w]
		r := h[i]
		ev, ok := lostPeers(r.Snapshot, p, settle)
		if !ok && r.T < win.start+settle {
			// The driver moved on before the settle time passed, and the group had not
			// settled yet: that is no proof of a lost peer. (A settled group may be seen
			// early: the driver waits for exactly that.)
			early++
			res.addEvidence(Evidence{T: r.T, What: fmt.Sprintf(
				"the last observation of the settle window that began at %v came %v before the settle time (%v) had passed, unsettled: %s",
				win.start, win.start+settle-r.T, settle, ev.What), Snapshot: r.Snapshot, Records: around(h, i)})
			continue
		}
		judged++
		if !ok {
			lost++
			ev.T, ev.Records = r.T, around(h, i)
			if lost == 1 {
				first = ev
			}
			res.addEvidence(ev)
		}
	}
	// Pass 3: at any time, a peer that had joined the group and is then not connected to
	// the reachable leader for longer than the liveness bound is lost, even if it heals.
	var long, second []Evidence
	if run := RunConfig(h); run != nil && run.Liveness > 0 {
		long, second = lostTooLong(h, run.Liveness, settle)
		for _, ev := range slices.Concat(long, second) {
			res.addEvidence(ev)
		}
		switch {
		case lost > 0:
		case len(long) > 0:
			first = long[0]
		case len(second) > 0:
			first = second[0]
		}
	}
	res.figure("lost_too_long", float64(len(long)))
	res.figure("second_group", float64(len(second)))
	missing := 0
	for _, win := range windows {
		if win.obs < 0 {
			missing++
		}
	}
	res.figure("settle_windows", float64(len(windows)))
	res.figure("judged", float64(judged))
	switch {
	case lost > 0:
		res.Verdict = Fail
		res.Summary = fmt.Sprintf("%d of %d settled observations had lost peers; first at %v: %s",
			lost, judged, first.T, first.What)
	case len(long) > 0:
		res.Verdict = Fail
		res.Summary = fmt.Sprintf("%s lost longer than the bound; first: %s", count(len(long), "peer episode"), first.What)
	case len(second) > 0:
		res.Verdict = Fail
		res.Summary = fmt.Sprintf("%s in a second group for longer than %v; first: %s", count(len(second), "peer episode"), SecondGroupGrace, first.What)
	case len(windows) == 0:
		res.Verdict, res.Summary = Inconclusive, "the history has no settle or quiesce phase, so no observation can be judged"
	case missing > 0 || early > 0:
		res.Verdict = Inconclusive
		res.Summary = fmt.Sprintf("%d of %d settle windows had no observation, %d only one taken before the settle time passed",
			missing, len(windows), early)
	default:
		res.Verdict = Pass
		res.Summary = fmt.Sprintf("every live peer was connected to the leader at the end of %s", count(judged, "settle window"))
	}
	return res
}

// lostPeers judges one snapshot against the live peers; ok is false with evidence when a
// live peer is not connected to the reachable leader or anyone is connected elsewhere. A
// peer a fault stopped, or resumed less than grace ago, is not asked to be connected.
func lostPeers(s *kernel.Snapshot, p *peers, grace time.Duration) (Evidence, bool) {
	raw := s
	s = p.normalize(s) // a peer is its process tree
	var live []int
	for _, pid := range p.livePIDs() {
		if !p.excused(pid, s.Taken, grace) {
			live = append(live, pid)
		}
	}
	if len(live) == 0 {
		return Evidence{}, true
	}
	leader, ok := s.Reachable()
	if !ok {
		return Evidence{
			What:  fmt.Sprintf("no reachable listener while %s live: %s", count(len(live), "peer"), strings.Join(p.namesOf(live), ",")),
			Peers: p.namesOf(live), PIDs: live, Snapshot: raw,
		}, false
	}
	for _, pid := range leader.PIDs {
		if p.excused(pid, s.Taken, grace) {
			return Evidence{}, true // a stopped leader accepts nobody: the fault's doing
		}
	}
	connected := map[int]bool{}
	var strays []int // clients connected to another listener or process
	for _, c := range s.Conns {
		toLeader := (c.ListenerInode == 0 || c.ListenerInode == leader.Inode) && intersects(c.ServerPIDs, leader.PIDs)
		waiting := c.ServerInode == 0 && c.ListenerInode == leader.Inode
		for _, pid := range c.ClientPIDs {
			switch {
			case c.ServerInode != 0 && toLeader:
				connected[pid] = true
			case waiting:
			default:
				strays = append(strays, pid)
			}
		}
	}
	var missing []int
	for _, pid := range live {
		if !slices.Contains(leader.PIDs, pid) && !connected[pid] {
			missing = append(missing, pid)
		}
	}
	if len(missing) == 0 && len(strays) == 0 {
		return Evidence{}, true
	}
	slices.Sort(strays)
	strays = slices.Compact(strays)
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("not connected to the leader (%s): %s",
			strings.Join(p.namesOf(leader.PIDs), ","), strings.Join(p.namesOf(missing), ",")))
	}
	if len(strays) > 0 {
		parts = append(parts, "connected elsewhere: "+strings.Join(p.namesOf(strays), ","))
	}
	pids := slices.Concat(missing, strays)
	return Evidence{What: strings.Join(parts, "; "), Peers: p.namesOf(pids), PIDs: pids, Snapshot: raw}, false
}

func intersects(a, b []int) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// lostTooLong walks every observation and returns evidence for each episode in which a
// live peer that had joined the group (it said ready, or was seen connected or leading)
// was not connected to the reachable leader for longer than bound. The clock of an episode
// starts at the first observation with a reachable leader that the peer is not connected
// to (or at its ready, if later), keeps running while no leader is reachable, and stops at
// the observation that shows it connected again, or at the end phase. A peer a fault
// stopped is not judged; one resumed starts afresh, with grace to reconnect.
//
// second holds the episodes in which a live peer stayed connected to a process that does
// not hold the reachable listener, while one does, for longer than SecondGroupGrace (see
// secondGroups): its clock runs from the first such observation to the first without.
func lostTooLong(h []history.Record, bound, grace time.Duration) (out, second []Evidence) {
	type state struct {
		joined bool
		lost   bool
		since  time.Duration
		told   bool
		idx    int
	}
	type apart struct {
		since  time.Duration
		idx    int
		to     []int // the processes it was connected to when the episode began
		leader []int // and the reachable listener's
		told   bool
	}
	p := newPeers()
	groups := map[int]*apart{}
	// tell reports an episode that has lasted until t, the record i: an observation is
	// recorded only when the kernel's view changed, so a state lasts until the first record
	// that no longer shows it (an observation, the peer's exit, the end).
	tell := func(pid int, a *apart, t time.Duration, i int) {
		if a.told || t-a.since <= SecondGroupGrace {
			return
		}
		a.told = true
		second = append(second, Evidence{T: a.since,
			What: fmt.Sprintf("%s stayed connected to %s, which does not lead (%s listens), for %v from %v (bound %v): a second group beside the leader's",
				p.name(pid), strings.Join(p.namesOf(a.to), ","), strings.Join(p.namesOf(a.leader), ","), t-a.since, a.since, SecondGroupGrace),
			Peers: slices.Concat([]string{p.name(pid)}, p.namesOf(a.to)), PIDs: slices.Concat([]int{pid}, a.to),
			Snapshot: h[a.idx].Snapshot, Records: slices.Concat(around(h, a.idx), []history.Record{h[i]})})
	}
	st := map[int]*state{}
	judge := func(pid int, t time.Duration, s *state, i int, still bool) {
		if s.told || t-s.since <= bound {
			return
		}
		s.told = true
		how := "and was connected again at %v"
		if still {
			how = "and was still lost at %v"
		}
		out = append(out, Evidence{T: s.since,
			What: fmt.Sprintf("%s was not connected to the leader for %v from %v (bound %v) "+how,
				p.name(pid), t-s.since, s.since, bound, t),
			Peers: []string{p.name(pid)}, PIDs: []int{pid}, Snapshot: h[i].Snapshot,
			Records: slices.Concat(around(h, s.idx), []history.Record{h[i]})})
	}
	for i, r := range h {
		p.apply(h, i)
		switch r.Kind {
		case history.KindStart:
			st[r.PID] = &state{}
		case history.KindExit:
			if s := st[r.PID]; s != nil && s.lost {
				judge(r.PID, r.T, s, i, true)
			}
			if a := groups[r.PID]; a != nil {
				tell(r.PID, a, r.T, i)
				delete(groups, r.PID)
			}
			delete(st, r.PID)
		case history.KindPhase:
			if r.Detail == PhaseEnd {
				for pid, s := range st {
					if s.lost {
						judge(pid, r.T, s, i, true)
					}
				}
				for pid, a := range groups {
					tell(pid, a, r.T, i)
				}
				return out, second
			}
		case history.KindFault:
			if s := st[r.PID]; s != nil && r.Fault != nil && (r.Fault.Signal == "SIGSTOP" || r.Fault.Signal == "SIGCONT") {
				s.lost, s.told = false, false
			}
		case history.KindEvent:
			if s := st[r.PID]; s != nil && r.Event != nil && r.Event.Event == protocol.EventReady {
				s.joined = true
			}
		case history.KindObservation:
			if r.Snapshot == nil {
				continue
			}
			snap := p.normalize(r.Snapshot)
			l, ok := snap.Reachable()
			connected := map[int]bool{}
			if ok {
				for _, pid := range l.PIDs {
					connected[pid] = true
				}
				for _, c := range snap.Conns {
					if c.ServerInode != 0 && (c.ListenerInode == 0 || c.ListenerInode == l.Inode) && intersects(c.ServerPIDs, l.PIDs) {
						for _, pid := range c.ClientPIDs {
							connected[pid] = true
						}
					}
				}
			}
			leaderStopped := false
			if ok {
				for _, pid := range l.PIDs {
					leaderStopped = leaderStopped || p.excused(pid, r.T, grace)
				}
			}
			apartNow := map[int][]int{}
			if ok && !leaderStopped {
				apartNow = secondGroups(snap, l, func(pid int) bool { return p.excused(pid, r.T, grace) })
			}
			for pid, a := range groups {
				tell(pid, a, r.T, i)
				if _, still := apartNow[pid]; !still {
					delete(groups, pid)
				}
			}
			for pid, to := range apartNow {
				if st[pid] != nil && groups[pid] == nil {
					groups[pid] = &apart{since: r.T, idx: i, to: to, leader: l.PIDs}
				}
			}
			for pid, s := range st {
				switch {
				case leaderStopped && !connected[pid]:
					s.lost = false // a stopped leader accepts nobody: the clock starts afresh
				case connected[pid]:
					if s.lost {
						judge(pid, r.T, s, i, false)
					}
					s.joined, s.lost, s.told = true, false, false
				case !s.joined || p.excused(pid, r.T, grace):
				case !s.lost && ok:
					s.lost, s.since, s.idx = true, r.T, i
				case s.lost:
					judge(pid, r.T, s, i, true)
				}
			}
		}
	}
	return out, second
}

// secondGroups returns the live peers of s (normalized) connected (accepted) to a process
// that does not hold the reachable listener l, with those processes: an old leader that
// still serves them while l's holder leads. Connections whose server side nobody known
// holds, and those served or held by a process excused (stopped) are left out: the first
// proves nothing, the second is the fault's doing.
func secondGroups(s *kernel.Snapshot, l kernel.Listener, excused func(int) bool) map[int][]int {
	out := map[int][]int{}
	if len(l.PIDs) == 0 {
		return out
	}
	for _, c := range s.Conns {
		if c.ServerInode == 0 || len(c.ServerPIDs) == 0 || intersects(c.ServerPIDs, l.PIDs) {
			continue
		}
		if slices.ContainsFunc(c.ServerPIDs, excused) {
			continue
		}
		for _, pid := range c.ClientPIDs {
			if slices.Contains(c.ServerPIDs, pid) || excused(pid) {
				continue
			}
			for _, to := range c.ServerPIDs {
				if !slices.Contains(out[pid], to) {
					out[pid] = append(out[pid], to)
				}
			}
		}
	}
	return out
}
