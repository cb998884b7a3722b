package check

import (
	"fmt"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// SingleListener checks that at every observation at most one listening socket is bound to
// the election address, orphans included: two listeners are two leaders. Over tcp the
// listeners of one process are one leader (127.0.0.1:P and [::1]:P, see leaders).
type SingleListener struct{}

// Name implements Checker.
func (SingleListener) Name() string { return "single-listener" }

// Check implements Checker.
func (SingleListener) Check(h []history.Record) Result {
	var res Result
	violations, most := 0, 0
	tcp := isTCP(h)
	observations := eachObservation(h, func(i int, r history.Record, p *peers) {
		n := len(leaders(r.Snapshot, tcp))
		most = max(most, n)
		what := tooManyListeners(r.Snapshot, p, tcp)
		if what == "" {
			return
		}
		violations++
		var pids []int
		for _, l := range r.Snapshot.Listeners {
			pids = append(pids, l.PIDs...)
		}
		res.addEvidence(Evidence{
			T: r.T, What: what, Peers: p.namesOf(pids), PIDs: pids,
			Snapshot: r.Snapshot, Records: around(h, i),
		})
	})
	res.figure("observations", float64(observations))
	res.figure("max_listeners", float64(most))
	res.figure("violations", float64(violations))
	switch {
	case observations == 0:
		res.Verdict, res.Summary = Inconclusive, "the history has no kernel observation"
	case most == 0:
		// Nothing listened: a run that never elected proves nothing about two leaders.
		res.Verdict, res.Summary = NotJudged, fmt.Sprintf("not judged: none of %s saw a listener on the address", count(observations, "observation"))
	case violations > 0:
		first := res.Evidence[0]
		res.Verdict = Fail
		res.Summary = fmt.Sprintf("%d of %d observations saw more than one listener, first at %v (%v)",
			violations, observations, first.T, first.Peers)
	default:
		res.Verdict = Pass
		res.Summary = fmt.Sprintf("%s, never more than %s", count(observations, "observation"), count(most, "listener"))
	}
	return res
}
