package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// File names inside a result folder.
const (
	HistoryFile = "history.jsonl"
	ResultsFile = "results.json"
	JUnitFile   = "junit.xml"
)

// Results is the content of results.json.
type Results struct {
	// Verdict is the run's overall verdict and ExitCode the exit code it maps to.
	Verdict  check.Verdict `json:"verdict"`
	ExitCode int           `json:"exit_code"`
	// Replay is the command that replays the run (Run.Replay), empty if unknown.
	Replay string `json:"replay,omitempty"`
	// Run is the run's configuration, from its run record; nil if the history has none.
	Run *history.Run `json:"run,omitempty"`
	// Records is how many history records were judged; Duration is the T of the last one.
	Records  int           `json:"records"`
	Duration time.Duration `json:"duration"`
	// Invariants are the checkers' results, in registry order.
	Invariants []check.Result `json:"invariants"`
	// Exercised is what the run did (rounds, faults, leader kills, observations), and
	// Confidence the bound it earns on the split-brain rate per leader kill.
	Exercised  check.Exercised  `json:"exercised"`
	Confidence check.Confidence `json:"confidence"`
}

// NewResults assembles the content of results.json from a history and its results.
func NewResults(records []history.Record, results check.Results) Results {
	run := check.RunConfig(records)
	out := Results{
		Verdict: results.Verdict(), ExitCode: results.ExitCode(),
		Run: run, Records: len(records), Invariants: results.Parts,
	}
	out.Exercised, out.Confidence = check.Exercise(records, check.DefaultLevel)
	if run != nil {
		out.Replay = run.Replay
	}
	for _, r := range records {
		out.Duration = max(out.Duration, r.T)
	}
	return out
}

// Write writes results.json and junit.xml into dir, creating it if needed. Each file is
// written whole or not at all (a temporary file renamed into place).
func Write(dir string, records []history.Record, results check.Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	doc := NewResults(records, results)
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", ResultsFile, err)
	}
	if err := WriteFileAtomic(filepath.Join(dir, ResultsFile), append(js, '\n')); err != nil {
		return err
	}
	var x bytes.Buffer
	if err := writeJUnit(&x, doc); err != nil {
		return fmt.Errorf("encode %s: %w", JUnitFile, err)
	}
	return WriteFileAtomic(filepath.Join(dir, JUnitFile), x.Bytes())
}

// WriteFileAtomic replaces path with data (mode 0644) whole or not at all: it writes a
// temporary file in path's folder and renames it into place, so a reader never sees a
// partial file.
func WriteFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // fails harmlessly after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
