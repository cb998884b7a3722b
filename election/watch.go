package election

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// dirWatch tells followers that a new socket may be up, so that after losing their leader
// they sleep until the new one appears instead of redialling on a timer: with dozens of
// followers on a few cores, that polling would steal the CPU the new leader needs. A leader
// binds (IN_CREATE) and, once it listens, chmods its socket (IN_ATTRIB). inotify instances
// are limited per user (fs.inotify.max_user_instances), so without one we fall back to
// polling.
type dirWatch struct {
	f    *os.File
	name []byte
	wake chan struct{}
}

func watchDir(path string) *dirWatch {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), unix.IN_CREATE|unix.IN_ATTRIB|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		return nil
	}
	w := &dirWatch{f: os.NewFile(uintptr(fd), "inotify"), name: []byte(filepath.Base(path)), wake: make(chan struct{}, 1)}
	go w.read()
	return w
}

func (w *dirWatch) read() {
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
			name := buf[off+unix.SizeofInotifyEvent : min(n, off+unix.SizeofInotifyEvent+nameLen)]
			off += unix.SizeofInotifyEvent + nameLen
			if bytes.Equal(bytes.TrimRight(name, "\x00"), w.name) || mask&unix.IN_Q_OVERFLOW != 0 {
				select {
				case w.wake <- struct{}{}:
				default:
				}
			}
		}
	}
}

func (w *dirWatch) close() {
	if w != nil {
		w.f.Close()
	}
}
