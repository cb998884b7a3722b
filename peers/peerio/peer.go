package peerio

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
)

// Config says where a Peer reads and writes. Only Out is required.
type Config struct {
	// Env is the peer's protocol environment, usually from ParseEnv.
	Env Env
	// In is where commands come from (stdin); nil means none: Commands is closed at once.
	In io.Reader
	// Out is where events go (stdout). Each event is one Write call, so an unbuffered
	// *os.File or a pipe receives whole lines.
	Out io.Writer
}

// Peer is one peer process's side of the protocol. Its methods are safe for concurrent use.
type Peer struct {
	env Env
	fp  *election.Failpoints

	outMu sync.Mutex
	out   io.Writer

	cmds chan protocol.Command

	stopOnce sync.Once
	stop     chan struct{}
	stopWhy  string // set before stop is closed
}

// Open makes the Peer of this process: the environment from os.LookupEnv, commands from
// os.Stdin, events to os.Stdout, and the first SIGTERM or SIGINT closing Stop, so that a
// graceful stop by signal runs the same shutdown path as a `close` command. A second signal
// kills the process.
func Open() (*Peer, error) {
	env, err := ParseEnv(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	p, err := New(Config{Env: env, In: os.Stdin, Out: os.Stdout})
	if err != nil {
		return nil, err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		// A second signal gets the default action: it kills a peer whose shutdown hangs
		// (paused at a failpoint, say) without waiting for SIGKILL.
		signal.Reset(syscall.SIGTERM, syscall.SIGINT)
		p.RequestStop("signal " + s.String())
	}()
	return p, nil
}

// New makes a Peer from cfg and starts reading commands from cfg.In. The failpoints come
// from cfg.Env.Failpoints; each pause or announce is reported as a `failpoint` event.
func New(cfg Config) (*Peer, error) {
	if cfg.Out == nil {
		return nil, errors.New("peerio: Config.Out is nil; events need somewhere to go")
	}
	fp, err := election.ParseFailpoints(cfg.Env.Failpoints)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrEnv, protocol.EnvFailpoints, err)
	}
	p := &Peer{
		env:  cfg.Env,
		fp:   fp,
		out:  cfg.Out,
		cmds: make(chan protocol.Command),
		stop: make(chan struct{}),
	}
	if fp != nil {
		fp.Announce = func(name string, paused bool) {
			p.Emit(protocol.Event{Event: protocol.EventFailpoint, Name: name, Paused: paused})
		}
	}
	if cfg.In == nil {
		close(p.cmds)
	} else {
		go p.read(cfg.In)
	}
	return p, nil
}

// Env returns the environment the peer was made with.
func (p *Peer) Env() Env { return p.env }

// ID returns the peer's id, Env().Peer.
func (p *Peer) ID() string { return p.env.Peer }

// Failpoints returns the peer's failpoints; nil (which does nothing) when not steered.
func (p *Peer) Failpoints() *election.Failpoints { return p.fp }

// Hit runs the failpoint called name: it may announce it, pause until a `continue` command,
// sleep, or exit with election.CrashStatus.
func (p *Peer) Hit(name string) { p.fp.Hit(name) }

// Emit writes ev as one JSON line in a single Write. Lines from concurrent calls never
// interleave. The error is the writer's (EPIPE when the harness is gone).
func (p *Peer) Emit(ev protocol.Event) error {
	line := protocol.Encode(ev)
	p.outMu.Lock()
	defer p.outMu.Unlock()
	if _, err := p.out.Write(line); err != nil {
		return fmt.Errorf("emit %s: %w", ev.Event, err)
	}
	return nil
}

// Errorf emits an `error` event with the formatted text.
func (p *Peer) Errorf(format string, args ...any) {
	p.Emit(protocol.Event{Event: protocol.EventError, Error: fmt.Sprintf(format, args...)})
}

// Commands delivers the commands the peer must act on itself — `broadcast`, and any kind a
// later protocol version adds — in the order they were read. `continue` and `close` are
// handled by the Peer (see Hit and Stop) and not delivered. The channel is closed when In
// reaches EOF or fails; reading stdin never waits for the consumer, so a `continue` is seen
// even while the consumer is paused at a failpoint.
func (p *Peer) Commands() <-chan protocol.Command { return p.cmds }

// Stop is closed when the peer is asked to close gracefully: a `close` command, a
// termination signal (with Open), or RequestStop. The peer should run its shutdown path,
// emit `closed` and exit 0. Stop does not release paused failpoints.
func (p *Peer) Stop() <-chan struct{} { return p.stop }

// StopReason says why Stop was closed ("close command", "signal terminated" ...); "" while
// it is open.
func (p *Peer) StopReason() string {
	select {
	case <-p.stop:
		return p.stopWhy
	default:
		return ""
	}
}

// RequestStop closes Stop, recording why; later calls do nothing.
func (p *Peer) RequestStop(why string) {
	p.stopOnce.Do(func() {
		p.stopWhy = why
		close(p.stop)
	})
}

// read parses stdin lines. It queues deliverable commands without limit so that a slow
// consumer never stops it from seeing `continue`.
func (p *Peer) read(in io.Reader) {
	var (
		mu    sync.Mutex
		queue []protocol.Command
		eof   bool
		wake  = make(chan struct{}, 1)
		poke  = func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		}
	)
	go func() { // forwarder: queue -> p.cmds, closes p.cmds after EOF once drained
		for {
			mu.Lock()
			if len(queue) == 0 {
				done := eof
				mu.Unlock()
				if done {
					close(p.cmds)
					return
				}
				<-wake
				continue
			}
			c := queue[0]
			queue = queue[1:]
			mu.Unlock()
			p.cmds <- c
		}
	}()
	r := bufio.NewReader(in)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			p.handle(line, func(c protocol.Command) {
				mu.Lock()
				queue = append(queue, c)
				mu.Unlock()
				poke()
			})
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.Errorf("read stdin: %v", err)
			}
			mu.Lock()
			eof = true
			mu.Unlock()
			poke()
			return
		}
	}
}

func (p *Peer) handle(line []byte, deliver func(protocol.Command)) {
	c, err := protocol.ParseCommand(line)
	if err != nil {
		p.Errorf("stdin: %v", err)
		return
	}
	switch c.Cmd {
	case protocol.CmdContinue:
		p.fp.Continue()
	case protocol.CmdClose:
		p.RequestStop("close command")
	default:
		deliver(c)
	}
}
