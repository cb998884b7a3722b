// Package syscalls_test holds the specs of the syscall oracle (--syscalls) and of steering at
// syscalls (explore --mode syscalls, run --faults hold-at-syscall): real peers run through
// the splitbrain CLI under seccomp user notification, a split brain of about 1 ms caught
// exactly where sampling misses it, black-box peers in Python, Node and Go steered into a
// split brain of a few syscalls that replays exactly, the reference never flagged, steering
// as uid 65534, and the fallback where the kernel forbids it.
//
// Run: go test ./specs/syscalls/...  (python3 must be on PATH, else the specs say so and
// are skipped; without seccomp user notification the exact specs are skipped and say why).
// SPLITBRAIN_BIN=/path/to/splitbrain uses a prebuilt binary.
package syscalls_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/internal/specbin"
)

// bin is the splitbrain binary under test; python the interpreter itself (not a pyenv
// wrapper script, which forks a dozen processes at each start); peer the 1 ms split brain.
var bin, python, peer string

var cleanupBin = func() {}

func TestSyscalls(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "splitbrain syscall oracle (real peers)")
}

var _ = SynchronizedBeforeSuite(func() []byte {
	b, cleanup, err := specbin.Build()
	Expect(err).NotTo(HaveOccurred(), "build cmd/splitbrain")
	cleanupBin = cleanup
	return []byte(b)
}, func(b []byte) {
	bin = string(b)
	p, err := filepath.Abs(filepath.Join("testdata", "listen_first.py"))
	Expect(err).NotTo(HaveOccurred())
	peer = p
	if out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output(); err == nil {
		python = strings.TrimSpace(string(out))
	}
	SetDefaultEventuallyTimeout(2 * time.Minute)
})

var _ = SynchronizedAfterSuite(func() {}, func() { cleanupBin() })
