// This file builds the page's whole model in one pass over the history, past 500 lines:
// lanes, folds and marks share that pass's state, and splitting them would mean a pass each.

package timeline

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// Peer states, in rising order of importance: when several fall in one pixel column the
// page draws the highest, so a short leadership or pause is never hidden by a long
// neighbour. The page's legend and colours follow this order (see states).
const (
	stDead = iota
	stStarting
	stFollower
	stElecting
	stPaused
	stLeader
)

// states names the peer states by index.
var states = []string{"dead", "starting", "follower", "electing", "paused", "leader"}

// Kernel strip states of a process, in rising order of importance.
const (
	ksNone = iota
	ksConnected
	ksListening
	ksOrphaned
)

// kstates names the kernel strip states by index.
var kstates = []string{"none", "connected", "listening", "orphaned"}

// model is what the page's script draws: the run reduced to intervals and markers. Times are
// nanoseconds since the run began.
type model struct {
	Horizon    int64       `json:"horizon"`
	States     []string    `json:"states"`
	KStates    []string    `json:"kstates"`
	Lanes      []*lane     `json:"lanes"`
	Faults     []mark      `json:"faults"`
	Marks      []mark      `json:"marks"`
	Count      [][4]int64  `json:"count"` // [t0, t1, listeners, orphaned]
	MaxCount   int         `json:"max_count"`
	Phases     []phase     `json:"phases"`
	Violations []violation `json:"violations"`
}

// lane is one peer id (its processes one after another) or one process the harness did not
// start but the kernel showed on the address.
type lane struct {
	Peer   string     `json:"peer"`
	PIDs   []int      `json:"pids"`
	Source string     `json:"source"` // "events": roles from protocol events; "kernel": from observations
	Spans  [][4]int64 `json:"spans"`  // [t0, t1, state, pid]
	Kernel [][3]int64 `json:"kernel"` // [t0, t1, kernel state], ksNone left out
	// Healthy is true when nothing about the lane needs a look, so the page may fold it away
	// among many: no violation names it, it never crashed, reported an error or broke the
	// protocol, the kernel never showed it on an orphaned listener, and it never led (the
	// leaders carry the story of every failover, so they stay). A stray pid is never healthy.
	Healthy bool `json:"healthy"`

	index   int
	started bool // the harness started it (else a pid only the kernel showed)
	ever    bool // a process of it has run (or, for a stray, been seen)
	pid     int  // the live process, 0 if none
	alive   bool
	paused  bool
	role    int
	hadRole bool
	cur     int // current state, -1 when there is nothing to draw
	curPID  int // the process of the current span
	since   time.Duration
	kcur    int
	ksince  time.Duration
}

// mark is a point event: a fault, a crash, a protocol error. Lane is -1 when it concerns no
// peer (stale-socket, plants).
type mark struct {
	T     int64  `json:"t"`
	Kind  string `json:"kind"` // fault name, "crash", "protocol-error", "error"
	Lane  int    `json:"lane"`
	Label string `json:"label"`
	Text  string `json:"text"`

	lane *lane
}

// phase is a run phase from its start (faults, settle, quiesce, end).
type phase struct {
	T    int64  `json:"t"`
	Name string `json:"name"`
}

// violation is one piece of evidence of a failed or inconclusive check; ID is the element
// id of its static entry on the page.
type violation struct {
	ID      string `json:"id"`
	Check   string `json:"check"`
	Verdict string `json:"verdict"`
	T       int64  `json:"t"`
	What    string `json:"what"`
	Lanes   []int  `json:"lanes"`
}

// build reduces h and res to the model. h need not be sorted by T.
func build(h []history.Record, res check.Results) *model {
	if !slices.IsSortedFunc(h, byT) {
		h = slices.Clone(h)
		slices.SortStableFunc(h, byT)
	}
	m := &model{States: states, KStates: kstates, Count: [][4]int64{}, Faults: []mark{}, Marks: []mark{}, Phases: []phase{}, Violations: []violation{}}
	var horizon time.Duration
	if len(h) > 0 {
		horizon = h[len(h)-1].T
	}
	for _, p := range res.Parts {
		for _, e := range p.Evidence {
			horizon = max(horizon, e.T)
		}
	}

	// A peer is judged by its events if it ever reported a role; else by the kernel.
	white := map[string]bool{}
	for _, r := range h {
		if r.Kind == history.KindEvent && r.Event != nil {
			switch r.Event.Event {
			case protocol.EventLeader, protocol.EventFollower, protocol.EventLost:
				white[r.Peer] = true
			}
		}
	}

	b := &builder{byPeer: map[string]*lane{}, byPID: map[int]*lane{}, live: map[int]*lane{}, white: white, m: m}
	countCur, countSince := [2]int{-1, 0}, time.Duration(0)
	closeCount := func(t time.Duration) {
		if countCur[0] >= 0 && t > countSince {
			m.Count = append(m.Count, [4]int64{int64(countSince), int64(t), int64(countCur[0]), int64(countCur[1])})
		}
	}
	for _, r := range h {
		switch r.Kind {
		case history.KindStart:
			l := b.peer(r.Peer)
			if l.pid != 0 && l.pid != r.PID {
				delete(b.live, l.pid)
			}
			l.pid, l.alive, l.paused, l.role, l.hadRole, l.ever = r.PID, true, false, stStarting, false, true
			if r.PID > 0 {
				l.PIDs = append(l.PIDs, r.PID)
				b.byPID[r.PID] = l
				b.live[r.PID] = l
			}
			l.set(r.T)
		case history.KindExit:
			l := b.lane(r.Peer, r.PID)
			if l == nil {
				break
			}
			if l.pid == r.PID || r.PID == 0 {
				delete(b.live, l.pid)
				l.pid, l.alive, l.paused = 0, false, false
				l.set(r.T)
				l.setKernel(r.T, ksNone)
			}
			if r.Exit != nil && !r.Exit.ByHarness {
				b.mark(r.T, "crash", l, "exit", fmt.Sprintf("%s (pid %d) %s", l.Peer, r.PID, describeExit(r.Exit)))
			}
		case history.KindEvent:
			l := b.lane(r.Peer, r.PID)
			if l == nil || r.Event == nil || (r.PID != 0 && l.pid != r.PID) {
				break
			}
			switch r.Event.Event {
			case protocol.EventLeader:
				l.role, l.hadRole = stLeader, true
			case protocol.EventFollower:
				l.role, l.hadRole = stFollower, true
			case protocol.EventLost:
				l.role = stElecting
			case protocol.EventError:
				b.mark(r.T, "error", l, "error", l.Peer+" reported an error: "+r.Event.Error)
			}
			l.set(r.T)
		case history.KindProtocolError:
			if l := b.lane(r.Peer, r.PID); l != nil {
				b.mark(r.T, "protocol-error", l, "protocol error", l.Peer+" wrote a line that is not an event: "+r.Detail)
			}
		case history.KindFault:
			if r.Fault == nil {
				break
			}
			f := r.Fault
			l := b.lane(cmp.Or(r.Peer, f.Target), cmp.Or(r.PID, f.PID))
			text := f.Name
			if f.Target != "" {
				text += " " + f.Target
			}
			if f.PID != 0 {
				text += fmt.Sprintf(" (pid %d)", f.PID)
			}
			if f.Signal != "" {
				text += " " + f.Signal
			}
			if f.Detail != "" {
				text += ": " + f.Detail
			}
			fm := mark{T: int64(r.T), Kind: f.Name, Lane: -1, Label: f.Name, Text: text, lane: l}
			m.Faults = append(m.Faults, fm)
			if l == nil {
				break
			}
			b.mark(r.T, f.Name, l, f.Name, text)
			switch f.Signal {
			case "SIGSTOP":
				l.paused = l.alive
			case "SIGCONT":
				l.paused = false
			}
			l.set(r.T)
		case history.KindObservation:
			s := r.Snapshot
			if s == nil {
				break
			}
			orphans := 0
			for _, li := range s.Listeners {
				if li.Orphaned {
					orphans++
				}
			}
			if c := [2]int{len(s.Listeners), orphans}; c != countCur {
				closeCount(r.T)
				countCur, countSince = c, r.T
			}
			m.MaxCount = max(m.MaxCount, len(s.Listeners))
			b.observe(r.T, s.Listeners, s.Conns)
		case history.KindPhase:
			m.Phases = append(m.Phases, phase{T: int64(r.T), Name: r.Detail})
		}
	}
	closeCount(horizon)

	// Lanes in natural order of peer id (p2 before p10), then the pids nobody started.
	lanes := make([]*lane, 0, len(b.byPeer)+len(b.strays))
	for _, l := range b.byPeer {
		lanes = append(lanes, l)
	}
	slices.SortFunc(lanes, func(a, b *lane) int { return natural(a.Peer, b.Peer) })
	lanes = append(lanes, b.strays...)
	for i, l := range lanes {
		l.index = i
		l.close(horizon)
		if l.Spans == nil {
			l.Spans = [][4]int64{}
		}
		if l.Kernel == nil {
			l.Kernel = [][3]int64{}
		}
		if l.PIDs == nil {
			l.PIDs = []int{}
		}
	}
	m.Lanes = lanes
	for i := range m.Faults {
		if l := m.Faults[i].lane; l != nil {
			m.Faults[i].Lane = l.index
		}
	}
	for i := range b.marks {
		b.marks[i].Lane = b.marks[i].lane.index
	}
	m.Marks = append(m.Marks, b.marks...)
	m.Horizon = int64(horizon)

	for _, p := range res.Parts {
		if p.Verdict != check.Fail && p.Verdict != check.Inconclusive {
			continue
		}
		for i, e := range p.Evidence {
			v := violation{ID: evidenceID(p.Name, i), Check: p.Name, Verdict: string(p.Verdict), T: int64(e.T), What: e.What, Lanes: []int{}}
			seen := map[int]bool{}
			add := func(l *lane) {
				if l != nil && !seen[l.index] {
					seen[l.index] = true
					v.Lanes = append(v.Lanes, l.index)
				}
			}
			for _, pid := range e.PIDs {
				add(b.byPID[pid])
			}
			for _, peer := range e.Peers {
				add(b.byPeer[peer])
			}
			slices.Sort(v.Lanes)
			m.Violations = append(m.Violations, v)
		}
	}
	healthy(m)
	return m
}

// healthy sets Lane.Healthy on every lane of m, once its marks and violations are known.
func healthy(m *model) {
	sick := make([]bool, len(m.Lanes))
	for _, mk := range m.Marks {
		switch mk.Kind {
		case "crash", "error", "protocol-error":
			sick[mk.Lane] = true
		}
	}
	for _, v := range m.Violations {
		for _, i := range v.Lanes {
			sick[i] = true
		}
	}
	for i, l := range m.Lanes {
		ok := l.started && !sick[i]
		for _, s := range l.Spans {
			ok = ok && s[2] != stLeader
		}
		for _, k := range l.Kernel {
			ok = ok && k[2] != ksOrphaned
		}
		l.Healthy = ok
	}
}

// evidenceID is the element id of piece i of check's evidence on the page. Check names are
// the registry's, but the id is built only of safe characters anyway.
func evidenceID(check string, i int) string {
	var b strings.Builder
	b.WriteString("ev-")
	for _, c := range check {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	b.WriteString("-" + strconv.Itoa(i))
	return b.String()
}

// builder holds the lanes while the history streams by.
type builder struct {
	m      *model
	white  map[string]bool
	byPeer map[string]*lane // started peers by id
	byPID  map[int]*lane    // every pid seen, started or not
	live   map[int]*lane    // live pids of started peers
	strays []*lane          // pids the kernel showed that no start record names
	marks  []mark
}

// peer returns the lane of peer id, making it.
func (b *builder) peer(id string) *lane {
	l, ok := b.byPeer[id]
	if !ok {
		l = &lane{Peer: id, Source: "kernel", started: true, cur: -1, curPID: -1}
		if b.white[id] {
			l.Source = "events"
		}
		b.byPeer[id] = l
	}
	return l
}

// lane finds the lane a record concerns: by pid first (a restarted peer reuses its id),
// then by peer id. It returns nil when neither is known.
func (b *builder) lane(peer string, pid int) *lane {
	if l, ok := b.byPID[pid]; ok && pid != 0 {
		return l
	}
	if l, ok := b.byPeer[peer]; ok {
		return l
	}
	return nil
}

// mark records a point event on lane l.
func (b *builder) mark(t time.Duration, kind string, l *lane, label, text string) {
	b.marks = append(b.marks, mark{T: int64(t), Kind: kind, Label: label, Text: text, lane: l})
}

// observe applies one kernel snapshot: every live process's kernel strip, and the role of
// every kernel-judged peer (the owner of a listener leads, a connected client follows).
func (b *builder) observe(t time.Duration, listeners []kernel.Listener, conns []kernel.Conn) {
	ks := map[int]int{}
	for _, c := range conns {
		for _, pid := range c.ClientPIDs {
			ks[pid] = max(ks[pid], ksConnected)
		}
	}
	for _, li := range listeners {
		s := ksListening
		if li.Orphaned {
			s = ksOrphaned
		}
		for _, pid := range li.PIDs {
			ks[pid] = max(ks[pid], s)
		}
	}
	for pid := range ks {
		if _, ok := b.byPID[pid]; !ok {
			l := &lane{Peer: fmt.Sprintf("pid %d", pid), Source: "kernel", PIDs: []int{pid}, cur: -1, curPID: -1, pid: pid}
			b.byPID[pid] = l
			b.strays = append(b.strays, l)
		}
	}
	apply := func(l *lane, pid int) {
		k := ks[pid]
		l.setKernel(t, k)
		if l.Source != "kernel" {
			return
		}
		switch k {
		case ksListening, ksOrphaned:
			l.role, l.hadRole = stLeader, true
		case ksConnected:
			l.role, l.hadRole = stFollower, true
		default:
			if l.hadRole {
				l.role = stElecting
			} else {
				l.role = stStarting
			}
		}
		l.set(t)
	}
	for pid, l := range b.live {
		apply(l, pid)
	}
	for _, l := range b.strays {
		// A process the harness did not start is drawn while the kernel shows it.
		_, seen := ks[l.pid]
		l.alive = seen
		l.ever = l.ever || seen
		if !seen {
			l.set(t)
			l.setKernel(t, ksNone)
			continue
		}
		apply(l, l.pid)
	}
}

// state is the lane's state now, -1 when there is nothing to draw: before its first
// process started, or, for a stray pid, while the kernel does not show it.
func (l *lane) state() int {
	switch {
	case !l.ever || (!l.started && !l.alive):
		return -1
	case !l.alive:
		return stDead
	case l.paused:
		return stPaused
	}
	return l.role
}

// set closes the current span at t if the state or the process changed, and opens the next.
func (l *lane) set(t time.Duration) {
	s := l.state()
	if s == l.cur && l.pid == l.curPID {
		return
	}
	if s == stDead && l.cur == stDead {
		return // the pid of a dead lane is 0; nothing changed
	}
	l.closeSpan(t)
	l.cur, l.curPID, l.since = s, l.pid, t
}

// closeSpan ends the current span at t.
func (l *lane) closeSpan(t time.Duration) {
	if l.cur >= 0 && t > l.since {
		l.Spans = append(l.Spans, [4]int64{int64(l.since), int64(t), int64(l.cur), int64(l.curPID)})
	}
	l.since = t
}

// close ends the lane's spans at t, the horizon.
func (l *lane) close(t time.Duration) {
	l.closeSpan(t)
	l.setKernel(t, ksNone)
}

// setKernel changes the kernel strip's state at t.
func (l *lane) setKernel(t time.Duration, k int) {
	if k == l.kcur {
		return
	}
	if l.kcur != ksNone && t > l.ksince {
		l.Kernel = append(l.Kernel, [3]int64{int64(l.ksince), int64(t), int64(l.kcur)})
	}
	l.kcur, l.ksince = k, t
}

// describeExit says how a process ended, with its last stderr line.
func describeExit(e *history.Exit) string {
	var b strings.Builder
	if e.Signal != "" {
		fmt.Fprintf(&b, "was killed by %s", e.Signal)
	} else {
		fmt.Fprintf(&b, "exited with status %d", e.Code)
	}
	for i := len(e.StderrTail) - 1; i >= 0; i-- {
		if line := strings.TrimSpace(e.StderrTail[i]); line != "" {
			fmt.Fprintf(&b, "; stderr ends: %s", line)
			break
		}
	}
	return b.String()
}

// natural compares peer ids so that p2 sorts before p10: runs of digits compare as numbers.
func natural(a, b string) int {
	for a != "" && b != "" {
		da, db := digits(a), digits(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := cmp.Compare(len(na), len(nb)); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digits(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}

func byT(a, b history.Record) int { return cmp.Compare(a.T, b.T) }
