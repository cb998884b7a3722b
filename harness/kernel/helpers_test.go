package kernel

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// envHelper names the helper command a re-executed test binary runs; envArg its argument.
const (
	envHelper = "KERNEL_TEST_HELPER"
	envArg    = "KERNEL_TEST_ARG"
)

// helpers are the commands a child (this test binary, re-executed) can run. Each prints
// "ready <inode>" once its socket exists, then holds it until stdin closes.
var helpers = map[string]func(arg string) (uint64, error){
	"listen-unix": func(path string) (uint64, error) {
		l, err := net.Listen("unix", path)
		if err != nil {
			return 0, err
		}
		hold(l)
		go acceptForever(l)
		return Inode(l.(syscall.Conn))
	},
	"dial": func(addr string) (uint64, error) {
		network, address, _ := strings.Cut(addr, "!")
		c, err := net.Dial(network, address)
		if err != nil {
			return 0, err
		}
		hold(c)
		return Inode(c.(syscall.Conn))
	},
}

func TestMain(m *testing.M) {
	if name := os.Getenv(envHelper); name != "" {
		ino, err := helpers[name](os.Getenv(envArg))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("ready %d\n", ino)
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func acceptForever(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		hold(c)
	}
}

var (
	heldMu sync.Mutex
	held   []any
)

// hold keeps a socket reachable, so no finalizer closes it, until the process exits.
func hold(s any) {
	heldMu.Lock()
	defer heldMu.Unlock()
	held = append(held, s)
}

// child is a helper process holding one socket.
type child struct {
	pid   int
	inode uint64
}

// startChild re-executes the test binary as helper name and waits until its socket
// exists. The child is killed and waited for when the test ends.
func startChild(t *testing.T, name, arg string) child {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+name, envArg+"="+arg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 10 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		var ino uint64
		if _, err := fmt.Sscanf(s, "ready %d", &ino); err != nil {
			t.Fatalf("helper %s said %q, want ready <inode>", name, s)
		}
		return child{pid: cmd.Process.Pid, inode: ino}
	case <-time.After(30 * time.Second):
		t.Fatalf("helper %s not ready after 30s", name)
		return child{}
	}
}

func mustInode(t testing.TB, c any) uint64 {
	t.Helper()
	ino, err := Inode(c.(syscall.Conn))
	if err != nil {
		t.Fatal(err)
	}
	return ino
}

// sockPath returns a fresh socket path short enough for sun_path.
func sockPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kern")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return filepath.Join(dir, "s.sock")
}

// listenUnix listens on path and keeps the file when closed: Go's default unlink on
// Close would delete a successor's file.
func listenUnix(t testing.TB, path string) *net.UnixListener {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// waitSnapshot takes snapshots until ok accepts one, or fails the test after 30s.
func waitSnapshot(t *testing.T, o *Observer, pids []int, ok func(Snapshot) bool) Snapshot {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := o.Snapshot(pids)
		if err != nil {
			t.Fatal(err)
		}
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within 30s; last snapshot: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func findListener(s Snapshot, ino uint64) (Listener, bool) {
	i := slices.IndexFunc(s.Listeners, func(l Listener) bool { return l.Inode == ino })
	if i < 0 {
		return Listener{}, false
	}
	return s.Listeners[i], true
}

func findConn(s Snapshot, client uint64) (Conn, bool) {
	i := slices.IndexFunc(s.Conns, func(c Conn) bool { return c.ClientInode == client })
	if i < 0 {
		return Conn{}, false
	}
	return s.Conns[i], true
}

func self() []int { return []int{os.Getpid()} }
