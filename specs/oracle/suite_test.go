// Package oracle_test holds the behaviour specs of the judge itself ("trust, part 1 — the
// oracle"): peers that are wrong only in ways the white-box and transport checkers can see —
// a deaf leader, a deaf follower, a reused epoch, a port bound beyond loopback, a peer that
// ignores SIGTERM or crashes on it — each run through the CLI (`splitbrain run --impl ...`)
// and judged as it must be, while the reference peer keeps its verdicts.
//
// Run: go run github.com/onsi/ginkgo/v2/ginkgo specs/oracle   (or go test ./specs/oracle/...)
// About a minute and a half on 2 cores. SPLITBRAIN_BIN=/path/to/splitbrain uses a prebuilt
// binary instead of building cmd/splitbrain. The Python peers need python3 on PATH.
package oracle_test

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

func TestOracle(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "splitbrain oracle")
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
