package check

import (
	"fmt"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// NoUnexpectedExits checks that no peer exits unless the harness ended it (ByHarness):
// a peer that crashes or gives up is a bug, shown with its exit status and stderr tail.
// When no leader ever appeared the run is Inconclusive instead (see the package doc).
type NoUnexpectedExits struct{}

// Name implements Checker.
func (NoUnexpectedExits) Name() string { return "no-unexpected-exits" }

// Check implements Checker.
func (NoUnexpectedExits) Check(h []history.Record) Result {
	var res Result
	exits, unexpected := 0, 0
	for i, r := range h {
		if r.Kind != history.KindExit {
			continue
		}
		exits++
		if r.Exit != nil && r.Exit.ByHarness {
			continue
		}
		unexpected++
		res.addEvidence(exitEvidence(h, i))
	}
	res.figure("exits", float64(exits))
	res.figure("unexpected", float64(unexpected))
	if unexpected == 0 {
		res.Verdict = Pass
		res.Summary = fmt.Sprintf("%s, all the harness's doing", count(exits, "exit"))
		return res
	}
	if !leaderAppeared(h) {
		nl := noLeader(h)
		nl.Figures = res.Figures
		return nl
	}
	res.Verdict = Fail
	res.Summary = fmt.Sprintf("%s exited unexpectedly; first: %s", count(unexpected, "peer"), res.Evidence[0].What)
	return res
}
