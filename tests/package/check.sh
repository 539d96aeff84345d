#!/bin/bash
# Builds the Debian package and checks it as an operator would meet it: its
# files and control data (dpkg-deb), its maintainer scripts (syntax, and
# what they do, run against stand-ins of the system tools in a throwaway
# root), its unit file on a copy of this system's units (systemd-analyze
# verify, no warning allowed) and its exposure (systemd-analyze security),
# and the packaged daemon reading the packaged configuration.
set -euo pipefail
cd "$(dirname "$0")/../.."
deb=$(deploy/package.sh | tail -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "package: $*" >&2; exit 1; }

contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/safetyd ./usr/bin/safetyctl ./etc/safety/safety.conf \
	./lib/systemd/system/safetyd.service ./usr/share/safety/web/reply.css \
	./usr/share/safety/web/app.html ./usr/share/safety/web/node_modules/leaflet/dist/leaflet.js \
	./usr/share/doc/safety/README.md ./usr/share/doc/safety/monitoring/safety-alerts.yml \
	./usr/share/safety/deploy/demo/ne_10m_admin1_TUR.geojson ./usr/share/safety/database-roles.sql; do
	grep -qx "$f" <<<"$contents" || fail "missing $f"
done
for m in sql/[0-9]*.sql; do
	grep -qx "./usr/share/safety/$m" <<<"$contents" || fail "missing migration $m"
done
info=$(dpkg-deb -I "$deb")
for dep in libpq5 libevent-core libssl3 libcjson1 libxml2 adduser; do
	grep -q "Depends:.*$dep" <<<"$info" || fail "Depends lacks $dep"
done
dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/safety/safety.conf "$work/control/conffiles" || fail "the configuration is not a conffile"
for s in postinst prerm postrm; do
	[ -x "$work/control/$s" ] || fail "$s missing or not executable"
	sh -n "$work/control/$s" || fail "$s: syntax"
done

# postinst in a throwaway root: the system tools it calls are stand-ins that record their calls.
mkdir -p "$work/bin" "$work/root/etc/safety"
for tool in adduser chown chmod systemctl deb-systemd-helper; do
	printf '#!/bin/sh\necho "%s $*" >>"%s/calls"\n' "$tool" "$work" >"$work/bin/$tool"
	chmod +x "$work/bin/$tool"
done
printf '#!/bin/sh\nexit 2\n' >"$work/bin/getent" # no such user yet
chmod +x "$work/bin/getent"
PATH="$work/bin:$PATH" "$work/control/postinst" configure
grep -q '^adduser --system --group --home /var/lib/safety .* safety$' "$work/calls" || fail "postinst made no safety user"
grep -qx 'chown root:safety /etc/safety/safety.conf' "$work/calls" || fail "postinst left the configuration's owner"
grep -qx 'chmod 0640 /etc/safety/safety.conf' "$work/calls" || fail "postinst left the configuration readable by all"
grep -qx 'deb-systemd-helper enable safetyd.service' "$work/calls" || fail "postinst did not enable the unit"
: >"$work/calls"
printf '#!/bin/sh\necho "safety:x:999:999::/var/lib/safety:/usr/sbin/nologin"\n' >"$work/bin/getent"
PATH="$work/bin:$PATH" "$work/control/postinst" configure
grep -q '^adduser' "$work/calls" && fail "postinst made the user twice on upgrade"

# The unit, on this system's units as a Debian host has them.
root=$work/root
dpkg-deb -x "$deb" "$root"
cp -n -a /lib/systemd/system/. "$root/lib/systemd/system/"
mkdir -p "$root/bin" && cp /bin/kill "$root/bin/"
out=$(systemd-analyze verify --root="$root" safetyd.service 2>&1) || fail "systemd-analyze verify: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns: $out"
score=$(systemd-analyze security --offline=yes --root="$root" safetyd.service 2>&1 | grep -o 'level for safetyd.service: [0-9.]*' | grep -o '[0-9.]*$')
awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || fail "exposure $score above 2.0"
"$root/usr/bin/safetyd" --version | grep '^safetyd ' >/dev/null || fail "safetyd --version"
"$root/usr/bin/safetyd" -c "$root/etc/safety/safety.conf" --check-config >/dev/null || fail "the packaged configuration is refused"
echo "package: $(basename "$deb"), $(wc -l <<<"$contents") entries; unit verified; systemd-analyze security exposure $score"
