// Package chaos_test holds the proof that property-based exploration (package chaos) works:
// every canary is caught with a short, replayable counterexample within its budget, and the
// reference implementation survives a CI-size exploration. The specs are labelled "chaos".
//
// Run: go run github.com/onsi/ginkgo/v2/ginkgo -r --label-filter=chaos specs/chaos
// (or go test ./specs/chaos/...). SPLITBRAIN_BIN=/path/to/splitbrain runs the peers as
// `splitbrain peer`; otherwise the suite builds chaos/testdata/peer, the same peer program.
package chaos_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
	"github.com/splitbrain-dev/splitbrain/internal/specbin"
)

// peerCmd is the command line prefix of a peer; append "--impl NAME".
var peerCmd string

// cleanupBin removes the build of the peer; set on process 1 only.
var cleanupBin = func() {}

// TestMain lets this binary be the shim of peers steered at their syscalls (the committed
// CANARY.syscalls.json schedules are replayed in-process).
func TestMain(m *testing.M) {
	syscalls.ShimIfAsked()
	os.Exit(m.Run())
}

func TestChaos(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Chaos exploration (real processes)")
}

var _ = SynchronizedBeforeSuite(func() []byte {
	if bin := os.Getenv(specbin.EnvBin); bin != "" {
		return []byte(strconv.Quote(bin) + " peer")
	}
	bin, cleanup, err := specbin.BuildPackage("github.com/splitbrain-dev/splitbrain/chaos/testdata/peer")
	Expect(err).NotTo(HaveOccurred(), "build chaos/testdata/peer")
	cleanupBin = cleanup
	return []byte(strconv.Quote(bin))
}, func(cmd []byte) {
	peerCmd = string(cmd)
	SetDefaultEventuallyTimeout(30 * time.Second)
})

var _ = SynchronizedAfterSuite(func() {}, func() { cleanupBin() })
