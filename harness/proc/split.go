package proc

import (
	"errors"
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/shell"
)

// ErrEmptyCommand is returned by Split for a command line with no words.
var ErrEmptyCommand = errors.New("empty command line")

// Split splits a command line into argv the way a POSIX shell would: quotes, backslashes and
// $VAR expansion from the harness's environment; command substitution is refused.
//
// The harness execs argv[0] directly rather than through `sh -c` so that the pid it starts
// is the peer itself: the kernel observer maps the listener's owner pid straight to the peer,
// and signals reach the program first, not a shell. A peer that needs a shell pipeline can
// still be given as `sh -c '...'`; its children share its process group and are found.
func Split(cmdline string) ([]string, error) {
	if strings.TrimSpace(cmdline) == "" {
		return nil, ErrEmptyCommand
	}
	argv, err := shell.Fields(cmdline, nil)
	if err != nil {
		return nil, fmt.Errorf("split command line %q: %w", cmdline, err)
	}
	if len(argv) == 0 {
		return nil, ErrEmptyCommand
	}
	return argv, nil
}

// Quote quotes s for a POSIX shell when it needs it, so that Split (and a shell) reads it
// back as one word: a command line the harness prints can be pasted as it is.
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == ',' || r == ':' || r == '=' ||
			r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
