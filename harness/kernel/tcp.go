package kernel

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// inet_diag constants from <linux/inet_diag.h>.
const (
	inetDiagReqLen   = 56 // sizeof(struct inet_diag_req_v2)
	inetDiagMsgLen   = 72 // sizeof(struct inet_diag_msg)
	inetDiagSKV6Only = 11 // INET_DIAG_SKV6ONLY, sent for every listening AF_INET6 socket
)

// inetSock is one TCP socket on the observed port.
type inetSock struct {
	family        uint8
	state         uint8
	local, remote netip.AddrPort // as the kernel reports them (v4-mapped kept)
	rqueue        uint32         // for a listener: connections waiting in accept
	ino           uint64         // 0 for a connection not accepted yet
	v6only        bool
}

func inetDiagRequest(family uint8) []byte {
	req := make([]byte, inetDiagReqLen)
	req[0] = family
	req[1] = unix.IPPROTO_TCP
	ne.PutUint32(req[4:8], 1<<tcpListen|1<<tcpEstablished)
	return req
}

// dumpTCP returns the listening and established TCP sockets with the port at either end,
// from inet_diag, or from /proc/net/tcp{,6} when inet_diag is unavailable.
func (o *Observer) dumpTCP() ([]inetSock, error) {
	port := o.addr.Port()
	var socks []inetSock
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		err := sockDiagDump(o.buf, inetDiagRequest(family), func(msg []byte) {
			if len(msg) < inetDiagMsgLen {
				return
			}
			sport := beUint16(msg[4:6])
			dport := beUint16(msg[6:8])
			if sport != port && dport != port {
				return
			}
			s := inetSock{
				family: msg[0],
				state:  msg[1],
				local:  netip.AddrPortFrom(inetAddr(msg[0], msg[8:24]), sport),
				remote: netip.AddrPortFrom(inetAddr(msg[0], msg[24:40]), dport),
				rqueue: ne.Uint32(msg[56:60]),
				ino:    uint64(ne.Uint32(msg[68:72])),
			}
			forEachAttr(msg[inetDiagMsgLen:], func(typ uint16, val []byte) {
				if typ == inetDiagSKV6Only && len(val) >= 1 {
					s.v6only = val[0] != 0
				}
			})
			socks = append(socks, s)
		})
		if errors.Is(err, errDumpInterrupted) {
			return nil, err
		}
		if err != nil {
			fallback, ferr := readProcNetTCP(port)
			if ferr != nil {
				return nil, fmt.Errorf("dump tcp sockets: %w; fallback /proc/net/tcp: %w", err, ferr)
			}
			return fallback, nil
		}
	}
	return socks, nil
}

func beUint16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func inetAddr(family uint8, b []byte) netip.Addr {
	if family == unix.AF_INET {
		return netip.AddrFrom4([4]byte(b[:4]))
	}
	return netip.AddrFrom16([16]byte(b[:16]))
}

// readProcNetTCP is the fallback for kernels without inet_diag. It cannot tell
// IPV6_V6ONLY, so an AF_INET6 wildcard listener is taken as dual-stack.
func readProcNetTCP(port uint16) ([]inetSock, error) {
	var socks []inetSock
	for _, f := range []struct {
		path   string
		family uint8
	}{{"/proc/net/tcp", unix.AF_INET}, {"/proc/net/tcp6", unix.AF_INET6}} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			if f.family == unix.AF_INET6 && errors.Is(err, os.ErrNotExist) {
				continue // no IPv6 in this kernel
			}
			return nil, err
		}
		got, err := parseProcNetTCP(b, f.family, port)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", f.path, err)
		}
		socks = append(socks, got...)
	}
	return socks, nil
}

// parseProcNetTCP parses the /proc/net/tcp{,6} table, keeping listening and established
// sockets with port at either end.
func parseProcNetTCP(b []byte, family uint8, port uint16) ([]inetSock, error) {
	var socks []inetSock
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Scan() // header
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) < 10 {
			continue
		}
		local, err := parseProcAddr(string(f[1]))
		if err != nil {
			return nil, err
		}
		remote, err := parseProcAddr(string(f[2]))
		if err != nil {
			return nil, err
		}
		if local.Port() != port && remote.Port() != port {
			continue
		}
		st, err := strconv.ParseUint(string(f[3]), 16, 8)
		if err != nil {
			return nil, fmt.Errorf("state %q: %w", f[3], err)
		}
		if st != tcpListen && st != tcpEstablished {
			continue
		}
		var rq uint64
		if _, q, ok := bytes.Cut(f[4], []byte(":")); ok {
			rq, _ = strconv.ParseUint(string(q), 16, 32)
		}
		ino, err := strconv.ParseUint(string(f[9]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("inode %q: %w", f[9], err)
		}
		socks = append(socks, inetSock{family: family, state: uint8(st), local: local, remote: remote, rqueue: uint32(rq), ino: ino})
	}
	return socks, sc.Err()
}

// parseProcAddr parses "0100007F:1F90": the address as the kernel's 32-bit words printed
// in host byte order, then the port.
func parseProcAddr(s string) (netip.AddrPort, error) {
	hexAddr, hexPort, ok := bytes.Cut([]byte(s), []byte(":"))
	if !ok || (len(hexAddr) != 8 && len(hexAddr) != 32) {
		return netip.AddrPort{}, fmt.Errorf("address %q", s)
	}
	var raw [16]byte
	for i := 0; i < len(hexAddr)/8; i++ {
		w, err := strconv.ParseUint(string(hexAddr[i*8:i*8+8]), 16, 32)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("address %q: %w", s, err)
		}
		ne.PutUint32(raw[i*4:], uint32(w))
	}
	p, err := strconv.ParseUint(string(hexPort), 16, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("port %q: %w", s, err)
	}
	var a netip.Addr
	if len(hexAddr) == 8 {
		a = netip.AddrFrom4([4]byte(raw[:4]))
	} else {
		a = netip.AddrFrom16(raw)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

var (
	loop4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	loop6 = netip.IPv6Loopback()
)

// reachable reports whether a client dialing o.addr can reach listener l.
func (o *Observer) reachable(l inetSock) bool {
	a := l.local.Addr()
	if o.addr.Addr().Is4() {
		if l.family == unix.AF_INET {
			return a == loop4 || a.IsUnspecified()
		}
		return a.Unmap() == loop4 || (a.IsUnspecified() && !l.v6only)
	}
	return l.family == unix.AF_INET6 && (a == loop6 || a.IsUnspecified())
}

// accepts reports whether listener l would own an accepted socket with local address a.
// exact is true when l is bound to a itself rather than to a wildcard.
func accepts(l inetSock, family uint8, a netip.AddrPort) (ok, exact bool) {
	la := l.local.Addr()
	if l.local.Port() != a.Port() || l.family != family {
		return false, false
	}
	if la == a.Addr() {
		return true, true
	}
	return la.IsUnspecified(), false
}

func (o *Observer) snapshotTCP(pids []int) (Snapshot, error) {
	// IPv4 and IPv6 are two dumps, so one dump pair may mix two moments (a leader that
	// listens on both loopbacks caught between its two listen calls, or between the closes
	// of a killed one): dump again until two pairs agree on the listeners.
	var socks, prev []inetSock
	for attempt := 1; ; attempt++ {
		var err error
		socks, err = o.dumpTCP()
		if errors.Is(err, errDumpInterrupted) && attempt < maxAttempts {
			continue
		}
		if err != nil {
			return Snapshot{}, err
		}
		if attempt > 1 && sameListeners(prev, socks) || attempt >= maxAttempts {
			break
		}
		prev = socks
	}
	port := o.addr.Port()

	var listeners, servers []inetSock
	clients := map[[2]netip.AddrPort]inetSock{} // (local, remote) unmapped -> client side
	var inos []uint64
	for _, s := range socks {
		switch {
		// A listener on the port counts whatever address it is bound to: the loopbacks
		// and wildcards contend for the election, and any other address (a LAN address,
		// another 127/8 address) is the port opened beyond loopback, which the exposure
		// checker must see. Only those a client of 127.0.0.1:PORT reaches are reachable.
		case s.state == tcpListen && s.local.Port() == port:
			listeners = append(listeners, s)
			inos = append(inos, s.ino)
		case s.state == tcpEstablished:
			if s.local.Port() == port {
				servers = append(servers, s)
				inos = append(inos, s.ino)
			}
			if s.remote.Port() == port {
				clients[[2]netip.AddrPort{unmap(s.local), unmap(s.remote)}] = s
				inos = append(inos, s.ino)
			}
		}
	}
	owners, err := o.owners(pids, inos)
	if err != nil {
		return Snapshot{}, err
	}

	snap := Snapshot{Listeners: []Listener{}, Conns: []Conn{}}
	for _, l := range listeners {
		snap.Listeners = append(snap.Listeners, Listener{
			Inode:    l.ino,
			PIDs:     pidsOf(owners, l.ino),
			Name:     l.local.String(),
			Orphaned: !o.reachable(l),
			Backlog:  int(l.rqueue),
		})
	}
	// Reachable first; among those, the kernel's preference: a specific address before a
	// wildcard, IPv4 before IPv6.
	rank := func(l Listener) int {
		ap, _ := netip.ParseAddrPort(l.Name)
		r := 0
		if l.Orphaned {
			r += 4
		}
		if ap.Addr().IsUnspecified() {
			r += 2
		}
		if !ap.Addr().Is4() {
			r++
		}
		return r
	}
	slices.SortFunc(snap.Listeners, func(a, b Listener) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return cmpUint(a.Inode, b.Inode)
	})

	for _, srv := range servers {
		if !srv.remote.Addr().Unmap().IsLoopback() {
			continue // not a loopback client: no peer of ours
		}
		if u := srv.local.Addr().Unmap(); u != loop4 && u != loop6 {
			continue // dialed an address we do not observe
		}
		cli, ok := clients[[2]netip.AddrPort{unmap(srv.remote), unmap(srv.local)}]
		if !ok {
			continue // client side already closing
		}
		var lino uint64
		for _, l := range listeners {
			if ok, exact := accepts(l, srv.family, srv.local); ok {
				lino = l.ino
				if exact {
					break
				}
			}
		}
		snap.Conns = append(snap.Conns, Conn{
			ClientInode:   cli.ino,
			ClientPIDs:    pidsOf(owners, cli.ino),
			ServerInode:   srv.ino,
			ServerPIDs:    pidsOf(owners, srv.ino),
			ListenerInode: lino,
		})
	}
	slices.SortFunc(snap.Conns, func(a, b Conn) int { return cmpUint(a.ClientInode, b.ClientInode) })
	return snap, nil
}

func unmap(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }

// sameListeners reports whether two dumps show the same listening sockets.
func sameListeners(a, b []inetSock) bool {
	listening := func(socks []inetSock) []uint64 {
		var out []uint64
		for _, s := range socks {
			if s.state == tcpListen {
				out = append(out, s.ino)
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(listening(a), listening(b))
}
