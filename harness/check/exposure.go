package check

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// Exposure checks, for TCP runs, that the election port is never bound beyond loopback: a
// listener on the port bound to a wildcard (0.0.0.0, [::]) or to any address that is not
// loopback (a LAN address) lets other machines connect, join the group or pose as members,
// even when it is the only listener and the election is otherwise right. The kernel
// observer records every listener on the port, whatever its address.
//
// NotJudged for unix runs (a socket path is not reachable from elsewhere), and when no
// observation saw a listener.
type Exposure struct{}

// Name implements Checker.
func (Exposure) Name() string { return "exposure" }

// Check implements Checker.
func (Exposure) Check(h []history.Record) Result {
	if run := RunConfig(h); run == nil || run.Transport != "tcp" {
		return Result{Verdict: NotJudged, Summary: "not a tcp run: a unix socket path is not reachable from other machines"}
	}
	var res Result
	seen, exposed := 0, 0
	observations := eachObservation(h, func(i int, r history.Record, p *peers) {
		if len(r.Snapshot.Listeners) > 0 {
			seen++
		}
		what, pids := exposedWhat(r.Snapshot, p)
		if what == "" {
			return
		}
		exposed++
		res.addEvidence(Evidence{
			T: r.T, What: what, Peers: p.namesOf(pids), PIDs: pids, Snapshot: r.Snapshot, Records: around(h, i),
		})
	})
	res.figure("observations", float64(observations))
	res.figure("observations_with_a_listener", float64(seen))
	res.figure("exposed", float64(exposed))
	switch {
	case exposed > 0:
		res.Verdict = Fail
		res.Summary = fmt.Sprintf("%d of %d observations with a listener saw the port open beyond loopback; first at %v: %s",
			exposed, seen, res.Evidence[0].T, res.Evidence[0].What)
	case seen == 0:
		res.Verdict, res.Summary = NotJudged, "not judged: no observation saw a listener on the port"
	default:
		res.Verdict = Pass
		res.Summary = fmt.Sprintf("%s with a listener, every one bound to loopback only", count(seen, "observation"))
	}
	return res
}

// exposedWhat says what is wrong when s shows a listener beyond loopback, with the pids that
// hold such listeners, else "". It is the per-record rule of Exposure (for a tcp run), which
// check.Online can share.
func exposedWhat(s *kernel.Snapshot, p *peers) (what string, pids []int) {
	var bad []string
	for _, l := range s.Listeners {
		if why := beyondLoopback(l); why != "" {
			bad = append(bad, listenerWhat(l, p)+" bound to "+l.Name+" ("+why+")")
			pids = append(pids, l.PIDs...)
		}
	}
	if len(bad) == 0 {
		return "", nil
	}
	return "the election port is open beyond loopback: " + strings.Join(bad, "; "), pids
}

// beyondLoopback says why listener l can be reached from other machines, or "" when it
// cannot (it is bound to a loopback address).
func beyondLoopback(l kernel.Listener) string {
	ap, err := netip.ParseAddrPort(l.Name)
	if err != nil {
		return ""
	}
	a := ap.Addr().Unmap()
	switch {
	case a.IsUnspecified():
		return "a wildcard: every address of the machine"
	case a.IsLoopback():
		return ""
	}
	return "not a loopback address"
}
