#!/usr/bin/env bash
# ci/action/install.sh: the GitHub Action's install step. Puts a splitbrain binary in
# $RUNNER_TEMP/splitbrain-bin, adds that folder to $GITHUB_PATH, and writes `path=BINARY` to
# $GITHUB_OUTPUT.
#
#   VERSION=''        build from the action's own checkout ($GITHUB_ACTION_PATH), which is the
#                     ref the workflow pinned in `uses:` (or this repository, with `uses: ./`)
#   VERSION=v1.2.3    go install github.com/splitbrain-dev/splitbrain/cmd/splitbrain@VERSION
#                     (also latest, a branch or a commit: anything `go install` takes)
#
# Exit status: 0, or 3 if splitbrain could not be installed (the harness's "harness error").
set -euo pipefail

module=github.com/splitbrain-dev/splitbrain
action_path=${GITHUB_ACTION_PATH:-$(cd "$(dirname "$0")/../.." && pwd)}
bindir=${RUNNER_TEMP:-${TMPDIR:-/tmp}}/splitbrain-bin
mkdir -p "$bindir"

fail() {
	echo "::error title=splitbrain install::$*" >&2
	exit 3
}

command -v go >/dev/null 2>&1 || fail "go is not on PATH: use actions/setup-go (the action's setup-go input) first"

version=${VERSION:-}
if [ -z "$version" ]; then
	if ! grep -qs "^module $module\$" "$action_path/go.mod"; then
		fail "$action_path is not a checkout of $module: set the action's version input (e.g. latest)"
	fi
	echo "building splitbrain from $action_path" >&2
	(cd "$action_path" && go build -o "$bindir/splitbrain" ./cmd/splitbrain) || fail "go build ./cmd/splitbrain failed in $action_path"
else
	echo "installing $module/cmd/splitbrain@$version" >&2
	GOBIN=$bindir go install "$module/cmd/splitbrain@$version" || fail "go install $module/cmd/splitbrain@$version failed"
fi

"$bindir/splitbrain" version >&2 || fail "$bindir/splitbrain does not run"
if [ -n "${GITHUB_PATH:-}" ]; then
	echo "$bindir" >>"$GITHUB_PATH"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
	echo "path=$bindir/splitbrain" >>"$GITHUB_OUTPUT"
fi
