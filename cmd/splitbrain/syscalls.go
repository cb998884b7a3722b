package main

import (
	"fmt"
	"io"
	"os"

	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
)

// defaultSyscalls is --syscalls when not given.
const defaultSyscalls = syscalls.ModeOff

const syscallsUsage = "watch peers at their election syscalls with seccomp user notification, so single-listener and reachable-leader are judged exactly: auto (when the kernel allows it, else sample and say so), on (exit 3 when unavailable) or off (sample the kernel)"

// decideSyscalls resolves --syscalls; ok is false after a message for a bad mode or for on
// where seccomp notification is unavailable. A fallback under auto is said once.
func decideSyscalls(cmd, mode string, stderr io.Writer) (watch, ok bool) {
	exe, err := os.Executable()
	if err != nil && mode != syscalls.ModeOff {
		fmt.Fprintf(stderr, "splitbrain %s: --syscalls %s: cannot find this executable for the shim: %v\n", cmd, mode, err)
		return false, false
	}
	watch, note, err := syscalls.Decide(mode, exe)
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain %s: %v\n", cmd, err)
		return false, false
	}
	if note != "" {
		fmt.Fprintf(stderr, "splitbrain: %s\n", note)
	}
	if watch {
		fmt.Fprintf(stderr, "splitbrain: syscalls watched (seccomp user notification): single-listener and reachable-leader are judged exactly\n")
	}
	return watch, true
}
