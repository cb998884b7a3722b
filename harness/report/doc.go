// Package report writes and reads a run's result folder (DESIGN.md, "Reports"):
//   - [Write] puts results.json (the verdict of every invariant, with figures, evidence,
//     the run configuration and the replay command) and junit.xml (one testsuite, one
//     testcase per invariant) in the folder;
//   - [Summary] prints the short human verdict for the terminal, with the evidence and the
//     replay command when the run is not valid;
//   - [Load] reads history.jsonl back for `splitbrain check DIR`, and says which file and
//     which line is wrong when the folder is missing, cut off or hand-edited badly.
//
// In junit.xml a failed invariant is a <failure>, an inconclusive one an <error> (the run
// could not judge it, and exits 2), and a not-judged one is <skipped>.
package report
