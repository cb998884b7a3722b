package election

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// flock is the election lock: an flock(2) on a regular file that is never deleted. It is
// only ever tried (LOCK_NB); see campaign for how a process waits for it.
type flock struct {
	path string
	uid  int

	mu      sync.Mutex
	f       *os.File
	holding bool
	checked bool // the held lock passed campaign's checks
	closed  bool
	trying  bool // before-lock was hit for the current wait (campaign's goroutine only)
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

// open opens (or creates) the lock file, refusing anything that is not a regular file of
// ours, and tightens its mode to 0600: while anyone else can open it, anyone can flock it
// and freeze the election.
func (l *flock) open() (*os.File, error) {
	// O_NOFOLLOW: a symlink is refused, not followed; O_NONBLOCK: a FIFO cannot hang us.
	fd, err := unix.Open(l.path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if err != nil {
		switch {
		case errors.Is(err, unix.ELOOP):
			return nil, fmt.Errorf("%w: %s is a symbolic link; remove it or choose another socket path", ErrBadLockFile, l.path)
		case errors.Is(err, unix.EISDIR):
			return nil, fmt.Errorf("%w: %s is a directory, not a regular file; remove it or choose another socket path", ErrBadLockFile, l.path)
		case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			return nil, fmt.Errorf("%w: %s cannot be opened by uid %d (%v); remove it or choose another socket path", ErrBadLockFile, l.path, l.uid, err)
		}
		// EMFILE, ENFILE, ENOSPC, ENOMEM...: worth retrying.
		return nil, fmt.Errorf("open lock file %s: %w", l.path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("stat lock file %s: %w", l.path, err)
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
	if st.Mode&0o7077 != 0 {
		if err := unix.Fchmod(fd, 0o600); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("%w: %s has mode %04o, so other users can lock it, and chmod 0600 failed: %v",
				ErrBadLockFile, l.path, st.Mode&0o7777, err)
		}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), l.path), nil
}

// try takes the lock if it is free, without waiting.
func (l *flock) try() (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false, ErrClosed
	}
	if l.holding {
		return true, nil
	}
	for {
		err := unix.Flock(int(l.f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch err {
		case nil:
			l.holding = true
			return true, nil
		case unix.EINTR:
			continue
		case unix.EWOULDBLOCK:
			return false, nil
		}
		return false, fmt.Errorf("flock %s: %w", l.path, err)
	}
}

// lockWait takes the lock, trying every millisecond until ctx is done (the TCP epoch file,
// whose holder keeps it for microseconds).
func (l *flock) lockWait(ctx context.Context) error {
	for {
		got, err := l.try()
		if err != nil || got {
			return err
		}
		if !sleep(ctx, time.Millisecond) {
			return ctx.Err()
		}
	}
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

// current reports whether the locked file is still the one at the path. If someone deleted
// or replaced it (a symbolic link included), our lock guards nothing.
func (l *flock) current() (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false, ErrClosed
	}
	var a, b unix.Stat_t
	if err := unix.Fstat(int(l.f.Fd()), &a); err != nil {
		return false, err
	}
	if err := unix.Lstat(l.path, &b); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return false, nil
		}
		return false, fmt.Errorf("stat lock file %s: %w", l.path, err)
	}
	return a.Dev == b.Dev && a.Ino == b.Ino, nil
}

// reopen drops a lock on a file that is no longer at the path and opens the one that is.
func (l *flock) reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := l.open()
	if err != nil {
		return err
	}
	l.f.Close()
	l.holding, l.checked = false, false
	l.f = f
	return nil
}

// epochLen is the size of the epoch record at the start of the lock file: 20 digits and a
// newline.
const epochLen = 21

// recordLock takes an OFD lock (independent of the flock) on the epoch record of f, so
// that a resigning leader carrying its epoch into a new lock file and that file's holder
// never interleave their read-modify-writes. It retries for up to a second rather than
// block: a blocked F_OFD_SETLKW could not be interrupted either.
func recordLock(f *os.File, typ int16) error {
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: 0, Len: epochLen}
	for i := 0; ; i++ {
		err := unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
		if err == nil || typ == unix.F_UNLCK {
			return err
		}
		if (err != unix.EAGAIN && err != unix.EACCES && err != unix.EINTR) || i == 1000 {
			return fmt.Errorf("lock the epoch record of %s: %w", f.Name(), err)
		}
		time.Sleep(time.Millisecond)
	}
}

func readEpoch(f *os.File) (uint64, error) {
	buf := make([]byte, epochLen)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read epoch from %s: %w", f.Name(), err)
	}
	var epoch uint64
	if n >= 20 {
		epoch, _ = strconv.ParseUint(string(buf[:20]), 10, 64)
	}
	return epoch, nil
}

func writeEpoch(f *os.File, epoch uint64) error {
	if _, err := f.WriteAt([]byte(fmt.Sprintf("%020d\n", epoch)), 0); err != nil {
		return fmt.Errorf("write epoch to %s: %w", f.Name(), err)
	}
	return nil
}

// nextEpoch reads the epoch stored in the lock file, takes one more than both it and floor,
// and writes it back. Only the lock holder calls it, so epochs never repeat; floor (the
// greatest epoch this process has seen) keeps them from going back if the file was lost.
func (l *flock) nextEpoch(floor uint64) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	if err := recordLock(l.f, unix.F_WRLCK); err != nil {
		return 0, err
	}
	defer recordLock(l.f, unix.F_UNLCK)
	epoch, err := readEpoch(l.f)
	if err != nil {
		return 0, err
	}
	epoch = max(epoch, floor) + 1
	if err := writeEpoch(l.f, epoch); err != nil {
		return 0, err
	}
	return epoch, nil
}

// carry writes epoch into the lock file now at the path (creating it if it is gone) unless
// it already holds a greater one. A leader whose lock file was deleted or replaced calls it
// before it closes its socket, so the next leader, who can only start once that socket is
// gone, reads an epoch at least as great as ours.
func (l *flock) carry(epoch uint64) {
	l.mu.Lock()
	f, err := l.open()
	l.mu.Unlock()
	if err != nil {
		return
	}
	defer f.Close()
	if recordLock(f, unix.F_WRLCK) != nil {
		return
	}
	defer recordLock(f, unix.F_UNLCK)
	if stored, err := readEpoch(f); err == nil && stored < epoch {
		writeEpoch(f, epoch)
	}
}

func (l *flock) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holding && !l.closed {
		unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	}
	l.holding, l.checked, l.trying = false, false, false
}

func (l *flock) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		l.holding = false
		l.f.Close()
	}
}
