#!/bin/bash
# Cross-check of the planner's proven lower bound: on mid-size instances the
# relaxation's cost must equal the optimum that glpsol (and clp, if present)
# find for the same transportation LP over every household-shelter pair.
# The planner starts from each household's 4 nearest shelters only, so the
# equality also checks the pricing loop that makes the bound hold for all.
#
#   tests/bench/plan/check_lp.sh [HOUSEHOLDS] [SHELTERS] [SEEDS...]
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$(pwd)
H=${1:-1000}
S=${2:-100}
shift 2 2>/dev/null || true
SEEDS=${*:-1 2 3}
OUT=${PLAN_BENCH_DIR:-$ROOT/build-plan-bench}
mkdir -p "$OUT"
for p in glpsol:glpk-utils clp:coinor-clp; do
	command -v "${p%%:*}" >/dev/null || apt-get install -y "${p#*:}" >/dev/null
done
gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I libsafety/include -o "$OUT/plan_bench" \
	tests/bench/plan/plan_bench.c libsafety/src/plan*.c libsafety/src/geo.c \
	libsafety/src/error.c -lm
fail=0
for seed in $SEEDS; do
	line=$("$OUT/plan_bench" --households "$H" --shelters "$S" --seed "$seed" --k 4 \
		--dense "$OUT/lp-$seed.txt" | grep ' bound ')
	bound=$(echo "$line" | sed -E 's/.* bound ([0-9]+) .*/\1/')
	python3 tests/bench/plan/dimacs_to_mps.py "$OUT/lp-$seed.txt" "$OUT/lp-$seed.mps"
	glpsol --freemps "$OUT/lp-$seed.mps" -o "$OUT/lp-$seed.glpk" >/dev/null
	glpk=$(sed -nE 's/^Objective: +obj = ([0-9.e+]+).*/\1/p' "$OUT/lp-$seed.glpk")
	clpv=$(clp "$OUT/lp-$seed.mps" -dualsimplex 2>&1 | sed -nE 's/^Optimal objective ([0-9.e+]+).*/\1/p')
	glpk=$(printf '%.0f' "$glpk")
	clpv=$(printf '%.0f' "${clpv:-0}")
	if [ "$bound" = "$glpk" ] && [ "$bound" = "$clpv" ]; then verdict=equal; else verdict=DIFFERENT; fail=1; fi
	echo "seed $seed: $H households x $S shelters, planner bound $bound, glpsol $glpk, clp $clpv: $verdict"
done
exit $fail
