package check

import (
	"errors"
	"fmt"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// Verdict is a checker's judgement of one invariant.
type Verdict string

// Verdicts, in rising order of severity for [Results.Verdict]: NotJudged < Pass <
// Inconclusive < Fail.
const (
	Pass         Verdict = "pass"         // the invariant held throughout the run
	Fail         Verdict = "fail"         // the invariant was violated; Evidence says where
	NotJudged    Verdict = "not-judged"   // the run gives nothing to judge (e.g. no events); the summary says why
	Inconclusive Verdict = "inconclusive" // the run cannot show whether it holds
)

// UnmarshalText reads a verdict, taking "not-applicable" (what results.json said before
// "not-judged") as NotJudged so older result folders still merge and check.
func (v *Verdict) UnmarshalText(b []byte) error {
	*v = Verdict(b)
	if *v == "not-applicable" {
		*v = NotJudged
	}
	return nil
}

func (v Verdict) rank() int {
	switch v {
	case Pass:
		return 1
	case Inconclusive:
		return 2
	case Fail:
		return 3
	}
	return 0
}

// Exit codes of a judged run (DESIGN.md, "Reports"). 3, the harness's own failure, is the
// CLI's to return.
const (
	ExitValid        = 0 // every invariant passed or did not apply
	ExitViolation    = 1 // at least one invariant failed
	ExitInconclusive = 2 // none failed, but at least one could not be judged
)

// Sentinel errors that [Result.Err] wraps.
var (
	// ErrViolation marks an invariant that failed.
	ErrViolation = errors.New("violation")
	// ErrInconclusive marks an invariant the run could not judge.
	ErrInconclusive = errors.New("inconclusive")
)

// MaxEvidence is how many pieces of evidence a Result keeps; the Summary counts them all.
const MaxEvidence = 10

// Evidence is one piece of proof behind a verdict: when, who, and what the kernel or the
// peers showed then.
type Evidence struct {
	// T is the time since the run began of the record that shows it, in nanoseconds.
	T time.Duration `json:"t"`
	// What says in one line what is wrong here.
	What string `json:"what"`
	// Peers and PIDs are the peers and processes concerned.
	Peers []string `json:"peers,omitempty"`
	PIDs  []int    `json:"pids,omitempty"`
	// Snapshot is the kernel's view at T, when it is the proof.
	Snapshot *kernel.Snapshot `json:"snapshot,omitempty"`
	// Records are the history records around T (a few each side), or those that matter.
	Records []history.Record `json:"records,omitempty"`
}

// Result is one checker's verdict on one run.
type Result struct {
	// Name is the checker's name, e.g. "single-listener".
	Name string `json:"name"`
	// Verdict is the judgement.
	Verdict Verdict `json:"verdict"`
	// Summary says in one line why.
	Summary string `json:"summary"`
	// Evidence holds at most MaxEvidence pieces, the earliest first.
	Evidence []Evidence `json:"evidence,omitempty"`
	// Figures are measurements, named with their unit ("gap_max_ms", "observations").
	Figures map[string]float64 `json:"figures,omitempty"`
	// Observation is how the kernel was observed for this invariant: Exact or Sampled;
	// empty for an invariant judged on peer events alone.
	Observation string `json:"observation,omitempty"`
}

// Err returns nil if the result passed or did not apply, else an error naming the checker
// and its summary that wraps ErrViolation or ErrInconclusive.
func (r Result) Err() error {
	switch r.Verdict {
	case Fail:
		return fmt.Errorf("%s: %s: %w", r.Name, r.Summary, ErrViolation)
	case Inconclusive:
		return fmt.Errorf("%s: %s: %w", r.Name, r.Summary, ErrInconclusive)
	}
	return nil
}

// addEvidence appends e unless MaxEvidence pieces are already kept.
func (r *Result) addEvidence(e Evidence) {
	if len(r.Evidence) < MaxEvidence {
		r.Evidence = append(r.Evidence, e)
	}
}

// figure sets a figure, making the map on first use.
func (r *Result) figure(name string, v float64) {
	if r.Figures == nil {
		r.Figures = map[string]float64{}
	}
	r.Figures[name] = v
}

// Results are the verdicts of every checker on one run, in registry order.
type Results struct {
	Parts []Result `json:"parts"`
}

// Verdict is the run's overall verdict: Fail if any part failed, else Inconclusive if any
// part was, else Pass (NotJudged parts count as passed; no parts at all is Inconclusive).
func (rs Results) Verdict() Verdict {
	if len(rs.Parts) == 0 {
		return Inconclusive
	}
	v := Pass
	for _, r := range rs.Parts {
		if r.Verdict.rank() > v.rank() {
			v = r.Verdict
		}
	}
	return v
}

// ExitCode maps the overall verdict to ExitValid, ExitViolation or ExitInconclusive.
func (rs Results) ExitCode() int {
	switch rs.Verdict() {
	case Fail:
		return ExitViolation
	case Inconclusive:
		return ExitInconclusive
	}
	return ExitValid
}

// Error joins the errors of the failed and inconclusive parts (see [Result.Err]); nil when
// the run is valid. errors.Is(err, ErrViolation) tells a violation from an inconclusive run.
func (rs Results) Error() error {
	var errs []error
	for _, r := range rs.Parts {
		if err := r.Err(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Get returns the part named name.
func (rs Results) Get(name string) (Result, bool) {
	for _, r := range rs.Parts {
		if r.Name == name {
			return r, true
		}
	}
	return Result{}, false
}
