"""The configuration file: every bad line named by file, line and key;
--check-config; environment overrides."""

import os
import shutil
import subprocess
import tempfile
import threading

from harness import PG_SH, SAFETYD, SOURCE_DIR, Cluster, Daemon, check, expect_equal, free_port, owner_url, run

cluster = Cluster.shared()


def check_config(text, env=None):
    fd, path = tempfile.mkstemp(suffix=".conf")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    e = dict(os.environ)
    e.pop("SAFETY_DATABASE_URL", None)
    e.pop("SAFETY_LISTEN", None)
    e.update(env or {})
    r = subprocess.run([SAFETYD, "-c", path, "--check-config"], capture_output=True, text=True, env=e)
    os.unlink(path)
    return r, path


CASES = [
    # (name, file text, expected fragment of the error)
    ("unknown_key", "[server]\nlisten = 127.0.0.1:1\nlisen = x\n", ":3: unknown key 'lisen' in section [server]"),
    ("unknown_section", "[sever]\n", ":1: unknown section [sever]"),
    ("not_a_number", "[database]\npool_size = four\n", ":2: pool_size: 'four' is not a whole number"),
    ("out_of_range", "[database]\n\npool_size = 0\n", ":3: pool_size: 0 is out of range (1 to 200)"),
    ("bad_enum", "[log]\nlevel = loud\n", ":2: level: 'loud' is not one of: debug, info, warn, error"),
    ("no_equals", "[server]\nlisten\n", ":2: expected 'key = value'"),
    ("outside_section", "listen = 1\n", ":1: key 'listen' outside any section"),
    ("bad_header", "[server\n", ":1: malformed section header"),
    ("bad_listen", "[server]\nlisten = nowhere\n", "'nowhere' is not host:port"),
    ("bad_port", "[server]\nlisten = 127.0.0.1:99999\n", "has no valid port"),
    ("tls_without_cert", "[server]\ntls_listen = 127.0.0.1:8443\n", "tls_cert or tls_key is not"),
    ("set_twice", "[channels]\nhook_secret = abc\n\n[server]\n[channels]\nhook_secret =\n",
     ":6: 'hook_secret' in section [channels] is set again (first at line 2)"),
]


def each_bad_configuration_is_refused_with_its_line():
    for name, text, fragment in CASES:
        r, path = check_config(text)
        expect_equal(r.returncode, 2, name + " exit code")
        check(fragment in r.stderr, "%s: expected %r in %r" % (name, fragment, r.stderr))
        check(path in r.stderr or "nowhere" in fragment or "port" in fragment or "tls" in fragment,
              "%s: file not named: %r" % (name, r.stderr))


def comments_aliases_and_checks_name_their_line():
    """A '#' or ';' after a value is refused alike for text and numbers (it would have become
    part of a public_url or a secret), naming the line; a quoted value keeps its '#'. An old
    name of a setting and the new one count as the same key set twice. Errors found once
    the whole file is read name the line that set the value."""
    for text, fragment in (
            ("[server]\npublic_url = https://safety.example.org # the address\n",
             ":2: public_url: '#' after a space is not a comment here: put comments on lines of their own"),
            ("[channels]\n\nhook_secret = s3cret ; rotated in May\n", ":3: hook_secret: ';' after a space"),
            ("[database]\npool_size = 8 # connections\n", ":2: pool_size: '#' after a space"),
            ("[channels]\nhook_secret = # none yet\n", ":2: hook_secret: '#' after a space"),
            ("[auth]\nlogin_failure_delay_ms = 100\n\nlogin_max_delay_ms = 0\n",
             ":4: 'login_max_delay_ms' in section [auth] is set again (first at line 2"),
            ("[auth]\nlogin_max_delay_ms = 100\nlogin_failure_delay_ms = 0\n",
             ":3: 'login_failure_delay_ms' in section [auth] is set again (first at line 2"),
            ("[server]\n\nlisten = nowhere\n", ":3: server.listen: 'nowhere' is not host:port"),
            ("[server]\ntls_listen = 127.0.0.1:8443\n", ":2: server.tls_listen is set but tls_cert"),
            ("[server]\npublic_url =\n[channels]\n\nsms_driver = kannel\n",
             ":5: channels.hook_secret must be set when sms_driver = kannel"),
            ("[server]\ntrusted_proxies = 10.0.0.1, proxy.local\n",
             ":2: server.trusted_proxies: 'proxy.local' is not an IP address"),
            ("[database]\n\nurl =\n", ":3: database.url is empty")):
        r, path = check_config(text)
        expect_equal(r.returncode, 2, "%r: %s" % (text, r.stdout))
        check(path + fragment in r.stderr, "%r: expected %r in %r" % (text, path + fragment, r.stderr))
    r, _ = check_config('[channels]\nhook_secret = "s3cret #1;x"\nkannel_password = a#b;c\n'
                        '[auth]\nlogin_max_delay_ms = 200\n')
    expect_equal(r.returncode, 0, r.stderr)


def a_malformed_database_url_is_refused_without_its_words():
    """A connection string libpq cannot parse (a password with a space, unquoted) is refused
    by --check-config, naming the line or the variable, and no part of it is printed: libpq's
    own message would quote the word after the space, part of the password."""
    r, path = check_config("[database]\nurl = host=/tmp dbname=x password=horse battery\n")
    expect_equal(r.returncode, 2, r.stdout + r.stderr)
    check(path + ":2: database.url: not a valid libpq connection string" in r.stderr, r.stderr)
    check("battery" not in r.stderr and "horse" not in r.stderr, r.stderr)
    r, _ = check_config("[database]\nurl = host=/tmp dbname=x\n",
                        env={"SAFETY_MIGRATE_URL": "host=/tmp user=safety password=staple 'gun"})
    expect_equal(r.returncode, 2, r.stdout + r.stderr)
    check("SAFETY_MIGRATE_URL: not a valid libpq connection string" in r.stderr, r.stderr)
    check("gun" not in r.stderr and "staple" not in r.stderr, r.stderr)
    r, _ = check_config("[database]\nurl = \"host=/tmp dbname=x password='horse battery'\"\n")
    expect_equal(r.returncode, 0, r.stderr)


def a_real_gateway_needs_its_hooks_configured():
    base = "[server]\nlisten = 127.0.0.1:1\n%s[database]\nurl = host=/tmp dbname=x\n[channels]\n%s"
    url = "public_url = https://safety.example.org/\n"
    for server, channels, fragment in [
            (url, "sms_driver = kannel\n", "channels.hook_secret must be set when sms_driver = kannel"),
            (url, "sms_driver = twilio\nhook_secret = s\n", "channels.twilio_auth_token must be set"),
            ("", "sms_driver = kannel\nhook_secret = s\n", "server.public_url must be set"),
            ("", "email_driver = smtp\n", "server.public_url must be set")]:
        r, _ = check_config(base % (server, channels))
        expect_equal(r.returncode, 2, fragment + ": " + r.stdout + r.stderr)
        check(fragment in r.stderr, "expected %r in %r" % (fragment, r.stderr))
    r, _ = check_config(base % (url, "sms_driver = kannel\nhook_secret = s\n"))
    expect_equal(r.returncode, 0, r.stderr)


def good_configuration_with_comments_and_quotes_passes():
    r, _ = check_config(
        "# Safety\n; also a comment\n\n[server]\n  listen = \"127.0.0.1:8080\"  \n"
        "[database]\nurl = host=/tmp dbname=x\npool_size = 8\n[log]\nformat = json\n"
    )
    expect_equal(r.returncode, 0, r.stderr)
    check("is valid" in r.stdout, r.stdout)


def example_configuration_is_valid():
    with open(os.path.join(SOURCE_DIR, "deploy", "safety.conf.example")) as f:
        r, _ = check_config(f.read())
    expect_equal(r.returncode, 0, r.stderr)


def missing_file_is_named():
    r = subprocess.run([SAFETYD, "-c", "/nonexistent/safety.conf"], capture_output=True, text=True)
    expect_equal(r.returncode, 2, "exit code")
    check("/nonexistent/safety.conf: cannot open" in r.stderr, r.stderr)


def bad_env_listen_is_named():
    r, _ = check_config("[server]\n", env={"SAFETY_LISTEN": "garbage"})
    expect_equal(r.returncode, 2, "exit code")
    check("SAFETY_LISTEN" in r.stderr, r.stderr)


def environment_overrides_listen_and_database():
    conn = cluster.createdb("t_config")
    port = free_port()
    # The file points at a database and port that do not exist; the environment wins.
    d = Daemon("host=/nonexistent dbname=nothing", env={"SAFETY_DATABASE_URL": conn,
                                                       "SAFETY_MIGRATE_URL": owner_url(conn),
                                                       "SAFETY_LISTEN": "127.0.0.1:%d" % port})
    d.port = port
    d.start()
    try:
        expect_equal(d.get("/readyz").status, 200, "ready through the environment's database")
    finally:
        expect_equal(d.stop(), 0, "exit code")
    cluster.dropdb("t_config")


def json_log_format_writes_json_lines():
    import json

    conn = cluster.createdb("t_config")
    d = Daemon(conn, sections={"log": {"format": "json", "level": "info"}}).start()
    try:
        d.get("/healthz")
    finally:
        d.stop()
    lines = [l for l in d.log().splitlines() if l.startswith("{")]
    check(lines, "no JSON log lines")
    for l in lines:
        obj = json.loads(l)
        check("ts" in obj and "level" in obj and "event" in obj, l)
    cluster.dropdb("t_config")


def occupied_port_is_a_clear_error():
    import socket

    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    d = Daemon(cluster.createdb("t_config"), port=port)
    try:
        d.start(wait_ready=False)
        raise AssertionError("safetyd started on an occupied port")
    except AssertionError as e:
        check("cannot listen on 127.0.0.1:%d" % port in str(e), str(e))
    finally:
        s.close()
        d.stop()
    cluster.dropdb("t_config")


def a_token_key_file_others_may_read_is_refused():
    """Whoever reads the reply-link keys can answer for any national: safetyd refuses to
    start with a key file every local user may read, naming it and chmod 600."""
    conn = cluster.createdb("t_config_keys")
    d = Daemon(conn)
    keys = os.path.join(d.workdir, "token.keys")
    with open(keys, "w") as f:
        f.write("1:" + "7e" * 32 + "\n")
    os.chmod(keys, 0o644)
    with open(d.config_path, "a") as f:
        f.write("[tokens]\nkey_file = %s\n" % keys)
    try:
        d.start()
    except AssertionError as e:
        check("exited with" in str(e), str(e))
    else:
        d.stop()
        raise AssertionError("safetyd started with a world-readable key file")
    check(keys + ": every local user may read" in d.log() and "chmod 600 " + keys in d.log(), d.log())
    os.chmod(keys, 0o600)
    d.start()
    expect_equal(d.stop(), 0, "exit code")
    cluster.dropdb("t_config_keys")


def pg_sh_never_puts_a_password_on_a_command_line():
    """deploy/pg.sh start on a fresh directory creates both roles without either password
    appearing in any process's arguments, which every local user can read in /proc."""
    d = tempfile.mkdtemp(prefix="safety-pgpw-", dir=os.environ.get("SAFETY_TEST_TMP"))
    seen, done = set(), threading.Event()

    def watch():
        while not done.is_set():
            for p in os.listdir("/proc"):
                if p.isdigit():
                    try:
                        with open("/proc/%s/cmdline" % p, "rb") as f:
                            seen.add(f.read().replace(b"\0", b" ").decode(errors="replace"))
                    except OSError:
                        pass

    t = threading.Thread(target=watch)
    t.start()
    try:
        r = subprocess.run([PG_SH, "start", d], capture_output=True, text=True, timeout=300)
        done.set()
        t.join()
        expect_equal(r.returncode, 0, r.stderr)
        check(any("CREATE ROLE" in c or "initdb" in c for c in seen), "the watcher saw pg.sh's processes")
        for name in ("app-password", "app-role-password"):
            with open(os.path.join(d, name)) as f:
                pw = f.read().strip()
            check(len(pw) >= 16, name)
            leaked = [c for c in seen if pw in c]
            expect_equal(leaked, [], name + " on a command line")
            expect_equal(oct(os.stat(os.path.join(d, name)).st_mode & 0o777), "0o600", name + " mode")
    finally:
        done.set()
        t.join()
        subprocess.run([PG_SH, "stop", d], capture_output=True)
        target = os.path.realpath(os.path.join(d, "cluster"))
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)


run([
    each_bad_configuration_is_refused_with_its_line,
    comments_aliases_and_checks_name_their_line,
    a_malformed_database_url_is_refused_without_its_words,
    a_real_gateway_needs_its_hooks_configured,
    good_configuration_with_comments_and_quotes_passes,
    example_configuration_is_valid,
    missing_file_is_named,
    bad_env_listen_is_named,
    environment_overrides_listen_and_database,
    json_log_format_writes_json_lines,
    occupied_port_is_a_clear_error,
    pg_sh_never_puts_a_password_on_a_command_line,
    a_token_key_file_others_may_read_is_refused,
])
