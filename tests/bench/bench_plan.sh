#!/bin/bash
# Benchmark of the evacuation planner, every figure from one run on this
# machine: assignment of 100,000 households to 1,000 shelters beside LEMON's
# network simplex and CLP's dual simplex on the same 20-nearest graph, the
# naive "nearest shelter with room" plan, all households at one point, groups of 50 and 14 seats, bus
# groups assigned whole (and a tenth of them against CBC), and 1,000,000 people. Installs its benchmark-only
# packages (LEMON, CLP, CBC, GLPK, g++) when missing; they are not project
# dependencies. One measurement per process, one at a time.
#
#   tests/bench/bench_plan.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
OUT=${PLAN_BENCH_DIR:-$ROOT/build-plan-bench}
mkdir -p "$OUT"
H=100000
S=1000
BIG=364000
[ "${1:-}" = "--quick" ] && { H=20000; S=200; BIG=36400; }

missing=""
[ -f /usr/include/lemon/network_simplex.h ] || missing="$missing liblemon-dev"
command -v clp >/dev/null || missing="$missing coinor-clp"
command -v cbc >/dev/null || missing="$missing coinor-cbc"
command -v glpsol >/dev/null || missing="$missing glpk-utils"
command -v g++ >/dev/null || missing="$missing g++"
[ -z "$missing" ] || apt-get install -y $missing >/dev/null

gcc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I libsafety/include -o "$OUT/plan_bench" \
	tests/bench/plan/plan_bench.c libsafety/src/plan*.c libsafety/src/geo.c \
	libsafety/src/error.c -lm
g++ -O2 -std=c++17 -o "$OUT/lemon_ns" tests/bench/plan/lemon_ns.cpp
B=$OUT/plan_bench

echo "== assignment: $H households x $S shelters"
"$B" --households $H --shelters $S --determinism
echo "-- naive nearest shelter with room (the staff baseline)"
"$B" --households $H --shelters $S --naive
echo "-- the same households all at one point (a crowd at an embassy), planner and naive"
"$B" --households $H --shelters $S --coincident 1 --determinism
"$B" --households $H --shelters $S --coincident 1 --naive
"$B" --households $H --shelters $S --graph 20 "$OUT/g20.txt" --no-solve
echo "-- LEMON on each household's 20 nearest fitting shelters (+ a left-out arc at 10^8)"
"$OUT/lemon_ns" "$OUT/g20.txt"
echo "-- CLP dual simplex on the same graph"
python3 tests/bench/plan/dimacs_to_mps.py "$OUT/g20.txt" "$OUT/g20.mps"
/usr/bin/time -f "clp wall %e s, peak memory %M KB" \
	clp "$OUT/g20.mps" -dualsimplex 2>&1 | grep -E "Optimal objective|clp wall|Time"

echo "== groups: $H households to one destination"
"$B" --households $H --shelters 1 --slack 100 --seats 50
"$B" --households $H --shelters 1 --slack 100 --seats 14

echo "== bus groups of 50 assigned whole (group first): about 2,500 groups x $S shelters, three seeds"
"$B" --households $((H * 455 / 1000)) --shelters $S --seats 50 --group-first --determinism
for seed in 2 3; do
	"$B" --households $((H * 455 / 1000)) --shelters $S --seats 50 --group-first --seed $seed |
		grep -E "time|cost"
done
echo "-- a tenth of it against coinor-cbc on the same groups (150 s each)"
tests/bench/plan/check_group_mip.sh $((H * 455 / 10000)) $((S / 10)) 150 1 2 3

echo "== scale: about 1,000,000 people ($BIG households x $((S * 3)) shelters)"
"$B" --households $BIG --shelters $((S * 3))

echo "== small shelters, lumpy households: 1,000 households x 100 shelters, three seeds"
for seed in 1 2 3; do
	"$B" --households 1000 --shelters 100 --seed $seed --k 4 | grep -E "time|cost"
done

echo "== households whole against the optimum coinor-cbc proves (1,000 households x 50 shelters)"
tests/bench/plan/check_mip.sh 1000 50 1 2 3

echo "== the LP cross-check"
tests/bench/plan/check_lp.sh 1000 100 1 2 3
