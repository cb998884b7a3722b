#!/usr/bin/env bash
# ci/install-check.sh: `go install github.com/splitbrain-dev/splitbrain/cmd/splitbrain@VERSION`
# works from a clean module cache, the way a user's pipeline installs splitbrain.
#
#   ci/install-check.sh            # the checkout's HEAD commit (committed files only)
#   REV=abc123 ci/install-check.sh # another commit or tag
#   ONLINE=1 ci/install-check.sh   # fetch and verify dependencies as a user's machine would
#
# It publishes the commit in a local module proxy (a folder served with file://, written by
# ci/install-check/modproxy.go with golang.org/x/mod/zip: the zip a public proxy would serve,
# under the pseudo-version go computes), then, with a fresh GOPATH and GOMODCACHE and
# GONOSUMDB=github.com/splitbrain-dev/splitbrain (the commit is in no checksum database), runs
#   go install github.com/splitbrain-dev/splitbrain/cmd/splitbrain@PSEUDO-VERSION   (and @latest)
# and `splitbrain version`, which must print that version.
#
# Dependencies: by default the check runs offline. GOPROXY is
#   file://PROXY,file://$(go env GOMODCACHE)/cache/download,off
# (this machine's download cache is itself a module proxy: run `go mod download` first), with
# GOSUMDB=off; instead, ci/install-check/sumcheck.go then verifies every module zip and go.mod
# the fresh cache holds against the commit's go.sum. With ONLINE=1, GOPROXY is
#   file://PROXY,$(go env GOPROXY)
# and the checksum database verifies the dependencies, as on a user's machine.
# The build cache is shared (it is keyed by content); FRESH_GOCACHE=1 uses an empty one.
#
# Exit status: 0 when both installs work and report the version, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

module=github.com/splitbrain-dev/splitbrain
rev=${REV:-HEAD}
work=$(mktemp -d "${TMPDIR:-/tmp}/sb-install-check.XXXXXX")
cleanup() {
	# The module cache is read-only by design: let go remove it.
	GOMODCACHE="$work/gopath/pkg/mod" go clean -modcache >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] && [ "$rev" = HEAD ]; then
	echo "install-check: note: uncommitted changes are not part of the check; it installs the commit $(git rev-parse --short HEAD)" >&2
fi

downloads="$(go env GOMODCACHE)/cache/download"
upstream="$(go env GOPROXY)"
# The helpers build with the main module's go.sum, before the environment changes.
go build -o "$work/tools/modproxy" ci/install-check/modproxy.go
go build -o "$work/tools/sumcheck" ci/install-check/sumcheck.go
git show "$rev:go.sum" >"$work/go.sum"
version=$("$work/tools/modproxy" -repo . -rev "$rev" -out "$work/proxy")
echo "install-check: published $module@$version in $work/proxy" >&2

export GOPATH="$work/gopath" GOMODCACHE="$work/gopath/pkg/mod" GOBIN="$work/bin"
export GONOSUMDB=$module GOPRIVATE= GONOPROXY= GOFLAGS= GOTOOLCHAIN=local
if [ "${ONLINE:-}" = 1 ]; then
	export GOPROXY="file://$work/proxy,$upstream"
else
	export GOPROXY="file://$work/proxy,file://$downloads,off" GOSUMDB=off
fi
if [ "${FRESH_GOCACHE:-}" = 1 ]; then
	export GOCACHE="$work/gocache"
fi

check() { # check QUERY: install $module/cmd/splitbrain@QUERY and ask it its version
	rm -rf "$GOBIN"
	local start=$SECONDS
	if ! go install "$module/cmd/splitbrain@$1"; then
		echo "install-check: FAIL: go install $module/cmd/splitbrain@$1" >&2
		exit 1
	fi
	local got
	got=$("$GOBIN/splitbrain" version)
	echo "install-check: go install ...@$1 in $((SECONDS - start))s: $got" >&2
	case "$got" in
	*" $version "*) ;;
	*)
		echo "install-check: FAIL: splitbrain version printed \"$got\", want it to name $version" >&2
		exit 1
		;;
	esac
}
check "$version"
check latest
if [ "${ONLINE:-}" != 1 ]; then
	"$work/tools/sumcheck" -sum "$work/go.sum" -cache "$GOMODCACHE/cache/download" -skip $module >&2 ||
		{ echo "install-check: FAIL: the dependencies do not match go.sum" >&2; exit 1; }
fi
echo "install-check: ok: $module/cmd/splitbrain@$version installs from a clean module cache"
