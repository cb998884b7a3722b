package syscalls

import (
	"path/filepath"

	"golang.org/x/sys/unix"
)

// names maps this architecture's numbers back to the call names.
var names = func() map[uint32]string {
	m := map[uint32]string{}
	for name, nr := range callNumbers {
		m[nr] = name
	}
	return m
}()

// classify reads the arguments of a notified call and returns the Call if it touches the
// election, or nil to let it go on at once. Anything it cannot read is let go: the
// supervisor must never stall a program it does not understand.
func (s *Supervisor) classify(fd int, n *seccompNotif, peer string) *Call {
	name, ok := names[uint32(n.Data.Nr)]
	if !ok {
		return nil
	}
	tid, a := int(n.PID), n.Data.Args
	c := &Call{Name: name, Phase: Before, TID: tid, Peer: peer, FD: -1, id: n.ID}
	switch name {
	case "bind", "connect":
		sa, ok, _ := readSockaddr(tid, a[1], a[2])
		if !ok || !s.matchSockaddr(tid, &sa) {
			return nil
		}
		c.FD, c.Addr, c.sa = int(int32(a[0])), sa.String(), sa
		// bind on the address is observed before: the state an unlink left shows there.
		c.Key = name == "bind" && s.isAddr(&sa)
	case "listen", "accept", "accept4":
		pid, err := tgid(tid)
		if err != nil {
			return nil
		}
		pidfd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			return nil
		}
		sa, ok := sockName(pidfd, int32(a[0]))
		unix.Close(pidfd)
		if !ok || !s.matchSockaddr(tid, &sa) {
			return nil
		}
		c.FD, c.Addr, c.Key = int(int32(a[0])), sa.String(), name == "listen" && s.isAddr(&sa)
	case "unlink", "unlinkat":
		dirfd, ptr := atFDCWD, a[0]
		if name == "unlinkat" {
			dirfd, ptr = int32(a[0]), a[1]
		}
		p, err := readPath(tid, ptr)
		if err != nil {
			return nil
		}
		c.Path = resolve(tid, dirfd, p)
		if !s.matchPath(c.Path) {
			return nil
		}
		c.Key = c.Path == s.cfg.Addr
	case "rename", "renameat", "renameat2":
		d1, p1, d2, p2 := atFDCWD, a[0], atFDCWD, a[1]
		if name != "rename" {
			d1, p1, d2, p2 = int32(a[0]), a[1], int32(a[2]), a[3]
		}
		old, err1 := readPath(tid, p1)
		nw, err2 := readPath(tid, p2)
		if err1 != nil || err2 != nil {
			return nil
		}
		c.Path, c.Path2 = resolve(tid, d1, old), resolve(tid, d2, nw)
		if !s.matchPath(c.Path) && !s.matchPath(c.Path2) {
			return nil
		}
		c.Key = c.Path == s.cfg.Addr || c.Path2 == s.cfg.Addr
	case "flock", "fcntl":
		p := fdPath(tid, int32(a[0]))
		if p == "" || !s.matchPath(p) {
			return nil
		}
		c.FD, c.Path = int(int32(a[0])), p
	}
	pid, err := tgid(tid)
	if err != nil {
		return nil
	}
	c.PID = pid
	// What we read is the caller's only if it is still blocked in this very call (the
	// thread could have died and its tid been reused while we read).
	if !idValid(fd, n.ID) {
		return nil
	}
	return c
}

// matchPath: the address itself, its folder, or an entry of its folder (lock files).
func (s *Supervisor) matchPath(p string) bool {
	if s.cfg.Transport == "unix" && p == s.cfg.Addr {
		return true
	}
	return s.cfg.Dir != "" && (p == s.cfg.Dir || filepath.Dir(p) == s.cfg.Dir)
}

// matchSockaddr resolves a relative unix path against the caller's cwd, then matches.
func (s *Supervisor) matchSockaddr(tid int, sa *sockaddr) bool {
	if sa.inet {
		return s.cfg.Transport == "tcp" && sa.ap.Port() == s.tcpPort
	}
	if sa.abstract || sa.unix == "" || s.cfg.Transport != "unix" {
		return false
	}
	sa.unix = resolve(tid, atFDCWD, sa.unix)
	return s.matchPath(sa.unix)
}

func (s *Supervisor) isAddr(sa *sockaddr) bool {
	if sa.inet {
		return sa.ap.Port() == s.tcpPort
	}
	return sa.unix == s.cfg.Addr
}
