package run_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

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
