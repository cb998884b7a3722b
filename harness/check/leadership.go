package check

import (
	"fmt"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// LeadershipGrace is how long two `leader` claims may overlap before it counts: a peer tells
// that it lost its leadership (`lost`, `closed`) only after it let go, and the harness stamps
// each peer's lines as it reads them, so a successor's claim may be read a little before its
// predecessor's end.
const LeadershipGrace = 100 * time.Millisecond

// Leadership checks, for white-box peers, the peers' own `leader` claims: no two processes
// claim to lead at once, and each claim's epoch is greater than the epoch of the claim
// before it (epochs are fencing tokens: a new leader must be told from the old).
//
// A claim is a `leader` event of a process. It lasts until that process writes another
// membership event (ready, leader, follower, lost, closed), exits, or is told to stop: a
// SIGKILL or SIGTERM fault record naming it, a `close` command, or the "end" phase (the
// harness stops every peer). A SIGSTOP does not end it: a stopped leader still holds what
// made it leader, and nobody else may lead meanwhile. Two claims of different processes
// that overlap by more than LeadershipGrace are a violation. Claims are ordered by their
// start; a claim with an epoch must have a greater one than every earlier claim that gave
// an epoch (a smaller one started within LeadershipGrace of the greatest is an earlier claim
// whose event was read late). Claims without an epoch (it is optional) are judged for overlap only.
//
// NotJudged when no peer writes events (black-box), or fewer than two claims were made
// (nothing to compare).
type Leadership struct{}

// Name implements Checker.
func (Leadership) Name() string { return "leadership" }

type claim struct {
	idx        int // its leader event
	pid        int
	peer       string
	epoch      uint64
	hasEpoch   bool
	start, end time.Duration
	endIdx     int // the record that ended it; -1 while open
}

// Check implements Checker.
func (Leadership) Check(h []history.Record) Result {
	var (
		events int
		claims []claim
		open   = map[int]int{} // pid -> index in claims of its open claim
	)
	closeClaim := func(pid int, i int) {
		if k, ok := open[pid]; ok {
			claims[k].end, claims[k].endIdx = h[i].T, i
			delete(open, pid)
		}
	}
	closeAll := func(i int) {
		for pid := range open {
			closeClaim(pid, i)
		}
	}
	for i, r := range h {
		switch r.Kind {
		case history.KindEvent:
			if r.Event == nil {
				continue
			}
			events++
			switch r.Event.Event {
			case protocol.EventReady, protocol.EventFollower, protocol.EventLost, protocol.EventClosed:
				closeClaim(r.PID, i)
			case protocol.EventLeader:
				closeClaim(r.PID, i)
				c := claim{idx: i, pid: r.PID, peer: r.Peer, start: r.T, endIdx: -1}
				if r.Event.Epoch != nil {
					c.epoch, c.hasEpoch = *r.Event.Epoch, true
				}
				open[r.PID] = len(claims)
				claims = append(claims, c)
			}
		case history.KindExit:
			closeClaim(r.PID, i)
		case history.KindFault:
			if r.Fault != nil && (r.Fault.Signal == "SIGKILL" || r.Fault.Signal == "SIGTERM") {
				closeClaim(r.PID, i)
			}
		case history.KindCommand:
			if r.Command != nil && r.Command.Cmd == protocol.CmdClose {
				closeClaim(r.PID, i)
			}
		case history.KindPhase:
			if r.Detail == PhaseEnd {
				closeAll(i)
			}
		}
	}
	if events == 0 {
		return Result{Verdict: NotJudged, Summary: "no peer wrote events (black-box), so leadership claims cannot be seen"}
	}
	if len(claims) < 2 {
		return Result{Verdict: NotJudged, Summary: fmt.Sprintf("not judged: %s made, nothing to compare", count(len(claims), "leader claim"))}
	}
	last := h[len(h)-1].T
	for k := range claims {
		if claims[k].endIdx < 0 {
			claims[k].end = last
		}
	}

	var res Result
	overlaps, regressions, withEpoch, worst := 0, 0, 0, time.Duration(0)
	// Overlaps: claims are in start order, so each is compared with the earlier ones still
	// running at its start.
	for b := range claims {
		for a := 0; a < b; a++ {
			ca, cb := claims[a], claims[b]
			if ca.pid == cb.pid || ca.end <= cb.start {
				continue
			}
			d := min(ca.end, cb.end) - cb.start
			worst = max(worst, d)
			if d <= LeadershipGrace {
				continue
			}
			overlaps++
			res.addEvidence(Evidence{
				T: cb.start, What: fmt.Sprintf("%s (pid %d) claimed leadership%s at %v while %s (pid %d) still did%s (since %v): %v of overlap",
					cb.peer, cb.pid, epochWord(cb), cb.start, ca.peer, ca.pid, epochWord(ca), ca.start, d),
				Peers: []string{ca.peer, cb.peer}, PIDs: []int{ca.pid, cb.pid},
				Records: append(around(h, cb.idx), h[ca.idx]),
			})
		}
	}
	// Epochs: each must exceed the greatest earlier one. Two claims read from two pipes
	// within LeadershipGrace of each other may arrive in either order: a smaller epoch that
	// close behind is the earlier claim read late; an equal epoch is always wrong.
	prev := -1
	for k, c := range claims {
		if !c.hasEpoch {
			continue
		}
		withEpoch++
		if prev >= 0 && c.epoch < claims[prev].epoch && c.start-claims[prev].start <= LeadershipGrace {
			continue // read out of order; the greater epoch stays the one to beat
		}
		if prev >= 0 && c.epoch <= claims[prev].epoch {
			p := claims[prev]
			regressions++
			res.addEvidence(Evidence{
				T: c.start, What: fmt.Sprintf("%s (pid %d) led with epoch %d at %v after %s (pid %d) led with epoch %d at %v: the epoch did not grow",
					c.peer, c.pid, c.epoch, c.start, p.peer, p.pid, p.epoch, p.start),
				Peers: []string{p.peer, c.peer}, PIDs: []int{p.pid, c.pid},
				Records: []history.Record{h[p.idx], h[c.idx]},
			})
		}
		prev = k
	}
	res.figure("claims", float64(len(claims)))
	res.figure("claims_with_epoch", float64(withEpoch))
	res.figure("overlaps", float64(overlaps))
	res.figure("overlap_max_ms", ms(worst))
	res.figure("epoch_regressions", float64(regressions))
	if overlaps+regressions > 0 {
		res.Verdict = Fail
		res.Summary = fmt.Sprintf("%d overlapping pairs of claims, %d epochs that did not grow; first: %s",
			overlaps, regressions, res.Evidence[0].What)
		return res
	}
	res.Verdict = Pass
	epochs := "no claim gave an epoch"
	if withEpoch > 0 {
		epochs = fmt.Sprintf("the epochs of %d grew each time", withEpoch)
	}
	res.Summary = fmt.Sprintf("%s, none overlapping (longest %v, grace %v); %s",
		count(len(claims), "leader claim"), worst.Round(time.Microsecond), LeadershipGrace, epochs)
	return res
}

func epochWord(c claim) string {
	if c.hasEpoch {
		return fmt.Sprintf(" (epoch %d)", c.epoch)
	}
	return ""
}
