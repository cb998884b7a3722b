package election

import "errors"

// Errors returned by the election. Errors that concern a path or an address wrap one of
// these with the path, what was found and what to do about it.
var (
	// ErrPathTooLong: the socket path does not fit in sun_path (107 bytes and a NUL).
	ErrPathTooLong = errors.New("socket path too long")
	// ErrNotSocket: something other than a socket (a file, a directory, a symlink, a FIFO)
	// is at the socket path. It is never touched.
	ErrNotSocket = errors.New("not a socket")
	// ErrForeignSocket: a socket owned by another user is at the path. It is never touched.
	ErrForeignSocket = errors.New("socket owned by another user")
	// ErrBadLockFile: the lock file beside the socket is not a regular file of ours.
	ErrBadLockFile = errors.New("bad lock file")
	// ErrBadDirectory: the socket's directory is missing, not a directory, or not writable.
	ErrBadDirectory = errors.New("bad socket directory")
	// ErrNotLoopback: a TCP address other than 127.0.0.1:PORT.
	ErrNotLoopback = errors.New("tcp address must be 127.0.0.1:PORT")
	// ErrBadSecret: the TCP shared secret file is missing, too short or readable by others.
	ErrBadSecret = errors.New("bad secret file")
	// ErrForeignListener: the address is held by a process that is not a member of this
	// group (another program, another user, or a peer with another secret).
	ErrForeignListener = errors.New("address held by a foreign listener")
	// ErrForeignMember: a process of another uid tried to join; the leader refused it.
	ErrForeignMember = errors.New("member of another user refused")
	// ErrNoLeader: a message was sent while this process was neither leader nor connected
	// to one.
	ErrNoLeader = errors.New("no leader")
	// ErrLeaderLost: the leader went away before it acknowledged a message.
	ErrLeaderLost = errors.New("leader lost before acknowledging")
	// ErrTooLarge: a message is larger than Options.MaxMessage.
	ErrTooLarge = errors.New("message too large")
	// ErrSlowMember: the leader dropped a member whose queue overflowed.
	ErrSlowMember = errors.New("member too slow: queue full")
	// ErrClosed: the Elector was closed.
	ErrClosed = errors.New("elector closed")
	// ErrProtocol: a peer sent a frame that breaks the wire protocol.
	ErrProtocol = errors.New("wire protocol violation")
	// ErrDisplaced: the leader's socket path no longer names the socket it listens on, or
	// its lock file was removed or replaced; it resigned so that one reachable leader can
	// take the path. Lost events carry it.
	ErrDisplaced = errors.New("leader displaced")
	// ErrUndelivered: a leader that closed or resigned could not write, within
	// Options.DrainTimeout, messages it had queued (and acknowledged) for a member; the
	// member's Disconnection event carries it with the count.
	ErrUndelivered = errors.New("queued messages undelivered")
	// ErrTooManyRetries: Run gave up after Options.MaxRetries failed attempts in a row; it
	// wraps the last cause.
	ErrTooManyRetries = errors.New("too many failed attempts")
)
