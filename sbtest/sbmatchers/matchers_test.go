package sbmatchers_test

import (
	"strings"
	"testing"

	"github.com/onsi/gomega/types"

	"github.com/splitbrain-dev/splitbrain/sbtest"
	"github.com/splitbrain-dev/splitbrain/sbtest/sbmatchers"
)

// Gomega accepts them by their method set; this package does not import Gomega.
var _ types.GomegaMatcher = sbmatchers.Pass()

func caught() *sbtest.Result {
	return &sbtest.Result{Verdict: sbtest.Fail, Invariants: []sbtest.Invariant{
		{Name: "single-listener", Verdict: sbtest.Fail, Reason: "2 listeners at 1.2s"},
		{Name: "delivery", Verdict: sbtest.NotJudged, Reason: "no peer wrote events"},
		{Name: "liveness", Verdict: sbtest.Pass, Reason: "1 failover", Case: "leader-kills"},
	}}
}

func TestMatchers(t *testing.T) {
	for _, c := range []struct {
		m    *sbmatchers.ResultMatcher
		want bool
		msg  string // in the failure message of the outcome that did not happen
	}{
		{sbmatchers.Pass(), false, "Expected the splitbrain run to pass, but its verdict is fail."},
		{sbmatchers.HaveVerdict(sbtest.Fail), true, "Expected the splitbrain run not to have verdict fail, but its verdict is fail."},
		{sbmatchers.FailInvariant("single-listener"), true, "not to fail invariant single-listener, but single-listener is fail: 2 listeners at 1.2s"},
		{sbmatchers.HoldInvariant("single-listener"), false, "to hold invariant single-listener, but single-listener is fail"},
		// Not judged is not held.
		{sbmatchers.HoldInvariant("delivery"), false, "delivery is not-judged: no peer wrote events"},
		{sbmatchers.HoldInvariant("liveness"), true, "liveness is pass (case leader-kills): 1 failover"},
	} {
		for _, actual := range []any{caught(), *caught()} {
			ok, err := c.m.Match(actual)
			if err != nil || ok != c.want {
				t.Errorf("%s: Match = %v, %v; want %v", c.msg, ok, err, c.want)
				continue
			}
			msg := c.m.FailureMessage(actual)
			if ok {
				msg = c.m.NegatedFailureMessage(actual)
			}
			if !strings.Contains(msg, c.msg) {
				t.Errorf("message %q lacks %q", msg, c.msg)
			}
		}
	}
}

func TestMatcherMisuse(t *testing.T) {
	for _, c := range []struct {
		m      *sbmatchers.ResultMatcher
		actual any
		want   string
	}{
		{sbmatchers.HoldInvariant("split-brain"), caught(), `no invariant "split-brain": choose from single-listener, delivery, liveness`},
		{sbmatchers.Pass(), (*sbtest.Result)(nil), "got a nil one"},
		{sbmatchers.Pass(), "pass", "expected an *sbtest.Result, got string"},
	} {
		if _, err := c.m.Match(c.actual); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Match(%#v) error %v, want %q", c.actual, err, c.want)
		}
	}
}
