// Package election_test holds the behaviour specs of the reference election library, run as
// real `splitbrain peer` processes under the peer protocol (docs/PROTOCOL.md) and judged
// from the kernel (/proc/net/unix, /proc/net/tcp, sock_diag) as well as from their events.
//
// Run: go run github.com/onsi/ginkgo/v2/ginkgo -r specs/election   (or go test ./specs/election/...)
// Skip the 50-process storms with --label-filter='!storm'. SPLITBRAIN_BIN=/path/to/splitbrain
// uses a prebuilt binary instead of building cmd/splitbrain.
package election_test

import (
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/internal/specbin"
)

// splitbrainBin is the splitbrain binary every peer runs as `splitbrain peer`: a 0755 copy in
// a 0755 directory (specbin.Shared), so that a peer run as another uid (65534) can execute it.
var splitbrainBin string

// cleanupBin removes the build and the shared copy; set on process 1 only.
var cleanupBin = func() {}

func TestMain(m *testing.M) {
	// The test binary doubles as a tiny raw client (see helper_test.go), re-executed as
	// another uid by the foreign-uid specs.
	if name := os.Getenv(helperEnv); name != "" {
		os.Exit(runHelper(name))
	}
	os.Exit(m.Run())
}

func TestElection(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Election behaviour (real processes)")
}

var _ = SynchronizedBeforeSuite(func() []byte {
	bin, cleanBuild, err := specbin.Build()
	Expect(err).NotTo(HaveOccurred(), "build cmd/splitbrain")
	cleanupBin = cleanBuild
	shared, cleanShared, err := specbin.Shared(bin)
	Expect(err).NotTo(HaveOccurred())
	cleanupBin = func() { cleanShared(); cleanBuild() }
	return []byte(shared)
}, func(shared []byte) {
	splitbrainBin = string(shared)
	// Failover and handshakes take milliseconds; the bound is for a loaded 2-core machine.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	SetDefaultConsistentlyDuration(500 * time.Millisecond)
	SetDefaultConsistentlyPollingInterval(20 * time.Millisecond)
})

var _ = SynchronizedAfterSuite(func() {}, func() { cleanupBin() })
