// Package procmem reads a process's peak resident memory from /proc for the tests that bound
// the harness's memory: [VmHWM] reads it once, [WatchPeak] polls it while the process runs.
package procmem
