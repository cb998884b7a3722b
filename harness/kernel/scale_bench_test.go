package kernel

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkSnapshotProcesses measures one Snapshot of a leader and N-1 follower processes
// (this test binary re-executed: each holds one connection to the listener, as a peer
// does, plus its stdio and the Go runtime's own fds), over the pids of all N, the way a
// run observes its peers. N is 200 by default; SPLITBRAIN_BENCH_PROCS=200,500,1000 sets
// the list (docs/BENCHMARKS.md, "scale").
func BenchmarkSnapshotProcesses(b *testing.B) {
	counts := []int{200}
	if s := os.Getenv("SPLITBRAIN_BENCH_PROCS"); s != "" {
		counts = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 2 {
				b.Fatalf("SPLITBRAIN_BENCH_PROCS=%q: want a comma-separated list of counts of 2 or more", s)
			}
			counts = append(counts, n)
		}
	}
	for _, n := range counts {
		b.Run(fmt.Sprintf("procs=%d", n), func(b *testing.B) {
			path := sockPath(b)
			leader := startHelper(b, "listen-unix", path)
			pids := []int{leader}
			began := time.Now()
			for range n - 1 {
				pids = append(pids, startHelper(b, "dial", "unix!"+path))
			}
			spawn := float64(time.Since(began).Microseconds()) / float64(n-1)
			o := NewUnix(path)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				s, err := o.Snapshot(pids)
				if err != nil {
					b.Fatal(err)
				}
				if len(s.Listeners) != 1 || len(s.Conns) != n-1 {
					b.Fatalf("snapshot has %d listeners, %d conns; want 1, %d", len(s.Listeners), len(s.Conns), n-1)
				}
			}
			b.ReportMetric(spawn, "µs/spawn") // after the loop: ResetTimer drops metrics
		})
	}
}

// startHelper is startChild for benchmarks: it starts helper name and waits for its
// "ready" line; the child is killed and reaped when b ends.
func startHelper(b *testing.B, name, arg string) int {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), envHelper+"="+name, envArg+"="+arg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start helper %s: %v", name, err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		b.Fatalf("helper %s said %q (%v), want ready <inode>", name, line, err)
	}
	return cmd.Process.Pid
}
