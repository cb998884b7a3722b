package check

import (
	"slices"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// Checker judges one invariant over a whole history. Check reads h in slice order (ascending
// T; [Judge] ensures it), must not modify it, and must not panic on any decoded history.
type Checker interface {
	// Name is the invariant's stable name, used in results.json and junit.xml.
	Name() string
	// Check returns the verdict on h. It may leave Result.Name empty: Judge sets it.
	Check(h []history.Record) Result
}

// All returns every checker, in the order reports list them.
func All() []Checker {
	return []Checker{
		SingleListener{},
		ReachableLeader{},
		NoLostPeers{},
		Liveness{},
		NoDataLoss{},
		NoUnexpectedExits{},
		Delivery{},
		Leadership{},
		Exposure{},
		Protocol{},
	}
}

// ByName returns the checker of All named name.
func ByName(name string) (Checker, bool) {
	for _, c := range All() {
		if c.Name() == name {
			return c, true
		}
	}
	return nil, false
}

// Judge runs checkers over h and returns their results in order. With none given it runs
// those the run record names (Run.Invariants), or else All.
// Records out of T order (two goroutines of the run loop may stamp and append in different
// orders) are judged in T order: a sorted copy is made, h is left as it is.
func Judge(h []history.Record, checkers ...Checker) Results {
	if len(checkers) == 0 {
		checkers = recorded(h)
	}
	if !slices.IsSortedFunc(h, byT) {
		h = slices.Clone(h)
		slices.SortStableFunc(h, byT)
	}
	rs := Results{Parts: make([]Result, 0, len(checkers))}
	run := RunConfig(h)
	for _, c := range checkers {
		r := c.Check(h)
		r.Name = c.Name()
		r.Observation = observation(r.Name, run)
		rs.Parts = append(rs.Parts, r)
	}
	return rs
}

func byT(a, b history.Record) int {
	switch {
	case a.T < b.T:
		return -1
	case a.T > b.T:
		return 1
	}
	return 0
}

// recorded returns the checkers the run record of h names, or All.
func recorded(h []history.Record) []Checker {
	run := RunConfig(h)
	if run == nil || len(run.Invariants) == 0 {
		return All()
	}
	var out []Checker
	for _, n := range run.Invariants {
		if c, ok := ByName(n); ok {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return All()
	}
	return out
}
