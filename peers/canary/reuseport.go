package canary

import (
	"net"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

func init() {
	register(Canary{
		Name:      "reuseport",
		Transport: peerio.TransportTCP,
		Bug: "connect to 127.0.0.1:PORT; if refused, listen with SO_REUSEPORT (meant to avoid " +
			"EADDRINUSE on a quick restart): the bind never fails, so two peers that are both " +
			"refused both listen on the same port and the kernel splits clients between them",
		Failpoints: []string{election.FailAfterProbe, election.FailBeforeListen},
		newStrategy: func(p *peerio.Peer) (strategy, error) {
			return &reusePort{p: p, addr: p.Env().Addr}, nil
		},
	})
}

// reusePort relies on EADDRINUSE to settle a race it switched off.
type reusePort struct {
	p    *peerio.Peer
	addr string
}

func (s *reusePort) elect(stop <-chan struct{}) (net.Listener, net.Conn, error) {
	for !stopped(stop) {
		conn, err := net.Dial("tcp", s.addr)
		if err == nil {
			return nil, conn, nil
		}
		s.p.Hit(election.FailAfterProbe)
		s.p.Hit(election.FailBeforeListen)
		// BUG: with SO_REUSEPORT a second listener on the port is welcome, so losing the
		// race to listen is never reported.
		ln, err := listenReusePort(s.addr)
		if err == nil {
			return ln, nil, nil
		}
		s.p.Errorf("listen %s: %v", s.addr, err)
		if !pause(stop, retryDelay) {
			break
		}
	}
	return nil, nil, errStopped
}

func (s *reusePort) resign(ln net.Listener, dropMembers func()) {
	dropMembers()
	ln.Close()
}

func (s *reusePort) close() {}
