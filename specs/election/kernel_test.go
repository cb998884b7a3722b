package election_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The specs' own kernel oracle: /proc/net/unix, /proc/net/tcp{,6} and /proc/PID/fd, read
// directly, independent of harness/kernel (which the specs use only for what /proc cannot
// say: the file a unix listener was bound to, and which socket is whose peer).

// soAcceptCon is __SO_ACCEPTCON in /proc/net/unix's Flags column: a listening socket.
const soAcceptCon = 0x10000

// unixEntry is one line of /proc/net/unix.
type unixEntry struct {
	Inode uint64
	Flags uint64
	State uint64 // 01 unconnected, 03 connected (SS_CONNECTED)
	Path  string // the bound name, shown even when the file was unlinked (an orphan)
}

func procNetUnix() ([]unixEntry, error) {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil, err
	}
	var out []unixEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Scan() // header
	for sc.Scan() {
		// Num RefCount Protocol Flags Type St Inode [Path]
		f := strings.Fields(sc.Text())
		if len(f) < 7 {
			continue
		}
		var e unixEntry
		if e.Flags, err = strconv.ParseUint(f[3], 16, 64); err != nil {
			return nil, fmt.Errorf("/proc/net/unix flags %q: %w", f[3], err)
		}
		if e.State, err = strconv.ParseUint(f[5], 16, 64); err != nil {
			return nil, fmt.Errorf("/proc/net/unix state %q: %w", f[5], err)
		}
		if e.Inode, err = strconv.ParseUint(f[6], 10, 64); err != nil {
			return nil, fmt.Errorf("/proc/net/unix inode %q: %w", f[6], err)
		}
		if len(f) > 7 {
			e.Path = strings.Join(f[7:], " ")
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// listeningAt returns the inodes of every listening unix socket bound to path, orphans
// included, sorted.
func listeningAt(path string) ([]uint64, error) {
	es, err := procNetUnix()
	if err != nil {
		return nil, err
	}
	var inos []uint64
	for _, e := range es {
		if e.Path == path && e.Flags&soAcceptCon != 0 {
			inos = append(inos, e.Inode)
		}
	}
	slices.Sort(inos)
	return inos, nil
}

// acceptedAt returns the inodes of connected sockets named path: the server ends of accepted
// connections (the kernel gives an accepted socket its listener's name; a client's socket
// is unnamed).
func acceptedAt(path string) ([]uint64, error) {
	es, err := procNetUnix()
	if err != nil {
		return nil, err
	}
	var inos []uint64
	for _, e := range es {
		if e.Path == path && e.Flags&soAcceptCon == 0 && e.State == 3 {
			inos = append(inos, e.Inode)
		}
	}
	slices.Sort(inos)
	return inos, nil
}

// socketsOf returns the socket inodes pid holds open. A process that is gone holds none.
func socketsOf(pid int) map[uint64]bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	held := map[uint64]bool{}
	if err != nil {
		return held
	}
	for _, e := range ents {
		l, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue
		}
		if s, ok := strings.CutPrefix(l, "socket:["); ok {
			if n, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil {
				held[n] = true
			}
		}
	}
	return held
}

// heldBy returns the inodes among inos that pid holds.
func heldBy(pid int, inos []uint64) []uint64 {
	held := socketsOf(pid)
	var out []uint64
	for _, i := range inos {
		if held[i] {
			out = append(out, i)
		}
	}
	return out
}

// pathInode returns the inode the path names (lstat), 0 if nothing is there.
func pathInode(path string) uint64 {
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return 0
	}
	return st.Ino
}

// tcpEntry is one line of /proc/net/tcp or /proc/net/tcp6.
type tcpEntry struct {
	Local, Remote netip.AddrPort
	State         uint64 // 01 ESTABLISHED, 0A LISTEN
	Inode         uint64
}

const (
	tcpEstablished = 0x01
	tcpListen      = 0x0A
)

func procNetTCP() ([]tcpEntry, error) {
	var out []tcpEntry
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			if os.IsNotExist(err) && file == "/proc/net/tcp6" {
				continue
			}
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan()
		for sc.Scan() {
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
			f := strings.Fields(sc.Text())
			if len(f) < 10 {
				continue
			}
			var e tcpEntry
			if e.Local, err = parseHexAddr(f[1]); err != nil {
				return nil, err
			}
			if e.Remote, err = parseHexAddr(f[2]); err != nil {
				return nil, err
			}
			if e.State, err = strconv.ParseUint(f[3], 16, 64); err != nil {
				return nil, err
			}
			if e.Inode, err = strconv.ParseUint(f[9], 10, 64); err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// parseHexAddr reads /proc/net/tcp's "0100007F:1F90": the address as 32-bit words in host
// (little-endian) order, the port big-endian hex.
func parseHexAddr(s string) (netip.AddrPort, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("tcp address %q", s)
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, fmt.Errorf("tcp address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("tcp port %q", s)
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// tcpListenersOn returns the inodes of every TCP socket listening on port, any address and
// family.
func tcpListenersOn(port int) ([]uint64, error) {
	es, err := procNetTCP()
	if err != nil {
		return nil, err
	}
	var inos []uint64
	for _, e := range es {
		if e.State == tcpListen && int(e.Local.Port()) == port {
			inos = append(inos, e.Inode)
		}
	}
	return inos, nil
}

// tcpEstablished returns the ESTABLISHED server ends (local port = port) and client ends
// (remote port = port) of loopback connections to port.
func tcpEstablishedTo(port int) (server, client []uint64, err error) {
	es, err := procNetTCP()
	if err != nil {
		return nil, nil, err
	}
	for _, e := range es {
		if e.State != tcpEstablished || !e.Local.Addr().IsLoopback() {
			continue
		}
		if int(e.Local.Port()) == port {
			server = append(server, e.Inode)
		}
		if int(e.Remote.Port()) == port {
			client = append(client, e.Inode)
		}
	}
	return server, client, nil
}
