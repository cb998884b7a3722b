package run

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/engine"
	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/history"
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
	// Exercised is what the run exercised and Confidence the bound it earned: the engine's
	// tally of the whole history, the figures results.json gives.
	Exercised  check.Exercised
	Confidence check.Confidence
	// ConfidenceReached is set when Config.UntilConfidence ended the fault phase.
	ConfidenceReached bool
	NoLeader          bool // no first leader appeared, so no faults ran
	Elapsed           time.Duration
	// Broadcasts is how many broadcast commands the run handed to peers (not counting those
	// dropped because the peer had exited or did not read stdin).
	Broadcasts int
	// Violation says what the first violation seen online was ("" if none: the checkers may
	// still find one afterwards), and ViolationAt when, since the run began.
	Violation   string
	ViolationAt time.Duration
	// StoppedEarly is set when FailFast ended the fault phase at that violation.
	StoppedEarly bool
	// Observations is how many kernel snapshots the run took; ObservedEvery the achieved
	// interval between two (median) and ObservedMax the longest.
	Observations               int
	ObservedEvery, ObservedMax time.Duration
}

// Run runs cfg to the end, or until ctx ends (then it stops early, but still stops and reaps
// every peer, judges what it recorded and writes the reports). The error is for the
// harness's own failures; the verdict is in Outcome.Results.
func Run(ctx context.Context, cfg Config) (*Outcome, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	var names, fps []string
	if cfg.Failpoints != "" {
		fps = append(fps, cfg.Failpoints)
	}
	for _, f := range cfg.Faults {
		names = append(names, f.Name())
		if u, ok := f.(fault.FailpointUser); ok && !contains(fps, u.Failpoints()) {
			fps = append(fps, u.Failpoints())
		}
	}
	r := &run{cfg: cfg, out: &Outcome{Dir: cfg.Out, FaultCounts: map[string]int{}}, prog: newProgress(cfg.Progress)}
	e, err := engine.New(engine.Config{
		Impl: cfg.Impl, Transport: cfg.Transport, Addr: cfg.Addr, Out: cfg.Out,
		Failpoints: strings.Join(fps, ","), Seed: cfg.Seed, MaxLive: cfg.MaxLive,
		Timeout: cfg.Liveness, Poll: cfg.Sample, Grace: cfg.Grace, Syscalls: cfg.Syscalls,
		Run: history.Run{Peers: cfg.Peers, Rounds: cfg.Rounds, Duration: cfg.Duration, Faults: names,
			Seed: cfg.Seed, Settle: cfg.Settle, Liveness: cfg.Liveness, Replay: cfg.Replay},
		OnViolation: r.violated,
	})
	if err != nil {
		return nil, err
	}
	r.e = e
	base := time.Now()
	herr := r.main(ctx)
	if err := e.Close(false); err != nil && herr == nil {
		herr = err
	}
	out := r.out
	out.Interrupted = ctx.Err() != nil
	out.Elapsed = time.Since(base)
	out.Records = e.Records()
	out.Started = e.Started()
	out.Broadcasts = int(r.broadcasts.Load())
	out.Observations, out.ObservedEvery, out.ObservedMax = e.ObservationStats()
	out.Exercised, out.Confidence = e.Exercised()
	if v := e.Violation(); v != nil {
		out.Violation, out.ViolationAt = v.Error(), v.T
	}
	r.prog.done()
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

// run is the random-fault driver of one engine.
type run struct {
	cfg        Config
	e          *engine.Engine
	out        *Outcome
	prog       *progress
	broadcasts atomic.Int64

	mu         sync.Mutex
	stopFaults context.CancelFunc // ends the fault phase early (FailFast)
	violation  bool
}

// Peers start at most startBatch every startEvery (250 a second): a thousand interpreters
// started at once would spend the machine on start-up, and an interrupt is honoured between
// batches.
const (
	startBatch = 25
	startEvery = 100 * time.Millisecond
)

// startPaced starts ids in batches, pacing them, until ctx ends.
func (r *run) startPaced(ctx context.Context, ids []string) error {
	for i := 0; i < len(ids) && ctx.Err() == nil; i += startBatch {
		began := time.Now()
		if err := r.e.Start(ids[i:min(i+startBatch, len(ids))]); err != nil {
			return err
		}
		if i+startBatch < len(ids) {
			_ = fault.Sleep(ctx, startEvery-time.Since(began))
		}
	}
	return nil
}

// main runs the phases: start, first leader, fault rounds, settle, quiesce.
func (r *run) main(ctx context.Context) error {
	e := r.e
	r.prog.set("starting %d peers", r.cfg.Peers)
	if err := r.startPaced(ctx, e.NewIDs(r.cfg.Peers)); err != nil {
		return err
	}
	sctx, stopSampling := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() { defer sampler.Done(); e.Sample(sctx, r.cfg.Sample) }()
	defer func() { stopSampling(); sampler.Wait() }()

	// fctx ends with the fault phase: at its end, or (FailFast) at the first violation,
	// which may come before the first leader is even settled.
	fctx, stopFaults := context.WithCancel(ctx)
	defer stopFaults()
	r.mu.Lock()
	r.stopFaults = stopFaults
	early := r.violation && r.cfg.FailFast
	r.mu.Unlock()
	if early {
		stopFaults()
	}
	if ok, _ := e.WaitSettled(fctx, r.cfg.FirstLeader, false); !ok || len(e.Live()) == 0 {
		if ctx.Err() != nil {
			return nil
		}
		if fctx.Err() == nil {
			r.out.NoLeader = true
			e.Snapshot("no leader within first-leader bound")
			return nil
		}
	}
	e.Phase(check.PhaseFaults)
	r.prog.set("faults")
	bctx, stopBroadcasts := context.WithCancel(ctx)
	var caster sync.WaitGroup
	if r.cfg.Broadcasts > 0 {
		caster.Add(1)
		go func() { defer caster.Done(); r.broadcast(bctx) }()
	}
	defer func() { stopBroadcasts(); caster.Wait() }()
	rng := e.Rand()
	began := time.Now()
	settling := false // a round's settle window is open
	for round := 1; fctx.Err() == nil; round++ {
		if r.cfg.Rounds > 0 && round > r.cfg.Rounds {
			break
		}
		if r.cfg.Duration > 0 && time.Since(began) >= r.cfg.Duration {
			break
		}
		if r.cfg.UntilConfidence > 0 {
			if _, c := e.Exercised(); c.Trials > 0 && c.RateUpperBound < r.cfg.UntilConfidence {
				r.out.ConfidenceReached = true
				break
			}
		}
		f := fault.Draw(rng, r.cfg.Faults)
		r.prog.round(round, f.Name(), began, len(e.Live()))
		if settling {
			e.Phase(check.PhaseFaults)
			settling = false
		}
		err := f.Inject(fctx, e)
		r.out.Rounds = round
		skipped := errors.Is(err, fault.ErrNoTarget)
		rec := history.Round{N: round, Fault: f.Name()}
		switch {
		case err != nil && fctx.Err() != nil:
			// Interrupted, or stopped at the first violation: the round is cut short.
			rec.Skipped = "interrupted"
		case errors.Is(err, fault.ErrNoTarget):
			r.out.Skipped++
			rec.Skipped = skipReason(f.Name(), err)
		case err != nil:
			return fmt.Errorf("round %d, fault %s: %w", round, f.Name(), err)
		default:
			r.out.FaultCounts[f.Name()]++
		}
		e.Record(history.Record{Kind: history.KindRound, Round: &rec})
		e.Snapshot("after " + f.Name())
		if fctx.Err() != nil {
			break
		}
		// Keep the group meaningful: bring back the dead when half are gone.
		if live := len(e.Live()); live < (r.cfg.Peers+1)/2 {
			if ids := e.DeadIDs(); len(ids) > 0 {
				ids = ids[:min(len(ids), r.cfg.Peers-live)]
				e.Record(history.Record{Kind: history.KindFault, Fault: &history.Fault{Name: "restart-dead", Detail: "auto: " + strings.Join(ids, " ")}})
				if err := e.Start(ids); err != nil {
					return err
				}
			}
		}
		if skipped {
			// Nothing happened: no window to judge. The group may settle, and the next
			// round waits a little, so that rounds without a target do not spin.
			_, _ = e.WaitSettled(fctx, max(r.cfg.Settle, r.cfg.Liveness), true)
			_ = fault.Sleep(fctx, 5*r.cfg.Sample)
			continue
		}
		// Every round ends in a settle window that no-lost-peers judges: its last
		// observation must show every live peer connected to the one reachable leader.
		e.Phase(check.PhaseSettle)
		settling = true
		// The window's last observation is recorded even when nothing changed: it is the
		// one no-lost-peers judges.
		if ok, _ := e.WaitSettled(fctx, max(r.cfg.Settle, r.cfg.Liveness), true); ok {
			e.Snapshot("settled after " + f.Name())
		} else {
			e.Snapshot("not settled after " + f.Name())
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if fctx.Err() != nil {
		r.out.StoppedEarly = true
		what := ""
		if v := e.Violation(); v != nil {
			what = v.Error()
		}
		e.Record(history.Record{Kind: history.KindFault, Fault: &history.Fault{Name: "fail-fast",
			Detail: "fault phase stopped at the first violation: " + what}})
	}
	// Quiescence: no more faults; wait for pauses to end, give the group Settle, look.
	r.prog.set("settling")
	e.Wait()
	if settling {
		e.Phase(check.PhaseFaults) // the last round's window ends; the final one begins
	}
	e.Phase(check.PhaseSettle)
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
	e.Phase(check.PhaseQuiesce)
	e.Snapshot("quiesce")
	_ = fault.Sleep(ctx, r.cfg.Sample)
	e.Snapshot("quiesce")
	return nil
}

// violated is the engine's OnViolation: with FailFast it ends the fault phase.
func (r *run) violated(v *check.Violation) {
	r.mu.Lock()
	r.violation = true
	stop := r.stopFaults
	r.mu.Unlock()
	r.prog.set("violation at %v: %s", v.T.Round(time.Millisecond), v.Error())
	if r.cfg.FailFast && stop != nil {
		stop()
	}
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
		var talkers []string
		for _, p := range r.e.Live() {
			if r.e.Status(p.ID()).Spoke {
				talkers = append(talkers, p.ID())
			}
		}
		if len(talkers) == 0 {
			continue
		}
		p := r.e.Peer(talkers[rng.IntN(len(talkers))])
		data := make([]byte, 8)
		for i := range data {
			data[i] = byte(rng.UintN(256))
		}
		cmd := protocol.Command{Cmd: protocol.CmdBroadcast, ID: fmt.Sprintf("b%d", n), Data: hex.EncodeToString(data)}
		n++
		if p != nil && p.Send(cmd) {
			r.broadcasts.Add(1)
		}
	}
}

// skipReason is why a fault had no target, without the fault's name and the sentinel's
// words: "kill-new-leader: no successor within 5s: no target for fault" -> "no successor
// within 5s"; "no target" when the error says no more.
func skipReason(name string, err error) string {
	why := strings.TrimPrefix(err.Error(), name+": ")
	why = strings.TrimSuffix(strings.TrimSuffix(why, fault.ErrNoTarget.Error()), ": ")
	if why == "" {
		return "no target"
	}
	return why
}
