package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// summaryEvidence is how many pieces of evidence Summary prints per invariant.
const summaryEvidence = 2

// Summary writes the short human verdict of a run to w: one line overall, one per
// invariant, the failover gaps, and, when the run is not valid, the evidence of each failed
// or inconclusive invariant and the command that replays the run. run may be nil.
func Summary(w io.Writer, results check.Results, run *history.Run) error {
	var b strings.Builder
	v := results.Verdict()
	bad := 0
	for _, r := range results.Parts {
		if r.Verdict == v && v != check.Pass {
			bad++
		}
	}
	switch v {
	case check.Fail:
		fmt.Fprintf(&b, "splitbrain: FAIL: %d of %d invariants violated (exit %d)\n", bad, len(results.Parts), results.ExitCode())
	case check.Inconclusive:
		fmt.Fprintf(&b, "splitbrain: INCONCLUSIVE: %d of %d invariants could not be judged (exit %d)\n", bad, len(results.Parts), results.ExitCode())
	default:
		fmt.Fprintf(&b, "splitbrain: PASS: all %d invariants hold (exit %d)\n", len(results.Parts), results.ExitCode())
	}
	for _, r := range results.Parts {
		summary := r.Summary
		if r.Observation == check.Exact {
			summary += " [exact: observed at every listen, unlink and rename of the address]"
		}
		fmt.Fprintf(&b, "  %-5s %-20s %s\n", label(r.Verdict), r.Name, summary)
	}
	if r, ok := results.Get(check.Liveness{}.Name()); ok {
		if g := gapLine(r); g != "" {
			b.WriteString(g + "\n")
		}
	}
	if v != check.Pass {
		shown := map[string]string{} // evidence already printed -> the part it was printed for
		for _, r := range results.Parts {
			if r.Verdict != check.Fail && r.Verdict != check.Inconclusive {
				continue
			}
			fmt.Fprintf(&b, "\n%s (%s):\n", r.Name, r.Verdict)
			if len(r.Evidence) > 0 {
				first := evidenceKey(r.Evidence[0])
				if name, ok := shown[first]; ok && sameEvidence(r.Evidence, shown, name) {
					fmt.Fprintf(&b, "  the same evidence as %s\n", name)
					continue
				}
			}
			for i, e := range r.Evidence {
				shown[evidenceKey(e)] = r.Name
				if i == summaryEvidence {
					fmt.Fprintf(&b, "  ... %d more in results.json\n", len(r.Evidence)-i)
					break
				}
				for _, l := range evidenceLines(e, "  ") {
					b.WriteString(l + "\n")
				}
			}
		}
		if run != nil && run.Replay != "" {
			fmt.Fprintf(&b, "\nreplay: %s\n", run.Replay)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func label(v check.Verdict) string {
	switch v {
	case check.Pass:
		return "ok"
	case check.Fail:
		return "FAIL"
	case check.NotApplicable:
		return "n/a"
	}
	return "??"
}

func evidenceKey(e check.Evidence) string { return fmt.Sprintf("%d %s", e.T, e.What) }

// sameEvidence reports whether every piece of ev was shown already for the part name.
func sameEvidence(ev []check.Evidence, shown map[string]string, name string) bool {
	for _, e := range ev {
		if shown[evidenceKey(e)] != name {
			return false
		}
	}
	return true
}
