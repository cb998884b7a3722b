package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// evidenceLines renders one piece of evidence as indented text lines: what, who, the
// kernel snapshot, and the stderr tail of any exit among its records.
func evidenceLines(e check.Evidence, indent string) []string {
	lines := []string{fmt.Sprintf("%sat %v: %s", indent, e.T, e.What)}
	in := indent + "  "
	if len(e.Peers) > 0 || len(e.PIDs) > 0 {
		lines = append(lines, fmt.Sprintf("%speers %s, pids %s", in, strings.Join(e.Peers, ","), ints(e.PIDs)))
	}
	if e.Snapshot != nil {
		lines = append(lines, snapshotLines(*e.Snapshot, in)...)
	}
	for _, r := range e.Records {
		if r.Kind != history.KindExit || r.Exit == nil || len(r.Exit.StderrTail) == 0 {
			continue
		}
		lines = append(lines, fmt.Sprintf("%sstderr of %s (pid %d):", in, r.Peer, r.PID))
		for _, l := range r.Exit.StderrTail {
			lines = append(lines, in+"| "+l)
		}
	}
	return lines
}

// snapshotLines renders a kernel snapshot compactly.
func snapshotLines(s kernel.Snapshot, in string) []string {
	lines := []string{fmt.Sprintf("%skernel: path names inode %d; %d listeners, %d connections", in, s.PathInode, len(s.Listeners), len(s.Conns))}
	for _, l := range s.Listeners {
		orphan := ""
		if l.Orphaned {
			orphan = " ORPHANED"
		}
		lines = append(lines, fmt.Sprintf("%s  listener inode %d pids %s bound to inode %d, backlog %d%s",
			in, l.Inode, ints(l.PIDs), l.VFSInode, l.Backlog, orphan))
	}
	for _, c := range s.Conns {
		server := fmt.Sprintf("pids %s", ints(c.ServerPIDs))
		if c.ServerInode == 0 {
			server = "backlog (not accepted)"
		}
		lines = append(lines, fmt.Sprintf("%s  conn client pids %s -> %s, listener %d", in, ints(c.ClientPIDs), server, c.ListenerInode))
	}
	return lines
}

func ints(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return "[" + strings.Join(s, ",") + "]"
}

// gapLine renders the liveness figures, or "" if r has no failover gaps.
func gapLine(r check.Result) string {
	f := r.Figures
	if _, ok := f["gap_max_ms"]; !ok {
		return ""
	}
	d := func(name string) time.Duration { return time.Duration(f[name] * float64(time.Millisecond)) }
	return fmt.Sprintf("failover gaps: %d, min %v, median %v, p99 %v, max %v",
		int(f["failovers"]), d("gap_min_ms"), d("gap_median_ms"), d("gap_p99_ms"), d("gap_max_ms"))
}

// figureNames returns r's figure names, sorted.
func figureNames(r check.Result) []string {
	names := make([]string, 0, len(r.Figures))
	for k := range r.Figures {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
