package engine

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// Process record details (history.KindProcess).
const (
	ProcChild      = "child"      // a new descendant of the peer's process
	ProcDaemonized = "daemonized" // a descendant that left the peer's process tree (re-parented to the harness)
	ProcGone       = "gone"       // a descendant that has ended
	ProcKilled     = "killed"     // a descendant the harness killed when the group closed
)

var subreaper sync.Once

// becomeSubreaper makes this process the child subreaper of everything it starts
// (PR_SET_CHILD_SUBREAPER): a peer's daemonizing descendant is re-parented to the harness,
// not to init, so it stays in view and is ended with the group.
func becomeSubreaper() {
	subreaper.Do(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })
}

// desc is one descendant of a peer's process.
type desc struct {
	peer   string
	root   int    // the peer's process
	start  uint64 // its start time (clock ticks since boot), against pid reuse
	daemon bool   // left the peer's tree
}

// tree tracks the peers' descendants, so that their sockets count as the peer's: a peer
// is its whole process tree (wrappers like `sh -c`, `npm start`, runtimes, daemons).
type tree struct {
	mu     sync.Mutex
	addr   string // the election address: a daemon found by its environment must name it
	secret string // the secret file, tcp (unique to the run, as a unix path is)
	self   int
	desc   map[int]*desc
	every  time.Duration // how often it walks the trees at most
	last   time.Time
	seen   bool // a descendant was ever found: something may have escaped
	// deep makes the next walk read every thread's children (deepChildren), not only the
	// main thread's: an observation showed a socket on the address that no walked process
	// holds. Walking every thread always would cost a read per thread of every peer.
	deep bool
}

// wantDeep asks for the next walk to read every thread's children.
func (t *tree) wantDeep() {
	t.mu.Lock()
	t.deep = true
	t.mu.Unlock()
}

func newTree(addr, secret string) *tree {
	return &tree{addr: addr, secret: secret, self: os.Getpid(), desc: map[int]*desc{}, every: 100 * time.Millisecond}
}

// environPeer returns the peer id in a process's environment (SPLITBRAIN_PEER) if it was
// started for this run (its SPLITBRAIN_ADDR, and SPLITBRAIN_SECRET_FILE over tcp, are the
// run's): a descendant that daemonized before the tree was walked still carries the
// environment the harness gave its peer.
func (t *tree) environPeer(pid int) (string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		return "", false
	}
	var peer, a, secret string
	for _, kv := range bytes.Split(b, []byte{0}) {
		switch {
		case bytes.HasPrefix(kv, []byte("SPLITBRAIN_PEER=")):
			peer = string(kv[len("SPLITBRAIN_PEER="):])
		case bytes.HasPrefix(kv, []byte("SPLITBRAIN_ADDR=")):
			a = string(kv[len("SPLITBRAIN_ADDR="):])
		case bytes.HasPrefix(kv, []byte("SPLITBRAIN_SECRET_FILE=")):
			secret = string(kv[len("SPLITBRAIN_SECRET_FILE="):])
		}
	}
	return peer, peer != "" && a == t.addr && secret == t.secret
}

// sweep finds, anywhere on the machine, the processes started for this run that outlived
// the group (a daemon escapes its peer's process group and may not be the harness's child
// yet, halfway through a double fork), records each as daemonized and kills it. It looks
// again until a look finds none, so that a fork under way is caught on the next look.
func (t *tree) sweep(record func(history.Record)) {
	for look := 0; look < 10; look++ {
		ents, err := os.ReadDir("/proc")
		if err != nil {
			return
		}
		found := 0
		for _, ent := range ents {
			pid, err := strconv.Atoi(ent.Name())
			if err != nil || pid == t.self {
				continue
			}
			peer, ours := t.environPeer(pid)
			if !ours {
				continue
			}
			if _, state, ok := stat(pid); !ok || state == 'Z' {
				continue
			}
			found++
			t.mu.Lock()
			d, known := t.desc[pid]
			t.mu.Unlock()
			if !known || !d.daemon {
				record(history.Record{Kind: history.KindProcess, Peer: peer, PID: pid,
					Detail: fmt.Sprintf("%s: pid %d of %s outlived its peer's process group", ProcDaemonized, pid, peer)})
			}
			if unix.Kill(pid, unix.SIGKILL) == nil {
				record(history.Record{Kind: history.KindProcess, Peer: peer, PID: pid, Detail: ProcKilled})
			}
		}
		if found == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond) // a killed process is gone within ms; a fork lands
		t.reapOrphans()
	}
}

// reapOrphans reaps the harness's zombie children that are not peers it started (those the
// process group reaps itself): what sweep and killAll killed after it was re-parented here.
func (t *tree) reapOrphans() {
	for _, pid := range children(t.self) {
		if _, state, ok := stat(pid); ok && state == 'Z' {
			if _, ours := t.environPeer(pid); ours {
				var ws unix.WaitStatus
				_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			}
		}
	}
}

// children returns the children of pid that its main thread started, from
// /proc/PID/task/PID/children: one read per process. (A child another thread forks is
// missed here: see deepChildren. Once it outlives its parent it is re-parented to the
// harness and found by the environment its peer got.)
func children(pid int) []int {
	return readChildren(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid), nil)
}

// deepChildren returns the children of every thread of pid: a multi-threaded runtime forks
// from any thread (the go command under `go run` starts the program from one of its
// threads), and the kernel lists a child only under the thread that forked it.
func deepChildren(pid int) []int {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil
	}
	var out []int
	for _, t := range tasks {
		out = readChildren(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()), out)
	}
	return out
}

func readChildren(path string, out []int) []int {
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, f := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// runnable reports whether a thread of process pid, or of a descendant, is running or
// waiting for a CPU (state R): the process has not come to rest.
func runnable(pid int) bool {
	todo := []int{pid}
	for n := 0; len(todo) > 0 && n < 64; n++ {
		p := todo[0]
		todo = todo[1:]
		tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		if err != nil {
			continue
		}
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", p, t.Name()))
			if err != nil {
				continue
			}
			if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'R' {
				return true
			}
		}
		todo = append(todo, deepChildren(p)...)
	}
	return false
}

// stat returns a process's start time and state from /proc/PID/stat.
func stat(pid int) (start uint64, state byte, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')') // the command name may hold spaces and parentheses
	if i < 0 || i+2 >= len(b) {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 20 {
		return 0, 0, false
	}
	start, err = strconv.ParseUint(f[19], 10, 64) // field 22 of stat
	return start, f[0][0], err == nil
}

// refresh walks the trees of the live peers (roots: pid -> peer id), notes new
// descendants and those that left or ended, and reaps the harness's own zombie children
// that were a peer's descendants. It records what changed and returns the live
// descendants' pids. force walks even if it walked less than every ago.
func (t *tree) refresh(roots map[int]string, isPeer func(int) bool, record func(history.Record), force bool) []int {
	t.mu.Lock()
	defer t.mu.Unlock()
	// The walk reads a few /proc files per process: with many peers it runs less often
	// (1ms per peer), so that it stays a small part of the observer's time.
	every := max(t.every, time.Duration(len(roots))*time.Millisecond)
	if !force && time.Since(t.last) < every {
		return t.alive()
	}
	t.last = time.Now()
	kids := children
	if t.deep {
		kids, t.deep = deepChildren, false
	}
	for root, peer := range roots {
		queue := kids(root)
		for len(queue) > 0 {
			pid := queue[0]
			queue = queue[1:]
			if _, isRoot := roots[pid]; isRoot {
				continue
			}
			start, _, ok := stat(pid)
			if !ok {
				continue
			}
			if d, known := t.desc[pid]; known && d.start == start {
				queue = append(queue, kids(pid)...)
				continue
			}
			t.desc[pid] = &desc{peer: peer, root: root, start: start}
			t.seen = true
			record(history.Record{Kind: history.KindProcess, Peer: peer, PID: pid, Detail: fmt.Sprintf("%s of %s (pid %d)", ProcChild, peer, root)})
			queue = append(queue, kids(pid)...)
		}
	}
	// Orphans re-parented to the harness: a descendant that daemonized. (Only when a peer
	// lives or a descendant is known: nothing else can be re-parented here.)
	var orphans []int
	if len(roots) > 0 || len(t.desc) > 0 {
		orphans = children(t.self)
	}
	for _, pid := range orphans {
		d, known := t.desc[pid]
		if !known && !isPeer(pid) && daemonLike(pid) {
			// One that left before the walk saw it: known by the environment its peer got.
			if peer, ok := t.environPeer(pid); ok {
				if start, _, ok := stat(pid); ok {
					d = &desc{peer: peer, start: start}
					for root, id := range roots {
						if id == peer {
							d.root = root
						}
					}
					t.desc[pid], known = d, true
					record(history.Record{Kind: history.KindProcess, Peer: peer, PID: pid, Detail: fmt.Sprintf("%s of %s", ProcChild, peer)})
				}
			}
		}
		if !known {
			continue // not ours to judge or reap: another part of this program started it
		}
		start, state, ok := stat(pid)
		if !ok || start != d.start {
			continue
		}
		if state == 'Z' {
			var ws unix.WaitStatus
			_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			continue
		}
		// Left the tree but still in the peer's process group: an orphan that dies with
		// the group (a wrapper's child as the group stops). Out of the group: a daemon.
		if !d.daemon && (d.root == 0 || pgrp(pid) != d.root) {
			d.daemon = true
			record(history.Record{Kind: history.KindProcess, Peer: d.peer, PID: pid,
				Detail: fmt.Sprintf("%s: pid %d of %s left its process tree and still runs", ProcDaemonized, pid, d.peer)})
		}
	}
	for pid, d := range t.desc {
		if start, state, ok := stat(pid); !ok || start != d.start || state == 'Z' {
			delete(t.desc, pid)
			record(history.Record{Kind: history.KindProcess, Peer: d.peer, PID: pid, Detail: ProcGone})
		}
	}
	return t.alive()
}

// leftBehind names what still runs in the process group of a peer whose process (root)
// has just exited on its own, before the group is killed: its children are re-parented to
// the harness by then. A child that outlives its peer is an escape, whether or not it got as
// far as setsid (a double fork that loses the race with the group kill leaves no daemon for
// refresh or sweep to see), so it is recorded as daemonized; it is kept as a daemon
// descendant so that its zombie is reaped. Only the harness's own children are read: cheap
// when, as usual, it has none but peers.
func (t *tree) leftBehind(root int, peer string, isPeer func(int) bool, record func(history.Record)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, pid := range children(t.self) {
		if isPeer(pid) {
			continue
		}
		start, state, ok := stat(pid)
		if !ok || state == 'Z' || pgrp(pid) != root {
			continue
		}
		if d, known := t.desc[pid]; known && d.start == start && d.daemon {
			continue
		}
		t.desc[pid] = &desc{peer: peer, root: root, start: start, daemon: true}
		t.seen = true
		record(history.Record{Kind: history.KindProcess, Peer: peer, PID: pid,
			Detail: fmt.Sprintf("%s: pid %d of %s still ran when its peer's process (pid %d) exited on its own; killed with its process group", ProcDaemonized, pid, peer, root)})
	}
}

// alive returns the known descendants' pids; t.mu is held.
func (t *tree) alive() []int {
	out := make([]int, 0, len(t.desc))
	for pid := range t.desc {
		out = append(out, pid)
	}
	return out
}

// roots returns descendant pid -> its peer's process.
func (t *tree) roots() map[int]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := make(map[int]int, len(t.desc))
	for pid, d := range t.desc {
		m[pid] = d.root
	}
	return m
}

// killAll ends every descendant still running (a daemon escapes its peer's process group),
// by pid after checking its start time, and reaps those that were re-parented to the
// harness.
func (t *tree) killAll(record func(history.Record)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for pid, d := range t.desc {
		start, _, ok := stat(pid)
		if !ok || start != d.start {
			continue
		}
		if unix.Kill(pid, unix.SIGKILL) == nil {
			record(history.Record{Kind: history.KindProcess, Peer: d.peer, PID: pid, Detail: ProcKilled})
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for pid, d := range t.desc {
		for time.Now().Before(deadline) {
			start, state, ok := stat(pid)
			if !ok || start != d.start {
				break
			}
			if state == 'Z' {
				var ws unix.WaitStatus
				if _, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err != nil {
					break // another process's zombie: its parent reaps it
				}
			}
			time.Sleep(5 * time.Millisecond) // a killed process is gone within ms
		}
		delete(t.desc, pid)
	}
}

// pgrp returns pid's process group, or 0.
func pgrp(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 3 {
		return 0
	}
	g, _ := strconv.Atoi(f[2])
	return g
}

// daemonLike reports whether pid, a child of the harness, is not a peer it just started:
// it is in another process's group, or leads a session of its own (setsid). A peer the
// harness starts leads its own group in the harness's session.
func daemonLike(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 4 {
		return false
	}
	pgrp, _ := strconv.Atoi(f[2])
	sid, _ := strconv.Atoi(f[3])
	return pgrp != pid || sid == pid
}
