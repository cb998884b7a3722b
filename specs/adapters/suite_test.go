// Package adapters_test holds the behaviour specs of what users put in their own pipelines:
// the peer adapters in examples/adapters (a Node.js module and a Python module whose example
// peers run a correct election, and a --broken probe-then-unlink variant the harness must
// catch), run under `splitbrain run` with real interpreters; and the GitHub Action's scripts
// (ci/action) on a real conformance result folder, with a fake $GITHUB_STEP_SUMMARY and
// $GITHUB_OUTPUT: the spec runs action.yml's steps as a runner runs a composite action.
//
// Run: go test ./specs/adapters/   (about 60 s on 2 cores; needs node and python3, else the
// adapter specs are skipped, saying so). Labels: "adapters" (the example peers under the
// harness, about 50 s), "action" (the GitHub Action, about 10 s).
package adapters_test

import (
	"os/exec"
	"path/filepath"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/internal/specbin"
)

func TestAdapters(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Peer adapters and the GitHub Action")
}

var (
	// splitbrain is the binary under test.
	splitbrain string
	// root is the repository's root, absolute.
	root string
)

// cleanupBin removes the build of splitbrain; set on process 1 only.
var cleanupBin = func() {}

var _ = SynchronizedBeforeSuite(func() []byte {
	bin, cleanup, err := specbin.Build()
	Expect(err).NotTo(HaveOccurred())
	cleanupBin = cleanup
	return []byte(bin)
}, func(bin []byte) {
	splitbrain = string(bin)
	var err error
	root, err = filepath.Abs("../..")
	Expect(err).NotTo(HaveOccurred())
})

var _ = SynchronizedAfterSuite(func() {}, func() { cleanupBin() })

// need skips the spec when the program is not installed.
func need(program, install string) string {
	p, err := exec.LookPath(program)
	if err != nil {
		Skip(program + " is not installed (" + install + ")")
	}
	return p
}
