package syscalls

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Errors of the package.
var (
	// ErrUnavailable means seccomp user notification cannot be used here; the message says
	// why (kernel, container policy, architecture).
	ErrUnavailable = errors.New("seccomp user notification unavailable")
	// ErrConfig marks a Config the supervisor refuses; the message names the field.
	ErrConfig = errors.New("bad syscalls configuration")
)

// Phases of a [Call].
const (
	Before = "before" // the caller is stopped on entry; the call has not happened
	After  = "after"  // the supervisor made the call for the caller (listen); Result says how
)

// Config says what a Supervisor watches.
type Config struct {
	// Transport is "unix" (default) or "tcp".
	Transport string
	// Addr is the election address: an absolute socket path, or 127.0.0.1:PORT (any local
	// address with that port counts).
	Addr string
	// Dir is the folder whose entries are the election's (lock files, temp names);
	// default Addr's folder over unix, none over tcp.
	Dir string
	// OnCall, if set, is called in its own goroutine with every call that touches the
	// election; the caller waits until it returns (hold it as long as needed, or Kill it).
	// It must return once the caller is dead, or Close waits for it.
	OnCall func(*Call)
	// Results makes every connect to the address, and every bind of it, for the caller too
	// (through a copy of its fd), so that OnCall sees the result: a steered story says
	// "connect -> ECONNREFUSED", "bind -> EADDRINUSE". A bind is made only for a caller with
	// our effective ids and umask (the socket file comes out the same). A connection's
	// SO_PEERCRED then names the harness, as a made listen's does.
	Results bool
}

// Call is one syscall of a watched process that touches the election address, its folder or
// its lock files.
type Call struct {
	Name  string // the syscall, e.g. "listen", "unlinkat"
	Phase string // Before, or After once the supervisor made it (Made)
	PID   int    // the calling process (thread group)
	TID   int    // the calling thread
	Peer  string // the peer id its shim reported (SPLITBRAIN_PEER), "" if none
	FD    int    // the fd argument, -1 if none
	Path  string // the path argument, absolute (rename: the old name)
	Path2 string // rename: the new name
	Addr  string // the socket address (bind, connect) or the socket's own (listen, accept)
	// Key is set for the calls at which the single-listener and reachable-leader
	// invariants can change: bind, listen, unlink or rename of the address itself.
	Key bool
	// Made is set when the supervisor makes the call for the caller (a key listen, unlink
	// or rename, see [Supervisor]): OnCall sees it Before, then After with Result.
	Made bool
	// Result is "ok" or the errno's name, in phase After.
	Result string

	id     uint64
	fd     int      // the notification fd it came on
	sa     sockaddr // bind, connect: the address read
	killed atomic.Bool
}

// Valid reports whether the caller still waits in this very call: a signal interrupts the
// wait (the call is then restarted, and notified again as a new Call), and so does death.
func (c *Call) Valid() bool { return idValid(c.fd, c.id) }

// Kill sends SIGKILL to the calling process while it is held; the call never returns to it.
func (c *Call) Kill() error {
	c.Abandon()
	return unix.Kill(c.PID, unix.SIGKILL)
}

// Abandon tells the supervisor that the caller is being killed by other means (its process
// group): it answers nothing and makes nothing in its name. Call it before the kill.
func (c *Call) Abandon() { c.killed.Store(true) }

// String reads like a step of a story: "p2 listen /tmp/x/sock -> ok".
func (c *Call) String() string {
	who := c.Peer
	if who == "" {
		who = fmt.Sprintf("pid %d", c.PID)
	}
	s := who + " " + c.Name
	for _, a := range []string{c.Path, c.Path2, c.Addr} {
		if a != "" {
			s += " " + a
		}
	}
	if c.Phase == After {
		s += " -> " + c.Result
	}
	return s
}

// Stats count what a Supervisor saw.
type Stats struct {
	Notified int64 // calls the filter sent to the supervisor
	Relevant int64 // of those, calls that touch the election (handed to OnCall)
	Peers    int64 // notification fds received (one per wrapped peer)
}

// Supervisor receives the shims' notification fds and answers every call they report.
type Supervisor struct {
	cfg     Config
	tcpPort uint16
	tmp     string
	sock    string
	ln      *net.UnixListener
	stop    int // eventfd, readable once Close began
	wg      sync.WaitGroup

	notified, relevant, peers atomic.Int64
	closeOnce                 sync.Once
}

// Start listens for shims on a fresh unix socket in a private temp folder.
func Start(cfg Config) (*Supervisor, error) {
	s := &Supervisor{cfg: cfg, stop: -1}
	switch cfg.Transport {
	case "", "unix":
		s.cfg.Transport = "unix"
		if !filepath.IsAbs(cfg.Addr) {
			return nil, fmt.Errorf("%w: Addr %q is not an absolute socket path", ErrConfig, cfg.Addr)
		}
		s.cfg.Addr = filepath.Clean(cfg.Addr)
		if s.cfg.Dir == "" {
			s.cfg.Dir = filepath.Dir(s.cfg.Addr)
		}
	case "tcp":
		ap, err := netip.ParseAddrPort(cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("%w: Addr %q: want 127.0.0.1:PORT: %w", ErrConfig, cfg.Addr, err)
		}
		s.tcpPort = ap.Port()
	default:
		return nil, fmt.Errorf("%w: Transport %q: use unix or tcp", ErrConfig, cfg.Transport)
	}
	if s.cfg.Dir != "" {
		s.cfg.Dir = filepath.Clean(s.cfg.Dir)
	}
	var err error
	if s.tmp, err = os.MkdirTemp("", "splitbrain-shim-"); err != nil {
		return nil, fmt.Errorf("supervisor folder: %w", err)
	}
	s.sock = filepath.Join(s.tmp, "s")
	if s.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: s.sock, Net: "unix"}); err != nil {
		os.RemoveAll(s.tmp)
		return nil, fmt.Errorf("supervisor socket: %w", err)
	}
	if s.stop, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		s.ln.Close()
		os.RemoveAll(s.tmp)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Wrap returns the command that starts argv under the shim: exe (a binary whose main calls
// [ShimIfAsked]; the harness passes its own) re-executed, then argv exec'd in its place.
// Start it with [Supervisor.Env] added to its environment.
func (s *Supervisor) Wrap(exe string, argv []string) []string {
	return append([]string{exe, "shim", "--"}, argv...)
}

// Env is what a wrapped command needs in its environment.
func (s *Supervisor) Env() []string { return []string{EnvSocket + "=" + s.sock} }

// Stats returns the counts so far.
func (s *Supervisor) Stats() Stats {
	return Stats{Notified: s.notified.Load(), Relevant: s.relevant.Load(), Peers: s.peers.Load()}
}

// Close stops taking shims and ends every watcher, after the calls OnCall holds have
// returned. A process still running under a filter then gets ENOSYS from the watched calls:
// close the supervisor after its peers are gone.
func (s *Supervisor) Close() error {
	s.closeOnce.Do(func() {
		s.ln.Close()
		var one [8]byte
		one[0] = 1
		unix.Write(s.stop, one[:])
		s.wg.Wait()
		unix.Close(s.stop)
		os.RemoveAll(s.tmp)
	})
	return nil
}

func (s *Supervisor) acceptLoop() {
	defer s.wg.Done()
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			return // closed
		}
		s.take(c)
	}
}

// take receives one shim's notification fd and starts its watcher, then acks so the shim
// execs the peer.
func (s *Supervisor) take(c *net.UnixConn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // a client that never sends stalls no one
	buf, oob := make([]byte, 256), make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return
	}
	fd := fds[0]
	unix.CloseOnExec(fd)
	s.peers.Add(1)
	s.wg.Add(1)
	// An empty id arrives as x/sys's one NUL byte (a stream socket carries no empty message).
	go s.watch(fd, strings.TrimRight(string(buf[:n]), "\x00"))
	c.Write([]byte{1})
}

// watch answers the notifications of one filter (one peer and its descendants) until every
// process under it has exited (POLLHUP) or Close.
func (s *Supervisor) watch(fd int, peer string) {
	defer s.wg.Done()
	var held sync.WaitGroup
	defer func() {
		held.Wait()
		unix.Close(fd)
	}()
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(s.stop), Events: unix.POLLIN}}
	var n seccompNotif
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		if fds[0].Revents&unix.POLLIN == 0 {
			return // POLLHUP: no process uses the filter any more
		}
		if err := recv(fd, &n); err != nil {
			if err == unix.ENOENT || err == unix.EINTR {
				continue // the caller died (or was interrupted) before we took it
			}
			return
		}
		s.notified.Add(1)
		c := s.classify(fd, &n, peer)
		if c == nil {
			continueCall(fd, n.ID)
			continue
		}
		s.relevant.Add(1)
		held.Add(1)
		d := n.Data // n is reused by the next recv
		go func() {
			defer held.Done()
			s.handle(fd, c, &d)
		}()
	}
}

func continueCall(fd int, id uint64) {
	_ = send(fd, &seccompNotifResp{ID: id, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE})
}

// handle hands a relevant call to OnCall and answers it. A key call the supervisor can make
// for the caller (listen on the address; unlink or rename of it by a caller with our
// credentials) is shown twice: Before, then made here, then After, so that OnCall sees the
// instant just after it with the caller not yet running on.
func (s *Supervisor) handle(fd int, c *Call, d *seccompData) {
	resp := seccompNotifResp{ID: c.id, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
	do := s.maker(c, d)
	c.Made = do != nil
	c.fd = fd
	if s.cfg.OnCall != nil {
		s.cfg.OnCall(c)
	}
	if c.killed.Load() {
		return
	}
	if do != nil {
		// The caller may have died while OnCall held it: make nothing in its name.
		if !idValid(fd, c.id) {
			return
		}
		errno := do()
		resp.Flags = 0
		c.Phase = After
		if c.Result == "" {
			c.Result = resultOf(errno)
		}
		if errno != 0 {
			resp.Error = -int32(errno)
		}
		if s.cfg.OnCall != nil {
			s.cfg.OnCall(c)
		}
		if c.killed.Load() {
			return
		}
	}
	_ = send(fd, &resp)
}

// maker returns how to make the key call c for its caller, or nil to let the caller make
// it. Paths are made only when resolved to absolute names and the caller's effective ids
// are ours, so that the kernel's permission checks come out the same.
func (s *Supervisor) maker(c *Call, d *seccompData) func() unix.Errno {
	if c.Name == "connect" && s.cfg.Results && s.isAddr(&c.sa) {
		return func() unix.Errno { return s.connectFor(c, int32(d.Args[0])) }
	}
	if c.Name == "bind" && s.cfg.Results && c.Key && sameIDs(c.PID) && sameUmask(c.PID) {
		return func() unix.Errno { return s.bindFor(c, int32(d.Args[0])) }
	}
	if !c.Key {
		return nil
	}
	if c.Name == "listen" {
		return func() unix.Errno { return s.listenFor(c, int32(d.Args[0]), int(int32(d.Args[1]))) }
	}
	if !filepath.IsAbs(c.Path) || (c.Path2 != "" && !filepath.IsAbs(c.Path2)) || !sameIDs(c.PID) {
		return nil
	}
	switch c.Name {
	case "unlink":
		return func() unix.Errno { return errnoOf(unix.Unlink(c.Path)) }
	case "unlinkat":
		flags := int(int32(d.Args[2]))
		return func() unix.Errno { return errnoOf(unix.Unlinkat(unix.AT_FDCWD, c.Path, flags)) }
	case "rename", "renameat":
		return func() unix.Errno { return errnoOf(unix.Rename(c.Path, c.Path2)) }
	case "renameat2":
		flags := uint(uint32(d.Args[4]))
		return func() unix.Errno {
			return errnoOf(unix.Renameat2(unix.AT_FDCWD, c.Path, unix.AT_FDCWD, c.Path2, flags))
		}
	}
	return nil
}

func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return unix.EINVAL
}

// listenFor calls listen(2) on the caller's socket through a copy of its fd.
func (s *Supervisor) listenFor(c *Call, sockfd int32, backlog int) unix.Errno {
	dup, errno := callerFD(c.PID, sockfd)
	if errno != 0 {
		return errno
	}
	defer unix.Close(dup)
	return errnoOf(unix.Listen(dup, backlog))
}

func resultOf(errno unix.Errno) string {
	if errno == 0 {
		return "ok"
	}
	return unix.ErrnoName(errno)
}

// connectWait bounds how long a non-blocking connect made for a caller is watched for its
// outcome (on loopback it takes microseconds).
const connectWait = 100 * time.Millisecond

// connectFor calls connect(2) on the caller's socket through a copy of its fd. The copy
// shares the caller's file description, so a non-blocking socket answers EINPROGRESS as it
// would have; the outcome is then read with getpeername, which, unlike SO_ERROR, leaves the
// caller's pending error for the caller.
func (s *Supervisor) connectFor(c *Call, sockfd int32) unix.Errno {
	dup, errno := callerFD(c.PID, sockfd)
	if errno != 0 {
		return errno
	}
	defer unix.Close(dup)
	errno = errnoOf(unix.Connect(dup, c.sa.sockaddr()))
	if errno == unix.EINPROGRESS {
		fds := []unix.PollFd{{Fd: int32(dup), Events: unix.POLLOUT}}
		outcome := "pending"
		if n, _ := unix.Poll(fds, int(connectWait/time.Millisecond)); n > 0 {
			outcome = "refused"
			if _, err := unix.Getpeername(dup); err == nil {
				outcome = "connected"
			}
		}
		c.Result = "EINPROGRESS, " + outcome
	}
	return errno
}

// bindFor calls bind(2) on the caller's socket through a copy of its fd.
func (s *Supervisor) bindFor(c *Call, sockfd int32) unix.Errno {
	dup, errno := callerFD(c.PID, sockfd)
	if errno != 0 {
		return errno
	}
	defer unix.Close(dup)
	return errnoOf(unix.Bind(dup, c.sa.sockaddr()))
}

// callerFD copies fd of process pid into ours (pidfd_getfd): the same open file.
func callerFD(pid int, fd int32) (int, unix.Errno) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, unix.ESRCH
	}
	defer unix.Close(pidfd)
	dup, err := unix.PidfdGetfd(pidfd, int(fd), 0)
	if err != nil {
		return -1, unix.EBADF
	}
	return dup, 0
}
