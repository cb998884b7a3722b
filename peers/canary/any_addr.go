package canary

import (
	"fmt"
	"net"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

func init() {
	registerVariant(Canary{
		Name:      "any-addr",
		Transport: peerio.TransportTCP,
		Bug: "connect to 127.0.0.1:PORT; if refused, listen on 0.0.0.0:PORT (\"listen on the " +
			"port\"): the election is right, one listener, reached on loopback, but every " +
			"other machine that can route to this one can join the group too",
		Failpoints: []string{election.FailAfterProbe, election.FailBeforeListen},
		newStrategy: func(p *peerio.Peer) (strategy, error) {
			_, port, err := net.SplitHostPort(p.Env().Addr)
			if err != nil {
				return nil, fmt.Errorf("address %q: %w", p.Env().Addr, err)
			}
			return &anyAddr{p: p, dial: p.Env().Addr, listen: net.JoinHostPort("0.0.0.0", port)}, nil
		},
	})
}

// anyAddr elects by binding the port, as the reference does, but binds it on every address.
type anyAddr struct {
	p            *peerio.Peer
	dial, listen string // 127.0.0.1:PORT, 0.0.0.0:PORT
}

func (s *anyAddr) elect(stop <-chan struct{}) (net.Listener, net.Conn, error) {
	for !stopped(stop) {
		if conn, err := net.Dial("tcp4", s.dial); err == nil {
			return nil, conn, nil
		}
		s.p.Hit(election.FailAfterProbe)
		s.p.Hit(election.FailBeforeListen)
		// BUG: the wildcard is every address of the machine, not loopback. EADDRINUSE still
		// settles the race (the wildcard and 127.0.0.1 overlap), so the election holds.
		if ln, err := net.Listen("tcp4", s.listen); err == nil {
			return ln, nil, nil
		}
		if !pause(stop, retryDelay) {
			break
		}
	}
	return nil, nil, errStopped
}

func (s *anyAddr) resign(ln net.Listener, dropMembers func()) {
	dropMembers()
	ln.Close()
}

func (s *anyAddr) close() {}
