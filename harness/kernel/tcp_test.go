package kernel

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"testing"
)

func TestNewTCPRejectsNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:7000", "[::]:7000", "10.0.0.1:7000", "127.0.0.1:0", "127.0.0.2:7000", "localhost:7000", "[fe80::1%lo]:7000", "127.0.0.1"} {
		if _, err := NewTCP(addr); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("NewTCP(%q) error = %v, want ErrNotLoopback", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:7000", "[::1]:7000"} {
		if _, err := NewTCP(addr); err != nil {
			t.Errorf("NewTCP(%q) = %v, want ok", addr, err)
		}
	}
}

func listenTCP(t *testing.T, network, addr string) *net.TCPListener {
	t.Helper()
	l, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l.(*net.TCPListener)
}

func TestTCPListenerAndConnections(t *testing.T) {
	l := listenTCP(t, "tcp4", "127.0.0.1:0")
	addr := l.Addr().String()
	o, err := NewTCP(addr)
	if err != nil {
		t.Fatal(err)
	}
	li := mustInode(t, l)

	client := startChild(t, "dial", "tcp!"+addr)
	pids := []int{os.Getpid(), client.pid}
	// connect returns before the loopback softirq may have queued the server's side.
	s := waitSnapshot(t, o, pids, func(s Snapshot) bool { return len(s.Conns) > 0 })
	want := Listener{Inode: li, PIDs: self(), Name: addr, Backlog: 1}
	if len(s.Listeners) != 1 || !equalListener(s.Listeners[0], want) {
		t.Fatalf("before accept: listeners = %+v, want only %+v", s.Listeners, want)
	}
	wantConn := Conn{ClientInode: client.inode, ClientPIDs: []int{client.pid}, ServerPIDs: []int{}, ListenerInode: li}
	if c, ok := findConn(s, client.inode); !ok || len(s.Conns) != 1 || !equalConn(c, wantConn) {
		t.Fatalf("before accept: conns = %+v, want only %+v", s.Conns, wantConn)
	}

	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s, err = o.Snapshot(pids)
	if err != nil {
		t.Fatal(err)
	}
	wantConn.ServerInode, wantConn.ServerPIDs = mustInode(t, a), self()
	if c, ok := findConn(s, client.inode); !ok || len(s.Conns) != 1 || !equalConn(c, wantConn) {
		t.Fatalf("after accept: conns = %+v, want only %+v", s.Conns, wantConn)
	}
	if s.Listeners[0].Backlog != 0 {
		t.Fatalf("after accept: backlog %d, want 0", s.Listeners[0].Backlog)
	}

	// A connection whose listener closed is still seen, with no listener.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = o.Snapshot(pids)
	if err != nil {
		t.Fatal(err)
	}
	wantConn.ListenerInode = 0
	if c, ok := findConn(s, client.inode); len(s.Listeners) != 0 || !ok || !equalConn(c, wantConn) {
		t.Fatalf("after listener close: %+v, want no listener and conn %+v", s, wantConn)
	}
}

// TestTCPIPv4AndIPv6ListenersAreTwo is the TCP split brain: one port, two families.
func TestTCPIPv4AndIPv6ListenersAreTwo(t *testing.T) {
	l4 := listenTCP(t, "tcp4", "127.0.0.1:0")
	port := l4.Addr().(*net.TCPAddr).Port
	l6, err := net.Listen("tcp6", "[::1]:"+strconv.Itoa(port))
	if err != nil {
		t.Skipf("no IPv6 loopback listener on port %d: %v", port, err)
	}
	defer l6.Close()
	i4, i6 := mustInode(t, l4), mustInode(t, l6)

	for _, tc := range []struct {
		addr              string
		reachable, orphan uint64
	}{
		{addr: "127.0.0.1:" + strconv.Itoa(port), reachable: i4, orphan: i6},
		{addr: "[::1]:" + strconv.Itoa(port), reachable: i6, orphan: i4},
	} {
		o, err := NewTCP(tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		s, err := o.Snapshot(self())
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Listeners) != 2 {
			t.Fatalf("%s: listeners = %+v, want two", tc.addr, s.Listeners)
		}
		r, ok := s.Reachable()
		other, _ := findListener(s, tc.orphan)
		if !ok || r.Inode != tc.reachable || !other.Orphaned || !slices.Equal(other.PIDs, self()) {
			t.Fatalf("%s: listeners = %+v, want %d reachable and %d orphaned, both ours", tc.addr, s.Listeners, tc.reachable, tc.orphan)
		}
	}
}

func TestTCPWildcardListenerIsSeen(t *testing.T) {
	l := listenTCP(t, "tcp", ":0") // dual-stack [::] when IPv6 exists, else 0.0.0.0
	port := l.Addr().(*net.TCPAddr).Port
	o, err := NewTCP("127.0.0.1:" + strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	s, err := o.Snapshot(self())
	if err != nil {
		t.Fatal(err)
	}
	li := mustInode(t, l)
	if len(s.Listeners) != 1 || s.Listeners[0].Inode != li || s.Listeners[0].Orphaned {
		t.Fatalf("listeners = %+v, want the wildcard %d, reachable", s.Listeners, li)
	}
	want := Conn{ClientInode: mustInode(t, c), ClientPIDs: self(), ServerInode: mustInode(t, a), ServerPIDs: self(), ListenerInode: li}
	if got, ok := findConn(s, want.ClientInode); !ok || len(s.Conns) != 1 || !equalConn(got, want) {
		t.Fatalf("conns = %+v, want only %+v", s.Conns, want)
	}
}

// TestProcNetTCPFallbackAgrees checks the /proc/net/tcp parser against inet_diag.
func TestProcNetTCPFallbackAgrees(t *testing.T) {
	l := listenTCP(t, "tcp4", "127.0.0.1:0")
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o, err := NewTCP(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	key := func(s inetSock) string {
		return strconv.Itoa(int(s.state)) + " " + s.local.String() + " " + s.remote.String() + " " +
			strconv.FormatUint(s.ino, 10) + " " + strconv.Itoa(int(s.rqueue))
	}
	// Wait for the server side of the connection (queued by the loopback softirq).
	waitSnapshot(t, o, self(), func(s Snapshot) bool { return len(s.Conns) > 0 })
	viaDiag, err := o.dumpTCP()
	if err != nil {
		t.Fatal(err)
	}
	viaProc, err := readProcNetTCP(port)
	if err != nil {
		t.Fatal(err)
	}
	var a, b []string
	for _, s := range viaDiag {
		a = append(a, key(s))
	}
	for _, s := range viaProc {
		b = append(b, key(s))
	}
	slices.Sort(a)
	slices.Sort(b)
	if len(a) != 3 || !slices.Equal(a, b) {
		t.Fatalf("inet_diag %q\n/proc/net/tcp %q\nwant the same three sockets", a, b)
	}
	if want := netip.MustParseAddrPort(l.Addr().String()); !slices.ContainsFunc(viaProc, func(s inetSock) bool {
		return s.state == tcpListen && s.local == want
	}) {
		t.Fatalf("/proc/net/tcp: no listener %s in %q", want, b)
	}
}
