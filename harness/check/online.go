package check

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// Violation is one broken invariant seen in one record, as the online judge reports it.
type Violation struct {
	// Invariant is the checker's name, e.g. "single-listener".
	Invariant string `json:"invariant"`
	// T is the time of the record that shows it, since the run began.
	T time.Duration `json:"t"`
	// What says in one line what is wrong, naming peers.
	What string `json:"what"`
	// Snapshot is the kernel's view that proves it (nil for data loss).
	Snapshot *kernel.Snapshot `json:"snapshot,omitempty"`
}

// Error implements error: "single-listener: 2 listeners on the address: ...".
func (v *Violation) Error() string { return v.Invariant + ": " + v.What }

// Online judges a history as it is written, one record at a time, for the invariants one
// record shows by itself: single-listener, reachable-leader and exposure (an observation)
// and no-data-loss (a plant record). It uses the same per-record rules as the offline checkers,
// so a violation it reports is one [Judge] reports on the same history. It is how a run
// stops at its first violation and how an exploration ends a schedule early; the verdict is
// always [Judge]'s. Safe for concurrent use.
type Online struct {
	mu     sync.Mutex
	peers  *peers
	plants map[string]history.Plant
	first  *Violation
	judge  map[string]bool
	tcp    bool // the run record says tcp
}

// NewOnline returns an online judge of the named invariants (every one it knows when none
// are named).
func NewOnline(invariants ...string) *Online {
	o := &Online{peers: newPeers(), plants: map[string]history.Plant{}}
	if len(invariants) > 0 {
		o.judge = map[string]bool{}
		for _, n := range invariants {
			o.judge[n] = true
		}
	}
	return o
}

func (o *Online) judges(name string) bool { return o.judge == nil || o.judge[name] }

// Add judges r and returns the violation it shows, or nil. The first one is kept ([First]).
func (o *Online) Add(r history.Record) *Violation {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.peers.apply([]history.Record{r}, 0)
	var v *Violation
	switch {
	case r.Kind == history.KindRun && r.Run != nil:
		o.tcp = r.Run.Transport == "tcp"
	case r.Kind == history.KindObservation && r.Snapshot != nil:
		if what := tooManyListeners(r.Snapshot, o.peers, o.tcp); what != "" && o.judges(SingleListener{}.Name()) {
			v = &Violation{Invariant: SingleListener{}.Name(), T: r.T, What: what, Snapshot: r.Snapshot}
			break
		}
		if o.judges(ReachableLeader{}.Name()) {
			if ls := orphans(o.peers.normalize(r.Snapshot), o.tcp); len(ls) > 0 {
				v = &Violation{Invariant: ReachableLeader{}.Name(), T: r.T, What: orphanWhat(ls[0], r.Snapshot, o.peers), Snapshot: r.Snapshot}
				break
			}
		}
		if o.tcp && o.judges(Exposure{}.Name()) {
			if what, _ := exposedWhat(r.Snapshot, o.peers); what != "" {
				v = &Violation{Invariant: Exposure{}.Name(), T: r.T, What: what, Snapshot: r.Snapshot}
			}
		}
	case r.Kind == history.KindPlant && r.Plant != nil:
		path := r.Plant.Path
		if r.Detail == "" || r.Detail == PlantPlanted {
			o.plants[path] = *r.Plant
			break
		}
		want, ok := o.plants[path]
		if !ok || !o.judges(NoDataLoss{}.Name()) || r.Detail == PlantMet || r.Detail == PlantUnmet {
			break
		}
		if diff := plantDiff(want, *r.Plant); diff != "" {
			v = &Violation{Invariant: NoDataLoss{}.Name(), T: r.T, What: fmt.Sprintf("planted %s %s: %s (%s look)", want.Type, path, diff, r.Detail)}
		}
	}
	if v != nil && o.first == nil {
		o.first = v
	}
	return v
}

// First returns the first violation seen, or nil.
func (o *Online) First() *Violation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.first
}

// Plants returns what is planted now and judged: path -> the planted state.
func (o *Online) Plants() []history.Plant {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]history.Plant, 0, len(o.plants))
	for _, p := range o.plants {
		out = append(out, p)
	}
	return out
}

// leaders groups the listeners of s by leader. A unix listener is a leader of its own. Over
// tcp, listeners held by the same processes are one leader: a process listening on
// 127.0.0.1:P and [::1]:P is one leader that every client reaches; listeners of two
// processes are two leaders. A listener no scanned process holds is a leader of its own.
func leaders(s *kernel.Snapshot, tcp bool) [][]kernel.Listener {
	var out [][]kernel.Listener
	for _, l := range s.Listeners {
		joined := false
		if tcp && len(l.PIDs) > 0 {
			for i, g := range out {
				if intersects(g[0].PIDs, l.PIDs) {
					out[i], joined = append(g, l), true
					break
				}
			}
		}
		if !joined {
			out = append(out, []kernel.Listener{l})
		}
	}
	return out
}

// tooManyListeners says what is wrong when s shows more than one leader, else "".
func tooManyListeners(s *kernel.Snapshot, p *peers, tcp bool) string {
	groups := leaders(p.normalize(s), tcp)
	if len(groups) <= 1 {
		return ""
	}
	parts := make([]string, 0, len(s.Listeners))
	for _, g := range groups {
		var ls []string
		for _, l := range g {
			ls = append(ls, listenerWhat(l, p))
		}
		parts = append(parts, strings.Join(ls, " and "))
	}
	return fmt.Sprintf("%d listeners on the address: %s", len(groups), strings.Join(parts, "; "))
}

// orphans returns the orphaned listeners of s that break reachable-leader: over tcp, not
// those of a process that also holds the reachable listener (its clients reach it there).
func orphans(s *kernel.Snapshot, tcp bool) []kernel.Listener {
	var out []kernel.Listener
	reach, ok := s.Reachable()
	for _, l := range s.Listeners {
		if !l.Orphaned {
			continue
		}
		if tcp && ok && len(l.PIDs) > 0 && intersects(l.PIDs, reach.PIDs) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// isTCP reports whether the run record of h says tcp.
func isTCP(h []history.Record) bool {
	run := RunConfig(h)
	return run != nil && run.Transport == "tcp"
}

// orphanWhat describes an orphaned listener l of s.
func orphanWhat(l kernel.Listener, s *kernel.Snapshot, p *peers) string {
	return fmt.Sprintf("%s; the path now names inode %d", listenerWhat(l, p), s.PathInode)
}

// Settled reports whether s shows a settled group: with live peers (pid -> peer id; roots
// maps their descendants' pids to their processes: a peer is its process tree), one
// reachable listener held by a live peer, and every other live peer, except the stopped
// ones, the client of an accepted connection to it, and nobody connected elsewhere. When it
// is not, why says what is missing, in the words of the no-lost-peers checker. Drivers wait
// on it; no-lost-peers judges the last observation of each settle window with the same rule.
func Settled(s *kernel.Snapshot, live map[int]string, stopped map[int]bool, roots map[int]int) (ok bool, why string) {
	p := newPeers()
	for pid, id := range live {
		p.live[pid], p.names[pid] = id, id
		p.stopped[pid] = stopped[pid]
	}
	for pid, root := range roots {
		p.root[pid] = root
		p.names[pid] = live[root]
	}
	s = p.normalize(s)
	ev, ok := lostPeers(s, p, 0)
	if !ok || len(live) == 0 {
		return ok, ev.What
	}
	if len(s.Listeners) != 1 {
		return false, fmt.Sprintf("%d listeners on the address", len(s.Listeners))
	}
	for _, pid := range s.Listeners[0].PIDs {
		if _, ok := live[pid]; ok {
			return true, ""
		}
	}
	return false, fmt.Sprintf("the reachable listener is held by pids %v, none of them a live peer", s.Listeners[0].PIDs)
}
