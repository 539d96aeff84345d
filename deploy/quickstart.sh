#!/bin/bash
# Installs, builds, starts a private PostgreSQL, migrates, loads the demo
# data and runs safetyd on http://127.0.0.1:${SAFETY_PORT:-8080}.
#
#   deploy/quickstart.sh               run in the foreground; Ctrl-C stops everything
#   deploy/quickstart.sh --background  start and return once /readyz answers 200
#   deploy/quickstart.sh --stop        stop what --background started
#
# SAFETY_STATE_DIR (default ./var) keeps the database, configuration, logs
# and the admin password between runs. SAFETY_ADMIN_PASSWORD sets the admin
# password instead of a random one.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
STATE=${SAFETY_STATE_DIR:-$ROOT/var}
PORT=${SAFETY_PORT:-8080}
mode=foreground
case "${1:-}" in
"") ;;
--background) mode=background ;;
--stop) mode=stop ;;
-h | --help)
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "quickstart: unknown option '$1' (try --help)" >&2
	exit 2
	;;
esac
# The state holds the admin password, the keys and the messages' log: its
# owner's alone.
(umask 077 && mkdir -p "$STATE")
STATE=$(cd "$STATE" && pwd)
PIDFILE=$STATE/safetyd.pid

stop_all() {
	if [ -f "$PIDFILE" ]; then
		pid=$(cat "$PIDFILE")
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"
			for _ in $(seq 1 100); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null || true
		fi
		rm -f "$PIDFILE"
	fi
	"$ROOT/deploy/pg.sh" stop "$STATE/pg" 2>/dev/null || true
}

if [ $mode = stop ]; then
	stop_all
	echo "quickstart: stopped"
	exit 0
fi

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
	echo "quickstart: already running (pid $(cat "$PIDFILE")); use --stop first" >&2
	exit 1
fi

echo "quickstart: installing dependencies"
deploy/install-deps.sh
deploy/web.sh
echo "quickstart: building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

# Made 700 above when new; an older one is closed now, unless root's
# PostgreSQL cluster lives inside it (the postgres user must reach it).
if [ "$(id -u)" -ne 0 ] || [ ! -d "$STATE/pg/cluster" ] || [ -L "$STATE/pg/cluster" ]; then
	chmod 700 "$STATE"
elif [ -n "$(find "$STATE" -maxdepth 0 -perm /077)" ]; then
	echo "quickstart: note: $STATE stays open to others: root's PostgreSQL cluster lives inside it" >&2
fi

# From here on a failure, Ctrl-C or kill stops what was started; a successful
# --background clears this before it returns.
trap 'stop_all; echo "quickstart: stopped"' EXIT
trap 'exit 130' INT TERM
echo "quickstart: starting PostgreSQL in $STATE/pg"
deploy/pg.sh start "$STATE/pg" >/dev/null
# safetyd and everyday safetyctl commands connect as the application role,
# which owns nothing and cannot change the schema or the audit log; only
# migrations run as the owner, whose address stays out of safety.conf.
CONNINFO=$(deploy/pg.sh conninfo-app "$STATE/pg")
OWNER_CONNINFO=$(deploy/pg.sh conninfo "$STATE/pg")

# Secrets of this installation, made once and kept with the state (mode 600).
KEYS=$STATE/token.keys
if [ ! -f "$KEYS" ]; then
	(umask 077 && echo "1:$(openssl rand -hex 32)" >"$KEYS")
fi
HOOK_SECRET_FILE=$STATE/hook-secret
if [ ! -f "$HOOK_SECRET_FILE" ]; then
	(umask 077 && openssl rand -hex 24 >"$HOOK_SECRET_FILE")
fi
# Files an earlier run (or a hand) made keep no wider mode.
chmod 600 "$KEYS" "$HOOK_SECRET_FILE"

CONF=$STATE/safety.conf
# Written under umask 077: it holds the hook secret from its first byte.
(umask 077 && cat >"$CONF") <<CONF
# Written by deploy/quickstart.sh; see deploy/safety.conf.example for every key.
[server]
listen = 127.0.0.1:$PORT
public_url = http://127.0.0.1:$PORT

[database]
url = $CONNINFO

[channels]
# The demo records messages in $STATE/outbox-log.jsonl instead of sending them.
sms_driver = log
email_driver = log
hook_secret = $(cat "$HOOK_SECRET_FILE")

[tokens]
key_file = $KEYS
key_id = 1

[log]
level = info

[paths]
sql_dir = $ROOT/sql
web_dir = $ROOT/daemon/web
state_dir = $STATE
CONF
chmod 600 "$CONF"

echo "quickstart: migrating"
SAFETY_MIGRATE_URL=$OWNER_CONNINFO build/safetyctl -c "$CONF" migrate

PWFILE=$STATE/admin-password
if [ -n "${SAFETY_ADMIN_PASSWORD:-}" ]; then
	(umask 077 && printf '%s\n' "$SAFETY_ADMIN_PASSWORD" >"$PWFILE")
elif [ ! -f "$PWFILE" ]; then
	(umask 077 && openssl rand -base64 18 | tr -d '/+=' >"$PWFILE")
fi
chmod 600 "$PWFILE"
if build/safetyctl help 2>/dev/null | grep "user add" >/dev/null; then
	build/safetyctl -c "$CONF" user add admin --role admin --password-file "$PWFILE" --if-missing >/dev/null
	# A password given on a later run is the admin's from then on, as the file now says.
	if [ -n "${SAFETY_ADMIN_PASSWORD:-}" ]; then
		build/safetyctl -c "$CONF" user passwd admin --password-file "$PWFILE" >/dev/null
	fi
fi
if build/safetyctl help 2>/dev/null | grep "^  demo" >/dev/null; then
	echo "quickstart: loading the demo mission (Türkiye)"
	build/safetyctl -c "$CONF" demo --country TR --people 3000 --if-empty
fi

URL=http://127.0.0.1:$PORT
# A path as the shell reads it back: in single quotes, a quote inside as '\''.
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
banner() {
	echo
	echo "  Safety is running: the crisis dashboard is at $URL/app"
	if build/safetyctl help 2>/dev/null | grep "user add" >/dev/null; then
		echo "  log in as 'admin' with the password in $(q "$PWFILE")"
	fi
	echo "  try it: declare a crisis on the map, launch a check-in, then let the demo's"
	echo "  nationals answer (an hour of answers in a minute):"
	echo "    build/safetyctl -c $(q "$CONF") simulate --crisis <the crisis number in the address>"
	echo "  nationals register their trips themselves at $URL/register"
	echo "  logs: $(q "$STATE/safetyd.log")"
	echo
}

if [ $mode = background ]; then
	nohup build/safetyd -c "$CONF" >>"$STATE/safetyd.log" 2>&1 &
	echo $! >"$PIDFILE"
	for _ in $(seq 1 300); do
		if curl -fsS "$URL/readyz" >/dev/null 2>&1; then
			trap - EXIT
			banner
			exit 0
		fi
		if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
			echo "quickstart: safetyd exited; last lines of its log:" >&2
			tail -20 "$STATE/safetyd.log" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "quickstart: safetyd did not become ready in 30 s" >&2
	exit 1
fi

# In the foreground, Ctrl-C is how it is stopped: not a failure.
trap 'exit 0' INT TERM
banner
build/safetyd -c "$CONF" 2> >(tee -a "$STATE/safetyd.log" >&2) &
echo $! >"$PIDFILE"
wait "$(cat "$PIDFILE")"
