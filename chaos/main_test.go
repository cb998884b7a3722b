package chaos_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
	"github.com/splitbrain-dev/splitbrain/peers/reference"
)

// envPeer makes the re-executed test binary a peer (`splitbrain peer` in miniature).
const envPeer = "SPLITBRAIN_CHAOS_TEST_PEER"

func TestMain(m *testing.M) {
	syscalls.ShimIfAsked() // a peer steered at its syscalls comes through here first
	if os.Getenv(envPeer) != "" {
		os.Exit(reference.Main(os.Args[1:], os.Stderr))
	}
	os.Setenv(envPeer, "1") // inherited by the peers the tests start
	os.Exit(m.Run())
}

// impl is the peer command line running implementation name (a canary or "reference").
func impl(name string) string {
	return strconv.Quote(os.Args[0]) + " --impl " + name
}
