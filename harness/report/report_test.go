package report_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/report"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/runs")

// golden compares got with testdata file name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(name, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// TestWriteGolden loads each saved run, judges it, writes its report, and compares
// results.json, junit.xml and the terminal summary with the golden files beside it.
func TestWriteGolden(t *testing.T) {
	for _, name := range []string{"good", "split-brain", "never-leader"} {
		t.Run(name, func(t *testing.T) {
			src := filepath.Join("testdata", "runs", name)
			h, err := report.Load(src)
			if err != nil {
				t.Fatal(err)
			}
			rs := check.Judge(h)
			out := t.TempDir()
			if err := report.Write(out, h, rs); err != nil {
				t.Fatal(err)
			}
			entries, err := os.ReadDir(out)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if want := []string{report.JUnitFile, report.ResultsFile}; !slices.Equal(names, want) {
				t.Errorf("Write left %v in the folder, want %v", names, want)
			}
			for _, f := range []string{report.ResultsFile, report.JUnitFile} {
				got, err := os.ReadFile(filepath.Join(out, f))
				if err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join(src, f+".golden"), got)
			}
			checkJUnit(t, filepath.Join(out, report.JUnitFile), rs)
			var sum bytes.Buffer
			if err := report.Summary(&sum, report.NewResults(h, rs)); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join(src, "summary.txt.golden"), sum.Bytes())
		})
	}
}

// TestSummaryShowsEvidenceAndReplay pins what a user must see on a violation.
func TestSummaryShowsEvidenceAndReplay(t *testing.T) {
	h, err := report.Load(filepath.Join("testdata", "runs", "split-brain"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := report.Summary(&b, report.NewResults(h, check.Judge(h))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"splitbrain: FAIL: 4 of 10 invariants violated, 5 invariants hold, 1 not judged (exposure) (exit 1)",
		"listener inode 5002 pids [102] bound to inode 7002, backlog 0 ORPHANED",
		"replay: splitbrain run --impl 'splitbrain peer' --peers 3 --seed 42",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}

	b.Reset()
	h, err = report.Load(filepath.Join("testdata", "runs", "good"))
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Summary(&b, report.NewResults(h, check.Judge(h))); err != nil {
		t.Fatal(err)
	}
	// A passing run says how to replay it too, and what it earned.
	for _, want := range []string{"replay: splitbrain run", "failover gaps: 1, min 59ms",
		"PASS: 9 invariants hold, 1 not judged (exposure)", "confidence: no split brain in 1 leader kill: rate below 95 % at 95 % confidence"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("a valid run's summary lacks %q:\n%s", want, b.String())
		}
	}
}

func TestLoadErrors(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "runs", "good", "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	runLine, startLine := lines[0], lines[2]
	tests := []struct {
		name     string
		setup    func(dir string) string // returns the folder to Load
		sentinel error
		want     []string // substrings of the error
	}{
		{name: "missing folder", setup: func(dir string) string { return filepath.Join(dir, "nope") },
			sentinel: report.ErrNoHistory, want: []string{"nope does not exist"}},
		{name: "a file, not a folder", setup: func(dir string) string {
			p := filepath.Join(dir, "history.jsonl")
			write(t, p, runLine)
			return p
		}, sentinel: report.ErrNoHistory, want: []string{"is a file, not a result folder"}},
		{name: "no history.jsonl", setup: func(dir string) string { return dir },
			sentinel: report.ErrNoHistory, want: []string{"has no history.jsonl"}},
		{name: "empty", setup: withHistory(t, ""), sentinel: report.ErrBadHistory, want: []string{"history.jsonl: bad history: the file is empty"}},
		{name: "cut off", setup: withHistory(t, runLine+startLine+`{"t":5,"kind":"obs`),
			sentinel: report.ErrBadHistory, want: []string{"history.jsonl line 3:", "the last line is cut off"}},
		{name: "garbage in the middle", setup: withHistory(t, runLine+"hello\n"+startLine),
			sentinel: report.ErrBadHistory, want: []string{"line 2:", "not a JSON record"}},
		{name: "no run record", setup: withHistory(t, startLine+runLine),
			sentinel: report.ErrBadHistory, want: []string{"line 1:", `the first record is "start"`}},
		{name: "unknown kind", setup: withHistory(t, runLine+"\n"+`{"t":5,"kind":"obsrvation"}`+"\n"),
			sentinel: report.ErrBadHistory, want: []string{"line 3:", `unknown record kind "obsrvation"`}},
		{name: "observation without snapshot", setup: withHistory(t, runLine+`{"t":5,"kind":"observation","snaphsot":{}}`+"\n"),
			sentinel: report.ErrBadHistory, want: []string{"line 2:", `observation record has no "snapshot" field`}},
		{name: "exit without pid", setup: withHistory(t, runLine+`{"t":5,"kind":"exit","peer":"p1","exit":{"code":1}}`+"\n"),
			sentinel: report.ErrBadHistory, want: []string{"line 2:", `positive "pid"`}},
		{name: "future version", setup: withHistory(t, strings.Replace(runLine, `"version":1`, `"version":2`, 1)),
			sentinel: report.ErrBadHistory, want: []string{"line 1:", "version 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := report.Load(tt.setup(t.TempDir()))
			if err == nil {
				t.Fatalf("Load returned %d records and no error", len(h))
			}
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("error %q does not wrap %v", err, tt.sentinel)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadGood(t *testing.T) {
	h, err := report.Load(filepath.Join("testdata", "runs", "good"))
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 55 || h[0].Run == nil || h[0].Run.Seed != 42 {
		t.Errorf("loaded %d records, first %+v", len(h), h[0])
	}
}

// checkJUnit parses junit.xml back and checks one testcase per result, with the element
// its verdict maps to.
func checkJUnit(t *testing.T, path string, rs check.Results) {
	t.Helper()
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("junit.xml does not parse: %v", err)
	}
	if len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != len(rs.Parts) {
		t.Fatalf("junit.xml has %d suites, want 1 with %d cases", len(doc.Suites), len(rs.Parts))
	}
	for i, c := range doc.Suites[0].Cases {
		r := rs.Parts[i]
		got := map[check.Verdict]bool{check.Fail: c.Failure != nil, check.Inconclusive: c.Error != nil, check.NotJudged: c.Skipped != nil}
		for v, present := range got {
			if present != (r.Verdict == v) {
				t.Errorf("testcase %s (verdict %s): element for %s present = %v", c.Name, r.Verdict, v, present)
			}
		}
	}
}

func withHistory(t *testing.T, content string) func(dir string) string {
	return func(dir string) string {
		write(t, filepath.Join(dir, report.HistoryFile), content)
		return dir
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
