// Package engine is the one engine under every splitbrain run: a group of real peer
// processes at one election address, under observation. An [Engine] starts, stops, kills,
// pauses and restarts peers ([proc]); owns the kernel observer ([kernel]) and the recorder
// (history.jsonl); tracks what each peer said through the protocol (role, failpoint it is
// paused at, errors); waits on conditions (settled, paused at a failpoint, exited, quiet),
// never on fixed sleeps; and carries out every fault ([fault]): it implements [fault.Env].
//
// Every record it writes is judged online by [check.Online] (single-listener,
// reachable-leader, no-data-loss), with the same rules the offline judge ([check.Judge])
// applies to the whole history, so the driver that stops at the first violation and the
// report that judges the folder agree.
//
// Two drivers use it: harness/run (random faults, round after round) and chaos (schedules
// that rapid draws and shrinks, steered one failpoint at a time). A schedule step and a
// random fault run the same fault code.
package engine
