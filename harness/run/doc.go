// Package run is the orchestrator of one harness run: it starts the peers ([proc]), samples
// the kernel's view of the address ([kernel]), injects faults ([fault]) round after round,
// lets the group settle, takes the final observations, stops and reaps every peer, and
// judges the history ([check]). Everything goes to history.jsonl in the result folder.
//
// [Run] is the entry point; [Config] says what to run, [Outcome] what came of it.
package run
