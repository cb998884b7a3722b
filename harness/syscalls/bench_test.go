package syscalls_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
)

// BenchmarkCall measures what one unlinkat costs a peer, from inside the peer (process start
// left out), reported as ns/call:
//
//	unwatched      no filter: the kernel alone
//	passed         filtered, a path outside the election folder: read, let go at once
//	recorded       a path in the election folder: handed to OnCall (which returns at once)
//	key-made       the address itself: OnCall before, the supervisor unlinks, OnCall after
//
// go test -run '^$' -bench BenchmarkCall -benchtime 20000x ./harness/syscalls/
func BenchmarkCall(b *testing.B) {
	if err := syscalls.Available(mustExe(b)); err != nil {
		b.Skip(err)
	}
	dir, other := b.TempDir(), b.TempDir()
	addr := filepath.Join(dir, "sock")
	s, err := syscalls.Start(syscalls.Config{Addr: addr, OnCall: func(*syscalls.Call) {}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	cases := []struct {
		name, path string
		wrap       bool
	}{
		{"unwatched", filepath.Join(other, "x"), false},
		{"passed", filepath.Join(other, "x"), true},
		{"recorded", filepath.Join(dir, "x.lock"), true},
		{"key-made", addr, true},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			argv := []string{mustExe(b)}
			env := []string{helperEnv + "=loop", "LOOP_N=" + strconv.Itoa(b.N), "LOOP_PATH=" + c.path}
			if c.wrap {
				argv = s.Wrap(argv[0], argv)
				env = append(env, s.Env()...)
			}
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Env = append(os.Environ(), env...)
			out, err := cmd.Output()
			if err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			ns, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
			if err != nil {
				b.Fatalf("helper said %q", out)
			}
			b.ReportMetric(ns, "ns/call")
		})
	}
}

// BenchmarkAvailable measures the probe `--syscalls auto|on` runs once per command: a
// supervisor, one shim (this test binary re-executed) and its unlink.
func BenchmarkAvailable(b *testing.B) {
	exe := mustExe(b)
	for b.Loop() {
		if err := syscalls.Available(exe); err != nil {
			b.Skip(err)
		}
	}
}
