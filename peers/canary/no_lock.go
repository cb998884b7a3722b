package canary

import (
	"net"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

func init() {
	register(Canary{
		Name:      "no-lock",
		Transport: peerio.TransportUnix,
		Bug: "connect; if that fails for any reason, unlink whatever is at the path and listen, " +
			"with no lock: two peers that start together both listen, one on an orphaned " +
			"socket, and any file at the path is deleted",
		Failpoints: []string{election.FailAfterProbe, election.FailBeforeUnlink, election.FailBeforeListen},
		newStrategy: func(p *peerio.Peer) (strategy, error) {
			return &noLock{p: p, path: p.Env().Addr}, nil
		},
	})
}

// noLock trusts one failed connect to mean "there is no leader", the shortest election
// one can write.
type noLock struct {
	p    *peerio.Peer
	path string
}

func (s *noLock) elect(stop <-chan struct{}) (net.Listener, net.Conn, error) {
	for !stopped(stop) {
		conn, err := dialUnix(s.path)
		if err == nil {
			return nil, conn, nil
		}
		s.p.Hit(election.FailAfterProbe)
		// BUG: ENOENT, ECONNREFUSED, ENOTSOCK ... all read as "clear the way", whoever
		// else is doing the same and whatever the path names.
		s.p.Hit(election.FailBeforeUnlink)
		removeQuiet(s.path)
		s.p.Hit(election.FailBeforeListen)
		if ln, err := listenUnix(s.path, false); err == nil {
			return ln, nil, nil
		}
		if !pause(stop, retryDelay) {
			break
		}
	}
	return nil, nil, errStopped
}

func (s *noLock) resign(ln net.Listener, dropMembers func()) {
	dropMembers()
	ln.Close()
}

func (s *noLock) close() {}
