#!/bin/sh
# Builds the Debian package: binaries for /usr/bin, migrations and web files
# under /usr/share/safety (compiled in as the defaults), the commented
# configuration as /etc/safety/safety.conf, the systemd unit. Prints its path.
set -eu
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/web.sh
B=build-pkg
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr -DSAFETY_TESTS=OFF \
	-DSAFETY_SQL_DIR=/usr/share/safety/sql -DSAFETY_WEB_DIR=/usr/share/safety/web >/dev/null
cmake --build "$B" -j"$(nproc)" >/dev/null
rm -f "$B"/safety_*.deb
(cd "$B" && cpack -G DEB >cpack.log 2>&1) || { cat "$B/cpack.log" >&2; exit 1; }
ls "$PWD/$B"/safety_*.deb
