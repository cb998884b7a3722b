// Package verdicts_test holds the specs of the harness's verdicts on peers the first release
// judged wrongly: each spec runs a real peer (Python, shell wrappers, Go) through the
// splitbrain CLI and expects the right verdict. The peers live in peers/python.
//
// Run: go test ./specs/verdicts/...  (python3 must be on PATH, else the specs say so and
// are skipped). SPLITBRAIN_BIN=/path/to/splitbrain uses a prebuilt binary.
package verdicts_test

import (
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/internal/specbin"
)

// bin is the splitbrain binary under test; pyPeer the Python election peer.
var bin, pyPeer string

var cleanupBin = func() {}

func TestVerdicts(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "splitbrain verdicts (real peers)")
}

var _ = SynchronizedBeforeSuite(func() []byte {
	b, cleanup, err := specbin.Build()
	Expect(err).NotTo(HaveOccurred(), "build cmd/splitbrain")
	cleanupBin = cleanup
	return []byte(b)
}, func(b []byte) {
	bin = string(b)
	p, err := filepath.Abs(filepath.Join("..", "..", "peers", "python", "flock_peer.py"))
	Expect(err).NotTo(HaveOccurred())
	pyPeer = p
	SetDefaultEventuallyTimeout(2 * time.Minute)
})

var _ = SynchronizedAfterSuite(func() {}, func() { cleanupBin() })
