#!/usr/bin/env bash
# ci/action/verdict.sh: the GitHub Action's last step. Fails the job with splitbrain's exit
# code, $CODE: 0 valid, 1 a violation, 2 inconclusive, 3 harness error (also when the
# conformance step never ran, and CODE is empty).
code=${CODE:-}
case "$code" in
0) echo "splitbrain: valid (exit 0)" ;;
1) echo "::error title=splitbrain::a violation was found (exit 1): see the job summary and the result folder's timelines" ;;
2) echo "::error title=splitbrain::the run was not conclusive (exit 2): see the job summary" ;;
'') echo "::error title=splitbrain::splitbrain did not run (exit 3)"; code=3 ;;
*) echo "::error title=splitbrain::the harness failed (exit $code)" ;;
esac
exit "$code"
