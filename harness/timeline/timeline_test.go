package timeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

const ms = time.Millisecond

// h builds histories tersely.
type h []history.Record

func (x *h) add(t time.Duration, r history.Record) { r.T = t; *x = append(*x, r) }
func (x *h) start(t time.Duration, peer string, pid int) {
	x.add(t, history.Record{Kind: history.KindStart, Peer: peer, PID: pid})
}
func (x *h) event(t time.Duration, peer string, pid int, ev string) {
	x.add(t, history.Record{Kind: history.KindEvent, Peer: peer, PID: pid, Event: &protocol.Event{Event: ev}})
}
func (x *h) exit(t time.Duration, peer string, pid int, e history.Exit) {
	x.add(t, history.Record{Kind: history.KindExit, Peer: peer, PID: pid, Exit: &e})
}
func (x *h) fault(t time.Duration, name, peer string, pid int, sig string) {
	x.add(t, history.Record{Kind: history.KindFault, Peer: peer, PID: pid, Fault: &history.Fault{Name: name, Target: peer, PID: pid, Signal: sig}})
}
func (x *h) observe(t time.Duration, ls []kernel.Listener, cs []kernel.Conn) {
	x.add(t, history.Record{Kind: history.KindObservation, Snapshot: &kernel.Snapshot{Taken: t, Listeners: ls, Conns: cs}})
}

func listener(inode uint64, pid int, orphaned bool) kernel.Listener {
	return kernel.Listener{Inode: inode, PIDs: []int{pid}, Name: "/tmp/x/s.sock", VFSInode: inode + 1000, Orphaned: orphaned}
}

func conn(client, server int) kernel.Conn {
	return kernel.Conn{ClientInode: uint64(client), ClientPIDs: []int{client}, ServerPIDs: []int{server}, ListenerInode: 1}
}

// splitBrain is a run of three white-box peers and one black-box peer: p1 leads and is
// killed, p3 is paused and resumed, p2 and the black-box p4 both listen (p2 orphaned), p1
// restarts and follows, and p4 dies unexpectedly at the end.
func splitBrain() []history.Record {
	var x h
	x.add(0, history.Record{Kind: history.KindRun, Run: &history.Run{
		Version: 1, Impl: "canary probe-unlink", Transport: "unix", Addr: "/tmp/x/s.sock", Peers: 4, Seed: 7,
		Liveness: time.Second, Settle: 100 * ms, Replay: "splitbrain run --seed 7",
	}})
	x.start(1*ms, "p1", 101)
	x.start(1*ms, "p2", 102)
	x.start(1*ms, "p3", 103)
	x.start(1*ms, "p10", 110) // black-box: no role events; sorts after p3
	x.event(5*ms, "p1", 101, protocol.EventLeader)
	x.event(6*ms, "p2", 102, protocol.EventFollower)
	x.event(6*ms, "p3", 103, protocol.EventFollower)
	x.observe(10*ms, []kernel.Listener{listener(1, 101, false)}, []kernel.Conn{conn(102, 101), conn(103, 101), conn(110, 101)})
	x.add(15*ms, history.Record{Kind: history.KindPhase, Detail: check.PhaseFaults})
	x.fault(20*ms, "pause", "p3", 103, "SIGSTOP")
	x.fault(30*ms, "kill-leader", "p1", 101, "SIGKILL")
	x.exit(31*ms, "p1", 101, history.Exit{Code: -1, Signal: "SIGKILL", ByHarness: true})
	x.event(32*ms, "p2", 102, protocol.EventLost)
	x.observe(35*ms, nil, nil)
	x.event(40*ms, "p2", 102, protocol.EventLeader)
	x.observe(45*ms, []kernel.Listener{listener(2, 102, false)}, nil)
	x.observe(50*ms, []kernel.Listener{listener(10, 110, false), listener(2, 102, true)}, nil)
	x.fault(60*ms, "resume", "p3", 103, "SIGCONT")
	x.event(61*ms, "p3", 103, protocol.EventFollower)
	x.start(70*ms, "p1", 104)
	x.event(75*ms, "p1", 104, protocol.EventFollower)
	x.observe(80*ms, []kernel.Listener{listener(10, 110, false), listener(2, 102, true)}, []kernel.Conn{conn(103, 110), conn(104, 110)})
	x.exit(90*ms, "p10", 110, history.Exit{Code: 2, StderrTail: []string{"panic: boom"}})
	x.observe(95*ms, []kernel.Listener{listener(2, 102, true)}, nil)
	x.add(100*ms, history.Record{Kind: history.KindPhase, Detail: check.PhaseEnd})
	return x
}

// rendered is a page split into what the tests look at.
type rendered struct {
	page  string
	model model
}

var dataRE = regexp.MustCompile(`(?s)<script type="application/json" id="tl-data">(.*?)</script>`)

func render(t *testing.T, recs []history.Record, res check.Results) rendered {
	t.Helper()
	var buf bytes.Buffer
	if err := Render(&buf, recs, res); err != nil {
		t.Fatalf("Render: %v", err)
	}
	page := buf.String()
	m := dataRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the page has no tl-data script")
	}
	var md model
	if err := json.Unmarshal([]byte(m[1]), &md); err != nil {
		t.Fatalf("tl-data is not the model: %v", err)
	}
	return rendered{page: page, model: md}
}

// states returns the lane's state names in order, merging nothing.
func (r rendered) states(peer string) []string {
	for _, l := range r.model.Lanes {
		if l.Peer == peer {
			var out []string
			for _, s := range l.Spans {
				out = append(out, fmt.Sprintf("%s@%d", states[s[2]], time.Duration(s[0])/ms))
			}
			return out
		}
	}
	return nil
}

func TestRenderLanesFromEventsAndKernel(t *testing.T) {
	recs := splitBrain()
	r := render(t, recs, check.Judge(recs))

	var peers []string
	for _, l := range r.model.Lanes {
		peers = append(peers, l.Peer+"/"+l.Source)
	}
	if want := []string{"p1/events", "p2/events", "p3/events", "p10/kernel"}; !slices.Equal(peers, want) {
		t.Fatalf("lanes = %v, want %v", peers, want)
	}
	for peer, want := range map[string][]string{
		// killed, restarted under a new pid, follows
		"p1": {"starting@1", "leader@5", "dead@31", "starting@70", "follower@75"},
		// takes over; still listens (orphaned) at the horizon
		"p2": {"starting@1", "follower@6", "electing@32", "leader@40"},
		// paused by SIGSTOP until SIGCONT
		"p3": {"starting@1", "follower@6", "paused@20", "follower@60"},
		// black-box: follower while connected, electing when the leader is gone, leader
		// while it owns a listener, dead after its exit
		"p10": {"starting@1", "follower@10", "electing@35", "leader@50", "dead@90"},
	} {
		if got := r.states(peer); !slices.Equal(got, want) {
			t.Errorf("%s states = %v, want %v", peer, got, want)
		}
	}
	p1 := r.model.Lanes[0]
	if !slices.Equal(p1.PIDs, []int{101, 104}) {
		t.Errorf("p1 pids = %v, want [101 104]", p1.PIDs)
	}
	if last := p1.Spans[len(p1.Spans)-1]; last[1] != int64(100*ms) || last[3] != 104 {
		t.Errorf("p1's last span = %v, want to end at the horizon (100ms) with pid 104", last)
	}
	// The kernel strip of p2 shows its listener turn orphaned at 50ms.
	p2 := r.model.Lanes[1]
	var k []string
	for _, s := range p2.Kernel {
		k = append(k, fmt.Sprintf("%s@%d", kstates[s[2]], time.Duration(s[0])/ms))
	}
	if want := []string{"connected@10", "listening@45", "orphaned@50"}; !slices.Equal(k, want) {
		t.Errorf("p2 kernel strip = %v, want %v", k, want)
	}
}

func TestRenderMarkersAndCountTrack(t *testing.T) {
	recs := splitBrain()
	r := render(t, recs, check.Judge(recs))

	var faults []string
	for _, f := range r.model.Faults {
		faults = append(faults, fmt.Sprintf("%s@%d lane %d", f.Kind, time.Duration(f.T)/ms, f.Lane))
	}
	if want := []string{"pause@20 lane 2", "kill-leader@30 lane 0", "resume@60 lane 2"}; !slices.Equal(faults, want) {
		t.Errorf("faults = %v, want %v", faults, want)
	}
	var crash *mark
	for i, m := range r.model.Marks {
		if m.Kind == "crash" {
			crash = &r.model.Marks[i]
		}
	}
	if crash == nil || crash.Lane != 3 || !strings.Contains(crash.Text, "panic: boom") || !strings.Contains(crash.Text, "status 2") {
		t.Errorf("crash mark = %+v, want one on lane 3 (p10) with its status and stderr", crash)
	}

	var count []string
	for _, c := range r.model.Count {
		count = append(count, fmt.Sprintf("%d/%d@%d-%d", c[2], c[3], time.Duration(c[0])/ms, time.Duration(c[1])/ms))
	}
	if want := []string{"1/0@10-35", "0/0@35-45", "1/0@45-50", "2/1@50-95", "1/1@95-100"}; !slices.Equal(count, want) {
		t.Errorf("count track = %v, want %v", count, want)
	}
	if r.model.MaxCount != 2 {
		t.Errorf("max count = %d, want 2", r.model.MaxCount)
	}
	var phases []string
	for _, p := range r.model.Phases {
		phases = append(phases, p.Name)
	}
	if !slices.Equal(phases, []string{"faults", "end"}) {
		t.Errorf("phases = %v", phases)
	}
}

func TestRenderViolationsWithEvidence(t *testing.T) {
	recs := splitBrain()
	res := check.Judge(recs)
	sl, _ := res.Get("single-listener")
	if sl.Verdict != check.Fail {
		t.Fatalf("the fixture should fail single-listener; got %s: %s", sl.Verdict, sl.Summary)
	}
	r := render(t, recs, res)

	var got []violation
	for _, v := range r.model.Violations {
		if v.Check == "single-listener" {
			got = append(got, v)
		}
	}
	if len(got) != len(sl.Evidence) {
		t.Fatalf("single-listener entries = %d, want one per piece of evidence (%d)", len(got), len(sl.Evidence))
	}
	first := got[0]
	if first.T != int64(50*ms) || first.Verdict != "fail" || !slices.Equal(first.Lanes, []int{1, 3}) {
		t.Errorf("first entry = %+v, want t=50ms, fail, lanes p2 and p10 [1 3]", first)
	}
	// Its static entry carries the evidence: what, peers, the snapshot with the orphan, and
	// the records around it.
	start := strings.Index(r.page, `id="`+first.ID+`"`)
	if start < 0 {
		t.Fatalf("no element with id %q", first.ID)
	}
	entry := r.page[start:]
	entry = entry[:strings.Index(entry, "</article>")]
	for _, want := range []string{
		html.EscapeString(sl.Evidence[0].What), "p10, p2", "orphaned", "p2 (pid 102)", "history around it", "kind",
	} {
		if !strings.Contains(entry, want) {
			t.Errorf("evidence entry lacks %q:\n%s", want, entry)
		}
	}
	// Every failed check is in the header, linked to its first evidence; passed ones too.
	for _, p := range res.Parts {
		if !strings.Contains(r.page, `class="check verdict-`+string(p.Verdict)+`"`) || !strings.Contains(r.page, ">"+p.Name) {
			t.Errorf("header lacks check %s (%s)", p.Name, p.Verdict)
		}
	}
	if !strings.Contains(r.page, `<a href="#`+first.ID+`">single-listener</a>`) {
		t.Errorf("the failed check does not link to its evidence")
	}
}

func TestRenderHeader(t *testing.T) {
	recs := splitBrain()
	r := render(t, recs, check.Judge(recs))
	for _, want := range []string{
		`<code id="impl">canary probe-unlink</code>`, `<dd id="transport">unix</dd>`,
		`<code id="addr">/tmp/x/s.sock</code>`, `<dd id="seed">7</dd>`,
		`<span id="verdict" class="badge verdict-fail">fail</span>`,
		`<code id="replay">splitbrain run --seed 7</code>`,
	} {
		if !strings.Contains(r.page, want) {
			t.Errorf("header lacks %s", want)
		}
	}
}

func TestRenderIsSelfContained(t *testing.T) {
	recs := splitBrain()
	r := render(t, recs, check.Judge(recs))
	for _, bad := range []string{"http://", "https://", "src=", "<link", "@import", "url(http"} {
		// The SVG namespace is an identifier, not a fetch.
		page := strings.ReplaceAll(r.page, "http://www.w3.org/2000/svg", "")
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q: it must load nothing", bad)
		}
	}
}

func TestRenderEscapesPeerStrings(t *testing.T) {
	const evil = `<script>alert("id")</script>`
	const stderr = `<img src=x onerror=alert(1)>`
	const protoErr = `</script><script>alert(2)</script>`
	var x h
	x.add(0, history.Record{Kind: history.KindRun, Run: &history.Run{Impl: `peer --flag "<b>bold</b>"`, Transport: "unix", Addr: "/tmp/<i>/s.sock", Replay: `splitbrain run --impl '<svg onload=alert(3)>'`}})
	x.start(ms, evil, 1)
	x.add(2*ms, history.Record{Kind: history.KindProtocolError, Peer: evil, PID: 1, Detail: protoErr})
	x.observe(3*ms, []kernel.Listener{listener(1, 1, false), listener(2, 1, true)}, nil)
	x.exit(4*ms, evil, 1, history.Exit{Code: 1, StderrTail: []string{stderr}})
	recs := []history.Record(x)
	res := check.Judge(recs)
	r := render(t, recs, res)

	if n := strings.Count(r.page, "<script"); n != 2 {
		t.Errorf("the page has %d <script elements, want 2 (the data and the code)", n)
	}
	for _, bad := range []string{"<img", "<b>bold", "<i>/", "<svg onload", `<script>alert`} {
		if strings.Contains(r.page, bad) {
			t.Errorf("a peer-controlled string reached the page unescaped: %q", bad)
		}
	}
	// Escaped, the strings are still there to read, and the model carries them exactly.
	for _, want := range []string{html.EscapeString(evil), "&lt;b&gt;bold&lt;/b&gt;"} {
		if !strings.Contains(r.page, want) {
			t.Errorf("the page lacks the escaped %q", want)
		}
	}
	if r.model.Lanes[0].Peer != evil {
		t.Errorf("lane peer = %q, want %q", r.model.Lanes[0].Peer, evil)
	}
	var texts []string
	for _, m := range r.model.Marks {
		texts = append(texts, m.Text)
	}
	joined := strings.Join(texts, "\n")
	if !strings.Contains(joined, protoErr) || !strings.Contains(joined, stderr) {
		t.Errorf("marks lose the peer's text: %q", joined)
	}
}

func TestRenderWithoutHistoryOrResults(t *testing.T) {
	r := render(t, nil, check.Results{})
	if len(r.model.Lanes) != 0 || len(r.model.Count) != 0 || r.model.Horizon != 0 {
		t.Errorf("empty model = %+v", r.model)
	}
	if !strings.Contains(r.page, "not judged") || !strings.Contains(r.page, "no run record") {
		t.Errorf("the empty page does not say what it lacks")
	}
}

func TestRenderSortsRecords(t *testing.T) {
	recs := splitBrain()
	shuffled := slices.Clone(recs)
	slices.Reverse(shuffled)
	a := render(t, recs, check.Results{})
	b := render(t, shuffled, check.Results{})
	ja, _ := json.Marshal(a.model)
	jb, _ := json.Marshal(b.model)
	if !bytes.Equal(ja, jb) {
		t.Errorf("records out of T order draw another picture")
	}
	if !slices.Equal(shuffled[0:1], []history.Record{recs[len(recs)-1]}) {
		t.Errorf("Render reordered its input")
	}
}

func TestNaturalOrder(t *testing.T) {
	ids := []string{"p10", "p2", "b", "p1", "a3", "p02x", "a10", "p2a"}
	slices.SortFunc(ids, natural)
	if want := []string{"a3", "a10", "b", "p1", "p2", "p2a", "p02x", "p10"}; !slices.Equal(ids, want) {
		t.Errorf("natural order = %v, want %v", ids, want)
	}
}

func TestFmtDur(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0µs", 1500 * time.Nanosecond: "2µs", 165 * ms: "165ms", 1234567 * time.Nanosecond: "1.235ms",
		9 * time.Second: "9000ms", 12345 * ms: "12.345s",
	} {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
}
