// Package reference is the reference peer: the election library run under the splitbrain peer
// protocol (docs/PROTOCOL.md). `splitbrain peer` runs it; `splitbrain peer --impl NAME` runs
// one of the canaries instead.
package reference

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
	"github.com/splitbrain-dev/splitbrain/peers/canary"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

// Reference is the name of the reference implementation for --impl.
const Reference = "reference"

// Exit statuses of a peer process.
const (
	ExitOK    = 0 // closed gracefully
	ExitFatal = 1 // the election stopped on an error retrying cannot fix
	ExitUsage = 3 // bad flags or environment
)

// Main runs a peer process with args (without the program and subcommand names) and
// returns its exit status.
func Main(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("splitbrain peer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	impl := fs.String("impl", Reference, "the implementation: "+Reference+" or a canary ("+strings.Join(canary.Names(), ", ")+")")
	list := fs.Bool("list", false, "list the implementations and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: splitbrain peer [--impl NAME]\n\nRuns one peer under the splitbrain peer protocol; the harness sets SPLITBRAIN_* in its environment.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if *list {
		fmt.Fprintf(stderr, "%-18s %s\n", Reference, "the election library (never caught)")
		for _, c := range canary.All() {
			fmt.Fprintf(stderr, "%-18s %s (%s)\n", c.Name, c.Bug, c.Transport)
		}
		for _, c := range canary.Variants() {
			t := c.Transport
			if t == "" {
				t = "unix, tcp"
			}
			fmt.Fprintf(stderr, "%-18s %s (%s)\n", c.Name, c.Bug, t)
		}
		return ExitOK
	}
	if *impl != Reference {
		if _, ok := canary.Lookup(*impl); !ok {
			fmt.Fprintf(stderr, "splitbrain peer: unknown --impl %q: choose %s or one of %s\n", *impl, Reference, strings.Join(canary.Names(), ", "))
			return ExitUsage
		}
		return canary.Main(*impl)
	}
	p, err := peerio.Open()
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain peer: %v\n", err)
		return ExitUsage
	}
	return Run(p, stderr)
}

// Run runs the election library for p until p is asked to stop.
func Run(p *peerio.Peer, stderr io.Writer) int {
	env := p.Env()
	e, err := election.New(election.Options{
		Network:    env.Transport,
		Address:    env.Addr,
		ID:         env.Peer,
		SecretFile: env.SecretFile,
		Failpoints: p.Failpoints(),
	})
	if err != nil {
		fmt.Fprintf(stderr, "splitbrain peer %s: %v\n", env.Peer, err)
		p.Errorf("%v", err)
		return ExitFatal
	}
	p.Emit(protocol.Event{Event: protocol.EventReady})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- e.Run(ctx) }()

	events := e.Events()
	cmds := p.Commands()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			p.Emit(peerio.Translate(ev))
		case c, ok := <-cmds:
			if !ok {
				cmds = nil
				continue
			}
			if c.Cmd == protocol.CmdBroadcast {
				go p.Broadcast(ctx, e, c)
			}
		case <-p.Stop():
			e.Close()
			p.Emit(protocol.Event{Event: protocol.EventClosed, Reason: p.StopReason()})
			return ExitOK
		case err := <-runErr:
			if err == nil {
				err = errors.New("election stopped")
			}
			fmt.Fprintf(stderr, "splitbrain peer %s: %v\n", env.Peer, err)
			p.Errorf("%v", err)
			return ExitFatal
		}
	}
}
