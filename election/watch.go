package election

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// dirWatch tells followers that a new socket may be up or that the lock may be free, so
// that after losing their leader they sleep until something happens instead of polling: with
// dozens of followers on a few cores, polling would steal the CPU the new leader needs. A
// leader chmods its socket once it listens (IN_ATTRIB; IN_MOVED_TO for one that binds
// elsewhere and renames); a process that held the lock closes its descriptor when it exits
// (IN_CLOSE_WRITE on the lock file), just before the kernel releases the lock. inotify
// instances are limited per user (fs.inotify.max_user_instances), so without one we fall
// back to polling.
type dirWatch struct {
	f        *os.File
	fd       int
	dir      string
	lockOn   bool // the watch reports lock descriptors being closed
	name     []byte
	lockName []byte
	sock     chan struct{} // a socket may have appeared at the path
	lock     chan struct{} // a descriptor of the lock file was closed
	exited   chan struct{} // closed when read returns
}

// Watch masks: every follower wakes when a socket appears at the path; only the one on
// deck also wakes when a lock descriptor is closed (each wake-up of the others would cost
// the winner CPU at the worst moment). Not IN_CREATE: a socket is created by bind, before
// listen, and a follower that dialled then would only wake to be refused. Our leaders chmod
// the socket once it listens.
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
	w := &dirWatch{
		f: os.NewFile(uintptr(fd), "inotify"), fd: fd, dir: dir,
		name: []byte(filepath.Base(path)), lockName: []byte(filepath.Base(path) + ".lock"),
		sock: make(chan struct{}, 1), lock: make(chan struct{}, 1), exited: make(chan struct{}),
	}
	go w.read()
	return w
}

// watchLock turns the wake-ups for lock descriptors being closed on or off.
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
	// A wake-up queued before is stale.
	select {
	case <-w.lock:
	default:
	}
}

func (w *dirWatch) read() {
	defer close(w.exited)
	buf := make([]byte, 16<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			// struct inotify_event: wd, mask, cookie, len (native order), then the name.
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			name := bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:min(n, off+unix.SizeofInotifyEvent+nameLen)], "\x00")
			off += unix.SizeofInotifyEvent + nameLen
			overflow := mask&unix.IN_Q_OVERFLOW != 0
			if overflow || bytes.Equal(name, w.name) && mask&unix.IN_CLOSE_WRITE == 0 {
				notify(w.sock)
			}
			if overflow || bytes.Equal(name, w.lockName) && mask&unix.IN_CLOSE_WRITE != 0 {
				notify(w.lock)
			}
		}
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// close stops the watch and waits for its goroutine.
func (w *dirWatch) close() {
	if w != nil {
		w.f.Close()
		<-w.exited
	}
}

// procWatch tells a follower that the process it followed has exited: a pidfd becomes
// readable only once the process is gone, all its files closed and its lock released. It
// is polled by the runtime's netpoller, so waiting costs no thread.
type procWatch struct {
	pid    int
	f      *os.File
	gone   chan struct{} // closed when the process has exited
	exited chan struct{} // closed when the goroutine returns
}

// watchProcess watches pid; nil if pidfds are unavailable (before Linux 5.10).
func watchProcess(pid int) *procWatch {
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
