package main

import (
	"io"

	"github.com/splitbrain-dev/splitbrain/peers/reference"
)

// peerCmd runs one peer: the reference implementation, or a canary with --impl NAME.
func peerCmd(args []string, stderr io.Writer) int { return reference.Main(args, stderr) }
