// Package election_test holds the behaviour specs of the reference election library, run as
// real `splitbrain peer` processes under the peer protocol (docs/PROTOCOL.md) and judged
// from the kernel (/proc/net/unix, /proc/net/tcp, sock_diag) as well as from their events.
//
// Run: go run github.com/onsi/ginkgo/v2/ginkgo -r specs/election   (or go test ./specs/election/...)
// Skip the 50-process storms with --label-filter='!storm'. SPLITBRAIN_BIN=/path/to/splitbrain
// uses a prebuilt binary instead of building cmd/splitbrain.
package election_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

// sharedDir is a 0755 directory holding a 0755 copy of the splitbrain binary, so that a peer
// run as another uid (65534) can execute it; gexec builds into a 0700 directory.
var sharedDir string

// splitbrainBin is the splitbrain binary every peer runs as `splitbrain peer`.
var splitbrainBin string

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
	bin := os.Getenv("SPLITBRAIN_BIN")
	if bin == "" {
		var err error
		bin, err = gexec.Build("github.com/splitbrain-dev/splitbrain/cmd/splitbrain")
		Expect(err).NotTo(HaveOccurred(), "build cmd/splitbrain")
	}
	dir, err := os.MkdirTemp("", "sb-specs-bin-")
	Expect(err).NotTo(HaveOccurred())
	Expect(os.Chmod(dir, 0o755)).To(Succeed())
	Expect(copyFile(bin, filepath.Join(dir, "splitbrain"), 0o755)).To(Succeed())
	return []byte(dir)
}, func(dir []byte) {
	sharedDir = string(dir)
	splitbrainBin = filepath.Join(sharedDir, "splitbrain")
	// Failover and handshakes take milliseconds; the bound is for a loaded 2-core machine.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(20 * time.Millisecond)
	SetDefaultConsistentlyDuration(500 * time.Millisecond)
	SetDefaultConsistentlyPollingInterval(20 * time.Millisecond)
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	gexec.CleanupBuildArtifacts()
})

func copyFile(from, to string, mode os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(to, mode)
}
