package fault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/splitbrain-dev/splitbrain/harness/check"
	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// StaleSocket takes the whole group down (SIGKILL), makes sure a stale socket file sits at
// the address — the one the killed leader left, or one the harness binds and closes without
// unlinking — and restarts every peer at once: a storm racing over a stale socket, the
// classic probe-then-unlink scene. Unix transport only. KeepDown leaves the group down: a
// schedule starts its peers with steps of its own.
type StaleSocket struct {
	KeepDown bool
}

// Name implements Fault.
func (StaleSocket) Name() string { return "stale-socket" }

// Applies implements Applicable.
func (StaleSocket) Applies(transport string) bool { return transport == "unix" }

// Inject implements Fault.
func (f StaleSocket) Inject(ctx context.Context, env Env) error {
	ids := liveIDs(env)
	if err := env.KillAll(ctx); err != nil {
		return err
	}
	path := env.Addr()
	detail := "left by the killed leader"
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := staleSocket(path); err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
		detail = "made by the harness"
	case err != nil:
		return fmt.Errorf("%s: %w", f.Name(), err)
	case fi.Mode().Type() != fs.ModeSocket:
		return fmt.Errorf("%s: %s is a %v, not a socket: %w", f.Name(), path, fi.Mode().Type(), ErrNoTarget)
	}
	if f.KeepDown {
		record(env, f.Name(), nil, "", fmt.Sprintf("%s at %s; every peer down", detail, path))
		return nil
	}
	record(env, f.Name(), nil, "", fmt.Sprintf("%s at %s; restarting %d peers at once", detail, path, len(ids)))
	return env.Start(ids)
}

// staleSocket binds a unix socket at path and closes it without unlinking: a socket file
// nobody listens on.
func staleSocket(path string) error {
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("bind stale socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false)
	return l.Close()
}

func liveIDs(env Env) []string {
	var ids []string
	for _, p := range env.Live() {
		ids = append(ids, p.ID())
	}
	if len(ids) == 0 {
		ids = env.DeadIDs()
	}
	return ids
}

// ForeignUID is the owner of a planted foreign socket: nobody.
const ForeignUID = 65534

// Plant tests "never delete a file that is not ours". With the whole group down, it plants
// at the address itself a regular file (random content, or Data), an empty directory, or a
// socket owned by uid 65534 that nobody listens on; starts the peers (those that were live,
// or Peers) at once, or OneByOne; waits until each has made an election attempt
// (Env.WaitAttempt: it leads, follows, reports two failed attempts, exits or rests; a
// black-box peer, until it has run for Hold, default Env.Timeout, the liveness bound),
// recording whether each met the plant ("met" or "unmet" plant records), looking at the
// plant after each (a "check" record when it changed); looks once more (the "final" record),
// removes the plant if it is still what was planted, and lets the peers elect. No leader can
// appear while the plant is there: a correct peer must neither remove it nor listen
// elsewhere. Names: plant-file, plant-dir, plant-foreign-socket. Unix transport only.
type Plant struct {
	Type     string // "file", "dir" or "foreign-socket"
	Hold     time.Duration
	Data     string   // the planted file's content; default 64 random bytes
	Peers    []string // ids to start; default those that were live (or, none, the dead)
	OneByOne bool     // start each once the one before has made its attempt
}

// Name implements Fault.
func (p Plant) Name() string { return "plant-" + p.Type }

// Applies implements Applicable.
func (Plant) Applies(transport string) bool { return transport == "unix" }

// Inject implements Fault.
func (p Plant) Inject(ctx context.Context, env Env) error {
	ids := p.Peers
	if len(ids) == 0 {
		ids = liveIDs(env)
	}
	if err := env.KillAll(ctx); err != nil {
		return err
	}
	path := env.Addr()
	// What a killed leader left is ours to clear; anything else is not.
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return fmt.Errorf("%s: %s is already a %v: %w", p.Name(), path, fi.Mode().Type(), ErrNoTarget)
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("%s: clear stale socket: %w", p.Name(), err)
		}
	}
	if err := p.make(env, path); err != nil {
		return fmt.Errorf("%s: %w", p.Name(), err)
	}
	planted, err := Look(path)
	if err != nil {
		return fmt.Errorf("%s: %w", p.Name(), err)
	}
	how := "at once"
	if p.OneByOne {
		how = "one by one"
	}
	record(env, p.Name(), nil, "", fmt.Sprintf("planted at %s; starting %s %s", path, strings.Join(ids, " "), how))
	env.Record(history.Record{Kind: history.KindPlant, Plant: &planted, Detail: check.PlantPlanted})

	// From here on the plant must get its final look and be removed, whatever happens.
	unplanted := false
	unplant := func() {
		if unplanted {
			return
		}
		unplanted = true
		final, _ := Look(path)
		env.Record(history.Record{Kind: history.KindPlant, Plant: &final, Detail: check.PlantFinal})
		if final.Type == planted.Type && final.Inode == planted.Inode {
			_ = os.Remove(path)
		}
		record(env, "unplant", nil, "", "removed "+path)
	}
	defer unplant()
	hold := p.Hold
	if hold <= 0 {
		hold = env.Timeout()
	}
	look := func() {
		if now, _ := Look(path); now != planted {
			env.Record(history.Record{Kind: history.KindPlant, Plant: &now, Detail: check.PlantCheck})
		}
	}
	if !p.OneByOne {
		if err := env.Start(ids); err != nil {
			return err
		}
	}
	// Peers started at once share one deadline; one by one, each gets its own.
	deadline := time.Now().Add(env.Timeout())
	for _, id := range ids {
		if p.OneByOne {
			if err := env.Start([]string{id}); err != nil {
				return err
			}
			deadline = time.Now().Add(env.Timeout())
		}
		met, err := env.WaitAttempt(ctx, id, max(time.Until(deadline), 0), hold)
		if err != nil {
			return err
		}
		// Whether this peer met the plant: no-data-loss judges a plant only if one did.
		detail := check.PlantMet
		if !met {
			detail = check.PlantUnmet
		}
		env.Record(history.Record{Kind: history.KindPlant, Peer: id, Plant: &planted, Detail: detail})
		look()
	}
	if !p.OneByOne {
		return nil // the peers elect at once when the plant is gone
	}
	// One by one: the peers, all retrying, would race for the freed address; the group is
	// taken down and started again one peer at a time, each once the one before has made
	// its attempt, so that a schedule replays as one interleaving.
	var still []string // those that kept trying; a peer that refused and exited stays down
	for _, id := range ids {
		if env.Peer(id) != nil {
			still = append(still, id)
		}
	}
	if err := env.KillAll(ctx); err != nil {
		return err
	}
	unplant()
	for _, id := range still {
		if err := env.Start([]string{id}); err != nil {
			return err
		}
		if _, err := env.WaitAttempt(ctx, id, env.Timeout(), hold); err != nil {
			return err
		}
	}
	return nil
}

func (p Plant) make(env Env, path string) error {
	switch p.Type {
	case "file":
		if p.Data != "" {
			return os.WriteFile(path, []byte(p.Data), 0o644)
		}
		data := make([]byte, 64)
		for i := range data {
			data[i] = byte(env.Rand().UintN(256))
		}
		return os.WriteFile(path, data, 0o644)
	case "dir":
		return os.Mkdir(path, 0o755)
	case "foreign-socket":
		if err := staleSocket(path); err != nil {
			return err
		}
		if err := os.Lchown(path, ForeignUID, ForeignUID); err != nil {
			os.Remove(path)
			return fmt.Errorf("chown planted socket to uid %d (the harness must run as root for this fault): %w: %w", ForeignUID, err, ErrNoTarget)
		}
		return nil
	}
	return fmt.Errorf("unknown plant type %q", p.Type)
}

// Look returns what is at path now, as a Plant: Type "file", "dir", "foreign-socket" (any
// socket) or, when nothing is there, check.PlantMissing.
func Look(path string) (history.Plant, error) {
	pl := history.Plant{Path: path}
	fi, err := os.Lstat(path)
	if err != nil {
		pl.Type = check.PlantMissing
		if errors.Is(err, fs.ErrNotExist) {
			return pl, nil
		}
		return pl, fmt.Errorf("look at %s: %w", path, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	pl.UID, pl.Inode = int(st.Uid), st.Ino
	switch fi.Mode().Type() {
	case 0:
		pl.Type = "file"
		b, err := os.ReadFile(filepath.Clean(path))
		if err != nil {
			return pl, fmt.Errorf("look at %s: %w", path, err)
		}
		sum := sha256.Sum256(b)
		pl.SHA256 = hex.EncodeToString(sum[:])
	case fs.ModeDir:
		pl.Type = "dir"
	case fs.ModeSocket:
		pl.Type = "foreign-socket"
	default:
		pl.Type = fi.Mode().Type().String()
	}
	return pl, nil
}
