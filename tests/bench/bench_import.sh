#!/bin/bash
# Benchmark: importing 100,000 CSV rows of nationals (1% bad) through
# safetyctl (parse, validate, COPY to staging, set-based merge), against a
# plain COPY of the same file into an unindexed table of text columns, in
# the same run. Prints rows per second for both and their ratio, and the
# floor any import has on the indexed registry: the rows the import stored,
# copied into copies of its tables with and without their indexes.
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

# The floor any import has: the people, contacts and places the import
# stored, copied by one INSERT ... SELECT per table into copies of the
# registry's tables, first bare (no index), then with the registry's
# indexes (the GiST of places, the trigram index of names, the keys the
# matching reads); no triggers, no parsing, no validation, no matching. An
# import that stores the same rows in the indexed registry cannot be faster
# than the second.
floor() { # floor LIKE_OPTIONS [SQL]: seconds to copy the stored rows into such tables (SQL run first)
	deploy/pg.sh psql "$DIR" -d bench_import -q -c "SET client_min_messages = warning; DROP TABLE IF EXISTS floor_national, floor_contact, floor_location; CREATE TABLE floor_national (LIKE national $1); CREATE TABLE floor_contact (LIKE contact $1); CREATE TABLE floor_location (LIKE location $1); ${2:-}"
	local a b
	a=$(now)
	deploy/pg.sh psql "$DIR" -d bench_import -q -c "INSERT INTO floor_national SELECT * FROM national; INSERT INTO floor_contact SELECT * FROM contact; INSERT INTO floor_location SELECT * FROM location"
	b=$(now)
	awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", b - a}'
}
stored=$(deploy/pg.sh psql "$DIR" -d bench_import -At -c "SELECT (SELECT count(*) FROM national) || ' people, ' || (SELECT count(*) FROM contact) || ' contacts, ' || (SELECT count(*) FROM location) || ' places'")
bare=$(floor "INCLUDING DEFAULTS")
# The B-tree keys alone: what scoping by mission, the list filters, retention
# and matching on passport, phone and e-mail read, without the GiST of places
# or the trigram index of names.
btree=$(floor "INCLUDING DEFAULTS INCLUDING INDEXES" "DO \$\$ DECLARE i record; BEGIN FOR i IN SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_am a ON a.oid = c.relam WHERE t.relname LIKE 'floor\\_%' AND a.amname <> 'btree' LOOP EXECUTE format('DROP INDEX %I', i.relname); END LOOP; END \$\$")
indexed=$(floor "INCLUDING DEFAULTS INCLUDING INDEXES")
deploy/pg.sh psql "$DIR" -d bench_import -q -c "DROP TABLE floor_national, floor_contact, floor_location"
echo "stored by the import: $stored"
awk -v r="$ROWS" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v f="$t5" -v bare="$bare" -v bt="$btree" -v idx="$indexed" 'BEGIN {
	copy = r / (b - a); imp = r / (d - c); again = r / (f - e);
	printf "COPY baseline:      %8.0f rows/s (%.2f s)\n", copy, b - a;
	printf "import (first run): %8.0f rows/s (%.2f s)\n", imp, d - c;
	printf "import (same file): %8.0f rows/s (%.2f s)\n", again, f - e;
	printf "ratio import/COPY:  %.3f (target >= 0.33)\n", imp / copy;
	printf "floor, the stored rows into bare tables:          %8.0f rows/s (%.2f s), ratio to COPY %.3f\n", r / bare, bare, (r / bare) / copy;
	printf "floor, the same with the B-tree keys alone:       %8.0f rows/s (%.2f s), ratio to COPY %.3f\n", r / bt, bt, (r / bt) / copy;
	printf "floor, the stored rows into the indexed registry: %8.0f rows/s (%.2f s), ratio to COPY %.3f\n", r / idx, idx, (r / idx) / copy;
	printf "ratio import/indexed floor: %.3f\n", imp / (r / idx);
}'
