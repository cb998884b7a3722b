package canary

import (
	"errors"
	"net"
	"syscall"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

func init() {
	register(Canary{
		Name:      "probe-unlink",
		Transport: peerio.TransportUnix,
		Bug: "listen; on EADDRINUSE connect; on ECONNREFUSED unlink and listen again, with no lock: " +
			"two peers that both find a stale socket both unlink and listen, and the first " +
			"leader's socket is orphaned (it also deletes a regular file planted at the path)",
		Failpoints: []string{election.FailAfterProbe, election.FailBeforeUnlink, election.FailBeforeListen},
		newStrategy: func(p *peerio.Peer) (strategy, error) {
			return &probeUnlink{p: p, path: p.Env().Addr}, nil
		},
	})
}

// probeUnlink is the "busybody" pattern found in many projects: the probe says the socket
// is stale, but nothing stops another process from acting on the same probe at once.
type probeUnlink struct {
	p    *peerio.Peer
	path string
}

func (s *probeUnlink) elect(stop <-chan struct{}) (net.Listener, net.Conn, error) {
	for !stopped(stop) {
		ln, err := listenUnix(s.path, false)
		if err == nil {
			return ln, nil, nil
		}
		if errors.Is(err, syscall.EADDRINUSE) {
			conn, err := dialUnix(s.path)
			if err == nil {
				return nil, conn, nil
			}
			s.p.Hit(election.FailAfterProbe)
			if errors.Is(err, syscall.ECONNREFUSED) {
				// BUG: "nobody answers, so the socket is stale" holds only until another
				// process makes the same probe, unlinks, and listens on a fresh socket.
				s.p.Hit(election.FailBeforeUnlink)
				removeQuiet(s.path)
				s.p.Hit(election.FailBeforeListen)
				if ln, err := listenUnix(s.path, false); err == nil {
					return ln, nil, nil
				}
			}
		} else {
			s.p.Errorf("listen %s: %v", s.path, err)
		}
		if !pause(stop, retryDelay) {
			break
		}
	}
	return nil, nil, errStopped
}

func (s *probeUnlink) resign(ln net.Listener, dropMembers func()) {
	dropMembers()
	ln.Close() // leaves the socket file: the next leader's probe finds it stale
}

func (s *probeUnlink) close() {}
