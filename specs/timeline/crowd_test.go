package timeline_test

import (
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
	"github.com/splitbrain-dev/splitbrain/harness/timeline"
)

// crowd makes the history of a white-box run of n peers: p1 leads, every follower follows,
// and the leader is killed every 400ms, kills times. At the failovers listed in splits, the
// next two peers both claim the leadership and the kernel shows both listening, the second
// on an orphaned socket, until the second steps down. It ends with a settle window in which
// every live peer is connected to the leader. (A real 200-peer run takes about 16 s on 2
// cores; this history is judged by the real checkers all the same.)
func crowd(n, kills int, splits ...int) []history.Record {
	const addr = "/tmp/sb-crowd/s.sock"
	var h []history.Record
	add := func(t time.Duration, r history.Record) { r.T = t; h = append(h, r) }
	ms := time.Millisecond
	add(0, history.Record{Kind: history.KindRun, Run: &history.Run{
		Version: 1, Impl: "crowd", Transport: "unix", Addr: addr, Peers: n, Seed: 3,
		Faults: []string{"kill-leader"}, Settle: 100 * ms, Liveness: 5 * time.Second,
		Replay: "splitbrain run --impl crowd --peers " + strconv.Itoa(n) + " --seed 3",
	}})
	pid := func(i int) int { return 1000 + i }
	peer := func(i int) string { return fmt.Sprintf("p%d", i) }
	event := func(t time.Duration, i int, e protocol.Event) {
		add(t, history.Record{Kind: history.KindEvent, Peer: peer(i), PID: pid(i), Event: &e})
	}
	inode := uint64(5000)
	listener := func(i int, orphaned bool) kernel.Listener {
		inode++
		return kernel.Listener{Inode: inode, PIDs: []int{pid(i)}, Name: addr, VFSInode: 9000 + inode, Orphaned: orphaned}
	}
	// observe shows leader listening and every live follower connected to it.
	dead := map[int]bool{}
	observe := func(t time.Duration, leader int, extra ...kernel.Listener) {
		l := listener(leader, false)
		s := &kernel.Snapshot{Taken: t, PathInode: l.VFSInode, Listeners: append([]kernel.Listener{l}, extra...)}
		for i := 1; i <= n; i++ {
			if i != leader && !dead[i] {
				s.Conns = append(s.Conns, kernel.Conn{ClientInode: uint64(i), ClientPIDs: []int{pid(i)}, ServerInode: uint64(20000 + i), ServerPIDs: []int{pid(leader)}, ListenerInode: l.Inode})
			}
		}
		add(t, history.Record{Kind: history.KindObservation, Snapshot: s})
	}
	follow := func(t time.Duration, leader int, epoch uint64) {
		for i := 1; i <= n; i++ {
			if i != leader && !dead[i] {
				event(t+time.Duration(i)*time.Microsecond, i, protocol.Event{Event: protocol.EventFollower, Leader: peer(leader), Epoch: &epoch})
			}
		}
	}
	for i := 1; i <= n; i++ {
		add(ms+time.Duration(i)*10*time.Microsecond, history.Record{Kind: history.KindStart, Peer: peer(i), PID: pid(i)})
	}
	epoch := uint64(1)
	event(20*ms, 1, protocol.Event{Event: protocol.EventLeader, Epoch: &epoch})
	follow(25*ms, 1, epoch)
	observe(40*ms, 1)
	add(50*ms, history.Record{Kind: history.KindPhase, Detail: check.PhaseFaults})
	leader, next := 1, 2
	t := 50 * ms
	for k := 1; k <= kills; k++ {
		t += 400 * ms
		add(t, history.Record{Kind: history.KindFault, Peer: peer(leader), PID: pid(leader), Fault: &history.Fault{Name: "kill-leader", Target: peer(leader), PID: pid(leader), Signal: "SIGKILL"}})
		add(t+ms, history.Record{Kind: history.KindExit, Peer: peer(leader), PID: pid(leader), Exit: &history.Exit{Code: -1, Signal: "SIGKILL", ByHarness: true}})
		dead[leader] = true
		for i := 1; i <= n; i++ {
			if !dead[i] {
				event(t+2*ms, i, protocol.Event{Event: protocol.EventLost})
			}
		}
		epoch++
		leader = next
		next++
		event(t+20*ms, leader, protocol.Event{Event: protocol.EventLeader, Epoch: &epoch})
		for _, s := range splits {
			if s != k {
				continue
			}
			// A second leader on the socket the first one's path no longer names.
			rival := next
			next++
			e2 := epoch
			event(t+21*ms, rival, protocol.Event{Event: protocol.EventLeader, Epoch: &e2})
			observe(t+30*ms, leader, listener(rival, true))
			observe(t+60*ms, leader, listener(rival, true))
			event(t+90*ms, rival, protocol.Event{Event: protocol.EventLost})
		}
		follow(t+100*ms, leader, epoch)
		observe(t+150*ms, leader)
	}
	t += 400 * ms
	add(t, history.Record{Kind: history.KindPhase, Detail: check.PhaseSettle})
	observe(t+200*ms, leader)
	add(t+250*ms, history.Record{Kind: history.KindPhase, Detail: check.PhaseEnd})
	return h
}

// crowdPage renders crowd(n, ...) judged by every checker and returns the page, the
// results, and the ids of the violations in page order.
func crowdPage(n int) (page string, res check.Results, ids []string) {
	h := crowd(n, 8, 3, 6)
	res = check.Judge(h)
	page, err := timeline.WriteFile(GinkgoT().TempDir(), h, res)
	Expect(err).NotTo(HaveOccurred())
	for _, p := range res.Parts {
		if p.Verdict == check.Fail || p.Verdict == check.Inconclusive {
			for i := range p.Evidence {
				ids = append(ids, fmt.Sprintf("ev-%s-%d", p.Name, i))
			}
		}
	}
	return page, res, ids
}

// withClicks writes a copy of page whose last script clicks the buttons with the given ids,
// in order, once the page's own script has run (the page allows inline scripts, and nothing
// else), and returns its path.
func withClicks(page string, ids ...string) string {
	b, err := os.ReadFile(page)
	Expect(err).NotTo(HaveOccurred())
	var js strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&js, "document.getElementById(%q).click();", id)
	}
	out := filepath.Join(GinkgoT().TempDir(), "clicked.html")
	html := strings.Replace(string(b), "</body>", "<script>"+js.String()+"</script></body>", 1)
	Expect(os.WriteFile(out, []byte(html), 0o644)).To(Succeed())
	return out
}

// attr returns the value of attribute name on the first start tag of tag with id.
func attr(dom, tag, id, name string) string {
	t := regexp.MustCompile(`<` + tag + `\b[^>]*\bid="` + id + `"[^>]*>`).FindString(dom)
	m := regexp.MustCompile(`\s` + name + `="([^"]*)"`).FindStringSubmatch(t)
	if m == nil {
		return ""
	}
	return m[1]
}

// view is the time range the chart shows, from the body's data-view.
func view(dom string) (t0, t1 int64) {
	m := regexp.MustCompile(`<body[^>]*data-view="(\d+),(\d+)"`).FindStringSubmatch(dom)
	Expect(m).NotTo(BeNil(), "the body has no data-view")
	t0, _ = strconv.ParseInt(m[1], 10, 64)
	t1, _ = strconv.ParseInt(m[2], 10, 64)
	return t0, t1
}

func laneLabels(dom string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<text class="lane-label"[^>]*data-peer="([^"]+)"`).FindAllStringSubmatch(dom, -1) {
		out = append(out, m[1])
	}
	return out
}

var _ = Describe("The timeline of a run with 200 peers", func() {
	var (
		page string
		res  check.Results
		ids  []string
	)
	BeforeEach(func() {
		page, res, ids = crowdPage(200)
		Expect(res.Verdict()).To(Equal(check.Fail), "the crowd's split brains must fail")
		Expect(len(ids)).To(BeNumerically(">=", 3))
	})

	It("folds the healthy peers away, keeping every leader and every peer a violation names", func() {
		dom := browse("--dump-dom", "file://"+page)
		Expect(dom).To(ContainSubstring(`data-rendered="ok"`))
		shown, _ := strconv.Atoi(attr(dom, "svg", "lanes", "data-shown"))
		folded, _ := strconv.Atoi(attr(dom, "svg", "lanes", "data-folded"))
		// 8 killed leaders, their 8 successors' chain and 2 rivals: p1..p11.
		Expect(shown).To(Equal(11))
		Expect(shown + folded).To(Equal(200))
		labels := laneLabels(dom)
		Expect(labels).To(HaveLen(shown))
		Expect(labels).To(ContainElements("p1", "p5", "p9", "p11"), "the leaders and the rivals stay")
		Expect(labels).NotTo(ContainElement("p200"))
		Expect(dom).To(MatchRegexp(`<p id="folded-note">189 healthy peers folded away[^<]*11 of 200 lanes shown</p>`))
		Expect(dom).To(MatchRegexp(`<button[^>]*id="fold"[^>]*>show 189 healthy peers</button>`))

		By("a legend that names every colour and mark on the chart")
		for _, item := range []string{"leader", "follower", "electing", "dead", "orphaned listener", "2+ listeners", "violation", "▼ kill"} {
			Expect(dom).To(MatchRegexp(`<span><i class="sw [^"]+"></i>` + regexp.QuoteMeta(item) + `</span>`))
		}
		Expect(dom).To(ContainSubstring(fmt.Sprintf(`<span id="viol-pos">%d violations</span>`, len(ids))))
	})

	It("shows all 200 lanes again at the toggle", func() {
		dom := browse("--dump-dom", "file://"+withClicks(page, "fold"))
		Expect(dom).To(ContainSubstring(`data-rendered="ok"`))
		Expect(attr(dom, "svg", "lanes", "data-shown")).To(Equal("200"))
		Expect(attr(dom, "svg", "lanes", "data-folded")).To(Equal("0"))
		Expect(laneLabels(dom)).To(HaveLen(200))
		Expect(dom).To(MatchRegexp(`<p id="folded-note" hidden="">`))
	})

	It("jumps from violation to violation, zoomed in on each, and wraps around", func() {
		dom := browse("--dump-dom", "file://"+withClicks(page, "viol-next", "viol-next"))
		Expect(dom).To(MatchRegexp(`<body[^>]*data-selected="1"`))
		Expect(dom).To(ContainSubstring(fmt.Sprintf(`<span id="viol-pos">violation 2 of %d</span>`, len(ids))))
		Expect(dom).To(MatchRegexp(`<aside id="panel" data-violation="` + ids[1] + `"`))
		second := evidenceT(res, ids[1])
		t0, t1 := view(dom)
		Expect(second).To(BeNumerically(">=", t0))
		Expect(second).To(BeNumerically("<=", t1))
		horizon := crowdHorizon(200)
		Expect(t1-t0).To(BeNumerically("<=", horizon/10), "the view is zoomed in on the violation")

		By("back from the first to the last")
		dom = browse("--dump-dom", "file://"+withClicks(page, "viol-next", "viol-prev"))
		Expect(dom).To(ContainSubstring(fmt.Sprintf(`<span id="viol-pos">violation %d of %d</span>`, len(ids), len(ids))))
		Expect(dom).To(MatchRegexp(`<aside id="panel" data-violation="` + ids[len(ids)-1] + `"`))

		By("zooming in halves the time shown")
		dom = browse("--dump-dom", "file://"+withClicks(page, "zoom-in", "zoom-in"))
		z0, z1 := view(dom)
		w0, w1 := view(browse("--dump-dom", "file://"+page))
		Expect(float64(z1 - z0)).To(BeNumerically("~", float64(w1-w0)/4, float64(w1-w0)/100))
	})

	It("looks like a crowd: red where the split brains are, green leaders, folded to fit a screen", func() {
		shot := filepath.Join(GinkgoT().TempDir(), "crowd.png")
		browse("--window-size=1400,900", "--screenshot="+shot, "file://"+page)
		f, err := os.Open(shot)
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		img, err := png.Decode(f)
		Expect(err).NotTo(HaveOccurred())
		Expect(countColor(img, 0xd8, 0x3a, 0x3a)).To(BeNumerically(">", 300), "the violations' red")
		Expect(countColor(img, 0x2f, 0x9e, 0x5f)).To(BeNumerically(">", 3000), "the leaders' green")
	})
})

var _ = Describe("The timeline of a run with 1,000 peers", func() {
	It("draws every lane when unfolded, in a page a browser opens at once", func() {
		page, res, _ := crowdPage(1000)
		Expect(res.Verdict()).To(Equal(check.Fail))
		start := time.Now()
		dom := browse("--dump-dom", "file://"+withClicks(page, "fold"))
		took := time.Since(start)
		Expect(dom).To(ContainSubstring(`data-rendered="ok"`))
		Expect(attr(dom, "svg", "lanes", "data-shown")).To(Equal("1000"))
		Expect(laneLabels(dom)).To(HaveLen(1000))
		Expect(dom).To(ContainSubstring(`<g id="lane-labels" class="dense">`), "1,000 lanes are drawn dense")
		fi, err := os.Stat(page)
		Expect(err).NotTo(HaveOccurred())
		fmt.Fprintf(GinkgoWriter, "1,000 peers: page %d KiB, opened and drawn unfolded in %v\n", fi.Size()>>10, took)
	})
})

// evidenceT is the time, in ns, of the evidence with page id id.
func evidenceT(res check.Results, id string) int64 {
	for _, p := range res.Parts {
		for i, e := range p.Evidence {
			if fmt.Sprintf("ev-%s-%d", p.Name, i) == id {
				return int64(e.T)
			}
		}
	}
	Fail("no evidence " + id)
	return 0
}

// crowdHorizon is the length in ns of crowd(n, 8, ...): its last record's time.
func crowdHorizon(n int) int64 {
	h := crowd(n, 8, 3, 6)
	return int64(h[len(h)-1].T)
}
