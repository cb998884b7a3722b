package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); otherwise the module
// version from the build info is shown.
var version = ""

func versionCmd(stdout io.Writer) int {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok && v == "" {
		v = bi.Main.Version
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " " + s.Value[:12]
			}
		}
	}
	fmt.Fprintf(stdout, "splitbrain %s (peer protocol %d)\n", v, protocol.Version)
	return 0
}
