package gotest_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/sbtest"
)

// TestMain runs the tests, or, when the harness re-executes this binary as a peer, the peer.
func TestMain(m *testing.M) { sbtest.Main(m) }

func TestGotest(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Election code under splitbrain")
}
