# Sourced by the reply and feed benchmarks: a private PostgreSQL under DIR
# with database DB, one mission, PEOPLE nationals asked in one crisis with
# a phone number each, their reply tokens in DIR/tokens.txt, and safetyd
# started on PORT (PID) with the configuration in DIR/replies.conf.
# Needs ROOT, DIR, DB, PEOPLE; sets PORT, PID, CONN, HOOK_SECRET.
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
[ -x build/safetyd ] || { cmake -S . -B build >/dev/null && cmake --build build -j2 >/dev/null; }
deploy/pg.sh start "$DIR" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
	[ -n "${PID:-}" ] && kill "$PID" 2>/dev/null || true
	deploy/pg.sh stop "$DIR"
}
trap cleanup EXIT
deploy/pg.sh createdb "$DIR" "$DB" >/dev/null
CONN=$(deploy/pg.sh conninfo "$DIR" | sed "s/dbname=safety/dbname=$DB/")
SAFETY_DATABASE_URL=$CONN build/safetyctl migrate >/dev/null
rm -f "$DIR/token.keys" # a file left by an older run may carry another mode
(umask 077 && echo "1:$(openssl rand -hex 32)" >"$DIR/token.keys")
HOOK_SECRET=$(openssl rand -hex 16)
cc -O2 -Ilibsafety/include tests/bench/replies/make_tokens.c build/libsafety.a -lcrypto -lunistring -lcsv \
	-lcjson -lxml2 -lm -o "$DIR/make_tokens"

deploy/pg.sh psql "$DIR" -d "$DB" -q <<SQL
SET ROLE safety;
INSERT INTO mission (code, name, default_country) VALUES ('TR-ANK', 'bench', 'TR');
INSERT INTO national (mission_id, name_ko, name_latin, name_key)
	SELECT 1, '김민준', 'KIM MINJUN', 'x' FROM generate_series(1, $PEOPLE);
INSERT INTO crisis (kind, title, center, radius_m) VALUES ('earthquake', 'bench', ST_SetSRID(ST_MakePoint(37, 37), 4326)::geography, 1000);
INSERT INTO crisis_mission VALUES (1, 1);
INSERT INTO campaign (crisis_id, mission_id, templates, channels) VALUES (1, 1, '{"en": "x {link}"}', '{sms}');
INSERT INTO contact (national_id, kind, value)
	SELECT id, 'phone', '+90532' || lpad(id::text, 7, '0') FROM national;
INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at)
	SELECT 1, id, 1, 1, now() + interval '1 day' FROM national;
SQL
"$DIR/make_tokens" "$DIR/token.keys" 1 1 1 "$PEOPLE" >"$DIR/tokens.txt"
cat >"$DIR/replies.conf" <<CONF
[server]
listen = 127.0.0.1:$PORT
max_connections = 5000
[database]
url = $CONN
pool_size = 4
[auth]
public_rate_per_second = 1000000
public_burst = 1000000
[log]
level = warn
[channels]
hook_secret = $HOOK_SECRET
[tokens]
key_file = $DIR/token.keys
key_id = 1
[paths]
state_dir = $DIR
CONF
build/safetyd -c "$DIR/replies.conf" 2>"$DIR/replies.log" &
PID=$!
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

