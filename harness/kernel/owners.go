package kernel

import (
	"slices"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ownerScan finds which processes hold which socket inodes by reading /proc/PID/fd.
// It reuses its buffers and calls getdents/openat/readlinkat directly on NUL-terminated
// byte slices, so a scan allocates only for the sockets it is asked about.
type ownerScan struct {
	dents []byte // getdents64 buffer
	link  []byte // readlinkat target
	path  []byte // "PID/fd\x00"
}

func newOwnerScan() *ownerScan {
	return &ownerScan{
		dents: make([]byte, 32<<10),
		link:  make([]byte, 64),
		path:  make([]byte, 0, 32),
	}
}

// scan fills want, whose keys are the socket inodes of interest, with the pids of pids
// (nil: every process in /proc) that hold an fd on each inode. Each pid list is sorted
// and free of duplicates. Processes that vanish or cannot be read are skipped: a scan
// races with processes exiting, and a vanished process holds nothing.
func (s *ownerScan) scan(pids []int, want map[uint64][]int) error {
	if len(want) == 0 {
		return nil
	}
	proc, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(proc)
	if pids != nil {
		for _, pid := range pids {
			s.scanPID(proc, pid, want)
		}
	} else {
		// Collect the pids first: the dents buffer is reused by scanPID.
		all, err := s.listPIDs(proc)
		if err != nil {
			return err
		}
		for _, pid := range all {
			s.scanPID(proc, pid, want)
		}
	}
	for ino, ps := range want {
		if len(ps) > 1 {
			slices.Sort(ps)
			want[ino] = slices.Compact(ps)
		}
	}
	return nil
}

// listPIDs returns the numeric entries of the /proc directory open as proc.
func (s *ownerScan) listPIDs(proc int) ([]int, error) {
	var pids []int
	for {
		n, err := unix.Getdents(proc, s.dents)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return pids, nil
		}
		forEachDirent(s.dents[:n], func(name []byte, _ *byte) {
			pid := 0
			for _, c := range name {
				if c < '0' || c > '9' {
					return
				}
				pid = pid*10 + int(c-'0')
			}
			pids = append(pids, pid)
		})
	}
}

// scanPID records pid as an owner of every wanted inode among its fds.
func (s *ownerScan) scanPID(proc, pid int, want map[uint64][]int) {
	if pid <= 0 {
		return
	}
	s.path = strconv.AppendInt(s.path[:0], int64(pid), 10)
	s.path = append(s.path, "/fd\x00"...)
	fd, err := openatBytes(proc, &s.path[0], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Getdents(fd, s.dents)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return
		}
		forEachDirent(s.dents[:n], func(name []byte, cname *byte) {
			if name[0] == '.' {
				return
			}
			m, err := readlinkatBytes(fd, cname, s.link)
			if err != nil {
				return
			}
			ino, ok := socketInode(s.link[:m])
			if !ok {
				return
			}
			if ps, ok := want[ino]; ok {
				want[ino] = append(ps, pid)
			}
		})
	}
}

// forEachDirent calls fn with the name of each linux_dirent64 in b, both as bytes and
// as a pointer to its NUL-terminated form inside b (valid until b is reused).
func forEachDirent(b []byte, fn func(name []byte, cname *byte)) {
	const nameOff = 19 // d_ino u64, d_off i64, d_reclen u16, d_type u8
	for len(b) > nameOff {
		reclen := int(ne.Uint16(b[16:18]))
		if reclen <= nameOff || reclen > len(b) {
			return
		}
		rec := b[nameOff:reclen]
		end := 0
		for end < len(rec) && rec[end] != 0 {
			end++
		}
		if end > 0 && end < len(rec) {
			fn(rec[:end], &rec[0])
		}
		b = b[reclen:]
	}
}

// socketInode parses "socket:[N]", the fd link of a socket.
func socketInode(link []byte) (uint64, bool) {
	const prefix = "socket:["
	if len(link) < len(prefix)+2 || string(link[:len(prefix)]) != prefix || link[len(link)-1] != ']' {
		return 0, false
	}
	var ino uint64
	for _, c := range link[len(prefix) : len(link)-1] {
		if c < '0' || c > '9' {
			return 0, false
		}
		ino = ino*10 + uint64(c-'0')
	}
	return ino, true
}

// openatBytes is openat(2) on a NUL-terminated path, without the string conversion
// (and allocation) of unix.Openat.
func openatBytes(dirfd int, path *byte, flags int) (int, error) {
	fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)), uintptr(flags), 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// readlinkatBytes is readlinkat(2) on a NUL-terminated path into buf.
func readlinkatBytes(dirfd int, path *byte, buf []byte) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
