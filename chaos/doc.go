// Package chaos is property-based exploration of socket leader election over real peer
// processes, with pgregory.net/rapid: it searches for a short schedule of faults under which
// a group of peers breaks an invariant, shrinks it, and saves it as a replayable
// counterexample.
//
// A [Schedule] is data: a list of [Step]s ("start p1 p2 (steered)", "continue p1", "run-to
// p2 before-listen", "free p1", "kill the leader", "term p2", "pause", "stale", "plant a
// file" (or a directory, or another user's socket), "churn the leader 12 times", "settle").
// A churn step is a random run's nemesis in one step: the leader (or a follower) killed and
// replaced, round after round, so that a short schedule still reaches the bugs that need a
// follower to lose many leaders or a leader to welcome many joins. A broadcast step ("broadcast
// from the leader", "broadcast from p2") hands a free white-box peer a message for its group,
// so that delivery is judged as in a run; leadership judges the peers' leader claims and
// their epochs. An exploration that passes says, per invariant, in how many schedules it had
// something to judge ([Result.Judged]): one with nothing to judge is "not judged", not a
// pass. A driver executes a
// schedule on a fresh engine (harness/engine: a group of real processes, each in its own
// process group, watched from the kernel), running each step with the same fault code a
// random run uses (harness/fault). The package keeps no
// invariant of its own: the engine's online judge (check.Online) ends a schedule at the
// first record that breaks one, and the verdict is check.Judge's on the schedule's history,
// over [Config.Invariants] — the judgement results.json of the folder holds, and `splitbrain
// check DIR` gives again. Every step waits for a condition with a deadline (a peer paused
// at its next failpoint, an exit, the group settled, or a peer quiet for [Config.Quiet]
// because it is blocked), never a fixed sleep; the only timed actions are the delays and
// gaps a timing schedule draws on purpose. A step that finds nothing to act on ("kill the
// leader" with no leader) is left out of the schedule.
//
// White-box peers (they announce failpoints, docs/PROTOCOL.md) are steered: started with
// every failpoint paused, they move one failpoint at a time when a step says so, so one
// schedule is one interleaving and replays as the same interleaving. Any peer, black-box
// included and unchanged, can be steered the same way at its syscalls instead ([ModeSyscalls],
// seccomp user notification through harness/engine): held before each connect, bind,
// listen, unlink, rename or lock on the election's files, it makes one call per step that
// says so ("continue p2" tells "p2 connect election.sock -> ECONNREFUSED, p2 holds at unlink
// election.sock"), and "kill p2" kills it where it waits. Holding a peer after a call is
// holding it before its next one. A steered peer rests when it waits at a point, or when it
// has been quiet for [Config.Quiet] with no thread able to run. Where seccomp notification
// is unavailable, black-box peers get timing schedules: the same faults with drawn delays
// and start gaps.
//
// The rapid state machine (t.Repeat, "" action = invariants) draws each step with a
// labelled Draw and executes it at once. [Explore] runs it one seed at a time within a
// budget, lets rapid shrink the first failing schedule, then simplifies it one change at a
// time while a replay still fails: deletes a step, starts a steered peer free, or starts two
// free peers in one step (rapid's shrinking is bounded in time, so on a loaded machine
// it may stop short; this pass is bounded by the schedule's length, so the result does not
// depend on the machine's speed), replays the result to confirm it, and returns a [Result]; [Replay] runs a saved schedule. A failing schedule is told as
// a numbered story (Schedule.Story) and saved as schedule.json in the result folder.
//
// # Regression cases
//
// rapid's own fail files (testdata/rapid/...) are not committed: they are bit streams
// whose meaning changes whenever an action or a draw is added, and they replay a random
// search, not an interleaving. Instead, shrunk counterexamples are committed as schedules
// under chaos/testdata/schedules (one JSON file per canary); TestRegressionSchedules replays
// each against the canary it was found on (it must still fail the same invariant) and
// against the reference implementation (it must pass). A schedule names its steps, so it
// survives changes to the machine and reads as a story in review.
package chaos
