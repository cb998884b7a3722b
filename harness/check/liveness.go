package check

import (
	"fmt"
	"slices"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// Liveness checks that after the leader is lost, a new reachable leader appears within
// Run.Liveness, as long as any peer lives; its figures are the measured failover gaps.
//
// The leader is the reachable listener of the last observation. It is lost at the exit
// record of the last live process holding it, or else at the first observation with no
// reachable listener. The gap ends at the first observation whose reachable listener is
// another socket. While no peer lives the clock stops; it starts again from the next start
// record. Losses after the "end" phase are not judged, and a gap still open when the
// history ends is judged against the horizon (the "end" phase, or the last record).
//
// Gaps are measured between records: they are upper bounds when the loss is an exit record
// and lower bounds when it is an observation, each off by at most the sampling interval.
type Liveness struct{}

// Name implements Checker.
func (Liveness) Name() string { return "liveness" }

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
		haveLeader, lost, idle bool // idle: lost, and no peer lives to take over
		leaderInode            uint64
		leaderPIDs             []int
		lostAt, firstLeader    time.Duration
		lostIdx                int
		violations, unmeasured int
		firstLeaderSeen, ended bool
	)
	loseAt := func(i int) {
		lost, lostAt, lostIdx = true, h[i].T, i
		idle = len(p.live) == 0
	}
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
	for i, r := range h {
		p.apply(h, i)
		switch r.Kind {
		case history.KindPhase:
			if r.Detail == PhaseEnd {
				ended = true
			}
		case history.KindStart:
			if lost && idle {
				idle, lostAt, lostIdx = false, r.T, i
			}
		case history.KindExit:
			if haveLeader && !lost && slices.Contains(leaderPIDs, r.PID) && !holderLives(leaderPIDs, p) && !ended {
				loseAt(i)
			} else if lost && len(p.live) == 0 {
				if !idle {
					unmeasured++
				}
				idle = true
			}
		case history.KindObservation:
			if r.Snapshot == nil {
				continue
			}
			l, ok := r.Snapshot.Reachable()
			switch {
			case lost && ok && l.Inode != leaderInode:
				if !idle {
					judge(i, r.T-lostAt, "a new leader appeared")
				}
				lost, idle = false, false
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
	if lost && !idle && end-lostAt > bound {
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
		res.Summary = fmt.Sprintf("%d of %d failovers broke the %v bound; first: %s", violations, len(gaps)+boolInt(lost && !idle), bound, res.Evidence[0].What)
	case len(gaps) == 0:
		res.Verdict, res.Summary = Pass, "the leader was never lost while a peer lived"
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
