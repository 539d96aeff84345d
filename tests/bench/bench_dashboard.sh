#!/bin/bash
# Benchmark: the dashboard with a crisis of PEOPLE nationals (default
# 100,000) in headless Chromium: time until the map shows everyone, and the
# longest task while panning and zooming (target: no frame over 100 ms).
#
#   tests/bench/bench_dashboard.sh [PEOPLE]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PEOPLE=${1:-100000}
DIR=$ROOT/build/bench-pg
deploy/install-deps.sh
deploy/web.sh
[ -x build/safetyd ] || { cmake -S . -B build >/dev/null && cmake --build build -j2 >/dev/null; }
deploy/pg.sh start "$DIR" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
	[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null || true
	deploy/pg.sh stop "$DIR"
}
trap cleanup EXIT
deploy/pg.sh createdb "$DIR" bench_dashboard >/dev/null
CONN=$(deploy/pg.sh conninfo "$DIR" | sed 's/dbname=safety/dbname=bench_dashboard/')
export SAFETY_DATABASE_URL=$CONN
build/safetyctl migrate >/dev/null
echo "== demo: $PEOPLE nationals"
time build/safetyctl demo --country TR --people "$PEOPLE" --seed 1 >/dev/null
PASSWORD=$(openssl rand -hex 12)
echo "$PASSWORD" >"$DIR/pw"
build/safetyctl user add bench --role mission_lead --mission TR-ANK --password-file "$DIR/pw" >/dev/null 2>&1
cat >"$DIR/dash.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
[database]
url = $CONN
[auth]
password_hash_cost = 10
[log]
level = warn
[paths]
state_dir = $DIR
CONF
build/safetyd -c "$DIR/dash.conf" 2>"$DIR/dash.log" &
PID=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
# A crisis over the whole country, everyone asked (statuses exist; nothing needs sending).
deploy/pg.sh psql "$DIR" -d bench_dashboard -q <<'SQL'
SET ROLE safety;
INSERT INTO crisis (kind, title, center, radius_m) VALUES ('earthquake', 'Bench', ST_SetSRID(ST_MakePoint(35, 39), 4326)::geography, 1500000);
INSERT INTO crisis_mission VALUES (1, 1);
INSERT INTO campaign (crisis_id, mission_id, templates, channels) VALUES (1, 1, '{"en": "x {link}"}', '{sms}');
INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at)
	SELECT 1, id, 1, 1, now() + interval '1 day' FROM national;
UPDATE person_status SET status = CASE WHEN national_id % 10 = 0 THEN 'safe' WHEN national_id % 37 = 0 THEN 'needs_help' ELSE status END;
SQL
echo "== points endpoint"
curl -s -o /dev/null -w "  %{size_download} bytes in %{time_total} s\n" -c "$DIR/cookies" \
	-H 'Content-Type: application/json' -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" \
	"http://127.0.0.1:$PORT/api/v1/session" >/dev/null
curl -s -o /dev/null -b "$DIR/cookies" -w "  %{size_download} bytes in %{time_total} s\n" \
	"http://127.0.0.1:$PORT/api/v1/crises/1/points"
echo "== Chromium"
BASE=http://127.0.0.1:$PORT USER=bench PASSWORD=$PASSWORD CRISIS=1 SCREENSHOT=$DIR/dashboard-100k.png \
	node tests/browser/dashboard-perf.mjs
echo "screenshot: $DIR/dashboard-100k.png"
