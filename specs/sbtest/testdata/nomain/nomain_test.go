// Package nomain is a test package that registers a Go peer but whose TestMain does not
// call sbtest.Main: the re-executed binary must stop at its first argument instead of
// running these tests again, and the run must say what to do. specs/sbtest runs it.
package nomain

import (
	"context"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/peers/peerio"
	"github.com/splitbrain-dev/splitbrain/sbtest"
)

var peer = sbtest.Peer("forgotten", func(ctx context.Context, p *peerio.Peer) error {
	<-ctx.Done()
	return nil
})

func TestForgottenMain(t *testing.T) {
	sbtest.Check(t, sbtest.RunConfig{Peer: peer, Peers: 2, Duration: time.Second})
}
