package engine

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
)

// Errors of the engine.
var (
	// ErrConfig marks a configuration the engine refuses; the message names the field and
	// the fix.
	ErrConfig = errors.New("bad configuration")
	// ErrViolation ends a wait early when Config.StopAtViolation is set and the online
	// judge has seen a violation ([Engine.Violation] says which).
	ErrViolation = errors.New("violation seen")
)

// Config says what group to run. Zero fields take the defaults in their comments.
type Config struct {
	// Impl is the peer command line, split like a shell would (proc.Split). Required.
	Impl string
	// Transport is "unix" (default) or "tcp".
	Transport string
	// Addr is the election address; default a fresh socket path in a new temp directory
	// (unix) or a free 127.0.0.1 port (tcp).
	Addr string
	// Out, if set, is the result folder: history.jsonl is written there as the run goes,
	// and each peer's stderr to logs/ID.stderr.log. Without it the history is kept in
	// memory only ([Engine.Records]).
	Out string
	// Run is the run record written first; the engine fills in Version, Impl, Transport,
	// Addr, Liveness (when zero) and Started.
	Run history.Run
	// Failpoints is SPLITBRAIN_FAILPOINTS for peers started by [Engine.Start].
	Failpoints string
	// Seed seeds the one random source faults draw from ([Engine.Rand]).
	Seed int64
	// MaxLive is the most peers that may run at once; default 8.
	MaxLive int
	// Timeout is the longest any peer timeout may be (the liveness bound): a pause lasts
	// longer, a wait for a leader no longer; default 5s.
	Timeout time.Duration
	// Quiet is how long a peer that spoke must be silent to count as at rest (e.g. blocked
	// on a lock another paused peer holds); default 300ms.
	Quiet time.Duration
	// Poll is how often a wait looks at the kernel when no peer event wakes it; default 10ms.
	Poll time.Duration
	// Grace is how long peers get to exit on SIGTERM at Close before SIGKILL; default 2s.
	Grace time.Duration
	// StderrLines is how many stderr lines an exit record keeps; default proc's.
	StderrLines int
	// Invariants are those the online judge judges; default every one it knows.
	Invariants []string
	// StopAtViolation ends every wait with ErrViolation once a violation is seen.
	StopAtViolation bool
	// Story keeps what peers do ("p1 leads", "p2 sends b1") for [Engine.TakeLog], the
	// chaos driver's story. Off, nothing is kept: a long run would pile it up.
	Story bool
	// OnViolation, if set, is called once, with the first violation the online judge sees.
	OnViolation func(*check.Violation)
	// OnEvent, if set, is called with every protocol event record (progress displays).
	OnEvent func(history.Record)
	// Syscalls watches every peer at its election syscalls (harness/syscalls): each starts
	// as `Shim shim -- IMPL`, every call on the address, its folder or a lock file is a
	// syscall record, and at each listen, unlink and rename of the address the kernel is
	// observed while the caller is held. Ask syscalls.Available first.
	Syscalls bool
	// Shim is the binary whose main calls syscalls.ShimIfAsked; default this executable.
	Shim string
	// SteerSyscalls steers peers at their syscalls instead of their failpoints (it implies
	// Syscalls): a peer started Steered stops before each of its calls at a point of
	// [SyscallPoints] until [Engine.Continue], [Engine.RunTo] or [Engine.Free], and connects
	// to the address are made for it so that their results are known. Its failpoints are
	// left as Failpoints says. Any peer can be steered so, black-box or not.
	SteerSyscalls bool
	// OnSyscall, if set, is called with every watched call after it is recorded (and the
	// kernel observed), while the caller is still held: a fault may kill it there.
	OnSyscall func(*syscalls.Call)
}

func (c *Config) defaults() error {
	if strings.TrimSpace(c.Impl) == "" {
		return fmt.Errorf("%w: no peer command: set --impl 'COMMAND ARGS'", ErrConfig)
	}
	switch c.Transport {
	case "":
		c.Transport = "unix"
	case "unix", "tcp":
	default:
		return fmt.Errorf("%w: transport %q: use unix or tcp", ErrConfig, c.Transport)
	}
	if c.MaxLive <= 0 {
		c.MaxLive = 8
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Quiet <= 0 {
		c.Quiet = 300 * time.Millisecond
	}
	if c.Poll <= 0 {
		c.Poll = 10 * time.Millisecond
	}
	if c.Grace <= 0 {
		c.Grace = 2 * time.Second
	}
	if c.SteerSyscalls {
		c.Syscalls = true
	}
	return nil
}

// Engine is one group of peer processes at one address, under observation. Its methods are
// safe for concurrent use. Close it to stop and reap every peer.
type Engine struct {
	cfg    Config
	argv   []string
	tmp    string // our temp directory, removed by Close ("" if none)
	secret string
	obs    *kernel.Observer
	rec    *recorder
	file   *os.File
	rng    *mrand.Rand
	group  *proc.Group
	sup    *syscalls.Supervisor // nil unless Config.Syscalls
	hookMu sync.Mutex
	hooks  []*syscallHook // armed by AtSyscall
	online *check.Online
	tally  *check.Tally // what the run exercised so far, and the confidence it earns
	tree   *tree
	bg     sync.WaitGroup

	mu      sync.Mutex
	byPID   map[int]*proc.Peer // every process ever started
	states  map[string]*peerState
	order   []string // ids in order of first start
	nextID  int
	prev    *kernel.Snapshot // the last recorded snapshot
	changed chan struct{}    // closed and renewed at every peer record: wakes waits
	log     []string         // what peers did since the last TakeLog
	closed  bool
	// told ends the story at the first violation: what peers do after it (a claim that
	// races the judge's look) would make the last step's line differ between replays.
	told atomic.Bool
	// released maps a made call let go by steering to its peer id, until its result is
	// told (the supervisor shows it again, After).
	released sync.Map
	obsMu    sync.Mutex // one snapshot at a time, so observations stay in T order
	// Under obsMu: snapshots taken, and the intervals between them.
	observations int
	lastObs      time.Time
	intervals    []time.Duration
}

// New makes the address (and the secret file, over tcp), the observer and the recorder, and
// writes the run record. No peer runs yet.
func New(cfg Config) (*Engine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	argv, err := proc.Split(cfg.Impl)
	if err != nil {
		return nil, fmt.Errorf("%w: --impl: %w", ErrConfig, err)
	}
	raiseNoFile()
	becomeSubreaper()
	e := &Engine{cfg: cfg, argv: argv, online: check.NewOnline(cfg.Invariants...), tally: check.NewTally(0),
		rng:    mrand.New(mrand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
		byPID:  map[int]*proc.Peer{},
		states: map[string]*peerState{}, changed: make(chan struct{})}
	if err := e.init(); err != nil {
		e.removeTemp()
		return nil, err
	}
	return e, nil
}

// init makes the address, the observer, the recorder and the process group.
func (e *Engine) init() (err error) {
	cfg := e.cfg
	if cfg.Addr == "" || cfg.Transport == "tcp" {
		if e.tmp, err = os.MkdirTemp("", "splitbrain-"); err != nil {
			return fmt.Errorf("temp dir: %w", err)
		}
		if cfg.Addr == "" {
			if e.cfg.Addr, err = freeAddr(cfg.Transport, e.tmp); err != nil {
				return err
			}
		}
		if cfg.Transport == "tcp" {
			if e.secret, err = writeSecret(e.tmp); err != nil {
				return err
			}
		}
	}
	defer func() { e.tree = newTree(e.cfg.Addr, e.secret) }()
	if e.cfg.Transport == "unix" {
		if !filepath.IsAbs(e.cfg.Addr) {
			if e.cfg.Addr, err = filepath.Abs(e.cfg.Addr); err != nil {
				return err
			}
		}
		if len(e.cfg.Addr) > 107 {
			return fmt.Errorf("%w: socket path is %d bytes; the limit is 107: use a shorter --addr", ErrConfig, len(e.cfg.Addr))
		}
		e.obs = kernel.NewUnix(e.cfg.Addr)
	} else if e.obs, err = kernel.NewTCP(e.cfg.Addr); err != nil {
		return fmt.Errorf("%w: --addr: %w", ErrConfig, err)
	}
	opt := proc.Options{StderrLines: cfg.StderrLines, LeftBehind: func(p *proc.Peer) {
		e.tree.leftBehind(p.PID(), p.ID(), e.isPeer, e.Record)
	}}
	var w *history.Writer
	if cfg.Out != "" {
		if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
			return fmt.Errorf("result folder: %w", err)
		}
		if e.file, err = os.Create(filepath.Join(cfg.Out, "history.jsonl")); err != nil {
			return fmt.Errorf("history: %w", err)
		}
		w = history.NewWriter(e.file)
		opt.LogDir = filepath.Join(cfg.Out, "logs")
		if err := os.MkdirAll(opt.LogDir, 0o755); err != nil {
			e.file.Close()
			return fmt.Errorf("log folder: %w", err)
		}
	}
	base := time.Now()
	e.rec = &recorder{base: base, w: w, judge: e.judge, onEvent: cfg.OnEvent}
	e.group = proc.NewGroup(base, e.sink, opt)
	run := cfg.Run
	run.Version, run.Impl, run.Transport, run.Addr, run.Started = 1, cfg.Impl, e.cfg.Transport, e.cfg.Addr, base
	if run.Liveness == 0 {
		run.Liveness = cfg.Timeout
	}
	if cfg.Syscalls {
		if err := e.startSupervisor(); err != nil {
			if e.file != nil {
				e.file.Close()
			}
			return err
		}
		run.Syscalls = "on"
	}
	e.rec.record(history.Record{Kind: history.KindRun, Run: &run})
	return nil
}

// judge is the recorder's hook: every record goes past the online judge.
func (e *Engine) judge(r history.Record) {
	e.tally.Add(r)
	if v := e.online.Add(r); v != nil && v == e.online.First() {
		e.told.Store(true)
		if e.cfg.OnViolation != nil {
			e.cfg.OnViolation(v)
		}
	}
}

// Close ends the group: an "end" phase record, SIGTERM to every live peer (SIGKILL after
// Grace; at once when kill), a last observation, and the temp directory removed. It waits
// for every background task and returns the first error writing the history.
func (e *Engine) Close(kill bool) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.releaseAll() // a peer held at a syscall could not take its SIGTERM
	e.Phase(check.PhaseEnd)
	if kill {
		// A peer paused at a failpoint may never reach its shutdown path.
		_ = e.KillAll(context.Background())
	}
	e.group.Close(e.cfg.Grace)
	e.tree.refresh(e.rootMap(), e.isPeer, e.Record, true) // daemons that left as their peers ended
	e.tree.killAll(e.Record)
	if e.tree.seen || e.selfExited() {
		e.tree.sweep(e.Record) // and any that escaped before the tree saw them
	}
	if e.sup != nil {
		e.sup.Close() // after the peers: a process still under a filter would get ENOSYS
	}
	e.bg.Wait()
	e.Snapshot("after end")
	n, median, most := e.ObservationStats()
	e.Record(history.Record{Kind: history.KindObserver, Observer: &history.Observer{Snapshots: n, Median: median, Max: most}})
	e.removeTemp()
	var err error
	if e.rec.w != nil {
		err = errors.Join(e.rec.w.Flush(), e.rec.err, e.file.Close())
	}
	if err != nil {
		return fmt.Errorf("write history: %w", err)
	}
	return nil
}

func (e *Engine) removeTemp() {
	if e.tmp != "" {
		os.RemoveAll(e.tmp)
	}
}

// Records returns a copy of the history so far.
func (e *Engine) Records() []history.Record { return e.rec.records() }

// Exercised returns what the run exercised so far and the confidence it earns (the same
// figures results.json will give).
func (e *Engine) Exercised() (check.Exercised, check.Confidence) { return e.tally.Result() }

// Violation returns the first violation the online judge saw, or nil.
func (e *Engine) Violation() *check.Violation { return e.online.First() }

// Now is the time since the run began, as records are stamped.
func (e *Engine) Now() time.Duration { return e.rec.now() }

// Phase records the start of a phase (check.Phase*).
func (e *Engine) Phase(name string) {
	e.Record(history.Record{Kind: history.KindPhase, Detail: name})
}

// Started returns how many peer processes were started.
func (e *Engine) Started() int { return len(e.group.Peers()) }

// Observer returns the kernel observer, e.g. to describe it in an error.
func (e *Engine) Observer() *kernel.Observer { return e.obs }

// --- helpers ---

// raiseNoFile raises the soft open-file limit to the hard one: 200 peers with their pipes
// and the observer's /proc scans need more than a default 1024.
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
	l, err := net.Listen("tcp4", "127.0.0.1:0")
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

// selfExited reports whether a peer exited on its own (not by the harness): only such a
// peer, or one with descendants, can have left a daemon behind.
func (e *Engine) selfExited() bool {
	for _, p := range e.group.Peers() {
		if x := p.Exit(); x != nil && !x.ByHarness {
			return true
		}
	}
	return false
}
