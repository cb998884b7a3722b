package canary

import (
	"net"
	"os"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

func init() {
	register(Canary{
		Name:      "lockfile-deleted",
		Transport: peerio.TransportUnix,
		Bug: "a flock election whose peers delete the lock file on a graceful exit: processes " +
			"that opened the old file still lock its inode, a newcomer creates and locks a " +
			"fresh one, and both lead (the newcomer unlinks the old leader's socket)",
		Failpoints: []string{
			election.FailBeforeLock, election.FailAfterLock, election.FailBeforeUnlink,
			election.FailBeforeListen,
		},
		newStrategy: func(p *peerio.Peer) (strategy, error) {
			e, err := newFlockElection(p, false)
			if err != nil {
				return nil, err
			}
			return &lockfileDeleted{flockElection: e}, nil
		},
	})
}

// lockfileDeleted tidies up after itself on the way out.
type lockfileDeleted struct{ *flockElection }

func (s *lockfileDeleted) resign(ln net.Listener, dropMembers func()) {
	dropMembers()
	removeQuiet(s.path) // we still hold the lock: removing our own socket is safe
	ln.Close()
}

func (s *lockfileDeleted) close() {
	// BUG: every other peer opened this lock file at start and keeps its inode; a peer
	// started from now on creates a new file and locks that instead. The flock only means
	// something while everyone locks the same inode.
	os.Remove(s.lock.path)
	s.lock.close()
}
