package election_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/splitbrain-dev/splitbrain/election"
	"golang.org/x/sys/unix"
)

// helperHold takes an flock on $LOCK (as another process of the group would), prints
// "held", and keeps it until its stdin reaches EOF.
func helperHold() int {
	f, err := os.OpenFile(os.Getenv("LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("held")
	io.Copy(io.Discard, os.Stdin)
	return 0
}

// helperOpen tries to open $FILE for reading and prints "ok" or the error; it is run as
// another uid to see whether that user could lock the file.
func helperOpen() int {
	f, err := os.Open(os.Getenv("FILE"))
	if err != nil {
		fmt.Println("error", err)
		return 0
	}
	f.Close()
	fmt.Println("ok")
	return 0
}

// helperEMFILE runs an Elector on $ADDR with MaxRetries 4 after using up every file
// descriptor it may open, so that each attempt fails with EMFILE. It prints one line per
// event ("retry ATTEMPT MONO_NS CAUSE"), then "run ERR" and "cpu NS WALL_NS" (the CPU time
// the process spent from Run to its end, and the wall time).
func helperEMFILE() int {
	e, err := election.New(election.Options{Address: os.Getenv("ADDR"), MaxRetries: 4})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 64, Max: 64}); err != nil {
		fmt.Fprintln(out, "error", err)
		return 1
	}
	// The runtime's poller (epoll) starts with the first timer; start it while it can.
	time.AfterFunc(time.Hour, func() {}).Stop()
	var held []int
	for {
		fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		held = append(held, fd)
	}
	cpu0, wall0 := cpuNow(), monoNow()
	runErr := make(chan error, 1)
	go func() { runErr <- e.Run(context.Background()) }()
	for ev := range e.Events() {
		if ev.Kind == election.Retry {
			fmt.Fprintf(out, "retry %d %d %v\n", ev.Attempt, monoNow(), ev.Err)
		} else {
			fmt.Fprintf(out, "event %v\n", ev)
		}
	}
	err = <-runErr
	fmt.Fprintf(out, "run too-many=%v emfile=%v %v\n", errors.Is(err, election.ErrTooManyRetries), errors.Is(err, unix.EMFILE), err)
	fmt.Fprintf(out, "cpu %d %d\n", cpuNow()-cpu0, monoNow()-wall0)
	for _, fd := range held {
		unix.Close(fd)
	}
	return 0
}

// cpuNow is the CPU time this process has used, in nanoseconds.
func cpuNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_PROCESS_CPUTIME_ID, &ts)
	return ts.Nano()
}
