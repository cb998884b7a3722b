// Package gotest shows how to test election code with splitbrain from `go test`: the test
// binary runs itself as the peers (sbtest.Peer, sbtest.Main), and the CLI's engine and judge
// give the verdict (sbtest.Run, sbtest.Check, and Gomega matchers in sbtest/sbmatchers).
//
// Elect, below, stands for your election code. It is the naive election many projects
// write first, and it is wrong: the specs expect splitbrain to catch it.
package gotest

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// Elect elects a leader on the unix socket path: listen; if the path is taken, connect; if
// nobody answers, take the socket for stale, remove it and listen again. It returns a
// listener when this process leads, or a connection to the leader when it follows, or
// ctx's error. failpoint, if not nil, is called with the name of each step it reaches
// ("before-unlink"), so that a test can widen a race window: a peer passes peerio.Peer.Hit,
// which sleeps or pauses as the harness's SPLITBRAIN_FAILPOINTS says.
//
// The bug: "nobody answers" holds only until another process, acting on the same probe,
// removes the socket and listens on a fresh one. When a leader dies, its followers race:
// two of them both remove and listen, and the first one's listener is orphaned (no path
// leads to it). Two leaders, one of them unreachable.
func Elect(ctx context.Context, path string, failpoint func(name string)) (net.Listener, net.Conn, error) {
	if failpoint == nil {
		failpoint = func(string) {}
	}
	for ctx.Err() == nil {
		if ln, err := net.Listen("unix", path); err == nil {
			return ln, nil, nil
		}
		conn, err := net.Dial("unix", path)
		if err == nil {
			return nil, conn, nil
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			failpoint("before-unlink")
			os.Remove(path) // BUG: no lock; another process may have listened here since our probe
			continue        // and listen at once
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil, nil, ctx.Err()
}
