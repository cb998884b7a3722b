package sbtest_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/splitbrain-dev/splitbrain/peers/canary"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
	"github.com/splitbrain-dev/splitbrain/peers/reference"
	"github.com/splitbrain-dev/splitbrain/sbtest"
)

// The Go peers of these tests, registered at package level so that the re-executed test
// binary has them before TestMain.
var (
	referencePeer = sbtest.Peer("reference", func(ctx context.Context, p *peerio.Peer) error {
		if code := reference.Run(p, os.Stderr); code != reference.ExitOK {
			return fmt.Errorf("exit %d", code)
		}
		return nil
	})
	probeUnlinkPeer = sbtest.Peer("probe-unlink", func(ctx context.Context, p *peerio.Peer) error {
		return canary.Run("probe-unlink", p)
	})
)

func TestMain(m *testing.M) { sbtest.Main(m) }
