package canary

import (
	"fmt"
	"net"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

func init() {
	register(Canary{
		Name:      "dual-stack",
		Transport: peerio.TransportTCP,
		Bug: "treats the port as \"localhost\": dials and listens on 127.0.0.1 then [::1], " +
			"taking the first that works, so a peer that loses the race for 127.0.0.1:PORT " +
			"leads on [::1]:PORT: two leaders on one port, one that the others never reach",
		Failpoints: []string{election.FailAfterProbe, election.FailBeforeListen},
		newStrategy: func(p *peerio.Peer) (strategy, error) {
			_, port, err := net.SplitHostPort(p.Env().Addr)
			if err != nil {
				return nil, fmt.Errorf("address %q: %w", p.Env().Addr, err)
			}
			return &dualStack{p: p, addrs: []string{
				net.JoinHostPort("127.0.0.1", port), net.JoinHostPort("::1", port),
			}}, nil
		},
	})
}

// dualStack does what resolving "localhost" and trying each address does.
type dualStack struct {
	p     *peerio.Peer
	addrs []string // 127.0.0.1:PORT, [::1]:PORT
}

func (s *dualStack) elect(stop <-chan struct{}) (net.Listener, net.Conn, error) {
	for !stopped(stop) {
		for _, a := range s.addrs {
			if conn, err := net.Dial("tcp", a); err == nil {
				return nil, conn, nil
			}
		}
		s.p.Hit(election.FailAfterProbe)
		s.p.Hit(election.FailBeforeListen)
		for _, a := range s.addrs {
			// BUG: EADDRINUSE on 127.0.0.1 means another peer just won; the other address
			// family is a different socket, so trying it makes a second leader.
			if ln, err := net.Listen("tcp", a); err == nil {
				return ln, nil, nil
			}
		}
		if !pause(stop, retryDelay) {
			break
		}
	}
	return nil, nil, errStopped
}

func (s *dualStack) resign(ln net.Listener, dropMembers func()) {
	dropMembers()
	ln.Close()
}

func (s *dualStack) close() {}
