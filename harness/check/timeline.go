package check

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// Phase names of history.KindPhase records.
const (
	PhaseFaults  = "faults"
	PhaseSettle  = "settle"
	PhaseQuiesce = "quiesce"
	PhaseEnd     = "end"
)

// Plant record Details and the missing-file Type (see the package doc).
const (
	PlantPlanted = "planted" // the harness planted the file; "" means the same
	PlantCheck   = "check"   // the harness looked at the file during the run
	PlantFinal   = "final"   // the harness looked at the file at the end of the run
	PlantMissing = "missing" // Plant.Type when nothing is at Plant.Path any more
	PlantMet     = "met"     // Peer made an election attempt while the plant was there
	PlantUnmet   = "unmet"   // Peer made none while the plant was there
)

// CommandDropped begins the Detail of a command record the harness could not hand to the
// peer (it had exited, or does not read stdin); see proc.Peer.Send.
const CommandDropped = "dropped"

// context is how many records each side of an incident go into its Evidence.
const context = 3

// RunConfig returns the run record's configuration, or nil if h has none.
func RunConfig(h []history.Record) *history.Run {
	for _, r := range h {
		if r.Kind == history.KindRun && r.Run != nil {
			return r.Run
		}
	}
	return nil
}

// around returns a copy of the records within context of index i.
func around(h []history.Record, i int) []history.Record {
	lo, hi := max(0, i-context), min(len(h), i+context+1)
	return slices.Clone(h[lo:hi])
}

// peers tracks which peer processes live, streaming over the history.
type peers struct {
	live    map[int]string        // pid -> peer id, started and not exited
	names   map[int]string        // pid -> peer id, every pid ever started
	stopped map[int]bool          // live pids stopped (SIGSTOP) by a fault
	resumed map[int]time.Duration // live pids resumed (SIGCONT) by a fault, when
	root    map[int]int           // descendant pid -> its peer's process (process records)
	exits   []int                 // indexes of exit records, for stderr evidence
}

func newPeers() *peers {
	return &peers{live: map[int]string{}, names: map[int]string{}, stopped: map[int]bool{},
		resumed: map[int]time.Duration{}, root: map[int]int{}}
}

// apply updates the state with record i of h.
func (p *peers) apply(h []history.Record, i int) {
	r := h[i]
	switch r.Kind {
	case history.KindStart:
		if r.PID > 0 {
			p.live[r.PID] = r.Peer
			p.names[r.PID] = r.Peer
		}
	case history.KindExit:
		delete(p.live, r.PID)
		delete(p.stopped, r.PID)
		delete(p.resumed, r.PID)
		p.exits = append(p.exits, i)
	case history.KindProcess:
		switch {
		case strings.HasPrefix(r.Detail, "child"):
			for pid, id := range p.live {
				if id == r.Peer {
					p.root[r.PID] = pid
					p.names[r.PID] = r.Peer
				}
			}
		case r.Detail == "gone" || r.Detail == "killed":
			delete(p.root, r.PID)
		}
	case history.KindFault:
		if r.Fault == nil || r.PID == 0 {
			break
		}
		switch r.Fault.Signal {
		case "SIGSTOP":
			p.stopped[r.PID] = true
		case "SIGCONT":
			delete(p.stopped, r.PID)
			p.resumed[r.PID] = r.T
		}
	}
}

// excused reports whether pid cannot be asked to be connected at t: it is stopped, or was
// resumed less than grace before t.
func (p *peers) excused(pid int, t, grace time.Duration) bool {
	if p.stopped[pid] {
		return true
	}
	at, ok := p.resumed[pid]
	return ok && t-at < grace
}

// name returns the peer id of pid, or "pid N" for a process the harness did not start.
func (p *peers) name(pid int) string {
	if n, ok := p.names[pid]; ok {
		return n
	}
	return fmt.Sprintf("pid %d", pid)
}

// namesOf names pids.
func (p *peers) namesOf(pids []int) []string {
	out := make([]string, 0, len(pids))
	for _, pid := range pids {
		out = append(out, p.name(pid))
	}
	return out
}

// livePIDs returns the live pids, sorted.
func (p *peers) livePIDs() []int {
	out := make([]int, 0, len(p.live))
	for pid := range p.live {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}

// leaderAppeared reports whether any observation saw a reachable listener.
func leaderAppeared(h []history.Record) bool {
	for _, r := range h {
		if r.Kind == history.KindObservation && r.Snapshot != nil {
			if _, ok := r.Snapshot.Reachable(); ok {
				return true
			}
		}
	}
	return false
}

// noLeader is the Inconclusive result of a checker that needs a leader when none ever
// appeared: the evidence is every peer's exit, with its stderr tail.
func noLeader(h []history.Record) Result {
	res := Result{Verdict: Inconclusive}
	starts, own, quick := 0, 0, 0
	started := map[int]time.Duration{}
	for i, r := range h {
		switch r.Kind {
		case history.KindStart:
			starts++
			started[r.PID] = r.T
		case history.KindExit:
			res.addEvidence(exitEvidence(h, i))
			if r.Exit == nil || r.Exit.ByHarness {
				continue // the harness's doing: not the peer's failure
			}
			own++
			if r.Exit.Code == 0 && r.T-started[r.PID] < quickExit {
				quick++
			}
		}
	}
	switch {
	case starts == 0:
		res.Summary = "no leader ever appeared: no peer was started"
	case own >= starts:
		res.Summary = fmt.Sprintf("no leader ever appeared: all %d peers exited on their own (see their stderr)", starts)
	case own > 0:
		res.Summary = fmt.Sprintf("no leader ever appeared: %s exited on their own (see their stderr)", count(own, "peer"))
	default:
		res.Summary = fmt.Sprintf("no leader ever appeared: no reachable listener was observed while %s ran", count(starts, "peer"))
	}
	if quick > 0 {
		res.Summary += fmt.Sprintf("; %s exited with status 0 within %v of starting: a peer must stay in the foreground (does it daemonize, or is it a wrapper that returns at once?)", count(quick, "peer"), quickExit)
	}
	return res
}

// quickExit is how soon after its start a status-0 exit suggests a peer that daemonized or a
// wrapper that returned at once.
const quickExit = 2 * time.Second

// exitEvidence describes the exit record h[i].
func exitEvidence(h []history.Record, i int) Evidence {
	r := h[i]
	return Evidence{
		T:       r.T,
		What:    fmt.Sprintf("%s (pid %d) %s", r.Peer, r.PID, describeExit(r.Exit)),
		Peers:   []string{r.Peer},
		PIDs:    []int{r.PID},
		Records: []history.Record{r},
	}
}

// describeExit says how a process ended, with its last stderr line.
func describeExit(e *history.Exit) string {
	if e == nil {
		return "exited (status not recorded)"
	}
	var b strings.Builder
	if e.Signal != "" {
		fmt.Fprintf(&b, "was killed by %s", e.Signal)
	} else {
		fmt.Fprintf(&b, "exited with status %d", e.Code)
	}
	if e.ByHarness {
		b.WriteString(" by the harness")
	}
	for i := len(e.StderrTail) - 1; i >= 0; i-- {
		if line := strings.TrimSpace(e.StderrTail[i]); line != "" {
			fmt.Fprintf(&b, "; stderr ends: %q", line)
			break
		}
	}
	return b.String()
}

// listenerWhat describes a listener for evidence.
func listenerWhat(l kernel.Listener, p *peers) string {
	s := fmt.Sprintf("listener inode %d held by %s %v", l.Inode, strings.Join(p.namesOf(l.PIDs), ","), l.PIDs)
	if l.Orphaned {
		s += " (orphaned)"
	}
	return s
}

// ms converts d to milliseconds, for figures.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// horizon returns the time after which the harness is stopping peers: the "end" phase, or
// the last record.
func horizon(h []history.Record) time.Duration {
	for _, r := range h {
		if r.Kind == history.KindPhase && r.Detail == PhaseEnd {
			return r.T
		}
	}
	if len(h) == 0 {
		return 0
	}
	return h[len(h)-1].T
}

// count renders "1 failover" or "3 failovers".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// eachObservation calls f for every kernel observation in h, with the peers as they stand at
// that record (every earlier record applied), and returns how many observations there were.
func eachObservation(h []history.Record, f func(i int, r history.Record, p *peers)) int {
	p := newPeers()
	n := 0
	for i, r := range h {
		p.apply(h, i)
		if r.Kind != history.KindObservation || r.Snapshot == nil {
			continue
		}
		n++
		f(i, r, p)
	}
	return n
}

// rootOf returns the process of the peer pid belongs to: pid itself, or for a descendant
// (a wrapper's child, a runtime's worker) its peer's process.
func (p *peers) rootOf(pid int) int {
	if r, ok := p.root[pid]; ok {
		return r
	}
	return pid
}

// normalize returns s with every pid replaced by its peer's process (rootOf), so that a
// peer is judged as its whole process tree. s itself is left as it is.
func (p *peers) normalize(s *kernel.Snapshot) *kernel.Snapshot {
	if len(p.root) == 0 || s == nil {
		return s
	}
	roots := func(pids []int) []int {
		out := make([]int, 0, len(pids))
		for _, pid := range pids {
			if r := p.rootOf(pid); !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
		return out
	}
	c := *s
	c.Listeners = slices.Clone(s.Listeners)
	for i := range c.Listeners {
		c.Listeners[i].PIDs = roots(c.Listeners[i].PIDs)
	}
	c.Conns = slices.Clone(s.Conns)
	for i := range c.Conns {
		c.Conns[i].ClientPIDs = roots(c.Conns[i].ClientPIDs)
		c.Conns[i].ServerPIDs = roots(c.Conns[i].ServerPIDs)
	}
	return &c
}
