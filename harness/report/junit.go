package report

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
)

// JUnitSuites is the root <testsuites> element of a JUnit XML report, in the shape CI
// systems (GitHub test reporters, GitLab) read and gotestsum writes. Tests, Failures,
// Errors and Skipped count testcases over all Suites (Tally sets them); Time is in seconds,
// as a decimal string. Name is left out when empty.
type JUnitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr,omitempty"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []JUnitSuite `xml:"testsuite"`
}

// JUnitSuite is one <testsuite>: its counts are of its Cases (Tally sets them), Time is in
// seconds as a decimal string, and Timestamp (RFC 3339) is left out when empty.
type JUnitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []JUnitProperty `xml:"properties>property"`
	Cases      []JUnitCase     `xml:"testcase"`
}

// JUnitProperty is one <property name= value=> of a testsuite.
type JUnitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

// JUnitCase is one <testcase>. At most one of Failure, Error and Skipped is set; none means
// the case passed. Time is in seconds, as a decimal string.
type JUnitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *JUnitMessage `xml:"failure,omitempty"`
	Error     *JUnitMessage `xml:"error,omitempty"`
	Skipped   *JUnitMessage `xml:"skipped,omitempty"`
	SystemOut *JUnitText    `xml:"system-out,omitempty"`
}

// JUnitText is an element whose contents are written as CDATA (system-out).
type JUnitText struct {
	Contents string `xml:",cdata"`
}

// JUnitMessage is a <failure>, <error> or <skipped>: a one-line Message, an optional Type,
// and the long Contents as CDATA.
type JUnitMessage struct {
	Message  string `xml:"message,attr"`
	Type     string `xml:"type,attr,omitempty"`
	Contents string `xml:",cdata"`
}

// Tally sets the counts of each suite from its cases (a case with Failure is a failure,
// else with Error an error, else with Skipped a skip) and doc's counts to their sums. It
// leaves the times alone.
func (doc *JUnitSuites) Tally() {
	doc.Tests, doc.Failures, doc.Errors, doc.Skipped = 0, 0, 0, 0
	for i := range doc.Suites {
		s := &doc.Suites[i]
		s.Tests, s.Failures, s.Errors, s.Skipped = len(s.Cases), 0, 0, 0
		for _, c := range s.Cases {
			switch {
			case c.Failure != nil:
				s.Failures++
			case c.Error != nil:
				s.Errors++
			case c.Skipped != nil:
				s.Skipped++
			}
		}
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
	}
}

// EncodeJUnit writes doc to w as a JUnit XML document: the XML header, the elements
// tab-indented, and a final newline.
func EncodeJUnit(w io.Writer, doc JUnitSuites) error {
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "\t")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// writeJUnit writes doc as one testsuite named "splitbrain" with a testcase per invariant.
// Failures and errors carry the summary as message and the evidence (text, then the
// records around it as JSON lines) as contents; passing cases carry their figures.
func writeJUnit(w io.Writer, doc Results) error {
	suite := JUnitSuite{Name: "splitbrain", Time: seconds(doc.Duration)}
	if run := doc.Run; run != nil {
		if !run.Started.IsZero() {
			suite.Timestamp = run.Started.UTC().Format(time.RFC3339)
		}
		suite.Properties = []JUnitProperty{
			{Name: "impl", Value: run.Impl},
			{Name: "transport", Value: run.Transport},
			{Name: "addr", Value: run.Addr},
			{Name: "peers", Value: fmt.Sprint(run.Peers)},
			{Name: "seed", Value: fmt.Sprint(run.Seed)},
			{Name: "faults", Value: strings.Join(run.Faults, ",")},
			{Name: "replay", Value: run.Replay},
		}
	}
	c, ex := doc.Confidence, doc.Exercised
	suite.Properties = append(suite.Properties,
		JUnitProperty{Name: "verdict", Value: string(doc.Verdict)},
		JUnitProperty{Name: "headline", Value: Headline(check.Results{Parts: doc.Invariants})},
		JUnitProperty{Name: "rounds", Value: fmt.Sprint(ex.Rounds)},
		JUnitProperty{Name: "leader_kills", Value: fmt.Sprint(ex.LeaderKills)},
		JUnitProperty{Name: "failovers", Value: fmt.Sprint(ex.Failovers)},
		JUnitProperty{Name: "confidence_trials", Value: fmt.Sprint(c.Trials)},
		JUnitProperty{Name: "confidence_violations", Value: fmt.Sprint(c.Violations)},
		JUnitProperty{Name: "confidence_level", Value: fmt.Sprint(c.Level)},
		JUnitProperty{Name: "confidence_rate_upper_bound", Value: fmt.Sprint(c.RateUpperBound)},
		JUnitProperty{Name: "confidence", Value: ConfidenceLine(c)},
	)
	for _, r := range doc.Invariants {
		c := JUnitCase{Classname: "splitbrain", Name: r.Name, Time: seconds(0)}
		switch r.Verdict {
		case check.Fail:
			c.Failure = &JUnitMessage{Message: r.Summary, Type: "violation", Contents: evidenceText(r, doc.Replay)}
		case check.Inconclusive:
			c.Error = &JUnitMessage{Message: r.Summary, Type: "inconclusive", Contents: evidenceText(r, doc.Replay)}
		case check.NotJudged:
			c.Skipped = &JUnitMessage{Message: r.Summary}
		default:
			c.SystemOut = &JUnitText{Contents: passText(r)}
		}
		suite.Cases = append(suite.Cases, c)
	}
	out := JUnitSuites{Time: suite.Time, Suites: []JUnitSuite{suite}}
	out.Tally()
	return EncodeJUnit(w, out)
}

// evidenceText is the body of a failure: summary, evidence, replay, and the records.
func evidenceText(r check.Result, replay string) string {
	var b strings.Builder
	b.WriteString(r.Summary + "\n")
	for _, e := range r.Evidence {
		for _, l := range evidenceLines(e, "") {
			b.WriteString(l + "\n")
		}
	}
	if replay != "" {
		b.WriteString("replay: " + replay + "\n")
	}
	for i, e := range r.Evidence {
		if len(e.Records) == 0 {
			continue
		}
		fmt.Fprintf(&b, "records around evidence %d:\n", i+1)
		for _, rec := range e.Records {
			js, err := json.Marshal(rec)
			if err != nil {
				continue // a Record always marshals; skip rather than fail the report
			}
			b.Write(js)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// passText is the system-out of a passing case: its summary and figures.
func passText(r check.Result) string {
	var b strings.Builder
	b.WriteString(r.Summary + "\n")
	for _, k := range figureNames(r) {
		fmt.Fprintf(&b, "%s = %v\n", k, r.Figures[k])
	}
	return b.String()
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.6f", d.Seconds()) }
