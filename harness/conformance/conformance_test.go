package conformance_test

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/conformance"
	"github.com/splitbrain-dev/splitbrain/harness/fault"
)

// TestShardsPartitionTheSuite: for N in 1..10, the shards 0..N-1 together hold every case
// of the suite exactly once, whatever the size and transport, and the split is the same
// when asked again.
func TestShardsPartitionTheSuite(t *testing.T) {
	for _, size := range []conformance.Size{conformance.Full, conformance.Quick} {
		for _, tr := range []string{"unix", "tcp"} {
			suite := conformance.Cases(size, tr)
			for n := 1; n <= 10; n++ {
				seen := map[string]int{}
				var union []string
				for i := 0; i < n; i++ {
					sh, err := conformance.ParseShard(strings.Join([]string{itoa(i), itoa(n)}, "/"))
					if err != nil {
						t.Fatal(err)
					}
					got := conformance.Names(sh.Cases(suite))
					if again := conformance.Names(sh.Cases(suite)); !slices.Equal(got, again) {
						t.Fatalf("%s %s shard %d/%d: %v, then %v", size, tr, i, n, got, again)
					}
					for _, name := range got {
						if j, ok := seen[name]; ok {
							t.Errorf("%s %s N=%d: case %s in shards %d and %d", size, tr, n, name, j, i)
						}
						seen[name] = i
						union = append(union, name)
					}
				}
				want := conformance.Names(suite)
				slices.Sort(union)
				slices.Sort(want)
				if !slices.Equal(union, want) {
					t.Errorf("%s %s N=%d: union of shards %v, suite %v", size, tr, n, union, want)
				}
			}
		}
	}
}

// TestShardsBalance: with as many shards as the full suite has scenarios' worth of work,
// no shard is empty while another holds two cases of the long scenario.
func TestShardsBalance(t *testing.T) {
	suite := conformance.Cases(conformance.Full, "unix")
	for i := 0; i < 4; i++ {
		n := 0
		for _, c := range (conformance.Shard{Index: i, Count: 4}).Cases(suite) {
			if c.Scenario.Name == "mixed-long" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("shard %d/4 has %d of the 4 mixed-long seeds, want 1: the long runs should spread", i, n)
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestParseShardErrors(t *testing.T) {
	for in, want := range map[string]string{
		"3/3":   "must be below N",
		"5/3":   "must be below N",
		"-1/3":  "must be below N",
		"0/0":   "must be 1 or more",
		"0/-2":  "must be 1 or more",
		"a/3":   "whole numbers",
		"1/b":   "whole numbers",
		"1.5/3": "whole numbers",
		"2":     "want I/N",
	} {
		_, err := conformance.ParseShard(in)
		if !errors.Is(err, conformance.ErrShard) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--shard") {
			t.Errorf("ParseShard(%q) = %v, want an ErrShard naming --shard and saying %q", in, err, want)
		}
	}
	if s, err := conformance.ParseShard(""); err != nil || s != (conformance.Shard{Index: 0, Count: 1}) {
		t.Errorf("ParseShard(\"\") = %v, %v; want 0/1", s, err)
	}
}

// TestSuiteIsWellFormed: names are unique and filesystem-safe, faults exist, and the tcp
// suite skips exactly the cases with unix-only faults.
func TestSuiteIsWellFormed(t *testing.T) {
	names := map[string]bool{}
	for _, c := range conformance.Cases(conformance.Full, "unix") {
		if names[c.Name] || c.Name != filepath.Base(c.Name) || strings.ContainsAny(c.Name, " /") {
			t.Errorf("case name %q is repeated or not a plain folder name", c.Name)
		}
		names[c.Name] = true
		if c.Skip != "" {
			t.Errorf("unix case %s skipped: %s", c.Name, c.Skip)
		}
		if _, err := c.Config("x", "unix", "out"); err != nil {
			t.Error(err)
		}
	}
	for _, c := range conformance.Cases(conformance.Quick, "tcp") {
		_, err := fault.Parse(strings.Join(c.Scenario.Faults, ","), "tcp")
		if (err != nil) != (c.Skip != "") {
			t.Errorf("tcp case %s: skip %q, fault parse error %v", c.Name, c.Skip, err)
		}
	}
}

func report(shard string, cases ...conformance.CaseResult) *conformance.Report {
	return &conformance.Report{Kind: conformance.Kind, SuiteVersion: conformance.SuiteVersion, Size: conformance.Quick,
		Impl: "impl", Transport: "unix", Shards: []string{shard}, Cases: cases}
}

func pass(name string) conformance.CaseResult {
	return conformance.CaseResult{Name: name, Verdict: check.Pass, Invariants: []check.Result{{Name: "single-listener", Verdict: check.Pass}}}
}

func TestMerge(t *testing.T) {
	suite := conformance.Cases(conformance.Quick, "unix")
	var shards []*conformance.Report
	for i := 0; i < 3; i++ {
		sh := conformance.Shard{Index: i, Count: 3}
		var cs []conformance.CaseResult
		for _, c := range sh.Cases(suite) {
			cs = append(cs, pass(c.Name))
		}
		shards = append(shards, report(sh.String(), cs...))
	}
	m, err := conformance.Merge(shards)
	if err != nil || m.Verdict != check.Pass || m.ExitCode != 0 || len(m.Cases) != len(suite) || len(m.Missing) != 0 {
		t.Fatalf("merge of all shards: %+v, %v", m, err)
	}

	// A lost shard: the rest merge, but the report is inconclusive and names what is missing.
	m, err = conformance.Merge(shards[:2])
	if err != nil || m.Verdict != check.Inconclusive || m.ExitCode != 2 || len(m.Missing) == 0 {
		t.Fatalf("merge without shard 2/3: %+v, %v", m, err)
	}

	// The worst verdict wins: fail over harness error over inconclusive.
	bad := report("0/1", pass("a"),
		conformance.CaseResult{Name: "b", Verdict: check.Inconclusive},
		conformance.CaseResult{Name: "c", Verdict: conformance.HarnessError})
	bad.SuiteVersion = "other" // no completeness check for a foreign suite
	m, err = conformance.Merge([]*conformance.Report{bad})
	if err != nil || m.ExitCode != conformance.ExitHarness {
		t.Fatalf("inconclusive + harness error: %+v, %v; want exit 3", m, err)
	}
	bad.Cases = append(bad.Cases, conformance.CaseResult{Name: "d", Verdict: check.Fail})
	if m, _ = conformance.Merge([]*conformance.Report{bad}); m.ExitCode != 1 {
		t.Fatalf("with a failure: exit %d, want 1", m.ExitCode)
	}

	for name, mutate := range map[string]func(r *conformance.Report){
		"suite version":  func(r *conformance.Report) { r.SuiteVersion = "1999.1" },
		"implementation": func(r *conformance.Report) { r.Impl = "other" },
		"transport":      func(r *conformance.Report) { r.Transport = "tcp" },
		"size":           func(r *conformance.Report) { r.Size = conformance.Full },
	} {
		other := *shards[1]
		mutate(&other)
		_, err := conformance.Merge([]*conformance.Report{shards[0], &other})
		if !errors.Is(err, conformance.ErrMismatch) || !strings.Contains(err.Error(), name) {
			t.Errorf("merge with another %s: %v, want ErrMismatch naming it", name, err)
		}
	}
	if _, err := conformance.Merge([]*conformance.Report{shards[0], shards[0]}); !errors.Is(err, conformance.ErrMismatch) {
		t.Errorf("merge of a shard with itself: %v, want ErrMismatch", err)
	}
}

// TestWriteLoad: a written report loads back with the same cases and its junit.xml holds a
// testcase per case × invariant, the failure where it happened.
func TestWriteLoad(t *testing.T) {
	dir := t.TempDir()
	r := report("0/1", pass("a"), conformance.CaseResult{Name: "b", Dir: "cases/b", Verdict: check.Fail, Invariants: []check.Result{
		{Name: "single-listener", Verdict: check.Fail, Summary: "two listeners", Evidence: []check.Evidence{{What: "p1 and p2 listen"}}},
		{Name: "liveness", Verdict: check.Pass},
	}})
	if err := conformance.Write(dir, r); err != nil {
		t.Fatal(err)
	}
	got, err := conformance.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.ExitCode != 1 || len(got.Cases) != 2 || got.Cases[1].Dir != filepath.Join(dir, "cases/b") {
		t.Errorf("loaded %+v", got)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tests != 3 || doc.Failures != 1 || len(doc.Suites) != 2 || doc.Suites[1].Name != "conformance.b" ||
		doc.Suites[1].Cases[0].Name != "single-listener" || doc.Suites[1].Cases[0].Failure == nil {
		t.Errorf("junit.xml does not show the failure of b/single-listener:\n%s", raw)
	}

	// A hand-edited or foreign results.json is refused with the file named.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "results.json"), []byte(`{"kind":"splitbrain-conformance","cases":[`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := conformance.Load(bad); !errors.Is(err, conformance.ErrNotReport) || !strings.Contains(err.Error(), "results.json") {
		t.Errorf("Load of a cut-off report: %v", err)
	}
	if _, err := conformance.Load(t.TempDir()); !errors.Is(err, conformance.ErrNotReport) {
		t.Errorf("Load of an empty folder: %v", err)
	}
}
