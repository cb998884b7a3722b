package kernel

import "time"

// Snapshot is the kernel's view of one election address at one moment: every listening
// socket bound to it (orphans included), and every connection to those listeners.
type Snapshot struct {
	// Taken is when the snapshot was taken, as monotonic time since the run's base.
	// [Observer.Snapshot] leaves it zero: the caller stamps it with its own clock.
	Taken time.Duration `json:"taken"`
	// PathInode is the inode the unix socket path names now; 0 if nothing is there.
	// Always 0 for TCP.
	PathInode uint64 `json:"path_inode,omitempty"`
	// Listeners are the listening sockets on the address, reachable ones first (for TCP
	// in the kernel's order of preference), then by Inode. For unix: bound to the path by
	// name, or bound to the file the path names (a socket renamed over it), or once seen
	// there and still alive (an orphan). For TCP: every listener on the port, on any
	// address (the other loopback family, wildcards, a LAN address); those a client of
	// 127.0.0.1:PORT cannot reach are Orphaned.
	Listeners []Listener `json:"listeners"`
	// Conns are the connections to the address: for unix, every connected socket bound
	// to the path (the server side of an accepted connection, whether or not its listener
	// still exists) whose client is alive, and every connection still queued in a
	// listener's backlog; for TCP, every established loopback connection to the port.
	// One entry per client socket, sorted by ClientInode.
	Conns []Conn `json:"conns"`
}

// Listener is one listening socket bound to the election address.
type Listener struct {
	// Inode is the socket's inode number (the N in socket:[N]).
	Inode uint64 `json:"inode"`
	// PIDs are the processes holding an fd of this socket, sorted; usually one. Empty
	// (not nil) when no scanned process holds it (the holder is outside the scan).
	PIDs []int `json:"pids"`
	// Name is the bound address: the socket path as observed, or the TCP listener's
	// own address (127.0.0.1:PORT, [::1]:PORT, 0.0.0.0:PORT, [::]:PORT ...).
	Name string `json:"name"`
	// VFSInode is, for unix sockets, the inode of the file the socket was bound to.
	VFSInode uint64 `json:"vfs_inode,omitempty"`
	// Orphaned is true when no new client of the address can reach this listener: for
	// unix, the path no longer names VFSInode (or nothing is there); for TCP, the listener
	// is bound to the other loopback family (or is an IPV6_V6ONLY wildcard for an IPv4
	// address).
	Orphaned bool `json:"orphaned,omitempty"`
	// Backlog is the number of connections waiting to be accepted (the kernel's receive
	// queue of a listening socket).
	Backlog int `json:"backlog"`
}

// Conn is one client's connection to a listener on the address.
type Conn struct {
	// ClientInode is the inode of the client's socket (the server side's peer).
	ClientInode uint64 `json:"client_inode"`
	// ClientPIDs are the processes holding the client's socket.
	ClientPIDs []int `json:"client_pids"`
	// ServerInode is the inode of the accepted socket on the leader's side; 0 while the
	// connection still waits in the backlog.
	ServerInode uint64 `json:"server_inode,omitempty"`
	// ServerPIDs are the processes holding the accepted socket.
	ServerPIDs []int `json:"server_pids"`
	// ListenerInode is the listener the connection was made to; 0 when that listener is
	// gone. For unix it is exact: an accepted socket carries its listener's bound file.
	ListenerInode uint64 `json:"listener_inode,omitempty"`
}

// Reachable returns the listener that the address leads to now (not orphaned), if any.
func (s Snapshot) Reachable() (Listener, bool) {
	for _, l := range s.Listeners {
		if !l.Orphaned {
			return l, true
		}
	}
	return Listener{}, false
}
