package harness_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// helperEnv names the helper the re-executed test binary runs; helperArgEnv its argument,
// "NETWORK!ADDRESS" (unix!/tmp/x.sock, tcp4!127.0.0.1:0, tcp6![::1]:7000).
const (
	helperEnv    = "SPLITBRAIN_HARNESS_SPECS_HELPER"
	helperArgEnv = "SPLITBRAIN_HARNESS_SPECS_ARG"
)

// runHelper runs the named helper: "listen" listens (and accepts forever), "dial" connects.
// Either prints "ready INODE ADDR" once its socket exists, then holds it until SIGTERM.
// A unix listener keeps its file when it exits: the specs unlink paths by hand.
func runHelper(name, arg string) int {
	network, address, _ := strings.Cut(arg, "!")
	var (
		sock syscall.Conn
		addr string
	)
	switch name {
	case "listen":
		l, err := net.Listen(network, address)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		if ul, ok := l.(*net.UnixListener); ok {
			ul.SetUnlinkOnClose(false)
		}
		go func() {
			var held []net.Conn // keep accepted sockets open for the kernel to see
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				held = append(held, c)
			}
		}()
		sock, addr = l.(syscall.Conn), l.Addr().String()
	case "dial":
		c, err := net.Dial(network, address)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer c.Close()
		sock, addr = c.(syscall.Conn), c.LocalAddr().String()
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", name)
		return 2
	}
	ino, err := kernel.Inode(sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if addr == "" {
		addr = "-" // an unbound unix client has no name
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	fmt.Printf("ready %d %s\n", ino, addr)
	<-sig
	return 0
}

// holder is a helper process holding one socket.
type holder struct {
	PID   int
	Inode uint64
	Addr  string // the listener's address, or the client's local address
}

// hold starts the test binary as helper name on arg ("NETWORK!ADDRESS"), waits until its
// socket exists, and stops it (SIGTERM, then SIGKILL) when the spec ends.
func hold(name, arg string) holder {
	GinkgoHelper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+name, helperArgEnv+"="+arg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		s.Terminate()
		Eventually(s).Should(gexec.Exit())
	})
	Eventually(s.Out).Should(gbytes.Say(`ready \d+ \S+\n`), "helper %s %s", name, arg)
	var h holder
	fields := strings.Fields(string(s.Out.Contents()))
	Expect(fields).To(HaveLen(3))
	h.Inode, err = strconv.ParseUint(fields[1], 10, 64)
	Expect(err).NotTo(HaveOccurred())
	h.PID, h.Addr = s.Command.Process.Pid, fields[2]
	return h
}

// tempDir returns a new short directory (socket paths are limited to 107 bytes), removed
// when the spec ends.
func tempDir() string {
	GinkgoHelper()
	dir, err := os.MkdirTemp("", "sbh")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	return dir
}
