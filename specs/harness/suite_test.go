// Package harness_test holds the behaviour specs of the splitbrain harness itself, with real
// processes, real sockets and the real kernel: the kernel observer against listeners made by
// hand (orphans, IPv4/IPv6 pairs), the checkers against hand-made histories, the report
// files, and the harness's own bounds against a peer that floods its pipes.
//
// Run: go test ./specs/harness/   (or go run github.com/onsi/ginkgo/v2/ginkgo specs/harness)
// SPLITBRAIN_BIN=/path/to/splitbrain uses a prebuilt binary instead of building cmd/splitbrain.
package harness_test

import (
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/internal/specbin"
)

// splitbrainBin is the splitbrain binary the CLI specs run.
var splitbrainBin string

// cleanupBin removes the build of splitbrainBin; set on process 1 only.
var cleanupBin = func() {}

func TestMain(m *testing.M) {
	// The test binary doubles as a socket holder (see helper_test.go).
	if name := os.Getenv(helperEnv); name != "" {
		os.Exit(runHelper(name, os.Getenv(helperArgEnv)))
	}
	os.Exit(m.Run())
}

func TestHarness(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Harness behaviour (real processes)")
}

var _ = SynchronizedBeforeSuite(func() []byte {
	bin, cleanup, err := specbin.Build()
	Expect(err).NotTo(HaveOccurred(), "build cmd/splitbrain")
	cleanupBin = cleanup
	return []byte(bin)
}, func(bin []byte) {
	splitbrainBin = string(bin)
	// The bounds are for a loaded 2-core machine; the conditions are met in milliseconds.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(10 * time.Millisecond)
})

var _ = SynchronizedAfterSuite(func() {}, func() { cleanupBin() })
