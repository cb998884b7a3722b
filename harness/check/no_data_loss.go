package check

import (
	"fmt"
	"slices"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// NoDataLoss checks that every file the harness planted (a regular file, a directory,
// another user's socket) is never deleted or changed: every later plant record of its path
// ("check" during the run, "final" at the end) must show the planted Type, UID, Inode and
// SHA256, and every planted path must have a "final" record. A plant proves something only
// if a peer met it: when the history records who made an election attempt while it was
// there ("met"/"unmet" plant records), a plant that no peer met is not judged, and a run
// whose plants no peer met is NotJudged. See the package doc.
type NoDataLoss struct{}

// Name implements Checker.
func (NoDataLoss) Name() string { return "no-data-loss" }

// Check implements Checker.
func (NoDataLoss) Check(h []history.Record) Result {
	type planted struct {
		want        history.Plant
		idx         int // index of the plant record
		final       bool
		met, unmet  int // peers that made (or did not make) an election attempt while it was there
		attemptsLog bool
	}
	var res Result
	plants := map[string]*planted{}
	var order []string // paths in planting order, for stable output
	violations, looks := 0, 0
	for i, r := range h {
		if r.Kind != history.KindPlant || r.Plant == nil {
			continue
		}
		path := r.Plant.Path
		if r.Detail == "" || r.Detail == PlantPlanted {
			if _, ok := plants[path]; !ok {
				order = append(order, path)
			}
			plants[path] = &planted{want: *r.Plant, idx: i}
			continue
		}
		pl, ok := plants[path]
		if !ok {
			continue // a look at a path never planted: nothing to compare with
		}
		if r.Detail == PlantMet || r.Detail == PlantUnmet {
			pl.attemptsLog = true
			if r.Detail == PlantMet {
				pl.met++
			} else {
				pl.unmet++
			}
			continue
		}
		looks++
		if r.Detail == PlantFinal {
			pl.final = true
		}
		if diff := plantDiff(pl.want, *r.Plant); diff != "" {
			violations++
			res.addEvidence(Evidence{
				T: r.T, What: fmt.Sprintf("planted %s %s at %v: %s (%s look)", pl.want.Type, path, h[pl.idx].T, diff, r.Detail),
				Records: slices.Concat([]history.Record{h[pl.idx]}, around(h, i)),
			})
		}
	}
	var unfinished []string
	unmet := 0 // plants no peer met (when the history says who did)
	for _, path := range order {
		if !plants[path].final {
			unfinished = append(unfinished, path)
		}
		if pl := plants[path]; pl.attemptsLog && pl.met == 0 {
			unmet++
		}
	}
	res.figure("plants", float64(len(order)))
	res.figure("looks", float64(looks))
	res.figure("plants_unmet", float64(unmet))
	switch {
	case len(order) == 0:
		res.Verdict, res.Summary = NotJudged, "the harness planted no file"
	case violations > 0:
		res.Verdict = Fail
		res.Summary = fmt.Sprintf("%d looks found a planted file changed; first: %s", violations, res.Evidence[0].What)
	case len(unfinished) > 0:
		res.Verdict = Inconclusive
		res.Summary = fmt.Sprintf("no final plant record for %d of %d planted paths, first %s", len(unfinished), len(order), unfinished[0])
	case unmet == len(order):
		res.Verdict = NotJudged
		res.Summary = fmt.Sprintf("not judged: no peer made an election attempt while any of the %s was there", count(len(order), "planted file"))
	case unmet > 0:
		res.Verdict = Pass
		res.Summary = fmt.Sprintf("%s intact at the end (%d met by peers; %d no peer tried to elect over, not judged)",
			count(len(order), "planted file"), len(order)-unmet, unmet)
	default:
		res.Verdict = Pass
		res.Summary = fmt.Sprintf("%s intact at the end", count(len(order), "planted file"))
	}
	return res
}

// plantDiff says how got differs from want, or "" if it does not.
func plantDiff(want, got history.Plant) string {
	switch {
	case got.Type == PlantMissing:
		return "it was deleted"
	case got.Type != want.Type:
		return fmt.Sprintf("it is now a %s", got.Type)
	case got.Inode != want.Inode:
		return fmt.Sprintf("it was replaced (inode %d, was %d)", got.Inode, want.Inode)
	case got.UID != want.UID:
		return fmt.Sprintf("its owner changed to uid %d (was %d)", got.UID, want.UID)
	case got.SHA256 != want.SHA256:
		return "its content changed"
	}
	return ""
}
