package canary

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

// Canary is one deliberately broken election implementation.
type Canary struct {
	// Name is how the canary is chosen, e.g. "probe-unlink".
	Name string
	// Transport is the transport it implements: peerio.TransportUnix or TransportTCP.
	Transport string
	// Bug says in one sentence what is wrong and how it bites.
	Bug string
	// Failpoints are the failpoint names it hits, in election order; the shared node also
	// hits after-listen, after-accept and after-connect.
	Failpoints []string

	newStrategy func(p *peerio.Peer) (strategy, error)
	// run, when set, is the whole peer instead of a strategy under the shared node: the
	// reference variants (see [Variants]) run the election library themselves.
	run func(p *peerio.Peer) error
}

// ErrUnknown is returned for a canary name that is not in All.
var ErrUnknown = errors.New("unknown canary")

var registry = map[string]Canary{}

// variants are the reference variants: the reference peer with one deliberate change each,
// reached by name like a canary but kept out of All (see [Variants]).
var variants = map[string]Canary{}

func register(c Canary) { registry[c.Name] = c }

func registerVariant(c Canary) { variants[c.Name] = c }

// Variants returns every reference variant, sorted by name: the reference peer with one
// deliberate bug that only a white-box judge sees (a lost message, a reused epoch), a
// transport detail (the bound address), or only a deep schedule shows (a follower that
// gives up after three lost leaders, a leader that turns members away after 16 joins). They are not in All, whose canaries every driver
// must catch (explorations included); the random driver's checkers catch these. A variant
// with an empty Transport runs on either.
func Variants() []Canary {
	out := make([]Canary, 0, len(variants))
	for _, c := range variants {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// All returns every canary, sorted by name.
func All() []Canary {
	out := make([]Canary, 0, len(registry))
	for _, c := range registry {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the names of every canary, sorted.
func Names() []string {
	var names []string
	for _, c := range All() {
		names = append(names, c.Name)
	}
	return names
}

// Lookup returns the canary or reference variant called name.
func Lookup(name string) (Canary, bool) {
	if c, ok := registry[name]; ok {
		return c, true
	}
	c, ok := variants[name]
	return c, ok
}

// Run runs the canary called name as p's election until p is asked to stop; it then runs
// the canary's shutdown path, emits `closed` and returns nil. The canary must match p's
// transport.
func Run(name string, p *peerio.Peer) error {
	c, ok := Lookup(name)
	if !ok {
		return fmt.Errorf("%w %q: choose one of %v", ErrUnknown, name, Names())
	}
	if c.run != nil && c.Transport == "" {
		return c.run(p)
	}
	if t := p.Env().Transport; t != c.Transport {
		return fmt.Errorf("canary %s implements %s, not %s: run it with transport %s", c.Name, c.Transport, t, c.Transport)
	}
	if c.run != nil {
		return c.run(p)
	}
	s, err := c.newStrategy(p)
	if err != nil {
		return fmt.Errorf("canary %s: %w", c.Name, err)
	}
	return run(p, s)
}

// Main is a whole canary peer program: it opens the protocol on this process's environment
// and standard streams, runs the canary called name, and returns the exit status (0 after a
// graceful stop, 3 when the canary could not run, with the reason on stderr).
func Main(name string) int {
	p, err := peerio.Open()
	if err != nil {
		fmt.Fprintf(os.Stderr, "canary %s: %v\n", name, err)
		return 3
	}
	if err := Run(name, p); err != nil {
		fmt.Fprintf(os.Stderr, "canary %s: %v\n", name, err)
		p.Errorf("%v", err)
		return 3
	}
	return 0
}
