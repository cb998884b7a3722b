package gotest_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/splitbrain-dev/splitbrain/examples/gotest"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
	"github.com/splitbrain-dev/splitbrain/peers/reference"
	"github.com/splitbrain-dev/splitbrain/sbtest"
)

// The peers: Go functions that the harness runs, each peer in its own process, by
// re-executing this test binary (TestMain calls sbtest.Main). Register them in
// package-level vars, so that the re-executed binary has them before TestMain runs.
var (
	// referencePeer is splitbrain's reference peer: the election library under the peer
	// protocol, white-box (it prints leader, follower and message events and answers
	// broadcasts). reference.Run is the template for a white-box peer of your own.
	referencePeer = sbtest.Peer("reference", func(ctx context.Context, p *peerio.Peer) error {
		if code := reference.Run(p, os.Stderr); code != reference.ExitOK {
			return fmt.Errorf("reference peer: exit %d", code)
		}
		return nil
	})

	// naivePeer runs gotest.Elect: lead until stopped, or follow until the leader goes,
	// then elect again. It prints no events, so the harness judges it black-box, from the
	// kernel's view alone.
	naivePeer = sbtest.Peer("naive", func(ctx context.Context, p *peerio.Peer) error {
		for {
			ln, conn, err := gotest.Elect(ctx, p.Env().Addr, p.Hit)
			if err != nil {
				return nil // stopped by the harness
			}
			if ln != nil {
				lead(ctx, ln)
			} else {
				follow(ctx, conn)
			}
		}
	})
)

// lead accepts members and keeps their connections open until ctx is done.
func lead(ctx context.Context, ln net.Listener) {
	context.AfterFunc(ctx, func() { ln.Close() })
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		context.AfterFunc(ctx, func() { conn.Close() })
	}
}

// follow stays connected until the leader goes (EOF) or ctx is done.
func follow(ctx context.Context, conn net.Conn) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	_, _ = io.Copy(io.Discard, conn)
	conn.Close()
}
