// Package syscalls watches and steers a peer at the syscalls that can break an election,
// with seccomp user notification (SECCOMP_RET_USER_NOTIF, SECCOMP_USER_NOTIF_FLAG_CONTINUE;
// Linux 5.5 and later, 5.6 for pidfd_getfd).
//
// A peer is started through the harness's own binary re-executed as a shim ([Supervisor.Wrap],
// [ShimIfAsked]): the shim installs a filter for the election's syscalls
// ([Calls]) with a new listener, hands the listener to the [Supervisor] over a unix socket
// (SCM_RIGHTS), and execs the peer, which keeps the shim's pid. The filter is inherited by
// every child, so wrappers (sh -c, timeout), runtimes and daemons are covered.
//
// The supervisor reads each call's path or socket address from the caller's memory and lets
// every call that does not touch the election address or its directory go on at once. A call
// that does is a [Call] handed to Config.OnCall while the caller waits: the harness records
// it, looks at the kernel, and may hold it as long as it likes or kill the caller. A listen on
// the address is then made by the supervisor on the caller's own socket (pidfd_getfd), and
// an unlink or rename of it by the supervisor on the caller's resolved paths (when the caller
// has our effective ids), and OnCall sees the call again just after it, with its effect in
// the kernel and the caller not yet running on: that is how a split brain of any length is
// seen. The caller gets the result as if it had made the call itself.
//
// [Available] says whether it works here (an old kernel or a container may forbid it).
package syscalls
