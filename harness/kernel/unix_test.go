package kernel

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUnixListenerFoundWithPID(t *testing.T) {
	path := sockPath(t)
	o := NewUnix(path)

	s, err := o.Snapshot(self())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Listeners) != 0 || s.PathInode != 0 {
		t.Fatalf("before listen: %+v, want no listener and no path", s)
	}

	l := listenUnix(t, path)
	ino := mustInode(t, l)
	s, err = o.Snapshot(self())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Listeners) != 1 {
		t.Fatalf("listeners = %+v, want exactly one", s.Listeners)
	}
	got := s.Listeners[0]
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	want := Listener{Inode: ino, PIDs: []int{os.Getpid()}, Name: path, VFSInode: st.Ino}
	if !equalListener(got, want) {
		t.Fatalf("listener = %+v, want %+v", got, want)
	}
	if s.PathInode != st.Ino {
		t.Fatalf("PathInode = %d, want %d", s.PathInode, st.Ino)
	}
	if r, ok := s.Reachable(); !ok || r.Inode != ino {
		t.Fatalf("Reachable() = %+v, %v; want the listener", r, ok)
	}
}

func TestUnixListenerInChildAttributedToChild(t *testing.T) {
	path := sockPath(t)
	c := startChild(t, "listen-unix", path)
	o := NewUnix(path)
	for _, pids := range [][]int{{c.pid}, nil} {
		s, err := o.Snapshot(pids)
		if err != nil {
			t.Fatal(err)
		}
		l, ok := findListener(s, c.inode)
		if !ok || len(s.Listeners) != 1 {
			t.Fatalf("pids %v: listeners = %+v, want only the child's %d", pids, s.Listeners, c.inode)
		}
		if !slices.Equal(l.PIDs, []int{c.pid}) || l.Orphaned {
			t.Fatalf("pids %v: listener = %+v, want pid %d, not orphaned", pids, l, c.pid)
		}
	}
	// Outside the scan, the listener is still seen, without owner.
	s, err := o.Snapshot(self())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Listeners) != 1 || len(s.Listeners[0].PIDs) != 0 || s.Listeners[0].PIDs == nil {
		t.Fatalf("scan of self only: listeners = %+v, want one with PIDs []", s.Listeners)
	}
}

// TestUnixOrphanIsASecondListener is the split brain the harness exists to see: a
// second listener bound after the first one's path was unlinked.
func TestUnixOrphanIsASecondListener(t *testing.T) {
	path := sockPath(t)
	o := NewUnix(path)

	l1 := listenUnix(t, path)
	c1, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	a1, err := l1.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a1.Close()

	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	s, err := o.Snapshot(self())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Listeners) != 1 || !s.Listeners[0].Orphaned || s.PathInode != 0 {
		t.Fatalf("after unlink: %+v, want one orphaned listener and no path", s)
	}
	if _, ok := s.Reachable(); ok {
		t.Fatalf("after unlink: Reachable() found %+v, want none", s)
	}

	l2 := listenUnix(t, path)
	c2, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	a2, err := l2.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()

	s, err = o.Snapshot(self())
	if err != nil {
		t.Fatal(err)
	}
	i1, i2 := mustInode(t, l1), mustInode(t, l2)
	if len(s.Listeners) != 2 {
		t.Fatalf("listeners = %+v, want two", s.Listeners)
	}
	first, _ := findListener(s, i1)
	second, _ := findListener(s, i2)
	if !first.Orphaned || second.Orphaned {
		t.Fatalf("listeners = %+v, want %d orphaned and %d reachable", s.Listeners, i1, i2)
	}
	if s.PathInode != second.VFSInode || first.VFSInode == second.VFSInode {
		t.Fatalf("PathInode %d, listeners %+v: path must name the second listener's file only", s.PathInode, s.Listeners)
	}
	if r, _ := s.Reachable(); r.Inode != i2 {
		t.Fatalf("Reachable() = %d, want %d", r.Inode, i2)
	}

	// Both listeners live in this process: only the bound file tells the clients apart.
	for _, tc := range []struct {
		client, server any
		listener       uint64
	}{{client: c1, server: a1, listener: i1}, {client: c2, server: a2, listener: i2}} {
		ci, si := mustInode(t, tc.client), mustInode(t, tc.server)
		conn, ok := findConn(s, ci)
		if !ok {
			t.Fatalf("no conn for client %d in %+v", ci, s.Conns)
		}
		want := Conn{ClientInode: ci, ClientPIDs: self(), ServerInode: si, ServerPIDs: self(), ListenerInode: tc.listener}
		if !equalConn(conn, want) {
			t.Fatalf("conn = %+v, want %+v", conn, want)
		}
	}
	if len(s.Conns) != 2 {
		t.Fatalf("conns = %+v, want two", s.Conns)
	}
}

func TestUnixBacklogSeenBeforeAccept(t *testing.T) {
	path := sockPath(t)
	o := NewUnix(path)
	l := listenUnix(t, path)
	li := mustInode(t, l)

	client := startChild(t, "dial", "unix!"+path)
	s, err := o.Snapshot([]int{os.Getpid(), client.pid})
	if err != nil {
		t.Fatal(err)
	}
	conn, ok := findConn(s, client.inode)
	want := Conn{ClientInode: client.inode, ClientPIDs: []int{client.pid}, ServerPIDs: []int{}, ListenerInode: li}
	if !ok || len(s.Conns) != 1 || !equalConn(conn, want) {
		t.Fatalf("before accept: conns = %+v, want only %+v", s.Conns, want)
	}
	if len(s.Listeners) != 1 || s.Listeners[0].Backlog != 1 {
		t.Fatalf("before accept: listeners = %+v, want backlog 1", s.Listeners)
	}

	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s, err = o.Snapshot([]int{os.Getpid(), client.pid})
	if err != nil {
		t.Fatal(err)
	}
	conn, _ = findConn(s, client.inode)
	want.ServerInode, want.ServerPIDs = mustInode(t, a), self()
	if len(s.Conns) != 1 || !equalConn(conn, want) {
		t.Fatalf("after accept: conns = %+v, want only %+v", s.Conns, want)
	}
	if s.Listeners[0].Backlog != 0 {
		t.Fatalf("after accept: backlog %d, want 0", s.Listeners[0].Backlog)
	}
}

// TestUnixAgreesWithSSAndProcNetUnix checks the listeners against the two other views of
// the kernel: ss(8) and /proc/net/unix.
func TestUnixAgreesWithSSAndProcNetUnix(t *testing.T) {
	path := sockPath(t)
	o := NewUnix(path)
	l1 := listenUnix(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	l2 := listenUnix(t, path)
	child := startChild(t, "dial", "unix!"+path) // one in the backlog

	s, err := o.Snapshot(nil)
	if err != nil {
		t.Fatal(err)
	}
	var ours []uint64
	for _, l := range s.Listeners {
		ours = append(ours, l.Inode)
	}
	slices.Sort(ours)
	want := []uint64{mustInode(t, l1), mustInode(t, l2)}
	slices.Sort(want)
	if !slices.Equal(ours, want) {
		t.Fatalf("our listeners %v, want %v", ours, want)
	}

	// /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path; Flags 00010000 is
	// __SO_ACCEPTCON, a listening socket.
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Fatal(err)
	}
	var proc []uint64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 8 && f[7] == path && f[3] == "00010000" {
			ino, _ := strconv.ParseUint(f[6], 10, 64)
			proc = append(proc, ino)
		}
	}
	slices.Sort(proc)
	if !slices.Equal(ours, proc) {
		t.Fatalf("our listeners %v, /proc/net/unix says %v", ours, proc)
	}

	ssBin, err := exec.LookPath("ss")
	if err != nil {
		t.Skip("ss not installed; /proc/net/unix agreed")
	}
	// ss -xlnpH: Netid State Recv-Q Send-Q Local Port Peer PeerPort Process
	out, err := exec.Command(ssBin, "-xlnpH").Output()
	if err != nil {
		t.Fatalf("ss -xlnpH: %v", err)
	}
	var viaSS []uint64
	backlog := map[uint64]int{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[4] == path {
			ino, _ := strconv.ParseUint(f[5], 10, 64)
			viaSS = append(viaSS, ino)
			backlog[ino], _ = strconv.Atoi(f[2])
			if !strings.Contains(line, "pid="+strconv.Itoa(os.Getpid())+",") {
				t.Errorf("ss line %q lacks our pid", line)
			}
		}
	}
	slices.Sort(viaSS)
	if !slices.Equal(ours, viaSS) {
		t.Fatalf("our listeners %v, ss -xl says %v", ours, viaSS)
	}
	for _, l := range s.Listeners {
		if backlog[l.Inode] != l.Backlog {
			t.Errorf("listener %d: backlog %d, ss Recv-Q %d", l.Inode, l.Backlog, backlog[l.Inode])
		}
	}
	if c, ok := findConn(s, child.inode); !ok || c.ListenerInode != mustInode(t, l2) {
		t.Errorf("child's pending connection %+v not attributed to the reachable listener", c)
	}
}

func TestUnixRelativePathMatchesAbsoluteBind(t *testing.T) {
	path := sockPath(t)
	l := listenUnix(t, path)
	dir, name := path[:strings.LastIndexByte(path, '/')], path[strings.LastIndexByte(path, '/')+1:]
	t.Chdir(dir)
	s, err := NewUnix(name).Snapshot(self())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Listeners) != 1 || s.Listeners[0].Inode != mustInode(t, l) || s.Listeners[0].Orphaned {
		t.Fatalf("relative observer: listeners %+v, want the absolute-path listener, reachable", s.Listeners)
	}
}

func equalListener(a, b Listener) bool {
	return a.Inode == b.Inode && slices.Equal(a.PIDs, b.PIDs) && a.Name == b.Name &&
		a.VFSInode == b.VFSInode && a.Orphaned == b.Orphaned && a.Backlog == b.Backlog
}

func equalConn(a, b Conn) bool {
	return a.ClientInode == b.ClientInode && slices.Equal(a.ClientPIDs, b.ClientPIDs) &&
		a.ServerInode == b.ServerInode && slices.Equal(a.ServerPIDs, b.ServerPIDs) &&
		a.ListenerInode == b.ListenerInode
}

// unix_diag reports a bound file's inode in 32 bits, lstat in 64: a path on a filesystem
// with inode numbers past 2^32 (xfs, btrfs, tmpfs with inode64) must still be seen as
// naming its socket, and a different file with the same low bits must not match on the
// device alone.
func TestPathNamesA32BitVFSInode(t *testing.T) {
	dev := unix.Mkdev(8, 1)
	kdev := uint64(8)<<20 | 1 // the kernel's internal encoding, as unix_diag gives it
	sock := unixSock{hasVFS: true, vfsIno: 5, vfsDev: kdev}
	if !(pathStat{ok: true, dev: dev, ino: 1<<32 | 5}).names(sock) {
		t.Error("inode 2^32+5 does not name the socket bound to inode 5 (32 bits)")
	}
	if (pathStat{ok: true, dev: dev, ino: 6}).names(sock) {
		t.Error("inode 6 names the socket bound to inode 5")
	}
	if (pathStat{ok: true, dev: unix.Mkdev(8, 2), ino: 5}).names(sock) {
		t.Error("another device's inode 5 names the socket")
	}
}

// A leader that binds a temporary name and renames it over the path is on the address;
// once another socket is renamed over it, it is an orphan of the address.
func TestRenamedListenerIsOnTheAddressThenOrphaned(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/s"
	listen := func(name string) *net.UnixListener {
		t.Helper()
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		l.SetUnlinkOnClose(false)
		t.Cleanup(func() { l.Close() })
		return l
	}
	o := NewUnix(path)
	listen(dir + "/tmp1")
	if err := os.Rename(dir+"/tmp1", path); err != nil {
		t.Fatal(err)
	}
	s, err := o.Snapshot([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Listeners) != 1 || s.Listeners[0].Orphaned || s.Listeners[0].Name != dir+"/tmp1" {
		t.Fatalf("after the first rename: %+v", s.Listeners)
	}
	listen(dir + "/tmp2")
	if err := os.Rename(dir+"/tmp2", path); err != nil {
		t.Fatal(err)
	}
	s, err = o.Snapshot([]int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Listeners) != 2 || s.Listeners[0].Orphaned || !s.Listeners[1].Orphaned || s.Listeners[1].Name != dir+"/tmp1" {
		t.Fatalf("after the second rename, want the new listener reachable and the first orphaned: %+v", s.Listeners)
	}
}
