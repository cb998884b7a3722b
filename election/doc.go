// Package election elects one leader among the processes of one host that share a unix
// socket path or a loopback TCP port, and relays messages between them through the leader.
//
// The first process to win the election listens on the address; the others connect to it as
// members. When the leader dies, by crash or by [Elector.Close], another process takes over
// at once and every survivor reconnects, without the user's help.
//
// # Why it is safe
//
// The classic way to do this ("connect; on ECONNREFUSED unlink the socket and listen") lets
// two processes both decide the socket is stale; one unlinks the other's fresh socket, and two
// leaders run, one on an orphaned inode no new client can reach. Here only the holder of an
// flock(2) on a lock file beside the socket (path + ".lock", never deleted by us) may remove a
// socket or bind one, and it removes only a socket of its own uid that refuses connections.
// The kernel releases the lock when its holder dies. The lock is only ever tried, never
// waited for in a blocked call (which could not be interrupted). The leader puts one member
// "on deck" (the oldest); when the leader goes, that member tries the lock at once, again
// when the leader's process is gone (a pidfd says so) or a lock descriptor is closed in the
// directory (inotify), and on a short timer; the other members sleep until the next
// leader's socket appears, so that on a small machine they leave the CPU to the winner.
// (Any member also tries the lock once when it loses its leader, and every 50 ms, should the
// one on deck be gone too.) A departing leader closes its listener, removes the path only
// if it still names its own socket, and releases the lock before it hangs up on its
// members.
//
// A leader checks every 50 ms that the path still names its socket and that the lock file
// at the path is the one it holds. If either was removed or replaced (rm, a /tmp cleaner, a
// renamed directory), new processes could not reach it or could lock another file, so it
// resigns (a Lost event with [ErrDisplaced]) and the group elects again at the path.
//
// Each new leader takes an epoch (a fencing token) one greater than both the one stored in
// the lock file, under the lock, and the greatest this process has seen. A displaced leader
// writes its epoch into whatever lock file is at the path before its socket goes, so epochs
// never repeat or go back, even across a deleted lock file, as long as one member of the
// group lives (a lock file deleted while no process runs starts again from 1).
//
// The lock file is made 0600 (another user who could open it could flock it and freeze the
// election), and a directory that other users may write in without the sticky bit, or that
// belongs to another user, is refused: they could remove or replace the socket and the lock.
//
// On TCP the kernel lets one socket bind 127.0.0.1:PORT (SO_REUSEPORT is never set), so the
// bind is the election; members prove they share a secret read from a 0600 file, so no other
// local user can join the group or pose as its leader. On unix sockets the kernel's peer
// credentials play that role: the socket is 0600, and both sides refuse a peer of another uid.
//
// # Errors
//
// Errors that retrying cannot fix (something that is not ours at the path, a foreign
// listener) end [Elector.Run] at once. Others (EMFILE, ENOSPC, EACCES...) are reported as
// [Retry] events with their cause, each followed by a pause (10 ms, doubling up to 1 s), and
// end Run with [ErrTooManyRetries] after [Options].MaxRetries in a row (10 by default: about
// 4.3 s).
//
// # What Send promises
//
// [Elector.Send] returns nil once the leader has queued the message for every member
// connected to it at that time; it then reaches each of them, in order, once, unless that
// member leaves or is dropped for falling behind (it then loses its link). A leader that
// closes or resigns first writes what it has queued, for up to [Options].DrainTimeout, and
// reports what it could not write as [ErrUndelivered] in the member's Disconnection event.
// An error from Send means the leader did not take the message ([ErrLeaderLost]: it may
// still have reached some members). The largest message is agreed in the handshake: a
// message larger than some member's [Options].MaxMessage is refused with [ErrTooLarge] and
// reaches nobody, instead of breaking that member's link. Send honours its context at every
// wait, and a cancelled Send never affects the next one.
//
// # Closing
//
// [Elector.Close] waits for Run to return and leaves no goroutine, thread or descriptor
// behind, and Events is closed. Run after Close, or a second Run, returns [ErrClosed].
//
// Entry points: [New], [Elector.Run], [Elector.Events], [Elector.Send], [Elector.Close].
// [Failpoints] let tests stop, slow or crash a process at named steps of an election.
//
// Linux only: it relies on flock, OFD locks, pidfd, inotify, SO_PEERCRED and unix socket
// semantics of Linux (pidfd needs 5.10; without it a survivor falls back to inotify and
// a 50 ms timer).
package election
