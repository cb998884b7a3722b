package kernel

import "time"

// Snapshot is the kernel's view of one election address at one moment: every listening
// socket bound to it (orphans included), and every connection to those listeners.
type Snapshot struct {
	// Taken is when the snapshot was taken, on the observer's monotonic clock
	// (time since the Observer was made).
	Taken time.Duration `json:"taken"`
	// PathInode is the inode the unix socket path names now; 0 if nothing is there.
	// Always 0 for TCP.
	PathInode uint64 `json:"path_inode,omitempty"`
	// Listeners are the listening sockets bound to the address.
	Listeners []Listener `json:"listeners"`
	// Conns are the connections whose server side is an accepted socket of one of the
	// Listeners' processes on the address, and connections still queued in a listener's
	// backlog. One entry per client socket.
	Conns []Conn `json:"conns"`
}

// Listener is one listening socket bound to the election address.
type Listener struct {
	// Inode is the socket's inode number (the N in socket:[N]).
	Inode uint64 `json:"inode"`
	// PIDs are the processes holding an fd of this socket; usually one. Empty when no
	// observed process holds it (possible only for processes outside the scan).
	PIDs []int `json:"pids"`
	// Name is the bound address: the socket path, or 127.0.0.1:PORT / [::1]:PORT.
	Name string `json:"name"`
	// VFSInode is, for unix sockets, the inode of the file the socket was bound to.
	VFSInode uint64 `json:"vfs_inode,omitempty"`
	// Orphaned is true when the path no longer names VFSInode: no new client can reach
	// this listener. Always false for TCP.
	Orphaned bool `json:"orphaned,omitempty"`
	// Backlog is the number of connections waiting to be accepted.
	Backlog int `json:"backlog"`
}

// Conn is one client's connection to a listener on the address.
type Conn struct {
	// ClientInode is the inode of the client's socket.
	ClientInode uint64 `json:"client_inode"`
	// ClientPIDs are the processes holding the client's socket.
	ClientPIDs []int `json:"client_pids"`
	// ServerInode is the inode of the accepted socket on the leader's side; 0 while the
	// connection still waits in the backlog.
	ServerInode uint64 `json:"server_inode,omitempty"`
	// ServerPIDs are the processes holding the accepted socket.
	ServerPIDs []int `json:"server_pids"`
	// ListenerInode is the listener the connection was made to, when known.
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
