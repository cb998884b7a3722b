package sbtest

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/conformance"
	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/proc"
	"github.com/splitbrain-dev/splitbrain/harness/report"
	"github.com/splitbrain-dev/splitbrain/harness/run"
	"github.com/splitbrain-dev/splitbrain/harness/syscalls"
	"github.com/splitbrain-dev/splitbrain/harness/timeline"
)

// Plan is what [Run] and [Check] run: a [RunConfig] or a [Conformance].
type Plan interface {
	// execute runs the plan with its result folder out (never "").
	execute(ctx context.Context, out string) (*Result, error)
	// outDir is the result folder the plan names, "" for a new temporary one.
	outDir() string
}

// EnvSeed names the environment variable that, when set, gives the seed of every RunConfig
// whose Seed is 0: SBTEST_SEED=N go test -run TestX replays a run's choice of faults.
const EnvSeed = "SBTEST_SEED"

// RunConfig is a run under random faults, as `splitbrain run`: Peers peers of Peer on one
// address, a fault drawn at random each round, every round followed by a settle window,
// and the whole history judged. Zero fields take the CLI's defaults, so that the replay
// command in the Result runs the same configuration.
type RunConfig struct {
	// Peer is the implementation under test. Required.
	Peer Impl
	// Transport is "unix" (default) or "tcp".
	Transport string
	// Peers is how many peers start; default 10.
	Peers int
	// Duration bounds the fault phase; default 45s, or no time bound when Rounds is set.
	Duration time.Duration
	// Rounds bounds the fault rounds; 0 means as many as fit in Duration.
	Rounds int
	// Faults are the names of the faults drawn from (`splitbrain run --faults`, e.g.
	// "kill-leader", "stale-socket"; "all" for every one); default the CLI's default list.
	Faults []string
	// Seed seeds the choice of faults, targets and delays; 0 means $SBTEST_SEED if set, else
	// a random seed. Result.Seed and Result.Replay give the seed used.
	Seed int64
	// Settle is how long the group gets after each fault before every live peer must be
	// connected to the leader; default 3s.
	Settle time.Duration
	// Liveness bounds leaderless time while a peer lives; default 5s.
	Liveness time.Duration
	// Failpoints is SPLITBRAIN_FAILPOINTS for every peer, e.g. "before-listen=sleep(5ms)".
	Failpoints string
	// Broadcasts is how many broadcast commands a second go to white-box peers, for the
	// delivery check; 0 means the default, 5; negative sends none.
	Broadcasts float64
	// FailFast ends the fault phase at the first violation seen online (two listeners, an
	// orphaned one, a planted file changed); the run still settles, judges and reports.
	FailFast bool
	// Syscalls watches every peer at its election syscalls with seccomp user notification
	// (`splitbrain run --syscalls on`): single-listener and reachable-leader are judged at
	// each listen, unlink and rename of the address, and the faults "kill-at-syscall" and
	// "hold-at-syscall" can be drawn. The test binary is the shim: its TestMain must call
	// [Main] or [Dispatch]. Where seccomp notification is unavailable the run fails with
	// ErrHarness, saying why.
	Syscalls bool
	// Out is the result folder, created if needed; "" means a new folder in os.TempDir()
	// (Check removes it when the test passes; Run leaves it to the caller).
	Out string
	// Progress, if set, gets the run's progress lines.
	Progress io.Writer

	_ struct{} // fields by name only: more may come
}

func (c RunConfig) outDir() string { return c.Out }

func (c RunConfig) execute(ctx context.Context, out string) (*Result, error) {
	impl, err := c.Peer.command()
	if err != nil {
		return nil, err
	}
	transport := c.Transport
	if transport == "" {
		transport = "unix"
	}
	faults, err := fault.Parse(strings.Join(c.Faults, ","), transport)
	if err != nil {
		return nil, fmt.Errorf("%w: Faults: %w", ErrConfig, err)
	}
	seed, err := c.seed()
	if err != nil {
		return nil, err
	}
	if err := c.Peer.preflight(ctx); err != nil {
		return nil, err
	}
	if c.Syscalls {
		self, err := os.Executable()
		if err == nil {
			err = syscalls.Available(self)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: Syscalls: %w", ErrHarness, err)
		}
	}
	replay := c.replay(impl, transport, seed)
	o, err := run.Run(ctx, run.Config{
		Impl: impl, Transport: transport, Peers: c.Peers, Rounds: c.Rounds, Duration: c.Duration,
		Faults: faults, Seed: seed, Out: out, Settle: c.Settle, Liveness: c.Liveness,
		Failpoints: c.Failpoints, Broadcasts: c.Broadcasts, FailFast: c.FailFast,
		Syscalls: c.Syscalls, Replay: replay, Progress: c.Progress, Report: writeReports,
	})
	if o == nil {
		return nil, err
	}
	res := fromRun(o, seed, replay)
	if err != nil {
		// A violation found before the harness failed still stands; anything else does
		// not count (as the CLI's exit 3 and conformance's harness-error).
		if res.Verdict != Fail {
			res.Verdict, res.ExitCode = HarnessError, conformance.ExitHarness
		}
		res.harnessErr = err.Error()
		res.text = fmt.Sprintf("%ssplitbrain: the harness failed: %v\n", res.text, err)
		return res, fmt.Errorf("%w: %w", ErrHarness, err)
	}
	return res, nil
}

// seed returns the seed to run with (see RunConfig.Seed).
func (c RunConfig) seed() (int64, error) {
	if c.Seed != 0 {
		return c.Seed, nil
	}
	if s := os.Getenv(EnvSeed); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %s=%q is not an integer: give the seed a failed run printed", ErrConfig, EnvSeed, s)
		}
		return n, nil
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return max(1, int64(binary.LittleEndian.Uint64(b[:])>>1)), nil
}

// replay is the `splitbrain run` command line of this run: every field that shapes it.
func (c RunConfig) replay(impl, transport string, seed int64) string {
	args := []string{"splitbrain", "run", "--impl", proc.Quote(impl), "--transport", transport}
	if c.Peers != 0 {
		args = append(args, "--peers", strconv.Itoa(c.Peers))
	}
	if c.Rounds != 0 {
		args = append(args, "--rounds", strconv.Itoa(c.Rounds))
	}
	if c.Duration != 0 {
		args = append(args, "--duration", c.Duration.String())
	}
	if len(c.Faults) > 0 {
		args = append(args, "--faults", proc.Quote(strings.Join(c.Faults, ",")))
	}
	if c.Settle > 0 {
		args = append(args, "--settle", c.Settle.String())
	}
	if c.Liveness > 0 {
		args = append(args, "--liveness", c.Liveness.String())
	}
	if c.Failpoints != "" {
		args = append(args, "--failpoints", proc.Quote(c.Failpoints))
	}
	switch {
	case c.Broadcasts < 0:
		args = append(args, "--broadcasts", "0")
	case c.Broadcasts > 0:
		args = append(args, "--broadcasts", strconv.FormatFloat(c.Broadcasts, 'g', -1, 64))
	}
	if c.FailFast {
		args = append(args, "--fail-fast")
	}
	if c.Syscalls {
		args = append(args, "--syscalls", "on")
	}
	return strings.Join(append(args, "--seed", strconv.FormatInt(seed, 10)), " ")
}

// writeReports writes what the CLI's run writes: results.json, junit.xml, timeline.html.
func writeReports(dir string, records []history.Record, results check.Results) error {
	err := report.Write(dir, records, results)
	if _, terr := timeline.WriteFile(dir, records, results); terr != nil && err == nil {
		err = terr
	}
	return err
}

// Suite sizes of a Conformance.
const (
	// SizeFull runs every scenario with all its rounds and seeds (users' pipelines).
	SizeFull = "full"
	// SizeQuick runs a quarter of the rounds, one seed per scenario: about a minute on 2
	// cores for a correct peer.
	SizeQuick = "quick"
)

// Conformance is the versioned conformance suite, as `splitbrain conformance`: fixed
// scenarios with fixed seeds, one run each, against Peer. The Result has one Case per case
// run, and its Invariants are the worst verdict of each invariant over the cases.
type Conformance struct {
	// Peer is the implementation under test. Required.
	Peer Impl
	// Transport is "unix" (default) or "tcp".
	Transport string
	// Size is SizeFull (default) or SizeQuick.
	Size string
	// Shard is "I/N", this job's share of the suite (I counts from 0); "" is the whole suite.
	Shard string
	// Cases, if set, runs only the cases named (see `splitbrain conformance --list`).
	Cases []string
	// Out is the result folder, as RunConfig.Out; each case's folder is Out/cases/NAME.
	Out string
	// Progress, if set, gets a line as each case starts and ends.
	Progress io.Writer

	_ struct{} // fields by name only: more may come
}

func (c Conformance) outDir() string { return c.Out }

func (c Conformance) execute(ctx context.Context, out string) (*Result, error) {
	impl, err := c.Peer.command()
	if err != nil {
		return nil, err
	}
	size, err := conformance.ParseSize(c.Size)
	if err != nil {
		return nil, fmt.Errorf("%w: Size: %w", ErrConfig, err)
	}
	shard, err := conformance.ParseShard(c.Shard)
	if err != nil {
		return nil, fmt.Errorf("%w: Shard: %w", ErrConfig, err)
	}
	transport := c.Transport
	if transport == "" {
		transport = "unix"
	}
	if err := c.Peer.preflight(ctx); err != nil {
		return nil, err
	}
	rep, err := conformance.Run(ctx, conformance.Options{
		Impl: impl, Transport: transport, Out: out, Size: size, Shard: shard,
		Only: strings.Join(c.Cases, ","), Progress: c.Progress,
	})
	if rep == nil {
		return nil, err
	}
	args := []string{"splitbrain", "conformance", "--impl", proc.Quote(impl), "--transport", transport, "--size", string(size)}
	if c.Shard != "" {
		args = append(args, "--shard", shard.String())
	}
	if len(c.Cases) > 0 {
		args = append(args, "--case", proc.Quote(strings.Join(c.Cases, ",")))
	}
	res := fromConformance(rep, out, strings.Join(args, " "), ctx.Err() != nil)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrHarness, err)
	}
	return res, nil
}
