// Package conformance_test holds the behaviour specs of the CI entry points: `splitbrain
// conformance` (the versioned suite, its shards and its JUnit report), `splitbrain merge`, and
// `splitbrain check` on result folders that are incomplete or hand-edited. They run the real
// binary against real peers: the reference peer must pass the CI-size suite, split in two
// shards run at once, and the probe-unlink canary must be caught.
//
// Run: go test ./specs/conformance/   (about 30 s on 2 cores)
package conformance_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/internal/specbin"
)

func TestConformance(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Conformance suite, merge and check (CLI)")
}

// splitbrain is the built binary; this suite always builds it, ignoring $SPLITBRAIN_BIN.
var splitbrain string

// cleanupBin removes the build of splitbrain; set on process 1 only.
var cleanupBin = func() {}

var _ = SynchronizedBeforeSuite(func() []byte {
	bin, cleanup, err := specbin.BuildPackage(specbin.CmdPath)
	Expect(err).NotTo(HaveOccurred())
	cleanupBin = cleanup
	return []byte(bin)
}, func(bin []byte) {
	splitbrain = string(bin)
})

var _ = SynchronizedAfterSuite(func() {}, func() { cleanupBin() })
