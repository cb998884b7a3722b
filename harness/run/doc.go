// Package run is the random-fault driver: on one engine ([engine]) it starts the peers,
// samples the kernel's view of the address, waits for a first leader, injects a fault drawn
// at random ([fault]) round after round, lets the group settle, takes the final
// observations, and has the history judged ([check]). Everything goes to history.jsonl in
// the result folder as the run goes.
//
// While faults run and through the first half of the settle time, the run sends broadcast
// commands to random live white-box peers ([Config.Broadcasts]), so that the delivery
// checker judges real traffic. The engine judges every record online (single-listener,
// reachable-leader, no-data-loss, with the offline checkers' rules); the first such
// violation is in [Outcome.Violation], and with [Config.FailFast] it ends the fault phase.
//
// [Run] is the entry point; [Config] says what to run, [Outcome] what came of it.
package run
