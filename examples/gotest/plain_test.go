package gotest_test

import (
	"testing"

	"github.com/splitbrain-dev/splitbrain/sbtest"
)

// Plain testing: sbtest.Check fails the test with the verdict table, the evidence, the
// replay command and the result folder unless every invariant holds.
func TestReferenceConformance(t *testing.T) {
	sbtest.Check(t, sbtest.Conformance{
		Peer:  referencePeer,
		Size:  sbtest.SizeQuick,
		Cases: []string{"leader-kills", "stale-socket"}, // or none, for the whole suite
	})
}
