#!/bin/bash
# Restores a base backup made by backup.sh into a throwaway cluster and checks
# it: PostgreSQL recovers and accepts queries, the schema is current
# (safetyctl migrate status), the audit log's hash chain is intact (safetyctl
# audit verify), and every main table holds at least the rows counted before
# the backup began. Removes the throwaway cluster afterwards.
#
#   deploy/backup/restore-drill.sh BACKUP_DIR/base-... [SAFETYCTL]
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: restore-drill.sh BACKUP [SAFETYCTL]" >&2; exit 2; }
backup=$(cd "$1" && pwd)
ctl=${2:-safetyctl}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
db=$(cat "$backup/database")
work=$(mktemp -d /var/tmp/safety-restore-XXXXXX)
as_owner() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
	as_owner "$PGBIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "restore drill: FAILED: $*" >&2; exit 1; }

mkdir -p "$work/data" "$work/data/pg_wal"
tar -xzf "$backup/base.tar.gz" -C "$work/data"
tar -xzf "$backup/pg_wal.tar.gz" -C "$work/data/pg_wal"
# Its own socket and port; nothing of the original's replication settings.
port=$((20000 + RANDOM % 5000))
cat >>"$work/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
synchronous_standby_names = ''
archive_mode = off
CONF
# Only its owner reaches it, through the socket in the private directory.
printf 'local all all trust\n' >"$work/data/pg_hba.conf"
rm -f "$work/data/standby.signal" "$work/data/recovery.signal" "$work/data/postmaster.pid"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$work"
chmod 0700 "$work" "$work/data"
as_owner "$PGBIN/pg_ctl" -D "$work/data" -l "$work/server.log" -w -t 120 start >/dev/null ||
	fail "PostgreSQL did not start on the restored files: $(tail -3 "$work/server.log")"
conn="host=$work port=$port dbname=$db user=postgres"
q() { "$PGBIN/psql" -X -q -At -d "$conn" -v ON_ERROR_STOP=1 -c "$1"; }
[ "$(q 'SELECT pg_is_in_recovery()')" = f ] || fail "still recovering"
# Every URL safetyctl knows points at the copy, and no configuration file is
# read: a migrate_url from /etc/safety/safety.conf, SAFETY_CONFIG or the
# environment would have the schema of production checked instead.
ctl_copy() {
	env -u SAFETY_CONFIG -u SAFETY_LISTEN SAFETY_DATABASE_URL="$conn" SAFETY_MIGRATE_URL="$conn" \
		"$ctl" -c /dev/null "$@"
}
ctl_copy migrate status >"$work/migrate" 2>&1 || fail "schema: $(cat "$work/migrate")"
ctl_copy audit verify >"$work/audit" 2>&1 || fail "audit chain: $(cat "$work/audit")"
summary=""
while read -r table before; do
	now=$(q "SELECT count(*) FROM $table")
	[ "$now" -ge "$before" ] || fail "$table has $now rows, $before were counted before the backup"
	summary="$summary $table=$now"
done <"$backup/counts-before"
echo "restore drill: ok:$summary; $(tail -1 "$work/audit")"
