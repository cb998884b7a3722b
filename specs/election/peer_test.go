package election_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// nobody is the uid (and gid) the foreign-user specs run peers as.
const nobody = 65534

// peerSpec says how to start one `splitbrain peer`.
type peerSpec struct {
	ID         string // SPLITBRAIN_PEER
	Transport  string // "unix" (default) or "tcp"
	Addr       string // socket path or 127.0.0.1:PORT
	SecretFile string // tcp only
	Failpoints string // SPLITBRAIN_FAILPOINTS; "" for none
	UID        int    // 0: the test's own user; otherwise this uid and gid
	// Gated peers wait, in a shell, for one line on stdin ("go") before they exec the
	// peer, so that a storm's processes are all forked before any of them elects.
	Gated bool
}

// peer is one running `splitbrain peer` process. Its stdout is parsed as protocol events.
type peer struct {
	ID      string
	session *gexec.Session
	stdin   io.WriteCloser
}

// startPeer starts a peer and registers its cleanup: SIGKILL and reap, then a check that
// every stdout line it wrote was a protocol event.
func startPeer(s peerSpec) *peer {
	GinkgoHelper()
	p, err := launchPeer(s)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(p.cleanup)
	return p
}

// launchPeer starts a peer without registering a cleanup: the caller must call cleanup.
// It is safe from several goroutines at once (the storm).
func launchPeer(s peerSpec) (*peer, error) {
	if s.Transport == "" {
		s.Transport = "unix"
	}
	args := []string{"peer"}
	if impl := os.Getenv("SPLITBRAIN_SPECS_IMPL"); impl != "" {
		// Point the specs at a canary to see them fail: they must catch its bug.
		args = append(args, "--impl", impl)
	}
	cmd := exec.Command(splitbrainBin, args...)
	if s.Gated {
		// The shell's read takes exactly one line from the pipe; exec keeps the pid.
		cmd = exec.Command("/bin/sh", append([]string{"-c", `read -r _ && exec "$0" "$@"`, splitbrainBin}, args...)...)
	}
	for _, kv := range os.Environ() {
		// Hermetic: nothing of the test's own SPLITBRAIN_* settings leaks into a peer.
		if !strings.HasPrefix(kv, "SPLITBRAIN_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		protocol.EnvProtocol+"="+strconv.Itoa(protocol.Version),
		protocol.EnvTransport+"="+s.Transport,
		protocol.EnvAddr+"="+s.Addr,
		protocol.EnvPeer+"="+s.ID,
	)
	if s.SecretFile != "" {
		cmd.Env = append(cmd.Env, protocol.EnvSecretFile+"="+s.SecretFile)
	}
	if s.Failpoints != "" {
		cmd.Env = append(cmd.Env, protocol.EnvFailpoints+"="+s.Failpoints)
	}
	// Own process group, and SIGKILL if the test process dies first: nothing outlives us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.UID != 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(s.UID), Gid: uint32(s.UID), Groups: []uint32{}}
		cmd.Dir = "/"
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	session, err := gexec.Start(cmd,
		gexec.NewPrefixedWriter(fmt.Sprintf("[%s out] ", s.ID), GinkgoWriter),
		gexec.NewPrefixedWriter(fmt.Sprintf("[%s err] ", s.ID), GinkgoWriter))
	if err != nil {
		return nil, fmt.Errorf("start peer %s: %w", s.ID, err)
	}
	return &peer{ID: s.ID, session: session, stdin: stdin}, nil
}

// cleanup kills the peer if it still runs, reaps it, and checks its stdout was clean protocol.
func (p *peer) cleanup() {
	GinkgoHelper()
	p.kill()
	Expect(p.protocolErrors()).To(BeEmpty(), "peer %s wrote lines that are not protocol events", p.ID)
}

// kill sends SIGKILL and waits until the process is reaped. os.Process.Signal goes through a
// pidfd, so it never hits a reused pid once the peer has been reaped. The reference peer
// starts no children, so the process is the whole group.
func (p *peer) kill() {
	GinkgoHelper()
	if p.session.ExitCode() == -1 {
		p.session.Command.Process.Signal(syscall.SIGKILL)
	}
	Eventually(p.session).Should(gexec.Exit(), "peer %s was not reaped after SIGKILL", p.ID)
}

// signal sends sig to the peer (if it still runs).
func (p *peer) signal(sig syscall.Signal) {
	GinkgoHelper()
	Expect(p.session.Command.Process.Signal(sig)).To(Succeed(), "signal %v to %s", sig, p.ID)
}

// Pid is the peer's process id.
func (p *peer) Pid() int { return p.session.Command.Process.Pid }

// send writes one command line on the peer's stdin.
func (p *peer) send(c protocol.Command) {
	GinkgoHelper()
	_, err := p.stdin.Write(protocol.Encode(c))
	Expect(err).NotTo(HaveOccurred(), "write %s to %s's stdin", c.Cmd, p.ID)
}

// release lets a gated peer go.
func (p *peer) release() error {
	_, err := p.stdin.Write([]byte("go\n"))
	return err
}

// stderr is what the peer wrote on stderr so far.
func (p *peer) stderr() string { return string(p.session.Err.Contents()) }

// lines returns the complete stdout lines so far.
func (p *peer) lines() [][]byte {
	out := p.session.Out.Contents()
	if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
		out = out[:i]
	} else {
		return nil
	}
	return bytes.Split(out, []byte("\n"))
}

// Events returns every protocol event the peer printed so far, in order. Lines that are not
// events are skipped here and reported by protocolErrors.
func (p *peer) Events() []protocol.Event {
	var evs []protocol.Event
	for _, l := range p.lines() {
		if ev, err := protocol.ParseEvent(l); err == nil {
			evs = append(evs, ev)
		}
	}
	return evs
}

func (p *peer) protocolErrors() []string {
	var bad []string
	for _, l := range p.lines() {
		if _, err := protocol.ParseEvent(l); err != nil {
			bad = append(bad, err.Error())
		}
	}
	return bad
}

// Of returns the events of one kind.
func (p *peer) Of(kind string) []protocol.Event {
	var evs []protocol.Event
	for _, ev := range p.Events() {
		if ev.Event == kind {
			evs = append(evs, ev)
		}
	}
	return evs
}

// role is what a peer last said it is.
type role struct {
	Kind   string // "leader", "follower", "lost", "closed", or "" before any of them
	Leader string // the leader followed (follower)
	Epoch  uint64 // the epoch led or followed
}

// Role returns the peer's role from its last leader, follower, lost or closed event.
func (p *peer) Role() role {
	var r role
	for _, ev := range p.Events() {
		switch ev.Event {
		case protocol.EventLeader, protocol.EventFollower, protocol.EventLost, protocol.EventClosed:
			r = role{Kind: ev.Event, Leader: ev.Leader}
			if ev.Epoch != nil {
				r.Epoch = *ev.Epoch
			}
		}
	}
	return r
}

// members returns the member ids of the peer's connection events, in order.
func (p *peer) members() []string {
	var ids []string
	for _, ev := range p.Of(protocol.EventConnection) {
		ids = append(ids, ev.Member)
	}
	return ids
}

// membersSinceLead returns the member ids of the connection events since the peer's last
// leader event.
func (p *peer) membersSinceLead() []string {
	var ids []string
	for _, ev := range p.Events() {
		switch ev.Event {
		case protocol.EventLeader:
			ids = nil
		case protocol.EventConnection:
			ids = append(ids, ev.Member)
		}
	}
	return ids
}

// settled returns the one leader among ps when exactly one of them leads and every other
// follows it at its epoch; otherwise an error that says what is still missing.
func settled(ps []*peer) (*peer, error) {
	var leader *peer
	roles := map[string]role{}
	for _, p := range ps {
		r := p.Role()
		roles[p.ID] = r
		if r.Kind == protocol.EventLeader {
			if leader != nil {
				return nil, fmt.Errorf("two peers say they lead: %s and %s (%v)", leader.ID, p.ID, roles)
			}
			leader = p
		}
	}
	if leader == nil {
		return nil, fmt.Errorf("no peer leads yet: %v", roles)
	}
	want := roles[leader.ID].Epoch
	for _, p := range ps {
		if p == leader {
			continue
		}
		if r := roles[p.ID]; r.Kind != protocol.EventFollower || r.Leader != leader.ID || r.Epoch != want {
			return nil, fmt.Errorf("%s is %+v, not a follower of %s at epoch %d", p.ID, r, leader.ID, want)
		}
	}
	return leader, nil
}

// awaitSettled waits until ps have settled and returns their leader.
func awaitSettled(ps []*peer) *peer {
	GinkgoHelper()
	var leader *peer
	Eventually(func() error {
		var err error
		leader, err = settled(ps)
		return err
	}).Should(Succeed())
	return leader
}

// tempDir makes a fresh directory with mode, removed after the spec. The name is short so
// the socket path fits in sun_path.
func tempDir(mode os.FileMode) string {
	GinkgoHelper()
	dir, err := os.MkdirTemp("", "sbs-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	Expect(os.Chmod(dir, mode)).To(Succeed())
	return dir
}

// socketPath returns a fresh election path in its own 0755 directory.
func socketPath() string {
	GinkgoHelper()
	return filepath.Join(tempDir(0o755), "e.sock")
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() int {
	GinkgoHelper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	port := l.Addr().(*net.TCPAddr).Port
	Expect(l.Close()).To(Succeed())
	return port
}

// secretFile writes a fresh 0600 file of 32 random bytes in dir.
func secretFile(dir, name string) string {
	GinkgoHelper()
	b := make([]byte, 32)
	_, err := rand.Read(b)
	Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(dir, name)
	Expect(os.WriteFile(path, b, 0o600)).To(Succeed())
	return path
}

// stillLeads asserts, for a while, that p keeps saying it leads at epoch.
func stillLeads(p *peer, epoch uint64) {
	GinkgoHelper()
	Consistently(p.Role).Should(Equal(role{Kind: protocol.EventLeader, Epoch: epoch}))
	Expect(p.session.ExitCode()).To(Equal(-1), "%s exited", p.ID)
}

// shortly is a bound for things that must happen promptly even on a loaded machine.
const shortly = 10 * time.Second
