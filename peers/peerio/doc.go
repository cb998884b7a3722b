// Package peerio is the peer side of the splitbrain peer protocol (docs/PROTOCOL.md) for Go
// peers: the reference peer and the canaries use it so that they speak the protocol the same
// way.
//
// [Open] reads the environment ([ParseEnv]), starts a goroutine that reads commands from
// stdin, and turns SIGTERM and SIGINT into a graceful stop. A peer then:
//   - writes events with [Peer.Emit] (one JSON line per call, safe from any goroutine);
//   - reads `broadcast` commands from [Peer.Commands];
//   - shuts down when [Peer.Stop] is closed (a `close` command or a termination signal);
//   - calls [Peer.Hit] at its failpoints; `continue` commands resume them.
//
// `continue` is acted on by the stdin reader itself, not passed on, because the goroutine
// that would read it is the one paused at the failpoint.
package peerio
