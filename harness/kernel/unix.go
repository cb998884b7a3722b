package kernel

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// unix_diag constants from <linux/unix_diag.h>; x/sys/unix does not carry them.
const (
	udiagShowName  = 0x01
	udiagShowVFS   = 0x02
	udiagShowPeer  = 0x04
	udiagShowIcons = 0x08
	udiagShowRQLen = 0x10

	unixDiagName  = 0
	unixDiagVFS   = 1
	unixDiagPeer  = 2
	unixDiagIcons = 3
	unixDiagRQLen = 4

	unixDiagReqLen = 24 // sizeof(struct unix_diag_req)
	unixDiagMsgLen = 16 // sizeof(struct unix_diag_msg)

	tcpEstablished = 1  // TCP_ESTABLISHED, also used by unix stream sockets
	tcpListen      = 10 // TCP_LISTEN
)

// unixSock is one unix socket from the dump whose bound name is the observed path.
type unixSock struct {
	name           string // the bound path, as the kernel reports it
	ino            uint64
	state          uint8
	hasVFS         bool
	vfsDev, vfsIno uint64 // vfsDev is the kernel's internal dev_t (MAJOR<<20 | MINOR)
	peer           uint64
	icons          []uint64
	rqueue         uint32
}

// unixDiagRequest is the unix_diag_req for every listening or connected unix socket with
// name, VFS inode, peer, pending connections and queue lengths.
func unixDiagRequest() []byte {
	req := make([]byte, unixDiagReqLen)
	req[0] = unix.AF_UNIX
	ne.PutUint32(req[4:8], 1<<tcpListen|1<<tcpEstablished)
	ne.PutUint32(req[12:16], udiagShowName|udiagShowVFS|udiagShowPeer|udiagShowIcons|udiagShowRQLen)
	return req
}

// dumpUnix returns the listening and established unix sockets on the address: bound to
// the path by name, or bound to the file the path names now (now: a socket bound to a
// temporary name and renamed over the path), or to a file a listener on the address was
// once bound to (o.known).
func (o *Observer) dumpUnix(now pathStat) ([]unixSock, error) {
	var socks []unixSock
	knownVFS := map[[2]uint64]bool{}
	for _, vfs := range o.known {
		knownVFS[vfs] = true
	}
	err := sockDiagDump(o.buf, unixDiagRequest(), func(msg []byte) {
		if len(msg) < unixDiagMsgLen || msg[0] != unix.AF_UNIX {
			return
		}
		s := unixSock{state: msg[2], ino: uint64(ne.Uint32(msg[4:8]))}
		matched := false
		forEachAttr(msg[unixDiagMsgLen:], func(typ uint16, val []byte) {
			switch typ {
			case unixDiagName:
				// The kernel includes sun_path's terminating NUL for path sockets.
				s.name = string(bytes.TrimRight(val, "\x00"))
				matched = s.name == o.path || s.name == o.abs
			case unixDiagVFS:
				if len(val) >= 8 {
					s.hasVFS = true
					// struct unix_diag_vfs { __u32 udiag_vfs_ino; __u32 udiag_vfs_dev; }
					s.vfsIno = uint64(ne.Uint32(val[0:4]))
					s.vfsDev = uint64(ne.Uint32(val[4:8]))
				}
			case unixDiagPeer:
				if len(val) >= 4 {
					s.peer = uint64(ne.Uint32(val[0:4]))
				}
			case unixDiagIcons:
				for i := 0; i+4 <= len(val); i += 4 {
					s.icons = append(s.icons, uint64(ne.Uint32(val[i:i+4])))
				}
			case unixDiagRQLen:
				if len(val) >= 8 {
					s.rqueue = ne.Uint32(val[0:4])
				}
			}
		})
		// A listener is on the address by its name, by the file the path names, or as a
		// listener seen there before (by its socket inode); an accepted socket also by
		// its listener's bound file (checked below against the listeners of this dump).
		_, known := o.known[s.ino]
		vfs := s.hasVFS && (now.names(s) || (s.state != tcpListen && knownVFS[[2]uint64{s.vfsDev, s.vfsIno}]))
		if matched || known || vfs {
			socks = append(socks, s)
		}
	})
	// A socket taken for its bound file alone (an accepted socket of a renamed listener)
	// counts only while a listener bound to that file is in this dump: it holds the file,
	// so its inode number names nothing else.
	held := map[[2]uint64]bool{}
	for _, s := range socks {
		if s.state == tcpListen && s.hasVFS {
			held[[2]uint64{s.vfsDev, s.vfsIno}] = true
		}
	}
	socks = slices.DeleteFunc(socks, func(s unixSock) bool {
		_, known := o.known[s.ino]
		byName := s.name == o.path || s.name == o.abs
		return !byName && !known && !now.names(s) && !held[[2]uint64{s.vfsDev, s.vfsIno}]
	})
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("dump unix sockets: %w (the kernel lacks unix_diag: modprobe unix_diag)", err)
		}
		return nil, fmt.Errorf("dump unix sockets: %w", err)
	}
	return socks, nil
}

// pathStat is what the path names now.
type pathStat struct {
	ok       bool
	dev, ino uint64
}

func lstatPath(path string) pathStat {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return pathStat{}
	}
	return pathStat{ok: true, dev: st.Dev, ino: st.Ino}
}

// names reports whether the path names the file a socket was bound to. unix_diag gives
// the kernel's internal dev_t (MAJOR<<20 | MINOR), stat the userspace encoding; and a
// 32-bit inode (udiag_vfs_ino), stat the whole 64-bit one.
func (p pathStat) names(s unixSock) bool {
	return p.ok && s.hasVFS && p.ino&0xffffffff == s.vfsIno &&
		p.dev == unix.Mkdev(uint32(s.vfsDev>>20), uint32(s.vfsDev&(1<<20-1)))
}

func (o *Observer) snapshotUnix(pids []int) (Snapshot, error) {
	var (
		socks []unixSock
		now   pathStat
	)
	for attempt := 1; ; attempt++ {
		// lstat on both sides of the dump: if the path changed meanwhile, orphan
		// judgement would mix two moments, so dump again.
		before := lstatPath(o.path)
		var err error
		socks, err = o.dumpUnix(before)
		if errors.Is(err, errDumpInterrupted) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return Snapshot{}, err
		}
		now = lstatPath(o.path)
		if now == before || attempt == maxAttempts {
			break
		}
	}

	snap := Snapshot{Listeners: []Listener{}, Conns: []Conn{}}
	if now.ok {
		snap.PathInode = now.ino
	}

	var listeners, accepted []unixSock
	pending := map[uint64]uint64{} // client inode -> listener inode, still in a backlog
	var inos []uint64
	for _, s := range socks {
		switch {
		case s.state == tcpListen:
			listeners = append(listeners, s)
			inos = append(inos, s.ino)
			for _, c := range s.icons {
				if c != 0 {
					pending[c] = s.ino
					inos = append(inos, c)
				}
			}
		case s.state == tcpEstablished && s.ino != 0 && s.peer != 0:
			// ino 0: an embryo still in a backlog (no struct socket yet), reported
			// through its listener's icons. peer 0: the client is gone.
			accepted = append(accepted, s)
			inos = append(inos, s.ino, s.peer)
		}
	}
	owners, err := o.owners(pids, inos)
	if err != nil {
		return Snapshot{}, err
	}

	o.known = map[uint64][2]uint64{}
	for _, l := range listeners {
		if l.hasVFS {
			o.known[l.ino] = [2]uint64{l.vfsDev, l.vfsIno}
		}
		name := l.name
		if name == "" || name == o.abs {
			name = o.path
		}
		snap.Listeners = append(snap.Listeners, Listener{
			Inode:    l.ino,
			PIDs:     pidsOf(owners, l.ino),
			Name:     name,
			VFSInode: l.vfsIno,
			Orphaned: !now.names(l),
			Backlog:  int(l.rqueue),
		})
	}
	slices.SortFunc(snap.Listeners, func(a, b Listener) int {
		if a.Orphaned != b.Orphaned {
			if !a.Orphaned {
				return -1
			}
			return 1
		}
		return cmpUint(a.Inode, b.Inode)
	})

	for _, a := range accepted {
		if _, ok := pending[a.peer]; ok {
			continue
		}
		snap.Conns = append(snap.Conns, Conn{
			ClientInode:   a.peer,
			ClientPIDs:    pidsOf(owners, a.peer),
			ServerInode:   a.ino,
			ServerPIDs:    pidsOf(owners, a.ino),
			ListenerInode: listenerOf(a, listeners, owners),
		})
	}
	for c, l := range pending {
		snap.Conns = append(snap.Conns, Conn{
			ClientInode:   c,
			ClientPIDs:    pidsOf(owners, c),
			ServerPIDs:    []int{},
			ListenerInode: l,
		})
	}
	slices.SortFunc(snap.Conns, func(a, b Conn) int { return cmpUint(a.ClientInode, b.ClientInode) })
	return snap, nil
}

// listenerOf returns the listener an accepted socket came from. The kernel copies the
// listener's bound path (dentry) into every socket it accepts, so the VFS inode names the
// listener exactly, even when an orphan and a new listener share a process. Without VFS
// information it falls back to the only listener sharing a process with the socket.
func listenerOf(a unixSock, listeners []unixSock, owners map[uint64][]int) uint64 {
	if a.hasVFS {
		for _, l := range listeners {
			if l.hasVFS && l.vfsIno == a.vfsIno && l.vfsDev == a.vfsDev {
				return l.ino
			}
		}
		return 0
	}
	var found uint64
	for _, l := range listeners {
		for _, p := range owners[l.ino] {
			if slices.Contains(owners[a.ino], p) {
				if found != 0 && found != l.ino {
					return 0
				}
				found = l.ino
			}
		}
	}
	return found
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
