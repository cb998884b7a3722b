package canary

import (
	"net"
	"time"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

// FailBeforeClose is the failpoint in unlink-on-close's shutdown path after the leader has
// stepped down and dropped its members, just before it closes (and so unlinks) its
// listener.
const FailBeforeClose = "before-close"

// lingerDelay is how long a resigning unlink-on-close leader waits for in-flight frames to
// drain before it closes its listener. A successor is elected well within it.
const lingerDelay = 100 * time.Millisecond

func init() {
	register(Canary{
		Name:      "unlink-on-close",
		Transport: peerio.TransportUnix,
		Bug: "a correct flock election, but the leader's graceful stop releases the lock and " +
			"drops its members before it closes its listener, and Go's UnixListener.Close " +
			"unlinks the path by name: it deletes the successor's socket, orphaning the new leader",
		Failpoints: []string{
			election.FailBeforeLock, election.FailAfterLock, election.FailBeforeUnlink,
			election.FailBeforeListen, FailBeforeClose,
		},
		newStrategy: func(p *peerio.Peer) (strategy, error) {
			e, err := newFlockElection(p, true) // Go's default: unlink on Close
			if err != nil {
				return nil, err
			}
			return &unlinkOnClose{flockElection: e}, nil
		},
	})
}

// unlinkOnClose hands over quickly: it steps down first so that a successor can win the
// election while it finishes its own shutdown, a pattern meant to shorten leaderless time.
type unlinkOnClose struct{ *flockElection }

func (s *unlinkOnClose) resign(ln net.Listener, dropMembers func()) {
	s.lock.unlock() // step down: a successor may take the lock from here on
	dropMembers()   // members re-elect at once; one of them wins the lock
	time.Sleep(lingerDelay)
	s.p.Hit(FailBeforeClose)
	// BUG: net.UnixListener.Close unlinks s.path by name (SetUnlinkOnClose defaults to
	// true for a listener that bound the path). By now the path names the successor's
	// socket, which no new client can reach once this returns.
	ln.Close()
}

func (s *unlinkOnClose) close() { s.lock.close() }
