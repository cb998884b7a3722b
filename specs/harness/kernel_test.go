package harness_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"

	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// snapshotOf returns a function for Eventually that takes a snapshot of o over pids.
func snapshotOf(o *kernel.Observer, pids []int) func() (kernel.Snapshot, error) {
	return func() (kernel.Snapshot, error) { return o.Snapshot(pids) }
}

// listener matches a kernel.Listener by inode, owner and reachability.
func listener(ino uint64, pid int, orphaned bool) OmegaMatcher {
	return MatchFields(IgnoreExtras, Fields{
		"Inode":    Equal(ino),
		"PIDs":     Equal([]int{pid}),
		"Orphaned": Equal(orphaned),
	})
}

// conn matches a kernel.Conn: client, the accepting process, and the listener it reached.
func conn(client holder, serverPID int, listenerIno uint64) OmegaMatcher {
	return MatchFields(IgnoreExtras, Fields{
		"ClientInode":   Equal(client.Inode),
		"ClientPIDs":    Equal([]int{client.PID}),
		"ServerInode":   Not(BeZero()),
		"ServerPIDs":    Equal([]int{serverPID}),
		"ListenerInode": Equal(listenerIno),
	})
}

var _ = Describe("The kernel view", func() {
	Context("of a unix socket path whose first listener was unlinked by hand", func() {
		var (
			path                    string
			orphan, successor       holder
			orphanCli, successorCli holder
		)
		BeforeEach(func() {
			path = filepath.Join(tempDir(), "e.sock")
			orphan = hold("listen", "unix!"+path)
			orphanCli = hold("dial", "unix!"+path) // connected before the unlink
			Expect(os.Remove(path)).To(Succeed())  // what a racing "probe, unlink, listen" does
			successor = hold("listen", "unix!"+path)
			successorCli = hold("dial", "unix!"+path)
		})

		It("finds two listeners, the first orphaned, each with its own pid, and attributes each client to the listener it reached", func() {
			pids := []int{orphan.PID, successor.PID, orphanCli.PID, successorCli.PID}
			for _, scan := range [][]int{pids, nil} { // the run's pids, and all of /proc
				o := kernel.NewUnix(path)
				Eventually(snapshotOf(o, scan)).Should(MatchFields(IgnoreExtras, Fields{
					"Listeners": ConsistOf(
						listener(orphan.Inode, orphan.PID, true),
						listener(successor.Inode, successor.PID, false),
					),
					"Conns": ConsistOf(
						conn(orphanCli, orphan.PID, orphan.Inode),
						conn(successorCli, successor.PID, successor.Inode),
					),
				}), "scan of %v", scan)
				s, err := o.Snapshot(scan)
				Expect(err).NotTo(HaveOccurred())
				r, ok := s.Reachable()
				Expect(ok).To(BeTrue())
				Expect(r.Inode).To(Equal(successor.Inode), "the path leads to the successor")
				Expect(s.Listeners[0].Inode).To(Equal(successor.Inode), "reachable listeners come first")
			}
		})

		It("drops the orphan, and its client, once the orphan's process is gone", func() {
			o := kernel.NewUnix(path)
			pids := []int{orphan.PID, successor.PID, orphanCli.PID, successorCli.PID}
			Eventually(snapshotOf(o, pids)).Should(HaveField("Listeners", HaveLen(2)))
			p, err := os.FindProcess(orphan.PID)
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Kill()).To(Succeed()) // our own helper, by pid
			Eventually(snapshotOf(o, pids)).Should(MatchFields(IgnoreExtras, Fields{
				"Listeners": ConsistOf(listener(successor.Inode, successor.PID, false)),
				"Conns":     ConsistOf(conn(successorCli, successor.PID, successor.Inode)),
			}))
		})
	})

	Context("of a loopback TCP port with an IPv4 and an IPv6 listener", func() {
		var (
			port         string
			v4, v6       holder
			v4Cli, v6Cli holder
		)
		BeforeEach(func() {
			v4 = hold("listen", "tcp4!127.0.0.1:0")
			ap, err := netip.ParseAddrPort(v4.Addr)
			Expect(err).NotTo(HaveOccurred())
			port = strconv.Itoa(int(ap.Port()))
			v6 = hold("listen", "tcp6![::1]:"+port)
			v4Cli = hold("dial", "tcp4!127.0.0.1:"+port)
			v6Cli = hold("dial", "tcp6![::1]:"+port)
		})

		It("finds two listeners, the other family's orphaned, each client on its own listener", func() {
			pids := []int{v4.PID, v6.PID, v4Cli.PID, v6Cli.PID}
			for _, tc := range []struct {
				addr            string
				reached, orphan holder
			}{
				{addr: "127.0.0.1:" + port, reached: v4, orphan: v6},
				{addr: "[::1]:" + port, reached: v6, orphan: v4},
			} {
				o, err := kernel.NewTCP(tc.addr)
				Expect(err).NotTo(HaveOccurred())
				Eventually(snapshotOf(o, pids)).Should(MatchFields(IgnoreExtras, Fields{
					"Listeners": ConsistOf(
						listener(tc.reached.Inode, tc.reached.PID, false),
						listener(tc.orphan.Inode, tc.orphan.PID, true),
					),
					"Conns": ConsistOf(
						conn(v4Cli, v4.PID, v4.Inode),
						conn(v6Cli, v6.PID, v6.Inode),
					),
				}), "observing %s", tc.addr)
				s, err := o.Snapshot(pids)
				Expect(err).NotTo(HaveOccurred())
				r, ok := s.Reachable()
				Expect(ok).To(BeTrue())
				Expect(r.Inode).To(Equal(tc.reached.Inode), "observing %s", tc.addr)
			}
		})
	})
})
