package kernel

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
)

// ErrNotLoopback is returned by [NewTCP] for an address that is not 127.0.0.1:PORT or
// [::1]:PORT: the harness only ever observes (and lets peers use) the loopback.
var ErrNotLoopback = errors.New("tcp election address must be 127.0.0.1:PORT or [::1]:PORT")

// maxAttempts bounds how often a snapshot is retaken when the kernel reports a dump
// interrupted by a concurrent change, or the path changed while the dump ran.
const maxAttempts = 5

// Observer takes [Snapshot]s of one election address from the kernel alone. It is safe
// for concurrent use; snapshots are taken one at a time.
type Observer struct {
	tcp bool
	// path is the unix socket path as given; abs is its absolute form, since a peer may
	// bind either spelling.
	path, abs string
	// addr is the TCP address as given.
	addr netip.AddrPort

	mu   sync.Mutex
	buf  []byte // netlink receive buffer
	scan *ownerScan
	// known are the unix listeners seen on the address at the last snapshot, socket inode
	// -> bound file (VFS dev, inode): a listener bound to another name and renamed over the
	// path is on the address while the path names it, and an orphan of the address after
	// that. Only live listeners are kept: a freed inode number may name another file.
	known map[uint64][2]uint64
}

// NewUnix returns an Observer of the unix socket path. A peer must bind the path as given
// or as its absolute form; a relative name bound from another directory is not matched.
func NewUnix(path string) *Observer {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return &Observer{path: path, abs: abs, buf: make([]byte, recvBufLen), scan: newOwnerScan()}
}

// NewTCP returns an Observer of the TCP address addr, which must be 127.0.0.1:PORT or
// [::1]:PORT with PORT in 1..65535. Listeners on the same port in the other loopback
// family or on a wildcard address are reported too, as separate listeners.
func NewTCP(addr string) (*Observer, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("tcp address %q: %w", addr, ErrNotLoopback)
	}
	a := ap.Addr()
	if ap.Port() == 0 || a.Zone() != "" || (a != netip.AddrFrom4([4]byte{127, 0, 0, 1}) && a != netip.IPv6Loopback()) {
		return nil, fmt.Errorf("tcp address %q: %w", addr, ErrNotLoopback)
	}
	return &Observer{tcp: true, addr: ap, buf: make([]byte, recvBufLen), scan: newOwnerScan()}, nil
}

// Snapshot returns the kernel's view of the address now. pids are the processes searched
// for socket owners (their /proc/PID/fd); nil searches every process in /proc. A socket
// held only by processes outside pids, or by processes whose fds the caller may not read
// (another user's, when not root), is still reported, with empty PIDs. Taken is left
// zero for the caller to stamp. Listeners are sorted with the reachable ones first, then
// by inode; Conns are sorted by ClientInode.
func (o *Observer) Snapshot(pids []int) (Snapshot, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var (
		s   Snapshot
		err error
	)
	if o.tcp {
		s, err = o.snapshotTCP(pids)
	} else {
		s, err = o.snapshotUnix(pids)
	}
	if err != nil {
		return Snapshot{}, fmt.Errorf("kernel snapshot of %s: %w", o, err)
	}
	return s, nil
}

// String returns the observed address, e.g. "unix:/tmp/x.sock" or "tcp:127.0.0.1:7000".
func (o *Observer) String() string {
	if o.tcp {
		return "tcp:" + o.addr.String()
	}
	return "unix:" + o.path
}

// owners resolves the pids of every inode in inos over pids, in one pass over /proc.
func (o *Observer) owners(pids []int, inos []uint64) (map[uint64][]int, error) {
	want := make(map[uint64][]int, len(inos))
	for _, ino := range inos {
		if ino != 0 {
			want[ino] = nil
		}
	}
	if err := o.scan.scan(pids, want); err != nil {
		return nil, fmt.Errorf("find socket owners in /proc: %w", err)
	}
	return want, nil
}

// pidsOf returns the pids holding ino, never nil, so that JSON shows [] rather than null.
func pidsOf(m map[uint64][]int, ino uint64) []int {
	if ps := m[ino]; ps != nil {
		return ps
	}
	return []int{}
}
