package syscalls

import "golang.org/x/sys/unix"

const auditArch = unix.AUDIT_ARCH_AARCH64

// The numbers of the calls the filter sends to the supervisor, on this architecture: arm64
// has only the *at forms of the path calls.
var callNumbers = map[string]uint32{
	"bind": unix.SYS_BIND, "listen": unix.SYS_LISTEN, "connect": unix.SYS_CONNECT,
	"accept": unix.SYS_ACCEPT, "accept4": unix.SYS_ACCEPT4,
	"unlinkat": unix.SYS_UNLINKAT, "renameat": unix.SYS_RENAMEAT, "renameat2": unix.SYS_RENAMEAT2,
	"flock": unix.SYS_FLOCK, "fcntl": unix.SYS_FCNTL,
}
