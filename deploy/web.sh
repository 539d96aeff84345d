#!/bin/sh
# Installs the dashboard's browser libraries (Leaflet, uPlot, topojson-client,
# Natural Earth boundaries from world-atlas) and the browser-test driver from
# npm, exactly as daemon/web/package-lock.json pins them. Idempotent: nothing
# happens when node_modules already matches the lock file.
set -eu
cd "$(dirname "$0")/../daemon/web"
if [ -f node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.safety-lock; then
	exit 0
fi
if ! command -v npm >/dev/null; then
	echo "web.sh: npm is needed (Debian: apt-get install npm)" >&2
	exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json node_modules/.safety-lock
