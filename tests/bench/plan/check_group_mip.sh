#!/bin/bash
# Bus groups assigned whole (GROUP_FIRST) against coinor-cbc on the same
# groups: plan_bench writes the groups-whole problem with at most as many
# people left out as the plan left out (when that equals the relaxation's
# lp_unassigned it is the proven least, so CBC's optimum is the optimum of
# plans that place the most). Prints the planner's cost, its bound, and what
# CBC finds and proves within the time limit; informative, it does not fail.
#
#   tests/bench/plan/check_group_mip.sh [HOUSEHOLDS] [SHELTERS] [SECONDS] [SEEDS...]
set -euo pipefail
cd "$(dirname "$0")/../../.."
ROOT=$(pwd)
H=${1:-4550}
S=${2:-100}
SEC=${3:-150}
shift 3 2>/dev/null || true
SEEDS=${*:-1 2 3}
OUT=${PLAN_BENCH_DIR:-$ROOT/build-plan-bench}
mkdir -p "$OUT"
command -v cbc >/dev/null || apt-get install -y coinor-cbc >/dev/null
gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I libsafety/include -o "$OUT/plan_bench" \
	tests/bench/plan/plan_bench.c libsafety/src/plan*.c libsafety/src/geo.c \
	libsafety/src/error.c -lm
for seed in $SEEDS; do
	line=$("$OUT/plan_bench" --households "$H" --shelters "$S" --seed "$seed" --seats 50 \
		--group-first --group-mip "$OUT/groups-$seed.lp" | grep ' bound ')
	echo "seed $seed, planner:$line"
	cbc "$OUT/groups-$seed.lp" -ratioGap 0.0001 -sec "$SEC" -solve >"$OUT/groups-$seed.cbc" 2>&1 || true
	echo "  CBC: $(sed -nE 's/^Result - (.*)/\1/p' "$OUT/groups-$seed.cbc");" \
		"best $(sed -nE 's/^Objective value: +([0-9.e+]+).*/\1/p' "$OUT/groups-$seed.cbc")" \
		"proven at least $(sed -nE 's/^Lower bound: +([0-9.e+]+).*/\1/p' "$OUT/groups-$seed.cbc")"
done
