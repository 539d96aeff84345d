#!/bin/bash
# Benchmark: dispatch to the local Twilio-shaped server with rate limits off:
# messages per second end to end (claimed, sent, marked), and the stand-in
# server measured alone in the same run. Checks that no message is lost or
# sent twice.
#
#   tests/bench/bench_dispatch.sh [MESSAGES]
#
# The stand-in is tests/bench/dispatch/twilio_bench_server.c (the Messages
# resource and its signed status callbacks, in C); STANDIN=python runs the
# tests' Python stand-in instead, which spends more CPU per message than
# safetyd and PostgreSQL together.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
N=${1:-50000}
DIR=$ROOT/build/bench-pg
GW=$ROOT/build/bench-gw
[ -x build/safetyd ] || { cmake -S . -B build >/dev/null && cmake --build build -j2 >/dev/null; }
deploy/pg.sh start "$DIR" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
	[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null || true
	[ -n "${STANDIN_PID:-}" ] && kill "$STANDIN_PID" 2>/dev/null || true
	deploy/gateways.sh stop "$GW" >/dev/null 2>&1 || true
	deploy/pg.sh stop "$DIR"
}
trap cleanup EXIT
if [ "${STANDIN:-c}" = python ]; then
	deploy/gateways.sh start "$GW" --hook-base "http://127.0.0.1:$PORT" >/dev/null
	set -a
	# shellcheck disable=SC1091
	. "$GW/gateways.env"
	set +a
else
	command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
	mkdir -p "$GW"
	cc -O2 -Wall -Wextra -Werror tests/bench/dispatch/twilio_bench_server.c -levent -lcrypto \
		-o "$GW/twilio_bench_server"
	SAFETY_TWILIO_ACCOUNT_SID=AC$(openssl rand -hex 16)
	SAFETY_TWILIO_AUTH_TOKEN=$(openssl rand -hex 16)
	SAFETY_TWILIO_FROM=+15005550006
	(umask 077 && echo "$SAFETY_TWILIO_AUTH_TOKEN" >"$GW/bench-token")
	SAFETY_TWILIO_LOG=$GW/bench-messages.jsonl
	: >"$SAFETY_TWILIO_LOG"
	STANDIN_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	SAFETY_TWILIO_URL=http://127.0.0.1:$STANDIN_PORT
	"$GW/twilio_bench_server" --port "$STANDIN_PORT" --account-sid "$SAFETY_TWILIO_ACCOUNT_SID" \
		--auth-token-file "$GW/bench-token" --log "$SAFETY_TWILIO_LOG" --callback-delay-ms 50 &
	STANDIN_PID=$!
	for _ in $(seq 1 50); do curl -s -o /dev/null "$SAFETY_TWILIO_URL/" && break; sleep 0.1; done
fi
deploy/pg.sh createdb "$DIR" bench_dispatch >/dev/null
CONN=$(deploy/pg.sh conninfo "$DIR" | sed 's/dbname=safety/dbname=bench_dispatch/')
SAFETY_DATABASE_URL=$CONN build/safetyctl migrate >/dev/null

echo "the stand-in alone (no status callbacks):"
if [ "${STANDIN:-c}" = python ]; then
	python3 tests/gateways/load_twilio.py --env "$GW/gateways.env" -n 20000 -c 64 --no-callback | tail -2
else
	SID=$SAFETY_TWILIO_ACCOUNT_SID AUTH="Basic $(printf '%s:%s' "$SAFETY_TWILIO_ACCOUNT_SID" "$SAFETY_TWILIO_AUTH_TOKEN" |
		base64 -w0)" wrk -t2 -c64 -d3s -s tests/bench/dispatch/post_message.lua "$SAFETY_TWILIO_URL" |
		grep -E "Requests/sec|Non-2xx"
	: >"$SAFETY_TWILIO_LOG"
fi

deploy/pg.sh psql "$DIR" -d bench_dispatch -q <<SQL
SET ROLE safety;
INSERT INTO mission (code, name, default_country) VALUES ('TR-ANK', 'bench', 'TR');
INSERT INTO crisis (kind, title, center, radius_m) VALUES ('other', 'bench', ST_SetSRID(ST_MakePoint(0, 0), 4326)::geography, 1000);
INSERT INTO outbox (crisis_id, mission_id, channel, recipient, body, next_attempt_at)
	SELECT 1, 1, 'sms', '+8210' || lpad(g::text, 8, '0'), 'bench ' || g || ' {link}', now() + interval '1 day'
	FROM generate_series(1, $N) g;
SQL
cat >"$DIR/dispatch.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
public_url = http://127.0.0.1:$PORT
[database]
url = $CONN
pool_size = 4
[channels]
sms_driver = twilio
twilio_url = $SAFETY_TWILIO_URL
twilio_account_sid = $SAFETY_TWILIO_ACCOUNT_SID
twilio_auth_token = $SAFETY_TWILIO_AUTH_TOKEN
twilio_from = $SAFETY_TWILIO_FROM
sms_rate = 0
sms_concurrency = 128
dispatch_batch = 2000
dispatch_interval_ms = 20
[log]
level = warn
[paths]
state_dir = $DIR
CONF
build/safetyd -c "$DIR/dispatch.conf" 2>"$DIR/dispatch.log" &
PID=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
before=$(wc -l <"$SAFETY_TWILIO_LOG" 2>/dev/null || echo 0)
t0=$(date +%s.%N)
deploy/pg.sh psql "$DIR" -d bench_dispatch -q -c "UPDATE outbox SET next_attempt_at = now()"
while true; do
	left=$(deploy/pg.sh psql "$DIR" -d bench_dispatch -At -c "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')")
	[ "$left" = 0 ] && break
	sleep 0.2
done
t1=$(date +%s.%N)
sent=$(deploy/pg.sh psql "$DIR" -d bench_dispatch -At -c "SELECT count(*) FROM outbox WHERE state IN ('sent', 'delivered')")
after=$(wc -l <"$SAFETY_TWILIO_LOG")
unique=$(tail -n +"$((before + 1))" "$SAFETY_TWILIO_LOG" | python3 -c 'import json,sys; print(len({json.loads(l)["body"] for l in sys.stdin if l.strip()}))')
awk -v n="$N" -v a="$t0" -v b="$t1" -v s="$sent" -v r="$((after - before))" -v u="$unique" 'BEGIN {
	printf "dispatch: %d messages claimed, sent and marked in %.2f s: %.0f messages/s (target 5,000)\n", n, b - a, n / (b - a);
	printf "marked sent: %d; received by the server: %d, distinct: %d (lost: %d, twice: %d)\n", s, r, u, n - u, r - u;
}'
# The status callbacks ("sent", then "delivered") still arriving are applied in batches.
for _ in $(seq 1 150); do
	delivered=$(deploy/pg.sh psql "$DIR" -d bench_dispatch -At -c "SELECT count(*) FROM outbox WHERE state = 'delivered'")
	[ "$delivered" = "$N" ] && break
	sleep 0.2
done
t2=$(date +%s.%N)
awk -v n="$N" -v d="$delivered" -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
	printf "delivery reports: %d of %d messages delivered %.2f s after the start (%.2f s after the last send)\n", d, n, c - a, c - b;
}'
