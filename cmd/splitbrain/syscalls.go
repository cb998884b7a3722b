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

// exploreSyscalls resolves explore's --syscalls with its --mode: avail says whether peers can
// be steered at their syscalls here. ok is false after a message: a bad mode, or on (or
// --mode syscalls) where seccomp notification is unavailable. A fallback under auto is said
// once.
func exploreSyscalls(sysMode, mode string, stderr io.Writer) (avail, ok bool) {
	if sysMode == syscalls.ModeOff {
		if mode == "syscalls" {
			fmt.Fprintf(stderr, "splitbrain explore: --mode syscalls needs --syscalls auto or on, not off\n")
			return false, false
		}
		return false, true
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain explore: --syscalls %s: cannot find this executable for the shim: %v\n", sysMode, err)
		return false, false
	}
	decide := sysMode
	if mode == "syscalls" {
		decide = syscalls.ModeOn // steering at syscalls was asked for: no fallback
	}
	avail, note, err := syscalls.Decide(decide, exe)
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain explore: %v\n", err)
		return false, false
	}
	if note != "" {
		fmt.Fprintf(stderr, "splitbrain: %s; a black-box peer gets drawn fault timings instead of steering\n", note)
	}
	return avail, true
}
