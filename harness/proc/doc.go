// Package proc starts and controls peer processes for the harness.
//
// A [Group] starts each peer from a command line ([Split]) with the protocol environment
// ([Env]), in its own process group, with Pdeathsig SIGKILL so nothing outlives the harness.
// It turns the peer's stdout into history records (events, or protocol errors naming the peer
// and the line), keeps the tail of its stderr, and writes commands to its stdin without ever
// blocking the caller. [Peer] signals always go to the whole process group, and [Group.Close]
// terminates, kills and reaps everything the group started, on every exit path.
package proc
