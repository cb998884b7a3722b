package run

import (
	"context"

	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	crand "crypto/rand"

	"golang.org/x/sys/unix"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// Outcome is what came of a run. Results are set whenever the history was judged, even
// for an interrupted run.
type Outcome struct {
	Dir         string           // the result folder
	Records     []history.Record // the whole history
	Results     check.Results
	Rounds      int            // fault rounds run
	Skipped     int            // rounds whose fault found no target
	FaultCounts map[string]int // injected faults by name
	Started     int            // peer processes started
	Interrupted bool           // ctx ended before the run did
	NoLeader    bool           // no first leader appeared, so no faults ran
	Elapsed     time.Duration
	// Broadcasts is how many broadcast commands the run handed to peers (not counting those
	// dropped because the peer had exited or did not read stdin).
	Broadcasts int
	// Violation says what the first violation seen online was ("" if none: the checkers may
	// still find one afterwards), and ViolationAt when, since the run began.
	Violation   string
	ViolationAt time.Duration
	// StoppedEarly is set when FailFast ended the fault phase at that violation.
	StoppedEarly bool
}

// Observer is the kernel view the run needs (kernel.Observer implements it).
type Observer interface {
	Snapshot(pids []int) (kernel.Snapshot, error)
}

// Run runs cfg to the end, or until ctx ends (then it stops early, but still stops and reaps
// every peer, judges what it recorded and writes the reports). The error is for the
// harness's own failures; the verdict is in Outcome.Results.
func Run(ctx context.Context, cfg Config) (*Outcome, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	argv, err := proc.Split(cfg.Impl)
	if err != nil {
		return nil, fmt.Errorf("%w: --impl: %w", ErrConfig, err)
	}
	raiseNoFile()
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, fmt.Errorf("result folder: %w", err)
	}
	var cleanup []func()
	defer func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}()
	secret := ""
	if cfg.Addr == "" || cfg.Transport == "tcp" {
		tmp, err := os.MkdirTemp("", "splitbrain-")
		if err != nil {
			return nil, fmt.Errorf("temp dir: %w", err)
		}
		cleanup = append(cleanup, func() { os.RemoveAll(tmp) })
		if cfg.Addr == "" {
			if cfg.Addr, err = freeAddr(cfg.Transport, tmp); err != nil {
				return nil, err
			}
		}
		if cfg.Transport == "tcp" {
			if secret, err = writeSecret(tmp); err != nil {
				return nil, err
			}
		}
	}
	var obs Observer
	if cfg.Transport == "unix" {
		if !filepath.IsAbs(cfg.Addr) {
			if cfg.Addr, err = filepath.Abs(cfg.Addr); err != nil {
				return nil, err
			}
		}
		if len(cfg.Addr) > 107 {
			return nil, fmt.Errorf("%w: socket path is %d bytes; the limit is 107: use a shorter --addr", ErrConfig, len(cfg.Addr))
		}
		obs = kernel.NewUnix(cfg.Addr)
	} else {
		o, err := kernel.NewTCP(cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("%w: --addr: %w", ErrConfig, err)
		}
		obs = o
	}
	f, err := os.Create(filepath.Join(cfg.Out, "history.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer f.Close()
	logs := filepath.Join(cfg.Out, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return nil, fmt.Errorf("log folder: %w", err)
	}

	base := time.Now()
	r := &run{
		cfg:    cfg,
		argv:   argv,
		obs:    obs,
		rec:    &recorder{base: base, w: history.NewWriter(f)},
		rng:    mrand.New(mrand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
		out:    &Outcome{Dir: cfg.Out, FaultCounts: map[string]int{}},
		byPID:  map[int]*proc.Peer{},
		last:   map[string]*proc.Peer{},
		secret: secret,
	}
	r.prog = newProgress(cfg.Progress)
	r.group = proc.NewGroup(base, r.sink, proc.Options{LogDir: logs})
	var names []string
	var fps []string
	if cfg.Failpoints != "" {
		fps = append(fps, cfg.Failpoints)
	}
	for _, f := range cfg.Faults {
		names = append(names, f.Name())
		if u, ok := f.(fault.FailpointUser); ok && !contains(fps, u.Failpoints()) {
			fps = append(fps, u.Failpoints())
		}
	}
	r.failpoints = strings.Join(fps, ",")
	r.rec.record(history.Record{Kind: history.KindRun, Run: &history.Run{
		Version: 1, Impl: cfg.Impl, Transport: cfg.Transport, Addr: cfg.Addr, Peers: cfg.Peers,
		Rounds: cfg.Rounds, Duration: cfg.Duration, Faults: names, Seed: cfg.Seed,
		Settle: cfg.Settle, Liveness: cfg.Liveness, Replay: cfg.Replay, Started: base,
	}})

	herr := r.main(ctx)

	out := r.out
	out.Interrupted = ctx.Err() != nil
	out.Elapsed = time.Since(base)
	out.Records = r.rec.records()
	out.Started = len(r.group.Peers())
	out.Broadcasts = int(r.broadcasts.Load())
	r.mu.Lock()
	out.Violation, out.ViolationAt = r.violation, r.violationAt
	r.mu.Unlock()
	r.prog.done()
	if err := r.rec.w.Flush(); err != nil && herr == nil {
		herr = fmt.Errorf("write history: %w", err)
	}
	if r.rec.err != nil && herr == nil {
		herr = fmt.Errorf("write history: %w", r.rec.err)
	}
	out.Results = check.Judge(out.Records)
	if cfg.Report != nil {
		if err := cfg.Report(cfg.Out, out.Records, out.Results); err != nil && herr == nil {
			herr = fmt.Errorf("write report: %w", err)
		}
	}
	return out, herr
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// run is the state of one Run; it implements fault.Env.
type run struct {
	cfg        Config
	argv       []string
	obs        Observer
	rec        *recorder
	rng        *mrand.Rand
	group      *proc.Group
	out        *Outcome
	prog       *progress
	failpoints string
	secret     string
	bg         sync.WaitGroup
	pausing    atomic.Int32
	broadcasts atomic.Int64
	stopFaults context.CancelFunc // ends the fault phase early (FailFast)

	mu     sync.Mutex
	byPID  map[int]*proc.Peer    // every peer ever started
	last   map[string]*proc.Peer // id -> its latest process
	ids    []string              // ids in order of first start
	nextID int
	prev   *kernel.Snapshot // the last recorded snapshot
	talked map[string]bool  // ids that wrote at least one event: white-box peers
	// violation is the first violation seen online, at violationAt.
	violation   string
	violationAt time.Duration
	planted     map[string]history.Plant // path -> what was planted there
	obsMu       sync.Mutex               // one snapshot at a time, so records stay in order
}

// main runs the phases; every path out of it stops and reaps the peers.
func (r *run) main(ctx context.Context) (err error) {
	defer func() {
		r.phase("end")
		r.group.Close(r.cfg.Grace)
		r.bg.Wait()
		r.observe("after end")
	}()
	r.prog.set("starting %d peers", r.cfg.Peers)
	if err := r.Start(r.NewIDs(r.cfg.Peers)); err != nil {
		return err
	}
	sctx, stopSampling := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() { defer sampler.Done(); r.sample(sctx) }()
	defer func() { stopSampling(); sampler.Wait() }()

	// fctx ends with the fault phase: at its end, or (FailFast) at the first violation,
	// which may come before the first leader is even settled.
	fctx, stopFaults := context.WithCancel(ctx)
	defer stopFaults()
	r.mu.Lock()
	r.stopFaults = stopFaults
	early := r.violation != "" && r.cfg.FailFast
	r.mu.Unlock()
	if early {
		stopFaults()
	}
	if !r.waitSettled(fctx, r.cfg.FirstLeader, false) {
		if ctx.Err() != nil {
			return nil
		}
		if fctx.Err() == nil {
			r.out.NoLeader = true
			r.observe("no leader within first-leader bound")
			return nil
		}
	}
	r.phase("faults")
	bctx, stopBroadcasts := context.WithCancel(ctx)
	var caster sync.WaitGroup
	if r.cfg.Broadcasts > 0 {
		caster.Add(1)
		go func() { defer caster.Done(); r.broadcast(bctx) }()
	}
	defer func() { stopBroadcasts(); caster.Wait() }()
	began := time.Now()
	for round := 1; fctx.Err() == nil; round++ {
		if r.cfg.Rounds > 0 && round > r.cfg.Rounds {
			break
		}
		if r.cfg.Duration > 0 && time.Since(began) >= r.cfg.Duration {
			break
		}
		f := r.cfg.Faults[r.rng.IntN(len(r.cfg.Faults))]
		r.prog.round(round, f.Name(), began, len(r.group.Live()))
		err := f.Inject(fctx, r)
		r.out.Rounds = round
		switch {
		case err != nil && fctx.Err() != nil:
			// Interrupted, or stopped at the first violation: the round is cut short.
		case errors.Is(err, fault.ErrNoTarget):
			r.out.Skipped++
			r.Record(history.Record{Kind: history.KindFault, Fault: &history.Fault{Name: f.Name(), Detail: "skipped: " + err.Error()}})
		case err != nil:
			return fmt.Errorf("round %d, fault %s: %w", round, f.Name(), err)
		default:
			r.out.FaultCounts[f.Name()]++
		}
		r.observe("after " + f.Name())
		if fctx.Err() != nil {
			break
		}
		// Keep the group meaningful: bring back the dead when half are gone.
		if live := len(r.group.Live()); live < (r.cfg.Peers+1)/2 {
			if ids := r.DeadIDs(); len(ids) > 0 {
				ids = ids[:min(len(ids), r.cfg.Peers-live)]
				r.Record(history.Record{Kind: history.KindFault, Fault: &history.Fault{Name: "restart-dead", Detail: "auto: " + strings.Join(ids, " ")}})
				if err := r.Start(ids); err != nil {
					return err
				}
			}
		}
		r.waitSettled(fctx, r.cfg.Liveness, true)
	}
	if ctx.Err() != nil {
		return nil
	}
	if fctx.Err() != nil {
		r.out.StoppedEarly = true
		r.mu.Lock()
		what := r.violation
		r.mu.Unlock()
		r.Record(history.Record{Kind: history.KindFault, Fault: &history.Fault{Name: "fail-fast",
			Detail: "fault phase stopped at the first violation: " + what}})
	}
	// Quiescence: no more faults; wait for pauses to end, give the group Settle, look.
	r.prog.set("settling")
	r.bg.Wait()
	r.phase("settle")
	// Traffic goes on through the first half of the settle time, so that the last broadcasts
	// have the second half to be answered before the end.
	if err := fault.Sleep(ctx, r.cfg.Settle/2); err != nil {
		return nil
	}
	stopBroadcasts()
	caster.Wait()
	if err := fault.Sleep(ctx, r.cfg.Settle-r.cfg.Settle/2); err != nil {
		return nil
	}
	r.phase("quiesce")
	r.observe("quiesce")
	_ = fault.Sleep(ctx, r.cfg.Sample)
	r.observe("quiesce")
	return nil
}

func (r *run) phase(name string) {
	r.Record(history.Record{Kind: history.KindPhase, Detail: name})
	r.prog.set("%s", name)
}

// sample records the kernel's view whenever it changes.
func (r *run) sample(ctx context.Context) {
	t := time.NewTicker(r.cfg.Sample)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.snapshot("")
		}
	}
}

// snapshot takes a snapshot, stamps it and records it if detail is set or it differs from
// the last one recorded.
func (r *run) snapshot(detail string) (kernel.Snapshot, bool) {
	r.obsMu.Lock()
	defer r.obsMu.Unlock()
	s, err := r.obs.Snapshot(r.livePIDs())
	t := r.rec.now()
	if err != nil {
		r.Record(history.Record{Kind: history.KindObservation, Detail: "snapshot failed: " + err.Error()})
		return kernel.Snapshot{}, false
	}
	s.Taken = t
	r.mu.Lock()
	changed := r.prev == nil || !sameSnapshot(*r.prev, s)
	if changed || detail != "" {
		r.prev = &s
	}
	r.mu.Unlock()
	if changed || detail != "" {
		r.rec.add(history.Record{T: t, Kind: history.KindObservation, Snapshot: &s, Detail: detail})
		r.judgeOnline(s)
	}
	return s, true
}

// judgeOnline notes the first violation one observation shows by itself: more than one
// listener (single-listener) or an orphaned one (reachable-leader). With FailFast it ends
// the fault phase. The checkers judge the history again at the end; this is only early.
func (r *run) judgeOnline(s kernel.Snapshot) {
	what := ""
	switch {
	case len(s.Listeners) > 1:
		what = fmt.Sprintf("single-listener: %d listeners on the address", len(s.Listeners))
	default:
		for _, l := range s.Listeners {
			if l.Orphaned {
				what = fmt.Sprintf("reachable-leader: listener inode %d held by pids %v is orphaned", l.Inode, l.PIDs)
				break
			}
		}
	}
	if what != "" {
		r.violated(s.Taken, what)
	}
}

// judgePlant notes a look at a planted file that finds it changed (no-data-loss), the one
// other invariant a single record shows.
func (r *run) judgePlant(rec history.Record) {
	r.mu.Lock()
	if r.planted == nil {
		r.planted = map[string]history.Plant{}
	}
	var what string
	switch want, ok := r.planted[rec.Plant.Path]; {
	case rec.Detail == "" || rec.Detail == check.PlantPlanted:
		r.planted[rec.Plant.Path] = *rec.Plant
	case ok && (rec.Plant.Type != want.Type || rec.Plant.Inode != want.Inode || rec.Plant.UID != want.UID || rec.Plant.SHA256 != want.SHA256):
		what = fmt.Sprintf("no-data-loss: the planted %s at %s was replaced by a %s (inode %d, was %d)", want.Type, want.Path, rec.Plant.Type, rec.Plant.Inode, want.Inode)
		if rec.Plant.Type == check.PlantMissing {
			what = fmt.Sprintf("no-data-loss: the planted %s at %s was deleted", want.Type, want.Path)
		}
	}
	r.mu.Unlock()
	if what != "" {
		r.violated(rec.T, what)
	}
}

// violated records the first online violation and, with FailFast, ends the fault phase.
func (r *run) violated(at time.Duration, what string) {
	r.mu.Lock()
	first := r.violation == ""
	if first {
		r.violation, r.violationAt = what, at
	}
	stop := r.stopFaults
	r.mu.Unlock()
	if !first {
		return
	}
	r.prog.set("violation at %v: %s", at.Round(time.Millisecond), what)
	if r.cfg.FailFast && stop != nil {
		stop()
	}
}

// sink receives every record of the process group: it notes which peers speak the protocol.
func (r *run) sink(rec history.Record) {
	if rec.Kind == history.KindEvent {
		r.mu.Lock()
		if !r.talked[rec.Peer] {
			if r.talked == nil {
				r.talked = map[string]bool{}
			}
			r.talked[rec.Peer] = true
		}
		r.mu.Unlock()
	}
	r.rec.add(rec)
}

// broadcast sends broadcast commands with unique ids ("b1", "b2", ...) and small random
// payloads to random live white-box peers, with exponential gaps of mean 1/Broadcasts
// seconds, until ctx ends. It has its own random source (derived from the seed) so that the
// fault schedule does not depend on how many broadcasts went out.
func (r *run) broadcast(ctx context.Context) {
	rng := mrand.New(mrand.NewPCG(uint64(r.cfg.Seed)^0xb5ad4eceda1ce2a9, 0x62726f6164636173))
	mean := float64(time.Second) / r.cfg.Broadcasts
	for n := 1; ; {
		if fault.Sleep(ctx, time.Duration(rng.ExpFloat64()*mean)) != nil {
			return
		}
		var talkers []*proc.Peer
		r.mu.Lock()
		for _, p := range r.group.Live() {
			if r.talked[p.ID()] {
				talkers = append(talkers, p)
			}
		}
		r.mu.Unlock()
		if len(talkers) == 0 {
			continue
		}
		p := talkers[rng.IntN(len(talkers))]
		data := make([]byte, 8)
		for i := range data {
			data[i] = byte(rng.UintN(256))
		}
		cmd := protocol.Command{Cmd: protocol.CmdBroadcast, ID: fmt.Sprintf("b%d", n), Data: hex.EncodeToString(data)}
		n++
		if p.Send(cmd) {
			r.broadcasts.Add(1)
		}
	}
}

func (r *run) observe(detail string) { r.snapshot(detail) }

func sameSnapshot(a, b kernel.Snapshot) bool {
	a.Taken, b.Taken = 0, 0
	return reflect.DeepEqual(a, b)
}

func (r *run) livePIDs() []int {
	var pids []int
	for _, p := range r.group.Live() {
		pids = append(pids, p.PID())
	}
	return pids
}

// settled reports whether s shows one reachable listener held by a live peer, every other
// live peer connected to it, and nothing else.
func (r *run) settled(s kernel.Snapshot) (*proc.Peer, bool) {
	if len(s.Listeners) != 1 {
		return nil, false
	}
	l, ok := s.Reachable()
	if !ok {
		return nil, false
	}
	leader := r.peerOf(l.PIDs)
	if leader == nil {
		return nil, false
	}
	connected := map[int]bool{}
	for _, c := range s.Conns {
		if c.ServerInode == 0 || !intersects(c.ServerPIDs, []int{leader.PID()}) {
			return leader, false
		}
		for _, pid := range c.ClientPIDs {
			connected[pid] = true
		}
	}
	for _, p := range r.group.Live() {
		if p != leader && !connected[p.PID()] {
			return leader, false
		}
	}
	return leader, true
}

func intersects(a, b []int) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// waitSettled polls the kernel until the group has settled (or, if !full, until any
// reachable leader is held by a peer), for at most d.
func (r *run) waitSettled(ctx context.Context, d time.Duration, full bool) bool {
	deadline := time.Now().Add(d)
	for {
		s, ok := r.snapshot("")
		if ok {
			leader, done := r.settled(s)
			if done || (!full && leader != nil) {
				return true
			}
		}
		if time.Now().After(deadline) || fault.Sleep(ctx, r.cfg.Sample) != nil {
			return false
		}
		if !full && len(r.group.Live()) == 0 {
			return false // every peer has exited: no leader can appear
		}
	}
}

func (r *run) peerOf(pids []int) *proc.Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, pid := range pids {
		if p, ok := r.byPID[pid]; ok && !p.Exited() {
			return p
		}
	}
	return nil
}

// --- fault.Env ---

// Rand implements fault.Env.
func (r *run) Rand() *mrand.Rand { return r.rng }

// Transport implements fault.Env.
func (r *run) Transport() string { return r.cfg.Transport }

// Addr implements fault.Env.
func (r *run) Addr() string { return r.cfg.Addr }

// Live implements fault.Env.
func (r *run) Live() []*proc.Peer { return r.group.Live() }

// MaxLive implements fault.Env.
func (r *run) MaxLive() int { return r.cfg.MaxLive }

// Timeout implements fault.Env.
func (r *run) Timeout() time.Duration { return r.cfg.Liveness }

// Record implements fault.Env.
func (r *run) Record(rec history.Record) {
	rec.T = r.rec.now()
	r.rec.add(rec)
	if rec.Kind == history.KindPlant && rec.Plant != nil {
		r.judgePlant(rec)
	}
}

// Go implements fault.Env.
func (r *run) Go(f func()) {
	r.bg.Add(1)
	r.pausing.Add(1)
	go func() {
		defer r.bg.Done()
		defer r.pausing.Add(-1)
		f()
	}()
}

// WaitEvent implements fault.Env.
func (r *run) WaitEvent(ctx context.Context, match func(history.Record) bool) (history.Record, error) {
	return r.rec.waitEvent(ctx, match)
}

// Leader implements fault.Env.
func (r *run) Leader(detail string) (*proc.Peer, error) {
	s, ok := r.snapshot(detail)
	if !ok {
		return nil, nil
	}
	l, ok := s.Reachable()
	if !ok {
		return nil, nil
	}
	return r.peerOf(l.PIDs), nil
}

// NewIDs implements fault.Env.
func (r *run) NewIDs(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, n)
	for i := range ids {
		r.nextID++
		ids[i] = fmt.Sprintf("p%d", r.nextID)
	}
	return ids
}

// DeadIDs implements fault.Env.
func (r *run) DeadIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, id := range r.ids {
		if r.last[id].Exited() {
			out = append(out, id)
		}
	}
	return out
}

// Start implements fault.Env.
func (r *run) Start(ids []string) error {
	for _, id := range ids {
		env := proc.Env(proc.EnvSpec{Transport: r.cfg.Transport, Addr: r.cfg.Addr, Peer: id,
			SecretFile: r.secret, Failpoints: r.failpoints})
		p, err := r.group.Start(proc.Spec{ID: id, Argv: r.argv, Env: env})
		if errors.Is(err, proc.ErrClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w (check --impl)", err)
		}
		r.mu.Lock()
		if _, ok := r.last[id]; !ok {
			r.ids = append(r.ids, id)
		}
		r.last[id] = p
		r.byPID[p.PID()] = p
		r.mu.Unlock()
	}
	return nil
}

// KillAll implements fault.Env.
func (r *run) KillAll(ctx context.Context) error {
	live := r.group.Live()
	for _, p := range live {
		r.Record(history.Record{Kind: history.KindFault, Peer: p.ID(), PID: p.PID(),
			Fault: &history.Fault{Name: "kill-all", Target: p.ID(), PID: p.PID(), Signal: "SIGKILL"}})
		_ = p.Kill()
	}
	for _, p := range live {
		select {
		case <-p.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.observe("all peers down")
	return nil
}

// --- helpers ---

// raiseNoFile raises the soft open-file limit to the hard one: 200 peers with their pipes
// and the observer's /proc scans need more than a default 1024. (Go does this at start-up
// too since 1.19; doing it here keeps the harness right when embedded elsewhere.)
func raiseNoFile() {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	}
}

// freeAddr returns a fresh address: a socket path in dir, or a free loopback port.
func freeAddr(transport, dir string) (string, error) {
	if transport == "unix" {
		return filepath.Join(dir, "election.sock"), nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// writeSecret writes a 0600 file with a random shared secret for tcp peers.
func writeSecret(dir string) (string, error) {
	b := make([]byte, 32)
	if _, err := crand.Read(b); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "secret")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(b)+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("secret file: %w", err)
	}
	return path, nil
}
