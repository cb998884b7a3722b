package syscalls

import (
	"fmt"
	"slices"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Calls are the syscalls the filter hands to the supervisor, and why each:
//
//   - bind, listen: a leader is made here (unix path or tcp port);
//   - connect: a probe or a follower joining (ECONNREFUSED is the start of the classic race);
//   - accept, accept4: the leader taking members;
//   - unlink, unlinkat: removing a stale socket, or a live one (the race's second half), or
//     a lock file;
//   - rename, renameat, renameat2: bind-to-temp-then-rename designs, and plants moved away;
//   - flock, and fcntl only for its record-lock commands (F_SETLK, F_SETLKW, F_GETLK and the
//     OFD forms): the election lock.
//
// close() is not among them: every program closes fds all the time, and the end of a
// listener shows in the next observation. Unlisted calls never leave the kernel.
var Calls = []string{"bind", "listen", "connect", "accept", "accept4", "unlink", "unlinkat",
	"rename", "renameat", "renameat2", "flock", "fcntl"}

// fcntl commands that take or test a record lock.
var lockCmds = []uint32{unix.F_SETLK, unix.F_SETLKW, unix.F_GETLK,
	unix.F_OFD_SETLK, unix.F_OFD_SETLKW, unix.F_OFD_GETLK}

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArg1 = 16 + 8 // args[1], low 32 bits on a little-endian machine (amd64, arm64)
)

// program assembles the filter (golang.org/x/net/bpf): calls of another architecture are
// allowed (they are not ours to judge, and killing them would break the program), each
// listed call returns SECCOMP_RET_USER_NOTIF, fcntl only for lock commands, the rest ALLOW.
func program() ([]unix.SockFilter, error) {
	if auditArch == 0 {
		return nil, fmt.Errorf("%w: no syscall table for this architecture", ErrUnavailable)
	}
	var nrs []uint32
	for _, name := range Calls {
		if nr, ok := callNumbers[name]; ok && name != "fcntl" {
			nrs = append(nrs, nr)
		}
	}
	slices.Sort(nrs)
	// Layout: [0] load arch, [1] arch?, [2] load nr, [3..3+n) nr==x → notify, [3+n] nr==fcntl?,
	// [4+n] load cmd, [5+n..5+n+m) cmd==x → notify, allow, notify.
	n, m := len(nrs), len(lockCmds)
	allow := 5 + n + m
	notify := allow + 1
	skip := func(from, to int) uint8 { return uint8(to - from - 1) }
	prog := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: auditArch, SkipFalse: skip(1, allow)},
		bpf.LoadAbsolute{Off: offNr, Size: 4},
	}
	for i, nr := range nrs {
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: nr, SkipTrue: skip(3+i, notify)})
	}
	prog = append(prog,
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: callNumbers["fcntl"], SkipFalse: skip(3+n, allow)},
		bpf.LoadAbsolute{Off: offArg1, Size: 4})
	for i, c := range lockCmds {
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: c, SkipTrue: skip(5+n+i, notify)})
	}
	prog = append(prog,
		bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW},
		bpf.RetConstant{Val: unix.SECCOMP_RET_USER_NOTIF})
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assemble seccomp filter: %w", err)
	}
	out := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		out[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	return out, nil
}

// install installs the filter on the calling thread and returns the notification fd
// (close-on-exec). The caller must have locked its OS thread: the filter, like
// no_new_privs, is the thread's, and execve from that thread carries it on. It first tries
// without no_new_privs (allowed with CAP_SYS_ADMIN, e.g. as root), so that setuid programs a
// peer runs (sudo, su) keep working; without the capability it sets no_new_privs, as the
// kernel requires.
func install() (int, error) {
	filter, err := program()
	if err != nil {
		return -1, err
	}
	fprog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	seccomp := func() (int, unix.Errno) {
		fd, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
			unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&fprog)))
		return int(fd), e
	}
	fd, e := seccomp()
	if e == unix.EACCES {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return -1, fmt.Errorf("%w: prctl(PR_SET_NO_NEW_PRIVS): %w", ErrUnavailable, err)
		}
		fd, e = seccomp()
	}
	if e != 0 {
		return -1, fmt.Errorf("%w: seccomp(SECCOMP_SET_MODE_FILTER, NEW_LISTENER): %w", ErrUnavailable, e)
	}
	return fd, nil
}
