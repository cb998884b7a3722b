package run_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/run"
	"github.com/splitbrain-dev/splitbrain/internal/procmem"
)

// BenchmarkRunPeak200 measures the memory of the harness process in one `splitbrain run`
// of 200 reference peers (5 kill-leader rounds, settle 2s): VmHWM-MiB is the largest VmHWM
// read from /proc/PID/status every 2ms while it runs; maxrss-MiB is ru_maxrss at exit (the
// process's peak, or a reaped peer's if larger). valid is 1 when the run exited 0. One op is
// one whole run; it builds cmd/splitbrain with the go tool (or uses $SPLITBRAIN_BIN).
func BenchmarkRunPeak200(b *testing.B) {
	bin := os.Getenv("SPLITBRAIN_BIN")
	if bin == "" {
		bin = filepath.Join(b.TempDir(), "splitbrain")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/splitbrain-dev/splitbrain/cmd/splitbrain").CombinedOutput()
		if err != nil {
			b.Fatalf("build cmd/splitbrain: %v\n%s", err, out)
		}
	}
	const peers = 200
	var hwm, maxrss int64
	valid := 1.0
	b.ResetTimer()
	for range b.N {
		out := filepath.Join(b.TempDir(), "out")
		cmd := exec.Command(bin, "run", "--peers", strconv.Itoa(peers), "--faults", "kill-leader",
			"--rounds", "5", "--settle", "2s", "--liveness", "10s", "--quiet", "--seed", "1", "--out", out)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		var stdout strings.Builder
		cmd.Stdout = &stdout
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		peak := procmem.WatchPeak(cmd.Process.Pid, 2*time.Millisecond, done)
		err := cmd.Wait()
		close(done)
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			b.Fatal(err)
		}
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			valid = 0
			b.Logf("run of %d peers exited %d:\n%s", peers, code, stdout.String())
		}
		hwm = max(hwm, peak())
		maxrss = max(maxrss, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss<<10)
	}
	b.ReportMetric(float64(hwm)/(1<<20), "VmHWM-MiB")
	b.ReportMetric(float64(maxrss)/(1<<20), "maxrss-MiB")
	b.ReportMetric(valid, "valid")
}

// BenchmarkObservationInterval measures how finely the harness sees the kernel: the achieved
// interval between two kernel snapshots (sampling at 20ms, plus every wait's own looks)
// while N flock peers (this test binary re-executed) run 5s of kill-leader rounds. One op is
// one whole run; it reports the median and the longest interval in ms, and the snapshots.
func BenchmarkObservationInterval(b *testing.B) {
	for _, peers := range []int{20, 200, 1000} {
		b.Run("peers="+strconv.Itoa(peers), func(b *testing.B) {
			fs, err := fault.Parse("kill-leader", "unix")
			if err != nil {
				b.Fatal(err)
			}
			var median, most time.Duration
			var count int
			for range b.N {
				out, err := run.Run(context.Background(), run.Config{
					Impl:  fmt.Sprintf("env %s=flock %s", helperEnv, os.Args[0]),
					Peers: peers, Duration: 5 * time.Second, Faults: fs, Seed: 1, Out: b.TempDir(),
					Settle: time.Second, Liveness: 10 * time.Second, Broadcasts: -1,
				})
				if err != nil {
					b.Fatal(err)
				}
				count, median, most = out.Observations, out.ObservedEvery, out.ObservedMax
			}
			b.ReportMetric(float64(median)/float64(time.Millisecond), "interval-median-ms")
			b.ReportMetric(float64(most)/float64(time.Millisecond), "interval-max-ms")
			b.ReportMetric(float64(count), "snapshots")
		})
	}
}
