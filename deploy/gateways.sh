#!/bin/bash
# The message gateways for tests and the quickstart, in one directory:
#
#   Kannel        Debian's bearerbox + smsbox, configured from deploy/kannel/kannel.conf.in
#   operator      tests/gateways/fake_smsc.py, the stand-in mobile operator behind Kannel
#                 (Kannel's "fake" SMSC protocol and SMPP 3.4), with a control port
#   SMTP          tests/gateways/smtp_sink.py (Debian's aiosmtpd), keeps every message
#   Twilio        tests/gateways/twilio_stub.py, the Twilio Messages API shape
#
#   deploy/gateways.sh start DIR [--hook-base URL] [--smtp-tls | --smtp-require-tls]
#                                [--sms-route fake|smpp] [--exit-with PID]
#   deploy/gateways.sh stop DIR      stop everything started in DIR (by pid files); no error if nothing runs
#   deploy/gateways.sh status DIR    one line per part; exit 0 when all run
#   deploy/gateways.sh env DIR       print DIR/gateways.env (shell assignments for safetyd's tests)
#
# --hook-base is safetyd's base URL (default http://127.0.0.1:8080): inbound SMS
# reach HOOK_BASE/hooks/sms/kannel through Kannel and HOOK_BASE/hooks/sms/twilio
# from the Twilio stand-in. --smtp-tls offers STARTTLS (self-made certificate,
# SAFETY_SMTP_CA_FILE), --smtp-require-tls demands it. --sms-route smpp sends
# messages that name no smsc over the operator's SMPP link (where failures can
# be simulated) instead of the fake link. --exit-with stops everything once
# process PID is gone (for tests that may be killed).
# Environment: SAFETY_KANNEL_LOG_LEVEL (default 2, warnings: message text and
# numbers stay out of Kannel's logs), SAFETY_TWILIO_WORKERS (default 1).
#
# Every part listens on 127.0.0.1 only, on free ports chosen at the first start
# and kept in DIR/run/ports while they stay free, so two directories never
# collide. `start` is idempotent: parts already running with the same
# configuration are left alone; a part that died is started again. Nothing is
# installed here: the Debian packages are listed in deploy/gateways-packages.txt
# and a missing one is named. The system's own Kannel (/etc/kannel, its service)
# is never touched.
set -euo pipefail

SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
GW=$ROOT/tests/gateways
TEMPLATE=$ROOT/deploy/kannel/kannel.conf.in
PACKAGES_FILE=$ROOT/deploy/gateways-packages.txt
PY=/usr/bin/python3
BEARERBOX=${BEARERBOX:-/usr/sbin/bearerbox}
SMSBOX=${SMSBOX:-/usr/sbin/smsbox}
PORT_LOCK=${SAFETY_GATEWAYS_PORT_LOCK:-/tmp/safety-gateways-ports.lock}
KANNEL_LOG_LEVEL=${SAFETY_KANNEL_LOG_LEVEL:-2}
TWILIO_WORKERS=${SAFETY_TWILIO_WORKERS:-1} # processes of the Twilio stand-in (benchmarks)

die() { echo "gateways.sh: $*" >&2; exit 1; }
say() { echo "gateways.sh: $*" >&2; }

[ $# -ge 2 ] || die "usage: gateways.sh start|stop|status|env DIR [options]"
cmd=$1
dir=$2
shift 2
case $cmd in start | stop | status | env) ;; *) die "unknown command: $cmd" ;; esac
if [ "$cmd" != start ] && [ ! -d "$dir" ]; then
	[ "$cmd" = stop ] && exit 0
	die "no such directory: $dir"
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
# shellcheck disable=SC2101 # [:space:] is inside the bracket expression
[[ $dir != *[\'\"\\$\`[:space:]]* ]] || die "DIR must not hold quotes, backslashes, \$, \` or white space: $dir"
RUN=$dir/run
LOGS=$dir/logs
SECRETS=$dir/secrets
mkdir -p "$RUN" "$LOGS"

# --- processes ------------------------------------------------------------------

# PID of a part when it runs and is ours: its command line names this directory.
pid_of() {
	local f=$RUN/$1.pid pid
	[ -f "$f" ] || return 1
	pid=$(cat "$f" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null |
		awk -v d="$dir" '$0 == d || index($0, d "/") == 1 { f = 1 } END { exit !f }' || return 1
	echo "$pid"
}

running() { pid_of "$1" >/dev/null; }

# alive PID: the process exists and is not a zombie (this machine's init may
# take seconds to reap the parts, which are its children once started)
alive() {
	local st
	st=$(sed -n 's/^.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# launch NAME CMD...: runs CMD detached, output in DIR/logs/NAME.out, pid in DIR/run/NAME.pid
launch() {
	local name=$1
	shift
	setsid "$@" </dev/null >>"$LOGS/$name.out" 2>&1 8>&- 9>&- &
	echo $! >"$RUN/$name.pid"
}

# stop_part NAME [TIMEOUT]: SIGTERM, then SIGKILL after TIMEOUT seconds
stop_part() {
	local name=$1 timeout=${2:-10} pid i
	if pid=$(pid_of "$name"); then
		if [ "$pid" != $$ ]; then
			kill -TERM "$pid" 2>/dev/null || true
			for ((i = 0; i < timeout * 20; i++)); do
				alive "$pid" || break
				sleep 0.05
			done
			if alive "$pid"; then
				say "$name (pid $pid) did not stop in ${timeout}s; killing it"
				kill -KILL "$pid" 2>/dev/null || true
				for ((i = 0; i < 100; i++)); do
					alive "$pid" || break
					sleep 0.05
				done
			fi
		fi
	fi
	rm -f "$RUN/$name.pid" "$RUN/$name.sig"
}

# --- ports ------------------------------------------------------------------------

# A port is free when no TCP socket on this machine uses it locally (any state).
port_free() {
	local hex
	hex=$(printf '%04X' "$1")
	! cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hex" 'substr($2, length($2) - 4) == p { f = 1 } END { exit !f }'
}

port_listening() {
	local hex
	hex=$(printf '%04X' "$1")
	cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }'
}

declare -A PORT=()
TAKEN=" "

load_ports() {
	local k v
	[ -f "$RUN/ports" ] || return 0
	while IFS='=' read -r k v; do
		[[ $k =~ ^[a-z_]+$ && $v =~ ^[0-9]+$ ]] && PORT[$k]=$v
	done <"$RUN/ports"
}

save_ports() {
	local k
	for k in "${!PORT[@]}"; do echo "$k=${PORT[$k]}"; done | sort >"$RUN/ports.tmp"
	mv "$RUN/ports.tmp" "$RUN/ports"
}

# Ports below the kernel's ephemeral range, so outgoing connections never hold them.
pick_port() {
	local p tries=0 low
	low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$low" -gt 21000 ] || low=60000
	while [ $tries -lt 500 ]; do
		p=$((20000 + RANDOM % (low - 20000)))
		if port_free "$p" && [[ $TAKEN != *" $p "* ]]; then
			TAKEN="$TAKEN$p "
			echo "$p"
			return
		fi
		tries=$((tries + 1))
	done
	die "no free port found"
}

# choose_ports NAME...: keep each recorded port nobody listens on (every part
# binds with SO_REUSEADDR, so connections still closing there do not matter),
# pick a fresh one for the others
choose_ports() {
	local k
	for k in "$@"; do
		if [ -n "${PORT[$k]:-}" ] && ! port_listening "${PORT[$k]}" && [[ $TAKEN != *" ${PORT[$k]} "* ]]; then
			TAKEN="$TAKEN${PORT[$k]} "
		else
			PORT[$k]=$(pick_port)
		fi
	done
}

# wait_listen NAME PORT [SECONDS]: until PORT listens; fails when NAME's process dies
wait_listen() {
	local name=$1 port=$2 secs=${3:-20} i
	for ((i = 0; i < secs * 20; i++)); do
		port_listening "$port" && return 0
		running "$name" || return 1
		sleep 0.05
	done
	return 1
}

# --- secrets and configuration -------------------------------------------------

secret() {
	local f=$SECRETS/$1
	if [ ! -s "$f" ]; then
		(umask 077 && mkdir -p "$SECRETS" && openssl rand -hex "${2:-16}" >"$f.tmp" && mv "$f.tmp" "$f")
	fi
	cat "$f"
}

check_packages() {
	local missing="" p
	while read -r p || [ -n "$p" ]; do
		p=${p%%#*}
		p=${p// /}
		[ -n "$p" ] || continue
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep "install ok installed" >/dev/null || missing="$missing $p"
	done <"$PACKAGES_FILE"
	[ -z "$missing" ] || die "missing Debian packages:$missing (install them: apt-get install -y$missing, or run deploy/install-deps.sh)"
	for p in "$BEARERBOX" "$SMSBOX" "$PY"; do
		[ -x "$p" ] || die "$p is missing"
	done
	"$PY" -c 'import aiosmtpd' 2>/dev/null || die "$PY cannot import aiosmtpd (python3-aiosmtpd)"
	command -v openssl >/dev/null || die "openssl is missing"
	command -v curl >/dev/null || die "curl is missing"
}

# render_kannel OUT: the configuration for the current ports and options
render_kannel() {
	local fake_routing smpp_routing
	if [ "$SMS_ROUTE" = smpp ]; then
		fake_routing='allowed-smsc-id = fake'
		smpp_routing='denied-smsc-id = fake'
	else
		fake_routing='denied-smsc-id = smpp'
		smpp_routing='allowed-smsc-id = smpp'
	fi
	DIR="$dir" ADMIN_PORT=${PORT[kannel_admin]} SMSBOX_PORT=${PORT[kannel_smsbox]} \
		SENDSMS_PORT=${PORT[kannel_sendsms]} FAKE_PORT=${PORT[kannel_fake]} SMPP_PORT=${PORT[smpp]} \
		ADMIN_PASSWORD=$(secret kannel-admin) SENDSMS_USER=safety SENDSMS_PASSWORD=$(secret kannel-sendsms) \
		SMPP_USER=safety SMPP_PASSWORD=$(secret smpp 4) FAKE_ROUTING=$fake_routing SMPP_ROUTING=$smpp_routing \
		HOOK_URL="$HOOK_BASE/hooks/sms/kannel" LOG_LEVEL=$KANNEL_LOG_LEVEL \
		"$PY" - "$TEMPLATE" "$1" <<'PY'
import os, re, sys
text = open(sys.argv[1], encoding="utf-8").read()
def value(m):
    v = os.environ.get(m.group(1))
    if v is None:
        sys.exit("kannel.conf.in: no value for @%s@" % m.group(1))
    if "\n" in v or '"' in v:
        sys.exit("kannel.conf.in: bad value for @%s@" % m.group(1))
    return v
out = re.sub(r"@([A-Z_]+)@", value, text)
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w", encoding="utf-8") as f:
    f.write(out)
PY
}

# part_current NAME SIGNATURE: running with the same configuration
part_current() {
	running "$1" && [ -f "$RUN/$1.sig" ] && [ "$(cat "$RUN/$1.sig")" = "$2" ]
}

fail_start() {
	local name=$1 f
	say "$name did not start; its output:"
	for f in "$LOGS/$name.out" "$LOGS/$name.log"; do
		[ -f "$f" ] && tail -n 15 "$f" | sed 's/^/    /' >&2
	done
	return 1
}

# --- the parts ----------------------------------------------------------------------

start_operator() {
	local sig args
	if running operator && [ -n "${PORT[smpp]:-}" ] && [ -n "${PORT[smsc_control]:-}" ]; then
		TAKEN="$TAKEN${PORT[smpp]} ${PORT[smsc_control]} "
		[ -n "${PORT[kannel_fake]:-}" ] && TAKEN="$TAKEN${PORT[kannel_fake]} "
		return 0
	fi
	stop_part operator
	if [ -n "${PORT[kannel_fake]:-}" ] && running bearerbox; then
		TAKEN="$TAKEN${PORT[kannel_fake]} " # our bearerbox listens there, for this operator
		choose_ports smpp smsc_control
	else
		choose_ports smpp smsc_control kannel_fake
	fi
	secret smpp 4 >/dev/null # SMPP 3.4 passwords hold at most 8 characters
	args=(--dir "$dir" --fake-port "${PORT[kannel_fake]}" --smpp-port "${PORT[smpp]}" --smpp-user safety
		--smpp-password-file "$SECRETS/smpp" --control-port "${PORT[smsc_control]}")
	launch operator "$PY" "$GW/fake_smsc.py" "${args[@]}"
	if ! { wait_listen operator "${PORT[smsc_control]}" && wait_listen operator "${PORT[smpp]}"; }; then
		fail_start operator
	fi
}

start_kannel() {
	local conf=$dir/kannel.conf new=$dir/kannel.conf.new sig
	mkdir -p "$dir/kannel-store"
	if [ -n "${PORT[kannel_admin]:-}" ] && [ -n "${PORT[kannel_smsbox]:-}" ] && [ -n "${PORT[kannel_sendsms]:-}" ]; then
		render_kannel "$new"
		sig=$(sha256sum <"$new" | cut -c1-16)
		if part_current bearerbox "$sig" && part_current smsbox "$sig"; then
			TAKEN="$TAKEN${PORT[kannel_admin]} ${PORT[kannel_smsbox]} ${PORT[kannel_sendsms]} "
			rm -f "$new"
			return 0
		fi
	fi
	stop_part smsbox
	stop_part bearerbox 15
	choose_ports kannel_admin kannel_smsbox kannel_sendsms
	render_kannel "$new"
	mv "$new" "$conf"
	sig=$(sha256sum <"$conf" | cut -c1-16)
	launch bearerbox "$BEARERBOX" -v "$KANNEL_LOG_LEVEL" "$conf"
	if ! { wait_listen bearerbox "${PORT[kannel_admin]}" && wait_listen bearerbox "${PORT[kannel_smsbox]}"; }; then
		fail_start bearerbox
		return 1
	fi
	echo "$sig" >"$RUN/bearerbox.sig"
	launch smsbox "$SMSBOX" -v "$KANNEL_LOG_LEVEL" "$conf"
	wait_listen smsbox "${PORT[kannel_sendsms]}" || fail_start smsbox
	echo "$sig" >"$RUN/smsbox.sig"
}

start_smtp() {
	local sig args=()
	case $SMTP_TLS in
	starttls) args+=(--tls) ;;
	required) args+=(--require-tls) ;;
	esac
	secret smtp-password >/dev/null
	[ -s "$SECRETS/smtp-auth" ] || (umask 077 && echo "safety:$(secret smtp-password)" >"$SECRETS/smtp-auth")
	args+=(--auth-file "$SECRETS/smtp-auth")
	sig="$SMTP_TLS"
	if [ -n "${PORT[smtp]:-}" ] && part_current smtp "$sig"; then
		TAKEN="$TAKEN${PORT[smtp]} "
		return 0
	fi
	stop_part smtp
	choose_ports smtp
	launch smtp "$PY" "$GW/smtp_sink.py" --dir "$dir" --port "${PORT[smtp]}" "${args[@]}"
	wait_listen smtp "${PORT[smtp]}" || fail_start smtp
	echo "$sig" >"$RUN/smtp.sig"
}

start_twilio() {
	local sig
	secret twilio-token >/dev/null
	[ -s "$SECRETS/twilio-sid" ] || (umask 077 && echo "AC$(secret twilio-sid-hex)" >"$SECRETS/twilio-sid")
	[ -s "$SECRETS/twilio-mg" ] || (umask 077 && echo "MG$(secret twilio-mg-hex)" >"$SECRETS/twilio-mg")
	[[ $TWILIO_WORKERS =~ ^[1-9][0-9]?$ ]] || die "SAFETY_TWILIO_WORKERS must be a number from 1 to 99"
	sig="$HOOK_BASE $TWILIO_WORKERS"
	if [ -n "${PORT[twilio]:-}" ] && part_current twilio "$sig"; then
		TAKEN="$TAKEN${PORT[twilio]} "
		return 0
	fi
	stop_part twilio
	choose_ports twilio
	launch twilio "$PY" "$GW/twilio_stub.py" --dir "$dir" --port "${PORT[twilio]}" \
		--account-sid "$(cat "$SECRETS/twilio-sid")" --auth-token-file "$SECRETS/twilio-token" \
		--messaging-service-sid "$(cat "$SECRETS/twilio-mg")" --inbound-url "$HOOK_BASE/hooks/sms/twilio" \
		--workers "$TWILIO_WORKERS"
	wait_listen twilio "${PORT[twilio]}" || fail_start twilio
	echo "$sig" >"$RUN/twilio.sig"
}

# Both operator links up, so the first message is not "queued for later delivery".
wait_links() {
	local i s
	for ((i = 0; i < 300; i++)); do
		s=$(curl -s --max-time 2 "http://127.0.0.1:${PORT[smsc_control]}/status" || true)
		if [[ $s == *'"fake_link": "connected"'* && $s == *'"smpp_link": "bound"'* ]]; then
			return 0
		fi
		running bearerbox || break
		sleep 0.05
	done
	say "the operator's links to bearerbox did not come up: $s"
	return 1
}

write_env() {
	local f=$dir/gateways.env
	(
		umask 077
		cat >"$f.tmp" <<ENV
# Written by deploy/gateways.sh start $dir
# Shell assignments (KEY='value'); source it, or read it line by line.
SAFETY_GATEWAYS_DIR='$dir'
SAFETY_KANNEL_SENDSMS_URL='http://127.0.0.1:${PORT[kannel_sendsms]}/cgi-bin/sendsms'
SAFETY_KANNEL_USER='safety'
SAFETY_KANNEL_PASSWORD='$(secret kannel-sendsms)'
SAFETY_KANNEL_FROM='1350'
SAFETY_KANNEL_DEFAULT_SMSC='$SMS_ROUTE'
SAFETY_KANNEL_HOOK_URL='$HOOK_BASE/hooks/sms/kannel'
SAFETY_KANNEL_ADMIN_URL='http://127.0.0.1:${PORT[kannel_admin]}'
SAFETY_KANNEL_ADMIN_PASSWORD='$(secret kannel-admin)'
SAFETY_KANNEL_FAKE_PORT='${PORT[kannel_fake]}'
SAFETY_KANNEL_SMPP_PORT='${PORT[smpp]}'
SAFETY_KANNEL_CONF='$dir/kannel.conf'
SAFETY_SMSC_CONTROL_URL='http://127.0.0.1:${PORT[smsc_control]}'
SAFETY_SMSC_MT_LOG='$dir/smsc-mt.jsonl'
SAFETY_SMTP_HOST='127.0.0.1'
SAFETY_SMTP_PORT='${PORT[smtp]}'
SAFETY_SMTP_URL='smtp://127.0.0.1:${PORT[smtp]}'
SAFETY_SMTP_TLS='$SMTP_TLS'
SAFETY_SMTP_CA_FILE='$([ "$SMTP_TLS" = none ] || echo "$dir/smtp-tls/cert.pem")'
SAFETY_SMTP_USER='safety'
SAFETY_SMTP_PASSWORD='$(secret smtp-password)'
SAFETY_SMTP_MAILDIR='$dir/mail'
SAFETY_SMTP_INDEX='$dir/mail/index.jsonl'
SAFETY_TWILIO_URL='http://127.0.0.1:${PORT[twilio]}'
SAFETY_TWILIO_MESSAGES_URL='http://127.0.0.1:${PORT[twilio]}/2010-04-01/Accounts/$(cat "$SECRETS/twilio-sid")/Messages.json'
SAFETY_TWILIO_ACCOUNT_SID='$(cat "$SECRETS/twilio-sid")'
SAFETY_TWILIO_AUTH_TOKEN='$(secret twilio-token)'
SAFETY_TWILIO_FROM='+15005550006'
SAFETY_TWILIO_MESSAGING_SERVICE_SID='$(cat "$SECRETS/twilio-mg")'
SAFETY_TWILIO_INBOUND_URL='$HOOK_BASE/hooks/sms/twilio'
SAFETY_TWILIO_LOG='$dir/twilio-messages.jsonl'
SAFETY_TWILIO_CALLBACK_LOG='$dir/twilio-callbacks.jsonl'
ENV
		mv "$f.tmp" "$f"
	)
}

stop_all() {
	stop_part smsbox 10
	stop_part bearerbox 15
	stop_part operator
	stop_part smtp
	stop_part twilio
	stop_part watch 2
}

# --- commands -------------------------------------------------------------------

exec 8>"$RUN/lock"
flock -w 120 8 || die "another gateways.sh holds $RUN/lock"

case $cmd in
start)
	HOOK_BASE=http://127.0.0.1:8080
	SMTP_TLS=none
	SMS_ROUTE=fake
	EXIT_WITH=
	while [ $# -gt 0 ]; do
		case $1 in
		--hook-base) HOOK_BASE=${2:?--hook-base needs a URL}; shift 2 ;;
		--hook-base=*) HOOK_BASE=${1#*=}; shift ;;
		--smtp-tls) SMTP_TLS=starttls; shift ;;
		--smtp-require-tls) SMTP_TLS=required; shift ;;
		--sms-route) SMS_ROUTE=${2:?--sms-route needs fake or smpp}; shift 2 ;;
		--sms-route=*) SMS_ROUTE=${1#*=}; shift ;;
		--exit-with) EXIT_WITH=${2:?--exit-with needs a PID}; shift 2 ;;
		*) die "unknown option: $1" ;;
		esac
	done
	HOOK_BASE=${HOOK_BASE%/}
	# no "%": Kannel would read it as one of its escapes in the get-url
	[[ $HOOK_BASE =~ ^https?://[^[:space:]\"\'%]+$ ]] || die "--hook-base must be an http(s) URL without quotes or %: $HOOK_BASE"
	[[ $SMS_ROUTE == fake || $SMS_ROUTE == smpp ]] || die "--sms-route is fake or smpp"
	[[ -z $EXIT_WITH || $EXIT_WITH =~ ^[0-9]+$ ]] || die "--exit-with needs a PID"
	check_packages
	[ -f "$TEMPLATE" ] || die "missing $TEMPLATE"
	load_ports
	# Ports are chosen and bound under one lock, so starts in parallel never pick the same.
	exec 9>>"$PORT_LOCK"
	flock -w 120 9 || die "could not take $PORT_LOCK"
	# Any failure from here on (set -e) stops every part and says so.
	trap 'rc=$?; if [ $rc -ne 0 ]; then save_ports; stop_all; say "start failed in $dir; everything stopped"; fi' EXIT
	start_operator
	start_kannel
	start_smtp
	start_twilio
	save_ports
	flock -u 9
	wait_links
	write_env
	trap - EXIT
	if [ -n "$EXIT_WITH" ]; then
		stop_part watch 2
		# shellcheck disable=SC2016 # expanded by the watcher's own shell
		launch watch bash -c 'while kill -0 "$1" 2>/dev/null && ! grep -qE "^State:\s+[ZX]" "/proc/$1/status" 2>/dev/null; do
			sleep 1
		done; exec "$2" stop "$3"' \
			gateways-watch "$EXIT_WITH" "$SELF" "$dir"
	fi
	echo "$dir/gateways.env"
	;;
stop)
	stop_all
	;;
status)
	load_ports
	rc=0
	for part in operator bearerbox smsbox smtp twilio watch; do
		case $part in
		operator) where="control ${PORT[smsc_control]:-?}, smpp ${PORT[smpp]:-?}" ;;
		bearerbox) where="admin ${PORT[kannel_admin]:-?}, fake smsc ${PORT[kannel_fake]:-?}" ;;
		smsbox) where="sendsms ${PORT[kannel_sendsms]:-?}" ;;
		smtp) where="smtp ${PORT[smtp]:-?}" ;;
		twilio) where="http ${PORT[twilio]:-?}" ;;
		*) where="" ;;
		esac
		if pid=$(pid_of "$part"); then
			echo "$part running (pid $pid${where:+; 127.0.0.1 $where})"
		elif [ "$part" = watch ]; then
			:
		else
			echo "$part stopped"
			rc=1
		fi
	done
	exit $rc
	;;
env)
	[ -f "$dir/gateways.env" ] || die "no $dir/gateways.env; run: gateways.sh start $dir"
	cat "$dir/gateways.env"
	;;
esac
