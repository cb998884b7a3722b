package check

import (
	"fmt"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// Protocol checks that no peer wrote a line on stdout that is not a protocol event
// (docs/PROTOCOL.md): a garbled stream means the harness may misread the peer.
type Protocol struct{}

// Name implements Checker.
func (Protocol) Name() string { return "protocol" }

// Check implements Checker.
func (Protocol) Check(h []history.Record) Result {
	var res Result
	events, errs := 0, 0
	for i, r := range h {
		switch r.Kind {
		case history.KindEvent:
			events++
		case history.KindProtocolError:
			errs++
			res.addEvidence(Evidence{
				T: r.T, What: fmt.Sprintf("%s (pid %d) wrote: %s", r.Peer, r.PID, r.Detail),
				Peers: []string{r.Peer}, PIDs: []int{r.PID}, Records: around(h, i),
			})
		}
	}
	res.figure("events", float64(events))
	res.figure("protocol_errors", float64(errs))
	switch {
	case errs > 0:
		res.Verdict = Fail
		res.Summary = fmt.Sprintf("%s; first: %s", count(errs, "protocol error"), res.Evidence[0].What)
	case events == 0:
		res.Verdict, res.Summary = Pass, "no protocol errors (no peer wrote events: black-box)"
	default:
		res.Verdict, res.Summary = Pass, fmt.Sprintf("%s, no protocol error", count(events, "event"))
	}
	return res
}
