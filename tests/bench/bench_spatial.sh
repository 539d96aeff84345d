#!/bin/bash
# Benchmark: the registry's spatial query ("who is inside this area") on
# 1,000,000 nationals for an area holding 100,000 of them. Prints the time
# of the query, the count, and whether the plan uses the GiST index.
#
#   tests/bench/bench_spatial.sh [PEOPLE] [INSIDE]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PEOPLE=${1:-1000000}
INSIDE=${2:-100000}
DIR=$ROOT/build/bench-pg
[ -x build/safetyctl ] || { cmake -S . -B build >/dev/null && cmake --build build -j2 >/dev/null; }
deploy/pg.sh start "$DIR" >/dev/null
trap 'deploy/pg.sh stop "$DIR"' EXIT
deploy/pg.sh createdb "$DIR" bench_spatial >/dev/null
CONN=$(deploy/pg.sh conninfo "$DIR" | sed 's/dbname=safety/dbname=bench_spatial/')
SAFETY_DATABASE_URL=$CONN build/safetyctl migrate >/dev/null
psql() { deploy/pg.sh psql "$DIR" -d bench_spatial "$@"; }

echo "loading $PEOPLE nationals, $INSIDE of them inside the area..."
t0=$(date +%s.%N)
psql -q <<SQL
SET ROLE safety;
INSERT INTO mission (code, name, default_country) VALUES ('TR-ANK', 'bench', 'TR');
-- The area: a 1 x 1 degree box around Kahramanmaraş. The others are spread
-- over the rest of Türkiye (26-36 E, 36.5-42 N) outside that box.
INSERT INTO national (mission_id, name_latin, name_key)
	SELECT 1, 'PERSON ' || g, 'person' || g FROM generate_series(1, $PEOPLE) g;
INSERT INTO location (national_id, point, source)
	SELECT n.id, ST_SetSRID(ST_MakePoint(
		CASE WHEN n.id <= $INSIDE THEN 36.4 + random() * 0.999 ELSE 26 + random() * 10 END,
		CASE WHEN n.id <= $INSIDE THEN 37.1 + random() * 0.999
		     ELSE CASE WHEN random() < 0.5 THEN 38.2 + random() * 3.8 ELSE 36.5 + random() * 0.55 END END),
		4326)::geography, 'registration'
	FROM national n
	-- keep outsiders out of the box even where the longitude overlaps
	;
UPDATE national SET last_point = ST_SetSRID(ST_MakePoint(30, 39), 4326)::geography
	WHERE id > $INSIDE AND ST_Intersects(last_point,
		ST_MakeEnvelope(36.4, 37.1, 37.4, 38.1, 4326)::geography);
VACUUM ANALYZE national;
SQL
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "loaded in %.1f s\n", b - a }'

AREA="ST_GeomFromGeoJSON('{\"type\":\"Polygon\",\"coordinates\":[[[36.4,37.1],[37.4,37.1],[37.4,38.1],[36.4,38.1],[36.4,37.1]]]}')::geography"
psql -At -c "SET ROLE safety; EXPLAIN SELECT count(*) FROM nationals_in_area(1, $AREA, current_date)" > "$DIR/plan.txt"
if grep -q national_last_point "$DIR/plan.txt"; then index=yes; else index=no; fi
best=""
for i in 1 2 3 4 5; do
	out=$(psql -At -c "\\timing on" -c "SET ROLE safety; SELECT count(*) FROM nationals_in_area(1, $AREA, current_date)" | tr '\n' ' ')
	count=$(echo "$out" | awk '{print $1}' | grep -E '^[0-9]+$' || true)
	ms=$(echo "$out" | grep -oE 'Time: [0-9.]+' | tail -1 | awk '{print $2}')
	if [ -z "$best" ] || awk -v a="$ms" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$ms; fi
done
count=$(psql -At -c "SET ROLE safety; SELECT count(*) FROM nationals_in_area(1, $AREA, current_date)")
echo "spatial query: $count of $PEOPLE nationals inside, best of 5: $best ms, GiST index used: $index"
bykey=$(psql -At -c "\\timing on" -c "SET ROLE safety; SELECT region_id, count(*) FROM nationals_in_area(1, $AREA, current_date) GROUP BY 1" | grep -oE 'Time: [0-9.]+' | awk '{print $2}')
echo "with counts by region: $bykey ms"
