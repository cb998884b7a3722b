package election

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// minSecret is the shortest shared secret accepted, in bytes.
const minSecret = 16

// tcpTransport elects over 127.0.0.1:PORT. The kernel lets one socket bind the port (we never
// set SO_REUSEPORT), so binding is the election; the shared secret keeps other local users
// from joining the group or posing as its leader.
type tcpTransport struct {
	addr   string
	secret []byte
	epochs *flock // epoch counter beside the secret file
	fp     *Failpoints
}

func newTCPTransport(addr, secretFile string, fp *Failpoints) (*tcpTransport, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %q does not parse (%v): use e.g. 127.0.0.1:7777", ErrNotLoopback, addr, err)
	}
	if ap.Addr() != netip.MustParseAddr("127.0.0.1") {
		return nil, fmt.Errorf("%w: %s is not 127.0.0.1: other hosts and IPv6 are not supported, use 127.0.0.1:%d",
			ErrNotLoopback, ap.Addr(), ap.Port())
	}
	if ap.Port() == 0 {
		return nil, fmt.Errorf("%w: port 0 picks a different port per process: choose a fixed port", ErrNotLoopback)
	}
	secret, err := readSecret(secretFile)
	if err != nil {
		return nil, err
	}
	epochs, err := openFlock(secretFile+".epoch", os.Geteuid())
	if err != nil {
		return nil, err
	}
	return &tcpTransport{addr: ap.String(), secret: secret, epochs: epochs, fp: fp}, nil
}

func readSecret(path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: the tcp transport needs Options.SecretFile, a 0600 file of at least %d bytes", ErrBadSecret, minSecret)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSecret, err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nil, fmt.Errorf("%w: stat %s: %v", ErrBadSecret, path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrBadSecret, path)
	}
	if st.Mode&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o, readable by others: chmod 600 %s", ErrBadSecret, path, st.Mode&0o777, path)
	}
	if int(st.Uid) != os.Geteuid() {
		return nil, fmt.Errorf("%w: %s belongs to uid %d, not %d", ErrBadSecret, path, st.Uid, os.Geteuid())
	}
	b := make([]byte, 4096)
	n, _ := f.Read(b)
	if n < minSecret {
		return nil, fmt.Errorf("%w: %s holds %d bytes; at least %d are needed", ErrBadSecret, path, n, minSecret)
	}
	return b[:n], nil
}

func (t *tcpTransport) String() string { return t.addr }

func (t *tcpTransport) dial(ctx context.Context, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp4", t.addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, errNoListener
		}
		return nil, err
	}
	return c, nil
}

func (t *tcpTransport) checkPeer(net.Conn, bool) (int, error) { return 0, nil }

// standby has nothing to queue on: the port is the election.
func (t *tcpTransport) standby(int) {}

// onDeck changes nothing: every member tries to bind when the leader goes.
func (t *tcpTransport) onDeck() {}

// check has nothing to watch: nobody can take a bound port from its listener.
func (t *tcpTransport) check() error { return nil }

func (t *tcpTransport) watching() bool { return false }

// campaign never waits: with no lock to queue on, everybody who lost the leader tries to
// bind, and the kernel picks one.
func (t *tcpTransport) campaign(ctx context.Context, wait time.Duration) (bool, error) {
	t.fp.Hit(FailBeforeLock)
	return true, ctx.Err()
}

func (t *tcpTransport) lead(ctx context.Context, timeout time.Duration, floor uint64) (net.Listener, uint64, net.Conn, error) {
	t.fp.Hit(FailAfterLock)
	t.fp.Hit(FailAfterProbe)
	t.fp.Hit(FailBeforeListen)
	// net.Listen sets SO_REUSEADDR (harmless for a listener: it never lets two sockets
	// listen on one port) and never SO_REUSEPORT, which would.
	ln, err := net.Listen("tcp4", t.addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, 0, nil, errRetry
		}
		return nil, 0, nil, fmt.Errorf("listen %s: %w", t.addr, err)
	}
	epoch, err := t.nextEpoch(ctx, floor)
	if err != nil {
		ln.Close()
		return nil, 0, nil, err
	}
	t.fp.Hit(FailAfterListen)
	return ln, epoch, nil, nil
}

// nextEpoch bumps the counter in the epoch file under its lock. The lock is held only for
// the update: the port itself is the election.
func (t *tcpTransport) nextEpoch(ctx context.Context, floor uint64) (uint64, error) {
	if err := t.epochs.lockWait(ctx); err != nil {
		return 0, err
	}
	defer t.epochs.release()
	return t.epochs.nextEpoch(floor)
}

func (t *tcpTransport) resign(ln net.Listener) {
	if ln != nil {
		ln.Close()
	}
}

func (t *tcpTransport) close() { t.epochs.close() }
