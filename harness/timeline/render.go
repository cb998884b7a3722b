package timeline

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// File is the name of the page in a run's result folder.
const File = "timeline.html"

var (
	//go:embed page.html
	pageHTML string
	//go:embed page.css
	pageCSS string
	//go:embed page.js
	pageJS string

	pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{"dur": fmtDur}).Parse(pageHTML))
)

// Render writes the timeline page of one run to w: h is its history (in any order; Render
// does not modify it) and res the checkers' results on it (empty Results draw the run
// without verdicts). The page is self-contained HTML and loads nothing from the network.
func Render(w io.Writer, h []history.Record, res check.Results) error {
	m := build(h, res)
	data, err := json.Marshal(m) // escapes <, > and &: the JSON cannot end its script element
	if err != nil {
		return fmt.Errorf("timeline: encode model: %w", err)
	}
	p := page{
		Verdict:  string(res.Verdict()),
		Records:  len(h),
		Lanes:    len(m.Lanes),
		Faults:   len(m.Faults),
		MaxCount: m.MaxCount,
		Horizon:  time.Duration(m.Horizon),
		Data:     template.JS(data),
		CSS:      template.CSS(pageCSS),
		JS:       template.JS(pageJS),
	}
	if len(res.Parts) == 0 {
		p.Verdict = "not judged"
	}
	if run := check.RunConfig(h); run != nil {
		p.Run = *run
		p.HasRun = true
	}
	names := map[int]string{}
	for _, r := range h {
		if r.Kind == history.KindStart && r.PID > 0 {
			names[r.PID] = r.Peer
		}
	}
	for _, part := range res.Parts {
		pv := partView{Name: part.Name, Verdict: string(part.Verdict), Summary: part.Summary}
		if part.Verdict == check.Fail || part.Verdict == check.Inconclusive {
			for i, e := range part.Evidence {
				ev := evidenceView{
					ID: evidenceID(part.Name, i), T: e.T, What: e.What,
					Peers: strings.Join(e.Peers, ", "), PIDs: fmt.Sprint(e.PIDs),
				}
				if len(e.PIDs) == 0 {
					ev.PIDs = ""
				}
				if e.Snapshot != nil {
					ev.Snapshot = snapshotView(e.Snapshot, names)
				}
				for _, r := range e.Records {
					b, err := json.Marshal(r)
					if err != nil {
						return fmt.Errorf("timeline: encode evidence record: %w", err)
					}
					ev.Records = append(ev.Records, recordView{T: r.T, Kind: string(r.Kind), Peer: r.Peer, JSON: string(b), Here: r.T == e.T})
				}
				pv.Evidence = append(pv.Evidence, ev)
			}
			p.Violations = append(p.Violations, pv)
		}
		p.Parts = append(p.Parts, pv)
	}
	if err := pageTmpl.Execute(w, p); err != nil {
		return fmt.Errorf("timeline: write page: %w", err)
	}
	return nil
}

// WriteFile renders the page into dir/File, replacing it whole (a reader never sees half a
// page), and returns its path.
func WriteFile(dir string, h []history.Record, res check.Results) (string, error) {
	path := filepath.Join(dir, File)
	f, err := os.CreateTemp(dir, File+".*")
	if err != nil {
		return "", fmt.Errorf("timeline: %w", err)
	}
	defer os.Remove(f.Name())
	if err := Render(f, h, res); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("timeline: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return "", fmt.Errorf("timeline: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return "", fmt.Errorf("timeline: %w", err)
	}
	return path, nil
}

// page is the template's data.
type page struct {
	Run        history.Run
	HasRun     bool
	Verdict    string
	Records    int
	Lanes      int
	Faults     int
	MaxCount   int
	Horizon    time.Duration
	Parts      []partView
	Violations []partView
	Data       template.JS
	CSS        template.CSS
	JS         template.JS
}

type partView struct {
	Name, Verdict, Summary string
	Evidence               []evidenceView
}

type evidenceView struct {
	ID, What, Peers, PIDs string
	T                     time.Duration
	Snapshot              *snapView
	Records               []recordView
}

type snapView struct {
	PathInode uint64
	Listeners []listenerView
	Conns     []connView
}

type listenerView struct {
	Inode, VFSInode uint64
	Holders, Name   string
	Orphaned        bool
	Backlog         int
}

type connView struct {
	Client, Server string
	Listener       uint64
}

type recordView struct {
	T          time.Duration
	Kind, Peer string
	JSON       string
	Here       bool // the record at the evidence's time
}

// snapshotView describes s with peer names for pids.
func snapshotView(s *kernel.Snapshot, names map[int]string) *snapView {
	who := func(pids []int) string {
		var parts []string
		for _, pid := range pids {
			if n, ok := names[pid]; ok {
				parts = append(parts, fmt.Sprintf("%s (pid %d)", n, pid))
			} else {
				parts = append(parts, fmt.Sprintf("pid %d", pid))
			}
		}
		if len(parts) == 0 {
			return "nobody scanned"
		}
		return strings.Join(parts, ", ")
	}
	v := &snapView{PathInode: s.PathInode}
	for _, l := range s.Listeners {
		v.Listeners = append(v.Listeners, listenerView{Inode: l.Inode, VFSInode: l.VFSInode, Holders: who(l.PIDs), Name: l.Name, Orphaned: l.Orphaned, Backlog: l.Backlog})
	}
	conns := slices.Clone(s.Conns)
	for _, c := range conns {
		v.Conns = append(v.Conns, connView{Client: who(c.ClientPIDs), Server: who(c.ServerPIDs), Listener: c.ListenerInode})
	}
	return v
}

// fmtDur formats d for people: µs under a millisecond, ms under ten seconds, s above.
func fmtDur(d time.Duration) string {
	switch a := max(d, -d); {
	case a < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case a < 10*time.Second:
		return strconv.FormatFloat(float64(d.Round(time.Microsecond))/float64(time.Millisecond), 'f', -1, 64) + "ms"
	}
	return strconv.FormatFloat(d.Round(time.Millisecond).Seconds(), 'f', -1, 64) + "s"
}
