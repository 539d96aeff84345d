#!/bin/bash
# Benchmark: 1,000 HQ pollers on /feed/v1/status.json (wrk, each sending
# back its ETag) while replies arrive at about 1,000 per second. Reports the
# feed's rate, and the replies' rate and p99 with and without the pollers in
# the same run (target: slower by at most 10%): pollers that poll once a
# second each, then pollers that poll as fast as they can.
#
#   tests/bench/bench_feed.sh [PEOPLE] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
PEOPLE=${1:-100000}
SECS=${2:-20}
DIR=$ROOT/build/bench-pg
DB=bench_feed
. tests/bench/replies/setup.sh
FEED_KEY=$(SAFETY_DATABASE_URL=$CONN build/safetyctl apikey create hq-bench --scope feed:read 2>/dev/null)
export FEED_KEY TOKENS=$DIR/tokens.txt

# 20 connections each pausing 14 ms between answers: about 1,000 a second.
replies() {
	DELAY_MS=14 wrk -t1 -c20 -d"${SECS}s" --latency -s tests/bench/replies/post.lua "http://127.0.0.1:$PORT" |
		grep -E "Requests/sec|99%|Non-2xx" | sed 's/^/  replies: /'
}

echo "== replies alone (~1,000/s)"
replies
# pollers DELAY_MS: 1,000 pollers, each pausing DELAY_MS between polls ("" = flat out).
pollers() {
	POLL_DELAY_MS=$1 wrk -t1 -c1000 -d"$((SECS + 2))s" --latency -s tests/bench/feed/poll.lua \
		"http://127.0.0.1:$PORT" >"$DIR/poll.out" 2>&1 &
	POLL=$!
	sleep 1
	replies
	wait "$POLL"
	grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors" "$DIR/poll.out" | sed 's/^/  pollers: /'
}
echo "== replies (~1,000/s) with 1,000 pollers on status.json, each polling once a second"
pollers 1000
echo "== replies (~1,000/s) with 1,000 pollers polling as fast as they can (stress)"
pollers ""
curl -fsS "http://127.0.0.1:$PORT/metrics" | grep -E "^safety_feed_(status_requests|not_modified|queries)" | sed 's/^/  /'
