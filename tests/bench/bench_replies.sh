#!/bin/bash
# Benchmark: reply ingest through POST /r/<token> with wrk, the load spread
# over PEOPLE distinct tokens, and through Kannel's incoming-SMS hook from
# PEOPLE distinct numbers, against the real database: replies per second
# and latency; in the same run the same daemon's /healthz rate, and a naive
# baseline (one INSERT and COMMIT per reply, with pgbench) for the ratio.
#
#   tests/bench/bench_replies.sh [PEOPLE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PEOPLE=${1:-100000}
SECS=${2:-15}
DIR=$ROOT/build/bench-pg
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
[ -x build/safetyd ] || { cmake -S . -B build >/dev/null && cmake --build build -j2 >/dev/null; }
deploy/pg.sh start "$DIR" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
	[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null || true
	deploy/pg.sh stop "$DIR"
}
trap cleanup EXIT
deploy/pg.sh createdb "$DIR" bench_replies >/dev/null
CONN=$(deploy/pg.sh conninfo "$DIR" | sed 's/dbname=safety/dbname=bench_replies/')
SAFETY_DATABASE_URL=$CONN build/safetyctl migrate >/dev/null
echo "1:$(openssl rand -hex 32)" >"$DIR/token.keys"
HOOK_SECRET=$(openssl rand -hex 16)
cc -O2 -Ilibsafety/include tests/bench/replies/make_tokens.c build/libsafety.a -lcrypto -lunistring -lcsv \
	-lcjson -lxml2 -lm -o "$DIR/make_tokens"

deploy/pg.sh psql "$DIR" -d bench_replies -q <<SQL
SET ROLE safety;
INSERT INTO mission (code, name, default_country) VALUES ('TR-ANK', 'bench', 'TR');
INSERT INTO national (mission_id, name_ko, name_latin, name_key)
	SELECT 1, '김민준', 'KIM MINJUN', 'x' FROM generate_series(1, $PEOPLE);
INSERT INTO crisis (kind, title, center, radius_m) VALUES ('earthquake', 'bench', ST_SetSRID(ST_MakePoint(37, 37), 4326)::geography, 1000);
INSERT INTO crisis_mission VALUES (1, 1);
INSERT INTO campaign (crisis_id, mission_id, templates, channels) VALUES (1, 1, '{"en": "x {link}"}', '{sms}');
INSERT INTO contact (national_id, kind, value)
	SELECT id, 'phone', '+90532' || lpad(id::text, 7, '0') FROM national;
INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at)
	SELECT 1, id, 1, 1, now() + interval '1 day' FROM national;
SQL
"$DIR/make_tokens" "$DIR/token.keys" 1 1 1 "$PEOPLE" >"$DIR/tokens.txt"
cat >"$DIR/replies.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
max_connections = 5000
[database]
url = $CONN
pool_size = 4
[auth]
public_rate_per_second = 1000000
public_burst = 1000000
[log]
level = warn
[channels]
hook_secret = $HOOK_SECRET
[tokens]
key_file = $DIR/token.keys
key_id = 1
[paths]
state_dir = $DIR
CONF
build/safetyd -c "$DIR/replies.conf" 2>"$DIR/replies.log" &
PID=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

echo "== /healthz"
wrk -t2 -c64 -d"${SECS}s" "http://127.0.0.1:$PORT/healthz" | grep -E "Requests/sec|Latency"
echo "== POST /r/<token> over $PEOPLE people"
TOKENS=$DIR/tokens.txt wrk -t2 -c64 -d"${SECS}s" --latency -s tests/bench/replies/post.lua "http://127.0.0.1:$PORT" |
	grep -E "Requests/sec|Latency|50%|99%|Non-2xx"
stored=$(deploy/pg.sh psql "$DIR" -d bench_replies -At -c "SELECT count(*) FROM response")
echo "stored responses: $stored"
echo "== GET /hooks/sms/kannel from $PEOPLE numbers"
PEOPLE=$PEOPLE HOOK_SECRET=$HOOK_SECRET wrk -t2 -c64 -d"${SECS}s" --latency -s tests/bench/replies/sms.lua \
	"http://127.0.0.1:$PORT" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx"
echo "stored SMS responses: $(deploy/pg.sh psql "$DIR" -d bench_replies -At -c \
	"SELECT count(*) FROM response WHERE channel = 'sms' AND national_id IS NOT NULL")"
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
echo "== naive baseline: one INSERT and COMMIT per reply (pgbench, 64 clients)"
cat >"$DIR/naive.sql" <<'SQL'
\set n random(1, 100000)
INSERT INTO response (crisis_id, national_id, mission_id, channel, raw_text, status, provider_ref) VALUES (1, :n, 1, 'web', 'naive', 'safe', 'naive:' || :client_id || ':' || random());
SQL
deploy/pg.sh psql "$DIR" -d bench_replies -q -c "GRANT ALL ON ALL TABLES IN SCHEMA public TO postgres" 2>/dev/null || true
PGHOST=$(readlink -f "$DIR/cluster") PGPORT=$(cat "$DIR/port") /usr/lib/postgresql/15/bin/pgbench -n -U postgres \
	-c 64 -j 2 -T "$SECS" -f "$DIR/naive.sql" bench_replies 2>/dev/null | grep -E "^tps|latency average"
