package syscalls

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

const pageSize = 4096

// readMem reads up to len(buf) bytes at addr in the memory of thread tid
// (process_vm_readv: one syscall, no /proc file to open).
func readMem(tid int, addr uint64, buf []byte) (int, error) {
	if addr == 0 || len(buf) == 0 {
		return 0, unix.EFAULT
	}
	local := []unix.Iovec{{Base: &buf[0]}}
	local[0].SetLen(len(buf))
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(buf)}}
	return unix.ProcessVMReadv(tid, local, remote, 0)
}

// readPath reads the NUL-terminated string at addr, up to PATH_MAX. It reads page by page
// so that a string that ends just before an unmapped page is still read whole.
func readPath(tid int, addr uint64) (string, error) {
	var out []byte
	for len(out) < unix.PathMax {
		n := pageSize - int(addr%pageSize)
		buf := make([]byte, n)
		got, err := readMem(tid, addr, buf)
		if got <= 0 {
			if err == nil {
				err = unix.EFAULT
			}
			return "", err
		}
		if i := bytes.IndexByte(buf[:got], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		out = append(out, buf[:got]...)
		addr += uint64(got)
	}
	return "", unix.ENAMETOOLONG
}

// sockaddr returns the address for a call made in the caller's name.
func (s sockaddr) sockaddr() unix.Sockaddr {
	switch {
	case !s.inet:
		return &unix.SockaddrUnix{Name: s.unix}
	case s.ap.Addr().Is4():
		return &unix.SockaddrInet4{Port: int(s.ap.Port()), Addr: s.ap.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(s.ap.Port()), Addr: s.ap.Addr().As16()}
}

// Sockaddr is a socket address read from a caller, in the form the history shows.
type sockaddr struct {
	unix     string // the path of an AF_UNIX address ("@name" when abstract)
	ap       netip.AddrPort
	inet     bool
	abstract bool
}

func (s sockaddr) String() string {
	if s.inet {
		return s.ap.String()
	}
	return s.unix
}

// readSockaddr reads and parses a struct sockaddr of length n at addr. ok is false for a
// family the election cannot use (netlink, packet ...).
func readSockaddr(tid int, addr uint64, n uint64) (sa sockaddr, ok bool, err error) {
	if n < 2 || n > unix.SizeofSockaddrAny {
		return sa, false, nil
	}
	buf := make([]byte, n)
	got, err := readMem(tid, addr, buf)
	if err != nil || got < 2 {
		return sa, false, err
	}
	return parseSockaddr(buf[:got])
}

func parseSockaddr(b []byte) (sa sockaddr, ok bool, err error) {
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_UNIX:
		p := b[2:]
		if len(p) > 0 && p[0] == 0 {
			return sockaddr{unix: "@" + string(bytes.TrimRight(p[1:], "\x00")), abstract: true}, true, nil
		}
		if i := bytes.IndexByte(p, 0); i >= 0 {
			p = p[:i]
		}
		return sockaddr{unix: string(p)}, true, nil
	case unix.AF_INET:
		if len(b) < unix.SizeofSockaddrInet4 {
			return sa, false, nil
		}
		port := binary.BigEndian.Uint16(b[2:])
		ip := netip.AddrFrom4([4]byte(b[4:8]))
		return sockaddr{ap: netip.AddrPortFrom(ip, port), inet: true}, true, nil
	case unix.AF_INET6:
		if len(b) < unix.SizeofSockaddrInet6 {
			return sa, false, nil
		}
		port := binary.BigEndian.Uint16(b[2:])
		ip := netip.AddrFrom16([16]byte(b[8:24])).Unmap()
		return sockaddr{ap: netip.AddrPortFrom(ip, port), inet: true}, true, nil
	}
	return sa, false, nil
}

// fromUnixSockaddr turns what getsockname gave into our form.
func fromUnixSockaddr(s unix.Sockaddr) (sockaddr, bool) {
	switch a := s.(type) {
	case *unix.SockaddrUnix:
		if len(a.Name) > 0 && a.Name[0] == '@' || len(a.Name) > 0 && a.Name[0] == 0 {
			return sockaddr{unix: "@" + a.Name[1:], abstract: true}, true
		}
		return sockaddr{unix: a.Name}, true
	case *unix.SockaddrInet4:
		return sockaddr{ap: netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)), inet: true}, true
	case *unix.SockaddrInet6:
		return sockaddr{ap: netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port)), inet: true}, true
	}
	return sockaddr{}, false
}

// atFDCWD is AT_FDCWD as the low 32 bits of a syscall argument.
const atFDCWD = int32(unix.AT_FDCWD)

// resolve makes a path the caller gave absolute: relative to its cwd, or to dirfd for the
// *at calls. It does not follow symlinks: the election address is compared as a name.
func resolve(tid int, dirfd int32, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	link := "/proc/" + strconv.Itoa(tid) + "/cwd"
	if dirfd != atFDCWD {
		link = "/proc/" + strconv.Itoa(tid) + "/fd/" + strconv.Itoa(int(dirfd))
	}
	base, err := os.Readlink(link)
	if err != nil {
		return p // unknown: compared as given
	}
	return filepath.Join(base, p)
}

// fdPath is the path an fd of the caller names (a lock file), or "" for a socket or pipe.
func fdPath(tid int, fd int32) string {
	p, err := os.Readlink("/proc/" + strconv.Itoa(tid) + "/fd/" + strconv.Itoa(int(fd)))
	if err != nil || !filepath.IsAbs(p) {
		return ""
	}
	return p
}

// sockName returns the local address of the caller's socket fd, taken through a copy of
// the fd (pidfd_getfd) so that no /proc scan is needed.
func sockName(pidfd int, fd int32) (sockaddr, bool) {
	c, err := unix.PidfdGetfd(pidfd, int(fd), 0)
	if err != nil {
		return sockaddr{}, false
	}
	defer unix.Close(c)
	s, err := unix.Getsockname(c)
	if err != nil {
		return sockaddr{}, false
	}
	return fromUnixSockaddr(s)
}

// tgid returns the process (thread group) of thread tid.
func tgid(tid int) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return 0, err
	}
	i := bytes.Index(b, []byte("\nTgid:"))
	if i < 0 {
		return 0, fmt.Errorf("no Tgid in /proc/%d/status", tid)
	}
	rest := bytes.TrimLeft(b[i+6:], " \t")
	if j := bytes.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	return strconv.Atoi(string(rest))
}

// sameIDs reports whether process pid runs with our effective uid and gid, read from
// /proc/PID/status ("Uid:	real	effective	saved	fs").
func sameIDs(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	ids := map[string]int{"Uid:": os.Geteuid(), "Gid:": os.Getegid()}
	found := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) < 3 {
			continue
		}
		want, ok := ids[string(f[0])]
		if !ok {
			continue
		}
		if got, err := strconv.Atoi(string(f[2])); err != nil || got != want {
			return false
		}
		found++
	}
	return found == len(ids)
}

// sameUmask reports whether process pid's umask is ours, so that a socket file we bind in
// its name gets the mode it would have given it.
func sameUmask(pid int) bool {
	theirs, ours := umaskOf(strconv.Itoa(pid)), umaskOf("self")
	return theirs != "" && theirs == ours
}

func umaskOf(pid string) string {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return ""
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if f := bytes.Fields(line); len(f) == 2 && string(f[0]) == "Umask:" {
			return string(f[1])
		}
	}
	return ""
}
