package election

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Failpoint names: the steps of one election attempt where a test can stop, slow or crash a
// process. docs/PROTOCOL.md lists them for implementers in other languages.
const (
	FailBeforeLock   = "before-lock"
	FailAfterLock    = "after-lock"
	FailAfterProbe   = "after-probe"
	FailBeforeUnlink = "before-unlink"
	FailBeforeListen = "before-listen"
	FailAfterListen  = "after-listen"
	FailAfterAccept  = "after-accept"
	FailAfterConnect = "after-connect"
)

// FailpointNames lists every failpoint of the reference implementation, in election order.
var FailpointNames = []string{
	FailBeforeLock, FailAfterLock, FailAfterProbe, FailBeforeUnlink,
	FailBeforeListen, FailAfterListen, FailAfterAccept, FailAfterConnect,
}

// EnvFailpoints is the environment variable FailpointsFromEnv reads.
const EnvFailpoints = "SPLITBRAIN_FAILPOINTS"

// CrashStatus is the exit status of a process that a "crash" failpoint ended.
const CrashStatus = 77

// Action is what a failpoint does when reached.
type Action struct {
	Kind  string        // "off", "pause", "announce", "sleep", "crash"
	Sleep time.Duration // for "sleep"
}

// Failpoints maps failpoint names to actions. The nil *Failpoints is valid and does nothing,
// which is what an Elector has unless told otherwise: a failpoint then costs one nil check.
type Failpoints struct {
	actions map[string]Action // "*" applies to every name without its own entry

	// Announce, if set, is called when a "pause" or "announce" failpoint is reached, before
	// the pause. The peer protocol prints the failpoint event here.
	Announce func(name string, paused bool)

	// Refuse, if set, is asked by a leader about each member that has introduced itself,
	// just before it would be welcomed: true turns the member away (it is sent a refusal
	// and hung up on, and its Run ends with ErrForeignListener). It lets a test build a
	// leader with an admission bug (the reference variant turn-away-16); it may be called
	// from several goroutines at once.
	Refuse func(member string) bool

	mu     sync.Mutex
	resume chan struct{}
}

// ParseFailpoints reads a spec like "after-lock=pause,before-listen=sleep(50ms),*=announce".
// An empty spec gives nil.
func ParseFailpoints(spec string) (*Failpoints, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil
	}
	fp := &Failpoints{actions: map[string]Action{}, resume: make(chan struct{})}
	for _, item := range strings.Split(spec, ",") {
		name, act, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("failpoint %q: want NAME=ACTION, e.g. after-lock=pause", item)
		}
		a, err := parseAction(act)
		if err != nil {
			return nil, fmt.Errorf("failpoint %s: %w", name, err)
		}
		fp.actions[name] = a
	}
	return fp, nil
}

func parseAction(s string) (Action, error) {
	switch s {
	case "off", "pause", "announce", "crash":
		return Action{Kind: s}, nil
	}
	if arg, ok := strings.CutPrefix(s, "sleep("); ok && strings.HasSuffix(arg, ")") {
		d, err := time.ParseDuration(strings.TrimSuffix(arg, ")"))
		if err != nil || d < 0 {
			return Action{}, fmt.Errorf("bad sleep duration in %q: use Go syntax, e.g. sleep(50ms)", s)
		}
		return Action{Kind: "sleep", Sleep: d}, nil
	}
	return Action{}, fmt.Errorf("unknown action %q: use pause, announce, sleep(D), crash or off", s)
}

// FailpointsFromEnv parses $SPLITBRAIN_FAILPOINTS; nil when it is unset or empty.
func FailpointsFromEnv() (*Failpoints, error) {
	fp, err := ParseFailpoints(os.Getenv(EnvFailpoints))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvFailpoints, err)
	}
	return fp, nil
}

// Hit runs the action configured for name. It is safe on a nil receiver.
func (f *Failpoints) Hit(name string) {
	if f == nil {
		return
	}
	a, ok := f.actions[name]
	if !ok {
		a = f.actions["*"]
	}
	switch a.Kind {
	case "sleep":
		time.Sleep(a.Sleep)
	case "crash":
		os.Exit(CrashStatus)
	case "announce":
		if f.Announce != nil {
			f.Announce(name, false)
		}
	case "pause":
		f.mu.Lock()
		ch := f.resume
		f.mu.Unlock()
		if f.Announce != nil {
			f.Announce(name, true)
		}
		<-ch
	}
}

// refuses reports whether Refuse turns member away. It is safe on a nil receiver.
func (f *Failpoints) refuses(member string) bool {
	return f != nil && f.Refuse != nil && f.Refuse(member)
}

// Continue releases every goroutine paused at a failpoint.
func (f *Failpoints) Continue() {
	if f == nil {
		return
	}
	f.mu.Lock()
	close(f.resume)
	f.resume = make(chan struct{})
	f.mu.Unlock()
}
