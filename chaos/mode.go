package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/splitbrain-dev/splitbrain/harness/engine"
	"github.com/splitbrain-dev/splitbrain/harness/history"
	"github.com/splitbrain-dev/splitbrain/harness/kernel"
)

// detectMode starts one peer with every failpoint paused: a failpoint event means a
// white-box peer (steered), a listener without one a black-box peer (timing).
func detectMode(ctx context.Context, cfg *Config) (string, error) {
	probe := *cfg
	probe.Mode = ModeSteered
	d, err := newDriver(&probe)
	if err != nil {
		return "", err
	}
	defer d.close()
	e := d.e
	if err := e.StartWith([]string{"p1"}, engine.StartOptions{Steered: true}); err != nil {
		return "", err
	}
	mode := ""
	_, err = e.WaitFor(ctx, startWait, func(s kernel.Snapshot) bool {
		st := e.Status("p1")
		switch {
		case st.Paused != "":
			mode = ModeSteered
		case len(s.Listeners) > 0:
			mode = ModeTiming
		case !st.Live:
			mode = "exited"
		}
		return mode != ""
	})
	if err != nil && !errors.Is(err, engine.ErrViolation) {
		return "", err
	}
	switch mode {
	case "":
		return "", fmt.Errorf("peer %q neither listened on %s nor reached a failpoint within %v: check the command and that it reads SPLITBRAIN_ADDR", cfg.Impl, e.Addr(), startWait)
	case "exited":
		ex := exitOf(e.Records(), "p1")
		return "", fmt.Errorf("peer %q exited at once with status %d (%s): check the command; its stderr ended: %s",
			cfg.Impl, ex.Code, ex.Signal, strings.Join(ex.StderrTail, " | "))
	}
	return mode, nil
}

// exitOf returns the exit of peer id's first process in h.
func exitOf(h []history.Record, id string) history.Exit {
	for _, r := range h {
		if r.Kind == history.KindExit && r.Peer == id && r.Exit != nil {
			return *r.Exit
		}
	}
	return history.Exit{}
}
