package syscalls

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Environment of the shim. Both are removed before the peer is exec'd.
const (
	// EnvSocket is the supervisor's unix socket; set, with os.Args[1:3] = "shim", "--",
	// it makes [ShimIfAsked] run the shim.
	EnvSocket = "SPLITBRAIN_SYSCALLS_SOCKET"
	// envProbe makes the shim unlink the named path instead of exec'ing: [Available]'s probe.
	envProbe = "SPLITBRAIN_SYSCALLS_PROBE"
	// envPeer is the protocol's peer id variable, sent to the supervisor with the fd.
	envPeer = "SPLITBRAIN_PEER"
)

// ShimIfAsked runs the shim and never returns when this process was started by
// [Supervisor.Wrap]; otherwise it returns at once. Call it first thing in main (and in
// TestMain of a test binary that starts wrapped peers). The shim exits 127 with a message on
// stderr when it cannot hand over the filter or exec the peer.
func ShimIfAsked() {
	shimReady.Store(true)
	sock := os.Getenv(EnvSocket)
	if sock == "" || len(os.Args) < 3 || os.Args[1] != "shim" || os.Args[2] != "--" {
		return
	}
	err := shim(sock, os.Args[3:])
	fmt.Fprintf(os.Stderr, "splitbrain shim: %v\n", err)
	os.Exit(127)
}

// shimReady is set once this program has called ShimIfAsked: only then may it start itself
// as a shim (a program that never calls it would run its own main again, with "shim" as an
// argument; a test binary would run its tests again).
var shimReady atomic.Bool

// CanShim reports whether this program called [ShimIfAsked], so that it can be the shim of
// the peers it starts.
func CanShim() bool { return shimReady.Load() }

// shim installs the filter on this thread, hands its listener to the supervisor, waits for
// the supervisor's ack (from then on every filtered call has someone to answer it), and
// execs argv from the same thread.
func shim(sock string, argv []string) error {
	runtime.LockOSThread() // never unlocked: the filter is this thread's
	probe := os.Getenv(envProbe)
	os.Unsetenv(EnvSocket)
	os.Unsetenv(envProbe)
	var prog string
	if probe == "" {
		if len(argv) == 0 {
			return errors.New("no command after 'shim --'")
		}
		var err error
		if prog, err = exec.LookPath(argv[0]); err != nil {
			return err
		}
	}
	// Connect before the filter is in: connect is one of the filtered calls.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
		return fmt.Errorf("connect to the supervisor at %s: %w", sock, err)
	}
	nfd, err := install()
	if err != nil {
		return err
	}
	if err := unix.Sendmsg(fd, []byte(os.Getenv(envPeer)), unix.UnixRights(nfd), nil, 0); err != nil {
		return fmt.Errorf("send the notification fd: %w", err)
	}
	unix.Close(nfd)
	var ack [1]byte
	if n, err := unix.Read(fd, ack[:]); n != 1 {
		return fmt.Errorf("the supervisor did not take the notification fd (read: %v)", err)
	}
	unix.Close(fd)
	if probe != "" {
		if err := unix.Unlink(probe); err != nil && err != unix.ENOENT {
			return fmt.Errorf("probe unlink: %w", err)
		}
		os.Exit(0)
	}
	return syscall.Exec(prog, argv, os.Environ())
}
