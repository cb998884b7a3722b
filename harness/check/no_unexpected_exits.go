package check

import (
	"fmt"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// NoUnexpectedExits checks that every peer exits because the harness ended it, and the way
// the harness asked: a peer that crashes or gives up is a bug, shown with its exit status
// and stderr tail. When no leader ever appeared the run is Inconclusive instead (see the
// package doc).
//
// An exit the harness caused (Exit.ByHarness) is judged by what the harness sent the
// process, from the fault records naming it, its `close` command, and the "end" phase (the
// harness sends SIGTERM to every live peer, then SIGKILL after a grace period):
//   - killed by SIGKILL after a recorded SIGKILL (kill-leader, kill-all ...): expected;
//   - killed by SIGTERM, or status 0, or the shell's 128+signal status for the signal sent:
//     a graceful stop, expected;
//   - killed by SIGKILL when the harness had only asked it to stop (SIGTERM or close): the
//     peer ignored the request and the harness had to kill it at the end of the grace
//     period. It fails: its shutdown path (where unlink-on-close and lock-file bugs live)
//     never ran, so it was never judged, and a service manager would have to kill it the
//     same way. These are counted in the figure "ignored_sigterm";
//   - any other status or signal: the peer crashed in its shutdown path; it fails.
//
// One exception: while the harness keeps a planted file at the election address itself
// (from its planted record to its final record), no peer can ever lead, and a peer that
// refuses to run there — exits with a status, not a signal — is a right answer (the
// reference peer says "choose another path"); such exits are counted in the figure
// "refused_planted_address".
//
// A peer is its whole process tree: a descendant that leaves it (daemonizes, a "daemonized"
// process record) and outlives it escapes every signal the harness sends the peer, and
// fails too (figure "daemonized").
type NoUnexpectedExits struct{}

// Name implements Checker.
func (NoUnexpectedExits) Name() string { return "no-unexpected-exits" }

// asked is what the harness had sent one process when it exited.
type asked struct {
	term, kill bool
	termAt     time.Duration // the first stop request (SIGTERM, close, or the end phase)
}

// Check implements Checker.
func (NoUnexpectedExits) Check(h []history.Record) Result {
	var res Result
	addr := ""
	if run := RunConfig(h); run != nil {
		addr = run.Addr
	}
	p := newPeers()
	sent := map[int]*asked{}
	ask := func(pid int) *asked {
		if sent[pid] == nil {
			sent[pid] = &asked{}
		}
		return sent[pid]
	}
	term := func(pid int, t time.Duration) {
		a := ask(pid)
		if !a.term {
			a.term, a.termAt = true, t
		}
	}
	exits, unexpected, refused, ignored, shutdownCrash, daemons := 0, 0, 0, 0, 0, 0
	planted := false // a plant sits at the address now
	// A process that reported an error while a plant sat at the address may exit on it only
	// after the plant is gone (a slow exit on a loaded machine): still its refusal. pid ->
	// when the plant it reported on was removed (0 while it is still there).
	saw := map[int]time.Duration{}
	for i, r := range h {
		p.apply(h, i)
		if planted && r.Kind == history.KindEvent && r.Event != nil && r.Event.Event == protocol.EventError {
			saw[r.PID] = 0
		}
		switch r.Kind {
		case history.KindProcess:
			// A descendant that left its peer's process tree and outlived it escapes the
			// harness's signals: killing "the peer" does not end it.
			if strings.HasPrefix(r.Detail, "daemonized") {
				unexpected++
				daemons++
				res.addEvidence(Evidence{T: r.T, What: r.Detail,
					Peers: []string{r.Peer}, PIDs: []int{r.PID}, Records: []history.Record{r}})
			}
		case history.KindPlant:
			if r.Plant != nil && addr != "" && r.Plant.Path == addr {
				switch r.Detail {
				case "", PlantPlanted:
					planted = true
				case PlantFinal:
					planted = false
					for pid, end := range saw {
						if end == 0 {
							saw[pid] = r.T
						}
					}
				}
			}
		case history.KindFault:
			if r.Fault == nil || r.PID == 0 {
				continue
			}
			switch r.Fault.Signal {
			case "SIGKILL":
				ask(r.PID).kill = true
			case "SIGTERM":
				term(r.PID, r.T)
			}
		case history.KindCommand:
			if r.Command != nil && r.Command.Cmd == protocol.CmdClose {
				term(r.PID, r.T)
			}
		case history.KindPhase:
			if r.Detail == PhaseEnd {
				for _, pid := range p.livePIDs() {
					term(pid, r.T)
				}
			}
		}
		if r.Kind != history.KindExit {
			continue
		}
		exits++
		e := r.Exit
		if e != nil && e.ByHarness {
			a := ask(r.PID)
			what := ""
			switch {
			case e.Signal == "SIGKILL" && !a.kill && a.term:
				ignored++
				what = fmt.Sprintf("%s (pid %d) ignored the request to stop it got at %v: %v later the harness had to kill it (SIGKILL), so its shutdown path never ran",
					r.Peer, r.PID, a.termAt, (r.T - a.termAt).Round(time.Millisecond))
			case graceful(e, a):
				continue
			case e.Signal == "" && (planted || refusedLate(saw, r.PID, r.T)):
				refused++
				continue
			default:
				shutdownCrash++
				own := *e
				own.ByHarness = false // describe how it ended, not who began it
				what = fmt.Sprintf("%s (pid %d) %s after the harness %s: a crash in its shutdown path",
					r.Peer, r.PID, describeExit(&own), askedWord(a))
			}
			unexpected++
			ev := exitEvidence(h, i)
			ev.What = what
			res.addEvidence(ev)
			continue
		}
		if e != nil && e.Signal == "" && (planted || refusedLate(saw, r.PID, r.T)) {
			refused++
			continue
		}
		unexpected++
		res.addEvidence(exitEvidence(h, i))
	}
	res.figure("exits", float64(exits))
	res.figure("unexpected", float64(unexpected))
	res.figure("ignored_sigterm", float64(ignored))
	res.figure("shutdown_crashes", float64(shutdownCrash))
	res.figure("daemonized", float64(daemons))
	if refused > 0 {
		res.figure("refused_planted_address", float64(refused))
	}
	if unexpected == 0 {
		res.Verdict = Pass
		res.Summary = fmt.Sprintf("%s, all the harness's doing and the way it asked", count(exits, "exit"))
		if refused > 0 {
			res.Summary = fmt.Sprintf("%s, all the harness's doing or a refusal of a planted address (%d)", count(exits, "exit"), refused)
		}
		return res
	}
	if !leaderAppeared(h) && daemons == 0 { // an escape fails whether or not a leader came
		nl := noLeader(h)
		nl.Figures = res.Figures
		return nl
	}
	res.Verdict = Fail
	res.Summary = fmt.Sprintf("%s exited unexpectedly or escaped (%d ignored SIGTERM and had to be killed, %d crashed in their shutdown path, %d daemonized); first: %s",
		count(unexpected, "peer"), ignored, shutdownCrash, daemons, res.Evidence[0].What)
	return res
}

// graceful reports whether exit e is what the harness asked for with a.
func graceful(e *history.Exit, a *asked) bool {
	switch e.Signal {
	case "SIGKILL":
		return a.kill || !a.term // killed as asked, or by a group kill with no record of its own
	case "SIGTERM":
		return true
	case "":
		return e.Code == 0 || (a.term && e.Code == 128+15) || (a.kill && e.Code == 128+9)
	}
	return false
}

// askedWord says what the harness had sent.
func askedWord(a *asked) string {
	switch {
	case a.kill:
		return "killed it (SIGKILL)"
	case a.term:
		return "asked it to stop (SIGTERM or close)"
	}
	return "ended it"
}

// plantExitGrace is how long after a plant is removed the exit of a process that reported
// an error while it was there still counts as its refusal.
const plantExitGrace = 2 * time.Second

// refusedLate reports whether pid saw a plant that was removed no longer than plantExitGrace
// before t.
func refusedLate(saw map[int]time.Duration, pid int, t time.Duration) bool {
	end, ok := saw[pid]
	return ok && end > 0 && t-end <= plantExitGrace
}
