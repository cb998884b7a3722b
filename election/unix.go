package election

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
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

	lock      *flock
	watch     *dirWatch  // nil until the first standby, or if inotify is unavailable
	leader    *procWatch // the process we follow, while on deck (nil without a pidfd)
	leaderPID int        // the process we follow
	deck      bool       // the leader made us its successor

	// the socket we bound, so Close removes only our own, and the epoch we lead.
	boundIno uint64
	boundDev uint64
	epoch    uint64
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
	if err := checkDirectory(dir, os.Geteuid()); err != nil {
		return nil, err
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

// checkDirectory refuses a directory in which another user could remove or replace our
// socket or lock file: one owned by another user (root excepted), or one others may write
// in without the sticky bit that /tmp has.
func checkDirectory(dir string, uid int) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadDirectory, dir, err)
	}
	if int(st.Uid) != uid && st.Uid != 0 {
		return fmt.Errorf("%w: directory %s belongs to uid %d, who could remove or replace the socket and its lock file: choose a directory owned by you (or root)",
			ErrBadDirectory, dir, st.Uid)
	}
	if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
		return fmt.Errorf("%w: directory %s (mode %04o) lets other users remove or replace the socket and its lock file: chmod go-w %s, or chmod +t %s as /tmp is, or choose another directory",
			ErrBadDirectory, dir, st.Mode&0o7777, dir, dir)
	}
	return nil
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

// campaign tries the election lock: true once this process holds it (and the lock file is
// still the one at the path), false when it should try to reach a leader again. The lock is
// taken with LOCK_NB, never by a blocked flock(2): a blocked call cannot be interrupted, so
// it would keep a thread and the lock's descriptor after Close. Instead a process that finds
// the lock taken sleeps until something says the holder may be gone: the leader it followed
// exits (pidfd), a lock descriptor is closed or a socket appears in the directory
// (inotify), or wait passes.
func (t *unixTransport) campaign(ctx context.Context, wait time.Duration) (bool, error) {
	if !t.lock.held() {
		if !t.lock.trying {
			t.fp.Hit(FailBeforeLock)
			t.lock.trying = true
		}
		got, err := t.lock.try()
		if err != nil {
			return false, err
		}
		if !got {
			var gone <-chan struct{}
			if t.leader != nil {
				gone = t.leader.gone
			}
			var sg sign
			if t.watch != nil {
				// The watch wakes us; the timer is only a safety net (for a leader outside
				// this library that never chmods its socket, or a successor that hangs).
				// The successor alone keeps the short timer: the kernel may release a dead
				// leader's lock a little after its members see EOF, and after the lock
				// descriptor's close event.
				if !t.deck {
					wait = max(wait, watchNet)
				}
				if sg, err = t.watch.next(ctx, wait, gone); err != nil {
					return false, err
				}
			} else {
				timer := time.NewTimer(wait)
				defer timer.Stop()
				select {
				case <-gone:
					sg = signGone
				case <-timer.C:
				case <-ctx.Done():
					return false, ctx.Err()
				}
			}
			if sg != signGone {
				return false, nil
			}
			// The leader we followed has exited, and with it its lock.
			t.leader.close()
			t.leader = nil
			if got, err = t.lock.try(); err != nil || !got {
				return false, err
			}
		}
		t.lock.trying = false
	}
	if t.lock.validated() {
		return true, nil
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

// standby prepares a follower of the leader process pid for its leader's end: a directory
// watch, so it sleeps until the next leader's socket appears. Only the member the leader
// put on deck (see onDeck) also wakes for the lock: with dozens of followers on a few cores,
// every survivor waking to try the lock would steal the CPU the winner needs.
func (t *unixTransport) standby(pid int) {
	if t.watch == nil {
		t.watch = watchDir(t.path)
	}
	t.leader.close()
	t.leader, t.leaderPID, t.deck = nil, pid, false
	t.watch.watchLock(false)
	// The member's turn at the lock starts now (the failpoint a schedule can stop it at),
	// though it tries the lock only once its leader is gone.
	if !t.lock.held() && !t.lock.trying {
		t.fp.Hit(FailBeforeLock)
		t.lock.trying = true
	}
}

// onDeck makes this follower the leader's successor: when the leader goes, it tries the
// lock the moment its process has exited (a pidfd), or a lock descriptor is closed.
func (t *unixTransport) onDeck() {
	t.deck = true
	t.watch.watchLock(true)
	if t.leader == nil && t.leaderPID > 0 && t.leaderPID != os.Getpid() {
		var kick func()
		if w := t.watch; w != nil {
			kick = func() { w.f.SetReadDeadline(aLongTimeAgo) }
		}
		t.leader = watchProcess(t.leaderPID, kick)
	}
}

// check is the leader's watchdog: it reports why this process must stop leading, if the path
// no longer names the socket it listens on (removed, replaced, its directory renamed), or
// the lock file at the path is not the one it holds (removed or replaced). Either way, new
// processes could not find this leader, or could lock another file and lead beside it.
func (t *unixTransport) check() error {
	var st unix.Stat_t
	if err := unix.Lstat(t.path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return fmt.Errorf("%w: %s no longer exists (removed, or its directory renamed)", ErrDisplaced, t.path)
		}
		return nil // we cannot tell (EACCES...): keep leading
	}
	if st.Ino != t.boundIno || st.Dev != t.boundDev {
		return fmt.Errorf("%w: %s now names another file (inode %d), not our socket (inode %d)",
			ErrDisplaced, t.path, st.Ino, t.boundIno)
	}
	if same, err := t.lock.current(); err == nil && !same {
		return fmt.Errorf("%w: lock file %s was removed or replaced", ErrDisplaced, t.lockPath)
	}
	return nil
}

// lead turns the lock into leadership: it probes the path, removes a stale socket of ours,
// binds and listens. If a live listener answers at the path, it returns its connection
// instead (the caller follows it, still holding the lock). The epoch is one more than both
// the one stored in the lock file and floor, the greatest this process has seen.
func (t *unixTransport) lead(ctx context.Context, timeout time.Duration, floor uint64) (net.Listener, uint64, net.Conn, error) {
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
	epoch, err := t.lock.nextEpoch(floor)
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
	t.boundIno, t.boundDev, t.epoch = st.Ino, st.Dev, epoch
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
	if t.boundIno != 0 && unix.Lstat(t.path, &st) == nil && st.Ino == t.boundIno && st.Dev == t.boundDev &&
		st.Mode&unix.S_IFMT == unix.S_IFSOCK {
		unix.Unlink(t.path)
	}
	t.boundIno, t.boundDev = 0, 0
}

// resign gives up leadership: the listener goes first, the lock last, so no successor can
// bind while our socket still answers. If the lock file at the path is no longer the one
// we hold (deleted or replaced), our epoch is first written into the one that is there
// now, before our socket goes: whoever leads next reads it there, so epochs never go back.
func (t *unixTransport) resign(ln net.Listener) {
	if ln != nil {
		if same, err := t.lock.current(); err == nil && !same && t.epoch != 0 {
			t.lock.carry(t.epoch)
		}
		t.closeListener(ln)
	}
	t.lock.release()
}

func (t *unixTransport) close() {
	t.watch.close()
	t.leader.close()
	t.leader = nil
	t.lock.close()
}
