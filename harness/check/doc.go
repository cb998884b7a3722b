// Package check judges a run's history against the invariants of socket leader election
// (DESIGN.md, "Invariants the checkers judge"). Each invariant is one [Checker] in its own
// file; [All] is the registry, and [Judge] runs them all and returns [Results], whose
// [Results.ExitCode] is the CLI's exit code and whose [Results.Error] joins the failed parts.
//
// Checkers read records in slice order and stream over them: memory and time are linear in
// the history (plus small per-peer and per-broadcast state), so a history of 100k+ records
// is fine. [Judge] first puts records in T order (a stable sort of a copy, only when needed).
//
// # Verdicts
//
// A [Result] is [Pass], [Fail] (a violation, with [Evidence]), [NotJudged] (the run gives
// the checker nothing to judge, e.g. delivery for a black-box peer), or [Inconclusive] (the
// run cannot show whether the invariant holds). [Results.Verdict] is Fail if any part
// fails, else Inconclusive if any part is inconclusive, else Pass; exit codes 1, 2, 0.
//
// # Inconclusive rules
//
// A run in which no reachable listener was ever observed ("no leader ever appeared", e.g.
// every peer died on start, or the --impl command is wrong) cannot judge anything that needs
// a leader. Then liveness, no-lost-peers, no-unexpected-exits and delivery are Inconclusive
// instead of Fail, and their evidence carries every exit status and stderr tail. The
// invariants whose evidence stands alone (single-listener, reachable-leader, no-data-loss,
// protocol) judge every run. Besides:
//   - single-listener, reachable-leader: Inconclusive if the history has no observation;
//   - no-lost-peers: Inconclusive if no observation follows a settle/quiesce phase, or the
//     last one is taken before Run.Settle has passed since the phase began;
//   - liveness: Inconclusive if the run record has no Liveness bound;
//   - no-data-loss: Inconclusive if a planted file has no "final" plant record.
//
// # What the run loop must record
//
// Records are those of package history. The checkers rely on these conventions:
//   - Start and exit records carry Peer and the started PID; a peer must exec, not fork, its
//     implementation, since kernel snapshots name processes by PID.
//   - Phase records ("faults", "settle", "quiesce", "end") mark the run's phases. A round is
//     "faults" then "settle" (and optionally "quiesce"); "end" is when the harness begins to
//     stop peers: losses of the leader after it are not judged.
//   - Plants: a plant record with Detail "" or [PlantPlanted] sets the expected state of
//     Plant.Path; a later one with Detail [PlantCheck] or [PlantFinal] is the state the
//     harness found then, which must equal it (Type, UID, Inode, SHA256). A path that is gone
//     is recorded with Type [PlantMissing]. Every planted path needs a [PlantFinal] record
//     written at the end of the run, after the peers have stopped.
//   - A harness-steered crash (the "crash" failpoint) is an exit with ByHarness set.
package check
