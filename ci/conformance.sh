#!/bin/sh
# ci/conformance.sh: run the splitbrain conformance suite against your implementation, the
# way the example pipelines do. Copy it into your repository, or call it from there.
#
#   ci/conformance.sh 'node peer.js'                 # the whole suite
#   SHARD=0/4 ci/conformance.sh 'node peer.js'       # shard 0 of 4 (counted from 0)
#   ci/conformance.sh 'node peer.js' --size quick    # extra flags go to splitbrain conformance
#
# Environment:
#   SPLITBRAIN   the splitbrain binary (default: splitbrain on PATH, else $(go env GOPATH)/bin)
#   OUT          the result folder (default: splitbrain-conformance, or splitbrain-conformance-I-of-N)
#   SHARD        I/N, or "" for the whole suite; in GitLab, CI_NODE_INDEX/CI_NODE_TOTAL
#                (1-based) are turned into I/N (0-based) when SHARD is unset
#   TRANSPORT    unix (default) or tcp
#
# Exit code: splitbrain's: 0 valid, 1 a violation, 2 inconclusive, 3 harness error.
set -eu

if [ $# -lt 1 ]; then
	echo "usage: ci/conformance.sh 'PEER COMMAND' [splitbrain conformance flags]" >&2
	exit 3
fi
impl=$1
shift

sb=${SPLITBRAIN:-}
if [ -z "$sb" ]; then
	if command -v splitbrain >/dev/null 2>&1; then
		sb=splitbrain
	elif command -v go >/dev/null 2>&1 && [ -x "$(go env GOPATH)/bin/splitbrain" ]; then
		sb="$(go env GOPATH)/bin/splitbrain"
	else
		echo "ci/conformance.sh: splitbrain not found: go install github.com/splitbrain-dev/splitbrain/cmd/splitbrain@latest" >&2
		exit 3
	fi
fi

shard=${SHARD:-}
if [ -z "$shard" ] && [ -n "${CI_NODE_INDEX:-}" ] && [ -n "${CI_NODE_TOTAL:-}" ]; then
	shard="$((CI_NODE_INDEX - 1))/$CI_NODE_TOTAL"
fi
out=${OUT:-}
if [ -z "$out" ]; then
	if [ -n "$shard" ]; then
		out="splitbrain-conformance-$(echo "$shard" | tr / -)"
	else
		out=splitbrain-conformance
	fi
fi

echo "splitbrain conformance suite $("$sb" conformance --suite-version), $("$sb" version)" >&2
set -- --impl "$impl" --transport "${TRANSPORT:-unix}" --out "$out" "$@"
if [ -n "$shard" ]; then
	set -- --shard "$shard" "$@"
fi
status=0
"$sb" conformance "$@" || status=$?
echo "ci/conformance.sh: results in $out (junit: $out/junit.xml), exit $status" >&2
exit $status
