package timeline_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/timeline"
)

// browse runs headless Chromium on a fresh profile with args (after the common flags) and
// returns its stdout. The browser runs in its own process group, killed whole afterwards.
func browse(args ...string) string {
	if chromium == "" {
		Skip("chromium is not installed (apt-get install -y chromium): the timeline page cannot be opened")
	}
	profile := GinkgoT().TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + profile,
	}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = GinkgoWriter
	Expect(cmd.Start()).To(Succeed(), "start %s", chromium)
	DeferCleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }) // helpers left in the group
	Expect(cmd.Wait()).To(Succeed(), "chromium %v", args)
	return out.String()
}

// canaryPage renders testdata/canary.jsonl, judged by every checker, to a temp file.
func canaryPage() (path string, res check.Results) {
	h, err := history.ReadFile("testdata/canary.jsonl")
	Expect(err).NotTo(HaveOccurred())
	res = check.Judge(h)
	path, err = timeline.WriteFile(GinkgoT().TempDir(), h, res)
	Expect(err).NotTo(HaveOccurred())
	return path, res
}

// elements returns the start tags of tag in dom that contain every one of attrs.
func elements(dom, tag string, attrs ...string) []string {
	var out []string
	re := regexp.MustCompile(`<` + tag + `\b[^>]*>`)
	for _, m := range re.FindAllString(dom, -1) {
		ok := true
		for _, a := range attrs {
			ok = ok && strings.Contains(m, a)
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

var pathD = regexp.MustCompile(`\sd="([^"]*)"`)

var _ = Describe("The timeline of a canary run with two listeners", func() {
	var (
		page string
		res  check.Results
	)
	BeforeEach(func() {
		page, res = canaryPage()
		Expect(res.Verdict()).To(Equal(check.Fail), "the canary history must fail: it is the picture of a violation")
	})

	It("draws a lane per peer, the listener count reaching 2, and the violations, once its script ran", func() {
		dom := browse("--dump-dom", "file://"+page)
		Expect(dom).To(ContainSubstring(`data-rendered="ok"`), "the page's script did not finish drawing")

		By("a lane per peer, in natural order, with its states drawn")
		labels := regexp.MustCompile(`<text class="lane-label"[^>]*data-peer="([^"]+)"`).FindAllStringSubmatch(dom, -1)
		var peers []string
		for _, l := range labels {
			peers = append(peers, l[1])
		}
		Expect(peers).To(Equal([]string{"p1", "p2", "p3", "p4"}))
		for _, state := range []string{"leader", "follower", "paused", "dead", "starting", "electing"} {
			p := elements(dom, "path", `data-state="`+state+`"`)
			Expect(p).To(HaveLen(1), "one path draws every %s interval", state)
			Expect(pathD.FindStringSubmatch(p[0])[1]).NotTo(BeEmpty(), "no %s interval drawn", state)
		}
		orphan := elements(dom, "path", `data-kernel="orphaned"`)
		Expect(orphan).To(HaveLen(1))
		Expect(pathD.FindStringSubmatch(orphan[0])[1]).NotTo(BeEmpty(), "p2's orphaned listener is not drawn")

		By("the listener count track reaching 2, with the orphan")
		Expect(elements(dom, "g", `id="count-track"`, `data-max="2"`)).To(HaveLen(1))
		Expect(dom).To(MatchRegexp(`<text class="count-label"[^>]*data-count="2"[^>]*data-orphaned="1"[^>]*>2 listeners \(1 orphaned\)</text>`))
		red := elements(dom, "path", `class="count-c2"`)
		Expect(red).To(HaveLen(1))
		Expect(pathD.FindStringSubmatch(red[0])[1]).NotTo(BeEmpty(), "no red (2+) segment")

		By("the faults, labelled")
		for _, f := range []string{"pause", "kill-leader", "resume", "restart-dead"} {
			Expect(dom).To(MatchRegexp(`<text class="fault-label[^"]*"[^>]*>` + f + `</text>`))
		}

		By("a marker for every piece of evidence of a failed check, and the evidence on the page")
		sl, _ := res.Get("single-listener")
		Expect(elements(dom, "path", `class="violation-mark`, `data-check="single-listener"`)).To(HaveLen(len(sl.Evidence)))
		Expect(dom).To(ContainSubstring(`id="ev-single-listener-0"`))
		Expect(dom).To(ContainSubstring("2 listeners on the address: listener inode 5004 held by p4 [204]; listener inode 5002 held by p2 [202] (orphaned)"))

		By("the header: impl, transport, addr, seed, verdict, replay")
		Expect(dom).To(ContainSubstring(`<code id="impl">splitbrain canary probe-unlink</code>`))
		Expect(dom).To(ContainSubstring(`<dd id="transport">unix</dd>`))
		Expect(dom).To(ContainSubstring(`<code id="addr">/tmp/sb-canary/s.sock</code>`))
		Expect(dom).To(ContainSubstring(`<dd id="seed">7</dd>`))
		Expect(dom).To(ContainSubstring(`<span id="verdict" class="badge verdict-fail">fail</span>`))
		Expect(dom).To(ContainSubstring(`--faults pause,kill-leader,restart-dead --seed 7</code>`))

		By("p4's garbage line shown as text, not run as a script")
		Expect(dom).NotTo(ContainSubstring("<script>alert"))
		Expect(dom).To(ContainSubstring("&lt;script&gt;alert('p4')&lt;/script&gt;"))
		Expect(strings.Count(dom, "<script")).To(Equal(2))
	})

	It("opens the evidence of a violation in the details panel", func() {
		dom := browse("--dump-dom", "file://"+page+"#ev-single-listener-0")
		Expect(dom).To(ContainSubstring(`data-rendered="ok"`))
		panel := regexp.MustCompile(`(?s)<aside id="panel"[^>]*>.*?</aside>`).FindString(dom)
		Expect(panel).NotTo(BeEmpty())
		Expect(panel).NotTo(MatchRegexp(`<aside id="panel"[^>]*hidden`), "the panel stays hidden")
		Expect(panel).To(ContainSubstring(`data-violation="ev-single-listener-0"`))
		Expect(panel).To(ContainSubstring("single-listener"))
		Expect(panel).To(ContainSubstring("listener inode 5002 held by p2 [202] (orphaned)"))
		Expect(panel).To(ContainSubstring("p2 (pid 202)"), "the kernel snapshot table")
		Expect(panel).To(ContainSubstring("history around it"))
		Expect(elements(dom, "path", `class="violation-mark selected"`, `data-v="0"`)).To(HaveLen(1))
	})

	It("looks like a split brain: red where two listeners ran", func() {
		shot := filepath.Join(GinkgoT().TempDir(), "timeline.png")
		browse("--window-size=1400,1000", "--screenshot="+shot, "file://"+page)
		f, err := os.Open(shot)
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		img, err := png.Decode(f)
		Expect(err).NotTo(HaveOccurred())
		Expect(img.Bounds().Dx()).To(BeNumerically(">=", 1400))
		// The 2+ listener segment (#d83a3a) spans most of the run: many pixels of it, not a
		// blank page or a chart that failed to draw.
		Expect(countColor(img, 0xd8, 0x3a, 0x3a)).To(BeNumerically(">", 5000))
		// The leader green (#2f9e5f) of the lanes and the count track.
		Expect(countColor(img, 0x2f, 0x9e, 0x5f)).To(BeNumerically(">", 5000))
		if os.Getenv("SPLITBRAIN_UPDATE_SCREENSHOT") != "" {
			b, err := os.ReadFile(shot)
			Expect(err).NotTo(HaveOccurred())
			Expect(os.MkdirAll("../../docs/img", 0o755)).To(Succeed())
			Expect(os.WriteFile("../../docs/img/timeline-canary.png", b, 0o644)).To(Succeed())
			fmt.Fprintln(GinkgoWriter, "wrote docs/img/timeline-canary.png")
		}
	})
})

// countColor counts the pixels of img within a few units of the colour r, g, b.
func countColor(img image.Image, r, g, b uint8) int {
	near := func(a uint32, want uint8) bool { d := int(a>>8) - int(want); return d >= -6 && d <= 6 }
	n := 0
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if near(cr, r) && near(cg, g) && near(cb, b) {
				n++
			}
		}
	}
	return n
}
