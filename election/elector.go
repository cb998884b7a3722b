package election

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

var (
	errNoListener = errors.New("no listener at the address")
	errRetry      = errors.New("address changed under us; retry")
	errTurnedAway = errors.New("member turned away by Failpoints.Refuse")
)

// Defaults for the zero values of Options.
const (
	DefaultMaxMessage       = 1 << 20
	DefaultQueueLength      = 1024
	DefaultQueueBytes       = 16 << 20
	DefaultHandshakeTimeout = 2 * time.Second
	DefaultEventBuffer      = 1024
	DefaultMaxRetries       = 10
	DefaultDrainTimeout     = time.Second
)

// Options configure an Elector. Only Address is required.
type Options struct {
	// Network is "unix" (the default) or "tcp".
	Network string
	// Address is the socket path (unix; a relative path is made absolute) or 127.0.0.1:PORT.
	Address string
	// ID names this member to the others (at most 255 bytes). Default: "pid-<pid>".
	ID string
	// SecretFile is a 0600 file holding the group's shared secret (tcp only, required).
	SecretFile string
	// MaxMessage is the largest message Send accepts, in bytes. 0 means DefaultMaxMessage.
	MaxMessage int
	// QueueLength and QueueBytes bound what the leader holds for one member; a member that
	// falls further behind is dropped with a Disconnection event. 0 means the default.
	QueueLength int
	QueueBytes  int
	// HandshakeTimeout bounds how long a new connection may take to introduce itself.
	HandshakeTimeout time.Duration
	// EventBuffer is the capacity of the Events channel.
	EventBuffer int
	// Failpoints, if not nil, are run at the named steps of each election attempt.
	Failpoints *Failpoints
	// MaxRetries is how many election attempts in a row may fail with an error retrying
	// could fix (EMFILE, ENOSPC, EACCES...) before Run gives up with ErrTooManyRetries.
	// Each failure is reported as a Retry event and followed by a pause of 10 ms, doubling
	// up to 1 s: with the default of 10, Run gives up after about 4.3 s of failures. 0 means
	// DefaultMaxRetries; a negative value retries for ever.
	MaxRetries int
	// DrainTimeout bounds how long a leader that closes or resigns spends writing the
	// messages already queued for its members before it hangs up. 0 means
	// DefaultDrainTimeout.
	DrainTimeout time.Duration
}

type transport interface {
	String() string
	dial(ctx context.Context, timeout time.Duration) (net.Conn, error)
	checkPeer(c net.Conn, isLeader bool) (pid int, err error)
	campaign(ctx context.Context, wait time.Duration) (bool, error)
	standby(leaderPID int)
	onDeck()
	watching() bool
	lead(ctx context.Context, timeout time.Duration, floor uint64) (ln net.Listener, epoch uint64, follow net.Conn, err error)
	check() error
	resign(ln net.Listener)
	close()
}

// Elector takes part in the election for one address on behalf of this process. It leads
// or follows, relays messages, and when the leader goes it elects again, until Close.
type Elector struct {
	opts   Options
	t      transport
	secret []byte
	events chan Event

	mu      sync.Mutex
	role    EventKind // Leader, Follower, or 0
	hub     *hub
	link    *link
	cancel  context.CancelFunc
	running bool
	closed  bool
	done    chan struct{}

	// seen is the greatest epoch this process has led or followed: a floor for the next
	// one, should the lock file have been lost.
	seen      uint64
	closeOnce sync.Once // closes events and the transport
}

// New checks opts and prepares an Elector; it takes no part in the election until Run.
// Every problem with the address (a path too long, a missing directory, a file that is not
// ours at the path, a bad lock or secret file) is reported here, naming the thing and the fix.
func New(opts Options) (*Elector, error) {
	if opts.ID == "" {
		opts.ID = fmt.Sprintf("pid-%d", os.Getpid())
	}
	if len(opts.ID) > 255 {
		return nil, fmt.Errorf("member id is %d bytes; the limit is 255", len(opts.ID))
	}
	if opts.MaxMessage <= 0 {
		opts.MaxMessage = DefaultMaxMessage
	}
	if opts.QueueLength <= 0 {
		opts.QueueLength = DefaultQueueLength
	}
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = DefaultQueueBytes
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = DefaultEventBuffer
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = DefaultMaxRetries
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = DefaultDrainTimeout
	}
	e := &Elector{opts: opts, events: make(chan Event, opts.EventBuffer), done: make(chan struct{})}
	var err error
	switch opts.Network {
	case "", "unix":
		e.opts.Network = "unix"
		e.t, err = newUnixTransport(opts.Address, opts.Failpoints)
	case "tcp":
		var t *tcpTransport
		t, err = newTCPTransport(opts.Address, opts.SecretFile, opts.Failpoints)
		if err == nil {
			e.t, e.secret = t, t.secret
		}
	default:
		return nil, fmt.Errorf("network %q: use \"unix\" or \"tcp\"", opts.Network)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

// ID returns this member's id.
func (e *Elector) ID() string { return e.opts.ID }

// Addr returns the election address: the absolute socket path, or 127.0.0.1:PORT.
func (e *Elector) Addr() string { return e.t.String() }

// Events returns the channel of what happens to this Elector. Read it promptly: a full
// channel holds up this process's part in relaying. It is closed when the running Run
// returns, and by Close (or a Run after Close) if Run never ran: after Close, it is always
// closed.
func (e *Elector) Events() <-chan Event { return e.events }

// IsLeader reports whether this process leads now.
func (e *Elector) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.role == Leader
}

// Run takes part in the election until ctx is done or Close is called (it then returns nil),
// or a problem that retrying cannot fix occurs (a file that is not ours appears at the path,
// a foreign listener holds the address, MaxRetries failures in a row). Run may be called
// once: a second call, or a call after Close, returns ErrClosed at once.
func (e *Elector) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.closed || e.running {
		running := e.running
		e.mu.Unlock()
		if !running {
			// Closed before it ever ran: nothing else will close Events.
			e.shutdown()
		}
		return ErrClosed
	}
	ctx, e.cancel = context.WithCancel(ctx)
	e.running = true
	e.mu.Unlock()
	defer func() {
		e.shutdown()
		close(e.done)
	}()
	err := e.loop(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// shutdown releases the transport (lock, descriptors, watches) and closes Events, once.
func (e *Elector) shutdown() {
	e.closeOnce.Do(func() {
		e.t.close()
		close(e.events)
	})
}

// Close stops the Elector: a leader closes its listener and removes its socket (only if the
// path still names it), releases the lock, writes what it has queued for its members (for
// up to DrainTimeout) and hangs up; a follower hangs up. Close waits for Run to return, and
// leaves no goroutine, thread or file descriptor behind.
func (e *Elector) Close() error {
	e.mu.Lock()
	e.closed = true
	cancel, running := e.cancel, e.running
	e.mu.Unlock()
	if !running {
		e.shutdown()
		return nil
	}
	cancel()
	<-e.done
	return nil
}

// emit reports ev; it waits for room in Events unless ctx is done. Once ctx is done (Close),
// an event still goes out if there is room: what a stopping leader could not deliver is
// reported that way.
func (e *Elector) emit(ctx context.Context, ev Event) bool {
	select {
	case e.events <- ev:
		return true
	default:
	}
	select {
	case e.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func (e *Elector) setRole(r EventKind, h *hub, l *link) {
	e.mu.Lock()
	e.role, e.hub, e.link = r, h, l
	e.mu.Unlock()
}

// saw raises the floor for the next epoch this process may take.
func (e *Elector) saw(epoch uint64) {
	e.mu.Lock()
	e.seen = max(e.seen, epoch)
	e.mu.Unlock()
}

func (e *Elector) floor() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.seen
}

// loop is the election: follow whoever is reachable; when nobody is, campaign for the lock;
// with the lock, lead. Each pass ends when the leadership or the link ends.
func (e *Elector) loop(ctx context.Context) error {
	backoff := minBackoff
	// After a leader dies, every follower wakes at once; on a small machine the one that got
	// the lock then competes for the CPU with all the others. Followers that can watch the
	// directory therefore do not redial at once: they try the lock, then wait for the new
	// socket to appear.
	skipDial := false
	// failures counts the attempts in a row that ended in an error retrying may fix; each
	// is reported and followed by a growing pause, so that no error makes the loop spin.
	failures := 0
	retry := func(err error) error {
		failures++
		if e.opts.MaxRetries > 0 && failures > e.opts.MaxRetries {
			return fmt.Errorf("%w (%d in a row): %w", ErrTooManyRetries, failures, err)
		}
		e.emit(ctx, Event{Kind: Retry, Err: err, Attempt: failures})
		sleep(ctx, retryPause(failures))
		return nil
	}
	for ctx.Err() == nil {
		var err error
		if !skipDial {
			var c net.Conn
			c, err = e.t.dial(ctx, e.opts.HandshakeTimeout)
			switch {
			case err == nil:
				ferr := e.follow(ctx, c)
				if ferr == nil {
					backoff, failures = minBackoff, 0
					skipDial = e.t.watching()
					continue
				}
				if isFatal(ferr) {
					return ferr
				}
				// The handshake failed (a leader mid-exit, or paused): wait a little, or
				// for the lock, before trying again.
			case errors.Is(err, errNoListener), ctx.Err() != nil:
			case isFatal(err):
				return err
			case isTransient(err):
				// A full accept queue during a storm: try the lock, then again.
			default:
				if err := retry(fmt.Errorf("dial %s: %w", e.t, err)); err != nil {
					return err
				}
				continue
			}
		}
		skipDial = false
		won, err := e.t.campaign(ctx, backoff)
		if err != nil {
			e.t.resign(nil)
			if isFatal(err) {
				return err
			}
			if ctx.Err() == nil {
				if err := retry(err); err != nil {
					return err
				}
			}
			continue
		}
		if !won {
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		ln, epoch, fc, err := e.t.lead(ctx, e.opts.HandshakeTimeout, e.floor())
		switch {
		case fc != nil:
			// A listener still answers (a leader mid-exit, or one outside the lock):
			// follow it; the lock stays ours for when it goes.
			if err := e.follow(ctx, fc); err != nil && isFatal(err) {
				return err
			}
			continue
		case errors.Is(err, errRetry):
			e.t.resign(nil)
			if !sleep(ctx, backoff) {
				return nil
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		case err != nil:
			e.t.resign(nil)
			if isFatal(err) {
				return err
			}
			if ctx.Err() == nil {
				if err := retry(err); err != nil {
					return err
				}
			}
			continue
		}
		backoff, failures = minBackoff, 0
		e.saw(epoch)
		err = e.serve(ctx, ln, epoch)
		if err != nil && ctx.Err() == nil {
			e.emit(ctx, Event{Kind: Lost, Epoch: epoch, Err: err})
		}
	}
	return nil
}

// retryPause is the pause after the n-th failure in a row: 10 ms, doubling up to 1 s.
func retryPause(n int) time.Duration {
	d := 10 * time.Millisecond
	for i := 1; i < n && d < time.Second; i++ {
		d *= 2
	}
	return min(d, time.Second)
}

// isTransient tells the errors that a storm or a failover cause in passing, which are
// retried at once without a report.
func isTransient(err error) bool {
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EINTR)
}

const (
	minBackoff = 100 * time.Microsecond
	maxBackoff = 5 * time.Millisecond
)

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// isFatal tells the errors retrying cannot fix.
func isFatal(err error) bool {
	for _, f := range []error{ErrNotSocket, ErrForeignSocket, ErrBadLockFile, ErrBadDirectory, ErrForeignListener, ErrBadSecret} {
		if errors.Is(err, f) {
			return true
		}
	}
	return false
}
