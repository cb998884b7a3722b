package run

import (
	"fmt"
	"io"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/engine"
	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// Config says what to run. Zero fields take the defaults in their comments.
type Config struct {
	// Impl is the peer command line, split like a shell would (proc.Split). Required.
	Impl string
	// Transport is "unix" (default) or "tcp".
	Transport string
	// Addr is the election address; default a fresh socket path in a new temp directory
	// (unix) or a free 127.0.0.1 port (tcp).
	Addr string
	// Peers is how many peers start; default 10. MaxLive bounds how many run at once
	// (start and storm faults add peers); default 2*Peers.
	Peers, MaxLive int
	// Rounds bounds the fault rounds; 0 means as many as fit in Duration.
	Rounds int
	// Duration bounds the fault phase; default 45s. 0 with Rounds > 0 means no time bound.
	Duration time.Duration
	// Faults are the faults to choose from, uniformly at random; default fault.Parse("").
	Faults []fault.Fault
	// Seed seeds the one random source (math/rand/v2 PCG); the same seed replays the same
	// choice of faults, targets and delays.
	Seed int64
	// Out is the result folder, created if needed. Required.
	Out string
	// Settle is how long peers get after the last fault before the final observation, the
	// time by which every live peer must be connected to the leader; default 3s.
	Settle time.Duration
	// Liveness bounds the leaderless time while a peer lives, and any wait for a leader;
	// default 5s.
	Liveness time.Duration
	// FirstLeader bounds the wait for the first leader; default 2*Liveness. A run without a
	// leader by then skips its faults and is judged inconclusive.
	FirstLeader time.Duration
	// Sample is the kernel sampling interval; default 20ms.
	Sample time.Duration
	// Grace is how long peers get to exit on SIGTERM at the end before SIGKILL; default 2s.
	Grace time.Duration
	// Failpoints is set as SPLITBRAIN_FAILPOINTS for every peer, joined with what the
	// chosen faults need (fault.FailpointUser).
	Failpoints string
	// Broadcasts is how many broadcast commands a second the run sends, at random times
	// (exponential gaps), to random live white-box peers (those that wrote any event) during
	// the fault phase and the first half of the settle time, so that the delivery checker
	// judges real traffic. 0 means the default, 5 a second; negative sends none.
	Broadcasts float64
	// FailFast ends the fault phase at the first violation the run sees online (two
	// listeners, or an orphaned one, in a kernel observation; a planted file changed); the
	// run still settles, judges and reports. Without it the fault phase lasts its full
	// Duration or Rounds.
	FailFast bool
	// Replay is the command that replays this run, recorded in the history.
	Replay string
	// Progress, if set, gets a progress line while the run goes (an updating line when it
	// is a terminal, plain lines every few seconds otherwise).
	Progress io.Writer
	// Syscalls runs every peer under the seccomp supervisor (engine.Config.Syscalls):
	// single-listener and reachable-leader are judged at each listen, unlink and rename.
	Syscalls bool
	// Force runs even when Peers exceeds what the machine allows (Scale).
	Force bool
	// UntilConfidence, when positive, ends the fault phase as soon as the exact binomial
	// bound on the split-brain rate per leader kill (check.RateUpperBound at
	// check.DefaultLevel) falls below it; Duration or Rounds still bound the run.
	UntilConfidence float64
	// Report, if set, writes the reports (results.json, junit.xml) after judging.
	Report func(dir string, records []history.Record, results check.Results) error
}

// ErrConfig marks a configuration the run refuses; the message names the field and the fix.
var ErrConfig = engine.ErrConfig

// Check fills in the defaults and returns an ErrConfig error for a configuration a run
// refuses, naming the field and the fix. Run calls it too.
func (c *Config) Check() error { return c.defaults() }

func (c *Config) defaults() error {
	if c.Impl == "" {
		return fmt.Errorf("%w: no peer command: set --impl 'COMMAND ARGS'", ErrConfig)
	}
	if c.Out == "" {
		return fmt.Errorf("%w: no result folder: set --out DIR", ErrConfig)
	}
	switch c.Transport {
	case "":
		c.Transport = "unix"
	case "unix", "tcp":
	default:
		return fmt.Errorf("%w: transport %q: use unix or tcp", ErrConfig, c.Transport)
	}
	if c.Peers == 0 {
		c.Peers = 10
	}
	if c.Peers < 1 {
		return fmt.Errorf("%w: %d peers: use --peers 1 or more", ErrConfig, c.Peers)
	}
	if c.MaxLive == 0 {
		c.MaxLive = 2 * c.Peers
	}
	if c.MaxLive < c.Peers {
		c.MaxLive = c.Peers
	}
	if !c.Force {
		if err := Scale(c.Peers, c.MaxLive); err != nil {
			return err
		}
	}
	if c.UntilConfidence < 0 || c.UntilConfidence >= 1 {
		return fmt.Errorf("%w: --until-confidence %v: give a rate between 0 and 1, e.g. 0.01 for 1 %%", ErrConfig, c.UntilConfidence)
	}
	if c.Rounds < 0 {
		return fmt.Errorf("%w: %d rounds: use --rounds 0 (no bound) or more", ErrConfig, c.Rounds)
	}
	if c.Duration == 0 && c.Rounds == 0 {
		c.Duration = 45 * time.Second
	}
	if c.Duration < 0 {
		return fmt.Errorf("%w: duration %v: use a positive --duration", ErrConfig, c.Duration)
	}
	if c.Settle <= 0 {
		c.Settle = 3 * time.Second
	}
	if c.Liveness <= 0 {
		c.Liveness = 5 * time.Second
	}
	if c.FirstLeader <= 0 {
		c.FirstLeader = 2 * c.Liveness
	}
	if c.Sample <= 0 {
		c.Sample = 20 * time.Millisecond
	}
	if c.Broadcasts == 0 {
		c.Broadcasts = 5
	}
	if c.Grace <= 0 {
		c.Grace = 2 * time.Second
	}
	if len(c.Faults) == 0 {
		fs, err := fault.Parse("", c.Transport)
		if err != nil {
			return err
		}
		c.Faults = fs
	}
	for _, f := range c.Faults {
		if a, ok := f.(fault.Applicable); ok && !a.Applies(c.Transport) {
			return fmt.Errorf("%w: fault %s does not apply to transport %s: leave it out of --faults", ErrConfig, f.Name(), c.Transport)
		}
	}
	return nil
}
