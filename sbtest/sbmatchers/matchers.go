// Package sbmatchers holds Gomega matchers for an [sbtest.Result]:
//
//	res, err := sbtest.Run(ctx, sbtest.RunConfig{Peer: mine, Duration: 20 * time.Second})
//	Expect(err).NotTo(HaveOccurred())
//	Expect(res).To(Pass())
//	Expect(res).To(HoldInvariant("single-listener"))
//	Expect(res).To(Or(FailInvariant("single-listener"), FailInvariant("reachable-leader")))
//
// Each failure message shows the verdict table, the evidence, the replay command and the
// result folder. The matchers implement Gomega's GomegaMatcher interface by its method set,
// without importing Gomega, so this package adds no dependency; the actual value may be a
// *sbtest.Result or an sbtest.Result, and Expect(sbtest.Run(ctx, plan)) works too (Gomega
// then requires the error to be nil).
package sbmatchers

import (
	"fmt"
	"strings"

	"github.com/splitbrain-dev/splitbrain/sbtest"
)

// Pass succeeds when the run's overall verdict is pass: every invariant passed or had
// nothing to judge.
func Pass() *ResultMatcher {
	return &ResultMatcher{
		desc: "pass",
		match: func(r *sbtest.Result) (bool, string, error) {
			return r.Verdict == sbtest.Pass, fmt.Sprintf("its verdict is %s", r.Verdict), nil
		},
	}
}

// HaveVerdict succeeds when the run's overall verdict is v.
func HaveVerdict(v sbtest.Verdict) *ResultMatcher {
	return &ResultMatcher{
		desc: fmt.Sprintf("have verdict %s", v),
		match: func(r *sbtest.Result) (bool, string, error) {
			return r.Verdict == v, fmt.Sprintf("its verdict is %s", r.Verdict), nil
		},
	}
}

// HoldInvariant succeeds when the invariant called name passed (in a conformance run: in
// every case). An invariant that was not judged does not hold: "not judged" is never a pass.
// An unknown name is an error, which names the known ones.
func HoldInvariant(name string) *ResultMatcher {
	return invariantMatcher(name, "hold invariant "+name, sbtest.Pass)
}

// FailInvariant succeeds when the invariant called name failed (in a conformance run: in
// some case). An unknown name is an error, which names the known ones.
func FailInvariant(name string) *ResultMatcher {
	return invariantMatcher(name, "fail invariant "+name, sbtest.Fail)
}

func invariantMatcher(name, desc string, want sbtest.Verdict) *ResultMatcher {
	return &ResultMatcher{
		desc: desc,
		match: func(r *sbtest.Result) (bool, string, error) {
			inv, ok := r.Invariant(name)
			if !ok {
				return false, "", fmt.Errorf("the result has no invariant %q: choose from %s", name, strings.Join(r.InvariantNames(), ", "))
			}
			where := ""
			if inv.Case != "" {
				where = " (case " + inv.Case + ")"
			}
			return inv.Verdict == want, fmt.Sprintf("%s is %s%s: %s", name, inv.Verdict, where, inv.Reason), nil
		},
	}
}

// ResultMatcher is a Gomega matcher over an sbtest.Result (types.GomegaMatcher).
type ResultMatcher struct {
	desc  string
	match func(*sbtest.Result) (ok bool, why string, err error)
	why   string // from the last Match, for the messages
}

// Match implements types.GomegaMatcher.
func (m *ResultMatcher) Match(actual any) (bool, error) {
	r, err := result(actual)
	if err != nil {
		return false, fmt.Errorf("%s: %w", m.desc, err)
	}
	ok, why, err := m.match(r)
	m.why = why
	return ok, err
}

// FailureMessage implements types.GomegaMatcher.
func (m *ResultMatcher) FailureMessage(actual any) string {
	return m.message(actual, "to")
}

// NegatedFailureMessage implements types.GomegaMatcher.
func (m *ResultMatcher) NegatedFailureMessage(actual any) string {
	return m.message(actual, "not to")
}

func (m *ResultMatcher) message(actual any, to string) string {
	r, err := result(actual)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("Expected the splitbrain run %s %s, but %s.\n\n%s", to, m.desc, m.why, strings.TrimRight(r.String(), "\n"))
}

func result(actual any) (*sbtest.Result, error) {
	switch r := actual.(type) {
	case *sbtest.Result:
		if r == nil {
			return nil, fmt.Errorf("expected an *sbtest.Result, got a nil one (did the run return an error?)")
		}
		return r, nil
	case sbtest.Result:
		return &r, nil
	}
	return nil, fmt.Errorf("expected an *sbtest.Result, got %T", actual)
}
