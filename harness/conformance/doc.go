// Package conformance is splitbrain's fixed, versioned conformance suite: a list of
// scenarios (each a [run.Config] with fixed seeds) that every implementation of socket leader
// election should survive, a deterministic way to split it across parallel CI jobs, and one
// report over the whole suite.
//
//   - [Cases] lists the suite for a [Size] ([SuiteVersion] names the list; it changes
//     whenever a scenario, seed or size does);
//   - [ParseShard] reads "I/N" and [Shard.Cases] picks shard I's cases, with no overlap and
//     nothing left out over I = 0..N-1;
//   - [Run] runs the cases of one shard against an implementation, one result folder each,
//     and writes results.json and junit.xml over all of them ([Write]);
//   - [Merge] joins the reports of several shards (or plain run folders) into one, and
//     refuses reports of different suite versions, sizes, implementations or transports.
//
// In junit.xml each case is a testsuite and each invariant a testcase in it, so a pipeline
// shows which property broke in which scenario.
package conformance
