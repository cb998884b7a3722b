package canary

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/splitbrain-dev/splitbrain/election"
	"github.com/splitbrain-dev/splitbrain/harness/protocol"
	"github.com/splitbrain-dev/splitbrain/peers/peerio"
)

// The reference variants: the reference peer (peers/reference: the election library under
// the peer protocol) with one change each. deaf-leader, deaf-follower and epoch-one change
// what it tells its user: the election itself is the library's and is correct, and only the
// white-box judges (delivery, leadership) can see these bugs. give-up-3 and turn-away-16
// change its part in the group, and only deep schedules show them: a follower that has lost
// three leaders (no-lost-peers), a leader that has welcomed sixteen joins
// (no-unexpected-exits: the members it turns away give up).
func init() {
	registerVariant(Canary{
		Name: "deaf-leader",
		Bug: "the reference peer, except that a leader never hands the members' broadcasts to " +
			"its own user: it relays them to the other members but prints no message",
		Failpoints: []string{election.FailAfterListen},
		run: func(p *peerio.Peer) error {
			return runVariant(p, func(ev election.Event, role election.EventKind, _ string) (election.Event, bool) {
				return ev, !(ev.Kind == election.Message && role == election.Leader)
			})
		},
	})
	registerVariant(Canary{
		Name: "deaf-follower",
		Bug: "the reference peer, except that a follower drops every message that comes from " +
			"its leader itself: the members' broadcasts reach it, the leader's never do",
		Failpoints: []string{election.FailAfterConnect},
		run: func(p *peerio.Peer) error {
			return runVariant(p, func(ev election.Event, role election.EventKind, leader string) (election.Event, bool) {
				return ev, !(ev.Kind == election.Message && role == election.Follower && ev.Member == leader)
			})
		},
	})
	registerVariant(Canary{
		Name: "epoch-one",
		Bug: "the reference peer, except that it never stores its epoch: every leader announces " +
			"epoch 1 (and its followers follow epoch 1), so a new leader cannot be told from the old",
		Failpoints: []string{election.FailAfterListen},
		run: func(p *peerio.Peer) error {
			return runVariant(p, func(ev election.Event, _ election.EventKind, _ string) (election.Event, bool) {
				if ev.Kind == election.Leader || ev.Kind == election.Follower {
					ev.Epoch = 1
				}
				return ev, true
			})
		},
	})
	registerVariant(Canary{
		Name: "give-up-3",
		Bug: "the reference peer, except that a follower gives up once it has lost three leaders: " +
			"its reconnect budget is never refilled, so at the third loss it closes its elector and " +
			"stays alive outside the group, leading and following nobody",
		Failpoints: []string{election.FailAfterConnect},
		run: func(p *peerio.Peer) error {
			losses := 0
			return runChange(p, change{giveUp: func(ev election.Event, role election.EventKind) bool {
				if ev.Kind == election.Lost && role == election.Follower {
					losses++
				}
				return losses >= 3
			}})
		},
	})
	registerVariant(Canary{
		Name: "turn-away-16",
		Bug: "the reference peer, except that a leader turns members away once it has welcomed 16 " +
			"joins: its member table has 16 slots and a member that leaves never frees its slot, " +
			"so every later member is refused (\"the group is full\") and gives up",
		Failpoints: []string{election.FailAfterAccept},
		run: func(p *peerio.Peer) error {
			var welcomed atomic.Int64
			return runChange(p, change{refuse: func(string) bool {
				return welcomed.Add(1) > 16
			}})
		},
	})
}

// change is what a reference variant changes in the reference peer's loop; nil fields
// change nothing.
type change struct {
	// filter sees each event before the user does (see [filter]).
	filter filter
	// giveUp sees each event with the role before it; true closes the elector for good,
	// while the process stays alive (until it is asked to stop).
	giveUp func(ev election.Event, role election.EventKind) bool
	// refuse is the leader's admission (election.Failpoints.Refuse).
	refuse func(member string) bool
}

// filter sees each election event with the peer's role and leader before the event (role is
// Leader, Follower, or Lost when neither), and returns what to tell the user, if anything.
type filter func(ev election.Event, role election.EventKind, leader string) (election.Event, bool)

// runVariant is the reference peer's loop (peers/reference.Run) with f between the election's
// events and the protocol.
func runVariant(p *peerio.Peer, f filter) error { return runChange(p, change{filter: f}) }

// runChange is the reference peer's loop with c's changes.
func runChange(p *peerio.Peer, c change) error {
	env := p.Env()
	fps := p.Failpoints()
	if c.refuse != nil {
		if fps == nil {
			fps, _ = election.ParseFailpoints("*=off")
		}
		fps.Refuse = c.refuse
	}
	e, err := election.New(election.Options{
		Network:    env.Transport,
		Address:    env.Addr,
		ID:         env.Peer,
		SecretFile: env.SecretFile,
		Failpoints: fps,
	})
	if err != nil {
		return err
	}
	p.Emit(protocol.Event{Event: protocol.EventReady})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- e.Run(ctx) }()

	role, leader := election.Lost, ""
	gaveUp := false
	events := e.Events()
	cmds := p.Commands()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			out, keep := ev, true
			if c.filter != nil {
				out, keep = c.filter(ev, role, leader)
			}
			quit := !gaveUp && c.giveUp != nil && c.giveUp(ev, role)
			switch ev.Kind {
			case election.Leader, election.Follower, election.Lost:
				role, leader = ev.Kind, ev.Leader
			}
			if keep && !gaveUp {
				p.Emit(peerio.Translate(out))
			}
			if quit {
				// Out of the election for good, but alive: nothing tells the user, not even
				// what the elector does before Close takes effect (a takeover it had begun).
				// (Close waits for Run, which may be paused at a failpoint: not on this loop.)
				gaveUp = true
				go e.Close()
			}
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
			return nil
		case err := <-runErr:
			if gaveUp {
				runErr = nil
				continue
			}
			if err == nil {
				err = errors.New("election stopped")
			}
			return fmt.Errorf("election: %w", err)
		}
	}
}
