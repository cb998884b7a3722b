package chaos

import (
	"fmt"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// Invariants an exploration judges by default: those a schedule's history can show, with
// check's names. Exits are judged as a run judges them (every kill, term and the final
// kill-all are recorded faults, so only a peer that exits on its own fails: a crash, or a
// member that gives up). Delivery judges the schedule's broadcast steps and leadership the
// peers' leader claims and epochs, as in a run. Liveness is run's: a schedule holds peers
// at failpoints and syscalls on purpose, for as long as it likes.
var Invariants = []string{
	check.SingleListener{}.Name(),
	check.ReachableLeader{}.Name(),
	check.NoLostPeers{}.Name(),
	check.NoDataLoss{}.Name(),
	check.NoUnexpectedExits{}.Name(),
	check.Delivery{}.Name(),
	check.Leadership{}.Name(),
}

// Violation is the verdict on a schedule that broke an invariant: the failed part of
// [check.Judge]'s results with the earliest evidence.
type Violation struct {
	Invariant string `json:"invariant"` // the checker's name
	// Step is the 1-based index of the step during or after which it was seen.
	Step int `json:"step"`
	// What says in one line what is wrong, naming peers.
	What string `json:"what"`
	// Snapshot is the kernel's view that proves it (nil for data loss).
	Snapshot *kernel.Snapshot `json:"snapshot,omitempty"`

	t time.Duration // when, for choosing the earliest
}

// Error implements error: "single-listener violated at step 3: ...".
func (v *Violation) Error() string {
	return fmt.Sprintf("%s violated at step %d: %s", v.Invariant, v.Step, v.What)
}
