package run_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/fault"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/run"
	refpeer "github.com/splitbrain-dev/splitbrain/peers/reference"
)

const helperEnv = "SPLITBRAIN_RUN_TEST_HELPER"

var helpers = map[string]func(){
	"flock": func() { peer(true, false) },
	"racy":  func() { peer(false, false) },
	// lossy elects like flock but acks every broadcast as sent and never relays it.
	"lossy": func() { peer(true, true) },
	// reference is the reference peer (the election library), as `splitbrain peer` runs it.
	"reference": func() { os.Exit(refpeer.Main(nil, os.Stderr)) },
}

func TestMain(m *testing.M) {
	if name := os.Getenv(helperEnv); name != "" {
		helpers[name]()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// peer is a small unix-socket election peer. With lock, it is correct enough: the election
// runs under an flock that the leader holds for as long as it leads, so the stale-socket
// unlink can never hit a live listener. Without it, it is the classic bug: probe, sleep (to
// widen the race), unlink, listen. With lossy, it reads broadcast commands and reports each
// one sent at once, though nothing is ever sent: a peer that loses messages and lies.
func peer(lock, lossy bool) {
	addr := os.Getenv("SPLITBRAIN_ADDR")
	var out sync.Mutex
	say := func(ev string) { out.Lock(); fmt.Printf(`{"event":%q}`+"\n", ev); out.Unlock() }
	if lossy {
		go func() {
			sc := bufio.NewScanner(os.Stdin)
			for sc.Scan() {
				var c struct{ Cmd, ID string }
				if json.Unmarshal(sc.Bytes(), &c) == nil && c.Cmd == "broadcast" {
					out.Lock()
					fmt.Printf(`{"event":"sent","id":%q}`+"\n", c.ID)
					out.Unlock()
				}
			}
		}()
	}
	say("ready")
	for {
		if c, err := net.Dial("unix", addr); err == nil {
			say("follower")
			io.Copy(io.Discard, c) // until the leader goes
			c.Close()
			say("lost")
			continue
		}
		var lockFD int = -1
		if lock {
			fd, err := unix.Open(addr+".lock", unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
			if err != nil {
				os.Exit(1)
			}
			if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil {
				unix.Close(fd)
				time.Sleep(5 * time.Millisecond)
				continue
			}
			lockFD = fd
			if c, err := net.Dial("unix", addr); err == nil { // a leader won meanwhile
				c.Close()
				unix.Close(fd)
				continue
			}
		} else {
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
		}
		// Remove only a socket: never a file that is not ours.
		if fi, err := os.Lstat(addr); err == nil && fi.Mode().Type() == fs.ModeSocket {
			os.Remove(addr)
		}
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
		if err != nil {
			if lockFD >= 0 {
				unix.Close(lockFD)
			}
			time.Sleep(5 * time.Millisecond)
			continue
		}
		say("leader")
		var conns []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				os.Exit(1)
			}
			conns = append(conns, c)
		}
	}
}

func config(t *testing.T, helper string, faults ...string) run.Config {
	fs, err := fault.Parse(strings.Join(faults, ","), "unix")
	if err != nil {
		t.Fatal(err)
	}
	return run.Config{
		Impl:      fmt.Sprintf("env %s=%s %s", helperEnv, helper, os.Args[0]),
		Transport: "unix",
		Peers:     5,
		Rounds:    8,
		Faults:    fs,
		Seed:      1,
		Out:       t.TempDir(),
		Settle:    time.Second,
		Liveness:  3 * time.Second,
		Sample:    10 * time.Millisecond,
		Grace:     time.Second,
	}
}

func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

func checkNothingLeft(t *testing.T, out *run.Outcome) {
	t.Helper()
	for _, r := range out.Records {
		if r.Kind == history.KindStart && !gone(r.PID) {
			t.Errorf("peer %s pid %d still runs after the run", r.Peer, r.PID)
		}
	}
}

func summary(out *run.Outcome) string {
	var b strings.Builder
	for _, p := range out.Results.Parts {
		fmt.Fprintf(&b, "  %s: %s: %s\n", p.Name, p.Verdict, p.Summary)
	}
	return b.String()
}

func TestCorrectPeerIsValid(t *testing.T) {
	cfg := config(t, "flock", "kill-leader", "term-leader", "kill-follower", "stale-socket", "restart-dead", "storm", "plant-file")
	out, err := run.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkNothingLeft(t, out)
	if code := out.Results.ExitCode(); code != check.ExitValid {
		t.Fatalf("exit code %d for a correct peer after %d rounds:\n%s", code, out.Rounds, summary(out))
	}
	if out.Rounds != cfg.Rounds || out.Rounds-out.Skipped < cfg.Rounds/2 {
		t.Errorf("rounds %d, skipped %d", out.Rounds, out.Skipped)
	}
	recs, err := history.ReadFile(cfg.Out + "/history.jsonl")
	if err != nil || len(recs) != len(out.Records) {
		t.Errorf("history.jsonl: %d records, %v; want %d", len(recs), err, len(out.Records))
	}
	t.Logf("%d rounds %v, faults %v, %d processes, %d records in %v", out.Rounds, out.Skipped, out.FaultCounts, out.Started, len(out.Records), out.Elapsed)
}

func TestRacyPeerIsCaught(t *testing.T) {
	cfg := config(t, "racy", "stale-socket", "kill-leader")
	cfg.Rounds = 4 // a broken group never settles, so each round waits out Liveness
	cfg.Liveness = time.Second
	out, err := run.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkNothingLeft(t, out)
	if out.Results.ExitCode() != check.ExitViolation {
		t.Fatalf("probe-then-unlink peer not caught in %d rounds:\n%s", out.Rounds, summary(out))
	}
	sl, _ := out.Results.Get("single-listener")
	rl, _ := out.Results.Get("reachable-leader")
	if sl.Verdict != check.Fail && rl.Verdict != check.Fail {
		t.Errorf("caught, but not by single-listener or reachable-leader:\n%s", summary(out))
	}
	t.Logf("caught in %d rounds, %v:\n%s", out.Rounds, out.Elapsed, summary(out))
}

func TestNoLeaderIsInconclusive(t *testing.T) {
	cfg := config(t, "flock")
	cfg.Impl = "sleep 60"
	cfg.FirstLeader = 300 * time.Millisecond
	out, err := run.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkNothingLeft(t, out)
	if !out.NoLeader || out.Results.ExitCode() != check.ExitInconclusive {
		t.Fatalf("no leader: NoLeader=%v exit %d:\n%s", out.NoLeader, out.Results.ExitCode(), summary(out))
	}
}

func TestInterruptStillReapsAndJudges(t *testing.T) {
	cfg := config(t, "flock", "kill-leader")
	cfg.Rounds = 0
	cfg.Duration = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	var reports int
	cfg.Report = func(string, []history.Record, check.Results) error { reports++; return nil }
	time.AfterFunc(1500*time.Millisecond, cancel)
	began := time.Now()
	out, err := run.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Interrupted || time.Since(began) > 20*time.Second || reports != 1 {
		t.Errorf("interrupted=%v after %v, reports=%d", out.Interrupted, time.Since(began), reports)
	}
	checkNothingLeft(t, out)
}

func TestBadConfigNamesTheFix(t *testing.T) {
	for _, c := range []run.Config{
		{Out: t.TempDir()},
		{Impl: "x", Out: t.TempDir(), Transport: "udp"},
		{Impl: "'unterminated", Out: t.TempDir()},
		{Impl: "x", Out: t.TempDir(), Addr: "/" + strings.Repeat("a", 120)},
	} {
		if _, err := run.Run(context.Background(), c); err == nil {
			t.Errorf("%+v: no error", c)
		} else {
			t.Log(err)
		}
	}
}

// TestDeliveryIsJudgedOnRealTraffic runs the reference peer and a peer that acks broadcasts
// without relaying them, under follower churn, with the run's own broadcast traffic: the
// reference passes delivery with recipients to check, the lossy peer fails it.
func TestDeliveryIsJudgedOnRealTraffic(t *testing.T) {
	for _, tt := range []struct {
		helper string
		want   check.Verdict
	}{
		{helper: "reference", want: check.Pass},
		{helper: "lossy", want: check.Fail},
	} {
		t.Run(tt.helper, func(t *testing.T) {
			cfg := config(t, tt.helper, "kill-follower", "term-leader", "start", "restart-dead")
			cfg.Rounds = 6
			cfg.Broadcasts = 20
			out, err := run.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkNothingLeft(t, out)
			d, _ := out.Results.Get("delivery")
			if d.Verdict != tt.want || out.Broadcasts == 0 || d.Figures["deliveries_required"] == 0 {
				t.Fatalf("delivery %s (want %s) after %d broadcasts, figures %v:\n%s", d.Verdict, tt.want, out.Broadcasts, d.Figures, summary(out))
			}
			for _, p := range out.Results.Parts {
				if p.Name != "delivery" && p.Verdict == check.Fail {
					t.Errorf("%s failed too: %s", p.Name, p.Summary)
				}
			}
			t.Logf("%d broadcasts: %s", out.Broadcasts, d.Summary)
		})
	}
}

func TestNoBroadcastsWhenDisabled(t *testing.T) {
	cfg := config(t, "reference", "kill-follower")
	cfg.Rounds = 2
	cfg.Broadcasts = -1
	out, err := run.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := out.Results.Get("delivery")
	if out.Broadcasts != 0 || d.Verdict != check.NotJudged {
		t.Errorf("broadcasts %d, delivery %s: %s", out.Broadcasts, d.Verdict, d.Summary)
	}
}

// TestFailFastStopsAtTheFirstViolation runs the probe-then-unlink peer for up to a minute
// of faults with FailFast: the fault phase ends at the first violation seen online, and the
// run still settles, judges (a violation) and reports.
func TestFailFastStopsAtTheFirstViolation(t *testing.T) {
	// One peer leads alone at first, so the first violation comes from a fault: storms add
	// followers, and killing their leader makes them race.
	cfg := config(t, "racy", "storm", "kill-leader", "stale-socket")
	cfg.Peers, cfg.MaxLive = 1, 8
	cfg.Rounds = 0
	cfg.Duration = time.Minute
	cfg.Liveness = time.Second
	cfg.FailFast = true
	var reports int
	cfg.Report = func(string, []history.Record, check.Results) error { reports++; return nil }
	out, err := run.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkNothingLeft(t, out)
	if !out.StoppedEarly || out.Violation == "" || out.Elapsed > 45*time.Second {
		t.Fatalf("stopped early %v at %v (%q), run took %v", out.StoppedEarly, out.ViolationAt, out.Violation, out.Elapsed)
	}
	if out.Results.ExitCode() != check.ExitViolation || reports != 1 {
		t.Fatalf("exit %d, reports %d:\n%s", out.Results.ExitCode(), reports, summary(out))
	}
	var phases []string
	for _, r := range out.Records {
		if r.Kind == history.KindPhase {
			phases = append(phases, r.Detail)
		}
	}
	// Each round is faults then its settle window; the final settle follows the last.
	if got := strings.Join(phases, ","); !regexp.MustCompile(`^faults(,settle,faults)*,settle,quiesce,end$`).MatchString(got) {
		t.Errorf("phases %s", got)
	}
	t.Logf("first violation at %v: %s; run took %v", out.ViolationAt, out.Violation, out.Elapsed)
}

// TestFailFastOnDataLoss: the racy peer removes any socket at the address, a planted
// foreign one too; the look at the plant is a violation seen online, and FailFast stops.
func TestFailFastOnDataLoss(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("plant-foreign-socket chowns the plant to uid 65534: run as root")
	}
	cfg := config(t, "racy", "plant-foreign-socket")
	cfg.Peers = 1
	cfg.Rounds = 0
	cfg.Duration = time.Minute
	cfg.FailFast = true
	out, err := run.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkNothingLeft(t, out)
	if !out.StoppedEarly || !strings.HasPrefix(out.Violation, "no-data-loss:") || out.Elapsed > 45*time.Second {
		t.Fatalf("stopped early %v at %v (%q), run took %v:\n%s", out.StoppedEarly, out.ViolationAt, out.Violation, out.Elapsed, summary(out))
	}
	if r, _ := out.Results.Get("no-data-loss"); r.Verdict != check.Fail {
		t.Errorf("no-data-loss %s: %s", r.Verdict, r.Summary)
	}
	t.Logf("first violation at %v: %s; run took %v", out.ViolationAt, out.Violation, out.Elapsed)
}
