package check

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// stopped is the delivery status of a peer the harness stopped with SIGSTOP.
const stopped = "stopped"

// DeliveryMargin is how long a recipient and its leader must stay as they were after a
// broadcast was reported sent for the delivery to be required of them: the leader has had
// that long to hand it over.
const DeliveryMargin = 100 * time.Millisecond

// Delivery checks, for white-box peers, that a broadcast reported sent reaches every member
// of the sender's group, once and intact, and that the sender hears about every broadcast.
//
// The group is read from the peers' own events, at the broadcast command (time tc) to the
// sender S. A peer whose last membership event is `leader` leads; one whose last is
// `follower` is a member of the live peer its `leader` field names (of the only live leader
// when the field is absent), unless both give an epoch and they differ. When that leader
// announces its members (it has written a `connection` event), a follower counts only once
// its leader announced it and until it announced its `disconnection`. A stopped peer
// (SIGSTOP) belongs to no group until it is resumed. S's group is the one it leads or follows
// when it reports `sent` (else the one at tc); its members are the leader (when S follows)
// and every other follower. S could take the command from tf: tc, or, when S was stopped at
// tc, when it was resumed (the command waited in its stdin).
//
// For each broadcast command with id X:
//   - if S reports send-failed X, the broadcast is done (the sender knows);
//   - if S reports neither sent X nor send-failed X, it is a violation unless S exited after
//     tc and before the horizon (the "end" phase, or the last record);
//   - if S reports sent X at ts, every member R of S's group is required to write `message`
//     X unless R or its leader changed (a membership event, a disconnection of R, a SIGSTOP
//     or SIGCONT, a SIGKILL from the harness, an exit; or, for R only, a SIGTERM from the
//     harness: a leader told to end still owes its followers what it acknowledged) between
//     tf and max(ts, tf) + DeliveryMargin, or the history ends before then. A required R that never writes it, at any time, is a violation.
//
// Every `message` whose id is a broadcast of the run is checked wherever it lands: `from`
// must be the sender's peer id and `data` the broadcast's data, a process must not write the
// same id twice (a duplicate), and the sender must not get its own broadcast back.
//
// Broadcast ids must be unique within a run. A command record whose Detail begins with
// [CommandDropped] never reached the peer and is not judged. NotJudged when no peer
// writes events, the harness sent no broadcast, no peer ever answered one (reading stdin is
// optional in the protocol), or no delivery was required of anyone (every group changed
// within the margin, or had no other member): a verdict on nothing is not a pass.
type Delivery struct{}

// Name implements Checker.
func (Delivery) Name() string { return "delivery" }

type broadcast struct {
	idx     int // the command record
	sender  int
	id      string
	data    string
	from    time.Duration // when the sender could take it: the command, or its resumption
	leader  int           // the sender's leader (the sender itself when it leads); 0: none
	members []int         // the other members of its group, the leader included
	stopped bool          // the sender was stopped (SIGSTOP) at the command
}

type outcome struct {
	idx    int
	failed bool
}

type sendKey struct {
	pid int
	id  string
}

// receipt is one `message` event.
type receipt struct {
	idx  int
	pid  int
	from string
	data string
}

// groups tracks who leads and who follows whom, from the peers' events.
type groups struct {
	status    map[int]string          // pid -> last membership event, or stopped
	before    map[int]string          // pid -> its status before it was stopped
	follows   map[int]string          // pid -> the leader id of its last follower event
	epoch     map[int]uint64          // pid -> epoch of its last leader/follower event, if given
	hasEpoch  map[int]bool            // pid -> its last leader/follower event gave an epoch
	announces map[int]bool            // leader pid -> it has written a connection event
	joined    map[int]map[string]bool // leader pid -> member ids it announced and did not drop
}

func newGroups() *groups {
	return &groups{
		status: map[int]string{}, before: map[int]string{}, follows: map[int]string{},
		epoch: map[int]uint64{}, hasEpoch: map[int]bool{}, announces: map[int]bool{},
		joined: map[int]map[string]bool{},
	}
}

// leaderOf returns the pid of the leader pid follows (pid itself when it leads), or 0.
func (g *groups) leaderOf(pid int, p *peers) int {
	switch g.status[pid] {
	case protocol.EventLeader:
		return pid
	case protocol.EventFollower:
	default:
		return 0
	}
	want := g.follows[pid]
	found := 0
	for lp, id := range p.live {
		if g.status[lp] != protocol.EventLeader || lp == pid || (want != "" && id != want) {
			continue
		}
		if found != 0 {
			return 0 // no leader named and more than one leads: ambiguous
		}
		found = lp
	}
	if found != 0 && g.hasEpoch[pid] && g.hasEpoch[found] && g.epoch[pid] != g.epoch[found] {
		return 0 // it follows another incarnation
	}
	if found != 0 && g.announces[found] && !g.joined[found][p.name(pid)] {
		return 0 // its leader has not counted it in (yet, or any more)
	}
	return found
}

// members returns the leader and followers of leader, but not except, sorted.
func (g *groups) members(leader, except int, p *peers) []int {
	var out []int
	if leader != except {
		out = append(out, leader)
	}
	for pid := range p.live {
		if pid != leader && pid != except && g.status[pid] == protocol.EventFollower && g.leaderOf(pid, p) == leader {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

// Check implements Checker.
func (Delivery) Check(h []history.Record) Result {
	var (
		events     int
		g          = newGroups()
		breaks     = map[int][]time.Duration{} // pid -> times its membership changed
		exited     = map[int]time.Duration{}
		casts      []broadcast
		castOf     = map[sendKey]int{} // (sender, id) -> index in casts
		outcomes   = map[sendKey]outcome{}
		received   = map[string][]receipt{}
		p          = newPeers()
		membership = map[string]bool{
			protocol.EventReady: true, protocol.EventLeader: true, protocol.EventFollower: true,
			protocol.EventLost: true, protocol.EventClosed: true,
		}
	)
	brk := func(pid int, t time.Duration) { breaks[pid] = append(breaks[pid], t) }
	leaving := map[int][]time.Duration{} // pid -> when the harness signalled it to end
	for i, r := range h {
		p.apply(h, i)
		switch r.Kind {
		case history.KindStart:
			delete(g.status, r.PID)
		case history.KindExit:
			delete(g.status, r.PID)
			brk(r.PID, r.T)
			exited[r.PID] = r.T
		case history.KindFault:
			// A stopped peer cannot notice that its leader is gone, nor relay: while it is
			// stopped it is in no group. Stopping and resuming it count as membership changes.
			if r.Fault == nil || r.PID == 0 {
				continue
			}
			switch r.Fault.Signal {
			case "SIGKILL":
				// Killed: it is gone from here on, though its exit may be reaped much later
				// on a loaded machine, and what it acknowledged but had not relayed is lost
				// with it (the bridge promises delivery across Close, not across a crash).
				brk(r.PID, r.T)
			case "SIGTERM":
				// A peer told to end may stop delivering to itself at once: it is leaving.
				// A leader told to end still owes its followers what it acknowledged.
				leaving[r.PID] = append(leaving[r.PID], r.T)
			case "SIGSTOP":
				if st, ok := g.status[r.PID]; ok && st != stopped {
					g.before[r.PID] = st
				}
				g.status[r.PID] = stopped
				brk(r.PID, r.T)
			case "SIGCONT":
				if g.status[r.PID] == stopped {
					g.status[r.PID] = g.before[r.PID]
				}
				brk(r.PID, r.T)
				for k := range casts { // a stopped sender reads its commands now
					if b := &casts[k]; b.sender == r.PID && b.stopped {
						b.from, b.stopped = r.T, false
					}
				}
			}
		case history.KindCommand:
			if r.Command == nil || r.Command.Cmd != protocol.CmdBroadcast || strings.HasPrefix(r.Detail, CommandDropped) {
				continue // a dropped command never reached the peer
			}
			b := broadcast{idx: i, sender: r.PID, id: r.Command.ID, data: r.Command.Data, from: r.T,
				stopped: g.status[r.PID] == stopped}
			if _, ok := p.live[r.PID]; ok {
				b.leader = g.leaderOf(r.PID, p)
			}
			if b.leader != 0 {
				b.members = g.members(b.leader, r.PID, p)
			}
			castOf[sendKey{pid: r.PID, id: b.id}] = len(casts)
			casts = append(casts, b)
		case history.KindEvent:
			if r.Event == nil {
				continue
			}
			events++
			ev := r.Event
			switch {
			case membership[ev.Event]:
				// An event read after the SIGSTOP was written before it took effect: the
				// peer stays stopped, in that state once resumed.
				if g.status[r.PID] == stopped {
					g.before[r.PID] = ev.Event
				} else {
					g.status[r.PID] = ev.Event
				}
				g.follows[r.PID] = ev.Leader
				g.hasEpoch[r.PID] = ev.Epoch != nil
				if ev.Epoch != nil {
					g.epoch[r.PID] = *ev.Epoch
				}
				delete(g.joined, r.PID)
				brk(r.PID, r.T)
			case ev.Event == protocol.EventConnection:
				g.announces[r.PID] = true
				if g.joined[r.PID] == nil {
					g.joined[r.PID] = map[string]bool{}
				}
				g.joined[r.PID][ev.Member] = true
			case ev.Event == protocol.EventDisconnection:
				delete(g.joined[r.PID], ev.Member)
				for pid, id := range p.live {
					if id == ev.Member {
						brk(pid, r.T)
					}
				}
			case ev.Event == protocol.EventSent || ev.Event == protocol.EventSendFailed:
				k := sendKey{pid: r.PID, id: ev.ID}
				if _, ok := outcomes[k]; !ok {
					outcomes[k] = outcome{idx: i, failed: ev.Event == protocol.EventSendFailed}
					// The group it was sent to is the sender's group now, when the sender
					// says the leader took it (the command may have waited in a stopped
					// sender's stdin); the group at the command if it has none now.
					if c, ok := castOf[k]; ok && ev.Event == protocol.EventSent {
						if l := g.leaderOf(r.PID, p); l != 0 {
							casts[c].leader, casts[c].members = l, g.members(l, r.PID, p)
						}
					}
				}
			case ev.Event == protocol.EventMessage:
				received[ev.ID] = append(received[ev.ID], receipt{idx: i, pid: r.PID, from: ev.From, data: ev.Data})
			}
		}
	}
	if events == 0 {
		return Result{Verdict: NotJudged, Summary: "no peer wrote events (black-box), so delivery cannot be seen"}
	}
	if len(casts) == 0 {
		return Result{Verdict: NotJudged, Summary: "the harness sent no broadcast"}
	}
	if len(outcomes) == 0 {
		return Result{Verdict: NotJudged, Summary: fmt.Sprintf("no peer answered any of %s with sent or send-failed: the implementation does not take broadcast commands", count(len(casts), "broadcast"))}
	}
	if !leaderAppeared(h) {
		return noLeader(h)
	}

	end := horizon(h)
	lastT := h[len(h)-1].T
	var res Result
	var sent, failed, excused, silent, groupless, required, delivered, missed, corrupt, badCasts int
	for _, b := range casts {
		c := h[b.idx]
		bad := false
		// Every receipt of this broadcast, required or not: once per process, intact, from
		// the sender, never back to the sender.
		seen := map[int]int{}
		for _, rc := range received[b.id] {
			seen[rc.pid]++
			var what string
			switch {
			case rc.pid == b.sender:
				what = "the sender got its own broadcast back"
			case seen[rc.pid] == 2:
				what = "it was delivered twice to " + p.name(rc.pid)
			case rc.from != c.Peer:
				what = fmt.Sprintf("%s got it with from %q, not %q", p.name(rc.pid), rc.from, c.Peer)
			case rc.data != b.data:
				what = fmt.Sprintf("%s got it with data %q, not %q", p.name(rc.pid), clip(rc.data), clip(b.data))
			default:
				continue
			}
			corrupt++
			bad = true
			res.addEvidence(Evidence{
				T: h[rc.idx].T, What: fmt.Sprintf("broadcast %q from %s at %v: %s", b.id, c.Peer, c.T, what),
				Peers: []string{c.Peer, p.name(rc.pid)}, PIDs: []int{b.sender, rc.pid},
				Records: slices.Concat([]history.Record{c}, around(h, rc.idx)),
			})
		}

		o, ok := outcomes[sendKey{pid: b.sender, id: b.id}]
		switch {
		case !ok:
			if t, dead := exited[b.sender]; dead && t >= c.T && t <= end {
				excused++
				break
			}
			silent++
			bad = true
			res.addEvidence(Evidence{
				T: c.T, What: fmt.Sprintf("broadcast %q to %s at %v: the sender reported neither sent nor send-failed", b.id, c.Peer, c.T),
				Peers: []string{c.Peer}, PIDs: []int{b.sender}, Records: around(h, b.idx),
			})
		case o.failed:
			failed++
		case b.leader == 0:
			sent++
			groupless++ // sent, but its events put the sender in no group: nothing to require
		default:
			sent++
			tEnd := max(h[o.idx].T, b.from) + DeliveryMargin
			if tEnd > lastT {
				break // the history ends before the margin does
			}
			got := map[int]bool{}
			for _, rc := range received[b.id] {
				got[rc.pid] = true
			}
			var lost []int
			for _, pid := range b.members {
				if changed(breaks[pid], b.from, tEnd) || changed(leaving[pid], b.from, tEnd) || changed(breaks[b.leader], b.from, tEnd) {
					continue // it or its leader changed meanwhile: not required
				}
				required++
				if got[pid] {
					delivered++
					continue
				}
				lost = append(lost, pid)
			}
			if len(lost) == 0 {
				break
			}
			missed += len(lost)
			bad = true
			role := "followers of " + p.name(b.leader)
			res.addEvidence(Evidence{
				T: c.T, What: fmt.Sprintf("broadcast %q from %s at %v was reported sent at %v but never reached %s (%s, from %v to %v at least)",
					b.id, c.Peer, c.T, h[o.idx].T, strings.Join(p.namesOf(lost), ","), membersWord(lost, b.leader, role), c.T, tEnd),
				Peers: slices.Concat([]string{c.Peer}, p.namesOf(lost)), PIDs: slices.Concat([]int{b.sender}, lost),
				Records: slices.Concat(around(h, b.idx), []history.Record{h[o.idx]}),
			})
		}
		if bad {
			badCasts++
		}
	}
	res.figure("broadcasts", float64(len(casts)))
	res.figure("sent", float64(sent))
	res.figure("send_failed", float64(failed))
	res.figure("sender_died", float64(excused))
	res.figure("unreported", float64(silent))
	res.figure("sent_outside_a_group", float64(groupless))
	res.figure("deliveries_required", float64(required))
	res.figure("deliveries_made", float64(delivered))
	res.figure("deliveries_missed", float64(missed))
	res.figure("deliveries_wrong", float64(corrupt))
	if badCasts > 0 {
		res.Verdict = Fail
		res.Summary = fmt.Sprintf("%d of %s went wrong (%d recipients missed, %d wrong or duplicate deliveries, %d unreported); first: %s",
			badCasts, count(len(casts), "broadcast"), missed, corrupt, silent, res.Evidence[0].What)
		return res
	}
	if required == 0 {
		res.Verdict = NotJudged
		res.Summary = fmt.Sprintf("not judged: no delivery was required of anyone (of %s, %d reported sent, each to a group "+
			"that changed within %v or had no other member; %d reported failed; %s died)",
			count(len(casts), "broadcast"), sent, DeliveryMargin, failed, count(excused, "sender"))
		return res
	}
	res.Verdict = Pass
	res.Summary = fmt.Sprintf("%s: %d sent, %s made, none missed, none wrong; %d reported failed, %s died",
		count(len(casts), "broadcast"), sent, fmt.Sprintf("%d required deliveries", required), failed, count(excused, "sender"))
	return res
}

// changed reports whether a break in bs (sorted) falls in (from, to].
func changed(bs []time.Duration, from, to time.Duration) bool {
	j, _ := slices.BinarySearch(bs, from+1)
	return j < len(bs) && bs[j] <= to
}

// membersWord says who the lost recipients are: the leader, followers, or both.
func membersWord(lost []int, leader int, followers string) string {
	if slices.Contains(lost, leader) {
		if len(lost) == 1 {
			return "the leader"
		}
		return "the leader and " + followers
	}
	return followers
}

// clip shortens s for a one-line summary.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
