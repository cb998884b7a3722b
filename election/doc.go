// Package election elects one leader among the processes of one host that share a unix
// socket path or a loopback TCP port, and relays messages between them through the leader.
//
// The first process to win the election listens on the address; the others connect to it as
// members. When the leader dies, by crash or by [Elector.Close], another process takes over
// at once and every survivor reconnects, without the user's help. A message given to
// [Elector.Send] by any member reaches every other member, or Send returns an error.
//
// # Why it is safe
//
// The classic way to do this ("connect; on ECONNREFUSED unlink the socket and listen") lets
// two processes both decide the socket is stale; one unlinks the other's fresh socket, and two
// leaders run, one on an orphaned inode no new client can reach. Here only the holder of an
// flock(2) on a lock file beside the socket (path + ".lock", never deleted) may remove a
// socket or bind one, and it removes only a socket of its own uid that refuses connections.
// The kernel releases the lock when its holder dies, waking exactly one waiting process, so
// failover needs no timeout. A departing leader removes the path only if it still names its
// own socket, and releases the lock last. Each new leader takes an epoch (a fencing token)
// one greater than the last, stored in the lock file under the lock.
//
// On TCP the kernel lets one socket bind 127.0.0.1:PORT (SO_REUSEPORT is never set), so the
// bind is the election; members prove they share a secret read from a 0600 file, so no other
// local user can join the group or pose as its leader. On unix sockets the kernel's peer
// credentials play that role: the socket is 0600, and both sides refuse a peer of another uid.
//
// Entry points: [New], [Elector.Run], [Elector.Events], [Elector.Send], [Elector.Close].
// [Failpoints] let tests stop, slow or crash a process at named steps of an election.
//
// Linux only: it relies on flock, SO_PEERCRED and unix socket semantics of Linux.
//
// A follower that is closed while it waits for the lock leaves one OS thread parked in
// flock(2) (the call cannot be interrupted); it returns, and drops the lock at once, when the
// current leader goes.
package election
