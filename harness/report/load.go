package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/splitbrain-dev/splitbrain/harness/history"
)

// Sentinel errors of Load.
var (
	// ErrNoHistory means the result folder or its history.jsonl is not there.
	ErrNoHistory = errors.New("no history")
	// ErrBadHistory means history.jsonl is there but cannot be judged as it is.
	ErrBadHistory = errors.New("bad history")
)

// maxLine is the longest history line Load accepts, in bytes.
const maxLine = 64 << 20

// Load reads dir/history.jsonl for `splitbrain check DIR`. It checks what the checkers
// rely on and says precisely what is wrong otherwise (wrapping ErrNoHistory or
// ErrBadHistory): a missing folder or file, an empty file, a line that is not JSON or is
// cut off, a first record that is not the run record, an unknown kind, or a record without
// the field its kind needs. Records need not be in T order. It never panics.
func Load(dir string) ([]history.Record, error) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: result folder %s does not exist; give the folder `splitbrain run` wrote", ErrNoHistory, dir)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrNoHistory, err)
	case !st.IsDir():
		return nil, fmt.Errorf("%w: %s is a file, not a result folder; give the folder that holds %s", ErrNoHistory, dir, HistoryFile)
	}
	path := filepath.Join(dir, HistoryFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s; was the run interrupted before it started?", ErrNoHistory, dir, HistoryFile)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoHistory, err)
	}
	defer f.Close()

	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var out []history.Record
	n := 0
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s line %d: %w: %s", path, n, ErrBadHistory, fmt.Sprintf(format, args...))
	}
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r history.Record
		if err := json.Unmarshal(line, &r); err != nil {
			if !sc.Scan() && sc.Err() == nil {
				return nil, bad("the last line is cut off (%v); was the run interrupted? judge the records before it by deleting the line", err)
			}
			return nil, bad("not a JSON record: %v", err)
		}
		if len(out) == 0 && r.Kind != history.KindRun {
			return nil, bad("the first record is %q; a history begins with its \"run\" record", r.Kind)
		}
		if msg := validate(r, len(out) == 0); msg != "" {
			return nil, bad("%s", msg)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s line %d: %w: longer than %d MiB", path, n+1, ErrBadHistory, maxLine>>20)
		}
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w: the file is empty; the run wrote no record", path, ErrBadHistory)
	}
	return out, nil
}

// validate returns what is wrong with one record, or "".
func validate(r history.Record, first bool) string {
	if r.T < 0 {
		return fmt.Sprintf("negative time %d", r.T)
	}
	missing := func(field string) string { return fmt.Sprintf("%s record has no %q field", r.Kind, field) }
	switch r.Kind {
	case history.KindRun:
		if !first {
			return "a second run record; a history holds one run"
		}
		if r.Run == nil {
			return missing("run")
		}
		if r.Run.Version != 1 {
			return fmt.Sprintf("history format version %d; this splitbrain reads version 1", r.Run.Version)
		}
	case history.KindStart:
		if r.Peer == "" || r.PID <= 0 {
			return "start record needs \"peer\" and a positive \"pid\""
		}
	case history.KindExit:
		if r.Peer == "" || r.PID <= 0 {
			return "exit record needs \"peer\" and a positive \"pid\""
		}
		if r.Exit == nil {
			return missing("exit")
		}
	case history.KindEvent:
		if r.Event == nil || r.Event.Event == "" {
			return "event record has no \"event\" object with an \"event\" name"
		}
	case history.KindProtocolError:
		if r.Peer == "" {
			return missing("peer")
		}
	case history.KindFault:
		if r.Fault == nil {
			return missing("fault")
		}
	case history.KindObservation:
		if r.Snapshot == nil {
			return missing("snapshot")
		}
	case history.KindPlant:
		if r.Plant == nil || r.Plant.Path == "" {
			return "plant record has no \"plant\" object with a \"path\""
		}
	case history.KindPhase:
		if r.Detail == "" {
			return "phase record has no \"detail\" naming the phase"
		}
	case history.KindCommand:
		if r.Command == nil {
			return missing("command")
		}
	case history.KindProcess:
		if r.PID <= 0 || r.Detail == "" {
			return "process record needs a positive \"pid\" and a \"detail\""
		}
	case history.KindSyscall:
		if r.PID <= 0 || r.Syscall == nil || r.Syscall.Call == "" {
			return "syscall record needs a positive \"pid\" and a \"syscall\" object with a \"call\""
		}
	case history.KindRound:
		if r.Round == nil || r.Round.Fault == "" {
			return "round record has no \"round\" object with a \"fault\""
		}
	case history.KindObserver:
		if r.Observer == nil {
			return missing("observer")
		}
	default:
		return fmt.Sprintf("unknown record kind %q", r.Kind)
	}
	return ""
}
