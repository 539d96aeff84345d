#!/bin/bash
# Fuzzes every target for SECONDS each (default 600: ten minutes), one after
# another, keeping the corpus in build-fuzz-long/corpus; appends a dated line
# per target to build-fuzz-long/long-run.log. For a release, run it for hours.
#
#   tests/fuzz/run-long.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		t=$(basename "$f" .c)
		targets+=("${t#fuzz_}")
	done
fi
export SAFETY_FUZZ_BUILD=${SAFETY_FUZZ_BUILD:-$PWD/build-fuzz-long}
tests/fuzz/run.sh 1 reply >/dev/null # builds the targets and the seeds once
export SAFETY_FUZZ_NO_BUILD=1
for t in "${targets[@]}"; do
	# A finding ends that target's run, not the others'.
	line=$(tests/fuzz/run.sh "$SECS" "$t" 2>&1 | grep '^fuzz ' | tail -1) || true
	echo "$(date -u +%Y-%m-%d) $line" | tee -a "$SAFETY_FUZZ_BUILD/long-run.log"
done
