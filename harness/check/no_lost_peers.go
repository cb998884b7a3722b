package check

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// NoLostPeers checks that once faults stop and peers have settled, every live peer is
// connected to the one reachable leader, and nobody to anything else.
//
// A settle window begins at the first "settle" or "quiesce" phase record after faults and
// ends at the next "faults" or "end" phase record (or the end of the history); there is one
// per round. The last observation in each window is judged (one taken before Run.Settle
// has passed only if it shows the group settled; else the window is inconclusive): every live peer (started, not
// exited), except those holding the reachable listener, must be the client of an accepted
// connection whose server side is held by the reachable listener's process (by PID), and
// no connection may go to another process or listener. A connection still in the backlog
// does not count as connected: after the settle time the leader must have accepted it.
type NoLostPeers struct{}

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
		ev, ok := lostPeers(r.Snapshot, p)
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
// live peer is not connected to the reachable leader or anyone is connected elsewhere.
func lostPeers(s *kernel.Snapshot, p *peers) (Evidence, bool) {
	live := p.livePIDs()
	if len(live) == 0 {
		return Evidence{}, true
	}
	leader, ok := s.Reachable()
	if !ok {
		return Evidence{
			What:  fmt.Sprintf("no reachable listener while %s live: %s", count(len(live), "peer"), strings.Join(p.namesOf(live), ",")),
			Peers: p.namesOf(live), PIDs: live, Snapshot: s,
		}, false
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
	return Evidence{What: strings.Join(parts, "; "), Peers: p.namesOf(pids), PIDs: pids, Snapshot: s}, false
}

func intersects(a, b []int) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}
