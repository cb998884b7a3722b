package kernel

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Inode returns the inode of the socket behind c, the N in its fd's socket:[N]: how a
// process finds its own sockets in a Snapshot (Listener.Inode, Conn.ClientInode ...).
func Inode(c syscall.Conn) (uint64, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), &st) }); err != nil {
		return 0, err
	}
	return st.Ino, serr
}
