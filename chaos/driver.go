package chaos

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// startWait bounds how long a started steered peer may take to reach its first failpoint,
// and a killed or terminated peer to exit: generous, for a loaded machine.
const startWait = 10 * time.Second

// poll is how often a wait looks at the kernel when no peer event wakes it.
const poll = 10 * time.Millisecond

// peerState is what the driver knows of one peer, from its events.
type peerState struct {
	id      string
	p       *proc.Peer
	steered bool   // started with every failpoint paused
	free    bool   // continued at every failpoint
	runTo   string // continued at every failpoint but this one
	paused  string // the failpoint it waits at, "" when running
	pauses  int    // paused failpoint events so far
	passes  int    // failpoint events so far, paused or announced
	errors  int    // error events so far
	roles   int    // leader and follower events so far
	events  int    // events so far
	last    time.Time
	role    string
	stopped bool // SIGSTOP
	started time.Time
}

// driver executes schedule steps against one group of real peer processes and judges the
// invariants from the kernel. It lives for one schedule.
type driver struct {
	cfg    *Config
	argv   []string
	dir    string
	addr   string
	secret string
	base   time.Time
	g      *proc.Group
	obs    *kernel.Observer

	mu       sync.Mutex
	recs     []history.Record
	peers    map[string]*peerState
	order    []string
	changed  chan struct{}
	plants   []history.Plant
	log      []string // what peers did during the current step, for the story
	lastDesc string   // the last kernel description told in the story

	story       []string
	steps       []Step
	leaderKills int
	violation   *Violation
}

func newDriver(cfg *Config, argv []string) (*driver, error) {
	dir, err := os.MkdirTemp("", "sbchaos")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	d := &driver{cfg: cfg, argv: argv, dir: dir, base: time.Now(),
		peers: map[string]*peerState{}, changed: make(chan struct{})}
	if cfg.Transport == "tcp" {
		port, err := freePort()
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		d.addr = fmt.Sprintf("127.0.0.1:%d", port)
		d.secret = filepath.Join(dir, "secret")
		if err := os.WriteFile(d.secret, []byte(randomHex(32)), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("secret file: %w", err)
		}
		d.obs, err = kernel.NewTCP(d.addr)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	} else {
		d.addr = filepath.Join(dir, "s.sock")
		d.obs = kernel.NewUnix(d.addr)
	}
	d.g = proc.NewGroup(d.base, d.sink, proc.Options{StderrLines: 10})
	d.record(history.Record{Kind: history.KindRun, Run: &history.Run{
		Version: 1, Impl: cfg.Impl, Transport: cfg.Transport, Addr: d.addr,
		Settle: cfg.Settle, Liveness: cfg.Settle + startWait, Started: d.base,
		Faults: []string{"chaos:" + cfg.Mode},
	}})
	d.record(history.Record{Kind: history.KindPhase, Detail: "faults"})
	return d, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// close stops and reaps every peer and removes the temporary directory.
func (d *driver) close() {
	d.record(history.Record{Kind: history.KindPhase, Detail: "end"})
	// SIGKILL at once: a peer paused at a failpoint may never get to its shutdown path, and
	// a graceful stop is a fault of its own (OpTerm), not the end of a schedule.
	_ = d.killAll(context.Background())
	d.g.Close(time.Second)
	os.RemoveAll(d.dir)
}

// records returns a copy of the history so far.
func (d *driver) records() []history.Record {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.recs)
}

func (d *driver) record(r history.Record) {
	r.T = time.Since(d.base)
	d.add(r)
}

func (d *driver) add(r history.Record) {
	d.mu.Lock()
	d.recs = append(d.recs, r)
	d.mu.Unlock()
}

// notify wakes every wait; d.mu is held.
func (d *driver) notify() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// sink receives every record of the process group; it tracks each peer's failpoint and
// role, and continues free peers at their failpoints.
func (d *driver) sink(r history.Record) {
	var cont *proc.Peer
	d.mu.Lock()
	d.recs = append(d.recs, r)
	ps := d.peers[r.Peer]
	if ps != nil && (r.Kind == history.KindEvent || r.Kind == history.KindExit) {
		ps.last = time.Now()
		ps.events++
	}
	if ps != nil && r.Kind == history.KindEvent && r.Event != nil {
		ev := r.Event
		switch ev.Event {
		case protocol.EventFailpoint:
			ps.passes++
			if !ev.Paused {
				break // a free peer's announcements would drown the story
			}
			ps.pauses++
			if ps.free || (ps.runTo != "" && ps.runTo != ev.Name) {
				if ps.steered {
					d.tell(ps.id, "passes "+ev.Name)
				}
				cont = d.procOf(r.PID)
			} else {
				ps.runTo = ""
				ps.paused = ev.Name
				d.tell(ps.id, "pauses at "+ev.Name)
			}
		case protocol.EventLeader:
			ps.roles++
			ps.role = RoleLeader
			d.tell(ps.id, "leads")
		case protocol.EventFollower:
			ps.roles++
			ps.role = RoleFollower
			d.tell(ps.id, "follows "+ev.Leader)
		case protocol.EventLost:
			ps.role = ""
			d.tell(ps.id, "loses its leader ("+clip(ev.Reason, 60)+")")
		case protocol.EventError:
			ps.errors++
			d.tell(ps.id, "reports: "+clip(ev.Error, 80))
		}
	}
	if ps != nil && r.Kind == history.KindExit && r.Exit != nil {
		how := fmt.Sprintf("exits with status %d", r.Exit.Code)
		if r.Exit.Signal != "" {
			how = "dies of " + r.Exit.Signal
		}
		ps.paused, ps.role = "", ""
		d.tell(ps.id, how)
	}
	d.notify()
	d.mu.Unlock()
	if cont != nil {
		cont.Send(protocol.Command{Cmd: protocol.CmdContinue})
	}
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// tell adds to what the current step's story says peer id did; d.mu is held.
func (d *driver) tell(id, what string) {
	if n := len(d.log); n > 0 && d.log[n-1] == id+" "+what {
		return
	}
	d.log = append(d.log, id+" "+what)
}

// procOf finds the started process with pid; d.mu may be held (Group has its own lock).
func (d *driver) procOf(pid int) *proc.Peer {
	for _, p := range d.g.Peers() {
		if p.PID() == pid {
			return p
		}
	}
	return nil
}

// peerOfPID maps a socket owner's pid to a live peer id by process group: a peer's
// children share its group.
func (d *driver) peerOfPID(pid int) string {
	pgid, err := unix.Getpgid(pid)
	if err != nil {
		pgid = pid
	}
	for _, p := range d.g.Peers() {
		if (p.PID() == pid || p.PID() == pgid) && !p.Exited() {
			return p.ID()
		}
	}
	return ""
}

func (d *driver) states() []*peerState {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]*peerState, 0, len(d.order))
	for _, id := range d.order {
		out = append(out, d.peers[id])
	}
	return out
}

// live returns the ids of peers whose process runs, in start order.
func (d *driver) live() []string {
	var out []string
	for _, ps := range d.states() {
		if ps.p != nil && !ps.p.Exited() {
			out = append(out, ps.id)
		}
	}
	return out
}

func (d *driver) state(id string) *peerState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.peers[id]
}

// snapshot takes the kernel's view of the address, scanning the live peers' processes,
// and records it when it differs from the last one recorded.
func (d *driver) snapshot() (kernel.Snapshot, error) {
	var pids []int
	for _, p := range d.g.Live() {
		pids = append(pids, p.PID())
	}
	if pids == nil {
		pids = []int{}
	}
	s, err := d.obs.Snapshot(pids)
	if err != nil {
		return s, fmt.Errorf("kernel snapshot of %s: %w", d.obs, err)
	}
	s.Taken = time.Since(d.base)
	d.observe(s, false)
	return s, nil
}

// observe records s if it changed (or always when force).
func (d *driver) observe(s kernel.Snapshot, force bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := len(d.recs) - 1; i >= 0 && !force; i-- {
		if r := d.recs[i]; r.Kind == history.KindObservation {
			if sameView(*r.Snapshot, s) {
				return
			}
			break
		}
	}
	d.recs = append(d.recs, history.Record{T: s.Taken, Kind: history.KindObservation, Snapshot: &s})
}

func sameView(a, b kernel.Snapshot) bool {
	a.Taken, b.Taken = 0, 0
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// errStop ends a wait early: the kernel showed a violation.
var errStop = errors.New("violation seen")

// waitFor polls until cond holds for a fresh snapshot, a peer event or poll wakes it, or
// limit passes (false). Every snapshot is judged by the always-invariants on the way; the
// first violation ends the wait with errStop and is kept in d.violation.
func (d *driver) waitFor(ctx context.Context, limit time.Duration, cond func(kernel.Snapshot) bool) (bool, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		d.mu.Lock()
		changed := d.changed
		d.mu.Unlock()
		s, err := d.snapshot()
		if err != nil {
			return false, err
		}
		if v := d.always(s); v != nil {
			d.violation = v
			return false, errStop
		}
		if cond(s) {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-deadline.C:
			return false, nil
		case <-changed:
		case <-tick.C:
		}
	}
}

// atRest reports whether a steered peer has stopped moving since mark: it paused again,
// exited, or has been quiet (no event) for cfg.Quiet after it spoke at least once.
func (d *driver) atRest(id string, mark int) bool {
	d.mu.Lock()
	ps := d.peers[id]
	paused := ps.paused != "" && ps.pauses > mark
	quiet := ps.events > 0 && time.Since(ps.last) > d.cfg.Quiet
	stopped := ps.stopped
	d.mu.Unlock()
	return paused || ps.p == nil || ps.p.Exited() || quiet || stopped
}

// allFree reports whether no live peer is paused at a failpoint or stopped: only then can
// the group settle.
func (d *driver) allFree() bool {
	for _, ps := range d.states() {
		if ps.p == nil || ps.p.Exited() {
			continue
		}
		d.mu.Lock()
		blocked := ps.stopped || (!ps.free && ps.paused != "")
		d.mu.Unlock()
		if blocked {
			return false
		}
	}
	return true
}

// rest waits for the group to come to rest after a fault: settled (when it can settle),
// or every peer quiet. It reports whether the group settled.
func (d *driver) rest(ctx context.Context) (bool, error) {
	if d.allFree() {
		return d.waitFor(ctx, d.cfg.Settle, func(s kernel.Snapshot) bool {
			ok, _, _ := d.settled(s)
			return ok
		})
	}
	_, err := d.waitFor(ctx, startWait, func(kernel.Snapshot) bool {
		for _, id := range d.live() {
			if !d.atRest(id, -1) && !d.quietBlackBox(id) {
				return false
			}
		}
		return true
	})
	return false, err
}

// quietBlackBox reports whether a peer that never spoke has run for cfg.Quiet.
func (d *driver) quietBlackBox(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	ps := d.peers[id]
	return ps.events == 0 && time.Since(ps.started) > d.cfg.Quiet
}

// start starts ids at once (Gap apart), steered or free.
func (d *driver) start(ids []string, steered bool, gap time.Duration) error {
	fps := ""
	if d.cfg.Mode == ModeSteered {
		fps = "*=announce"
		if steered {
			fps = "*=pause"
		}
	}
	for i, id := range ids {
		if i > 0 && gap > 0 {
			time.Sleep(gap) // the gap is the schedule's timing, not a wait for a condition
		}
		ps := &peerState{id: id, steered: steered, free: !steered, started: time.Now()}
		d.mu.Lock()
		if _, dup := d.peers[id]; !dup {
			d.order = append(d.order, id)
		}
		d.peers[id] = ps
		d.mu.Unlock()
		p, err := d.g.Start(proc.Spec{ID: id, Argv: d.argv, Env: proc.Env(proc.EnvSpec{
			Transport: d.cfg.Transport, Addr: d.addr, Peer: id, SecretFile: d.secret, Failpoints: fps,
		})})
		if err != nil {
			return fmt.Errorf("start %s: %w", id, err)
		}
		d.mu.Lock()
		ps.p = p
		d.mu.Unlock()
	}
	return nil
}

// resolve returns the live peer a step targets, or nil when there is none (no leader, no
// follower, or the peer has exited).
func (d *driver) resolve(st Step) (*peerState, error) {
	if st.Peer != "" {
		ps := d.state(st.Peer)
		if ps == nil || ps.p == nil || ps.p.Exited() {
			return nil, nil
		}
		return ps, nil
	}
	s, err := d.snapshot()
	if err != nil {
		return nil, err
	}
	leader := ""
	if l, ok := s.Reachable(); ok {
		for _, pid := range l.PIDs {
			if id := d.peerOfPID(pid); id != "" {
				leader = id
			}
		}
	}
	switch st.Role {
	case RoleLeader:
		if leader == "" {
			return nil, nil
		}
		return d.state(leader), nil
	case RoleFollower:
		for _, id := range d.live() {
			if id != leader {
				return d.state(id), nil
			}
		}
	}
	return nil, nil
}

// cont sends continue to a peer paused at a failpoint.
func (d *driver) cont(ps *peerState) {
	d.mu.Lock()
	paused := ps.paused != ""
	ps.paused = ""
	d.mu.Unlock()
	if paused {
		ps.p.Send(protocol.Command{Cmd: protocol.CmdContinue})
	}
}

// fault records a fault record for the history.
func (d *driver) fault(name string, ps *peerState, sig, detail string) {
	r := history.Record{Kind: history.KindFault, Fault: &history.Fault{Name: name, Signal: sig, Detail: detail}}
	if ps != nil && ps.p != nil {
		r.Peer, r.PID = ps.id, ps.p.PID()
		r.Fault.Target, r.Fault.PID = ps.id, ps.p.PID()
	}
	d.record(r)
}

// waitExit waits for ps to exit, killing it if it does not within startWait.
func (d *driver) waitExit(ctx context.Context, ps *peerState) error {
	t := time.NewTimer(startWait)
	defer t.Stop()
	select {
	case <-ps.p.Done():
		return nil
	case <-t.C:
		d.mu.Lock()
		d.tell(ps.id, fmt.Sprintf("does not exit within %v and is killed", startWait))
		d.mu.Unlock()
		_ = ps.p.Kill()
		<-ps.p.Done()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// killAll kills every live peer and waits until all are reaped.
func (d *driver) killAll(ctx context.Context) error {
	for _, ps := range d.states() {
		if ps.p != nil && !ps.p.Exited() {
			_ = ps.p.Kill()
		}
	}
	for _, ps := range d.states() {
		if ps.p == nil {
			continue
		}
		select {
		case <-ps.p.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// exec runs step i (1-based) and tells its story. It returns the violation the step
// revealed, if any.
func (d *driver) exec(ctx context.Context, i int, st Step) (*Violation, error) {
	d.mu.Lock()
	d.log = nil
	d.mu.Unlock()
	d.steps = append(d.steps, st)
	if st.Delay > 0 {
		t := time.NewTimer(st.Delay) // the delay is the schedule's timing
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	note, err := d.do(ctx, st)
	if errors.Is(err, errStop) {
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if d.violation == nil && st.Op != OpSettle {
		// The "" action of the state machine: the always-invariants right after the step.
		s, err := d.snapshot()
		if err != nil {
			return nil, err
		}
		d.violation = d.always(s)
	}
	d.tellStep(i, st, note)
	if d.violation != nil {
		d.violation.Step = i
		d.story = append(d.story, fmt.Sprintf("   => %s violated: %s", d.violation.Invariant, d.violation.What))
		return d.violation, nil
	}
	return nil, nil
}

// tellStep appends step i's story line: the step, what peers did, what the kernel shows.
func (d *driver) tellStep(i int, st Step, note string) {
	d.mu.Lock()
	log := d.log
	d.mu.Unlock()
	line := fmt.Sprintf("%d. %s", i, st)
	if note != "" {
		line += ": " + note
	}
	if len(log) > 0 {
		sep := ": "
		if note != "" {
			sep = "; "
		}
		line += sep + compact(log)
	}
	if s, err := d.lastSnapshot(); err == nil {
		if desc := d.describe(s); desc != d.lastDesc || d.violation != nil {
			line += " [kernel: " + desc + "]"
			d.lastDesc = desc
		}
	}
	d.story = append(d.story, line)
}

// compact joins a step's log, folding runs of "pX passes A", "pX passes B" into
// "pX passes A, B".
func compact(log []string) string {
	var out []string
	for _, s := range log {
		if n := len(out); n > 0 {
			prev := out[n-1]
			id, what, _ := strings.Cut(s, " ")
			if strings.HasPrefix(what, "passes ") && strings.HasPrefix(prev, id+" passes ") {
				out[n-1] = prev + ", " + strings.TrimPrefix(what, "passes ")
				continue
			}
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}

func (d *driver) lastSnapshot() (kernel.Snapshot, error) {
	if d.violation != nil && d.violation.Snapshot != nil {
		return *d.violation.Snapshot, nil
	}
	return d.snapshot()
}

// do carries out one step and returns a note for the story.
func (d *driver) do(ctx context.Context, st Step) (string, error) {
	switch st.Op {
	case OpStart:
		marks := map[string]int{}
		for _, id := range st.Peers {
			marks[id] = 0
		}
		d.fault("start", nil, "", strings.Join(st.Peers, " "))
		if d.cfg.Mode == ModeSteered && !st.Steered {
			// Steered schedules keep their races in the steering: free peers start one
			// after the other, each once the group is at rest, so a schedule replays (and
			// shrinks) as one interleaving. Storms of free peers are timing schedules'.
			for _, id := range st.Peers {
				if err := d.start([]string{id}, false, 0); err != nil {
					return "", err
				}
				if _, err := d.rest(ctx); err != nil {
					return "", err
				}
			}
			return "one after the other", nil
		}
		if err := d.start(st.Peers, st.Steered, st.Gap); err != nil {
			return "", err
		}
		if st.Steered {
			_, err := d.waitFor(ctx, startWait, func(kernel.Snapshot) bool {
				for _, id := range st.Peers {
					if !d.atRest(id, 0) {
						return false
					}
				}
				return true
			})
			return "", err
		}
		_, err := d.rest(ctx)
		return "", err

	case OpContinue, OpRunTo, OpFree:
		ps, err := d.resolve(st)
		if err != nil || ps == nil {
			return "no such peer", err
		}
		d.mu.Lock()
		mark := ps.pauses
		roles := ps.roles
		switch st.Op {
		case OpRunTo:
			ps.runTo = st.At
		case OpFree:
			ps.free = true
		}
		d.mu.Unlock()
		d.cont(ps)
		_, err = d.waitFor(ctx, startWait, func(kernel.Snapshot) bool {
			if st.Op == OpFree {
				d.mu.Lock()
				moved := ps.roles > roles
				d.mu.Unlock()
				return moved || d.atRest(ps.id, -1)
			}
			return d.atRest(ps.id, mark)
		})
		d.mu.Lock()
		ps.runTo = ""
		d.mu.Unlock()
		return "", err

	case OpKill, OpTerm:
		ps, err := d.resolve(st)
		if err != nil || ps == nil {
			return "no target", err
		}
		d.mu.Lock()
		at := ps.paused
		wasLeader := ps.role == RoleLeader || st.Role == RoleLeader
		d.mu.Unlock()
		note := ps.id
		if at != "" {
			note += " at " + at
		}
		if st.Op == OpKill {
			d.fault("kill", ps, "SIGKILL", note)
			_ = ps.p.Kill()
		} else {
			d.mu.Lock()
			ps.free = true
			d.mu.Unlock()
			d.fault("term", ps, "SIGTERM", note)
			_ = ps.p.Term() // SIGTERM then SIGCONT: a stopped peer handles it too
			d.mu.Lock()
			ps.stopped = false
			d.mu.Unlock()
			d.cont(ps)
		}
		if err := d.waitExit(ctx, ps); err != nil {
			return note, err
		}
		if wasLeader {
			d.leaderKills++
		}
		_, err = d.rest(ctx)
		return note, err

	case OpPause:
		ps, err := d.resolve(st)
		if err != nil || ps == nil {
			return "no target", err
		}
		d.fault("pause", ps, "SIGSTOP", "")
		if err := ps.p.Stop(); err != nil {
			return "it had exited", nil
		}
		d.mu.Lock()
		ps.stopped = true
		d.mu.Unlock()
		return ps.id + " stopped", nil

	case OpResume:
		var ids []string
		for _, ps := range d.states() {
			if ps.stopped && ps.p != nil && !ps.p.Exited() {
				d.fault("resume", ps, "SIGCONT", "")
				_ = ps.p.Cont()
				ids = append(ids, ps.id)
			}
			d.mu.Lock()
			ps.stopped = false
			d.mu.Unlock()
		}
		_, err := d.rest(ctx)
		if len(ids) == 0 {
			return "nobody was stopped", err
		}
		return strings.Join(ids, " ") + " continued", err

	case OpStale:
		if d.cfg.Transport != "unix" {
			return "not for tcp", nil
		}
		if err := d.killAll(ctx); err != nil {
			return "", err
		}
		note := "the killed leader's socket stays"
		if _, err := os.Lstat(d.addr); errors.Is(err, fs.ErrNotExist) {
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: d.addr, Net: "unix"})
			if err != nil {
				return "", fmt.Errorf("stale socket: %w", err)
			}
			l.SetUnlinkOnClose(false)
			l.Close()
			note = "the driver leaves a stale socket"
		}
		d.fault("stale-socket", nil, "", note)
		return "every peer killed; " + note, nil

	case OpPlant:
		return d.plant(ctx, st)

	case OpSettle:
		return d.settle(ctx)
	}
	return "", fmt.Errorf("unknown step op %q", st.Op)
}

// plant carries out OpPlant.
func (d *driver) plant(ctx context.Context, st Step) (string, error) {
	if d.cfg.Transport != "unix" {
		return "not for tcp", nil
	}
	if err := d.killAll(ctx); err != nil {
		return "", err
	}
	if fi, err := os.Lstat(d.addr); err == nil && fi.Mode().Type() == fs.ModeSocket {
		os.Remove(d.addr) // what a killed leader left is ours to clear
	}
	var err error
	if st.Plant == "dir" {
		err = os.Mkdir(d.addr, 0o755)
	} else {
		err = os.WriteFile(d.addr, []byte(st.Data), 0o644)
	}
	if err != nil {
		return "", fmt.Errorf("plant %s: %w", st.Plant, err)
	}
	planted, err := fault.Look(d.addr)
	if err != nil {
		return "", err
	}
	d.fault("plant-"+st.Plant, nil, "", d.addr)
	d.record(history.Record{Kind: history.KindPlant, Plant: &planted, Detail: "planted"})
	d.mu.Lock()
	d.plants = append(d.plants, planted)
	d.mu.Unlock()
	// Each peer in turn (one interleaving) gets its chance to do damage: until it leads or
	// follows, reports two failed attempts, exits, or is quiet for cfg.Quiet (a black-box
	// peer says nothing at all).
	// The plant is judged once more after each wait: the damage may come just before.
	for _, id := range st.Peers {
		if err := d.start([]string{id}, false, 0); err != nil {
			return "", err
		}
		_, err = d.waitFor(ctx, startWait, func(kernel.Snapshot) bool {
			ps := d.state(id)
			d.mu.Lock()
			role := ps.role != "" || ps.errors >= 2 // two failed attempts: it keeps trying
			d.mu.Unlock()
			return role || d.atRest(id, -1) || d.quietBlackBox(id)
		})
		if err != nil {
			return "", err
		}
		if v := d.plantsIntact(); v != nil {
			d.violation = v
			return "", errStop
		}
	}
	d.mu.Lock()
	d.plants = slices.DeleteFunc(d.plants, func(p history.Plant) bool { return p.Path == planted.Path })
	d.mu.Unlock()
	final, _ := fault.Look(d.addr)
	d.record(history.Record{Kind: history.KindPlant, Plant: &final, Detail: "final"})
	if final.Type == planted.Type && final.Inode == planted.Inode {
		os.Remove(d.addr)
	}
	d.fault("unplant", nil, "", d.addr)
	if _, err := d.rest(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("planted a %s, started %s, removed the plant", st.Plant, strings.Join(st.Peers, " ")), nil
}

// settle carries out OpSettle and judges the settle invariants.
func (d *driver) settle(ctx context.Context) (string, error) {
	d.record(history.Record{Kind: history.KindPhase, Detail: "settle"})
	for _, ps := range d.states() {
		if ps.p == nil || ps.p.Exited() {
			continue
		}
		d.mu.Lock()
		if ps.stopped {
			ps.stopped = false
			d.mu.Unlock()
			d.fault("resume", ps, "SIGCONT", "settle")
			_ = ps.p.Cont()
			d.mu.Lock()
		}
		wasFree := ps.free
		ps.free = true
		roles := ps.roles
		d.mu.Unlock()
		if wasFree {
			continue
		}
		// Freed one at a time, in start order, so the settle itself is one interleaving.
		d.cont(ps)
		if _, err := d.waitFor(ctx, startWait, func(kernel.Snapshot) bool {
			d.mu.Lock()
			moved := ps.roles > roles
			d.mu.Unlock()
			return moved || d.atRest(ps.id, -1)
		}); err != nil {
			return "", err
		}
	}
	var last kernel.Snapshot
	ok, err := d.waitFor(ctx, d.cfg.Settle, func(s kernel.Snapshot) bool {
		last = s
		ok, _, _ := d.settled(s)
		return ok
	})
	if err != nil {
		return "", err
	}
	d.observe(last, true)
	if !ok {
		_, inv, why := d.settled(last)
		d.violation = &Violation{Invariant: inv, Snapshot: &last,
			What: fmt.Sprintf("not settled %v after the last fault: %s", d.cfg.Settle, why)}
		return "", nil
	}
	if v := d.always(last); v != nil {
		d.violation = v
	}
	return "every peer free", nil
}
