package syscalls

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The structures of linux/seccomp.h, which x/sys/unix (v0.50) does not define; the sizes
// are checked against the ioctl numbers by TestKernelStructSizes.

// seccompData is struct seccomp_data.
type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

// seccompNotif is struct seccomp_notif, filled by SECCOMP_IOCTL_NOTIF_RECV.
type seccompNotif struct {
	ID    uint64
	PID   uint32 // the calling thread, in our pid namespace
	Flags uint32
	Data  seccompData
}

// seccompNotifResp is struct seccomp_notif_resp, given to SECCOMP_IOCTL_NOTIF_SEND.
type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32 // a negative errno, or 0
	Flags uint32
}

// ioctl sizes encoded in the request numbers (bits 16-29).
func ioctlSize(req uint) uintptr { return uintptr(req>>16) & 0x3fff }

func recv(fd int, n *seccompNotif) error {
	*n = seccompNotif{} // the kernel refuses a buffer that is not zeroed
	return ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(n))
}

func send(fd int, r *seccompNotifResp) error {
	return ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(r))
}

// idValid reports whether the notification id still stands for a caller blocked in that
// call: after reading its memory, this tells us that what we read was the caller's.
func idValid(fd int, id uint64) bool {
	return ioctl(fd, unix.SECCOMP_IOCTL_NOTIF_ID_VALID, unsafe.Pointer(&id)) == nil
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	for {
		_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		return nil
	}
}
