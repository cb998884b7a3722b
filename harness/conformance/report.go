package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/report"
)

// Kind is the value of Report.Kind, which tells a conformance results.json from a run's.
const Kind = "splitbrain-conformance"

// Exit codes of a conformance run, beyond check's 0, 1 and 2.
const (
	// ExitHarness is the exit code when the harness failed on a case (and no case failed).
	ExitHarness = 3
)

// HarnessError is the verdict of a case the harness could not run to the end.
const HarnessError check.Verdict = "harness-error"

// Skipped is the verdict of a case that does not apply (Case.Skip).
const Skipped check.Verdict = "skipped"

// Report is the conformance results.json: the suite, the implementation, and one entry per
// case run (in suite order), with the worst verdict over them.
type Report struct {
	Kind         string `json:"kind"` // always Kind
	SuiteVersion string `json:"suite_version"`
	Size         Size   `json:"size"`
	Impl         string `json:"impl"`
	Transport    string `json:"transport"`
	// Shards are the shards this report covers ("I/N"), sorted; one for a run, several after
	// a merge.
	Shards []string `json:"shards"`
	// Verdict and ExitCode are the worst over Cases: fail (1) > harness-error (3) >
	// inconclusive (2) > pass (0). Missing cases make a merged report inconclusive.
	Verdict  check.Verdict `json:"verdict"`
	ExitCode int           `json:"exit_code"`
	// Missing names the suite's cases that no merged shard ran, when the shards were all of
	// one N and the suite version is this binary's.
	Missing []string     `json:"missing,omitempty"`
	Cases   []CaseResult `json:"cases"`
	// Confidence is the bound over every case: their leader kills and split brains summed.
	Confidence check.Confidence `json:"confidence"`
}

// CaseResult is one case's outcome.
type CaseResult struct {
	Name     string        `json:"name"`
	Scenario string        `json:"scenario"`
	Seed     int64         `json:"seed"`
	Dir      string        `json:"dir,omitempty"` // the case's result folder
	Verdict  check.Verdict `json:"verdict"`
	ExitCode int           `json:"exit_code"`
	// Error is the harness error (Verdict HarnessError) or the reason to skip (Skipped).
	Error    string        `json:"error,omitempty"`
	Replay   string        `json:"replay,omitempty"`
	Duration time.Duration `json:"duration"` // wall time of the run, in nanoseconds
	// Invariants are the checkers' results, their evidence without the records around it
	// (the case's own results.json has those).
	Invariants []check.Result `json:"invariants,omitempty"`
	// Confidence is the case's bound on the split-brain rate per leader kill (nil when the
	// case did not run).
	Confidence *check.Confidence `json:"confidence,omitempty"`
}

// severity orders verdicts for the worst-of: pass < inconclusive < harness-error < fail.
func severity(v check.Verdict) int {
	switch v {
	case check.Inconclusive:
		return 2
	case HarnessError:
		return 3
	case check.Fail:
		return 4
	case check.Pass, check.NotJudged, Skipped:
		return 1
	}
	return 2 // unknown: not a pass
}

func exitCode(v check.Verdict) int {
	switch v {
	case check.Fail:
		return check.ExitViolation
	case HarnessError:
		return ExitHarness
	case check.Inconclusive:
		return check.ExitInconclusive
	}
	return check.ExitValid
}

// finish sets the report's verdict and exit code from its cases and Missing.
func (r *Report) finish() {
	v := check.Pass
	if len(r.Missing) > 0 {
		v = check.Inconclusive
	}
	for _, c := range r.Cases {
		if severity(c.Verdict) > severity(v) {
			v = c.Verdict
		}
	}
	r.Verdict, r.ExitCode = v, exitCode(v)
	r.Confidence = r.total()
}

// total is the bound over every case that ran: trials and violations summed.
func (r *Report) total() check.Confidence {
	all := check.Confidence{Level: check.DefaultLevel}
	for _, c := range r.Cases {
		if c.Confidence != nil {
			all.Trials += c.Confidence.Trials
			all.Violations += c.Confidence.Violations
		}
	}
	all.RateUpperBound = check.RateUpperBound(all.Violations, all.Trials, all.Level)
	return all
}

// Write writes r as dir/results.json and dir/junit.xml, each whole or not at all.
func Write(dir string, r *Report) error {
	r.Kind = Kind
	r.finish()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("conformance report: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", report.ResultsFile, err)
	}
	if err := report.WriteFileAtomic(filepath.Join(dir, report.ResultsFile), append(js, '\n')); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := writeJUnit(&b, r); err != nil {
		return fmt.Errorf("encode %s: %w", report.JUnitFile, err)
	}
	return report.WriteFileAtomic(filepath.Join(dir, report.JUnitFile), b.Bytes())
}

// Sentinel errors of Load and Merge.
var (
	// ErrNotReport means a folder holds no results.json that Load can read.
	ErrNotReport = errors.New("not a result folder")
	// ErrMismatch means reports of different suites, sizes, implementations or transports,
	// or overlapping shards, were given to Merge.
	ErrMismatch = errors.New("reports do not belong together")
)

// Load reads dir/results.json: a conformance report as is, or a single run's results.json
// (from `splitbrain run`) as a report of one case named after the folder, with no suite
// version.
func Load(dir string) (*Report, error) {
	path := filepath.Join(dir, report.ResultsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s; give a folder that `splitbrain conformance` or `splitbrain run` wrote", ErrNotReport, dir, report.ResultsFile)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotReport, err)
	}
	var probe struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: %s: not JSON (%v); was it cut off or hand-edited? run `splitbrain check` on a run folder to rewrite it", ErrNotReport, path, err)
	}
	if probe.Kind == Kind {
		var r Report
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrNotReport, path, err)
		}
		if r.SuiteVersion == "" || r.Impl == "" {
			return nil, fmt.Errorf("%w: %s: a conformance report without suite_version or impl; was it hand-edited?", ErrNotReport, path)
		}
		for i := range r.Cases {
			if d := r.Cases[i].Dir; d != "" && !filepath.IsAbs(d) {
				r.Cases[i].Dir = filepath.Join(dir, d)
			}
		}
		return &r, nil
	}
	var rr report.Results
	if err := json.Unmarshal(data, &rr); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrNotReport, path, err)
	}
	if rr.Run == nil || rr.Verdict == "" {
		return nil, fmt.Errorf("%w: %s has no run configuration or verdict; run `splitbrain check %s` to judge the folder again", ErrNotReport, path, dir)
	}
	return &Report{
		Kind: Kind, Impl: rr.Run.Impl, Transport: rr.Run.Transport,
		Cases: []CaseResult{{
			Name: filepath.Base(filepath.Clean(dir)), Scenario: "run", Seed: rr.Run.Seed, Dir: dir,
			Verdict: rr.Verdict, ExitCode: rr.ExitCode, Replay: rr.Replay, Duration: rr.Duration,
			Invariants: trim(rr.Invariants), Confidence: &rr.Confidence,
		}},
	}, nil
}

// Merge joins reports into one: the cases of all, in the order given, and the worst
// verdict. It refuses (ErrMismatch) reports of different suite versions, sizes,
// implementations or transports, and two reports with a case of the same name (overlapping
// shards, or the same folder twice). When every report is a shard of the same N of this
// binary's suite version, cases that no report ran are listed in Missing and make the merged
// verdict at least inconclusive: a pipeline that lost a shard does not pass.
func Merge(rs []*Report) (*Report, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("%w: nothing to merge: give at least one folder", ErrNotReport)
	}
	first := rs[0]
	out := &Report{Kind: Kind, SuiteVersion: first.SuiteVersion, Size: first.Size, Impl: first.Impl, Transport: first.Transport}
	seen := map[string]int{}
	shards := map[string]bool{}
	n := -1
	for i, r := range rs {
		for _, f := range []struct{ name, a, b string }{
			{"suite version", first.SuiteVersion, r.SuiteVersion},
			{"size", string(first.Size), string(r.Size)},
			{"implementation", first.Impl, r.Impl},
			{"transport", first.Transport, r.Transport},
		} {
			if f.a != f.b {
				return nil, fmt.Errorf("%w: report %d has %s %q but report 1 has %q: merge only the shards of one conformance run", ErrMismatch, i+1, f.name, f.b, f.a)
			}
		}
		for _, sh := range r.Shards {
			if shards[sh] {
				return nil, fmt.Errorf("%w: shard %s is given twice (report %d)", ErrMismatch, sh, i+1)
			}
			shards[sh] = true
			s, err := ParseShard(sh)
			switch {
			case err != nil:
				n = 0
			case n == -1:
				n = s.Count
			case n != s.Count:
				n = 0
			}
		}
		if len(r.Shards) == 0 {
			n = 0
		}
		for _, c := range r.Cases {
			if j, ok := seen[c.Name]; ok {
				return nil, fmt.Errorf("%w: case %q is in report %d and report %d: the shards overlap, or a folder is given twice", ErrMismatch, c.Name, j, i+1)
			}
			seen[c.Name] = i + 1
			out.Cases = append(out.Cases, c)
		}
	}
	for sh := range shards {
		out.Shards = append(out.Shards, sh)
	}
	sortShards(out.Shards)
	if n > 0 && out.SuiteVersion == SuiteVersion {
		for _, c := range Cases(out.Size, out.Transport) {
			if _, ok := seen[c.Name]; !ok {
				out.Missing = append(out.Missing, c.Name)
			}
		}
	}
	out.finish()
	return out, nil
}

func sortShards(ss []string) {
	key := func(s string) int {
		sh, err := ParseShard(s)
		if err != nil {
			return 1 << 40
		}
		return sh.Count<<20 | sh.Index
	}
	slices.SortFunc(ss, func(a, b string) int { return key(a) - key(b) })
}

// trim drops the history records from each piece of evidence: the case folder keeps them.
func trim(rs []check.Result) []check.Result {
	out := make([]check.Result, len(rs))
	for i, r := range rs {
		ev := make([]check.Evidence, len(r.Evidence))
		for j, e := range r.Evidence {
			e.Records = nil
			ev[j] = e
		}
		if len(ev) == 0 {
			ev = nil
		}
		r.Evidence = ev
		out[i] = r
	}
	return out
}

// Summary writes one line per case and the overall verdict to w.
func Summary(w io.Writer, r *Report) error {
	var b strings.Builder
	for _, c := range r.Cases {
		line := fmt.Sprintf("  %-14s %-22s %v", c.Verdict, c.Name, c.Duration.Round(time.Millisecond))
		var bad []string
		for _, inv := range c.Invariants {
			if inv.Verdict == check.Fail || inv.Verdict == check.Inconclusive {
				bad = append(bad, inv.Name+": "+inv.Summary)
			}
		}
		if c.Error != "" {
			bad = append(bad, c.Error)
		}
		if c.Confidence != nil && c.Confidence.Trials > 0 {
			line += "  " + strings.TrimPrefix(report.ConfidenceLine(*c.Confidence), "confidence: ")
		}
		b.WriteString(line + "\n")
		for _, s := range bad {
			b.WriteString("      " + s + "\n")
		}
		if c.Verdict == check.Fail || c.Verdict == check.Inconclusive {
			b.WriteString("      replay: " + c.Replay + "\n")
		}
	}
	for _, m := range r.Missing {
		fmt.Fprintf(&b, "  %-14s %s (no shard ran it)\n", "MISSING", m)
	}
	b.WriteString("splitbrain conformance: over every case, " + strings.TrimPrefix(report.ConfidenceLine(r.total()), "confidence: ") + "\n")
	fmt.Fprintf(&b, "splitbrain conformance: suite %s (%s), %s over %s, shards %s: %s (exit %d)\n",
		r.SuiteVersion, r.Size, r.Impl, r.Transport, strings.Join(r.Shards, ","), strings.ToUpper(string(r.Verdict)), r.ExitCode)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeJUnit writes one testsuite per case with one testcase per invariant (classname
// "conformance.CASE", name the invariant). A failed invariant is a <failure>, an
// inconclusive one an <error>, a harness error one <error> testcase named "harness", a
// skipped case one <skipped> testcase, and each missing case one <error> testcase.
func writeJUnit(w io.Writer, r *Report) error {
	doc := report.JUnitSuites{Name: "splitbrain conformance " + r.SuiteVersion}
	var total time.Duration
	props := func(c CaseResult) []report.JUnitProperty {
		ps := []report.JUnitProperty{
			{Name: "suite_version", Value: r.SuiteVersion}, {Name: "size", Value: string(r.Size)},
			{Name: "impl", Value: r.Impl}, {Name: "transport", Value: r.Transport},
			{Name: "seed", Value: fmt.Sprint(c.Seed)}, {Name: "replay", Value: c.Replay},
			{Name: "dir", Value: c.Dir}, {Name: "verdict", Value: string(c.Verdict)},
		}
		if cf := c.Confidence; cf != nil {
			ps = append(ps,
				report.JUnitProperty{Name: "confidence_trials", Value: fmt.Sprint(cf.Trials)},
				report.JUnitProperty{Name: "confidence_violations", Value: fmt.Sprint(cf.Violations)},
				report.JUnitProperty{Name: "confidence_level", Value: fmt.Sprint(cf.Level)},
				report.JUnitProperty{Name: "confidence_rate_upper_bound", Value: fmt.Sprint(cf.RateUpperBound)},
				report.JUnitProperty{Name: "confidence", Value: report.ConfidenceLine(*cf)})
		}
		return ps
	}
	for _, c := range r.Cases {
		total += c.Duration
		s := report.JUnitSuite{Name: "conformance." + c.Name, Time: seconds(c.Duration), Properties: props(c)}
		class := "conformance." + c.Name
		switch c.Verdict {
		case Skipped:
			s.Cases = append(s.Cases, report.JUnitCase{Classname: class, Name: c.Scenario, Time: seconds(0), Skipped: &report.JUnitMessage{Message: c.Error}})
		case HarnessError:
			s.Cases = append(s.Cases, report.JUnitCase{Classname: class, Name: "harness", Time: seconds(c.Duration),
				Error: &report.JUnitMessage{Message: c.Error, Type: "harness-error", Contents: c.Error + "\nreplay: " + c.Replay + "\n"}})
		}
		for _, inv := range c.Invariants {
			jc := report.JUnitCase{Classname: class, Name: inv.Name, Time: seconds(0)}
			switch inv.Verdict {
			case check.Fail:
				jc.Failure = &report.JUnitMessage{Message: inv.Summary, Type: "violation", Contents: evidence(inv, c)}
			case check.Inconclusive:
				jc.Error = &report.JUnitMessage{Message: inv.Summary, Type: "inconclusive", Contents: evidence(inv, c)}
			case check.NotJudged:
				jc.Skipped = &report.JUnitMessage{Message: inv.Summary}
			default:
				jc.SystemOut = &report.JUnitText{Contents: inv.Summary + "\n"}
			}
			s.Cases = append(s.Cases, jc)
		}
		doc.Suites = append(doc.Suites, s)
	}
	for _, m := range r.Missing {
		doc.Suites = append(doc.Suites, report.JUnitSuite{Name: "conformance." + m, Time: seconds(0),
			Cases: []report.JUnitCase{{Classname: "conformance." + m, Name: "missing", Time: seconds(0),
				Error: &report.JUnitMessage{Message: "no shard ran this case", Type: "missing",
					Contents: "the merged shards do not cover case " + m + "; did a shard job fail or lose its artifact?\n"}}}})
	}
	doc.Tally()
	doc.Time = seconds(total)
	return report.EncodeJUnit(w, doc)
}

// evidence is a failure's body: summary, evidence lines, the folder and the replay.
func evidence(inv check.Result, c CaseResult) string {
	var b strings.Builder
	b.WriteString(inv.Summary + "\n")
	for _, e := range inv.Evidence {
		fmt.Fprintf(&b, "at %v: %s\n", e.T, e.What)
		if len(e.Peers) > 0 {
			fmt.Fprintf(&b, "  peers %s, pids %v\n", strings.Join(e.Peers, ","), e.PIDs)
		}
	}
	if c.Dir != "" {
		fmt.Fprintf(&b, "result folder: %s (history.jsonl, results.json with the records around each piece of evidence)\n", c.Dir)
	}
	fmt.Fprintf(&b, "replay: %s\n", c.Replay)
	return b.String()
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
