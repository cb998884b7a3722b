// Package canary holds deliberately broken implementations of socket leader election. Each
// behaves outwardly like a correct peer — it leads or follows, re-elects when its leader
// dies, relays broadcasts like a hub, speaks the peer protocol and stops at its failpoints —
// but has one bug that real projects have shipped. A canary the harness does not catch is a
// hole in the harness.
//
// [All] lists them with the bug each carries and the failpoints that steer it; [Run] runs
// one as the current process's peer; [Main] is a whole peer program in one call.
//
// The shared hub, relay and client live in node.go; each canary is only its election
// (a strategy) and, where the bug lives there, its leader's shutdown path.
package canary
