package kernel

import (
	"slices"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ownerScan finds which processes hold which socket inodes by reading /proc/PID/fd.
// It reuses its buffers and calls getdents/openat/readlinkat directly on NUL-terminated
// byte slices, so a scan allocates only for the sockets it is asked about.
//
// Large scans are split over several workers, each with its own buffers: reading
// /proc/PID/fd of many processes is mostly waiting in the kernel (per-process locks and
// dentry lookups), so a few scans at once finish sooner even on 2 cores.
type ownerScan struct {
	dents []byte // getdents64 buffer
	link  []byte // readlinkat target
	path  []byte // "PID/fd\x00"
	found []owned
	// workers are the extra scans of a parallel scan, made on first use.
	workers []*ownerScan
}

// owned is one (socket inode, pid) pair a worker found.
type owned struct {
	ino uint64
	pid int
}

// Parallel scan tuning: a scan of at least parallelMin pids is split over parallelScans
// workers (measured in BenchmarkSnapshotProcesses; docs/BENCHMARKS.md, "scale").
const (
	parallelMin   = 64
	parallelScans = 4
)

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
	if pids == nil {
		// Collect the pids first: the dents buffer is reused by scanPID.
		if pids, err = s.listPIDs(proc); err != nil {
			return err
		}
	}
	if len(pids) < parallelMin {
		s.found = s.found[:0]
		for _, pid := range pids {
			s.scanPID(proc, pid, want)
		}
		s.collect(want)
	} else {
		s.scanParallel(proc, pids, want)
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

// scanParallel scans pids in parallelScans interleaved slices, one worker each; want is
// only read while they run.
func (s *ownerScan) scanParallel(proc int, pids []int, want map[uint64][]int) {
	for len(s.workers) < parallelScans {
		s.workers = append(s.workers, newOwnerScan())
	}
	var wg sync.WaitGroup
	for i, w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.found = w.found[:0]
			for j := i; j < len(pids); j += len(s.workers) {
				w.scanPID(proc, pids[j], want)
			}
		}()
	}
	wg.Wait()
	for _, w := range s.workers {
		w.collect(want)
	}
}

// collect adds what s found to want.
func (s *ownerScan) collect(want map[uint64][]int) {
	for _, f := range s.found {
		want[f.ino] = append(want[f.ino], f.pid)
	}
}

// scanPID appends to s.found a pair for every wanted inode among pid's fds; want is only
// read.
func (s *ownerScan) scanPID(proc, pid int, want map[uint64][]int) {
	if pid <= 0 {
		return
	}
	s.path = strconv.AppendInt(s.path[:0], int64(pid), 10)
	s.path = append(s.path, "/fd\x00"...)
	if s.scanFDs(proc, pid, want) > 0 {
		return
	}
	// No fd at all: the process is dying, and its main thread, whose table /proc/PID/fd
	// shows, has ended while other threads still hold the table and so its sockets (for
	// tens of ms, for a Go peer with many threads). Their own fd folders still show it.
	for _, tid := range s.tasks(proc, pid) {
		s.path = strconv.AppendInt(s.path[:0], int64(pid), 10)
		s.path = append(s.path, "/task/"...)
		s.path = strconv.AppendInt(s.path, int64(tid), 10)
		s.path = append(s.path, "/fd\x00"...)
		if s.scanFDs(proc, pid, want) > 0 {
			return
		}
	}
}

// tasks returns the thread ids of pid other than pid itself.
func (s *ownerScan) tasks(proc, pid int) []int {
	s.path = strconv.AppendInt(s.path[:0], int64(pid), 10)
	s.path = append(s.path, "/task\x00"...)
	fd, err := openatBytes(proc, &s.path[0], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	var tids []int
	for {
		n, err := unix.Getdents(fd, s.dents)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return tids
		}
		forEachDirent(s.dents[:n], func(name []byte, _ *byte) {
			tid := 0
			for _, c := range name {
				if c < '0' || c > '9' {
					return
				}
				tid = tid*10 + int(c-'0')
			}
			if tid != pid {
				tids = append(tids, tid)
			}
		})
	}
}

// scanFDs reads the fd folder s.path (relative to proc) and appends to s.found a pair for
// every wanted inode, as held by pid. It returns how many fds the folder listed.
func (s *ownerScan) scanFDs(proc, pid int, want map[uint64][]int) int {
	fd, err := openatBytes(proc, &s.path[0], unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	fds := 0
	for {
		n, err := unix.Getdents(fd, s.dents)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return fds
		}
		forEachDirent(s.dents[:n], func(name []byte, cname *byte) {
			if name[0] == '.' {
				return
			}
			fds++
			m, err := readlinkatBytes(fd, cname, s.link)
			if err != nil {
				return
			}
			ino, ok := socketInode(s.link[:m])
			if !ok {
				return
			}
			if _, ok := want[ino]; ok {
				s.found = append(s.found, owned{ino: ino, pid: pid})
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
