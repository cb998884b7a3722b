package check

import (
	"fmt"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// NoUnexpectedExits checks that no peer exits unless the harness ended it (ByHarness):
// a peer that crashes or gives up is a bug, shown with its exit status and stderr tail.
// When no leader ever appeared the run is Inconclusive instead (see the package doc).
//
// One exception: while the harness keeps a planted file at the election address itself
// (from its planted record to its final record), no peer can ever lead, and a peer that
// refuses to run there — exits with a status, not a signal — is a right answer (the
// reference peer says "choose another path"); such exits are counted in the figure
// "refused_planted_address".
type NoUnexpectedExits struct{}

// Name implements Checker.
func (NoUnexpectedExits) Name() string { return "no-unexpected-exits" }

// Check implements Checker.
func (NoUnexpectedExits) Check(h []history.Record) Result {
	var res Result
	addr := ""
	if run := RunConfig(h); run != nil {
		addr = run.Addr
	}
	exits, unexpected, refused := 0, 0, 0
	planted := false // a plant sits at the address now
	for i, r := range h {
		if r.Kind == history.KindPlant && r.Plant != nil && addr != "" && r.Plant.Path == addr {
			switch r.Detail {
			case "", PlantPlanted:
				planted = true
			case PlantFinal:
				planted = false
			}
		}
		if r.Kind != history.KindExit {
			continue
		}
		exits++
		if r.Exit != nil && r.Exit.ByHarness {
			continue
		}
		if planted && r.Exit != nil && r.Exit.Signal == "" {
			refused++
			continue
		}
		unexpected++
		res.addEvidence(exitEvidence(h, i))
	}
	res.figure("exits", float64(exits))
	res.figure("unexpected", float64(unexpected))
	if refused > 0 {
		res.figure("refused_planted_address", float64(refused))
	}
	if unexpected == 0 {
		res.Verdict = Pass
		res.Summary = fmt.Sprintf("%s, all the harness's doing", count(exits, "exit"))
		if refused > 0 {
			res.Summary = fmt.Sprintf("%s, all the harness's doing or a refusal of a planted address (%d)", count(exits, "exit"), refused)
		}
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
