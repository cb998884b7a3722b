package election

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"
)

var (
	errNoListener = errors.New("no listener at the address")
	errRetry      = errors.New("address changed under us; retry")
)

// Defaults for the zero values of Options.
const (
	DefaultMaxMessage       = 1 << 20
	DefaultQueueLength      = 1024
	DefaultQueueBytes       = 16 << 20
	DefaultHandshakeTimeout = 2 * time.Second
	DefaultEventBuffer      = 1024
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
}

type transport interface {
	String() string
	dial(ctx context.Context, timeout time.Duration) (net.Conn, error)
	checkPeer(c net.Conn, isLeader bool) (pid int, err error)
	campaign(ctx context.Context, wait time.Duration) (bool, error)
	standby()
	watching() bool
	lead(ctx context.Context, timeout time.Duration) (ln net.Listener, epoch uint64, follow net.Conn, err error)
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
// channel holds up this process's part in relaying. It is closed when Run returns.
func (e *Elector) Events() <-chan Event { return e.events }

// IsLeader reports whether this process leads now.
func (e *Elector) IsLeader() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.role == Leader
}

// Run takes part in the election until ctx is done or Close is called (it then returns nil),
// or a problem that retrying cannot fix occurs (a file that is not ours appears at the path,
// a foreign listener holds the address). Run may be called once.
func (e *Elector) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.closed || e.running {
		e.mu.Unlock()
		return ErrClosed
	}
	ctx, e.cancel = context.WithCancel(ctx)
	e.running = true
	e.mu.Unlock()
	defer func() {
		e.t.close()
		close(e.events)
		close(e.done)
	}()
	err := e.loop(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// Close stops the Elector: a leader closes its listener and removes its socket (only if the
// path still names it), severs every member, and releases the lock last; a follower hangs
// up. Close waits for Run to return.
func (e *Elector) Close() error {
	e.mu.Lock()
	e.closed = true
	cancel, running := e.cancel, e.running
	e.mu.Unlock()
	if !running {
		e.t.close()
		return nil
	}
	cancel()
	<-e.done
	return nil
}

func (e *Elector) emit(ctx context.Context, ev Event) {
	select {
	case e.events <- ev:
	case <-ctx.Done():
	}
}

func (e *Elector) setRole(r EventKind, h *hub, l *link) {
	e.mu.Lock()
	e.role, e.hub, e.link = r, h, l
	e.mu.Unlock()
}

// loop is the election: follow whoever is reachable; when nobody is, campaign for the lock;
// with the lock, lead. Each pass ends when the leadership or the link ends.
func (e *Elector) loop(ctx context.Context) error {
	backoff := minBackoff
	// After a leader dies, every follower wakes at once; on a small machine the one that got
	// the lock then competes for the CPU with all the others. Followers that can watch the
	// directory therefore do not redial at once: they wait for the lock, or for the new
	// socket to appear.
	skipDial := false
	for ctx.Err() == nil {
		var err error
		if !skipDial {
			var c net.Conn
			c, err = e.t.dial(ctx, e.opts.HandshakeTimeout)
			switch {
			case err == nil:
				ferr := e.follow(ctx, c)
				if ferr == nil {
					backoff = minBackoff
					skipDial = e.t.watching()
					continue
				}
				if isFatal(ferr) {
					return ferr
				}
				// The handshake failed (a leader mid-exit, or paused): wait a little, or
				// for the lock, before trying again.
			case errors.Is(err, errNoListener):
			case isFatal(err):
				return err
			}
		}
		skipDial = false
		won, err := e.t.campaign(ctx, backoff)
		if err != nil {
			if isFatal(err) {
				return err
			}
			continue
		}
		if !won {
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		ln, epoch, fc, err := e.t.lead(ctx, e.opts.HandshakeTimeout)
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
			continue
		}
		backoff = minBackoff
		err = e.serve(ctx, ln, epoch)
		e.t.resign(ln)
		if err != nil && ctx.Err() == nil {
			e.emit(ctx, Event{Kind: Lost, Epoch: epoch, Err: err})
		}
	}
	return nil
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
