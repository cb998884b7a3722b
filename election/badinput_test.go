package election_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/election"
	"golang.org/x/sys/unix"
)

// wantErr fails unless err wraps sentinel and its message names each of names.
func wantErr(t *testing.T, err, sentinel error, names ...string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("got error %v; want one wrapping %q", err, sentinel)
	}
	for _, n := range names {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("error %q does not name %q", err, n)
		}
	}
}

func TestNewPathTooLong(t *testing.T) {
	dir := shortDir(t)
	path := filepath.Join(dir, strings.Repeat("s", 108-len(dir)-1)) // 108 bytes: one too many
	if len(path) != 108 {
		t.Fatalf("test setup: path is %d bytes", len(path))
	}
	_, err := election.New(election.Options{Address: path})
	wantErr(t, err, election.ErrPathTooLong, path, "108", "107")

	// 107 bytes fit: New succeeds, and the Elector can lead there.
	ok := path[:107]
	r := start(t, election.Options{Address: ok})
	r.wait(t, "leader", isKind(election.Leader))
}

func TestNewMissingDirectory(t *testing.T) {
	dir := filepath.Join(shortDir(t), "nope")
	_, err := election.New(election.Options{Address: filepath.Join(dir, "s")})
	wantErr(t, err, election.ErrBadDirectory, dir, "does not exist")
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("New created %s: %v", dir, err)
	}
}

func TestNewDirectoryIsAFile(t *testing.T) {
	f := filepath.Join(shortDir(t), "file")
	if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := election.New(election.Options{Address: filepath.Join(f, "s")})
	// Stat of file/ fails with ENOTDIR: still a bad directory, named.
	wantErr(t, err, election.ErrBadDirectory, f)
}

// TestNewUnwritableDirectory runs New as uid 65534 in a directory owned by root (0755):
// root would pass the access check, so the check is made by an unprivileged child.
func TestNewUnwritableDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a child as uid 65534")
	}
	base, bin := publicCopy(t)
	dir := filepath.Join(base, "ro")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := helperCmd(t, bin, "new", "ADDR="+filepath.Join(dir, "s"))
	cmd.Dir = "/"
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	s := string(out)
	for _, want := range []string{"euid=65534\n", "bad-directory=true\n", dir, "not writable by uid 65534"} {
		if !strings.Contains(s, want) {
			t.Errorf("child output lacks %q:\n%s", want, s)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "s.lock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a lock file appeared in the unwritable directory: %v", err)
	}
}

func TestNewRelativePath(t *testing.T) {
	dir := shortDir(t)
	t.Chdir(dir)
	e, err := election.New(election.Options{Address: "rel.sock"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got, want := e.Addr(), filepath.Join(dir, "rel.sock"); got != want {
		t.Errorf("Addr() = %q; want %q", got, want)
	}
	r := run(t, e)
	r.wait(t, "leader", isKind(election.Leader))
	// It listens at the absolute path, whatever the cwd is later.
	if err := os.Chdir("/"); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", filepath.Join(dir, "rel.sock"))
	if err != nil {
		t.Fatalf("dial the absolute path: %v", err)
	}
	c.Close()
}

// fileState is what must not change about a thing a test planted: its inode and content.
type fileState struct {
	ino     uint64
	mode    uint32
	content string // a regular file's bytes, or a symlink's target
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatalf("lstat %s: %v", path, err)
	}
	fs := fileState{ino: st.Ino, mode: st.Mode}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fs.content = string(b)
	case unix.S_IFLNK:
		target, err := os.Readlink(path)
		if err != nil {
			t.Fatal(err)
		}
		fs.content = target
	case unix.S_IFDIR:
		ents, err := os.ReadDir(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			fs.content += e.Name() + "\n"
		}
	}
	return fs
}

// plant makes a thing of the given kind at path and returns a cleanup-free description.
func plant(t *testing.T, kind, path string) {
	t.Helper()
	var err error
	switch kind {
	case "file":
		err = os.WriteFile(path, []byte("precious data\n"), 0o600)
	case "directory":
		if err = os.Mkdir(path, 0o700); err == nil {
			err = os.WriteFile(filepath.Join(path, "inside"), []byte("x"), 0o600)
		}
	case "symlink":
		target := filepath.Join(filepath.Dir(path), "target")
		if err = os.WriteFile(target, []byte("target data\n"), 0o600); err == nil {
			err = os.Symlink(target, path)
		}
	case "dangling-symlink":
		err = os.Symlink(filepath.Join(filepath.Dir(path), "nowhere"), path)
	case "fifo":
		err = unix.Mkfifo(path, 0o600)
	case "foreign-socket":
		// A live listener whose socket file belongs to uid 65534.
		var ln *net.UnixListener
		ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err == nil {
			ln.SetUnlinkOnClose(false)
			t.Cleanup(func() { ln.Close() })
			err = os.Lchown(path, 65534, 65534)
		}
	default:
		t.Fatalf("plant: unknown kind %q", kind)
	}
	if err != nil {
		t.Fatalf("plant %s at %s: %v", kind, path, err)
	}
}

func TestNewRefusesWhatIsAtThePath(t *testing.T) {
	for _, tc := range []struct {
		kind string
		want error
	}{
		{"file", election.ErrNotSocket},
		{"directory", election.ErrNotSocket},
		{"symlink", election.ErrNotSocket},
		{"dangling-symlink", election.ErrNotSocket},
		{"fifo", election.ErrNotSocket},
		{"foreign-socket", election.ErrForeignSocket},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			path := filepath.Join(shortDir(t), "s")
			plant(t, tc.kind, path)
			before := stateOf(t, path)
			_, err := election.New(election.Options{Address: path})
			wantErr(t, err, tc.want, path, "untouched")
			if after := stateOf(t, path); after != before {
				t.Errorf("%s changed: before %+v, after %+v", path, before, after)
			}
			if tc.kind == "symlink" {
				if b, _ := os.ReadFile(filepath.Join(filepath.Dir(path), "target")); string(b) != "target data\n" {
					t.Errorf("symlink target changed: %q", b)
				}
			}
		})
	}
}

// TestRunRefusesWhatAppearsAfterNew: a file planted between New and Run ends Run with
// ErrNotSocket, and stays.
func TestRunRefusesWhatAppearsAfterNew(t *testing.T) {
	for _, kind := range []string{"file", "fifo", "foreign-socket"} {
		t.Run(kind, func(t *testing.T) {
			path := filepath.Join(shortDir(t), "s")
			// A short handshake timeout: the planted listener never answers.
			e, err := election.New(election.Options{Address: path, HandshakeTimeout: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			plant(t, kind, path)
			before := stateOf(t, path)
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			err = e.Run(ctx)
			want := election.ErrNotSocket
			if kind == "foreign-socket" {
				want = election.ErrForeignSocket
			}
			wantErr(t, err, want, path)
			if after := stateOf(t, path); after != before {
				t.Errorf("%s changed: before %+v, after %+v", path, before, after)
			}
			if _, ok := <-e.Events(); ok {
				t.Errorf("Events not closed after Run returned")
			}
		})
	}
}

func TestNewRefusesBadLockFile(t *testing.T) {
	for _, kind := range []string{"file-of-another-uid", "directory", "symlink", "dangling-symlink", "fifo"} {
		t.Run(kind, func(t *testing.T) {
			path := filepath.Join(shortDir(t), "s")
			lock := path + ".lock"
			if kind == "file-of-another-uid" {
				if err := os.WriteFile(lock, []byte("x"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Chown(lock, 65534, 65534); err != nil {
					t.Fatal(err)
				}
			} else {
				plant(t, kind, lock)
			}
			before := stateOf(t, lock)
			_, err := election.New(election.Options{Address: path})
			wantErr(t, err, election.ErrBadLockFile, lock)
			if after := stateOf(t, lock); after != before {
				t.Errorf("%s changed: before %+v, after %+v", lock, before, after)
			}
			if kind == "dangling-symlink" {
				if _, err := os.Lstat(filepath.Join(filepath.Dir(path), "nowhere")); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("New created the symlink's target: %v", err)
				}
			}
		})
	}
}

// secretFile writes a secret of n bytes with the given mode and returns its path.
func secretFile(t *testing.T, n int, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(shortDir(t), "secret")
	if err := os.WriteFile(p, bytes.Repeat([]byte("k"), n), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestNewTCPRefusesAddresses(t *testing.T) {
	secret := secretFile(t, 32, 0o600)
	for _, addr := range []string{"0.0.0.0:7777", "10.0.0.1:7777", "[::1]:7777", "127.0.0.1:0", "localhost:7777", "127.0.0.2:7777", "7777"} {
		t.Run(addr, func(t *testing.T) {
			start := time.Now()
			_, err := election.New(election.Options{Network: "tcp", Address: addr, SecretFile: secret})
			// New only parses: it refuses before any packet could leave.
			wantErr(t, err, election.ErrNotLoopback)
			if time.Since(start) > time.Second {
				t.Errorf("New took %v: did it dial?", time.Since(start))
			}
		})
	}
}

func TestNewTCPRefusesBadSecret(t *testing.T) {
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	missing := filepath.Join(shortDir(t), "missing")
	for name, tc := range map[string]struct {
		file  string
		names string
	}{
		"unset":       {"", "SecretFile"},
		"missing":     {missing, missing},
		"short":       {secretFile(t, 15, 0o600), "15 bytes"},
		"mode 0644":   {secretFile(t, 32, 0o644), "chmod 600"},
		"mode 0640":   {secretFile(t, 32, 0o640), "0640"},
		"a directory": {shortDir(t), "not a regular file"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := election.New(election.Options{Network: "tcp", Address: addr, SecretFile: tc.file})
			wantErr(t, err, election.ErrBadSecret, tc.names)
		})
	}
	// The good case, so the table cannot pass by refusing everything.
	e, err := election.New(election.Options{Network: "tcp", Address: addr, SecretFile: secretFile(t, 16, 0o600)})
	if err != nil {
		t.Fatalf("a 16-byte 0600 secret: %v", err)
	}
	e.Close()
}

func TestNewBadOptions(t *testing.T) {
	dir := shortDir(t)
	if _, err := election.New(election.Options{Address: ""}); err == nil {
		t.Error("empty address accepted")
	}
	if _, err := election.New(election.Options{Network: "udp", Address: filepath.Join(dir, "s")}); err == nil || !strings.Contains(err.Error(), "udp") {
		t.Errorf("network udp: %v", err)
	}
	if _, err := election.New(election.Options{Address: filepath.Join(dir, "s"), ID: strings.Repeat("i", 256)}); err == nil || !strings.Contains(err.Error(), "256") {
		t.Errorf("256-byte id: %v", err)
	}
}

// foreignTCP listens on a free loopback port and treats each connection with serve.
func foreignTCP(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

// TestTCPForeignListenerThatAnswers: an HTTP-ish server holds the port. It speaks first and
// is plainly not a group leader, so Run must stop with ErrForeignListener.
func TestTCPForeignListenerThatAnswers(t *testing.T) {
	var accepted atomicCount
	addr := foreignTCP(t, func(c net.Conn) {
		accepted.add()
		c.Write([]byte("HTTP/1.0 200 OK\r\n"))
		c.Close()
	})
	e, err := election.New(election.Options{Network: "tcp", Address: addr, SecretFile: secretFile(t, 32, 0o600)})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = e.Run(ctx)
	if ctx.Err() != nil {
		t.Errorf("Run still going after 3s (it dialled the foreign listener %d times); want ErrForeignListener at once", accepted.get())
	}
	wantErr(t, err, election.ErrForeignListener, addr)
}

// TestUnixForeignListenerThatAnswers: the same on a unix socket of our own uid.
func TestUnixForeignListenerThatAnswers(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.0 200 OK\r\n"))
			c.Close()
		}
	}()
	e, err := election.New(election.Options{Address: path})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err = e.Run(ctx)
	if ctx.Err() != nil {
		t.Errorf("Run still going after 3s; want ErrForeignListener at once")
	}
	wantErr(t, err, election.ErrForeignListener, path)
}

// TestTCPForeignListenerThatIsSilent: a program accepts and never speaks. It may be a group
// leader stopped by SIGSTOP, so Run must neither give up nor take over: it keeps trying
// (one handshake timeout per attempt) until its context ends, and no Elector ever leads.
func TestTCPForeignListenerThatIsSilent(t *testing.T) {
	var accepted atomicCount
	hold := make(chan struct{})
	defer close(hold)
	addr := foreignTCP(t, func(c net.Conn) {
		accepted.add()
		<-hold
		c.Close()
	})
	secret := secretFile(t, 32, 0o600)
	var rs []*rec
	for i := 0; i < 2; i++ {
		rs = append(rs, start(t, election.Options{Network: "tcp", Address: addr, SecretFile: secret,
			ID: "m" + strconv.Itoa(i), HandshakeTimeout: 50 * time.Millisecond}))
	}
	// Both keep trying: several handshakes time out.
	eventually(t, "repeated attempts", func() bool { return accepted.get() >= 6 })
	for _, r := range rs {
		if n := r.count(isKind(election.Leader)); n != 0 {
			t.Errorf("%s led %d times beside a foreign listener", r.e.ID(), n)
		}
		select {
		case err := <-r.runErr:
			t.Fatalf("%s: Run returned %v; want it to keep going", r.e.ID(), err)
		default:
		}
	}
	for _, r := range rs {
		r.cancel()
		select {
		case err := <-r.runErr:
			if err != nil {
				t.Errorf("%s: Run after cancel = %v; want nil", r.e.ID(), err)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("%s: Run did not return after cancel", r.e.ID())
		}
		r.waitClosed(t)
	}
}

func TestSendTooLarge(t *testing.T) {
	path := filepath.Join(shortDir(t), "s")
	r := start(t, election.Options{Address: path, MaxMessage: 100})
	r.wait(t, "leader", isKind(election.Leader))
	err := r.e.Send(context.Background(), make([]byte, 101))
	wantErr(t, err, election.ErrTooLarge, "101", "100")
	if err := r.e.Send(context.Background(), make([]byte, 100)); err != nil {
		t.Errorf("a message of exactly MaxMessage: %v", err)
	}
}

func TestSendNoLeader(t *testing.T) {
	e, err := election.New(election.Options{Address: filepath.Join(shortDir(t), "s")})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Send(context.Background(), []byte("x")); !errors.Is(err, election.ErrNoLeader) {
		t.Errorf("Send before Run = %v; want ErrNoLeader", err)
	}
}

// atomicCount counts connections a fake listener accepted.
type atomicCount struct{ n atomic.Int64 }

func (c *atomicCount) add()       { c.n.Add(1) }
func (c *atomicCount) get() int64 { return c.n.Load() }

// bugGreetGarbage: greet reads the first frame with readFrame, which refuses a length
// over 512 with ErrProtocol before greet can check the magic; follow's caller treats
// ErrProtocol as retryable, so Run redials a foreign program forever instead of returning
// ErrForeignListener. Fix: in greet, map an ErrProtocol on the first frame to
// ErrForeignListener (an EOF must stay retryable: a leader mid-exit closes that way).
