// Package kernel is the harness's oracle: it sees, from the Linux kernel alone, who
// listens on an election address and who is connected to whom, without any cooperation
// from the peers.
//
// An [Observer] is made for one address, a unix socket path ([NewUnix]) or a loopback
// TCP address ([NewTCP]). [Observer.Snapshot] asks the kernel through sock_diag netlink
// (unix_diag and inet_diag, what ss(8) uses) for every listening socket bound to the
// address, orphans included, and every connection to them, then finds the owning
// processes by reading /proc/PID/fd links ("socket:[INODE]") of the given pids only.
//
// A unix listener is orphaned when its path no longer names the file it was bound to
// (UNIX_DIAG_VFS): no new client can reach it, yet its clients stay connected. Accepted
// unix sockets carry their listener's bound file, so a connection is attributed to the
// exact listener it was made to even when an orphan and its successor share a process.
// Connections still in a backlog (UNIX_DIAG_ICONS, or TCP children with no inode yet)
// are reported with ServerInode 0.
//
// For TCP, listeners on the same port on the other loopback family or a wildcard are
// reported as separate listeners (an IPv4 and an IPv6 listener is a split brain), the
// unreachable ones marked Orphaned. Without inet_diag the observer falls back to
// /proc/net/tcp{,6}; unix_diag has no fallback, its absence is an error.
package kernel
