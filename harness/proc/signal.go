package proc

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// signal sends sig to the peer's process group, unless the process has exited.
func (p *Peer) signal(sig unix.Signal, harness bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return ErrExited
	}
	if harness {
		p.byHarness = true
	}
	if sig == unix.SIGKILL {
		p.killed = true
	}
	if err := unix.Kill(-p.pid, sig); err != nil {
		return fmt.Errorf("signal %s to group %d (%s): %w", unix.SignalName(sig), p.pid, p.id, err)
	}
	return nil
}

// Dying reports whether the harness has sent the peer's group SIGKILL and the process has
// not ended yet: it runs no more code of its own, but the kernel may still show its sockets
// while it exits.
func (p *Peer) Dying() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed && !p.exited
}

// Doomed reports whether the harness has sent the peer SIGKILL or SIGTERM (Kill, Term) and
// its exit is not recorded yet: it is on its way out, and no view of the group that
// includes it is settled.
func (p *Peer) Doomed() bool {
	p.mu.Lock()
	doomed := p.byHarness
	p.mu.Unlock()
	if !doomed {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the peer's process group. A terminating signal sent through Signal is
// not marked as the harness's doing; use Kill or Term for that.
func (p *Peer) Signal(sig unix.Signal) error { return p.signal(sig, false) }

// Kill sends SIGKILL to the peer's process group; the exit is recorded as the harness's doing.
func (p *Peer) Kill() error { return p.signal(unix.SIGKILL, true) }

// Term sends SIGTERM, then SIGCONT (so a stopped peer can handle it), to the peer's process
// group; the exit is recorded as the harness's doing.
func (p *Peer) Term() error {
	if err := p.signal(unix.SIGTERM, true); err != nil {
		return err
	}
	return p.signal(unix.SIGCONT, false)
}

// Stop sends SIGSTOP to the peer's process group.
func (p *Peer) Stop() error { return p.signal(unix.SIGSTOP, false) }

// Cont sends SIGCONT to the peer's process group.
func (p *Peer) Cont() error { return p.signal(unix.SIGCONT, false) }
