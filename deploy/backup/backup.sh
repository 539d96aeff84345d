#!/bin/bash
# A base backup of the running cluster, as compressed tar files with the WAL
# needed to make it consistent, into BACKUP_DIR/base-<UTC time>/. Before it
# starts, the row counts of the main tables are written beside it, so a
# restore drill can check that nothing is missing.
#
#   deploy/backup/backup.sh "CONNINFO" BACKUP_DIR
#
# CONNINFO reaches the cluster as a role with REPLICATION (and read access to
# the Safety database named in it); its password comes from ~/.pgpass or
# PGPASSWORD, never from CONNINFO (refused if it holds one). Production adds
# WAL archiving (archive_mode = on, archive_command to the backup host) for
# recovery to any point in time between base backups; see README.md here.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: backup.sh CONNINFO BACKUP_DIR" >&2; exit 2; }
conn=$1
# Arguments are readable by every local user (/proc/*/cmdline), and this one
# is handed on to psql and pg_basebackup: the password belongs elsewhere.
case $conn in
*password=* | *://*:*@*)
	echo "backup.sh: CONNINFO holds a password, which every local user could read in the" \
		"process list; put it in ~/.pgpass (mode 600) or PGPASSWORD instead" >&2
	exit 2
	;;
esac
dest=$2/base-$(date -u +%Y%m%dT%H%M%SZ)
meta=$(mktemp -d)
trap 'rm -rf "$meta"' EXIT
psql -X -q -At -d "$conn" -v ON_ERROR_STOP=1 -c "
	SELECT 'national', count(*) FROM national UNION ALL
	SELECT 'response', count(*) FROM response UNION ALL
	SELECT 'person_status', count(*) FROM person_status UNION ALL
	SELECT 'audit_log', count(*) FROM audit_log" | tr '|' ' ' >"$meta/counts-before"
psql -X -q -At -d "$conn" -c "SELECT current_database()" >"$meta/database"
pg_basebackup -d "$conn" -D "$dest" -Ft -z -X stream -c fast --no-password
mv "$meta/counts-before" "$meta/database" "$dest/"
echo "$dest"
