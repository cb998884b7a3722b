package chaos

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// rapidSettings sets rapid's flags for one exploration and returns what restores them:
// one check per seed, cfg.Steps steps on average, no fail files (schedules are the
// regression cases, see the package doc), cfg.ShrinkTime to shrink.
func rapidSettings(cfg Config) (restore func()) {
	// rapid asks testing.Short(), which needs the testing flags registered and parsed; in a
	// test binary they are, in a program (splitbrain explore) parse the empty global set.
	testing.Init()
	if !flag.Parsed() {
		flag.CommandLine.Parse(nil)
	}
	set := map[string]string{
		"rapid.checks":     "1",
		"rapid.steps":      strconv.Itoa(cfg.Steps),
		"rapid.nofailfile": "true",
		"rapid.shrinktime": cfg.ShrinkTime.String(),
	}
	old := map[string]string{"rapid.seed": ""}
	for name := range set {
		old[name] = ""
	}
	for name := range old {
		if f := flag.Lookup(name); f != nil {
			old[name] = f.Value.String()
		}
	}
	for name, v := range set {
		setFlag(name, v)
	}
	return func() {
		for name, v := range old {
			setFlag(name, v)
		}
	}
}

func setFlag(name, v string) {
	if err := flag.Set(name, v); err != nil {
		panic(fmt.Sprintf("rapid flag %s: %v", name, err)) // rapid defines them all in init
	}
}

// rapidTB is the rapid.TB an exploration runs under: it keeps rapid's report instead of
// failing a test, so that a counterexample is a Result.
type rapidTB struct {
	name   string
	mu     sync.Mutex
	failed bool
	logs   []string
}

func (tb *rapidTB) Helper()      {}
func (tb *rapidTB) Name() string { return tb.name }
func (tb *rapidTB) Logf(format string, args ...any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.logs = append(tb.logs, fmt.Sprintf(format, args...))
}
func (tb *rapidTB) Log(args ...any)                   { tb.Logf("%s", fmt.Sprint(args...)) }
func (tb *rapidTB) Skipf(format string, args ...any)  { tb.Logf(format, args...) }
func (tb *rapidTB) Skip(args ...any)                  { tb.Log(args...) }
func (tb *rapidTB) SkipNow()                          {}
func (tb *rapidTB) Errorf(format string, args ...any) { tb.Logf(format, args...); tb.Fail() }
func (tb *rapidTB) Error(args ...any)                 { tb.Log(args...); tb.Fail() }
func (tb *rapidTB) Fatalf(format string, args ...any) { tb.Errorf(format, args...) }
func (tb *rapidTB) Fatal(args ...any)                 { tb.Error(args...) }
func (tb *rapidTB) FailNow()                          { tb.Fail() }
func (tb *rapidTB) Fail() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.failed = true
}
func (tb *rapidTB) Failed() bool {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.failed
}

// report returns rapid's first line about the failure ("[rapid] failed after ..." or
// "[rapid] flaky test ...").
func (tb *rapidTB) report() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, l := range tb.logs {
		if strings.HasPrefix(l, "[rapid] failed") || strings.HasPrefix(l, "[rapid] flaky") || strings.HasPrefix(l, "[rapid] panic") {
			first, _, _ := strings.Cut(l, "\n")
			return first
		}
	}
	return ""
}
