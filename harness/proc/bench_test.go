package proc_test

// Benchmarks of the harness as it sees peers: real `splitbrain peer` processes started by
// a proc.Group and watched by a kernel.Observer in a tight loop (no sampling interval), so
// the figures are those of the kernel and the harness, not of the run loop's 20ms tick.
//
// They build cmd/splitbrain with the go tool (or use $SPLITBRAIN_BIN). Each op is one
// round; rounds follow -benchtime (e.g. -benchtime 20x for exactly 20 rounds).

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
)

// settleBound is how long a group may take to settle before the round counts as unsettled
// (a split brain the canaries are made to fall into) and the group is started afresh.
const settleBound = 5 * time.Second

// splitbrainBin returns $SPLITBRAIN_BIN, or builds cmd/splitbrain into a temp dir.
func splitbrainBin(b *testing.B) string {
	b.Helper()
	if bin := os.Getenv("SPLITBRAIN_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(b.TempDir(), "splitbrain")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/splitbrain-dev/splitbrain/cmd/splitbrain").CombinedOutput()
	if err != nil {
		b.Fatalf("build cmd/splitbrain: %v\n%s", err, out)
	}
	return bin
}

// benchGroup is n peers of one implementation on a fresh unix socket path.
type benchGroup struct {
	b    *testing.B
	argv []string
	path string
	obs  *kernel.Observer
	g    *proc.Group
	next int
}

func newBenchGroup(b *testing.B, argv []string) *benchGroup {
	dir, err := os.MkdirTemp("", "sbb")
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "e.sock")
	bg := &benchGroup{b: b, argv: argv, path: path, obs: kernel.NewUnix(path)}
	bg.g = proc.NewGroup(time.Now(), func(history.Record) {}, proc.Options{})
	b.Cleanup(func() {
		bg.g.Close(2 * time.Second)
		os.RemoveAll(dir)
	})
	return bg
}

// start starts n more peers.
func (bg *benchGroup) start(n int) {
	for range n {
		bg.next++
		id := fmt.Sprintf("p%d", bg.next)
		_, err := bg.g.Start(proc.Spec{ID: id, Argv: bg.argv,
			Env: proc.Env(proc.EnvSpec{Transport: "unix", Addr: bg.path, Peer: id})})
		if err != nil {
			bg.b.Fatal(err)
		}
	}
}

// restart kills every peer, waits for them, clears the path and starts n fresh ones.
func (bg *benchGroup) restart(n int) {
	live := bg.g.Live()
	for _, p := range live {
		_ = p.Kill()
	}
	for _, p := range live {
		<-p.Done()
	}
	_ = os.Remove(bg.path)
	bg.start(n)
}

// pidsExcept returns the pids of the live peers, leaving out pid (a peer just killed and
// not yet reaped).
func (bg *benchGroup) pidsExcept(pid int) []int {
	var out []int
	for _, p := range bg.g.Live() {
		if p.PID() != pid {
			out = append(out, p.PID())
		}
	}
	return out
}

// reachableLeader returns the pid of a process in pids that holds the reachable listener.
func reachableLeader(s kernel.Snapshot, pids []int) (int, bool) {
	l, ok := s.Reachable()
	if !ok {
		return 0, false
	}
	for _, pid := range l.PIDs {
		if slices.Contains(pids, pid) {
			return pid, true
		}
	}
	return 0, false
}

// settled reports whether s shows one listener, reachable, held by one of pids, and every
// other pid connected to it (accepted by the leader's process).
func settled(s kernel.Snapshot, pids []int) (int, bool) {
	leader, ok := reachableLeader(s, pids)
	if !ok || len(s.Listeners) != 1 {
		return leader, false
	}
	ino := s.Listeners[0].Inode
	connected := map[int]bool{leader: true}
	for _, c := range s.Conns {
		if c.ListenerInode == ino && c.ServerInode != 0 && slices.Contains(c.ServerPIDs, leader) {
			for _, pid := range c.ClientPIDs {
				connected[pid] = true
			}
		}
	}
	for _, pid := range pids {
		if !connected[pid] {
			return leader, false
		}
	}
	return leader, true
}

// waitSettled snapshots back to back until the group (minus the pid left out) settles;
// it returns the leader's pid, or false after settleBound.
func (bg *benchGroup) waitSettled(except int) (int, bool) {
	deadline := time.Now().Add(settleBound)
	for time.Now().Before(deadline) {
		pids := bg.pidsExcept(except)
		s, err := bg.obs.Snapshot(pids)
		if err != nil {
			bg.b.Fatal(err)
		}
		if leader, ok := settled(s, pids); ok {
			return leader, true
		}
	}
	return 0, false
}

func (bg *benchGroup) peer(pid int) *proc.Peer {
	for _, p := range bg.g.Live() {
		if p.PID() == pid {
			return p
		}
	}
	bg.b.Fatalf("no live peer has pid %d", pid)
	return nil
}

// round kills the leader and watches the kernel back to back until a survivor holds a
// reachable listener (toLeader) and every survivor is connected to it (toAll). ok is false
// if the group did not settle within settleBound.
func (bg *benchGroup) round(leader int) (toLeader, toAll time.Duration, ok bool) {
	victim := bg.peer(leader)
	t0 := time.Now()
	if err := victim.Kill(); err != nil {
		bg.b.Fatal(err)
	}
	deadline := t0.Add(settleBound)
	var seenLeader bool
	for time.Now().Before(deadline) {
		pids := bg.pidsExcept(leader)
		s, err := bg.obs.Snapshot(pids)
		if err != nil {
			bg.b.Fatal(err)
		}
		if !seenLeader {
			if _, ok := reachableLeader(s, pids); ok {
				toLeader, seenLeader = time.Since(t0), true
			}
		}
		if seenLeader {
			if _, ok := settled(s, pids); ok {
				return toLeader, time.Since(t0), true
			}
		}
	}
	<-victim.Done()
	return toLeader, 0, false
}

// quantiles reports min, median and p99 (nearest rank) of ds in µs under names prefix-*.
func quantiles(b *testing.B, prefix string, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.999999) - 1
		return float64(s[max(0, min(i, len(s)-1))].Microseconds())
	}
	b.ReportMetric(float64(s[0].Microseconds()), prefix+"-min-µs")
	b.ReportMetric(at(0.5), prefix+"-p50-µs")
	b.ReportMetric(at(0.99), prefix+"-p99-µs")
}

// minRounds is the fewest failover rounds run per group size, whatever b.N, so that one
// slow or unsettled first round does not end a sub-benchmark with no sample.
var minRounds = map[int]int{10: 20, 50: 10, 200: 5}

// BenchmarkFailover measures failover as the harness sees it: one op is one round, SIGKILL
// to the leader's process group, then snapshots back to back until a surviving peer holds
// a reachable listener (leader-*) and every survivor is connected to it (all-*), in µs from
// just before kill(2). The victim is restarted and the group settles again untimed. A round
// that does not settle within 5s (a canary's split brain) counts in unsettled/op and the
// group is started afresh. Each size runs at least minRounds rounds.
func BenchmarkFailover(b *testing.B) {
	bin := splitbrainBin(b)
	for _, impl := range []string{"reference", "probe-unlink", "no-lock"} {
		for _, n := range []int{10, 50, 200} {
			b.Run(fmt.Sprintf("impl=%s/peers=%d", impl, n), func(b *testing.B) {
				bg := newBenchGroup(b, []string{bin, "peer", "--impl", impl})
				bg.start(n)
				leader, ok := bg.waitSettled(0)
				for !ok {
					bg.restart(n)
					leader, ok = bg.waitSettled(0)
				}
				var toLeader, toAll []time.Duration
				unsettled := 0
				rounds := max(b.N, minRounds[n])
				b.ResetTimer()
				for range rounds {
					tl, ta, ok := bg.round(leader)
					b.StopTimer()
					if ok {
						toLeader, toAll = append(toLeader, tl), append(toAll, ta)
						bg.start(1)
						leader, ok = bg.waitSettled(0)
					} else {
						unsettled++
					}
					for !ok {
						bg.restart(n)
						leader, ok = bg.waitSettled(0)
					}
					b.StartTimer()
				}
				quantiles(b, "leader", toLeader)
				quantiles(b, "all", toAll)
				// More rounds than b.N may run: ns/op is per round actually run.
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rounds), "ns/op")
				b.ReportMetric(float64(rounds), "rounds")
				b.ReportMetric(float64(unsettled)/float64(rounds), "unsettled/op")
			})
		}
	}
}

// BenchmarkKillRounds measures verified kill rounds per second at 20 reference peers: one
// op kills the leader, sees a new reachable leader and every survivor reconnected in the
// kernel view, then restarts the victim and sees it connected too (so every round starts
// from 20 settled peers). Nothing is untimed. Aim: at least 5 rounds/s.
func BenchmarkKillRounds(b *testing.B) {
	bin := splitbrainBin(b)
	const n = 20
	bg := newBenchGroup(b, []string{bin, "peer"})
	bg.start(n)
	leader, ok := bg.waitSettled(0)
	if !ok {
		b.Fatalf("%d reference peers did not settle within %v", n, settleBound)
	}
	b.ResetTimer()
	for range b.N {
		if _, _, ok := bg.round(leader); !ok {
			b.Fatalf("reference peers did not settle within %v after the leader was killed", settleBound)
		}
		bg.start(1)
		if leader, ok = bg.waitSettled(0); !ok {
			b.Fatalf("the restarted peer did not join within %v", settleBound)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rounds/s")
}

// BenchmarkSpawn measures how fast the harness brings up reference peers: one op starts
// 20 peers with proc.Group.Start on a fresh path and waits until the kernel shows them
// settled (one leader, 19 followers connected). starts/s counts Start calls alone;
// joined-peers/s counts peers up to the settled view. Stopping the group is untimed.
func BenchmarkSpawn(b *testing.B) {
	bin := splitbrainBin(b)
	const n = 20
	var starting, joining time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		bg := newBenchGroup(b, []string{bin, "peer"})
		b.StartTimer()
		t0 := time.Now()
		bg.start(n)
		starting += time.Since(t0)
		if _, ok := bg.waitSettled(0); !ok {
			b.Fatalf("%d peers did not settle within %v", n, settleBound)
		}
		joining += time.Since(t0)
		b.StopTimer()
		bg.g.Close(2 * time.Second)
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/starting.Seconds(), "starts/s")
	b.ReportMetric(float64(n*b.N)/joining.Seconds(), "joined-peers/s")
}
