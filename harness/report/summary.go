package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
)

// summaryEvidence is how many pieces of evidence Summary prints per invariant.
const summaryEvidence = 2

// Summary writes the short human verdict of a run to w: one line overall, one per
// invariant, the failover gaps, what the run exercised and the confidence it earns, the
// evidence of each failed or inconclusive invariant, and the command that replays the run.
func Summary(w io.Writer, doc Results) error {
	var b strings.Builder
	results := check.Results{Parts: doc.Invariants}
	b.WriteString("splitbrain: " + Headline(results) + "\n")
	for _, r := range results.Parts {
		summary := r.Summary
		if r.Observation == check.Exact {
			summary += " [exact: observed at every listen, unlink and rename of the address]"
		}
		fmt.Fprintf(&b, "  %-10s %-20s %s\n", label(r.Verdict), r.Name, summary)
	}
	if r, ok := results.Get(check.Liveness{}.Name()); ok {
		if g := gapLine(r); g != "" {
			b.WriteString(g + "\n")
		}
	}
	if doc.Exercised.Rounds > 0 || doc.Exercised.Observations > 0 {
		b.WriteString(ExercisedLine(doc.Exercised) + "\n")
	}
	b.WriteString(ConfidenceLine(doc.Confidence) + "\n")
	if v := results.Verdict(); v != check.Pass {
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
		b.WriteString("\n")
	}
	if doc.Replay != "" {
		fmt.Fprintf(&b, "replay: %s\n  (the same seed draws the same faults and targets; process timing, and so the interleaving, may differ)\n", doc.Replay)
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
	case check.NotJudged:
		return "not judged"
	}
	return "??"
}

// Headline is the one-line verdict: "PASS: 6 invariants hold, 4 not judged (delivery,
// leadership, exposure, no-data-loss) (exit 0)". Invariants that were not judged are never
// counted as holding.
func Headline(results check.Results) string {
	n := map[check.Verdict][]string{}
	for _, r := range results.Parts {
		n[r.Verdict] = append(n[r.Verdict], r.Name)
	}
	var parts []string
	if k := len(n[check.Fail]); k > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d invariants violated", k, len(results.Parts)))
	}
	if k := len(n[check.Inconclusive]); k > 0 {
		parts = append(parts, fmt.Sprintf("%d could not be judged (%s)", k, strings.Join(n[check.Inconclusive], ", ")))
	}
	switch k := len(n[check.Pass]); {
	case k == len(results.Parts):
		parts = append(parts, fmt.Sprintf("all %d invariants hold", k))
	case k == 1:
		parts = append(parts, "1 invariant holds")
	default:
		parts = append(parts, fmt.Sprintf("%d invariants hold", k))
	}
	if k := len(n[check.NotJudged]); k > 0 {
		parts = append(parts, fmt.Sprintf("%d not judged (%s)", k, strings.Join(n[check.NotJudged], ", ")))
	}
	v := strings.ToUpper(string(results.Verdict()))
	return fmt.Sprintf("%s: %s (exit %d)", v, strings.Join(parts, ", "), results.ExitCode())
}

// ExercisedLine says in one line what a run did.
func ExercisedLine(ex check.Exercised) string {
	run, skipped := 0, 0
	for _, k := range ex.FaultsRun {
		run += k
	}
	for _, by := range ex.FaultsSkipped {
		for _, k := range by {
			skipped += k
		}
	}
	line := fmt.Sprintf("exercised: %d rounds (%d faults ran, %d had no target), %s, %s; %s",
		ex.Rounds, run, skipped, plural(ex.LeaderKills, "leader kill"), plural(ex.Failovers, "failover"),
		plural(ex.Observations, "kernel observation"))
	if ex.IntervalMedianMS > 0 {
		line += fmt.Sprintf(", one every %s (max %s)", msText(ex.IntervalMedianMS), msText(ex.IntervalMaxMS))
	}
	return line
}

// ConfidenceLine says in one line how sure the run is that split brain is rare:
// "no split brain in 412 leader kills: rate below 0.73 % at 95 % confidence".
func ConfidenceLine(c check.Confidence) string {
	if c.Trials == 0 {
		return "confidence: no leader kill, so no bound on the split-brain rate per leader kill"
	}
	bound := fmt.Sprintf("rate below %s %% at %s %% confidence", pct(c.RateUpperBound), pct(c.Level))
	if c.Violations == 0 {
		return fmt.Sprintf("confidence: no split brain in %s: %s", plural(c.Trials, "leader kill"), bound)
	}
	return fmt.Sprintf("confidence: split brain after %d of %s: %s", c.Violations, plural(c.Trials, "leader kill"), bound)
}

// Percent renders a fraction as a percentage: 0.0073 -> "0.73 %".
func Percent(f float64) string { return pct(f) + " %" }

// pct renders a fraction as a percentage with two significant digits: 0.0073 -> "0.73".
func pct(f float64) string {
	switch x := f * 100; {
	case x >= 10:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x >= 1:
		return strconv.FormatFloat(x, 'f', 1, 64)
	default:
		return strconv.FormatFloat(x, 'g', 2, 64)
	}
}

func msText(v float64) string {
	return time.Duration(v * float64(time.Millisecond)).Round(100 * time.Microsecond).String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
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
