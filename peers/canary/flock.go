package canary

import (
	"net"
	"os"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

// lockSuffix names the lock file of a socket path: PATH.lock.
const lockSuffix = ".lock"

// flockElection is a correct election by itself: the holder of an flock on PATH.lock is the
// only process that may remove the socket file and listen; the others connect. The canaries
// built on it break it elsewhere (their shutdown paths), as real code does.
type flockElection struct {
	p             *peerio.Peer
	path          string
	lock          *lockFile // opened once, at start, and kept for the life of the process
	unlinkOnClose bool      // Go's default for a unix listener
}

func newFlockElection(p *peerio.Peer, unlinkOnClose bool) (*flockElection, error) {
	path := p.Env().Addr
	lock, err := openLock(path + lockSuffix)
	if err != nil {
		return nil, err
	}
	return &flockElection{p: p, path: path, lock: lock, unlinkOnClose: unlinkOnClose}, nil
}

func (s *flockElection) elect(stop <-chan struct{}) (net.Listener, net.Conn, error) {
	for !stopped(stop) {
		s.p.Hit(election.FailBeforeLock)
		ok, err := s.lock.tryLock()
		if err != nil {
			s.p.Errorf("flock %s: %v", s.lock.path, err)
		}
		if ok {
			s.p.Hit(election.FailAfterLock)
			// The lock is ours, so a socket at the path belongs to a dead leader. Only a
			// socket is removed: a regular file there is somebody's data.
			if fi, err := os.Lstat(s.path); err == nil && fi.Mode()&os.ModeSocket != 0 {
				s.p.Hit(election.FailBeforeUnlink)
				removeQuiet(s.path)
			}
			s.p.Hit(election.FailBeforeListen)
			ln, err := listenUnix(s.path, s.unlinkOnClose)
			if err == nil {
				return ln, nil, nil
			}
			s.p.Errorf("listen %s: %v", s.path, err)
			s.lock.unlock()
		} else if conn, err := dialUnix(s.path); err == nil {
			return nil, conn, nil
		}
		// The leader holds the lock but does not listen yet, or listening failed.
		if !pause(stop, retryDelay) {
			break
		}
	}
	return nil, nil, errStopped
}
