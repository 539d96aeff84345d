#!/bin/sh
# Installs every Debian package that building, testing and the quickstart need.
# Idempotent: when everything is present it checks and returns quietly.
set -eu

PACKAGES="
build-essential
cmake
pkg-config
git
ca-certificates
curl
openssl
procps
libevent-dev
libpq-dev
libssl-dev
libcjson-dev
libcurl4-openssl-dev
libcmocka-dev
postgresql-15
postgresql-15-postgis-3
postgresql-client-15
python3
libunistring-dev
libcsv-dev
libxml2-dev
kannel
kannel-extras
python3-aiosmtpd
python3-jsonschema
python3-rnc2rng
python3-yaml
libxml2-utils
clang-format
clang
libclang-rt-14-dev
dpkg-dev
systemd
nginx-light
chromium
fonts-noto-cjk
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

# The dashboard's libraries come from npm; any Node.js with npm will do.
command -v npm >/dev/null || missing="$missing nodejs npm"

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done" >&2
