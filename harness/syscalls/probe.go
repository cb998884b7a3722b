package syscalls

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// EnvUnavailable, when set (to a reason), makes [Available] fail with that reason: a test
// hook for the fallback path on machines where seccomp notification works.
const EnvUnavailable = "SPLITBRAIN_SYSCALLS_UNAVAILABLE"

// Available reports whether a peer can be watched here: it starts exe as a shim under a
// supervisor and checks that an unlink the shim makes is seen and let go. exe must call
// [ShimIfAsked] first thing (the splitbrain binary does). The error wraps ErrUnavailable
// and says why.
func Available(exe string) error {
	if why := os.Getenv(EnvUnavailable); why != "" {
		return fmt.Errorf("%w: %s (%s is set)", ErrUnavailable, why, EnvUnavailable)
	}
	if _, err := program(); err != nil {
		return err
	}
	// Kernels before 5.0 have no user notification; this file lists it when they do.
	if b, err := os.ReadFile("/proc/sys/kernel/seccomp/actions_avail"); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	} else if !bytes.Contains(b, []byte("user_notif")) {
		return fmt.Errorf("%w: the kernel's seccomp actions are %q, without user_notif", ErrUnavailable, strings.TrimSpace(string(b)))
	}
	dir, err := os.MkdirTemp("", "splitbrain-probe-")
	if err != nil {
		return fmt.Errorf("%w: probe folder: %w", ErrUnavailable, err)
	}
	defer os.RemoveAll(dir)
	target := filepath.Join(dir, "sock")
	seen := make(chan struct{}, 1)
	s, err := Start(Config{Addr: target, OnCall: func(c *Call) {
		if c.Key && c.Path == target {
			select {
			case seen <- struct{}{}:
			default:
			}
		}
	}})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, s.Wrap(exe, nil)[1:]...)
	cmd.Env = append(os.Environ(), append(s.Env(), envProbe+"="+target)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: the probe %s failed: %v: %s", ErrUnavailable, exe, err, strings.TrimSpace(stderr.String()))
	}
	select {
	case <-seen:
		return nil
	default:
		return fmt.Errorf("%w: the probe's unlink was not reported", ErrUnavailable)
	}
}

// Modes of the --syscalls flag.
const (
	ModeAuto = "auto" // watch when [Available]; else say so once and sample
	ModeOn   = "on"   // watch, or fail when unavailable
	ModeOff  = "off"  // never watch: the kernel is sampled
)

// Decide resolves a --syscalls mode for the shim binary exe: on says whether to watch;
// note, when not empty, is the one line to tell the user (what auto chose, and why). The
// error is a bad mode, or ModeOn where seccomp notification is unavailable (it wraps
// ErrUnavailable).
func Decide(mode, exe string) (on bool, note string, err error) {
	switch mode {
	case ModeOff:
		return false, "", nil
	case ModeOn, ModeAuto, "":
	default:
		return false, "", fmt.Errorf("%w: --syscalls %q: use auto, on or off", ErrConfig, mode)
	}
	err = Available(exe)
	switch {
	case err == nil:
		return true, "", nil
	case mode == ModeOn:
		return false, "", fmt.Errorf("--syscalls on: %w; use --syscalls auto to fall back to sampling", err)
	}
	return false, fmt.Sprintf("syscalls: %v; the kernel is sampled instead (single-listener and reachable-leader are judged sampled)", err), nil
}
