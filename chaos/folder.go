package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/report"
	"github.com/splitbrain-dev/splitbrain/harness/timeline"
)

// explorationFile is exploration.json: what the exploration found, and the judgement of
// the history it kept.
type explorationFile struct {
	Exploration Result `json:"exploration"`
	// Checks are check.Judge's verdicts on history.jsonl over the exploration's invariants
	// (the run record names them): the same judgement that gave Exploration.Violation and
	// that results.json holds, so the three cannot disagree.
	Checks check.Results `json:"checks"`
}

// ExplorationFile is the name of the exploration's own summary in its result folder.
const ExplorationFile = "exploration.json"

// writeOut writes the result folder: the layout of a run's (history.jsonl, results.json,
// junit.xml, timeline.html) plus exploration.json and, for a violation, schedule.json and
// story.txt.
func writeOut(dir string, res Result, recs []history.Record) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("result folder: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, report.HistoryFile))
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	w := history.NewWriter(f)
	for _, r := range recs {
		if err := w.Append(r); err != nil {
			f.Close()
			return fmt.Errorf("history: %w", err)
		}
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	judged := check.Judge(recs)
	b, err := json.MarshalIndent(explorationFile{Exploration: res, Checks: judged}, "", "  ")
	if err != nil {
		return fmt.Errorf("exploration: %w", err)
	}
	if err := report.WriteFileAtomic(filepath.Join(dir, ExplorationFile), append(b, '\n')); err != nil {
		return fmt.Errorf("exploration: %w", err)
	}
	if err := report.Write(dir, recs, judged); err != nil {
		return err
	}
	if _, err := timeline.WriteFile(dir, recs, judged); err != nil {
		return err
	}
	if res.Counterexample != nil && res.Violation != nil {
		if err := res.Counterexample.Save(filepath.Join(dir, "schedule.json")); err != nil {
			return err
		}
		story := res.Counterexample.StoryText() + "\n"
		if err := os.WriteFile(filepath.Join(dir, "story.txt"), []byte(story), 0o644); err != nil {
			return fmt.Errorf("story: %w", err)
		}
	}
	return nil
}
