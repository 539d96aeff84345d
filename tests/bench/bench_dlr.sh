#!/bin/bash
# Benchmark: delivery reports through Kannel's DLR hook with wrk, over ROWS
# messages already sent, against the real database: reports per second and
# latency; in the same run, a naive baseline (one UPDATE and COMMIT per
# report, pgbench, as many clients) for the ratio.
#
#   tests/bench/bench_dlr.sh [ROWS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS=${1:-100000}
SECS=${2:-10}
DIR=$(pwd)/build/bench-pg
DB=bench_dlr
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
[ -x build/safetyd ] || { cmake -S . -B build >/dev/null && cmake --build build -j2 >/dev/null; }
deploy/pg.sh start "$DIR" >/dev/null
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null || true
	deploy/pg.sh stop "$DIR"
}
trap cleanup EXIT
deploy/pg.sh createdb "$DIR" "$DB" >/dev/null
CONN=$(deploy/pg.sh conninfo "$DIR" | sed "s/dbname=safety/dbname=$DB/")
SAFETY_DATABASE_URL=$CONN build/safetyctl migrate >/dev/null
deploy/pg.sh psql "$DIR" -d "$DB" -q <<SQL
SET ROLE safety;
INSERT INTO mission (code, name, default_country) VALUES ('TR-ANK', 'bench', 'TR');
INSERT INTO crisis (kind, title, center, radius_m) VALUES ('other', 'bench', ST_SetSRID(ST_MakePoint(0, 0), 4326)::geography, 1000);
INSERT INTO outbox (crisis_id, mission_id, channel, recipient, body, next_attempt_at, state, sent_at)
	SELECT 1, 1, 'sms', '+8210' || lpad(g::text, 8, '0'), 'bench', now(), 'sent', now()
	FROM generate_series(1, $ROWS) g;
SQL
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
HOOK_SECRET=$(openssl rand -hex 16)
cat >"$DIR/dlr.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
max_connections = 5000
[database]
url = $CONN
pool_size = 4
[channels]
hook_secret = $HOOK_SECRET
[log]
level = warn
[paths]
state_dir = $DIR
CONF
build/safetyd -c "$DIR/dlr.conf" 2>"$DIR/dlr.log" &
PID=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
echo "== GET /hooks/sms/kannel/dlr over $ROWS messages, wrk 64 connections, ${SECS} s"
HOOK_SECRET=$HOOK_SECRET ROWS=$ROWS wrk -t2 -c64 -d"${SECS}s" --latency -s tests/bench/dlr/kannel_dlr.lua \
	"http://127.0.0.1:$PORT" | grep -E "Requests/sec|50%|99%|Non-2xx"
echo "delivered: $(deploy/pg.sh psql "$DIR" -d "$DB" -At -c "SELECT count(*) FROM outbox WHERE state = 'delivered'") of $ROWS"
kill "$PID"
wait "$PID" 2>/dev/null || true
PID=
echo "== naive baseline: one UPDATE and COMMIT per report (pgbench, 64 clients)"
cat >"$DIR/naive_dlr.sql" <<SQL
\set id random(1, $ROWS)
UPDATE outbox SET state = 'delivered', delivered_at = now() WHERE id = :id AND state IN ('sending', 'sent', 'delivered');
SQL
PGHOST=$(readlink -f "$DIR/cluster") PGPORT=$(cat "$DIR/port") /usr/lib/postgresql/15/bin/pgbench -n -U postgres \
	-c 64 -j 2 -T "$SECS" -f "$DIR/naive_dlr.sql" "$DB" 2>/dev/null | grep -E "^tps|latency average"
