package election

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// A follower that lost its leader waits for a sign that the next one is up, or that the lock
// may be free, instead of polling: with dozens of followers on a few cores, polling (or each
// of them waking to try the lock) would steal the CPU the new leader needs. The signs:
//
//   - a socket appears at the path: our leaders chmod the socket once it listens (IN_ATTRIB;
//     IN_MOVED_TO for one that binds elsewhere and renames). Not IN_CREATE: bind creates the
//     socket before listen, and a follower that dialled then would only be refused;
//   - for the member on deck only: a lock descriptor is closed (IN_CLOSE_WRITE on the lock
//     file, just before the kernel releases a dead holder's lock), or the leader's process
//     has exited (its pidfd becomes readable, all its files released).
//
// The election's goroutine reads the inotify descriptor itself, through the runtime's
// netpoller, with a read deadline for the timer and for cancellation: a sign wakes that
// goroutine and nothing else. (A reader goroutine handing signs over a channel cost a second
// wake-up per follower; a ppoll(2) in the election's goroutine cost more still, as the
// runtime takes the processor of a goroutine blocked in a system call away and must give it
// back.) inotify instances are limited per user (fs.inotify.max_user_instances); without one,
// followers fall back to a timer.

// dirWatch is an inotify watch on the socket's directory.
type dirWatch struct {
	f        *os.File // non-blocking: read through the netpoller
	fd       int
	dir      string
	name     []byte
	lockName []byte
	lockOn   bool // the watch reports lock descriptors being closed
	buf      [4096]byte
}

// Watch masks: every follower wakes when a socket appears at the path; only the one on
// deck also wakes when a lock descriptor is closed.
const (
	maskSocket = unix.IN_ATTRIB | unix.IN_MOVED_TO
	maskLock   = maskSocket | unix.IN_CLOSE_WRITE
)

func watchDir(path string) *dirWatch {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	dir := filepath.Dir(path)
	if _, err := unix.InotifyAddWatch(fd, dir, maskSocket); err != nil {
		unix.Close(fd)
		return nil
	}
	return &dirWatch{
		f: os.NewFile(uintptr(fd), "inotify"), fd: fd, dir: dir,
		name: []byte(filepath.Base(path)), lockName: []byte(filepath.Base(path) + ".lock"),
	}
}

// watchLock turns the reports of lock descriptors being closed on or off.
func (w *dirWatch) watchLock(on bool) {
	if w == nil || w.lockOn == on {
		return
	}
	mask := uint32(maskSocket)
	if on {
		mask = maskLock
	}
	if _, err := unix.InotifyAddWatch(w.fd, w.dir, mask); err == nil {
		w.lockOn = on
	}
}

// sign is what ended a wait.
type sign int

const (
	signTimeout sign = iota
	signSocket       // a socket appeared at the path
	signLock         // a lock descriptor was closed (deck only)
	signGone         // the leader's process exited (deck only)
)

// next waits up to d for a sign. gone, if not nil, is closed when the leader's process has
// exited (the procWatch then cuts the read short).
func (w *dirWatch) next(ctx context.Context, d time.Duration, gone <-chan struct{}) (sign, error) {
	w.f.SetReadDeadline(time.Now().Add(d))
	defer w.f.SetReadDeadline(time.Time{})
	stop := context.AfterFunc(ctx, func() { w.f.SetReadDeadline(aLongTimeAgo) })
	defer stop()
	for {
		select {
		case <-gone:
			return signGone, nil
		default:
		}
		n, err := w.f.Read(w.buf[:])
		if err != nil {
			if ctx.Err() != nil {
				return signTimeout, ctx.Err()
			}
			select {
			case <-gone:
				return signGone, nil
			default:
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return signTimeout, nil
			}
			return signTimeout, err
		}
		sock, lock := false, false
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			// struct inotify_event: wd, mask, cookie, len (native order), then the name.
			mask := binary.NativeEndian.Uint32(w.buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(w.buf[off+12:]))
			name := bytes.TrimRight(w.buf[off+unix.SizeofInotifyEvent:min(n, off+unix.SizeofInotifyEvent+nameLen)], "\x00")
			off += unix.SizeofInotifyEvent + nameLen
			overflow := mask&unix.IN_Q_OVERFLOW != 0
			if overflow || bytes.Equal(name, w.name) && mask&unix.IN_CLOSE_WRITE == 0 {
				sock = true
			}
			if overflow || bytes.Equal(name, w.lockName) && mask&unix.IN_CLOSE_WRITE != 0 {
				lock = true
			}
		}
		switch {
		case sock:
			return signSocket, nil
		case lock && w.lockOn:
			return signLock, nil
		}
	}
}

func (w *dirWatch) close() {
	if w != nil {
		w.f.Close()
	}
}

// procWatch tells the follower on deck that the process it followed has exited: a pidfd
// becomes readable only once the process is gone, all its files closed and its lock
// released. It is polled by the runtime's netpoller, so waiting costs no thread; kick, if
// set, cuts the follower's current wait short.
type procWatch struct {
	pid    int
	f      *os.File
	gone   chan struct{} // closed when the process has exited
	exited chan struct{} // closed when the goroutine returns
}

// watchProcess watches pid; nil if pidfds are unavailable (before Linux 5.10).
func watchProcess(pid int, kick func()) *procWatch {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return nil
	}
	unix.CloseOnExec(fd)
	p := &procWatch{pid: pid, f: os.NewFile(uintptr(fd), "pidfd"), gone: make(chan struct{}), exited: make(chan struct{})}
	raw, err := p.f.SyscallConn()
	if err != nil {
		p.f.Close()
		return nil
	}
	go func() {
		defer close(p.exited)
		calls := 0
		// The first call reports "not ready", so Read waits for the pidfd to be readable;
		// Close makes it return an error instead.
		err := raw.Read(func(uintptr) bool { calls++; return calls > 1 })
		if err == nil {
			close(p.gone)
			if kick != nil {
				kick()
			}
		}
	}()
	return p
}

// close stops the watch and waits for its goroutine.
func (p *procWatch) close() {
	if p != nil {
		p.f.Close()
		<-p.exited
	}
}
