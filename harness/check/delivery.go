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

// Delivery checks, for white-box peers, that a broadcast reaches every peer that was
// connected while it was sent, or that its sender is told it failed.
//
// For each broadcast command with id X sent at time tc to the peer process S:
//   - if S reports send-failed X, the broadcast is judged done (the sender knows);
//   - if S reports neither sent X nor send-failed X, it is a violation unless S exited after
//     tc and before the horizon (the "end" phase, or the last record): a dead sender cannot
//     be told, but one alive when the harness begins to stop peers had its chance;
//   - if S reports sent X at ts, let tEnd be the later of ts and the first phase record
//     after tc (the end of the history if none). Every other peer process R whose last
//     membership event at tc was follower, and which had no membership event (ready, leader,
//     follower, lost, closed) and no exit in (tc, tEnd], must report a message with id X
//     at some point after tc. The leader need not: it relays. A fault record that stops
//     (SIGSTOP) or resumes (SIGCONT) R counts as a membership event of R, and R is not a
//     follower while stopped: a stopped peer cannot tell that its leader died meanwhile.
//
// Broadcast ids must be unique within a run. A command record whose Detail begins with
// [CommandDropped] never reached the peer and is not judged. NotApplicable when no peer
// writes events, the harness sent no broadcast, or no peer ever answered one (sent or
// send-failed): reading stdin is optional in the protocol, so a peer that ignores every
// broadcast does not implement delivery rather than break it.
type Delivery struct{}

// Name implements Checker.
func (Delivery) Name() string { return "delivery" }

type broadcast struct {
	idx        int // the command record
	sender     int
	id         string
	candidates []int // pids that were followers at the command
}

type outcome struct {
	idx    int
	failed bool
}

type sendKey struct {
	pid int
	id  string
}

// Check implements Checker.
func (Delivery) Check(h []history.Record) Result {
	var (
		events     int
		status     = map[int]string{}          // pid -> last membership event, or stopped
		before     = map[int]string{}          // pid -> its status before it was stopped
		breaks     = map[int][]time.Duration{} // pid -> times its membership changed
		exited     = map[int]time.Duration{}
		phases     []time.Duration
		casts      []broadcast
		outcomes   = map[sendKey]outcome{}
		received   = map[string]map[int]bool{}
		p          = newPeers()
		lastT      time.Duration
		membership = map[string]bool{
			protocol.EventReady: true, protocol.EventLeader: true, protocol.EventFollower: true,
			protocol.EventLost: true, protocol.EventClosed: true,
		}
	)
	for i, r := range h {
		p.apply(h, i)
		lastT = r.T
		switch r.Kind {
		case history.KindPhase:
			phases = append(phases, r.T)
		case history.KindStart:
			delete(status, r.PID)
		case history.KindExit:
			delete(status, r.PID)
			breaks[r.PID] = append(breaks[r.PID], r.T)
			exited[r.PID] = r.T
		case history.KindFault:
			// A stopped peer cannot notice that its leader is gone: while it is stopped its
			// last event says nothing. Stopping and resuming it count as membership changes.
			if r.Fault == nil || r.PID == 0 {
				continue
			}
			switch r.Fault.Signal {
			case "SIGSTOP":
				if st, ok := status[r.PID]; ok && st != stopped {
					before[r.PID] = st
				}
				status[r.PID] = stopped
				breaks[r.PID] = append(breaks[r.PID], r.T)
			case "SIGCONT":
				if status[r.PID] == stopped {
					status[r.PID] = before[r.PID]
				}
				breaks[r.PID] = append(breaks[r.PID], r.T)
			}
		case history.KindCommand:
			if r.Command == nil || r.Command.Cmd != protocol.CmdBroadcast || strings.HasPrefix(r.Detail, CommandDropped) {
				continue // a dropped command never reached the peer
			}
			b := broadcast{idx: i, sender: r.PID, id: r.Command.ID}
			for pid, st := range status {
				if st == protocol.EventFollower && pid != r.PID {
					b.candidates = append(b.candidates, pid)
				}
			}
			slices.Sort(b.candidates)
			casts = append(casts, b)
		case history.KindEvent:
			if r.Event == nil {
				continue
			}
			events++
			ev := r.Event
			switch {
			case membership[ev.Event]:
				status[r.PID] = ev.Event
				breaks[r.PID] = append(breaks[r.PID], r.T)
			case ev.Event == protocol.EventSent || ev.Event == protocol.EventSendFailed:
				k := sendKey{pid: r.PID, id: ev.ID}
				if _, ok := outcomes[k]; !ok {
					outcomes[k] = outcome{idx: i, failed: ev.Event == protocol.EventSendFailed}
				}
			case ev.Event == protocol.EventMessage:
				if received[ev.ID] == nil {
					received[ev.ID] = map[int]bool{}
				}
				received[ev.ID][r.PID] = true
			}
		}
	}
	if events == 0 {
		return Result{Verdict: NotApplicable, Summary: "no peer wrote events (black-box), so delivery cannot be seen"}
	}
	if len(casts) == 0 {
		return Result{Verdict: NotApplicable, Summary: "the harness sent no broadcast"}
	}
	if len(outcomes) == 0 {
		return Result{Verdict: NotApplicable, Summary: fmt.Sprintf("no peer answered any of %s with sent or send-failed: the implementation does not take broadcast commands", count(len(casts), "broadcast"))}
	}
	if !leaderAppeared(h) {
		return noLeader(h)
	}

	end := horizon(h)
	var res Result
	var sent, failed, excused, silent, required, missed, badCasts int
	for _, b := range casts {
		c := h[b.idx]
		o, ok := outcomes[sendKey{pid: b.sender, id: b.id}]
		if !ok {
			if t, dead := exited[b.sender]; dead && t >= c.T && t <= end {
				excused++
				continue
			}
			silent++
			badCasts++
			res.addEvidence(Evidence{
				T: c.T, What: fmt.Sprintf("broadcast %q to %s at %v: the sender reported neither sent nor send-failed", b.id, c.Peer, c.T),
				Peers: []string{c.Peer}, PIDs: []int{b.sender}, Records: around(h, b.idx),
			})
			continue
		}
		if o.failed {
			failed++
			continue
		}
		sent++
		tEnd := max(h[o.idx].T, lastT)
		if j, _ := slices.BinarySearch(phases, c.T+1); j < len(phases) {
			tEnd = max(h[o.idx].T, phases[j])
		}
		var lost []int
		for _, pid := range b.candidates {
			bs := breaks[pid]
			j, _ := slices.BinarySearch(bs, c.T+1)
			if j < len(bs) && bs[j] <= tEnd {
				continue // its membership changed during the interval: not required
			}
			required++
			if !received[b.id][pid] {
				lost = append(lost, pid)
			}
		}
		if len(lost) == 0 {
			continue
		}
		missed += len(lost)
		badCasts++
		res.addEvidence(Evidence{
			T: c.T, What: fmt.Sprintf("broadcast %q from %s at %v was reported sent at %v but never reached %s, followers from %v to %v",
				b.id, c.Peer, c.T, h[o.idx].T, strings.Join(p.namesOf(lost), ","), c.T, tEnd),
			Peers: slices.Concat([]string{c.Peer}, p.namesOf(lost)), PIDs: slices.Concat([]int{b.sender}, lost),
			Records: slices.Concat(around(h, b.idx), []history.Record{h[o.idx]}),
		})
	}
	res.figure("broadcasts", float64(len(casts)))
	res.figure("sent", float64(sent))
	res.figure("send_failed", float64(failed))
	res.figure("sender_died", float64(excused))
	res.figure("unreported", float64(silent))
	res.figure("deliveries_required", float64(required))
	res.figure("deliveries_missed", float64(missed))
	if badCasts > 0 {
		res.Verdict = Fail
		res.Summary = fmt.Sprintf("%d of %d broadcasts were lost without the sender being told; first: %s",
			badCasts, len(casts), res.Evidence[0].What)
		return res
	}
	res.Verdict = Pass
	res.Summary = fmt.Sprintf("%s: %d delivered to all %s, %d reported failed, %s died",
		count(len(casts), "broadcast"), sent, count(required, "required recipient"), failed, count(excused, "sender"))
	return res
}
