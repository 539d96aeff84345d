#!/bin/bash
# The planner against the exact optimum of households kept whole, which
# coinor-cbc proves on instances of about 1,000 households: the planner's
# cost must be within 1% of CBC's proven lower bound (so within 1% of the
# optimum). CBC stops once its incumbent is within 0.05% of that bound, and
# both are printed.
#
#   tests/bench/plan/check_mip.sh [HOUSEHOLDS] [SHELTERS] [SEEDS...]
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$(pwd)
H=${1:-1000}
S=${2:-50}
shift 2 2>/dev/null || true
SEEDS=${*:-1 2 3}
OUT=${PLAN_BENCH_DIR:-$ROOT/build-plan-bench}
mkdir -p "$OUT"
command -v cbc >/dev/null || apt-get install -y coinor-cbc >/dev/null
gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I libsafety/include -o "$OUT/plan_bench" \
	tests/bench/plan/plan_bench.c libsafety/src/plan*.c libsafety/src/geo.c \
	libsafety/src/error.c -lm
fail=0
for seed in $SEEDS; do
	line=$("$OUT/plan_bench" --households "$H" --shelters "$S" --seed "$seed" --k 4 \
		--dense "$OUT/mip-$seed.txt" | grep ' bound ')
	cost=$(echo "$line" | sed -E 's/.*cost ([0-9]+) .*/\1/')
	python3 tests/bench/plan/dimacs_to_mps.py --integer "$OUT/mip-$seed.txt" "$OUT/mip-$seed.lp"
	t0=$(date +%s.%N)
	cbc "$OUT/mip-$seed.lp" -ratioGap 0.0005 -sec 600 -solve >"$OUT/mip-$seed.cbc" 2>&1 || true
	t1=$(date +%s.%N)
	best=$(sed -nE 's/^Objective value: +([0-9.e+]+).*/\1/p' "$OUT/mip-$seed.cbc")
	lower=$(sed -nE 's/^Lower bound: +([0-9.e+]+).*/\1/p' "$OUT/mip-$seed.cbc")
	result=$(sed -nE 's/^Result - (.*)/\1/p' "$OUT/mip-$seed.cbc")
	awk -v s="$seed" -v h="$H" -v n="$S" -v c="$cost" -v b="${best:-0}" -v l="${lower:-${best:-0}}" \
		-v t0="$t0" -v t1="$t1" -v r="$result" 'BEGIN {
		t = t1 - t0;
		above = l > 0 ? 100 * (c / l - 1) : -1;
		printf "seed %s: %s households x %s shelters, planner %d, CBC optimum between %.0f and %.0f (%s, %.1f s): planner %.3f%% above it at most: %s\n",
			s, h, n, c, l, b, r, t, above, (above >= 0 && above <= 1) ? "within 1%" : "NOT within 1%";
		exit !(above >= 0 && above <= 1) }' || fail=1
done
exit $fail
