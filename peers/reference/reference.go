// Package reference is the reference peer: the election library run under the splitbrain peer
// protocol (docs/PROTOCOL.md). `splitbrain peer` runs it; `splitbrain peer --impl NAME` runs
// one of the canaries instead.
package reference

import (
	"context"
	"encoding/json"
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

// wireMessage is how the reference peer carries a broadcast's id with its data.
type wireMessage struct {
	ID   string `json:"id"`
	Data string `json:"data"`
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
			p.Emit(translate(ev))
		case c, ok := <-cmds:
			if !ok {
				cmds = nil
				continue
			}
			if c.Cmd == protocol.CmdBroadcast {
				go broadcast(ctx, p, e, c)
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

func broadcast(ctx context.Context, p *peerio.Peer, e *election.Elector, c protocol.Command) {
	msg, _ := json.Marshal(wireMessage{ID: c.ID, Data: c.Data})
	if err := e.Send(ctx, msg); err != nil {
		p.Emit(protocol.Event{Event: protocol.EventSendFailed, ID: c.ID, Error: err.Error()})
		return
	}
	p.Emit(protocol.Event{Event: protocol.EventSent, ID: c.ID})
}

func translate(ev election.Event) protocol.Event {
	reason := ""
	if ev.Err != nil {
		reason = ev.Err.Error()
	}
	switch ev.Kind {
	case election.Leader:
		return protocol.Event{Event: protocol.EventLeader, Epoch: protocol.Uint64(ev.Epoch)}
	case election.Follower:
		return protocol.Event{Event: protocol.EventFollower, Leader: ev.Leader, Epoch: protocol.Uint64(ev.Epoch)}
	case election.Connection:
		return protocol.Event{Event: protocol.EventConnection, Member: ev.Member}
	case election.Disconnection:
		return protocol.Event{Event: protocol.EventDisconnection, Member: ev.Member, Reason: reason}
	case election.Lost:
		return protocol.Event{Event: protocol.EventLost, Reason: reason}
	case election.Retry:
		return protocol.Event{Event: protocol.EventError, Error: reason}
	case election.Message:
		var m wireMessage
		if json.Unmarshal(ev.Data, &m) != nil {
			m = wireMessage{Data: string(ev.Data)}
		}
		return protocol.Event{Event: protocol.EventMessage, From: ev.Member, ID: m.ID, Data: m.Data}
	}
	return protocol.Event{Event: protocol.EventError, Error: "unknown election event " + ev.Kind.String()}
}
