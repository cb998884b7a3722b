package sbtest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Run runs plan against its peer until it ends or ctx does (then it stops every peer,
// judges what was recorded and marks the Result Interrupted), and returns the Result.
//
// The error is for what is not the peer's verdict: a plan it refuses (ErrConfig), a Go peer
// its test binary does not dispatch (ErrNoMain), a failure of the harness (ErrHarness, with
// the Result too, its Verdict HarnessError unless a violation was already found).
func Run(ctx context.Context, plan Plan) (*Result, error) {
	if plan == nil {
		return nil, fmt.Errorf("%w: no plan: give an sbtest.RunConfig or an sbtest.Conformance", ErrConfig)
	}
	out := plan.outDir()
	if out == "" {
		dir, err := os.MkdirTemp("", "splitbrain-")
		if err != nil {
			return nil, fmt.Errorf("result folder: %w", err)
		}
		out = dir
	}
	return plan.execute(ctx, out)
}

// Check runs plan within t (its context ends with the test) and fails t, with the verdict
// table, the evidence, the replay command and the result folder, unless the verdict is
// Pass. Without plan's Out, the result folder is a new temporary one, removed when the test
// passes and kept for a failure. It returns the Result for further assertions.
func Check(t testing.TB, plan Plan) *Result {
	t.Helper()
	if plan != nil && plan.outDir() == "" {
		dir, err := os.MkdirTemp("", "splitbrain-"+safeName.ReplaceAllString(t.Name(), "_")+"-")
		if err != nil {
			t.Fatalf("sbtest: result folder: %v", err)
		}
		t.Cleanup(func() {
			if !t.Failed() {
				os.RemoveAll(dir)
			}
		})
		plan = withOut(plan, dir)
	}
	res, err := Run(t.Context(), plan)
	if res == nil {
		t.Fatalf("sbtest: %v", err)
	}
	if err := res.Err(); err != nil {
		rerun := ""
		if _, ok := plan.(RunConfig); ok && res.Seed != 0 {
			run := "^" + strings.ReplaceAll(regexp.QuoteMeta(t.Name()), "/", "$/^") + "$"
			rerun = fmt.Sprintf("\nrerun: %s=%d go test -run '%s'", EnvSeed, res.Seed, run)
		}
		t.Fatalf("%v%s", err, rerun)
	}
	t.Logf("splitbrain: %s in %v", res.Verdict, res.Elapsed.Round(time.Millisecond))
	return res
}

var safeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func withOut(p Plan, dir string) Plan {
	switch p := p.(type) {
	case RunConfig:
		p.Out = dir
		return p
	case Conformance:
		p.Out = dir
		return p
	case *RunConfig:
		c := *p
		c.Out = dir
		return c
	case *Conformance:
		c := *p
		c.Out = dir
		return c
	}
	return p
}
