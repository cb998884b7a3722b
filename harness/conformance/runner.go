package conformance

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/report"
	"github.com/splitbrain-dev/splitbrain/harness/run"
)

// CasesDir is the folder, inside a conformance result folder, that holds one run result
// folder per case.
const CasesDir = "cases"

// Options say what to run.
type Options struct {
	// Impl is the peer command line (as run.Config.Impl). Required.
	Impl string
	// Transport is "unix" (default) or "tcp".
	Transport string
	// Out is the result folder. Required.
	Out string
	// Size is Full (default) or Quick.
	Size Size
	// Shard is this job's share; the zero Shard runs the whole suite.
	Shard Shard
	// Only, if set, runs only these cases (comma-separated names), still within Shard.
	Only string
	// Progress, if set, gets one line as each case starts and ends, and the runs' progress.
	Progress io.Writer
	// Binary is how a replay line names this program (default "splitbrain"): the path
	// that ran, so the line works as printed.
	Binary string
	// Configure, if set, may adjust each case's run configuration (e.g. the sampling
	// interval) before it runs; what it changes is not part of the suite.
	Configure func(*run.Config)
}

// Run runs opt.Shard's cases one after another, each in Out/cases/NAME, and writes Out's
// results.json and junit.xml over them. When ctx ends it stops the running case (which
// still writes its folder) and skips the rest; the report then lists only what ran. The
// error is for a bad configuration or an unwritable report; a case the harness fails on is
// a HarnessError case in the report.
func Run(ctx context.Context, opt Options) (*Report, error) {
	if opt.Impl == "" {
		return nil, fmt.Errorf("%w: no peer command: set --impl 'COMMAND ARGS'", run.ErrConfig)
	}
	if opt.Out == "" {
		return nil, fmt.Errorf("%w: no result folder: set --out DIR", run.ErrConfig)
	}
	if opt.Transport == "" {
		opt.Transport = "unix"
	}
	if opt.Size == "" {
		opt.Size = Full
	}
	if opt.Shard.Count == 0 {
		opt.Shard = Shard{Index: 0, Count: 1}
	}
	cases := opt.Shard.Cases(Cases(opt.Size, opt.Transport))
	if opt.Only != "" {
		var err error
		if cases, err = Select(cases, opt.Only); err != nil {
			return nil, fmt.Errorf("%w: --case: %w (in shard %s)", run.ErrConfig, err, opt.Shard)
		}
	}
	rep := &Report{Kind: Kind, SuiteVersion: SuiteVersion, Size: opt.Size, Impl: opt.Impl,
		Transport: opt.Transport, Shards: []string{opt.Shard.String()}}
	if err := os.MkdirAll(filepath.Join(opt.Out, CasesDir), 0o755); err != nil {
		return nil, fmt.Errorf("result folder: %w", err)
	}
	say := func(format string, args ...any) {
		if opt.Progress != nil {
			fmt.Fprintf(opt.Progress, format+"\n", args...)
		}
	}
	for i, c := range cases {
		if ctx.Err() != nil {
			break
		}
		rel := filepath.Join(CasesDir, c.Name)
		cr := CaseResult{Name: c.Name, Scenario: c.Scenario.Name, Seed: c.Seed, Dir: rel, Replay: c.Replay(opt.Binary, opt.Impl, opt.Transport)}
		if c.Skip != "" {
			cr.Verdict, cr.Error, cr.Dir = Skipped, c.Skip, ""
			rep.Cases = append(rep.Cases, cr)
			say("conformance: [%d/%d] %s: skipped: %s", i+1, len(cases), c.Name, c.Skip)
			continue
		}
		cfg, err := c.Config(opt.Impl, opt.Transport, filepath.Join(opt.Out, rel))
		if err != nil {
			return nil, err
		}
		cfg.Report = report.Write
		cfg.Replay = cr.Replay
		if opt.Configure != nil {
			opt.Configure(&cfg)
		}
		say("conformance: [%d/%d] %s (%d peers, %d rounds of %v, seed %d)", i+1, len(cases), c.Name, cfg.Peers, cfg.Rounds, c.Scenario.Faults, c.Seed)
		began := time.Now()
		out, err := run.Run(ctx, cfg)
		cr.Duration = time.Since(began)
		switch {
		case err != nil && out == nil:
			cr.Verdict, cr.ExitCode, cr.Error = HarnessError, ExitHarness, err.Error()
		default:
			cr.Invariants = trim(out.Results.Parts)
			cr.Confidence = &out.Confidence
			cr.Verdict, cr.ExitCode = out.Results.Verdict(), out.Results.ExitCode()
			if err != nil {
				cr.Verdict, cr.ExitCode, cr.Error = HarnessError, ExitHarness, err.Error()
				if out.Results.Verdict() == check.Fail {
					// A violation found before the harness failed still stands.
					cr.Verdict, cr.ExitCode = check.Fail, check.ExitViolation
				}
			}
			if out.Interrupted {
				cr.Error = "interrupted"
				if cr.Verdict == check.Pass {
					cr.Verdict, cr.ExitCode = check.Inconclusive, check.ExitInconclusive
				}
			}
		}
		rep.Cases = append(rep.Cases, cr)
		say("conformance: [%d/%d] %s: %s in %v", i+1, len(cases), c.Name, cr.Verdict, cr.Duration.Round(time.Millisecond))
	}
	if err := Write(opt.Out, rep); err != nil {
		return rep, err
	}
	return rep, nil
}
