#!/bin/bash
# Benchmark: the registry's spatial query ("who is inside this area") on
# 1,000,000 nationals for an area holding 100,000 of them. Prints the time
# of the query, the count, and whether the plan uses the GiST index. Then
# TRAVELLERS more nationals placed by two-leg itineraries (one leg by a
# region, one by a point; a fifth of them in the area on the day) and the
# same query again, as a ratio to the first.
#
#   tests/bench/bench_spatial.sh [PEOPLE] [INSIDE] [TRAVELLERS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PEOPLE=${1:-1000000}
INSIDE=${2:-100000}
TRAVELLERS=${3:-100000}
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

echo "adding $TRAVELLERS travellers with two-leg itineraries..."
psql -q <<SQL
SET ROLE safety;
-- Regions: the box and 80 others elsewhere in Türkiye, as a mission has provinces.
INSERT INTO region (mission_id, code, name, area)
	SELECT 1, 'R' || g, 'region ' || g, ST_Multi(CASE WHEN g = 0
		THEN ST_MakeEnvelope(36.4, 37.1, 37.4, 38.1, 4326)
		ELSE ST_MakeEnvelope(26 + (g % 10), 38.2 + (g / 10) * 0.45, 26.9 + (g % 10), 38.6 + (g / 10) * 0.45, 4326) END)::geography
	FROM generate_series(0, 80) g;
WITH t AS (INSERT INTO national (mission_id, name_latin, name_key, kind, arrival_date, departure_date, source)
	SELECT 1, 'TRAVELLER ' || g, 'traveller' || g, 'traveller', current_date - 3, current_date + 10, 'self'
	FROM generate_series(1, $TRAVELLERS) g RETURNING id)
INSERT INTO itinerary_leg (national_id, seq, country, region_id, point, arrival, departure)
	SELECT t.id, 1, 'TR', (SELECT id FROM region WHERE code = CASE WHEN t.id % 5 = 0 THEN 'R0'
		ELSE 'R' || (1 + t.id % 80) END), NULL, current_date - 3, current_date + 2 FROM t
	UNION ALL
	SELECT t.id, 2, 'TR', NULL, ST_SetSRID(ST_MakePoint(27 + random() * 8, 38.3 + random() * 3), 4326)::geography,
		current_date + 3, current_date + 10 FROM t;
INSERT INTO location (national_id, point, source)
	SELECT n.id, ST_SetSRID(ST_MakePoint(30, 39), 4326)::geography, 'itinerary'
	FROM national n WHERE n.kind = 'traveller';
VACUUM ANALYZE national; VACUUM ANALYZE itinerary_leg; VACUUM ANALYZE region;
SQL
best2=""
for i in 1 2 3 4 5; do
	out=$(psql -At -c "\\timing on" -c "SET ROLE safety; SELECT count(*) FROM nationals_in_area(1, $AREA, current_date)" | tr '\n' ' ')
	ms=$(echo "$out" | grep -oE 'Time: [0-9.]+' | tail -1 | awk '{print $2}')
	if [ -z "$best2" ] || awk -v a="$ms" -v b="$best2" 'BEGIN { exit !(a < b) }'; then best2=$ms; fi
done
count2=$(psql -At -c "SET ROLE safety; SELECT count(*) FROM nationals_in_area(1, $AREA, current_date)")
psql -At -c "SET ROLE safety; EXPLAIN SELECT count(*) FROM nationals_in_area(1, $AREA, current_date)" > "$DIR/plan2.txt"
if grep -q itinerary_leg_region "$DIR/plan2.txt" && grep -q national_last_point "$DIR/plan2.txt"; then index2=yes; else index2=no; fi
echo "with itineraries: $count2 inside ($((count2 - count)) by today's leg), best of 5: $best2 ms, leg and point indexes used: $index2"
awk -v a="$best2" -v b="$best" 'BEGIN { printf "ratio with itineraries / without: %.2f\n", a / b }'
