package election_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/election"
	"golang.org/x/sys/unix"
)

// oneReachableListener waits until exactly one socket listens at path and the path names
// its inode (no orphan), and returns that inode.
func oneReachableListener(t *testing.T, path string) uint64 {
	t.Helper()
	var got []uint64
	var ino uint64
	eventually(t, "one reachable listener at "+path, func() bool {
		var err error
		if got, err = listeners(path); err != nil {
			t.Fatal(err)
		}
		// /proc/net/unix names a socket by the path it was bound to; a listener whose file
		// was removed or renamed away still shows that path: it is the orphan we look for.
		if len(got) != 1 {
			return false
		}
		c, err := net.Dial("unix", path)
		if err != nil {
			return false
		}
		c.Close()
		ino = got[0]
		return true
	})
	return ino
}

// leaderOf waits until one of rs leads an epoch above after, and returns it with the epoch.
func leaderAfter(t *testing.T, rs []*rec, after uint64) (*rec, uint64) {
	t.Helper()
	var leader *rec
	var epoch uint64
	eventually(t, fmt.Sprintf("a leader of an epoch above %d", after), func() bool {
		for _, r := range rs {
			for _, ev := range r.events() {
				if ev.Kind == election.Leader && ev.Epoch > after {
					leader, epoch = r, ev.Epoch
					return true
				}
			}
		}
		return false
	})
	return leader, epoch
}

// displacedLost waits for r's Lost event carrying ErrDisplaced for epoch and returns it.
func displacedLost(t *testing.T, r *rec, epoch uint64) election.Event {
	t.Helper()
	return r.wait(t, "lost (displaced)", func(ev election.Event) bool {
		return ev.Kind == election.Lost && ev.Epoch == epoch && errors.Is(ev.Err, election.ErrDisplaced)
	})
}

// TestLeaderResignsWhenDisplaced: whatever takes the path or the lock file from under a
// leader (its socket removed, replaced by another file, its directory renamed and made
// again, its lock file removed or replaced), the leader notices within about 100 ms,
// resigns, and one new leader listens at the path, reachable, at a greater epoch.
func TestLeaderResignsWhenDisplaced(t *testing.T) {
	cases := map[string]func(t *testing.T, path string){
		"socket-removed": func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		},
		"socket-replaced": func(t *testing.T, path string) {
			// What a program that unlinks before it binds does, minus the listen.
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			ln.SetUnlinkOnClose(false)
			ln.Close()
		},
		"directory-renamed": func(t *testing.T, path string) {
			dir := filepath.Dir(path)
			if err := os.Rename(dir, dir+".old"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(dir + ".old") })
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
		},
		"lock-removed": func(t *testing.T, path string) {
			if err := os.Remove(path + ".lock"); err != nil {
				t.Fatal(err)
			}
		},
		"lock-replaced": func(t *testing.T, path string) {
			if err := os.WriteFile(path+".new", nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(path+".new", path+".lock"); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, displace := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(shortDir(t), "d", "s")
			if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			rs := group(t, path, 3, election.Options{})
			leader := settled(t, rs, 1)
			oneReachableListener(t, path)
			t0 := time.Now()
			displace(t, path)
			ev := displacedLost(t, leader, 1)
			noticed := time.Since(t0)
			t.Logf("%s: the leader resigned after %v: %v", name, noticed, ev.Err)
			if noticed > 2*time.Second {
				t.Errorf("the leader took %v to notice; want about 100 ms", noticed)
			}
			next, epoch := leaderAfter(t, rs, 1)
			oneReachableListener(t, path)
			for _, r := range rs {
				if r != next {
					r.wait(t, "follower of the new leader", isKindEpoch(election.Follower, epoch))
				}
			}
			if n := next.count(isKind(election.Leader)); next == leader && n < 2 {
				t.Errorf("the displaced leader leads again without a new Leader event")
			}
		})
	}
}

// TestEpochsSurviveLostLockFile: the lock file holds the epoch; deleting it (again and
// again, with a newcomer that never saw the group joining each time) never makes an epoch
// repeat or go back.
func TestEpochsSurviveLostLockFile(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	rs := group(t, path, 3, election.Options{})
	settled(t, rs, 1)
	last := uint64(1)
	for round := 0; round < 4; round++ {
		if err := os.Remove(path + ".lock"); err != nil {
			t.Fatal(err)
		}
		o := election.Options{Address: path, ID: "new" + strconv.Itoa(round)}
		rs = append(rs, start(t, o))
		_, epoch := leaderAfter(t, rs, last)
		oneReachableListener(t, path)
		last = epoch
	}
	// Every Leader event any member saw, in the order it saw them, grows strictly.
	for _, r := range rs {
		var prev uint64
		for _, ev := range r.events() {
			if ev.Kind == election.Leader || ev.Kind == election.Follower {
				if ev.Epoch < prev {
					t.Errorf("%s saw epoch %d after %d: %v", r.e.ID(), ev.Epoch, prev, r.events())
				}
				prev = ev.Epoch
			}
		}
	}
	leaders := map[uint64]string{}
	for _, r := range rs {
		for _, ev := range r.events() {
			if ev.Kind == election.Leader {
				if other, ok := leaders[ev.Epoch]; ok {
					t.Errorf("epoch %d led twice: by %s and %s", ev.Epoch, other, r.e.ID())
				}
				leaders[ev.Epoch] = r.e.ID()
			}
		}
	}
	b, err := os.ReadFile(path + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	if stored, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); stored < last {
		t.Errorf("the lock file holds epoch %d; the last leader took %d", stored, last)
	}
}

// TestRetryBacksOff: a process that cannot open a descriptor (EMFILE) reports each failed
// attempt as a Retry event with its cause, pauses longer each time instead of spinning,
// and gives up with ErrTooManyRetries after MaxRetries.
func TestRetryBacksOff(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	// A leader is there, so the process must dial it (and cannot: no descriptor left).
	leader := start(t, election.Options{Address: path, ID: "leader"})
	leader.wait(t, "leader", isKind(election.Leader))
	cmd := helperCmd(t, "", "emfile", "ADDR="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	t.Logf("helper:\n%s", out)
	var stamps []int64
	var cpu, wall int64
	var run string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		switch f[0] {
		case "retry":
			if n, _ := strconv.Atoi(f[1]); n != len(stamps)+1 {
				t.Errorf("retry attempt %d after %d retries", n, len(stamps))
			}
			if !strings.Contains(line, "too many open files") {
				t.Errorf("retry without its cause: %s", line)
			}
			ns, _ := strconv.ParseInt(f[2], 10, 64)
			stamps = append(stamps, ns)
		case "run":
			run = line
		case "cpu":
			cpu, _ = strconv.ParseInt(f[1], 10, 64)
			wall, _ = strconv.ParseInt(f[2], 10, 64)
		}
	}
	if len(stamps) != 4 {
		t.Errorf("%d retry events; want 4 (MaxRetries)", len(stamps))
	}
	if !strings.Contains(run, "too-many=true") || !strings.Contains(run, "emfile=true") {
		t.Errorf("Run ended with %q; want ErrTooManyRetries wrapping EMFILE", run)
	}
	// The pauses grow: at least 10, 20, 40 ms between the four attempts (a loaded machine
	// only makes them longer).
	for i := 1; i < len(stamps); i++ {
		want := 10 * time.Millisecond << (i - 1)
		if gap := time.Duration(stamps[i] - stamps[i-1]); gap < want {
			t.Errorf("pause after attempt %d: %v; want at least %v", i, gap, want)
		}
	}
	if wall < int64(70*time.Millisecond) {
		t.Errorf("gave up after %v; the pauses alone are 10+20+40+80 ms", time.Duration(wall))
	}
	// Not spinning: most of that time asleep.
	if cpu > wall/2 {
		t.Errorf("used %v of CPU in %v: the loop spins", time.Duration(cpu), time.Duration(wall))
	}
}

// TestLockFileTightened: a lock file of ours that other users could open (and flock, to
// freeze the election) is made 0600; another user then cannot open it.
func TestLockFileTightened(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a child as uid 65534")
	}
	dir, bin := publicCopy(t)
	path := filepath.Join(dir, "s")
	if err := os.WriteFile(path+".lock", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path+".lock", 0o666); err != nil {
		t.Fatal(err)
	}
	e, err := election.New(election.Options{Address: path})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if st := stateOf(t, path+".lock"); st.mode&0o777 != 0o600 {
		t.Errorf("lock file mode %04o after New; want 0600", st.mode&0o777)
	}
	cmd := helperCmd(t, bin, "open", "FILE="+path+".lock")
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	cmd.Dir = "/"
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "permission denied") {
		t.Errorf("uid 65534 opening the lock file: %s; want permission denied", out)
	}
}

// TestNewRefusesOpenDirectory: a directory other users may write in without the sticky
// bit, or one that belongs to another user, lets them remove or replace the socket and
// the lock file: New refuses it, naming it. A sticky one, as /tmp, is fine.
func TestNewRefusesOpenDirectory(t *testing.T) {
	for _, c := range []struct {
		name  string
		mode  os.FileMode
		owner int
		ok    bool
	}{
		{"world-writable", 0o777, 0, false},
		{"group-writable", 0o770, 0, false},
		{"world-writable-sticky", 0o777 | os.ModeSticky, 0, true},
		{"private", 0o700, 0, true},
		{"another-user's", 0o755, 65534, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.owner != 0 && os.Geteuid() != 0 {
				t.Skip("chown needs root")
			}
			dir := filepath.Join(shortDir(t), "d")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, c.mode); err != nil {
				t.Fatal(err)
			}
			if c.owner != 0 {
				if err := os.Chown(dir, c.owner, c.owner); err != nil {
					t.Fatal(err)
				}
			}
			e, err := election.New(election.Options{Address: filepath.Join(dir, "s")})
			if c.ok {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				e.Close()
				return
			}
			wantErr(t, err, election.ErrBadDirectory, dir)
			if _, err := os.Lstat(filepath.Join(dir, "s.lock")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("New created the lock file in a directory it refused: %v", err)
			}
		})
	}
}

// threadsIn counts this process's threads blocked in flock(2), from /proc.
func threadsInFlock(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "syscall"))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 && f[0] == strconv.Itoa(unix.SYS_FLOCK) {
			n++
		}
	}
	return n
}

// fdsOn counts this process's descriptors open on path.
func fdsOn(t *testing.T, path string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && l == path {
			n++
		}
	}
	return n
}

// TestCloseLeavesNothing: an Elector closed while another process holds the lock (so it
// waits for it), or while it follows, leaves no thread in flock, no descriptor on the lock
// file and no goroutine; Events is closed.
func TestCloseLeavesNothing(t *testing.T) {
	for _, role := range []string{"waiting", "follower", "leader"} {
		t.Run(role, func(t *testing.T) {
			path := filepath.Join(shortDir(t), "s")
			lock := path + ".lock"
			switch role {
			case "waiting":
				// Another process holds the lock and never listens.
				cmd := helperCmd(t, "", "hold", "LOCK="+lock)
				stdin, _ := cmd.StdinPipe()
				out, _ := cmd.StdoutPipe()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { stdin.Close(); cmd.Wait() })
				if line, _ := bufio.NewReader(out).ReadString('\n'); line != "held\n" {
					t.Fatalf("hold helper: %q", line)
				}
			case "follower":
				l := start(t, election.Options{Address: path, ID: "leader"})
				l.wait(t, "leader", isKind(election.Leader))
			}
			base := runtime.NumGoroutine()
			fds := fdsOn(t, lock)
			e, err := election.New(election.Options{Address: path, ID: "x"})
			if err != nil {
				t.Fatal(err)
			}
			ran := make(chan error, 1)
			go func() { ran <- e.Run(context.Background()) }()
			switch role {
			case "waiting":
				// Let it find the lock taken and wait (several rounds of its timer).
				if !sleepUntil(200*time.Millisecond, func() bool { return threadsInFlock(t) > 0 }) {
					break
				}
				t.Errorf("a thread is blocked in flock while waiting for the lock")
			case "follower":
				if ev := <-e.Events(); ev.Kind != election.Follower {
					t.Fatalf("first event %v; want follower", ev)
				}
			case "leader":
				if ev := <-e.Events(); ev.Kind != election.Leader {
					t.Fatalf("first event %v; want leader", ev)
				}
			}
			e.Close()
			if err := <-ran; err != nil {
				t.Errorf("Run = %v", err)
			}
			for range e.Events() {
			}
			if n := threadsInFlock(t); n != 0 {
				t.Errorf("%d threads still in flock after Close", n)
			}
			if n := fdsOn(t, lock); n != fds {
				t.Errorf("%d descriptors on the lock file after Close; %d before New", n, fds)
			}
			if !sleepUntil(waitTimeout, func() bool { return runtime.NumGoroutine() <= base }) {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines after Close; %d before New:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// sleepUntil polls cond every millisecond for d; it reports whether cond held. Used only to
// give a wrong implementation time to show itself, never to wait for a right one.
func sleepUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// TestRunAfterClose: Run after Close, and a second Run, return ErrClosed and leave Events
// closed.
func TestRunAfterClose(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	e, err := election.New(election.Options{Address: path})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	if err := e.Run(context.Background()); !errors.Is(err, election.ErrClosed) {
		t.Errorf("Run after Close = %v; want ErrClosed", err)
	}
	select {
	case _, ok := <-e.Events():
		if ok {
			t.Errorf("an event after Close")
		}
	case <-time.After(waitTimeout):
		t.Fatalf("Events not closed after Close and Run")
	}

	e2, err := election.New(election.Options{Address: path})
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { first <- e2.Run(context.Background()) }()
	if ev := <-e2.Events(); ev.Kind != election.Leader {
		t.Fatalf("first event %v", ev)
	}
	if err := e2.Run(context.Background()); !errors.Is(err, election.ErrClosed) {
		t.Errorf("a second Run = %v; want ErrClosed", err)
	}
	e2.Close()
	<-first
	for range e2.Events() {
	}
	if err := e2.Run(context.Background()); !errors.Is(err, election.ErrClosed) {
		t.Errorf("Run after the first returned = %v; want ErrClosed", err)
	}
}

func TestEventString(t *testing.T) {
	for ev, want := range map[*election.Event]string{
		{Kind: election.Lost, Leader: "p1", Epoch: 3, Err: io.EOF}:  "lost leader p1 epoch=3: EOF",
		{Kind: election.Lost, Epoch: 4, Err: election.ErrDisplaced}: "lost leadership epoch=4: leader displaced",
		{Kind: election.Retry, Attempt: 2, Err: syscall.EMFILE}:     "retry attempt=2: too many open files",
		{Kind: election.Follower, Leader: "p1", Epoch: 3}:           "follower of p1 epoch=3",
	} {
		if got := ev.String(); got != want {
			t.Errorf("%#v.String() = %q; want %q", *ev, got, want)
		}
	}
}

var _ sync.Mutex
