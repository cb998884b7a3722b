package syscalls_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
)

// helperEnv names the helper a re-executed test binary runs (the os/exec way).
const helperEnv = "SYSCALLS_TEST_HELPER"

func TestMain(m *testing.M) {
	syscalls.ShimIfAsked()
	if h := os.Getenv(helperEnv); h != "" {
		helpers[h]()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var helpers = map[string]func(){
	// leader: unlink an unrelated file, then the address, bind, listen, wait for stdin EOF.
	"leader": func() {
		addr := os.Getenv("SPLITBRAIN_ADDR")
		_ = unix.Unlink(os.Getenv("UNRELATED"))
		_ = unix.Unlink(addr)
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		must(err)
		must(unix.Bind(fd, &unix.SockaddrUnix{Name: addr}))
		must(unix.Listen(fd, 8))
		fmt.Println("listening")
		var b [1]byte
		os.Stdin.Read(b[:])
	},
	// loop: unlink LOOP_PATH (absent) LOOP_N times and print the nanoseconds per call.
	"loop": func() {
		n, _ := strconv.Atoi(os.Getenv("LOOP_N"))
		path := os.Getenv("LOOP_PATH")
		t0 := time.Now()
		for range n {
			_ = unix.Unlink(path)
		}
		fmt.Println(float64(time.Since(t0).Nanoseconds()) / float64(max(n, 1)))
	},
	// unlinker: unlink the address, then say so.
	"unlinker": func() {
		err := unix.Unlink(os.Getenv("SPLITBRAIN_ADDR"))
		fmt.Println("unlinked", err)
	},
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

// start runs argv wrapped by s in its own process group; the cleanup kills the group.
func start(t *testing.T, s *syscalls.Supervisor, env []string, argv ...string) (*exec.Cmd, *buffer) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	w := s.Wrap(exe, argv)
	cmd := exec.Command(w[0], w[1:]...)
	cmd.Env = append(append(os.Environ(), s.Env()...), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out := &buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
		_ = cmd.Wait()
	})
	return cmd, out
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// buffer is a strings.Builder safe for the writer goroutines of exec.Cmd.
type buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// seen is what a test keeps of a Call (a Call itself holds state not to be copied).
type seen struct {
	Name, Phase, Peer, Path, Addr, Result string
	PID                                   int
	Key                                   bool
	Connect                               error // listen: dialing the address while held
}

type calls struct {
	mu  sync.Mutex
	got []seen
}

func (c *calls) add(call *syscalls.Call, connect error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, seen{Name: call.Name, Phase: call.Phase, PID: call.PID, Peer: call.Peer,
		Path: call.Path, Addr: call.Addr, Key: call.Key, Result: call.Result, Connect: connect})
}

// find returns the first call named name (or name+"at": Go unlinks with unlinkat) in phase.
func (c *calls) find(name, phase string) (seen, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range c.got {
		if (x.Name == name || x.Name == name+"at") && x.Phase == phase {
			return x, true
		}
	}
	return seen{}, false
}

func setup(t *testing.T, onCall func(*syscalls.Call)) (*syscalls.Supervisor, string) {
	t.Helper()
	if err := syscalls.Available(mustExe(t)); err != nil {
		t.Skip(err)
	}
	addr := filepath.Join(t.TempDir(), "sock")
	s, err := syscalls.Start(syscalls.Config{Addr: addr, OnCall: onCall})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, addr
}

func mustExe(t testing.TB) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func TestKernelStructSizes(t *testing.T) {
	// The ioctl numbers encode the size the kernel expects: 0x50 and 0x18.
	if got, want := unix.SECCOMP_IOCTL_NOTIF_RECV>>16&0x3fff, 0x50; got != want {
		t.Fatalf("NOTIF_RECV size %#x, want %#x", got, want)
	}
	var n struct {
		ID    uint64
		PID   uint32
		Flags uint32
		Data  struct {
			Nr   int32
			Arch uint32
			IP   uint64
			Args [6]uint64
		}
	}
	if unsafe.Sizeof(n) != 0x50 {
		t.Fatalf("seccomp_notif is %d bytes", unsafe.Sizeof(n))
	}
}

// A grandchild behind sh -c is watched: its unlink, bind and listen on the address are
// reported with its own pid, listen after it took effect (a client can connect while the
// caller is held); the unrelated unlink is not reported.
func TestWatchesGrandchildBehindShell(t *testing.T) {
	var got calls
	s, addr := setup(t, func(c *syscalls.Call) {
		var err error
		if c.Name == "listen" {
			var conn net.Conn
			if conn, err = net.Dial("unix", c.Addr); err == nil {
				conn.Close()
			}
		}
		got.add(c, err)
	})
	unrelated := filepath.Join(t.TempDir(), "other")
	must(os.WriteFile(unrelated, nil, 0o644))
	exe := mustExe(t)
	// "; true" keeps sh from exec'ing its last command: the helper is sh's child.
	cmd, out := start(t, s, []string{helperEnv + "=leader", "SPLITBRAIN_ADDR=" + addr,
		"UNRELATED=" + unrelated, "SPLITBRAIN_PEER=p1"}, "sh", "-c", `"$0"; true`, exe)
	eventually(t, "the helper to listen", func() bool { return strings.Contains(out.String(), "listening") })

	ln, ok := got.find("listen", syscalls.After)
	if !ok {
		t.Fatalf("no listen reported; got %+v", got.got)
	}
	if ln.PID == cmd.Process.Pid {
		t.Fatalf("listen reported for the shell (pid %d), not its child", ln.PID)
	}
	if !ln.Key || ln.Phase != syscalls.After || ln.Result != "ok" || ln.Peer != "p1" || ln.Addr != addr {
		t.Fatalf("listen reported as %+v", ln)
	}
	if ln.Connect != nil {
		t.Fatalf("connect to the held listener: %v", ln.Connect)
	}
	for _, name := range []string{"unlink", "bind"} {
		c, ok := got.find(name, syscalls.Before)
		if !ok {
			t.Fatalf("no %s reported; got %+v", name, got.got)
		}
		if c.PID != ln.PID || c.Phase != syscalls.Before {
			t.Fatalf("%s reported as %+v", name, c)
		}
		if name == "unlink" && (c.Path != addr || !c.Key) {
			t.Fatalf("unlink reported as %+v", c)
		}
	}
	got.mu.Lock()
	defer got.mu.Unlock()
	for _, c := range got.got {
		if c.Path == unrelated {
			t.Fatalf("the unrelated unlink was reported: %+v", c)
		}
	}
	if _, err := os.Stat(unrelated); !os.IsNotExist(err) {
		t.Fatalf("the unrelated unlink did not happen: %v", err)
	}
	if st := s.Stats(); st.Notified <= st.Relevant || st.Peers != 1 {
		t.Fatalf("stats %+v: want more notified than relevant calls, one peer", st)
	}
}

// A held call does not happen until it is let go; a caller killed while held never makes it.
func TestHoldAndKill(t *testing.T) {
	held := make(chan *syscalls.Call, 1)
	release := make(chan struct{})
	s, addr := setup(t, func(c *syscalls.Call) {
		if c.Key && c.Phase == syscalls.Before {
			held <- c
			<-release
		}
	})
	must(os.WriteFile(addr, []byte("x"), 0o644))
	cmd, out := start(t, s, []string{helperEnv + "=unlinker", "SPLITBRAIN_ADDR=" + addr}, mustExe(t))
	var c *syscalls.Call
	select {
	case c = <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the unlink was never held")
	}
	if c.Name != "unlink" && c.Name != "unlinkat" {
		t.Fatalf("held %s", c)
	}
	if c.Peer != os.Getenv("SPLITBRAIN_PEER") {
		t.Fatalf("peer id %q, want the environment's %q", c.Peer, os.Getenv("SPLITBRAIN_PEER"))
	}
	if _, err := os.Stat(addr); err != nil {
		t.Fatalf("the held unlink happened: %v", err)
	}
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	close(release)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the held caller ended with %v, want SIGKILL; output %q", err, out.String())
	}
	if _, err := os.Stat(addr); err != nil {
		t.Fatalf("the killed caller's unlink happened: %v", err)
	}
}

// A held call goes on once let go.
func TestHoldThenRelease(t *testing.T) {
	held := make(chan struct{})
	release := make(chan struct{})
	s, addr := setup(t, func(c *syscalls.Call) {
		if c.Key && c.Phase == syscalls.Before {
			close(held)
			<-release
		}
	})
	must(os.WriteFile(addr, []byte("x"), 0o644))
	cmd, out := start(t, s, []string{helperEnv + "=unlinker", "SPLITBRAIN_ADDR=" + addr}, mustExe(t))
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the unlink was never held")
	}
	if _, err := os.Stat(addr); err != nil {
		t.Fatalf("unlinked before release: %v", err)
	}
	close(release)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v %q", err, out.String())
	}
	if !strings.Contains(out.String(), "unlinked <nil>") {
		t.Fatalf("helper said %q", out.String())
	}
}

func TestUnavailableHook(t *testing.T) {
	t.Setenv(syscalls.EnvUnavailable, "simulated")
	err := syscalls.Available(mustExe(t))
	if !errors.Is(err, syscalls.ErrUnavailable) || !strings.Contains(err.Error(), "simulated") {
		t.Fatalf("Available = %v, want ErrUnavailable saying why", err)
	}
}

// An unlink of the address is made by the supervisor: OnCall sees it Before with the file
// there, then After with the file gone while the caller still waits, and the caller gets the
// result as its own.
func TestUnlinkMadeForTheCaller(t *testing.T) {
	var mu sync.Mutex
	var phases []string
	s, addr := setup(t, func(c *syscalls.Call) {
		if !c.Key {
			return
		}
		_, err := os.Stat(c.Path)
		mu.Lock()
		phases = append(phases, fmt.Sprintf("%s made=%v exists=%v result=%q", c.Phase, c.Made, err == nil, c.Result))
		mu.Unlock()
	})
	must(os.WriteFile(addr, []byte("x"), 0o644))
	cmd, out := start(t, s, []string{helperEnv + "=unlinker", "SPLITBRAIN_ADDR=" + addr}, mustExe(t))
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v %q", err, out.String())
	}
	if !strings.Contains(out.String(), "unlinked <nil>") {
		t.Fatalf("helper said %q", out.String())
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{`before made=true exists=true result=""`, `after made=true exists=false result="ok"`}
	if strings.Join(phases, "|") != strings.Join(want, "|") {
		t.Fatalf("OnCall saw %q, want %q", phases, want)
	}
}
