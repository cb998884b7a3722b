package canary

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenUnix binds and listens on path. Go's default is to unlink path when the listener
// is closed; every canary but unlink-on-close turns that off so it carries one bug only.
func listenUnix(path string, unlinkOnClose bool) (*net.UnixListener, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, err
	}
	ln.SetUnlinkOnClose(unlinkOnClose)
	return ln, nil
}

func dialUnix(path string) (net.Conn, error) { return net.Dial("unix", path) }

// listenReusePort listens on a TCP address with SO_REUSEADDR and SO_REUSEPORT set.
func listenReusePort(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		return errors.Join(err, serr)
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// removeQuiet removes path and ignores every error, as the buggy code it imitates does.
func removeQuiet(path string) { _ = os.Remove(path) }

// lockFile is an flock(2) lock on a file that is opened once, for the life of the process.
type lockFile struct {
	path string
	f    *os.File
}

func openLock(path string) (*lockFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return &lockFile{path: path, f: f}, nil
}

// tryLock takes the lock without waiting; false when another process holds it.
func (l *lockFile) tryLock() (bool, error) {
	err := unix.Flock(int(l.f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

func (l *lockFile) unlock() { _ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN) }

func (l *lockFile) close() { l.f.Close() }
