package proc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// Errors returned by Group and Peer.
var (
	// ErrExited means the peer process has already exited; its group is no longer signalled,
	// since its pid (and so its process group id) may be reused.
	ErrExited = errors.New("peer process has exited")
	// ErrClosed means the Group is closed and starts no new peers.
	ErrClosed = errors.New("process group closed")
)

// Options bound what a Group keeps of each peer. Zero fields take the defaults shown.
type Options struct {
	MaxLine      int           // longest stdout/stderr line kept, in bytes; default 64 KiB
	MaxStdout    int64         // stdout bytes per peer turned into records (recordOverhead more per line); default 8 MiB
	MaxAllStdout int64         // the same, for all peers of the Group together; default 256 MiB
	MaxBadLines  int           // protocol-error records kept per peer; later bad lines are only counted; default 100
	StderrLines  int           // stderr lines kept for the exit record; default 20
	MaxLog       int64         // bytes of stderr written to a peer's log file; default 16 MiB
	StdinQueue   int           // commands queued per peer before Send drops; default 64
	WaitDelay    time.Duration // how long Wait waits for pipes after the process ends; default 2s
	// LogDir, if set, gets one stderr log per peer id, "ID.stderr.log" (appended across
	// restarts of the same id).
	LogDir string
	// LeftBehind, if set, is called when a peer's process has exited on its own (the
	// harness had sent it no SIGKILL or SIGTERM), before what is left of its process group
	// is killed: a child halfway through a double fork (forked, not yet setsid) is still
	// there to be named. The zombie keeps the group id reserved meanwhile.
	LeftBehind func(p *Peer)
}

func (o *Options) defaults() {
	if o.MaxLine <= 0 {
		o.MaxLine = 64 << 10
	}
	if o.MaxStdout <= 0 {
		o.MaxStdout = 8 << 20
	}
	if o.MaxAllStdout <= 0 {
		o.MaxAllStdout = 256 << 20
	}
	if o.MaxBadLines <= 0 {
		o.MaxBadLines = 100
	}
	if o.StderrLines <= 0 {
		o.StderrLines = 20
	}
	if o.MaxLog <= 0 {
		o.MaxLog = 16 << 20
	}
	if o.StdinQueue <= 0 {
		o.StdinQueue = 64
	}
	if o.WaitDelay <= 0 {
		o.WaitDelay = 2 * time.Second
	}
}

// Sink receives every record a Group produces. It is called from several goroutines at once
// and must not block for long.
type Sink func(history.Record)

// Spec is what to start: one peer.
type Spec struct {
	ID   string   // peer id, e.g. "p3"; reused when a dead peer is restarted
	Argv []string // program and arguments; Argv[0] is looked up in $PATH
	Env  []string // KEY=VALUE added to the harness's environment (see Env)
	Dir  string   // working directory; empty means the harness's
}

// Group starts peers and owns them until Close: every process it starts is reaped by Close,
// whatever path the harness leaves by. It is safe for concurrent use.
type Group struct {
	base   time.Time
	sink   Sink
	opt    Options
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	peers  []*Peer
	closed bool

	stdoutAll atomic.Int64 // bytes charged against MaxAllStdout
}

// NewGroup returns a Group stamping records with time.Since(base) and handing them to sink.
func NewGroup(base time.Time, sink Sink, opt Options) *Group {
	opt.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Group{base: base, sink: sink, opt: opt, ctx: ctx, cancel: cancel}
}

// Peer is one started process. Its methods are safe for concurrent use.
type Peer struct {
	id    string
	pid   int
	g     *Group
	cmd   *exec.Cmd
	stdin chan protocol.Command
	done  chan struct{}
	errs  *ring
	// started is closed once pid is set and the start record is out, so that no event of
	// the peer is recorded before its start.
	started chan struct{}

	mu        sync.Mutex
	exited    bool // the process has ended (it may not be reaped yet)
	byHarness bool // the harness killed or terminated it on purpose
	killed    bool // the harness sent its group SIGKILL
	exit      *history.Exit
	stdoutBud int64
	dropped   int64
	badLines  int
}

// ID returns the peer id.
func (p *Peer) ID() string { return p.id }

// PID returns the process id, which is also its process group id.
func (p *Peer) PID() int { return p.pid }

// Done is closed once the process has exited, been reaped and its exit recorded.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has ended.
func (p *Peer) Exited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// Exit returns how the process ended, or nil while it runs.
func (p *Peer) Exit() *history.Exit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

func (g *Group) now() time.Duration { return time.Since(g.base) }

// Start starts one peer: its own process group, Pdeathsig SIGKILL (so it dies with the
// harness), stdout parsed into records, stderr kept, stdin fed by Send.
func (g *Group) Start(s Spec) (*Peer, error) {
	if len(s.Argv) == 0 {
		return nil, ErrEmptyCommand
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil, ErrClosed
	}
	g.mu.Unlock()

	cmd := exec.CommandContext(g.ctx, s.Argv[0], s.Argv[1:]...)
	cmd.Env = append(os.Environ(), s.Env...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = g.opt.WaitDelay
	p := &Peer{
		id: s.ID, g: g, cmd: cmd,
		stdin:   make(chan protocol.Command, g.opt.StdinQueue),
		done:    make(chan struct{}),
		errs:    newRing(g.opt.StderrLines),
		started: make(chan struct{}),
	}
	// Cancel kills the whole group, not just the leader of it. The check under p.mu keeps a
	// reaped pid (which the kernel may reuse) from ever being signalled.
	cmd.Cancel = func() error {
		if err := p.signal(unix.SIGKILL, true); err != nil {
			return os.ErrProcessDone
		}
		return nil
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe for %s: %w", s.ID, err)
	}
	out := &lineWriter{max: g.opt.MaxLine, emit: p.stdoutLine}
	cmd.Stdout = out
	errw := &lineWriter{max: g.opt.MaxLine, emit: p.stderrLine}
	var logf *os.File
	if g.opt.LogDir != "" {
		logf, err = os.OpenFile(filepath.Join(g.opt.LogDir, s.ID+".stderr.log"),
			os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("log file for %s: %w", s.ID, err)
		}
		cmd.Stderr = io.MultiWriter(errw, &capWriter{w: logf, left: g.opt.MaxLog})
	} else {
		cmd.Stderr = errw
	}
	if err := cmd.Start(); err != nil {
		if logf != nil {
			logf.Close()
		}
		return nil, fmt.Errorf("start peer %s (%s): %w", s.ID, s.Argv[0], err)
	}
	p.pid = cmd.Process.Pid
	defer close(p.started)
	g.mu.Lock()
	g.peers = append(g.peers, p)
	closed := g.closed
	g.mu.Unlock()
	g.sink(history.Record{T: g.now(), Kind: history.KindStart, Peer: p.id, PID: p.pid,
		Detail: strings.Join(s.Argv, " ")})
	if closed { // Close ran while we started: this one must not escape it
		p.Kill()
	}
	go p.feed(stdin)
	go p.wait(out, errw, logf)
	return p, nil
}

// wait reaps the process. It first waits without reaping (WNOWAIT), so that the zombie keeps
// the pid and process group id reserved while it kills whatever is left in the group, then
// reaps, then records the exit once stdout has been read to the end.
func (p *Peer) wait(out, errw *lineWriter, logf *os.File) {
	<-p.started
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, p.pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	p.mu.Lock()
	p.exited = true
	own := !p.byHarness
	p.mu.Unlock()
	if own && p.g.opt.LeftBehind != nil {
		p.g.opt.LeftBehind(p)
	}
	_ = unix.Kill(-p.pid, unix.SIGKILL) // the peer's own children go with it
	_ = p.cmd.Wait()
	out.flush()
	errw.flush()
	if logf != nil {
		logf.Close()
	}
	ex := &history.Exit{Code: -1, StderrTail: p.errs.tail()}
	if st := p.cmd.ProcessState; st != nil {
		ex.Code = st.ExitCode()
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			ex.Signal = unix.SignalName(ws.Signal())
		}
	}
	p.mu.Lock()
	ex.ByHarness = p.byHarness
	p.exit = ex
	dropped := p.dropped
	p.mu.Unlock()
	if dropped > 0 {
		p.g.sink(history.Record{T: p.g.now(), Kind: history.KindProtocolError, Peer: p.id, PID: p.pid,
			Detail: fmt.Sprintf("stdout over its budget (%d bytes a peer, %d for all, %d bad lines): %d lines dropped",
				p.g.opt.MaxStdout, p.g.opt.MaxAllStdout, p.g.opt.MaxBadLines, dropped)})
	}
	p.g.sink(history.Record{T: p.g.now(), Kind: history.KindExit, Peer: p.id, PID: p.pid, Exit: ex})
	close(p.done)
}

// recordOverhead is what a record costs in memory beyond its line (the Record, the event,
// the slice slot: about this much, measured), charged against the stdout budgets so that a
// flood of tiny lines is bounded too.
const recordOverhead = 512

func (p *Peer) stdoutLine(line []byte, long bool) {
	<-p.started
	var (
		ev  protocol.Event
		err error
	)
	if !long {
		ev, err = protocol.ParseEvent(line)
	}
	bad := long || err != nil
	cost := int64(len(line)) + recordOverhead
	p.mu.Lock()
	over := p.stdoutBud+cost > p.g.opt.MaxStdout || (bad && p.badLines >= p.g.opt.MaxBadLines)
	if !over && p.g.stdoutAll.Add(cost) > p.g.opt.MaxAllStdout {
		p.g.stdoutAll.Add(-cost)
		over = true
	}
	if over {
		p.dropped++
	} else {
		p.stdoutBud += cost
		if bad {
			p.badLines++
		}
	}
	p.mu.Unlock()
	if over {
		return
	}
	rec := history.Record{T: p.g.now(), Peer: p.id, PID: p.pid}
	switch {
	case long:
		rec.Kind = history.KindProtocolError
		rec.Detail = fmt.Sprintf("%v: line longer than %d bytes: %q...", protocol.ErrProtocol,
			p.g.opt.MaxLine, clip(line))
	case err != nil:
		rec.Kind = history.KindProtocolError
		rec.Detail = err.Error()
	default:
		rec.Kind = history.KindEvent
		rec.Event = &ev
	}
	p.g.sink(rec)
}

func (p *Peer) stderrLine(line []byte, long bool) {
	s := string(clip(line))
	if long || len(line) > 200 {
		s += "..."
	}
	p.errs.add(s)
}

func clip(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// feed writes queued commands to the peer's stdin. It may block on a peer that does not
// read; only this goroutine waits then, never the harness.
func (p *Peer) feed(w io.WriteCloser) {
	defer w.Close()
	for {
		select {
		case c := <-p.stdin:
			if _, err := w.Write(protocol.Encode(c)); err != nil {
				return
			}
		case <-p.done:
			return
		}
	}
}

// Send queues a command for the peer's stdin and records it. It never blocks: if the queue
// is full (the peer does not read) or the peer has exited, the command is dropped, the drop
// recorded, and Send returns false.
func (p *Peer) Send(c protocol.Command) bool {
	rec := history.Record{T: p.g.now(), Kind: history.KindCommand, Peer: p.id, PID: p.pid, Command: &c}
	if p.Exited() {
		rec.Detail = "dropped: peer has exited"
		p.g.sink(rec)
		return false
	}
	select {
	case p.stdin <- c:
		p.g.sink(rec)
		return true
	default:
		rec.Detail = "dropped: peer is not reading stdin"
		p.g.sink(rec)
		return false
	}
}

// Peers returns every peer started so far, in start order, live or not.
func (g *Group) Peers() []*Peer {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*Peer(nil), g.peers...)
}

// Live returns the peers whose process has not exited, in start order.
func (g *Group) Live() []*Peer {
	var out []*Peer
	for _, p := range g.Peers() {
		if !p.Exited() {
			out = append(out, p)
		}
	}
	return out
}

// Close stops the group for good: no new starts; every live peer gets SIGTERM (and SIGCONT),
// then after grace SIGKILL, and Close returns once every process it ever started has been
// reaped. It returns the ids of peers that had to be killed. Safe to call more than once.
func (g *Group) Close(grace time.Duration) (killed []string) {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	peers := g.Peers()
	for _, p := range peers {
		_ = p.Term()
	}
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	for _, p := range peers {
		select {
		case <-p.Done():
		case <-deadline.C:
			deadline.Reset(0)
		}
	}
	for _, p := range peers {
		if !p.Exited() {
			killed = append(killed, p.id)
		}
	}
	g.cancel() // cmd.Cancel: SIGKILL to each remaining group
	for _, p := range peers {
		<-p.Done()
	}
	return killed
}

// capWriter writes at most left bytes to w, then discards.
type capWriter struct {
	w    io.Writer
	left int64
}

func (c *capWriter) Write(b []byte) (int, error) {
	if c.left <= 0 {
		return len(b), nil
	}
	n := len(b)
	if int64(n) > c.left {
		b = b[:c.left]
	}
	m, err := c.w.Write(b)
	c.left -= int64(m)
	if err != nil {
		c.left = 0 // a full disk must not stop the peer
	}
	return n, nil
}
