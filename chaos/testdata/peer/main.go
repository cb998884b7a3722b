// Command peer is a peer binary for the chaos tests while cmd/splitbrain is being written:
// `peer [--impl NAME]` is `splitbrain peer [--impl NAME]`.
package main

import (
	"os"

	"github.com/splitbrain-dev/splitbrain/peers/reference"
)

func main() { os.Exit(reference.Main(os.Args[1:], os.Stderr)) }
