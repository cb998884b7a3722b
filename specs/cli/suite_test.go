// Package cli_test holds the behaviour specs of the splitbrain command line: exit codes, the
// result folder, `splitbrain check`, replay, and interruption, against the reference peer,
// the canaries (`splitbrain peer --impl NAME`) and peers that never lead.
//
// Run: go run github.com/onsi/ginkgo/v2/ginkgo specs/cli   (or go test ./specs/cli/...)
// The canary, replay and signal specs are Label("slow") (about a minute together on 2
// cores); skip them with --label-filter='!slow'. SPLITBRAIN_BIN=/path/to/splitbrain uses a
// prebuilt binary instead of building cmd/splitbrain.
package cli_test

import (
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/internal/specbin"
)

// bin is the splitbrain binary under test.
var bin string

// cleanupBin removes the build of bin; set on process 1 only.
var cleanupBin = func() {}

func TestCLI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "splitbrain CLI")
}

var _ = SynchronizedBeforeSuite(func() []byte {
	b, cleanup, err := specbin.Build()
	Expect(err).NotTo(HaveOccurred(), "build cmd/splitbrain")
	cleanupBin = cleanup
	return []byte(b)
}, func(b []byte) {
	bin = string(b)
	SetDefaultEventuallyTimeout(90 * time.Second)
	SetDefaultEventuallyPollingInterval(50 * time.Millisecond)
})

var _ = SynchronizedAfterSuite(func() {}, func() { cleanupBin() })
