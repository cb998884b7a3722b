package election

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// watchNet is how long a follower with a directory watch waits for a sign of a new leader
// before it dials anyway.
const watchNet = 50 * time.Millisecond

// maxSocketPath is the longest path that fits in sockaddr_un.sun_path with its NUL.
const maxSocketPath = 107

// unixTransport elects over a socket path. The rule that makes it safe: only the holder of
// an flock on the lock file beside the socket may remove a socket at the path or bind one.
// The lock is never deleted, so every process always contends for the same inode, and the
// kernel releases it the moment its holder dies, which is what makes failover immediate.
type unixTransport struct {
	path     string
	lockPath string
	uid      int
	fp       *Failpoints

	lock  *flock
	watch *dirWatch // nil until the first standby, or if inotify is unavailable

	// inode of the socket we bound, so Close removes only our own.
	boundIno uint64
}

func newUnixTransport(addr string, fp *Failpoints) (*unixTransport, error) {
	if addr == "" {
		return nil, errors.New("unix socket path is empty: set Options.Address")
	}
	path, err := filepath.Abs(addr)
	if err != nil {
		return nil, fmt.Errorf("resolve socket path %q: %w", addr, err)
	}
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("%w: socket path %s is %d bytes; the limit is %d: choose a shorter path",
			ErrPathTooLong, path, len(path), maxSocketPath)
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: directory %s does not exist: create it first", ErrBadDirectory, dir)
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %v", ErrBadDirectory, dir, err)
	case !st.IsDir():
		return nil, fmt.Errorf("%w: %s is not a directory", ErrBadDirectory, dir)
	}
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return nil, fmt.Errorf("%w: directory %s is not writable by uid %d: choose a directory you own",
			ErrBadDirectory, dir, os.Geteuid())
	}
	t := &unixTransport{path: path, lockPath: path + ".lock", uid: os.Geteuid(), fp: fp}
	if _, err := t.inspect(); err != nil {
		return nil, err
	}
	lock, err := openFlock(t.lockPath, t.uid)
	if err != nil {
		return nil, err
	}
	t.lock = lock
	return t, nil
}

func (t *unixTransport) String() string { return t.path }

// inspect reports the inode of the socket at the path (0 if nothing is there), and refuses
// anything we must not touch.
func (t *unixTransport) inspect() (uint64, error) {
	var st unix.Stat_t
	err := unix.Lstat(t.path, &st)
	if errors.Is(err, unix.ENOENT) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("stat socket path %s: %w", t.path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return 0, fmt.Errorf("%w: %s is %s, not a socket; it is left untouched: remove it yourself or choose another path",
			ErrNotSocket, t.path, fileType(st.Mode))
	}
	if int(st.Uid) != t.uid {
		return 0, fmt.Errorf("%w: %s belongs to uid %d, not %d; it is left untouched: choose another path",
			ErrForeignSocket, t.path, st.Uid, t.uid)
	}
	return st.Ino, nil
}

func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFCHR, unix.S_IFBLK:
		return "a device"
	}
	return "not a socket"
}

func (t *unixTransport) dial(ctx context.Context, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "unix", t.path)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, errNoListener
		}
		if errors.Is(err, syscall.EACCES) {
			if _, ierr := t.inspect(); ierr != nil {
				return nil, ierr
			}
		}
		return nil, err
	}
	return c, nil
}

// checkPeer refuses a peer of another uid, on either side of a connection: isLeader says
// whether the peer is the leader we dialled or a member who dialled us.
func (t *unixTransport) checkPeer(c net.Conn, isLeader bool) (pid int, err error) {
	cred, err := peerCred(c)
	if err != nil {
		return 0, err
	}
	if int(cred.Uid) == t.uid {
		return int(cred.Pid), nil
	}
	if isLeader {
		return int(cred.Pid), fmt.Errorf("%w: the leader listening at %s (pid %d) runs as uid %d, not %d; it is left alone: stop it, or choose another path",
			ErrForeignListener, t.path, cred.Pid, cred.Uid, t.uid)
	}
	return int(cred.Pid), fmt.Errorf("%w: a client of %s (pid %d) runs as uid %d, not %d: refused",
		ErrForeignMember, t.path, cred.Pid, cred.Uid, t.uid)
}

func peerCred(c net.Conn) (*unix.Ucred, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil, errors.New("peer credentials: not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, fmt.Errorf("SO_PEERCRED: %w", cerr)
	}
	return cred, nil
}

// campaign waits until this process holds the election lock (true), or until wait has
// passed (false: try to reach a leader again). The wait is the kernel's: a blocked flock,
// queued early (see standby), so the lock passes to a survivor the moment its holder dies.
func (t *unixTransport) campaign(ctx context.Context, wait time.Duration) (bool, error) {
	if !t.lock.held() {
		if !t.lock.waiting() {
			t.fp.Hit(FailBeforeLock)
		}
		var wake <-chan struct{}
		if t.watch != nil {
			// The watch wakes us when a socket appears; the timer is only a safety net
			// (for a leader outside this library that never chmods its socket).
			wake, wait = t.watch.wake, max(wait, watchNet)
		}
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-t.lock.wait():
		case <-wake:
			return false, nil
		case <-timer.C:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	if t.lock.validated() {
		return true, nil
	}
	// However the grant arrived (now, or while we were busy elsewhere), it is checked once.
	if err := t.lock.acquired(); err != nil {
		return false, err
	}
	t.fp.Hit(FailAfterLock)
	// The lock is only worth anything if the file we locked is the one at the path.
	same, err := t.lock.current()
	if err != nil {
		return false, err
	}
	if !same {
		if err := t.lock.reopen(); err != nil {
			return false, err
		}
		return false, nil
	}
	t.lock.validate()
	return true, nil
}

// watching reports whether a directory watch will wake this process for a new socket.
func (t *unixTransport) watching() bool { return t.watch != nil }

// standby queues on the lock while this process follows, so that when the leader dies the
// kernel hands the lock to a survivor without any dial or timer in between.
func (t *unixTransport) standby() {
	if t.watch == nil {
		t.watch = watchDir(t.path)
	}
	if !t.lock.held() && !t.lock.waiting() {
		t.fp.Hit(FailBeforeLock)
		t.lock.wait()
	}
}

// lead turns the lock into leadership: it probes the path, removes a stale socket of ours,
// binds and listens. If a live listener answers at the path, it returns its connection
// instead (the caller follows it, still holding the lock).
func (t *unixTransport) lead(ctx context.Context, timeout time.Duration) (net.Listener, uint64, net.Conn, error) {
	ino, err := t.inspect()
	if err != nil {
		return nil, 0, nil, err
	}
	if ino != 0 {
		c, err := t.dial(ctx, timeout)
		if err == nil {
			return nil, 0, c, nil
		}
		if !errors.Is(err, errNoListener) {
			return nil, 0, nil, err
		}
	}
	t.fp.Hit(FailAfterProbe)
	if ino != 0 {
		t.fp.Hit(FailBeforeUnlink)
		// Look again just before the unlink: only this exact stale inode of ours goes.
		now, err := t.inspect()
		if err != nil {
			return nil, 0, nil, err
		}
		if now == ino {
			if err := unix.Unlink(t.path); err != nil && !errors.Is(err, unix.ENOENT) {
				return nil, 0, nil, fmt.Errorf("remove stale socket %s: %w", t.path, err)
			}
		}
	}
	epoch, err := t.lock.nextEpoch()
	if err != nil {
		return nil, 0, nil, err
	}
	t.fp.Hit(FailBeforeListen)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: t.path, Net: "unix"})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			// Someone outside the lock put a file there since the probe; look again.
			return nil, 0, nil, errRetry
		}
		return nil, 0, nil, fmt.Errorf("listen %s: %w", t.path, err)
	}
	// Go would unlink the path on Close even after another process replaced it: that is
	// how a departing leader orphans its successor. Close removes only our own inode.
	ln.SetUnlinkOnClose(false)
	var st unix.Stat_t
	if err := unix.Lstat(t.path, &st); err != nil {
		ln.Close()
		return nil, 0, nil, fmt.Errorf("stat %s after listen: %w", t.path, err)
	}
	t.boundIno = st.Ino
	if err := unix.Chmod(t.path, 0o600); err != nil {
		t.closeListener(ln)
		return nil, 0, nil, fmt.Errorf("chmod 0600 %s: %w", t.path, err)
	}
	t.fp.Hit(FailAfterListen)
	return ln, epoch, nil, nil
}

// closeListener closes ln and removes the path only if it still names our socket.
func (t *unixTransport) closeListener(ln net.Listener) {
	ln.Close()
	var st unix.Stat_t
	if t.boundIno != 0 && unix.Lstat(t.path, &st) == nil && st.Ino == t.boundIno &&
		st.Mode&unix.S_IFMT == unix.S_IFSOCK {
		unix.Unlink(t.path)
	}
	t.boundIno = 0
}

// resign gives up leadership: the listener goes first, the lock last, so no successor can
// bind while our socket still answers.
func (t *unixTransport) resign(ln net.Listener) {
	if ln != nil {
		t.closeListener(ln)
	}
	t.lock.release()
}

func (t *unixTransport) close() {
	t.watch.close()
	t.lock.close()
}

// flock is the election lock: an flock(2) on a regular file that is never deleted. A
// goroutine waits in a blocking flock, so the kernel wakes exactly one waiter when the holder
// releases the lock or dies.
type flock struct {
	path string
	uid  int

	mu      sync.Mutex
	f       *os.File
	done    chan struct{} // closed when the waiter returns
	err     error         // the waiter's result
	holding bool
	checked bool // the held lock passed campaign's checks
	closed  bool
}

func openFlock(path string, uid int) (*flock, error) {
	l := &flock{path: path, uid: uid}
	f, err := l.open()
	if err != nil {
		return nil, err
	}
	l.f = f
	return l, nil
}

func (l *flock) open() (*os.File, error) {
	// O_NOFOLLOW: a symlink is refused, not followed; O_NONBLOCK: a FIFO cannot hang us.
	fd, err := unix.Open(l.path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if err != nil {
		switch {
		case errors.Is(err, unix.ELOOP):
			return nil, fmt.Errorf("%w: %s is a symbolic link; remove it or choose another socket path", ErrBadLockFile, l.path)
		case errors.Is(err, unix.EISDIR):
			return nil, fmt.Errorf("%w: %s is a directory, not a regular file; remove it or choose another socket path", ErrBadLockFile, l.path)
		}
		return nil, fmt.Errorf("%w: open %s: %v", ErrBadLockFile, l.path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: stat %s: %v", ErrBadLockFile, l.path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: %s is %s, not a regular file; remove it or choose another socket path",
			ErrBadLockFile, l.path, fileType(st.Mode))
	}
	if int(st.Uid) != l.uid {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: %s belongs to uid %d, not %d; choose another socket path",
			ErrBadLockFile, l.path, st.Uid, l.uid)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), l.path), nil
}

// wait starts the blocking waiter if none runs and returns a channel closed once it returns.
func (l *flock) wait() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done == nil {
		done := make(chan struct{})
		l.done = done
		f := l.f
		go func() {
			// A blocked flock cannot be interrupted. Control keeps the descriptor open for
			// the call even if the elector closes the file meanwhile; the lock the call
			// then gets belongs to a file nobody holds anymore, and the kernel drops it.
			var err error
			raw, rerr := f.SyscallConn()
			if rerr != nil {
				err = rerr
			} else if cerr := raw.Control(func(fd uintptr) {
				for {
					err = unix.Flock(int(fd), unix.LOCK_EX)
					if err != unix.EINTR {
						break
					}
				}
			}); cerr != nil {
				err = cerr
			}
			l.mu.Lock()
			l.err = err
			if err == nil && !l.closed {
				l.holding = true
			}
			l.mu.Unlock()
			close(done)
		}()
	}
	return l.done
}

// waiting reports whether a waiter is queued on the lock or has got it.
func (l *flock) waiting() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done != nil
}

// validated reports whether the lock we hold has passed campaign's checks.
func (l *flock) validated() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holding && l.checked
}

func (l *flock) validate() {
	l.mu.Lock()
	l.checked = true
	l.mu.Unlock()
}

func (l *flock) held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.holding
}

func (l *flock) acquired() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.err != nil {
		err := l.err
		l.done, l.err = nil, nil
		return fmt.Errorf("flock %s: %w", l.path, err)
	}
	return nil
}

// current reports whether the locked file is still the one at the path. If someone deleted
// or replaced it, our lock guards nothing.
func (l *flock) current() (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Fstat(int(l.f.Fd()), &a); err != nil {
		return false, err
	}
	if err := unix.Stat(l.path, &b); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, err
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

// reopen drops a lock on a file that is no longer at the path and opens the one that is.
func (l *flock) reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.f.Close()
	l.holding, l.checked, l.done, l.err = false, false, nil, nil
	f, err := l.open()
	if err != nil {
		return err
	}
	l.f = f
	return nil
}

// nextEpoch reads the epoch stored in the lock file, adds one and writes it back. Only the
// lock holder calls it, so epochs never repeat.
func (l *flock) nextEpoch() (uint64, error) {
	buf := make([]byte, 21)
	n, err := l.f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read epoch from %s: %w", l.path, err)
	}
	var epoch uint64
	if n >= 20 {
		epoch, _ = strconv.ParseUint(string(buf[:20]), 10, 64)
	}
	epoch++
	if _, err := l.f.WriteAt([]byte(fmt.Sprintf("%020d\n", epoch)), 0); err != nil {
		return 0, fmt.Errorf("write epoch to %s: %w", l.path, err)
	}
	return epoch, nil
}

func (l *flock) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holding {
		unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		l.holding, l.checked, l.done = false, false, nil
	}
}

func (l *flock) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.holding = false
	l.f.Close()
}
