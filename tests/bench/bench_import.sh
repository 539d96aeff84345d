#!/bin/bash
# Benchmark: importing 100,000 CSV rows of nationals (1% bad) through
# safetyctl (parse, validate, COPY to staging, set-based merge), against a
# plain COPY of the same file into an unindexed table of text columns, in
# the same run. Prints rows per second for both and their ratio.
#
#   tests/bench/bench_import.sh [ROWS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
ROWS=${1:-100000}
DIR=$ROOT/build/bench-pg
[ -x build/safetyctl ] || { cmake -S . -B build >/dev/null && cmake --build build -j2 >/dev/null; }
deploy/pg.sh start "$DIR" >/dev/null
trap 'deploy/pg.sh stop "$DIR"' EXIT
deploy/pg.sh createdb "$DIR" bench_import >/dev/null
CONN=$(deploy/pg.sh conninfo "$DIR" | sed 's/dbname=safety/dbname=bench_import/')
export SAFETY_DATABASE_URL=$CONN
build/safetyctl migrate >/dev/null
build/safetyctl mission add TR-ANK --name bench --country TR >/dev/null
CSV=$DIR/nationals-$ROWS.csv
[ -f "$CSV" ] || python3 tests/bench/gen_nationals_csv.py "$ROWS" "$CSV"
now() { date +%s.%N; }

# Baseline: COPY of the same bytes into an unindexed table.
deploy/pg.sh psql "$DIR" -d bench_import -q -c "CREATE TABLE copy_baseline (c1 text, c2 text, c3 text, c4 text, c5 text, c6 text, c7 text, c8 text, c9 text, c10 text, c11 text, c12 text)"
t0=$(now)
deploy/pg.sh psql "$DIR" -d bench_import -q -c "\\copy copy_baseline FROM '$CSV' WITH (FORMAT csv, HEADER true)"
t1=$(now)
t2=$(now)
build/safetyctl import nationals "$CSV" --mission TR-ANK > "$DIR/import.out" || true
t3=$(now)
tail -1 "$DIR/import.out"
t4=$(now)
build/safetyctl import nationals "$CSV" --mission TR-ANK > "$DIR/import2.out" || true
t5=$(now)
tail -1 "$DIR/import2.out"
awk -v r="$ROWS" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v f="$t5" 'BEGIN {
	copy = r / (b - a); imp = r / (d - c); again = r / (f - e);
	printf "COPY baseline:      %8.0f rows/s (%.2f s)\n", copy, b - a;
	printf "import (first run): %8.0f rows/s (%.2f s)\n", imp, d - c;
	printf "import (same file): %8.0f rows/s (%.2f s)\n", again, f - e;
	printf "ratio import/COPY:  %.3f (target >= 0.33)\n", imp / copy;
}'
