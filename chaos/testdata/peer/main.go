// Command peer is a peer binary for the chaos tests while cmd/splitbrain is being written:
// `peer [--impl NAME]` is `splitbrain peer [--impl NAME]`.
package main

import (
	"os"

	"github.com/splitbrain-dev/splitbrain/harness/peer"
)

func main() { os.Exit(peer.Main(os.Args[1:], os.Stderr)) }
