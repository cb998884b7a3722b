package chaos

import (
	"fmt"
	"strings"

	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// Invariant names, as harness/check names them.
const (
	// InvSingleListener: at every observation at most one listening socket is bound to the
	// address, orphans included.
	InvSingleListener = "single-listener"
	// InvReachableLeader: no listener is ever orphaned, and after a settle a live group has
	// a reachable listener.
	InvReachableLeader = "reachable-leader"
	// InvNoLostPeers: after a settle every live peer is connected to the reachable
	// listener's process, and to nothing else.
	InvNoLostPeers = "no-lost-peers"
	// InvNoDataLoss: a planted file or directory is never deleted or changed.
	InvNoDataLoss = "no-data-loss"
)

// Violation is one broken invariant, with the kernel's view that shows it.
type Violation struct {
	Invariant string `json:"invariant"` // one of the Inv* names
	// Step is the 1-based index of the step during or after which it was seen.
	Step int `json:"step"`
	// What says in one line what is wrong, naming peers.
	What string `json:"what"`
	// Snapshot is the kernel's view that proves it (nil for data loss).
	Snapshot *kernel.Snapshot `json:"snapshot,omitempty"`
}

// Error implements error: "single-listener violated at step 3: ...".
func (v *Violation) Error() string {
	return fmt.Sprintf("%s violated at step %d: %s", v.Invariant, v.Step, v.What)
}

// always judges the invariants that hold at every observation: one listener, no orphan,
// plants intact. It returns nil when they hold.
func (d *driver) always(s kernel.Snapshot) *Violation {
	if len(s.Listeners) > 1 {
		return &Violation{Invariant: InvSingleListener, Snapshot: &s,
			What: fmt.Sprintf("%d listeners: %s", len(s.Listeners), d.listeners(s))}
	}
	for _, l := range s.Listeners {
		if l.Orphaned {
			return &Violation{Invariant: InvReachableLeader, Snapshot: &s,
				What: "the only listener is orphaned: " + d.listeners(s)}
		}
	}
	return d.plantsIntact()
}

// plantsIntact compares every planted path with what was planted.
func (d *driver) plantsIntact() *Violation {
	d.mu.Lock()
	plants := append([]history.Plant(nil), d.plants...)
	d.mu.Unlock()
	for _, want := range plants {
		got, err := fault.Look(want.Path)
		if err != nil { // e.g. removed between its lstat and its read
			got.Type = "unreadable (" + err.Error() + ")"
		}
		if err != nil || got.Type != want.Type || got.Inode != want.Inode || got.UID != want.UID || got.SHA256 != want.SHA256 {
			d.record(history.Record{Kind: history.KindPlant, Plant: &got, Detail: "check"})
			return &Violation{Invariant: InvNoDataLoss,
				What: fmt.Sprintf("the planted %s at %s is now %s (inode %d, was %d)", want.Type, want.Path, got.Type, got.Inode, want.Inode)}
		}
	}
	return nil
}

// settled reports whether the group has settled in s: with live peers, exactly one
// reachable listener held by a live peer, and every other live peer connected to it
// (accepted). why says what is missing, as the violation it would be.
func (d *driver) settled(s kernel.Snapshot) (ok bool, inv, why string) {
	live := d.live()
	if len(live) == 0 {
		return true, "", ""
	}
	l, reach := s.Reachable()
	if !reach {
		return false, InvReachableLeader, fmt.Sprintf("%d live peers and no reachable listener", len(live))
	}
	leader := ""
	for _, pid := range l.PIDs {
		if id := d.peerOfPID(pid); id != "" {
			leader = id
		}
	}
	if leader == "" {
		return false, InvReachableLeader, fmt.Sprintf("the reachable listener is held by pids %v, none of them a live peer", l.PIDs)
	}
	connected := map[string]bool{}
	var strays []string
	for _, c := range s.Conns {
		server := ""
		for _, pid := range c.ServerPIDs {
			if id := d.peerOfPID(pid); id != "" {
				server = id
			}
		}
		for _, pid := range c.ClientPIDs {
			id := d.peerOfPID(pid)
			if id == "" {
				continue
			}
			if server == leader && c.ServerInode != 0 {
				connected[id] = true
			} else if server != "" && server != leader {
				strays = append(strays, id+"→"+server)
			}
		}
	}
	var lost []string
	for _, id := range live {
		if id != leader && !connected[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) > 0 || len(strays) > 0 {
		why := fmt.Sprintf("%s leads; not connected to it: %s", leader, strings.Join(lost, " "))
		if len(strays) > 0 {
			why += "; connected elsewhere: " + strings.Join(strays, " ")
		}
		return false, InvNoLostPeers, why
	}
	return true, "", ""
}

// listeners describes the listeners of s by owner, e.g. "p1's (orphaned), p2's".
func (d *driver) listeners(s kernel.Snapshot) string {
	var parts []string
	for _, l := range s.Listeners {
		owner := "an unknown process's"
		for _, pid := range l.PIDs {
			if id := d.peerOfPID(pid); id != "" {
				owner = id + "'s"
			} else {
				owner = fmt.Sprintf("pid %d's", pid)
			}
		}
		if l.Orphaned {
			owner += " (orphaned)"
		}
		parts = append(parts, owner)
	}
	return strings.Join(parts, ", ")
}

// describe says what the kernel shows, for the story.
func (d *driver) describe(s kernel.Snapshot) string {
	switch len(s.Listeners) {
	case 0:
		return fmt.Sprintf("no listener, %d connections", len(s.Conns))
	case 1:
		l := s.Listeners[0]
		accepted := 0
		for _, c := range s.Conns {
			if c.ListenerInode == l.Inode && c.ServerInode != 0 {
				accepted++
			}
		}
		state := "reachable"
		if l.Orphaned {
			state = "orphaned"
		}
		return fmt.Sprintf("one listener, %s, %s; %d connected", strings.TrimSuffix(strings.TrimSuffix(d.listeners(s), " (orphaned)"), "'s"), state, accepted)
	}
	return fmt.Sprintf("%d listeners: %s", len(s.Listeners), d.listeners(s))
}
