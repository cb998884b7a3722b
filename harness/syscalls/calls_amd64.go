package syscalls

import "golang.org/x/sys/unix"

const auditArch = unix.AUDIT_ARCH_X86_64

// The numbers of the calls the filter sends to the supervisor, on this architecture. x32
// calls (nr | 0x40000000) and 32-bit programs are not matched: they run unwatched.
var callNumbers = map[string]uint32{
	"bind": unix.SYS_BIND, "listen": unix.SYS_LISTEN, "connect": unix.SYS_CONNECT,
	"accept": unix.SYS_ACCEPT, "accept4": unix.SYS_ACCEPT4,
	"unlink": unix.SYS_UNLINK, "unlinkat": unix.SYS_UNLINKAT,
	"rename": unix.SYS_RENAME, "renameat": unix.SYS_RENAMEAT, "renameat2": unix.SYS_RENAMEAT2,
	"flock": unix.SYS_FLOCK, "fcntl": unix.SYS_FCNTL,
}
