// Command gopeer is a user's Go program that runs the election library as a white-box
// splitbrain peer, the way the reference does; the verdict specs start it with `go run`,
// so that each peer is the go command with the compiled program as its child.
package main

import (
	"fmt"
	"os"

	"github.com/splitbrain-dev/splitbrain/peers/peerio"
	"github.com/splitbrain-dev/splitbrain/peers/reference"
)

func main() {
	p, err := peerio.Open()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gopeer: %v\n", err)
		os.Exit(reference.ExitUsage)
	}
	os.Exit(reference.Run(p, os.Stderr))
}
