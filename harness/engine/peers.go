package engine

import (
	"errors"
	"fmt"
	"os/exec"
	"time"

	"golang.org/x/sys/unix"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// Roles a peer claims through the protocol.
const (
	RoleLeader   = "leader"
	RoleFollower = "follower"
)

// peerState is what the engine knows of one peer id (its latest process), from its records.
type peerState struct {
	id      string
	p       *proc.Peer
	steered bool   // started with every failpoint paused, and not freed yet
	runTo   string // continued at every failpoint but this one
	paused  string // the failpoint it waits at, "" when running
	pauses  int    // paused failpoint events so far
	errors  int    // error events so far
	roles   int    // leader and follower events so far
	answers int    // sent and send-failed events so far: broadcasts it answered
	events  int    // events so far
	last    time.Time
	spoke   time.Time // its first event
	role    string
	stopped bool // SIGSTOP by a fault
	started time.Time
	// Steered at syscalls (Config.SteerSyscalls): the calls it waits in, oldest first, and
	// its watched calls so far.
	holds    []*hold
	calls    int
	lastCall time.Time
}

// StartOptions say how [Engine.StartWith] starts peers.
type StartOptions struct {
	// Failpoints is SPLITBRAIN_FAILPOINTS; "" takes Config.Failpoints.
	Failpoints string
	// Steered peers are started with every failpoint set to pause and stay at each until
	// [Engine.Continue], [Engine.RunTo] or [Engine.Free]; others are continued at once.
	Steered bool
	// Gap is the time between two starts: a timing schedule's own timing, not a wait.
	Gap time.Duration
}

// Start starts peers with these ids at once (a restart when the id ran before), free.
func (e *Engine) Start(ids []string) error { return e.StartWith(ids, StartOptions{}) }

// StartWith starts peers with these ids as o says.
func (e *Engine) StartWith(ids []string, o StartOptions) error {
	fps := o.Failpoints
	if o.Steered && !e.cfg.SteerSyscalls {
		fps = "*=pause"
	} else if fps == "" {
		fps = e.cfg.Failpoints
	}
	for i, id := range ids {
		if i > 0 && o.Gap > 0 {
			time.Sleep(o.Gap)
		}
		ps := &peerState{id: id, steered: o.Steered, started: time.Now()}
		e.mu.Lock()
		if _, again := e.states[id]; !again {
			e.order = append(e.order, id)
		}
		e.states[id] = ps
		e.mu.Unlock()
		env := proc.Env(proc.EnvSpec{Transport: e.cfg.Transport, Addr: e.cfg.Addr, Peer: id,
			SecretFile: e.secret, Failpoints: fps})
		argv := e.argv
		if e.sup != nil {
			// The shim would exec it and exit 127; fail here, as an unwrapped start does.
			if _, err := exec.LookPath(argv[0]); err != nil {
				return fmt.Errorf("start %s: start peer %s (%s): %w (check --impl)", id, id, argv[0], err)
			}
			argv = e.sup.Wrap(e.cfg.Shim, argv)
			env = append(env, e.sup.Env()...)
		}
		p, err := e.group.Start(proc.Spec{ID: id, Argv: argv, Env: env})
		if errors.Is(err, proc.ErrClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("start %s: %w (check --impl)", id, err)
		}
		e.mu.Lock()
		ps.p = p
		e.byPID[p.PID()] = p
		e.mu.Unlock()
	}
	return nil
}

// NewIDs returns n fresh peer ids ("p1", "p2", ...).
func (e *Engine) NewIDs(n int) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]string, n)
	for i := range ids {
		e.nextID++
		ids[i] = fmt.Sprintf("p%d", e.nextID)
	}
	return ids
}

// Reserve makes sure NewIDs never hands out the ids pN with N <= n: a schedule names its
// own ids.
func (e *Engine) Reserve(n int) {
	e.mu.Lock()
	e.nextID = max(e.nextID, n)
	e.mu.Unlock()
}

// DeadIDs returns the ids whose latest process has exited, in order of first start.
func (e *Engine) DeadIDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, id := range e.order {
		if p := e.states[id].p; p != nil && p.Exited() {
			out = append(out, id)
		}
	}
	return out
}

// Live returns the peers whose process runs, in start order.
func (e *Engine) Live() []*proc.Peer { return e.group.Live() }

// Peer returns the running process of peer id, or nil.
func (e *Engine) Peer(id string) *proc.Peer {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ps := e.states[id]; ps != nil && ps.p != nil && !ps.p.Exited() {
		return ps.p
	}
	return nil
}

// PeerOf returns the live peer owning one of pids: by pid, or by process group (a peer's
// children share its group); nil if none.
func (e *Engine) PeerOf(pids []int) *proc.Peer {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, pid := range pids {
		if p, ok := e.byPID[pid]; ok && !p.Exited() {
			return p
		}
	}
	for _, pid := range pids {
		if pgid, err := unix.Getpgid(pid); err == nil {
			if p, ok := e.byPID[pgid]; ok && !p.Exited() {
				return p
			}
		}
	}
	return nil
}

// sink receives every record of the process group: it updates the peer's state, continues
// a free peer paused at a failpoint, notes what the peer did for the story, and wakes the
// waits.
func (e *Engine) sink(r history.Record) {
	var cont *proc.Peer
	e.mu.Lock()
	ps := e.states[r.Peer]
	if ps != nil && ps.p != nil && r.PID != 0 && ps.p.PID() != r.PID {
		ps = nil // a record of an earlier process of the same id
	}
	if ps != nil && (r.Kind == history.KindEvent || r.Kind == history.KindExit) {
		ps.last = time.Now()
		if ps.events == 0 && r.Kind == history.KindEvent {
			ps.spoke = ps.last
		}
		ps.events++
	}
	if ps != nil && r.Kind == history.KindEvent && r.Event != nil {
		ev := r.Event
		switch ev.Event {
		case protocol.EventFailpoint:
			if !ev.Paused {
				break // a free peer's announcements would drown the story
			}
			ps.pauses++
			if !ps.steered || (ps.runTo != "" && ps.runTo != ev.Name) {
				if ps.steered {
					e.tell(ps.id, "passes "+ev.Name)
				}
				cont = e.procOf(r.PID)
			} else {
				ps.runTo = ""
				ps.paused = ev.Name
				e.tell(ps.id, "pauses at "+ev.Name)
			}
		case protocol.EventLeader:
			ps.roles++
			ps.role = RoleLeader
			e.tell(ps.id, "leads")
		case protocol.EventFollower:
			ps.roles++
			ps.role = RoleFollower
			e.tell(ps.id, "follows "+ev.Leader)
		case protocol.EventLost:
			ps.role = ""
			e.tell(ps.id, "loses its leader ("+clip(ev.Reason, 60)+")")
		case protocol.EventError:
			ps.errors++
			e.tell(ps.id, "reports: "+clip(ev.Error, 80))
		case protocol.EventSent:
			ps.answers++
			e.tell(ps.id, "sends "+ev.ID)
		case protocol.EventSendFailed:
			ps.answers++
			e.tell(ps.id, "cannot send "+ev.ID)
		case protocol.EventMessage:
			e.tell(ps.id, "gets "+ev.ID)
		}
	}
	if ps != nil && r.Kind == history.KindExit && r.Exit != nil {
		how := fmt.Sprintf("exits with status %d", r.Exit.Code)
		if r.Exit.Signal != "" {
			how = "dies of " + r.Exit.Signal
		}
		ps.paused, ps.role = "", ""
		e.tell(ps.id, how)
	}
	e.notify()
	e.mu.Unlock()
	e.rec.add(r)
	if cont != nil {
		cont.Send(protocol.Command{Cmd: protocol.CmdContinue})
	}
}

// procOf finds the started process with pid; e.mu may be held (Group has its own lock).
func (e *Engine) procOf(pid int) *proc.Peer {
	for _, p := range e.group.Peers() {
		if p.PID() == pid {
			return p
		}
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// tell notes what peer id did, for the story, up to the first violation; e.mu is held.
func (e *Engine) tell(id, what string) {
	if e.told.Load() {
		return
	}
	e.note(id, what)
}

// note is tell after the violation too: for the result of a call let go before it; e.mu is
// held.
func (e *Engine) note(id, what string) {
	if !e.cfg.Story {
		return
	}
	if n := len(e.log); n > 0 && e.log[n-1] == id+" "+what {
		return
	}
	e.log = append(e.log, id+" "+what)
}

// TakeLog returns what peers did since the last call ("p2 pauses at after-probe", "p1
// leads", "p3 dies of SIGKILL") and starts a new log.
func (e *Engine) TakeLog() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	log := e.log
	e.log = nil
	return log
}

// notify wakes every wait; e.mu is held.
func (e *Engine) notify() {
	close(e.changed)
	e.changed = make(chan struct{})
}

func (e *Engine) wake() {
	e.mu.Lock()
	e.notify()
	e.mu.Unlock()
}

func (e *Engine) state(id string) *peerState {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.states[id]
}

// PeerStatus is what the engine knows of one peer from its protocol events.
type PeerStatus struct {
	ID      string
	Live    bool
	Steered bool   // paused at every failpoint until freed
	Paused  string // the failpoint it waits at, "" when running
	Pauses  int    // paused failpoint events so far
	Roles   int    // leader and follower events so far
	Answers int    // sent and send-failed events so far: broadcasts it answered
	Role    string // RoleLeader, RoleFollower or "" (never said, or lost)
	Stopped bool   // stopped with SIGSTOP by a fault
	Spoke   bool   // wrote at least one protocol event: a white-box peer
}

// Status returns the status of peer id (the zero PeerStatus for an unknown id).
func (e *Engine) Status(id string) PeerStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	ps := e.states[id]
	if ps == nil {
		return PeerStatus{}
	}
	return PeerStatus{ID: id, Live: ps.p != nil && !gone(ps.p), Steered: ps.steered,
		Paused: ps.paused, Pauses: ps.pauses, Roles: ps.roles, Answers: ps.answers, Role: ps.role,
		Stopped: ps.stopped, Spoke: ps.events > 0}
}

// IDs returns every peer id started so far, in order of first start.
func (e *Engine) IDs() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.order...)
}

// Continue resumes a steered peer from the failpoint or syscall it is paused at, if it is.
func (e *Engine) Continue(id string) {
	e.mu.Lock()
	ps := e.states[id]
	paused := ps != nil && ps.paused != ""
	if paused {
		// Its quiet counts from now: it was still while paused.
		ps.last, ps.lastCall = time.Now(), time.Now()
		if ps.releaseHeld() {
			paused = false // a syscall: let go already
		} else {
			ps.paused = ""
		}
	}
	e.mu.Unlock()
	if paused {
		ps.p.Send(protocol.Command{Cmd: protocol.CmdContinue})
	}
}

// RunTo continues a steered peer at every failpoint until it pauses at point.
func (e *Engine) RunTo(id, point string) {
	e.mu.Lock()
	if ps := e.states[id]; ps != nil {
		ps.runTo = point
	}
	e.mu.Unlock()
	e.Continue(id)
}

// EndRunTo drops a RunTo point peer id has not arrived at, without moving it: from now on
// it stops at every point again.
func (e *Engine) EndRunTo(id string) {
	e.mu.Lock()
	if ps := e.states[id]; ps != nil {
		ps.runTo = ""
	}
	e.mu.Unlock()
}

// Free lets a steered peer run free: continued at every failpoint from now on.
func (e *Engine) Free(id string) {
	e.mu.Lock()
	if ps := e.states[id]; ps != nil {
		ps.steered = false
		for len(ps.holds) > 1 { // two threads may wait at syscalls: free them all
			ps.releaseHeld()
		}
	}
	e.mu.Unlock()
	e.Continue(id)
}

// AtRest reports whether peer id has stopped moving: it paused at a failpoint or syscall
// after mark pauses (-1: at any), exited, is stopped, or spoke (or made a watched call)
// and has then been quiet for Config.Quiet.
func (e *Engine) AtRest(id string, mark int) bool {
	e.mu.Lock()
	ps := e.states[id]
	if ps == nil || ps.p == nil || gone(ps.p) || ps.stopped {
		e.mu.Unlock()
		return true
	}
	if ps.paused != "" && ps.pauses > mark {
		e.mu.Unlock()
		return true
	}
	last := ps.last
	if ps.lastCall.After(last) {
		last = ps.lastCall
	}
	quiet := (ps.events > 0 || ps.calls > 0) && time.Since(last) > e.cfg.Quiet
	pid := ps.p.PID()
	e.mu.Unlock()
	// Steered at syscalls, quiet is not enough on a loaded machine: a peer descheduled
	// between two calls is quiet too. It rests when none of its threads can run.
	return quiet && !(e.cfg.SteerSyscalls && runnable(pid))
}

// quietBlackBox reports whether peer id never spoke and has run for d.
func (e *Engine) quietBlackBox(id string, d time.Duration) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	ps := e.states[id]
	return ps != nil && ps.events == 0 && time.Since(ps.started) > d
}

// AllFree reports whether no live peer is paused at a failpoint or stopped: only then can
// the group settle.
func (e *Engine) AllFree() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ps := range e.states {
		if ps.p == nil || ps.p.Exited() {
			continue
		}
		if ps.stopped || (ps.steered && ps.paused != "") {
			return false
		}
	}
	return true
}

func (e *Engine) setStopped(p *proc.Peer, stopped bool) {
	e.mu.Lock()
	if ps := e.states[p.ID()]; ps != nil && ps.p == p {
		ps.stopped = stopped
	}
	e.mu.Unlock()
}

// Resting reports whether peer id is at rest (AtRest at any failpoint), or never spoke and
// has run for Config.Quiet: a black-box peer gives no other sign.
func (e *Engine) Resting(id string) bool {
	return e.AtRest(id, -1) || e.quietBlackBox(id, e.cfg.Quiet)
}

// gone reports whether p's exit is recorded: only then does the history (and so the judge)
// know it has ended.
func gone(p *proc.Peer) bool {
	select {
	case <-p.Done():
		return true
	default:
		return false
	}
}
