package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"pgregory.net/rapid"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
)

// Modes of exploration.
const (
	// ModeSteered: white-box peers, started paused at every failpoint (or free) and steered
	// one failpoint at a time: a schedule is one interleaving.
	ModeSteered = "steered"
	// ModeTiming: black-box peers (no failpoint events), faults with drawn delays and gaps.
	ModeTiming = "timing"
	// ModeSyscalls: any peer, unchanged, steered at its election syscalls (seccomp user
	// notification, engine.Config.SteerSyscalls): started held before its first connect,
	// bind, listen, unlink, rename or lock, it makes one such call per step that says so.
	// A schedule is one interleaving of syscalls, and replays as the same one.
	ModeSyscalls = "syscalls"
)

// ErrConfig marks a configuration Explore refuses; the message names the field and the fix.
var ErrConfig = errors.New("bad exploration configuration")

// Config says what to explore. Zero fields take the defaults in their comments.
type Config struct {
	// Impl is the peer command line, split like a shell would (proc.Split). Required.
	Impl string
	// Transport is "unix" (default) or "tcp".
	Transport string
	// Mode is ModeSteered, ModeTiming or ModeSyscalls; "" finds out by starting one peer
	// with every failpoint paused: a peer that announces one is steered, a black-box one is
	// steered at its syscalls when SteerBlackBox is set, and timed otherwise.
	Mode string
	// SteerBlackBox picks ModeSyscalls for a black-box peer when Mode is "": set it when
	// seccomp user notification is available here (syscalls.Available).
	SteerBlackBox bool
	// Budget bounds the search for a counterexample (shrinking is bounded by ShrinkTime
	// on top); default 1 minute.
	Budget time.Duration
	// Seed is the rapid seed of the first schedule; schedule i uses Seed+i. 0 picks one at
	// random (reported in Result.Seed).
	Seed uint64
	// Out, if set, is the result folder, created if needed, laid out like a run's:
	// history.jsonl of the counterexample's replay (or of the last schedule), results.json,
	// junit.xml and timeline.html judging it, exploration.json, and, when a violation was
	// found, schedule.json and story.txt.
	Out string
	// MaxPeers bounds the live peers; default 4.
	MaxPeers int
	// Steps is the average number of drawn steps per schedule (rapid's -rapid.steps);
	// default 5. Every schedule ends with a settle step on top.
	Steps int
	// MaxSchedules bounds the schedules of the search; 0 means only Budget bounds it.
	MaxSchedules int
	// Settle is how long a group gets to settle (one reachable leader, every peer
	// connected to it) before the settle invariants fail; default 5s.
	Settle time.Duration
	// Quiet is how long a peer must be silent to count as blocked (e.g. waiting on a lock
	// another paused peer holds); default 300ms.
	Quiet time.Duration
	// ShrinkTime bounds rapid's shrinking of a counterexample; default 20s. Shrinking goes
	// on after it by deleting steps while a replay still fails, bounded by the schedule's
	// length, so a short ShrinkTime costs little but the shrinking of drawn values.
	ShrinkTime time.Duration
	// Invariants are the invariants judged (check's names); default [Invariants]. Naming
	// single-listener and reachable-leader alone hunts the split brain itself, not the
	// easier data-loss finding a plant gives.
	Invariants []string
	// LeaveOut names steps a schedule never draws ([Actions]: e.g. "plant", "stale").
	LeaveOut []string
	// Progress, if set, gets one line per schedule.
	Progress io.Writer
	// Syscalls runs every peer under the seccomp supervisor (engine.Config.Syscalls):
	// single-listener and reachable-leader are judged at each listen, unlink and rename.
	Syscalls bool
}

func (c *Config) defaults() error {
	if strings.TrimSpace(c.Impl) == "" {
		return fmt.Errorf("%w: no peer command: set Impl, e.g. 'splitbrain peer'", ErrConfig)
	}
	switch c.Transport {
	case "":
		c.Transport = "unix"
	case "unix", "tcp":
	default:
		return fmt.Errorf("%w: transport %q: use unix or tcp", ErrConfig, c.Transport)
	}
	switch c.Mode {
	case "", ModeSteered, ModeTiming:
	case ModeSyscalls:
		c.Syscalls = true
	default:
		return fmt.Errorf("%w: mode %q: use %s, %s, %s or leave it empty", ErrConfig, c.Mode, ModeSteered, ModeTiming, ModeSyscalls)
	}
	if c.Budget <= 0 {
		c.Budget = time.Minute
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = 4
	}
	if c.MaxPeers < 2 {
		return fmt.Errorf("%w: MaxPeers %d: an election needs at least 2 peers", ErrConfig, c.MaxPeers)
	}
	if c.Steps <= 0 {
		c.Steps = 5
	}
	if c.Settle <= 0 {
		c.Settle = 5 * time.Second
	}
	if c.Quiet <= 0 {
		c.Quiet = 300 * time.Millisecond
	}
	if c.ShrinkTime <= 0 {
		c.ShrinkTime = 20 * time.Second
	}
	if len(c.Invariants) == 0 {
		c.Invariants = Invariants
		if c.Transport == "tcp" {
			// Data loss is of files at a path: over tcp there is none to judge.
			c.Invariants = slices.DeleteFunc(slices.Clone(Invariants), func(n string) bool { return n == check.NoDataLoss{}.Name() })
		}
	}
	for _, n := range c.Invariants {
		if _, ok := check.ByName(n); !ok || !slices.Contains(Invariants, n) {
			return fmt.Errorf("%w: invariant %q: choose from %s", ErrConfig, n, strings.Join(Invariants, ", "))
		}
	}
	for _, n := range c.LeaveOut {
		if !slices.Contains(Actions, n) {
			return fmt.Errorf("%w: step %q to leave out: choose from %s", ErrConfig, n, strings.Join(Actions, ", "))
		}
	}
	return nil
}

// Result is what an exploration or a replay found.
type Result struct {
	Impl      string `json:"impl"`
	Transport string `json:"transport"`
	Mode      string `json:"mode"`
	// Seed is the rapid seed of the first schedule; schedule i used Seed+i.
	Seed uint64 `json:"seed"`
	// Schedules is how many schedules the search executed (shrinking not counted).
	Schedules int `json:"schedules"`
	// Runs is how many schedules were executed in all, shrinking and checks included.
	Runs int `json:"runs"`
	// Elapsed is the whole exploration's time; Search the search's, up to and including
	// the first failing schedule.
	Elapsed time.Duration `json:"elapsed_ns"`
	Search  time.Duration `json:"search_ns"`
	// Violation is what the counterexample shows; nil when none was found.
	Violation *Violation `json:"violation,omitempty"`
	// FailingSeed is the rapid seed of the first failing schedule (0 if none): the
	// property test replays it with -rapid.seed=FailingSeed -rapid.checks=1.
	FailingSeed uint64 `json:"failing_seed,omitempty"`
	// Original is the first failing schedule; Counterexample the shrunk one (the same when
	// rapid could not shrink it, e.g. a flaky timing failure).
	Original       *Schedule `json:"original,omitempty"`
	Counterexample *Schedule `json:"counterexample,omitempty"`
	// Reproduced is whether a replay of Counterexample broke an invariant again (not
	// necessarily the same one: one race may show first as an orphan or as two listeners,
	// depending on when the kernel is sampled), within replayTries tries; ReplayTries is
	// how many it took (1 for a steered interleaving).
	Reproduced  bool `json:"reproduced"`
	ReplayTries int  `json:"replay_tries,omitempty"`
	// Unreproduced counts counterexamples found, shrunk and dropped because they did not
	// replay within replayTries tries (races of free peers); the search went on.
	Unreproduced int `json:"unreproduced,omitempty"`
	// Rapid is rapid's own report of the failure (flaky or not), if any.
	Rapid string `json:"rapid,omitempty"`
	// LeaderKills counts leader kills and terms in schedules that passed: faults survived.
	LeaderKills int `json:"leader_kills"`
	// Judged counts, for each invariant judged, the schedules that passed in which it had
	// something to judge (its verdict was pass, not "not judged"): delivery needs a
	// broadcast step, leadership two claims. An invariant missing here was never judged.
	Judged map[string]int `json:"judged"`
	// Invariants are the invariants the exploration judged.
	Invariants []string `json:"invariants"`
	// Dir is the result folder, if Config.Out was set.
	Dir string `json:"dir,omitempty"`
}

// Found reports whether a violation was found.
func (r Result) Found() bool { return r.Violation != nil }

// replayTries bounds the replays that confirm a counterexample.
const replayTries = 3

// confirm replays res.Counterexample as `splitbrain replay` would, up to replayTries times
// (a steered interleaving replays at once; a race between free peers, a timing schedule or
// a start of several free peers, may need another try), falling back to rapid's own shrunk
// schedule; it sets res.Reproduced and, when it did, the counterexample to the replay and
// returns the replay's history.
func (ex *exploration) confirm(ctx context.Context, cfg *Config, res *Result) ([]history.Record, error) {
	var again Schedule
	var recs []history.Record
	res.Reproduced = false
	for try := 0; try < replayTries && !res.Reproduced; try++ {
		var err error
		again, recs, err = runSchedule(ctx, cfg, *res.Counterexample)
		if err != nil {
			return nil, err
		}
		res.Runs++
		res.ReplayTries = try + 1
		res.Reproduced = again.Violation != nil
	}
	if !res.Reproduced && len(ex.last.Steps) > len(res.Counterexample.Steps) {
		// A race of free peers may not replay every time: fall back to rapid's own
		// shrunk schedule if that one does.
		rapids, rrecs, err := runSchedule(ctx, cfg, *ex.last)
		if err != nil {
			return nil, err
		}
		res.Runs++
		if rapids.Violation != nil {
			again, recs, res.Reproduced = rapids, rrecs, true
		}
	}
	if !res.Reproduced {
		return nil, nil
	}
	// The folder holds the replay, so its results.json judges what it shows.
	res.Counterexample = &again
	res.Violation = again.Violation
	return recs, nil
}

// rapidMu serializes explorations: rapid reads its settings from package flags.
var rapidMu sync.Mutex

// Explore searches for a schedule of faults (steered interleavings for white-box peers,
// timings for black-box ones) under which the peers of cfg.Impl break an invariant. It
// runs rapid property checks one seed at a time until one fails or the budget is spent,
// lets rapid shrink the failing schedule, replays the shrunk schedule once to confirm it,
// and writes the result folder. A violation is a Result, not an error: the error is for
// the harness's own failures (bad config, a peer that cannot start, ctx done).
func Explore(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	if _, err := proc.Split(cfg.Impl); err != nil {
		return Result{}, fmt.Errorf("%w: impl %q: %w", ErrConfig, cfg.Impl, err)
	}
	begin := time.Now()
	var err error
	if cfg.Mode == "" {
		if cfg.Mode, err = detectMode(ctx, &cfg); err != nil {
			return Result{}, err
		}
		if cfg.Mode == ModeTiming && cfg.SteerBlackBox {
			cfg.Mode, cfg.Syscalls = ModeSyscalls, true
		}
	}
	if cfg.Seed == 0 {
		cfg.Seed = rand.Uint64() >> 1
	}
	res := Result{Impl: cfg.Impl, Transport: cfg.Transport, Mode: cfg.Mode, Seed: cfg.Seed,
		Judged: map[string]int{}, Invariants: cfg.Invariants}

	rapidMu.Lock()
	restore := rapidSettings(cfg)
	defer func() { restore(); rapidMu.Unlock() }()

	ex := &exploration{ctx: ctx, cfg: &cfg}
	var lastRecs []history.Record
	for i := 0; ; i++ {
		if ctx.Err() != nil || time.Since(begin) > cfg.Budget || (cfg.MaxSchedules > 0 && i >= cfg.MaxSchedules) {
			break
		}
		seed := cfg.Seed + uint64(i)
		setFlag("rapid.seed", strconv.FormatUint(seed, 10))
		tb := &rapidTB{name: "chaos-explore"}
		ex.searching = true
		ex.kills, ex.judged = 0, nil
		rapid.Check(tb, ex.prop)
		res.Schedules++
		if ex.harness != nil {
			res.Elapsed, res.Runs = time.Since(begin), ex.runs
			return res, ex.harness
		}
		if ex.first == nil {
			res.LeaderKills += ex.kills
			for _, n := range ex.judged {
				res.Judged[n]++
			}
			lastRecs = ex.lastRecs
			if cfg.Progress != nil {
				fmt.Fprintf(cfg.Progress, "chaos: schedule %d (seed %d, %d steps) passed, %v\n", i+1, seed, ex.steps, time.Since(begin).Round(time.Millisecond))
			}
			continue
		}
		res.Search = ex.foundAt.Sub(begin)
		res.FailingSeed = seed
		res.Original = ex.first
		res.Counterexample = ex.last
		// rapid's shrinking is bounded in time, so on a loaded machine it may stop short:
		// finish it by deleting steps one at a time, replaying each candidate, until no
		// single deletion still fails. The result depends on the schedule, not the speed.
		min, minRecs, runs, err := minimize(ctx, &cfg, *ex.last, ex.lastFailRecs)
		res.Runs += runs
		if err != nil {
			res.Elapsed, res.Runs = time.Since(begin), res.Runs+ex.runs
			return res, err
		}
		res.Counterexample = &min
		lastRecs = minRecs
		res.Violation = min.Violation
		res.Rapid = tb.report()
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "chaos: schedule %d (seed %d) failed: %v; shrunk to %d steps\n", i+1, seed, res.Violation, res.Counterexample.Len())
		}
		recs, err := ex.confirm(ctx, &cfg, &res)
		if err != nil {
			res.Elapsed, res.Runs = time.Since(begin), res.Runs+ex.runs
			return res, err
		}
		if res.Reproduced {
			lastRecs = recs
			break
		}
		if ctx.Err() != nil || time.Since(begin) > cfg.Budget {
			break // nothing that replays within the budget: report the last one, unconfirmed
		}
		// A counterexample a user cannot replay is no use to them: a race of free peers
		// that came out once in replayTries tries. Search on for one that replays.
		res.Unreproduced++
		if cfg.Progress != nil {
			fmt.Fprintf(cfg.Progress, "chaos: schedule %d (seed %d): the shrunk counterexample did not replay in %d tries; searching on\n", i+1, seed, replayTries)
		}
		ex.first, ex.last, ex.lastFailRecs = nil, nil, nil
	}
	res.Runs += ex.runs
	if res.Violation == nil {
		res.Search = time.Since(begin)
	}
	res.Elapsed = time.Since(begin)
	if cfg.Out != "" {
		res.Dir = cfg.Out
		if err := writeOut(cfg.Out, res, lastRecs); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Replay executes the schedule saved at path once, against cfg.Impl (the schedule's own
// Impl, Transport and Mode when cfg leaves them empty), and returns what it showed: with
// steered peers the same interleaving, so the same violation. cfg.Out gets the result
// folder.
func Replay(ctx context.Context, path string, cfg Config) (Result, error) {
	s, err := LoadSchedule(path)
	if err != nil {
		return Result{}, err
	}
	if cfg.Impl == "" {
		cfg.Impl = s.Impl
	}
	if cfg.Transport == "" {
		cfg.Transport = s.Transport
	}
	if cfg.Mode == "" {
		cfg.Mode = s.Mode
	}
	if err := cfg.defaults(); err != nil {
		return Result{}, err
	}
	if _, err := proc.Split(cfg.Impl); err != nil {
		return Result{}, fmt.Errorf("%w: impl %q: %w", ErrConfig, cfg.Impl, err)
	}
	begin := time.Now()
	got, recs, err := runSchedule(ctx, &cfg, s)
	res := Result{Impl: cfg.Impl, Transport: cfg.Transport, Mode: cfg.Mode, Seed: s.Seed, Schedules: 1, Runs: 1,
		Elapsed: time.Since(begin), Search: time.Since(begin), Judged: map[string]int{}, Invariants: cfg.Invariants}
	if err != nil {
		return res, err
	}
	res.Violation = got.Violation
	res.Counterexample = &got
	res.Reproduced = got.Violation != nil && s.Violation != nil
	if got.Violation == nil {
		for _, n := range got.judged {
			res.Judged[n] = 1
		}
	}
	if cfg.Out != "" {
		res.Dir = cfg.Out
		if err := writeOut(cfg.Out, res, recs); err != nil {
			return res, err
		}
	}
	return res, nil
}

// runSchedule executes s's steps (and a final settle, if s does not end with one) on a
// fresh group until the online judge sees a violation, then judges the history. The returned schedule holds the steps that acted,
// the verdict and the story.
func runSchedule(ctx context.Context, cfg *Config, s Schedule) (Schedule, []history.Record, error) {
	d, err := newDriver(cfg)
	if err != nil {
		return Schedule{}, nil, err
	}
	out := Schedule{Version: ScheduleVersion, Impl: cfg.Impl, Transport: cfg.Transport, Mode: cfg.Mode, Seed: s.Seed}
	steps := s.Steps
	if n := len(steps); n == 0 || steps[n-1].Op != OpSettle {
		// Every schedule ends with a settle, as every explored one does: a saved
		// counterexample stops at its violation, and a replay on a correct peer must
		// still show the group settling after the last step.
		steps = append(slices.Clone(steps), Step{Op: OpSettle})
	}
	var runErr error
	for _, st := range steps {
		stop, err := d.exec(ctx, len(d.steps)+1, st)
		if err != nil {
			runErr = err
			break
		}
		if stop {
			break
		}
	}
	d.finish()
	out.Steps, out.Violation, out.Story, out.judged = d.steps, d.violation, d.story, d.judged
	return out, d.e.Records(), runErr
}

// exploration is the state of one Explore across rapid's runs of the property.
type exploration struct {
	ctx context.Context
	cfg *Config

	searching bool // no failure yet in this seed: count kills
	runs      int
	kills     int      // leader kills of the last passing run
	judged    []string // the invariants the last passing run earned a pass on
	steps     int      // steps of the last run
	harness   error
	first     *Schedule // the first failing schedule
	foundAt   time.Time
	last      *Schedule // the last failing schedule: after shrinking, the minimal one
	lastRecs  []history.Record
	// lastFailRecs is the history of last.
	lastFailRecs []history.Record
}

// prop is the property rapid checks: a drawn schedule on a fresh group, then a settle; no
// invariant may break.
func (ex *exploration) prop(t *rapid.T) {
	ex.runs++
	if ex.harness != nil || ex.ctx.Err() != nil {
		t.SkipNow() // stop spending time; Explore reports the error
	}
	d, err := newDriver(ex.cfg)
	if err != nil {
		ex.harness = err
		t.SkipNow()
	}
	m := &machine{ctx: ex.ctx, d: d, cfg: ex.cfg}
	defer func() {
		d.finish()
		if m.harness != nil && ex.harness == nil && ex.ctx.Err() == nil {
			ex.harness = m.harness
		}
		ex.lastRecs = d.e.Records()
		ex.steps = len(d.steps)
		if d.violation == nil {
			if ex.searching {
				ex.kills, ex.judged = d.leaderKills, d.judged
			}
			return
		}
		s := &Schedule{Version: ScheduleVersion, Impl: ex.cfg.Impl, Transport: ex.cfg.Transport,
			Mode: ex.cfg.Mode, Seed: ex.cfg.Seed, Steps: slices.Clone(d.steps), Violation: d.violation, Story: d.story}
		if ex.first == nil {
			ex.first, ex.foundAt = s, time.Now()
		}
		ex.searching = false
		// rapid keeps the smallest failing schedule it has seen; so do we.
		if ex.last == nil || len(s.Steps) <= len(ex.last.Steps) {
			ex.last, ex.lastFailRecs = s, ex.lastRecs
		}
	}()
	t.Repeat(m.actions())
	m.step(t, Step{Op: OpSettle})
	d.finish()
	m.verdict(t)
}
