#!/bin/bash
# Benchmark: launching a campaign for N affected nationals (default
# 1,000,000): seconds until every check-in and outbox row exists, against a
# plain COPY of the same rows into the same tables (same indexes and
# triggers) in the same run.
#
#   tests/bench/bench_launch.sh [PEOPLE]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PEOPLE=${1:-1000000}
DIR=$ROOT/build/bench-pg
[ -x build/safetyctl ] || { cmake -S . -B build >/dev/null && cmake --build build -j2 >/dev/null; }
deploy/pg.sh start "$DIR" >/dev/null
trap 'deploy/pg.sh stop "$DIR"' EXIT
deploy/pg.sh createdb "$DIR" bench_launch >/dev/null
export SAFETY_DATABASE_URL=$(deploy/pg.sh conninfo "$DIR" | sed 's/dbname=safety/dbname=bench_launch/')
build/safetyctl migrate >/dev/null
psql() { deploy/pg.sh psql "$DIR" -d bench_launch "$@"; }
# Files the server itself reads and writes live in its own directory.
CL=$(readlink -f "$DIR/cluster")
now() { date +%s.%N; }

echo "loading $PEOPLE nationals with a phone each inside the area..."
psql -q <<SQL
SET ROLE safety;
INSERT INTO mission (code, name, default_country) VALUES ('TR-ANK', 'bench', 'TR');
INSERT INTO national (mission_id, name_ko, name_latin, name_key, last_point, last_point_at)
	SELECT 1, '김민준', 'KIM MINJUN ' || g, 'x', ST_SetSRID(ST_MakePoint(36.5 + random(), 37 + random()), 4326)::geography, now()
	FROM generate_series(1, $PEOPLE) g;
INSERT INTO contact (national_id, kind, value) SELECT id, 'phone', '+8210' || lpad(id::text, 8, '0') FROM national;
INSERT INTO crisis (kind, title, area) VALUES ('earthquake', 'bench',
	ST_Multi(ST_MakeEnvelope(36.4, 36.9, 37.6, 38.1, 4326))::geography);
INSERT INTO crisis_mission VALUES (1, 1);
INSERT INTO campaign (crisis_id, mission_id, templates, channels) VALUES
	(1, 1, '{"ko": "{name}님 안전하십니까? {link} {keywords}"}', '{sms}'),
	(1, 1, '{"ko": "{name}님 안전하십니까? {link} {keywords}"}', '{sms}');
RESET ROLE;
VACUUM ANALYZE;
SQL
# Both timed parts start after a checkpoint, so neither pays for one that
# the loading above set off.
psql -q -c CHECKPOINT

t0=$(now)
psql -At -c "SET ROLE safety; SELECT * FROM campaign_launch(1)" >"$DIR/launch.out"
t1=$(now)
echo "launch: $(cat "$DIR/launch.out") (checkins|messages)"

# The baseline: the same rows, made beforehand, copied into the same tables.
psql -q <<SQL
SET ROLE safety;
CREATE TABLE bench_checkin AS SELECT crisis_id, national_id, mission_id, region_id, 2 AS campaign_id, channel_index,
	next_ask_at, state FROM checkin;
CREATE TABLE bench_outbox AS SELECT crisis_id, 2 AS campaign_id, national_id, mission_id, channel, recipient,
	language, body FROM outbox;
DELETE FROM outbox; DELETE FROM person_status; DELETE FROM checkin; DELETE FROM status_count;
RESET ROLE;
VACUUM ANALYZE;
COPY bench_checkin TO '$CL/checkin.copy';
COPY bench_outbox TO '$CL/outbox.copy';
CHECKPOINT;
SQL

t2=$(now)
psql -q -c "COPY checkin (crisis_id, national_id, mission_id, region_id, campaign_id, channel_index, next_ask_at, state) FROM '$CL/checkin.copy'" \
	-c "COPY outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient, language, body) FROM '$CL/outbox.copy'"
t3=$(now)
awk -v n="$PEOPLE" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN {
	printf "campaign launch:  %.2f s for %d people (%.0f people/s)\n", b - a, n, n / (b - a);
	printf "COPY of the rows: %.2f s (same tables, indexes and triggers)\n", d - c;
	printf "ratio launch/COPY rate: %.2f (target >= 0.5); launch under 15 s: %s\n", (d - c) / (b - a), (b - a) < 15 ? "yes" : "no";
}'
