package check

import (
	"maps"
	"math"
	"slices"
	"sync"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// Exercised says what a run did: the rounds its driver ran, the faults by name, the leader
// kills and the failovers that followed them, and what the kernel observer could resolve.
// A verdict is only as strong as this: a PASS over no leader kill says little.
type Exercised struct {
	// Rounds is how many rounds the driver began; FaultsRun counts the faults that ran,
	// by name, and FaultsSkipped those that did not (by name, then by reason).
	Rounds        int                       `json:"rounds"`
	FaultsRun     map[string]int            `json:"faults_run"`
	FaultsSkipped map[string]map[string]int `json:"faults_skipped,omitempty"`
	// LeaderKills counts kills and terminations of the peer that held the listener; a
	// whole-group kill (a plant's restart) is not one. Failovers counts those after which a
	// peer other than the killed one became the one reachable leader before the next kill.
	LeaderKills int `json:"leader_kills"`
	Failovers   int `json:"failovers"`
	// Observations is how many kernel snapshots the observer took, and the interval between
	// consecutive ones (median and max, ms); recorded snapshots (only changes are kept) are
	// RecordedObservations.
	Observations         int     `json:"observations"`
	RecordedObservations int     `json:"recorded_observations"`
	IntervalMedianMS     float64 `json:"observation_interval_median_ms"`
	IntervalMaxMS        float64 `json:"observation_interval_max_ms"`
}

// Confidence bounds the rate of split brain per leader kill: Violations of Trials leader
// kills were followed by two listeners or an orphaned one before the next kill, and the
// true rate is below RateUpperBound at Level confidence (the exact, Clopper–Pearson,
// one-sided binomial bound; with no violation it is 1-(1-Level)^(1/Trials), about 3/Trials
// at 95 %). No trials, no bound: RateUpperBound is 1.
type Confidence struct {
	Trials         int     `json:"trials"`
	Violations     int     `json:"violations"`
	Level          float64 `json:"level"`
	RateUpperBound float64 `json:"rate_upper_bound"`
}

// DefaultLevel is the confidence level of a run's bound.
const DefaultLevel = 0.95

// leaderKillFaults are the faults that aim at the leader; a kill of another name counts
// when its target held the listener at the last observation.
var leaderKillFaults = []string{"kill-leader", "term-leader", "kill-new-leader"}

// Exercise reads what a history exercised and bounds its split-brain rate per leader kill
// at level (DefaultLevel if 0).
func Exercise(h []history.Record, level float64) (Exercised, Confidence) {
	t := NewTally(level)
	for _, r := range h {
		t.Add(r)
	}
	return t.Result()
}

// Tally is [Exercise] record by record, for a driver that stops at a confidence bound.
// Safe for concurrent use.
type Tally struct {
	mu       sync.Mutex
	ex       Exercised
	conf     Confidence
	o        *Online
	holders  []int // root pids of the listener at the last observation
	killed   int   // the root pid of the last leader killed, until a failover is seen
	inTrial  bool  // a leader kill happened and no later one yet
	violated bool  // the current trial saw a split brain
}

// NewTally returns an empty tally at confidence level (DefaultLevel if 0).
func NewTally(level float64) *Tally {
	if level <= 0 || level >= 1 {
		level = DefaultLevel
	}
	return &Tally{ex: Exercised{FaultsRun: map[string]int{}}, conf: Confidence{Level: level},
		o: NewOnline(SingleListener{}.Name(), ReachableLeader{}.Name()), killed: -1}
}

// Add counts r.
func (t *Tally) Add(r history.Record) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ex := &t.ex
	if v := t.o.Add(r); v != nil && t.inTrial {
		t.violated = true
	}
	switch r.Kind {
	case history.KindRound:
		if r.Round == nil {
			return
		}
		ex.Rounds = max(ex.Rounds, r.Round.N)
		if r.Round.Skipped != "" {
			if ex.FaultsSkipped == nil {
				ex.FaultsSkipped = map[string]map[string]int{}
			}
			if ex.FaultsSkipped[r.Round.Fault] == nil {
				ex.FaultsSkipped[r.Round.Fault] = map[string]int{}
			}
			ex.FaultsSkipped[r.Round.Fault][r.Round.Skipped]++
		} else {
			ex.FaultsRun[r.Round.Fault]++
		}
	case history.KindObserver:
		if r.Observer != nil {
			ex.Observations = r.Observer.Snapshots
			ex.IntervalMedianMS = ms(r.Observer.Median)
			ex.IntervalMaxMS = ms(r.Observer.Max)
		}
	case history.KindObservation:
		ex.RecordedObservations++
		if r.Snapshot == nil {
			return
		}
		t.holders = reachableHolder(t.o.peers.normalize(r.Snapshot), t.o.tcp)
		if t.killed > 0 && len(t.holders) > 0 && !slices.Contains(t.holders, t.killed) {
			ex.Failovers++
			t.killed = -1
		}
	case history.KindFault:
		f := r.Fault
		if f == nil || f.PID == 0 || (f.Signal != "SIGKILL" && f.Signal != "SIGTERM") || f.Name == "kill-all" {
			return
		}
		root := t.o.peers.rootOf(f.PID)
		if !slices.Contains(leaderKillFaults, f.Name) && !slices.Contains(t.holders, root) {
			return
		}
		t.endTrial()
		ex.LeaderKills++
		t.inTrial, t.violated, t.killed = true, false, root
	}
}

func (t *Tally) endTrial() {
	if t.inTrial && t.violated {
		t.conf.Violations++
	}
	t.inTrial = false
}

// Result returns what was exercised so far and the confidence it earns; the trial in
// progress counts.
func (t *Tally) Result() (Exercised, Confidence) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ex, conf := t.ex, t.conf
	ex.FaultsRun = maps.Clone(ex.FaultsRun)
	ex.FaultsSkipped = maps.Clone(ex.FaultsSkipped)
	if t.inTrial && t.violated {
		conf.Violations++
	}
	if ex.Observations == 0 {
		ex.Observations = ex.RecordedObservations // a history without the observer's figures
	}
	conf.Trials = ex.LeaderKills
	conf.RateUpperBound = RateUpperBound(conf.Violations, conf.Trials, conf.Level)
	return ex, conf
}

// reachableHolder returns the processes of the one leader s shows a client can reach, or
// nil when there are none or several.
func reachableHolder(s *kernel.Snapshot, tcp bool) []int {
	ls := leaders(s, tcp)
	if len(ls) != 1 || len(orphans(s, tcp)) > 0 {
		return nil
	}
	var pids []int
	for _, l := range ls[0] {
		pids = append(pids, l.PIDs...)
	}
	return pids
}

// RateUpperBound is the one-sided Clopper–Pearson upper bound on a rate after x events in
// n trials, at confidence level: the p at which seeing x or fewer has probability 1-level.
// It is 1 with no trials.
func RateUpperBound(x, n int, level float64) float64 {
	if n <= 0 || x >= n {
		return 1
	}
	alpha := 1 - level
	if x == 0 {
		return 1 - math.Pow(alpha, 1/float64(n))
	}
	// P(X <= x; n, p) falls as p rises: bisect for the p where it equals alpha.
	lo, hi := 0.0, 1.0
	for range 100 {
		mid := (lo + hi) / 2
		if binomCDF(x, n, mid) > alpha {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// binomCDF is P(X <= x) for X ~ Binomial(n, p), summed in log space.
func binomCDF(x, n int, p float64) float64 {
	lp, lq := math.Log(p), math.Log1p(-p)
	ln, _ := math.Lgamma(float64(n + 1))
	sum := 0.0
	for k := 0; k <= x; k++ {
		lk, _ := math.Lgamma(float64(k + 1))
		lnk, _ := math.Lgamma(float64(n - k + 1))
		sum += math.Exp(ln - lk - lnk + float64(k)*lp + float64(n-k)*lq)
	}
	return sum
}
