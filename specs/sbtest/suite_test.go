// Package sbtest_test holds the behaviour specs of the Go API for users' tests (package
// sbtest and its Gomega matchers): the reference peer and a canary, each run as a Go function
// in the re-executed test binary, and the conformance suite against a command line, all
// judged by the CLI's engine and judge, with real processes.
//
// Run: go test ./specs/sbtest/   (about 40 s on 2 cores)
package sbtest_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/internal/specbin"
	"github.com/splitbrain-dev/splitbrain/sbtest"
)

// TestMain dispatches to the Go peers when the harness re-executes this binary as a peer.
func TestMain(m *testing.M) { sbtest.Main(m) }

func TestSbtest(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Go API for users' tests (sbtest)")
}

// splitbrain is the built binary, for the command-line peer; built once.
var splitbrain string

// cleanupBin removes the build of splitbrain; set on process 1 only.
var cleanupBin = func() {}

var _ = SynchronizedBeforeSuite(func() []byte {
	bin, cleanup, err := specbin.Build()
	Expect(err).NotTo(HaveOccurred())
	cleanupBin = cleanup
	return []byte(bin)
}, func(bin []byte) {
	splitbrain = string(bin)
})

var _ = SynchronizedAfterSuite(func() {}, func() { cleanupBin() })
