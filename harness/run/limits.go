package run

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// What one peer costs, for Scale. They are estimates for an unknown implementation, set from
// measurements on a 2-core machine (docs/BENCHMARKS.md, "scale"): a Go or Python peer uses
// 5-15 MB and up to ~8 threads; the harness holds 3 pipes and a pidfd per live peer; past
// about 500 peers per CPU a kernel observation takes longer than 100 ms, so the run sees
// too little to judge well.
const (
	PeersPerCPU  = 500
	MemPerPeer   = 12 << 20 // bytes
	TasksPerPeer = 8        // processes and threads
	FilesPerPeer = 6        // the harness's descriptors per live peer, with room for its scans
)

// Limit is one resource that bounds how many peers a run can start on this machine.
type Limit struct {
	Name string // e.g. "memory"
	Max  int    // the most peers it allows
	Why  string // what was measured, e.g. "21.3 GiB available, 12 MiB a peer"
}

// Limits returns what this machine allows: CPUs, available memory, free process ids
// (pid_max, the cgroup's pids.max, RLIMIT_NPROC) and the open-file hard limit. peers counts
// against CPUs and memory; maxLive (start and storm faults add peers) against tasks and files.
func Limits() []Limit {
	var out []Limit
	cpus := runtime.NumCPU()
	out = append(out, Limit{Name: "CPUs", Max: cpus * PeersPerCPU, Why: fmt.Sprintf("%d CPUs, %d peers a CPU", cpus, PeersPerCPU)})
	if avail, ok := memAvailable(); ok {
		out = append(out, Limit{Name: "memory", Max: int(avail / MemPerPeer),
			Why: fmt.Sprintf("%.1f GiB available, %d MiB a peer", float64(avail)/(1<<30), MemPerPeer>>20)})
	}
	if free, why, ok := freeTasks(); ok {
		out = append(out, Limit{Name: "process ids", Max: free / TasksPerPeer, Why: fmt.Sprintf("%s, %d tasks a peer", why, TasksPerPeer)})
	}
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Max < 1<<40 {
		out = append(out, Limit{Name: "open files", Max: int(lim.Max-64) / FilesPerPeer,
			Why: fmt.Sprintf("RLIMIT_NOFILE hard limit %d, %d descriptors a peer (raise it with ulimit -Hn)", lim.Max, FilesPerPeer)})
	}
	return out
}

// Scale checks peers (and maxLive, the most that run at once) against Limits, and returns
// an ErrConfig error naming the first limit exceeded, the figures, and --force.
func Scale(peers, maxLive int) error {
	for _, l := range Limits() {
		n := peers
		if l.Name == "process ids" || l.Name == "open files" {
			n = maxLive
		}
		if n > l.Max {
			what := fmt.Sprintf("%d peers", n)
			if n != peers {
				what = fmt.Sprintf("%d peers at once (%d, and start and storm faults add up to as many again)", n, peers)
			}
			return fmt.Errorf("%w: %s exceed what %s allow on this machine: at most %d (%s); use fewer --peers, or --force to run anyway", ErrConfig, what, l.Name, l.Max, l.Why)
		}
	}
	return nil
}

// memAvailable is MemAvailable from /proc/meminfo, in bytes, bounded by the cgroup's
// memory.max when that is lower.
func memAvailable() (uint64, bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	var avail uint64
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0, false
			}
			avail = kb << 10
		}
	}
	if avail == 0 {
		return 0, false
	}
	if max, ok := cgroupValue("memory.max"); ok {
		cur, _ := cgroupValue("memory.current")
		if max > cur && max-cur < avail {
			avail = max - cur
		}
	}
	return avail, true
}

// freeTasks is how many more processes and threads may start: the least of pid_max,
// threads-max, the cgroup's pids.max and RLIMIT_NPROC, less what runs now.
func freeTasks() (int, string, bool) {
	running := 0
	if ents, err := os.ReadDir("/proc"); err == nil {
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err == nil {
				running++ // processes; their threads are counted in the cgroup's pids.current
			}
		}
	}
	best, why := -1, ""
	consider := func(limit, used int, name string) {
		if limit <= 0 {
			return
		}
		if free := limit - used; best < 0 || free < best {
			best, why = max(free, 0), fmt.Sprintf("%s %d, %d in use", name, limit, used)
		}
	}
	if v, ok := procInt("/proc/sys/kernel/pid_max"); ok {
		consider(v, running, "pid_max")
	}
	if v, ok := procInt("/proc/sys/kernel/threads-max"); ok {
		consider(v, running, "threads-max")
	}
	if v, ok := cgroupValue("pids.max"); ok {
		cur, _ := cgroupValue("pids.current")
		consider(int(v), int(cur), "the cgroup's pids.max")
	}
	var lim unix.Rlimit
	if os.Geteuid() != 0 && unix.Getrlimit(unix.RLIMIT_NPROC, &lim) == nil && lim.Cur < 1<<31 {
		consider(int(lim.Cur), running, "RLIMIT_NPROC")
	}
	return best, why, best >= 0
}

func procInt(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return v, err == nil
}

// cgroupValue reads a cgroup v2 file of this process's cgroup; "max" is no value.
func cgroupValue(name string) (uint64, bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if rest, ok := strings.CutPrefix(line, "0::"); ok {
			v, err := os.ReadFile("/sys/fs/cgroup" + rest + "/" + name)
			if err != nil {
				return 0, false
			}
			n, err := strconv.ParseUint(strings.TrimSpace(string(v)), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}
