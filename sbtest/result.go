package sbtest

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/conformance"
	"github.com/splitbrain-dev/splitbrain/harness/report"
	"github.com/splitbrain-dev/splitbrain/harness/run"
	"github.com/splitbrain-dev/splitbrain/harness/timeline"
)

// Verdict is a judgement: of one invariant, of a conformance case, or of a whole run. The
// values are those of results.json.
type Verdict string

// Verdicts. A run passes when every invariant passed or was not judged; "not judged"
// is never a pass of the invariant itself (sbmatchers.HoldInvariant fails on it).
const (
	Pass         Verdict = "pass"          // the invariant held throughout
	Fail         Verdict = "fail"          // a violation: the evidence says where
	Inconclusive Verdict = "inconclusive"  // the run could not show whether it holds
	NotJudged    Verdict = "not-judged"    // nothing to judge (e.g. no events, for a white-box check); the reason says why
	HarnessError Verdict = "harness-error" // the harness failed: the verdict does not count
	Skipped      Verdict = "skipped"       // a conformance case that does not apply to the transport
)

// Sentinel errors that [Result.Err] wraps, one per verdict that is not a pass.
var (
	// ErrViolation marks a run in which an invariant failed.
	ErrViolation = errors.New("violation")
	// ErrInconclusive marks a run that could not be judged.
	ErrInconclusive = errors.New("inconclusive")
)

// Invariant is one invariant's verdict.
type Invariant struct {
	// Name is the invariant's name, e.g. "single-listener" (README, "The invariants").
	Name    string
	Verdict Verdict
	// Reason says in one line why.
	Reason string
	// Evidence is the first few pieces of proof, one line each ("at 1.388s: ..."); the
	// result folder's results.json has them all, with the kernel's view.
	Evidence []string
	// Figures are measurements named with their unit, e.g. "gap_max_ms" of liveness.
	Figures map[string]float64
	// Case is, in a conformance Result, the case the verdict comes from (the first with
	// the worst verdict); "" in a run's.
	Case string
}

// Confidence is the bound a run earns (results.json "confidence").
type Confidence struct {
	Trials, Violations int
	Level              float64
	RateUpperBound     float64
}

// String says it as the CLI does: "no split brain in 412 leader kills: rate below 0.73 % at
// 95 % confidence".
func (c Confidence) String() string {
	return strings.TrimPrefix(report.ConfidenceLine(check.Confidence{Trials: c.Trials, Violations: c.Violations,
		Level: c.Level, RateUpperBound: c.RateUpperBound}), "confidence: ")
}

// Case is one case of a conformance run.
type Case struct {
	Name       string
	Verdict    Verdict
	Invariants []Invariant
	// Dir is the case's result folder; Replay the `splitbrain run` command that runs it alone.
	Dir, Replay string
	// Error is the harness's error, or why the case was skipped.
	Error   string
	Elapsed time.Duration
}

// Result is what came of a run or a conformance run.
type Result struct {
	// Verdict is the overall verdict and ExitCode the CLI's exit code for it (0 pass, 1 a
	// violation, 2 inconclusive, 3 the harness failed).
	Verdict  Verdict
	ExitCode int
	// Invariants are the verdicts per invariant, in the order of the reports.
	Invariants []Invariant
	// Confidence bounds the split-brain rate per leader kill (over every case of a
	// conformance run): Violations of Trials leader kills were followed by two listeners or
	// an orphaned one, and the rate is below RateUpperBound at 95 % confidence.
	Confidence Confidence
	// Cases are a conformance run's cases, in suite order; nil for a run.
	Cases []Case
	// Dir is the result folder: results.json, junit.xml and (a run's) history.jsonl and
	// timeline.html.
	Dir string
	// Replay is the command that runs the same again with the CLI. For a Go peer it names
	// the test binary, which `go test` removes at the end: rerun the test with
	// SBTEST_SEED=Seed instead, or keep a binary with `go test -c`.
	Replay string
	// Seed is a run's seed (0 for a conformance run, whose cases have fixed seeds).
	Seed int64
	// Elapsed is the wall time, and Interrupted says the context ended before the run did.
	Elapsed     time.Duration
	Interrupted bool

	text       string // the CLI's summary, and where the files are
	harnessErr string
}

// Invariant returns the verdict of the invariant called name.
func (r *Result) Invariant(name string) (Invariant, bool) {
	for _, inv := range r.Invariants {
		if inv.Name == name {
			return inv, true
		}
	}
	return Invariant{}, false
}

// InvariantNames returns the names of r.Invariants, in order.
func (r *Result) InvariantNames() []string {
	out := make([]string, len(r.Invariants))
	for i, inv := range r.Invariants {
		out[i] = inv.Name
	}
	return out
}

// String returns what the CLI prints: the verdict, a line per invariant (per case for a
// conformance run), the evidence of what failed, the replay command, and the result folder.
func (r *Result) String() string { return r.text }

// Err returns nil when the verdict is Pass, else an error whose message is r.String() and
// which wraps ErrViolation, ErrInconclusive or ErrHarness.
func (r *Result) Err() error {
	var sentinel error
	switch r.Verdict {
	case Pass:
		return nil
	case Fail:
		sentinel = ErrViolation
	case HarnessError:
		sentinel = ErrHarness
	default:
		sentinel = ErrInconclusive
	}
	return &verdictError{sentinel: sentinel, text: strings.TrimRight(r.text, "\n")}
}

type verdictError struct {
	sentinel error
	text     string
}

func (e *verdictError) Error() string { return e.text }
func (e *verdictError) Unwrap() error { return e.sentinel }

// fromRun builds the Result of a run from the harness's outcome.
func fromRun(o *run.Outcome, seed int64, replay string) *Result {
	res := &Result{
		Verdict: Verdict(o.Results.Verdict()), ExitCode: o.Results.ExitCode(),
		Invariants: invariants(o.Results.Parts, ""), Dir: abs(o.Dir), Replay: replay,
		Seed: seed, Elapsed: o.Elapsed, Interrupted: o.Interrupted,
	}
	c := o.Confidence
	res.Confidence = Confidence{Trials: c.Trials, Violations: c.Violations, Level: c.Level, RateUpperBound: c.RateUpperBound}
	if o.Interrupted && res.Verdict == Pass {
		res.Verdict, res.ExitCode = Inconclusive, check.ExitInconclusive
	}
	var b strings.Builder
	_ = report.Summary(&b, report.NewResults(o.Records, o.Results))
	if o.Interrupted {
		b.WriteString("splitbrain: interrupted: the verdict covers the run up to then\n")
	}
	fmt.Fprintf(&b, "splitbrain: results in %s (timeline: %s)\n", res.Dir, filepath.Join(res.Dir, timeline.File))
	res.text = b.String()
	return res
}

// fromConformance builds the Result of a conformance run from its report.
func fromConformance(rep *conformance.Report, out, replay string, interrupted bool) *Result {
	res := &Result{
		Verdict: Verdict(rep.Verdict), ExitCode: rep.ExitCode, Dir: abs(out), Replay: replay,
		Interrupted: interrupted,
	}
	worst := map[string]int{} // invariant name -> index in res.Invariants
	for _, c := range rep.Cases {
		dir := ""
		if c.Dir != "" {
			dir = filepath.Join(res.Dir, c.Dir)
		}
		cs := Case{Name: c.Name, Verdict: Verdict(c.Verdict), Invariants: invariants(c.Invariants, ""),
			Dir: dir, Replay: c.Replay, Error: c.Error, Elapsed: c.Duration}
		res.Cases = append(res.Cases, cs)
		res.Elapsed += c.Duration
		for _, inv := range invariants(c.Invariants, c.Name) {
			i, ok := worst[inv.Name]
			if !ok {
				worst[inv.Name] = len(res.Invariants)
				res.Invariants = append(res.Invariants, inv)
				continue
			}
			if severity(inv.Verdict) > severity(res.Invariants[i].Verdict) {
				res.Invariants[i] = inv
			}
		}
	}
	c := rep.Confidence
	res.Confidence = Confidence{Trials: c.Trials, Violations: c.Violations, Level: c.Level, RateUpperBound: c.RateUpperBound}
	if interrupted && res.Verdict == Pass {
		res.Verdict, res.ExitCode = Inconclusive, check.ExitInconclusive
	}
	var b strings.Builder
	_ = conformance.Summary(&b, rep)
	if interrupted {
		b.WriteString("splitbrain conformance: interrupted: the cases not run are not in the report\n")
	}
	fmt.Fprintf(&b, "splitbrain conformance: results in %s\n", res.Dir)
	res.text = b.String()
	return res
}

// severity orders invariant verdicts for the worst over cases.
func severity(v Verdict) int {
	switch v {
	case Fail:
		return 3
	case Inconclusive:
		return 2
	case Pass:
		return 1
	}
	return 0
}

// evidenceShown is how many pieces of evidence an Invariant keeps as lines.
const evidenceShown = 3

func invariants(parts []check.Result, caseName string) []Invariant {
	out := make([]Invariant, 0, len(parts))
	for _, p := range parts {
		inv := Invariant{Name: p.Name, Verdict: Verdict(p.Verdict), Reason: p.Summary, Figures: p.Figures, Case: caseName}
		for i, e := range p.Evidence {
			if i == evidenceShown {
				break
			}
			inv.Evidence = append(inv.Evidence, fmt.Sprintf("at %.3fs: %s", e.T.Seconds(), e.What))
		}
		out = append(out, inv)
	}
	return out
}

func abs(dir string) string {
	if a, err := filepath.Abs(dir); err == nil {
		return a
	}
	return dir
}
