// Package fault is the nemesis: the faults the harness injects into a group of peers, as
// values in one registry ([All], [ByName], [Parse]), each with a Name.
//
// A [Fault] acts on the run through [Env], a small seam the run loop implements: the live
// peers, the leader as the kernel sees it, starting and killing peers, waiting for events,
// and recording. All randomness comes from Env.Rand, one seeded source, so a seed replays
// the choice of faults, targets and delays.
package fault
