package main

import (
	"io"

	"github.com/splitbrain-dev/splitbrain/harness/peer"
)

// peerCmd runs one peer: the reference implementation, or a canary with --impl NAME.
func peerCmd(args []string, stderr io.Writer) int { return peer.Main(args, stderr) }
