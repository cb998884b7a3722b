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

// The JUnit XML shapes, as CI systems read them (the same as gotestsum writes).
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr,omitempty"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Classname string        `xml:"classname,attr"`
	Name      string        `xml:"name,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitText struct {
	Contents string `xml:",cdata"`
}

type junitMessage struct {
	Message  string `xml:"message,attr"`
	Type     string `xml:"type,attr,omitempty"`
	Contents string `xml:",cdata"`
}

// writeJUnit writes doc as one testsuite named "splitbrain" with a testcase per invariant.
// Failures and errors carry the summary as message and the evidence (text, then the
// records around it as JSON lines) as contents; passing cases carry their figures.
func writeJUnit(w io.Writer, doc Results) error {
	suite := junitSuite{Name: "splitbrain", Time: seconds(doc.Duration)}
	if run := doc.Run; run != nil {
		if !run.Started.IsZero() {
			suite.Timestamp = run.Started.UTC().Format(time.RFC3339)
		}
		suite.Properties = []junitProperty{
			{Name: "impl", Value: run.Impl},
			{Name: "transport", Value: run.Transport},
			{Name: "addr", Value: run.Addr},
			{Name: "peers", Value: fmt.Sprint(run.Peers)},
			{Name: "seed", Value: fmt.Sprint(run.Seed)},
			{Name: "faults", Value: strings.Join(run.Faults, ",")},
			{Name: "replay", Value: run.Replay},
		}
	}
	suite.Properties = append(suite.Properties, junitProperty{Name: "verdict", Value: string(doc.Verdict)})
	for _, r := range doc.Invariants {
		c := junitCase{Classname: "splitbrain", Name: r.Name, Time: seconds(0)}
		switch r.Verdict {
		case check.Fail:
			suite.Failures++
			c.Failure = &junitMessage{Message: r.Summary, Type: "violation", Contents: evidenceText(r, doc.Replay)}
		case check.Inconclusive:
			suite.Errors++
			c.Error = &junitMessage{Message: r.Summary, Type: "inconclusive", Contents: evidenceText(r, doc.Replay)}
		case check.NotApplicable:
			suite.Skipped++
			c.Skipped = &junitMessage{Message: r.Summary}
		default:
			c.SystemOut = &junitText{Contents: passText(r)}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	doc2 := junitSuites{
		Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Skipped: suite.Skipped,
		Time: suite.Time, Suites: []junitSuite{suite},
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "\t")
	if err := enc.Encode(doc2); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
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
