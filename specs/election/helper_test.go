package election_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/internal/specbin"
)

// helperEnv names the helper the test binary runs instead of the specs (see TestMain).
const helperEnv = "SPLITBRAIN_SPECS_HELPER"

// dialResult is what the "dial" helper prints: what a raw client saw at a unix socket.
type dialResult struct {
	DialError string `json:"dial_error,omitempty"`
	Received  []byte `json:"received"`   // every byte the listener sent before closing
	Closed    bool   `json:"closed"`     // the listener closed the connection (EOF or reset)
	ReadError string `json:"read_error"` // why reading stopped
}

// runHelper runs the named helper and returns the exit status.
func runHelper(name string) int {
	switch name {
	case "dial":
		// Connect to $SPLITBRAIN_SPECS_PATH, send nothing, read until the other side closes
		// or 10 s pass, and print what happened.
		var r dialResult
		c, err := net.Dial("unix", os.Getenv("SPLITBRAIN_SPECS_PATH"))
		if err != nil {
			r.DialError = err.Error()
		} else {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			r.Received, err = io.ReadAll(c)
			r.Closed = err == nil || errors.Is(err, syscall.ECONNRESET)
			if err != nil {
				r.ReadError = err.Error()
			}
			c.Close()
		}
		json.NewEncoder(os.Stdout).Encode(r)
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
	return 2
}

// dialAs runs the "dial" helper at path as uid and returns what it saw.
func dialAs(uid int, path string) dialResult {
	GinkgoHelper()
	self, err := os.Executable()
	Expect(err).NotTo(HaveOccurred())
	// The test binary lives in a 0700 build directory: give the other uid its own copy.
	bin := filepath.Join(tempDir(0o755), "helper")
	Expect(specbin.CopyFile(self, bin, 0o755)).To(Succeed())
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), helperEnv+"=dial", "SPLITBRAIN_SPECS_PATH="+path)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}},
	}
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		s.Kill()
		Eventually(s).Should(gexec.Exit())
	})
	Eventually(s, 20*time.Second).Should(gexec.Exit(0))
	var r dialResult
	Expect(json.Unmarshal(s.Out.Contents(), &r)).To(Succeed())
	return r
}
