package procmem

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// VmHWM returns the VmHWM line of /proc/PID/status (the peak resident set size) in bytes, 0
// once the process is gone.
func VmHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// WatchPeak reads [VmHWM] of pid every interval, from now until stop is closed, and returns
// a function that waits for the watching to end and returns the largest value read, in
// bytes (0 if none). VmHWM is gone once the process is reaped, so close stop when it exits.
func WatchPeak(pid int, every time.Duration, stop <-chan struct{}) (peak func() int64) {
	var top atomic.Int64
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if v := VmHWM(pid); v > top.Load() {
					top.Store(v)
				}
			}
		}
	}()
	return func() int64 {
		<-watched
		return top.Load()
	}
}
