// Package run is the orchestrator of one harness run: it starts the peers ([proc]), samples
// the kernel's view of the address ([kernel]), injects faults ([fault]) round after round,
// lets the group settle, takes the final observations, stops and reaps every peer, and
// judges the history ([check]). Everything goes to history.jsonl in the result folder.
//
// While faults run and through the first half of the settle time, the run sends broadcast
// commands to random live white-box peers ([Config.Broadcasts]), so that the delivery
// checker judges real traffic. Every recorded observation and every look at a planted file
// is also judged online for the invariants one record shows by itself (single-listener,
// reachable-leader, no-data-loss); the first such violation is in [Outcome.Violation], and
// with [Config.FailFast] it ends the fault phase early.
//
// [Run] is the entry point; [Config] says what to run, [Outcome] what came of it.
package run
