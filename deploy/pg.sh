#!/bin/bash
# A private, throwaway PostgreSQL + PostGIS cluster for tests and the quickstart.
#
#   deploy/pg.sh start DIR [PORT]   create (first time) and start a cluster in DIR
#   deploy/pg.sh stop DIR           stop it (fast shutdown); no error if not running
#   deploy/pg.sh kill DIR           stop it immediately, as a crash would
#   deploy/pg.sh status DIR         exit 0 when running
#   deploy/pg.sh conninfo DIR       print the libpq connection string of the owner role
#                                   (safety: owns the databases, runs migrations)
#   deploy/pg.sh conninfo-app DIR   print the one of the application role (safety_app:
#                                   what safetyd and safetyctl's everyday commands use;
#                                   owns nothing, gets its privileges from safetyctl migrate)
#   deploy/pg.sh psql DIR [ARGS]    psql as the cluster's superuser
#   deploy/pg.sh createdb DIR NAME  a fresh database NAME (PostGIS, owned by the owner role)
#   deploy/pg.sh standby DIR PRIMARY_DIR   a streaming standby of the cluster in PRIMARY_DIR
#                                   (pg_basebackup), started on its own port and socket
#   deploy/pg.sh promote DIR        make a standby the primary
#
# The server listens on a Unix socket inside the cluster directory (mode 0700)
# and on 127.0.0.1:PORT with a password (DIR/app-password for the owner role,
# DIR/app-role-password for the application role). PostgreSQL refuses to run as root, so
# under root the cluster belongs to the 'postgres' user. Each cluster picks its
# own free port, so the tests and a running quickstart never collide.
set -euo pipefail

PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || dirname "$(command -v pg_ctl)")}
OWNER_ROLE=safety
APP_ROLE=safety_app

die() { echo "pg.sh: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "usage: pg.sh start|stop|kill|status|conninfo|conninfo-app|psql|createdb|standby|promote DIR [...]"
cmd=$1
dir=$2
shift 2
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Under root the cluster must live where the postgres user can reach it; when
# DIR's parents are closed to it (a checkout under /root), the cluster lives in
# /var/tmp and DIR holds a link to it. A Unix socket path is limited to about
# 100 bytes, which also sends deep directories elsewhere.
cluster_dir() {
	local cl="$dir/cluster"
	if [ -L "$cl" ] || [ -d "$cl" ]; then
		readlink -f "$cl"
		return
	fi
	local need_elsewhere=0
	if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$dir"; then
		need_elsewhere=1
	fi
	if [ ${#cl} -gt 80 ]; then
		need_elsewhere=1
	fi
	if [ $need_elsewhere -eq 1 ]; then
		local alt
		alt=/var/tmp/safety-pg-$(printf '%s' "$dir" | sha256sum | cut -c1-12)
		mkdir -p "$alt"
		ln -sfn "$alt" "$cl"
		echo "$alt"
	else
		mkdir -p "$cl"
		echo "$cl"
	fi
}

CL=$(cluster_dir)
DATA=$CL/data

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && [ ! -e "$CL/.s.PGSQL.$1" ]
}

# Ports 10000-19999: below the kernel's ephemeral range (so a client's
# outgoing connection or a test server on port 0 never takes a stopped
# cluster's port) and below deploy/gateways.sh's 20000 and up.
pick_port() {
	local p tries=0
	while [ $tries -lt 200 ]; do
		p=$((10000 + RANDOM % 10000))
		if port_free "$p"; then
			echo "$p"
			return
		fi
		tries=$((tries + 1))
	done
	die "no free port found"
}

is_running() {
	[ -f "$DATA/postmaster.pid" ] && as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

superuser_psql() {
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$CL" -p "$(cat "$dir/port")" -U postgres "$@"
}

init_cluster() {
	[ -f "$DATA/PG_VERSION" ] && return
	[ "$(id -u)" -eq 0 ] && chown postgres: "$CL"
	chmod 0700 "$CL"
	as_owner "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
		--no-instructions >"$CL/initdb.log" 2>&1 || die "initdb failed, see $CL/initdb.log"
	# Loopback connections need the app password; the socket is reachable only
	# by the cluster's owner (and root) through its directory's mode.
	cat >"$DATA/pg_hba.conf" <<HBA
local all all trust
local replication all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
HBA
	cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$CL'
unix_socket_permissions = 0700
max_connections = 200
shared_buffers = 256MB
fsync = on
log_min_messages = warning
log_line_prefix = '%m [%p] '
CONF
	(umask 077 && openssl rand -hex 24 >"$dir/app-password")
	chmod 600 "$dir/app-password"
}

# Made on first use, also for clusters older than the application role.
app_role_password() {
	if [ ! -s "$dir/app-role-password" ]; then
		(umask 077 && openssl rand -hex 24 >"$dir/app-role-password")
	fi
	cat "$dir/app-role-password"
}

start_cluster() {
	local port=${1:-}
	init_cluster
	if [ -z "$port" ]; then
		if [ -f "$dir/port" ]; then port=$(cat "$dir/port"); else port=$(pick_port); fi
	fi
	echo "$port" >"$dir/port"
	if ! is_running; then
		# The socket directory comes from postgresql.conf: on the command line a
		# path with a space would be split.
		as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$CL/server.log" -w -t 60 \
			-o "-p $port" start >/dev/null || die "server did not start, see $CL/server.log"
	fi
	setup_databases
	cat >"$dir/pg.env" <<ENV
PGHOST=$CL
PGPORT=$port
SAFETY_DATABASE_URL='$(conninfo "$APP_ROLE")'
SAFETY_MIGRATE_URL='$(conninfo)'
ENV
	chmod 600 "$dir/pg.env"
}

setup_databases() {
	local pw apw
	pw=$(cat "$dir/app-password")
	apw=$(app_role_password)
	# The passwords go to psql on its standard input, never on a command line:
	# any local user can read every process's arguments in /proc.
	if [ "$(superuser_psql -At -c "SELECT 1 FROM pg_roles WHERE rolname = '$OWNER_ROLE'")" != 1 ]; then
		superuser_psql <<SQL
CREATE ROLE $OWNER_ROLE LOGIN PASSWORD '$pw';
SQL
	fi
	# Owns nothing: safetyctl migrate, run as the owner, grants it what safetyd needs.
	if [ "$(superuser_psql -At -c "SELECT 1 FROM pg_roles WHERE rolname = '$APP_ROLE'")" != 1 ]; then
		superuser_psql <<SQL
CREATE ROLE $APP_ROLE LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '$apw';
SQL
	fi
	if [ "$(superuser_psql -At -c "SELECT 1 FROM pg_database WHERE datname = 'template_safety'")" != 1 ]; then
		superuser_psql -c "CREATE DATABASE template_safety OWNER $OWNER_ROLE"
		superuser_psql -d template_safety -c "CREATE EXTENSION IF NOT EXISTS postgis"
		superuser_psql -c "ALTER DATABASE template_safety IS_TEMPLATE true"
	fi
	if [ "$(superuser_psql -At -c "SELECT 1 FROM pg_database WHERE datname = 'safety'")" != 1 ]; then
		superuser_psql -c "CREATE DATABASE safety OWNER $OWNER_ROLE TEMPLATE template_safety"
	fi
}

# A standby: a base backup of the primary streaming its WAL (-R writes
# primary_conninfo and standby.signal), on its own socket and port.
standby_cluster() {
	local primary pcl pport port
	primary=$(cd "$1" && pwd)
	pcl=$(readlink -f "$primary/cluster")
	pport=$(cat "$primary/port")
	[ -f "$DATA/PG_VERSION" ] && die "$dir already holds a cluster"
	[ "$(id -u)" -eq 0 ] && chown postgres: "$CL"
	chmod 0700 "$CL"
	as_owner "$PGBIN/pg_basebackup" -h "$pcl" -p "$pport" -U postgres -D "$DATA" -R -X stream \
		-c fast >"$CL/basebackup.log" 2>&1 || die "pg_basebackup failed, see $CL/basebackup.log"
	# The primary's settings came along; the last line wins.
	echo "unix_socket_directories = '$CL'" >>"$DATA/postgresql.conf"
	cp "$primary/app-password" "$dir/app-password"
	if [ -f "$primary/app-role-password" ]; then
		cp "$primary/app-role-password" "$dir/app-role-password"
		chmod 600 "$dir/app-role-password"
	fi
	port=$(pick_port)
	echo "$port" >"$dir/port"
	as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$CL/server.log" -w -t 60 \
		-o "-p $port" start >/dev/null || die "standby did not start, see $CL/server.log"
}

# The owner role's connection string, or that of the role named.
conninfo() {
	local role=${1:-$OWNER_ROLE}
	# A path with a space must be quoted for libpq; others stay plain for tools that split.
	case $CL in
	*[[:space:]]*) echo "host='$CL' port=$(cat "$dir/port") dbname=safety user=$role" ;;
	*) echo "host=$CL port=$(cat "$dir/port") dbname=safety user=$role" ;;
	esac
}

case $cmd in
start) start_cluster "${1:-}" ;;
stop)
	if is_running; then as_owner "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null; fi
	;;
kill)
	if is_running; then as_owner "$PGBIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null; fi
	;;
status) is_running ;;
standby)
	[ $# -ge 1 ] || die "standby needs the primary's directory"
	standby_cluster "$1"
	;;
promote) as_owner "$PGBIN/pg_ctl" -D "$DATA" -w promote >/dev/null ;;
conninfo) conninfo ;;
conninfo-app) conninfo "$APP_ROLE" ;;
psql) superuser_psql "$@" ;;
createdb)
	[ $# -ge 1 ] || die "createdb needs a database name"
	[[ $1 =~ ^[a-z_][a-z0-9_]*$ ]] || die "bad database name: $1"
	superuser_psql -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1 OWNER $OWNER_ROLE TEMPLATE template_safety"
	;;
*) die "unknown command: $cmd" ;;
esac
