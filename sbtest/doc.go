// Package sbtest runs splitbrain from a user's own `go test`: a run under random faults
// ([RunConfig], what `splitbrain run` does) or the versioned conformance suite
// ([Conformance], what `splitbrain conformance` does) against a peer, judged by the same
// engine and judge as the CLI, with a typed [Result].
//
// A peer is a command line ([Command]) or a Go function ([Peer]) that runs in its own
// process: the test binary re-executes itself, and [Main], called from TestMain, dispatches
// to the function instead of running the tests. The function gets the protocol plumbing
// ([peerio.Peer]), so election code, the election library's or a user's own, becomes a
// white-box peer:
//
//	var mine = sbtest.Peer("mine", func(ctx context.Context, p *peerio.Peer) error { ... })
//
//	func TestMain(m *testing.M) { sbtest.Main(m) }
//
//	func TestElection(t *testing.T) {
//		sbtest.Check(t, sbtest.RunConfig{Peer: mine, Peers: 5, Duration: 10 * time.Second})
//	}
//
// [Run] returns the [Result] for any assertion; [Check] fails the test unless the verdict is
// pass, with the verdict table, the result folder and the replay command. Gomega matchers
// are in the subpackage sbmatchers, so that plain-testing users need no Gomega.
//
// Its types are its own, small and stable: the harness packages behind it (harness/run,
// harness/conformance, harness/check, harness/report) may change shape without breaking a
// user's tests. Results carry the same verdicts, invariant names and files as the CLI's, and
// the result folder is the CLI's (results.json, junit.xml, history.jsonl, timeline.html),
// so `splitbrain check DIR` judges it again.
//
// Linux only, like the harness. A run makes the test process a child subreaper
// (PR_SET_CHILD_SUBREAPER) so that no peer's descendant escapes; every peer process is
// stopped and reaped before Run returns.
package sbtest
