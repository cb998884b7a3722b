package check

import "github.com/splitbrain-dev/splitbrain/harness/history"

// How the kernel was observed for an invariant ([Result.Observation]).
const (
	// Exact: the kernel was observed at every syscall that can break the invariant (each
	// listen, unlink and rename of the address, the caller held meanwhile), so a breach of
	// any length is seen.
	Exact = "exact"
	// Sampled: the kernel was observed at faults, settles and intervals; a breach shorter
	// than the interval between observations can be missed.
	Sampled = "sampled"
)

// exactable are the invariants whose every breach begins at a listen, unlink or rename of
// the address: observed at those instants, they are judged exactly.
var exactable = map[string]bool{"single-listener": true, "reachable-leader": true}

// observation says how the invariant name was observed in a run with this run record; ""
// for the invariants that no syscall can make exact (they stay sampled, or judge events).
func observation(name string, run *history.Run) string {
	switch {
	case !exactable[name]:
		return ""
	case run != nil && run.Syscalls == "on":
		return Exact
	}
	return Sampled
}
