package oracle_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
	"github.com/splitbrain-dev/splitbrain/harness/report"
)

// run runs `splitbrain run` of impl (a command line; "" for the reference peer) with args
// into a fresh result folder, waits for it to end, and returns the verdicts it wrote. The
// overall exit code is not asserted: each spec is about the invariants it names.
func run(impl string, args ...string) map[string]check.Result {
	GinkgoHelper()
	out := filepath.Join(GinkgoT().TempDir(), "results")
	if impl == "" {
		impl = bin + " peer"
	}
	all := append([]string{"run", "--out", out, "--impl", impl, "--quiet"}, args...)
	cmd := exec.Command(bin, all...)
	cmd.Dir = GinkgoT().TempDir()
	s, err := gexec.Start(cmd, GinkgoWriter, GinkgoWriter)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		s.Terminate()
		Eventually(s, 30*time.Second).Should(gexec.Exit())
	})
	Eventually(s).Should(gexec.Exit())
	Expect(s.ExitCode()).To(BeNumerically("<=", check.ExitInconclusive), "the harness itself failed")
	b, err := os.ReadFile(filepath.Join(out, report.ResultsFile))
	Expect(err).NotTo(HaveOccurred())
	var r report.Results
	Expect(json.Unmarshal(b, &r)).To(Succeed())
	byName := map[string]check.Result{}
	for _, inv := range r.Invariants {
		byName[inv.Name] = inv
	}
	return byName
}

// variant is the impl command line of a reference variant or canary.
func variant(name string) string { return bin + " peer --impl " + name }

// pythonPeer is the impl command line of the Python flock peer with its SIGTERM behaviour.
func pythonPeer(onTerm string) string {
	GinkgoHelper()
	py, err := exec.LookPath("python3")
	if err != nil {
		Skip("python3 is not on PATH")
	}
	script, err := filepath.Abs(filepath.Join("testdata", "flock_peer.py"))
	Expect(err).NotTo(HaveOccurred())
	return py + " " + script + " --on-term " + onTerm
}

// verdict matches a check.Result by its verdict, showing its summary on failure.
func verdict(v check.Verdict) OmegaMatcher {
	return WithTransform(func(r check.Result) check.Verdict { return r.Verdict }, Equal(v))
}

// Stable groups: followers die and come back, the leader stays, and the settle time is long
// (broadcasts go on through its first half), so that deliveries are required of the leader
// and of the followers alike.
var quietGroup = []string{"--peers", "5", "--duration", "2s", "--settle", "3s", "--faults", "kill-follower,restart-dead", "--broadcasts", "20", "--seed", "11"}

// Failovers: the leader is killed again and again, so that claims follow one another.
var failovers = []string{"--peers", "3", "--duration", "4s", "--settle", "1s", "--faults", "kill-leader", "--seed", "12"}

var _ = Describe("Delivery", func() {
	It("is judged on the reference peer and passes, with deliveries required of the leader and the followers", func() {
		res := run("", quietGroup...)
		d := res["delivery"]
		Expect(d).To(verdict(check.Pass), d.Summary)
		Expect(d.Figures["deliveries_required"]).To(BeNumerically(">", 0))
		Expect(d.Figures["deliveries_missed"]).To(BeZero())
		Expect(d.Figures["deliveries_wrong"]).To(BeZero())
	})

	It("fails a leader that never hands the members' messages to its own user (deaf-leader)", func() {
		d := run(variant("deaf-leader"), quietGroup...)["delivery"]
		Expect(d).To(verdict(check.Fail), d.Summary)
		Expect(d.Summary).To(ContainSubstring("the leader"))
	})

	It("fails followers that drop every message from their leader (deaf-follower)", func() {
		d := run(variant("deaf-follower"), quietGroup...)["delivery"]
		Expect(d).To(verdict(check.Fail), d.Summary)
		Expect(d.Summary).To(ContainSubstring("followers of"))
	})

	It("is not judged for a black-box peer, rather than passed", func() {
		res := run(pythonPeer("default"), "--peers", "3", "--duration", "2s", "--settle", "1s", "--faults", "kill-leader")
		Expect(res["delivery"]).To(verdict(check.NotJudged), res["delivery"].Summary)
		Expect(res["leadership"]).To(verdict(check.NotJudged), res["leadership"].Summary)
		Expect(res["no-unexpected-exits"]).To(verdict(check.Pass), res["no-unexpected-exits"].Summary)
	})
})

var _ = Describe("Leadership", func() {
	It("passes the reference peer across failovers, its epochs growing", func() {
		l := run("", failovers...)["leadership"]
		Expect(l).To(verdict(check.Pass), l.Summary)
		Expect(l.Figures["claims_with_epoch"]).To(BeNumerically(">=", 2))
	})

	It("fails a peer whose every leader announces epoch 1 (epoch-one)", func() {
		l := run(variant("epoch-one"), failovers...)["leadership"]
		Expect(l).To(verdict(check.Fail), l.Summary)
		Expect(l.Summary).To(ContainSubstring("did not grow"))
	})
})

// Churn: leaders die and dead peers come back, so that a follower loses leader after
// leader (give-up-3); followers die and come back, so that a leader welcomes join after
// join (turn-away-16).
var (
	leaderChurn   = []string{"--peers", "5", "--duration", "4s", "--settle", "1s", "--faults", "kill-leader,restart-dead", "--seed", "14"}
	followerChurn = []string{"--peers", "5", "--duration", "4s", "--settle", "1s", "--faults", "kill-follower,restart-dead", "--seed", "15"}
)

var _ = Describe("Deep bugs", func() {
	It("fails a follower that leaves the election after its third lost leader (give-up-3): it is lost", func() {
		l := run(variant("give-up-3"), leaderChurn...)["no-lost-peers"]
		Expect(l).To(verdict(check.Fail), l.Summary)
		Expect(l.Summary).To(ContainSubstring("not connected to the leader"))
	})

	It("fails a leader that turns members away after 16 joins (turn-away-16): they give up", func() {
		e := run(variant("turn-away-16"), followerChurn...)["no-unexpected-exits"]
		Expect(e).To(verdict(check.Fail), e.Summary)
		Expect(e.Summary).To(ContainSubstring("exited with status 3"))
	})

	It("passes the reference peer through the same churn", func() {
		for _, args := range [][]string{leaderChurn, followerChurn} {
			res := run("", args...)
			Expect(res["no-lost-peers"]).To(verdict(check.Pass), res["no-lost-peers"].Summary)
			Expect(res["no-unexpected-exits"]).To(verdict(check.Pass), res["no-unexpected-exits"].Summary)
		}
	})
})

var _ = Describe("Exposure", func() {
	tcp := append([]string{"--transport", "tcp"}, failovers...)

	It("passes the reference peer, bound to 127.0.0.1 only", func() {
		res := run("", tcp...)
		Expect(res["exposure"]).To(verdict(check.Pass), res["exposure"].Summary)
		Expect(res["leadership"]).To(verdict(check.Pass), res["leadership"].Summary)
	})

	It("fails a peer that listens on 0.0.0.0 even though it is the only listener (any-addr)", func() {
		res := run(variant("any-addr"), tcp...)
		Expect(res["exposure"]).To(verdict(check.Fail), res["exposure"].Summary)
		Expect(res["exposure"].Summary).To(ContainSubstring("0.0.0.0"))
		Expect(res["single-listener"]).To(verdict(check.Pass), res["single-listener"].Summary)
	})

	It("does not judge a unix run", func() {
		res := run("", "--peers", "2", "--duration", "1s", "--settle", "500ms", "--faults", "kill-follower")
		Expect(res["exposure"]).To(verdict(check.NotJudged), res["exposure"].Summary)
	})
})

var _ = Describe("Exits", func() {
	terms := []string{"--peers", "3", "--duration", "3s", "--settle", "1s", "--faults", "term-leader,term-follower,kill-follower", "--seed", "13"}

	It("fails a peer that ignores SIGTERM and has to be killed at the end", func() {
		e := run(pythonPeer("ignore"), terms...)["no-unexpected-exits"]
		Expect(e).To(verdict(check.Fail), e.Summary)
		Expect(e.Figures["ignored_sigterm"]).To(BeNumerically(">", 0))
		Expect(e.Summary).To(ContainSubstring("had to kill it"))
	})

	It("fails a peer that exits with status 3 on SIGTERM: a crash in its shutdown path", func() {
		e := run(pythonPeer("exit3"), terms...)["no-unexpected-exits"]
		Expect(e).To(verdict(check.Fail), e.Summary)
		Expect(e.Figures["shutdown_crashes"]).To(BeNumerically(">", 0))
		Expect(e.Summary).To(ContainSubstring("status 3"))
	})

	It("passes the reference peer, which closes on SIGTERM", func() {
		e := run("", terms...)["no-unexpected-exits"]
		Expect(e).To(verdict(check.Pass), e.Summary)
	})
})

var _ = Describe("The kernel observer over tcp", func() {
	It("sees a listener on the election port bound to a LAN address, and exposure fails it", func() {
		lan := lanAddr()
		if !lan.IsValid() {
			Skip("this machine has no non-loopback address to bind")
		}
		lo, err := net.Listen("tcp4", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(lo.Close)
		port := lo.Addr().(*net.TCPAddr).Port
		// Bound on this machine only; nothing connects to it.
		ln, err := net.Listen("tcp", net.JoinHostPort(lan.String(), strconv.Itoa(port)))
		if err != nil {
			Skip(fmt.Sprintf("cannot bind %s:%d: %v", lan, port, err))
		}
		DeferCleanup(ln.Close)

		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		obs, err := kernel.NewTCP(addr)
		Expect(err).NotTo(HaveOccurred())
		snap, err := obs.Snapshot([]int{os.Getpid()})
		Expect(err).NotTo(HaveOccurred())
		var names []string
		for _, l := range snap.Listeners {
			names = append(names, l.Name)
		}
		want := netip.AddrPortFrom(lan, uint16(port)).String()
		Expect(names).To(ConsistOf(addr, want))

		h := []history.Record{
			{Kind: history.KindRun, Run: &history.Run{Version: 1, Transport: "tcp", Addr: addr}},
			{T: time.Millisecond, Kind: history.KindObservation, Snapshot: &snap},
		}
		r := check.Exposure{}.Check(h)
		Expect(r).To(verdict(check.Fail), r.Summary)
		Expect(r.Summary).To(ContainSubstring(want))
	})
})

// lanAddr returns an address of this machine that is not loopback, link-local or a
// wildcard, or the zero Addr.
func lanAddr() netip.Addr {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(n.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() {
			continue
		}
		return ip
	}
	return netip.Addr{}
}
