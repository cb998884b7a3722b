package election_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/election"
)

// BenchmarkElectUncontended: New and Run on a free path until the Leader event (ns/op).
// Close is not timed.
func BenchmarkElectUncontended(b *testing.B) {
	path := filepath.Join(shortDir(b), "s")
	for b.Loop() {
		e, err := election.New(election.Options{Address: path})
		if err != nil {
			b.Fatal(err)
		}
		go e.Run(context.Background())
		if ev := <-e.Events(); ev.Kind != election.Leader {
			b.Fatalf("first event %v; want leader", ev)
		}
		b.StopTimer()
		e.Close()
		b.StartTimer()
	}
}

// obs is one event line from an elector process.
type obs struct {
	p     *proc
	mono  int64 // CLOCK_MONOTONIC ns, in the child
	kind  string
	epoch uint64
}

// proc is one elector process (the test binary, re-executed as helper "elector").
type proc struct {
	id    string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed when reaped
	// follower and leader are the latest epochs seen, lost the time of the latest Lost
	// event; owned by the benchmark goroutine.
	follower, leader uint64
	lost             int64
}

// pool runs elector processes on one path and gathers their events.
type pool struct {
	b     *testing.B
	path  string
	obs   chan obs
	procs map[*proc]bool // live
	n     int
}

func newPool(b *testing.B, path string) *pool {
	p := &pool{b: b, path: path, obs: make(chan obs, 1<<16), procs: map[*proc]bool{}}
	b.Cleanup(func() {
		for pr := range p.procs {
			p.kill(pr)
		}
	})
	return p
}

func (p *pool) start() *proc {
	p.n++
	pr := &proc{id: "p" + strconv.Itoa(p.n), done: make(chan struct{})}
	pr.cmd = helperCmd(p.b, "", "elector", "ADDR="+p.path, "ID="+pr.id)
	pr.cmd.Stderr = os.Stderr
	var err error
	if pr.stdin, err = pr.cmd.StdinPipe(); err != nil {
		p.b.Fatal(err)
	}
	out, err := pr.cmd.StdoutPipe()
	if err != nil {
		p.b.Fatal(err)
	}
	if err := pr.cmd.Start(); err != nil {
		p.b.Fatal(err)
	}
	p.procs[pr] = true
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 {
				continue
			}
			mono, _ := strconv.ParseInt(f[0], 10, 64)
			epoch, _ := strconv.ParseUint(f[2], 10, 64)
			p.obs <- obs{p: pr, mono: mono, kind: f[1], epoch: epoch}
		}
		pr.cmd.Wait()
		close(pr.done)
	}()
	return pr
}

// kill SIGKILLs pr's process group and reaps it.
func (p *pool) kill(pr *proc) {
	syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
	pr.stdin.Close()
	<-pr.done
	delete(p.procs, pr)
}

// next returns the next event, or fails the benchmark after a generous deadline.
func (p *pool) next(deadline <-chan time.Time, what string) obs {
	select {
	case o := <-p.obs:
		switch o.kind {
		case "leader":
			o.p.leader = o.epoch
		case "follower":
			o.p.follower = o.epoch
		case "lost":
			o.p.lost = o.mono
		}
		return o
	case <-deadline:
		p.b.Fatalf("no %s within %v", what, waitTimeout)
		return obs{}
	}
}

// followAll waits until every live process but leader follows epoch; it returns the
// latest Follower time.
func (p *pool) followAll(leader *proc, epoch uint64) int64 {
	deadline := time.After(waitTimeout)
	var last int64
	for {
		missing := 0
		for pr := range p.procs {
			if pr != leader && pr.follower != epoch {
				missing++
			}
		}
		if missing == 0 {
			return last
		}
		o := p.next(deadline, fmt.Sprintf("followers of epoch %d (%d missing)", epoch, missing))
		switch {
		case o.kind == "leader" && o.p != leader:
			p.b.Fatalf("%s led epoch %d while %s leads epoch %d", o.p.id, o.epoch, leader.id, epoch)
		case o.kind == "follower" && o.epoch == epoch:
			last = max(last, o.mono)
		}
	}
}

// listeners returns the inodes of listening unix sockets bound to path, from /proc/net/unix.
func listeners(path string) ([]uint64, error) {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil, err
	}
	var inos []uint64
	for _, line := range bytes.Split(b, []byte("\n"))[1:] {
		// Num RefCount Protocol Flags Type St Inode Path
		f := strings.Fields(string(line))
		if len(f) < 8 || f[7] != path {
			continue
		}
		flags, _ := strconv.ParseUint(f[3], 16, 32)
		if flags&0x10000 == 0 { // __SO_ACCEPTCON: listening
			continue
		}
		ino, _ := strconv.ParseUint(f[6], 10, 64)
		inos = append(inos, ino)
	}
	return inos, nil
}

// ownsSocket reports whether process pid has socket inode ino open.
func ownsSocket(pid int, ino uint64) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	want := fmt.Sprintf("socket:[%d]", ino)
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == want {
			return true
		}
	}
	return false
}

// taskStat sums, over the threads of process pid, the CPU time and the time spent waiting
// on a run queue (ns), and the number of times a thread was put on a CPU (each wake-up of a
// thread counts one), from /proc/PID/task/*/schedstat. Threads that exited are not counted,
// which is close enough over one round.
func taskStat(pid int) (cpu, wait, runs int64) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, 0
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 3 {
			continue
		}
		c, _ := strconv.ParseInt(f[0], 10, 64)
		w, _ := strconv.ParseInt(f[1], 10, 64)
		r, _ := strconv.ParseInt(f[2], 10, 64)
		cpu += c
		wait += w
		runs += r
	}
	return cpu, wait, runs
}

// BenchmarkFailover SIGKILLs the leader of N followers (separate processes) round after
// round, and measures, from just before the kill, the new leader's Leader event
// (failover-leader) and the last survivor's Follower event for the new epoch
// (failover-all). To show where the time goes it also reports, from the kernel's schedstat,
// how long the winner waited on a run queue and ran between the kill and its Leader event
// (winner-runq, winner-cpu), and the CPU all the other survivors used between the kill and the
// last Follower event (survivors-cpu, in total) and how many times, on average, one of their
// threads was put on a CPU (survivor-wakeups, a count); and the first survivor's Lost
// event (first-lost: the kernel tearing the killed process down), the winner's own Lost to
// Leader (winner-lost-to-leader: dial, lock, probe, unlink, bind) and Leader to the last
// Follower (leader-to-all: the survivors' retry backoff and handshakes). Each process stamps its events with
// CLOCK_MONOTONIC, so the times compare across processes. The killed process is restarted
// (untimed) so every round has N followers.
func BenchmarkFailover(b *testing.B) {
	for _, n := range []int{10, 50} {
		b.Run(fmt.Sprintf("followers=%d", n), func(b *testing.B) { benchFailover(b, n) })
	}
}

func benchFailover(b *testing.B, followers int) {
	path := filepath.Join(shortDir(b), "s")
	p := newPool(b, path)
	deadline := time.After(waitTimeout)
	leader := p.start()
	for leader.leader == 0 {
		p.next(deadline, "first leader")
	}
	epoch := leader.leader
	for i := 0; i < followers; i++ {
		p.start()
	}
	p.followAll(leader, epoch)

	var toLeader, toAll, toLost, winner, catchUp []float64 // µs
	var winRunq, winCPU, herdCPU []float64                 // µs
	var herdRuns []float64                                 // per survivor
	type stat struct{ cpu, wait, runs int64 }
	before := map[*proc]stat{}
	for b.Loop() {
		old := leader
		clear(before)
		for pr := range p.procs {
			pr.lost = 0
			if pr != old {
				c, w, r := taskStat(pr.cmd.Process.Pid)
				before[pr] = stat{c, w, r}
			}
		}
		t0 := monoNow()
		syscall.Kill(old.cmd.Process.Pid, syscall.SIGKILL)
		delete(p.procs, old)
		epoch++
		deadline := time.After(waitTimeout)
		var tl, tlost int64
		for tl == 0 {
			o := p.next(deadline, fmt.Sprintf("leader of epoch %d", epoch))
			if o.kind == "lost" && tlost == 0 {
				tlost = o.mono
			}
			if o.kind == "leader" {
				if o.epoch != epoch {
					b.Fatalf("%s leads epoch %d; want %d", o.p.id, o.epoch, epoch)
				}
				leader, tl = o.p, o.mono
			}
		}
		wc, ww, _ := taskStat(leader.cmd.Process.Pid)
		ta := p.followAll(leader, epoch)
		b.StopTimer()
		winRunq = append(winRunq, float64(ww-before[leader].wait)/1e3)
		winCPU = append(winCPU, float64(wc-before[leader].cpu)/1e3)
		var herd, runs, n int64
		for pr := range p.procs {
			if pr != leader {
				c, _, r := taskStat(pr.cmd.Process.Pid)
				herd += c - before[pr].cpu
				runs += r - before[pr].runs
				n++
			}
		}
		herdCPU = append(herdCPU, float64(herd)/1e3)
		herdRuns = append(herdRuns, float64(runs)/float64(max(n, 1)))
		toLeader = append(toLeader, float64(tl-t0)/1e3)
		if tlost != 0 {
			toLost = append(toLost, float64(tlost-t0)/1e3)
		}
		if leader.lost != 0 {
			winner = append(winner, float64(tl-leader.lost)/1e3)
		}
		catchUp = append(catchUp, float64(max(ta, tl)-tl)/1e3)
		toAll = append(toAll, float64(max(ta, tl)-t0)/1e3)
		// The kernel's view: one listener at the path, and it is the new leader's.
		inos, err := listeners(path)
		if err != nil {
			b.Fatal(err)
		}
		if len(inos) != 1 || !ownsSocket(leader.cmd.Process.Pid, inos[0]) {
			b.Fatalf("epoch %d: listeners at %s: %v; want one, owned by %s (pid %d)", epoch, path, inos, leader.id, leader.cmd.Process.Pid)
		}
		old.stdin.Close()
		<-old.done
		p.start()
		p.followAll(leader, epoch)
		b.StartTimer()
	}
	report(b, "failover-leader", toLeader)
	report(b, "failover-all", toAll)
	report(b, "first-lost", toLost)
	report(b, "winner-lost-to-leader", winner)
	report(b, "leader-to-all", catchUp)
	report(b, "winner-runq", winRunq)
	report(b, "winner-cpu", winCPU)
	report(b, "survivors-cpu", herdCPU)
	reportIn(b, "survivor-wakeups", "n", herdRuns)
}

// report adds min, median, p99 and max of samples (µs) as metrics named prefix-STAT-µs.
func report(b *testing.B, prefix string, samples []float64) { reportIn(b, prefix, "µs", samples) }

// reportIn adds min, median, p99 and max of samples as metrics named prefix-STAT-unit.
func reportIn(b *testing.B, prefix, unit string, samples []float64) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	q := func(f float64) float64 {
		return samples[min(len(samples)-1, int(math.Ceil(f*float64(len(samples))))-1)]
	}
	b.ReportMetric(samples[0], prefix+"-min-"+unit)
	b.ReportMetric(q(0.5), prefix+"-p50-"+unit)
	b.ReportMetric(q(0.99), prefix+"-p99-"+unit)
	b.ReportMetric(samples[len(samples)-1], prefix+"-max-"+unit)
}

// BenchmarkBridge: 8 members in this process, one leader. Seven followers send
// concurrently (several goroutines each, since Send waits for the leader's ack); every
// message reaches the other seven. MB/s counts the payload sent; msgs/s the messages
// acknowledged; deliveries/s the messages received by all members. The timer stops after
// the last delivery.
func BenchmarkBridge(b *testing.B) {
	for _, size := range []int{64, 4096} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) { benchBridge(b, size) })
	}
}

func benchBridge(b *testing.B, size int) {
	const members = 8
	path := filepath.Join(shortDir(b), "s")
	opts := election.Options{Address: path, QueueLength: 1 << 16, QueueBytes: 1 << 30}
	var delivered atomic.Int64
	var dropped, connected atomic.Int64
	var es []*election.Elector
	var wg sync.WaitGroup
	var leader *election.Elector
	for i := 0; i < members; i++ {
		o := opts
		o.ID = "m" + strconv.Itoa(i)
		e, err := election.New(o)
		if err != nil {
			b.Fatal(err)
		}
		es = append(es, e)
		go e.Run(context.Background())
		first := make(chan election.Event, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := false
			for ev := range e.Events() {
				switch ev.Kind {
				case election.Message:
					delivered.Add(1)
				case election.Connection:
					connected.Add(1)
				case election.Disconnection, election.Lost:
					dropped.Add(1)
				case election.Leader, election.Follower:
					if !sent {
						first <- ev
						sent = true
					}
				}
			}
		}()
		select {
		case ev := <-first:
			if i == 0 && ev.Kind != election.Leader || i > 0 && ev.Kind != election.Follower {
				b.Fatalf("%s: %v", o.ID, ev)
			}
		case <-time.After(waitTimeout):
			b.Fatalf("%s did not join", o.ID)
		}
		if i == 0 {
			leader = e
		}
	}
	defer func() {
		for _, e := range es[1:] {
			e.Close()
		}
		leader.Close()
		wg.Wait()
	}()
	// A follower sees its Follower event before the leader has registered it; wait for
	// the leader's side too, or the first messages would miss it.
	eventually(b, "the leader registers every member", func() bool { return connected.Load() == members-1 })
	senders := es[1:]
	var next atomic.Int64
	b.SetBytes(int64(size))
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		e := senders[int(next.Add(1))%len(senders)]
		data := make([]byte, size)
		for pb.Next() {
			if err := e.Send(context.Background(), data); err != nil {
				b.Errorf("%s: Send: %v", e.ID(), err)
				return
			}
		}
	})
	want := int64(b.N) * (members - 1)
	deadline := time.Now().Add(waitTimeout)
	for delivered.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d deliveries", delivered.Load(), want)
		}
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	if d := dropped.Load(); d != 0 {
		b.Fatalf("%d members dropped or lost", d)
	}
	s := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N)/s, "msgs/s")
	b.ReportMetric(float64(want)/s, "deliveries/s")
}
