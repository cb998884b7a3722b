package check

import (
	"fmt"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// ReachableLeader checks that at every observation no listener on the address is orphaned:
// a listener whose path was unlinked or replaced leads a group no new client can join. It is
// strict: a leader that unlinks its own path before closing its listener is caught in that
// window too, since a client connecting then is lost.
type ReachableLeader struct{}

// Name implements Checker.
func (ReachableLeader) Name() string { return "reachable-leader" }

// Check implements Checker.
func (ReachableLeader) Check(h []history.Record) Result {
	var res Result
	violations, listened := 0, false
	tcp := isTCP(h)
	observations := eachObservation(h, func(i int, r history.Record, p *peers) {
		listened = listened || len(r.Snapshot.Listeners) > 0
		for _, l := range orphans(p.normalize(r.Snapshot), tcp) {
			violations++
			res.addEvidence(Evidence{
				T: r.T, What: orphanWhat(l, r.Snapshot, p),
				Peers: p.namesOf(l.PIDs), PIDs: l.PIDs, Snapshot: r.Snapshot, Records: around(h, i),
			})
		}
	})
	res.figure("observations", float64(observations))
	res.figure("violations", float64(violations))
	switch {
	case observations == 0:
		res.Verdict, res.Summary = Inconclusive, "the history has no kernel observation"
	case !listened:
		res.Verdict, res.Summary = NotJudged, fmt.Sprintf("not judged: none of %s saw a listener on the address", count(observations, "observation"))
	case violations > 0:
		first := res.Evidence[0]
		res.Verdict = Fail
		res.Summary = fmt.Sprintf("%s, first at %v: %s", count(violations, "orphaned listener sighting"), first.T, first.What)
	default:
		res.Verdict = Pass
		res.Summary = fmt.Sprintf("%s, no orphaned listener", count(observations, "observation"))
	}
	return res
}
