#!/usr/bin/env bash
# ci/action/run.sh: the GitHub Action's conformance step. Runs `splitbrain conformance` on
# $IMPL, gives every case folder its timeline.html, and writes to $GITHUB_OUTPUT:
#   exit-code  splitbrain's exit code: 0 valid, 1 a violation, 2 inconclusive, 3 harness error
#   verdict    the report's verdict (pass, fail, inconclusive, harness-error), or none
#   out        the result folder
#   artifact   a name for the uploaded folder (splitbrain-conformance, or ...-I-of-N for a
#              shard); empty when UPLOAD is not "true"
# It exits 0 whatever the verdict, so that the upload and summary steps run; the action's
# last step fails the job with exit-code.
#
# Environment: SPLITBRAIN (the binary; default splitbrain on PATH), IMPL (required),
# TRANSPORT (unix), SIZE (full), SHARD (I/N or empty), OUT (default from SHARD), ARGS (more
# flags for splitbrain conformance, split on spaces, e.g. "--case leader-kills"), UPLOAD
# (the action's upload input, default true).
set -uo pipefail

sb=${SPLITBRAIN:-splitbrain}
impl=${IMPL:-}
shard=${SHARD:-}
out=${OUT:-}
if [ -z "$out" ]; then
	out=splitbrain-conformance
	if [ -n "$shard" ]; then
		out="splitbrain-conformance-${shard%%/*}-of-${shard##*/}"
	fi
fi
artifact=$(basename "$out")
if [ "${UPLOAD:-true}" != true ]; then
	artifact= # nothing is uploaded: the summary names no artifact
fi

output() {
	if [ -n "${GITHUB_OUTPUT:-}" ]; then
		echo "$1=$2" >>"$GITHUB_OUTPUT"
	fi
}
output out "$out"
output artifact "$artifact"

if [ -z "$impl" ]; then
	echo "::error title=splitbrain::the impl input is empty: give the command line of one peer of your implementation" >&2
	output exit-code 3
	output verdict none
	exit 0
fi

args=(conformance --impl "$impl" --transport "${TRANSPORT:-unix}" --size "${SIZE:-full}" --out "$out")
if [ -n "$shard" ]; then
	args+=(--shard "$shard")
fi
# shellcheck disable=SC2206 # ARGS is split on spaces on purpose
args+=(${ARGS:-})

echo "splitbrain ${args[*]}" >&2
status=0
"$sb" "${args[@]}" || status=$?

# Each case's timeline.html: `splitbrain conformance` writes history.jsonl, results.json and
# junit.xml per case; `splitbrain check` on a copy renders the page without touching the
# case's own reports.
if [ -d "$out/cases" ]; then
	for dir in "$out"/cases/*/; do
		dir=${dir%/}
		[ -f "$dir/history.jsonl" ] && [ ! -f "$dir/timeline.html" ] || continue
		tmp=$(mktemp -d)
		cp "$dir/history.jsonl" "$tmp/"
		if "$sb" check "$tmp" >/dev/null 2>&1 || [ -f "$tmp/timeline.html" ]; then
			cp "$tmp/timeline.html" "$dir/timeline.html" 2>/dev/null || true
		fi
		rm -rf "$tmp"
	done
fi

verdict=none
if [ -f "$out/results.json" ]; then
	verdict=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("verdict", "none"))' "$out/results.json" 2>/dev/null || echo none)
fi
output exit-code "$status"
output verdict "${verdict:-none}"
echo "splitbrain conformance: verdict ${verdict:-none}, exit $status, results in $out" >&2
exit 0
