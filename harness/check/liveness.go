package check

import (
	"fmt"
	"slices"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// Liveness checks that after the leader is lost, a new reachable leader appears within
// Run.Liveness, as long as any peer lives that could elect; its figures are the measured
// failover gaps and the peers' start-up times.
//
// The leader is the reachable listener of the last observation. It is lost at the exit
// record of the last live process holding it, or else at the first observation with no
// reachable listener. The gap ends at the first observation whose reachable listener is
// another socket.
//
// The clock measures election, not start-up: it runs only while some live peer is able to
// elect — a white-box peer from its first event (its `ready`), a black-box peer from the
// first observation that shows one of its sockets on the address, and any peer once it has
// lived without either for a bound (black-box) or [startupWhiteBox] bounds (a peer whose
// id spoke before): start-up may not hide a group that never elects. A loss while no live
// peer is able starts the clock when the first one becomes able; the time from a peer's
// start to then is its start-up (figures startup_median_ms, startup_max_ms), reported
// apart. No gap is erased: when every peer is down while the clock runs (the harness took
// the group down, or all exited), the gap so far is judged there, and a gap longer than
// the bound is a violation whatever comes after. While the harness keeps a file planted at
// the address no peer can lead: the clock stops there (the gap so far is judged) and starts
// again when the plant is removed; the same while every able peer is stopped (SIGSTOP),
// until one is resumed. Losses after the "end" phase are not
// judged, and a gap still open when the history ends is judged against the horizon (the
// "end" phase, or the last record): a group that stays stuck always fails.
//
// Gaps are measured between records: they are upper bounds when the loss is an exit record
// and lower bounds when it is an observation, each off by at most the sampling interval.
type Liveness struct{}

// Name implements Checker.
func (Liveness) Name() string { return "liveness" }

// startupWhiteBox is how many liveness bounds a restarted white-box peer may take to say
// ready before its start-up counts as election time.
const startupWhiteBox = 4

// Check implements Checker.
func (Liveness) Check(h []history.Record) Result {
	run := RunConfig(h)
	if run == nil || run.Liveness <= 0 {
		return Result{Verdict: Inconclusive, Summary: "the run record has no liveness bound (Run.Liveness)"}
	}
	if !leaderAppeared(h) {
		return noLeader(h)
	}
	bound, end := run.Liveness, horizon(h)

	var res Result
	p := newPeers()
	var (
		gaps                   []time.Duration
		haveLeader, lost       bool
		waiting                bool // lost, and no live peer is able to elect yet: the clock waits
		plantedNow             bool // a plant sits at the address: no leader can appear, the clock waits
		leaderInode            uint64
		leaderPIDs             []int
		lostAt, firstLeader    time.Duration
		lostIdx                int
		violations, unmeasured int
		firstLeaderSeen, ended bool
		started                = map[int]time.Duration{} // live pid -> start, until able
		spoke                  = map[string]bool{}       // peer ids that wrote an event
		able                   = map[int]bool{}          // live pids able to elect
		stopped                = map[int]bool{}          // live pids the harness stopped (SIGSTOP)
		startups               []time.Duration
	)
	anyAble := func() bool {
		for pid := range p.live {
			if able[pid] && !stopped[pid] {
				return true
			}
		}
		return false
	}
	becomeAble := func(pid int, t time.Duration, i int) {
		if _, live := p.live[pid]; !live || able[pid] {
			return
		}
		able[pid] = true
		if t0, ok := started[pid]; ok {
			startups = append(startups, t-t0)
			delete(started, pid)
		}
		if lost && waiting && !plantedNow && !stopped[pid] {
			waiting, lostAt, lostIdx = false, t, i
		}
	}
	// A peer that shows no sign of life for too long after its start is taken as able from
	// then on: start-up may not hide a group that never elects. Too long is a bound for a
	// black-box peer, and startupWhiteBox bounds for a peer whose id spoke the protocol
	// before (an interpreter may take seconds to say ready on a loaded machine).
	allowance := func(pid int) time.Duration {
		if spoke[p.names[pid]] {
			return startupWhiteBox * bound
		}
		return bound
	}
	silentTooLong := func(i int) {
		for pid, t0 := range started {
			if a := allowance(pid); h[i].T-t0 >= a {
				becomeAble(pid, t0+a, i)
			}
		}
	}
	loseAt := func(i int) {
		lost, lostAt, lostIdx = true, h[i].T, i
		waiting = plantedNow || !anyAble()
	}
	addr := run.Addr
	judge := func(i int, gap time.Duration, what string) {
		gaps = append(gaps, gap)
		if gap <= bound {
			return
		}
		violations++
		pids := p.livePIDs()
		res.addEvidence(Evidence{
			T: lostAt, What: fmt.Sprintf("%s %v after the leader was lost (bound %v) while %s lived", what, gap, bound, count(len(pids), "peer")),
			Peers: p.namesOf(pids), PIDs: pids, Snapshot: h[i].Snapshot,
			Records: slices.Concat(around(h, lostIdx), []history.Record{h[i]}),
		})
	}
	// stopClock judges the gap so far at h[i], when nobody can elect for now (a plant, the
	// group down, every able peer stopped): a gap past the bound fails, a shorter one is
	// unmeasured (no leader could have come).
	stopClock := func(i int) {
		if gap := h[i].T - lostAt; gap > bound {
			judge(i, gap, "no leader for")
		} else {
			unmeasured++
		}
	}
	for i, r := range h {
		wasLive := len(p.live)
		silentTooLong(i)
		p.apply(h, i)
		switch r.Kind {
		case history.KindPhase:
			if r.Detail == PhaseEnd {
				ended = true
			}
		case history.KindPlant:
			// While the harness keeps a file at the address no peer can lead: the clock
			// stops at the plant (the gap so far is judged) and starts again at its removal.
			if r.Plant == nil || r.Plant.Path != addr || addr == "" {
				break
			}
			switch r.Detail {
			case "", PlantPlanted:
				if lost && !waiting && !ended {
					stopClock(i)
				}
				plantedNow, waiting = true, true
			case PlantFinal:
				plantedNow = false
				if lost {
					waiting = !anyAble()
					lostAt, lostIdx = r.T, i
				}
			}
		case history.KindFault:
			// A peer the harness stopped cannot elect: when it was the last able one the
			// clock stops (the gap so far is judged), and starts again when one resumes.
			if r.Fault == nil || r.PID == 0 {
				break
			}
			switch r.Fault.Signal {
			case "SIGSTOP":
				stopped[r.PID] = true
				if lost && !waiting && !anyAble() && !ended {
					stopClock(i)
					waiting = true
				}
			case "SIGCONT":
				delete(stopped, r.PID)
				if able[r.PID] && lost && waiting && !plantedNow {
					waiting, lostAt, lostIdx = false, r.T, i
				}
			}
		case history.KindStart:
			started[r.PID] = r.T
			if lost && !waiting && wasLive == 0 {
				waiting = true // the group was down: the clock waits for an able peer
			}
		case history.KindEvent:
			spoke[r.Peer] = true
			becomeAble(r.PID, r.T, i)
		case history.KindExit:
			delete(able, r.PID)
			delete(started, r.PID)
			delete(stopped, r.PID)
			if haveLeader && !lost && slices.Contains(leaderPIDs, r.PID) && !holderLives(leaderPIDs, p) && !ended {
				loseAt(i)
			} else if lost && !waiting && len(p.live) == 0 && !ended {
				// Every peer is down while the clock runs: the gap so far is judged now, so
				// that a restart of the group cannot erase it.
				stopClock(i)
				waiting = true
			} else if lost && !waiting && !anyAble() && !ended {
				waiting = true
			}
		case history.KindObservation:
			if r.Snapshot == nil {
				continue
			}
			snap := p.normalize(r.Snapshot) // a peer is its process tree
			for _, l := range snap.Listeners {
				for _, pid := range l.PIDs {
					becomeAble(pid, r.T, i)
				}
			}
			for _, c := range snap.Conns {
				for _, pid := range c.ClientPIDs {
					becomeAble(pid, r.T, i)
				}
			}
			l, ok := snap.Reachable()
			switch {
			case lost && ok && l.Inode != leaderInode:
				if !waiting {
					judge(i, r.T-lostAt, "a new leader appeared")
				}
				lost, waiting = false, false
			case haveLeader && !lost && !ok && !ended:
				loseAt(i)
			}
			if ok && !lost {
				haveLeader, leaderInode, leaderPIDs = true, l.Inode, l.PIDs
				if !firstLeaderSeen {
					firstLeaderSeen, firstLeader = true, r.T
				}
			}
		}
	}
	if lost && waiting {
		for pid, t0 := range started {
			if a := allowance(pid); end-t0 >= a {
				becomeAble(pid, t0+a, len(h)-1)
			}
		}
	}
	if lost && !waiting && end-lostAt > bound {
		violations++
		pids := p.livePIDs()
		res.addEvidence(Evidence{
			T: lostAt, What: fmt.Sprintf("no leader for %v after the leader was lost (bound %v), until the run ended at %v",
				end-lostAt, bound, end),
			Peers: p.namesOf(pids), PIDs: pids, Records: around(h, lostIdx),
		})
	}

	res.figure("failovers", float64(len(gaps)))
	res.figure("first_leader_ms", ms(firstLeader))
	res.figure("bound_ms", ms(bound))
	if unmeasured > 0 {
		res.figure("unmeasured_no_peer_lived", float64(unmeasured))
	}
	if len(startups) > 0 {
		slices.Sort(startups)
		res.figure("startup_median_ms", ms(percentile(startups, 50)))
		res.figure("startup_max_ms", ms(startups[len(startups)-1]))
	}
	if len(gaps) > 0 {
		slices.Sort(gaps)
		res.figure("gap_min_ms", ms(gaps[0]))
		res.figure("gap_median_ms", ms(percentile(gaps, 50)))
		res.figure("gap_p99_ms", ms(percentile(gaps, 99)))
		res.figure("gap_max_ms", ms(gaps[len(gaps)-1]))
	}
	switch {
	case violations > 0:
		res.Verdict = Fail
		res.Summary = fmt.Sprintf("%d of %d failovers broke the %v bound; first: %s", violations, len(gaps)+boolInt(lost && !waiting), bound, res.Evidence[0].What)
	case len(gaps) == 0:
		res.Verdict, res.Summary = NotJudged, "not judged: the leader was never lost while a peer able to elect lived"
	default:
		res.Verdict = Pass
		res.Summary = fmt.Sprintf("%s, the longest %v (bound %v)", count(len(gaps), "failover"), gaps[len(gaps)-1], bound)
	}
	return res
}

// holderLives reports whether any of pids is a live peer.
func holderLives(pids []int, p *peers) bool {
	for _, pid := range pids {
		if _, ok := p.live[pid]; ok {
			return true
		}
	}
	return false
}

// percentile returns the nearest-rank q-th percentile of sorted, non-empty d.
func percentile(d []time.Duration, q int) time.Duration {
	rank := (q*len(d) + 99) / 100 // ceil(q/100 * n)
	return d[max(rank, 1)-1]
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
