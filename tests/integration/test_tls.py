"""The HTTPS listener with a certificate made here: the handshake, TLS 1.0
and 1.1 refused, the security headers and HSTS, a Secure session cookie, and
a certificate reload on SIGHUP that keeps open connections working."""

import http.client
import os
import signal
import ssl
import subprocess
import tempfile
import time

from harness import Cluster, Daemon, check, ctl, eventually, expect_equal, free_port, record_secret, run

cluster = Cluster.shared()
DB = "t_tls"
tmp = tempfile.mkdtemp(prefix="safety-tls-", dir=os.environ.get("SAFETY_TEST_TMP"))
CERT = os.path.join(tmp, "cert.pem")
KEY = os.path.join(tmp, "key.pem")


def make_cert(cn, cert=CERT, key=KEY):
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key + ".new", "-out", cert + ".new", "-days", "1", "-subj", "/CN=" + cn,
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True)
    os.replace(key + ".new", key)
    os.replace(cert + ".new", cert)


make_cert("first")
tls_port = free_port()
conninfo = cluster.createdb(DB)
d = Daemon(conninfo, sections={"server": {"tls_listen": "127.0.0.1:%d" % tls_port, "tls_cert": CERT,
                                          "tls_key": KEY}, "auth": {"password_hash_cost": "10"}}).start()


def client_context():
    ctx = ssl.create_default_context(cafile=CERT)
    return ctx


def https(path, method="GET", body=None, headers=None, ctx=None):
    conn = http.client.HTTPSConnection("127.0.0.1", tls_port, context=ctx or client_context(), timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


def s_client(*args):
    return subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % tls_port, "-brief", *args],
                          input="", capture_output=True, text=True, timeout=20)


def handshake_and_headers_over_tls():
    status, headers, body = https("/healthz")
    expect_equal(status, 200, "status")
    expect_equal(headers.get("Strict-Transport-Security"), "max-age=31536000", "HSTS")
    expect_equal(headers.get("X-Content-Type-Options"), "nosniff", "nosniff")
    check("frame-ancestors 'none'" in headers.get("Content-Security-Policy", ""), headers)
    # The plain listener sends no HSTS (it would be ignored, and it is not TLS).
    check(d.get("/healthz").header("Strict-Transport-Security") is None, "HSTS on plain HTTP")


def old_protocols_are_refused():
    for proto in ("-tls1_2", "-tls1_3"):
        r = s_client(proto, "-CAfile", CERT)
        expect_equal(r.returncode, 0, "%s handshake: %s" % (proto, r.stderr))
        check("Protocol version: TLSv1." + proto[-1] in r.stderr, r.stderr)
    # The client is allowed the old protocols, so only the server can refuse them.
    for proto in ("-tls1", "-tls1_1"):
        r = s_client(proto, "-cipher", "DEFAULT@SECLEVEL=0")
        check(r.returncode != 0, "%s accepted: %s" % (proto, r.stderr))
        # Alert 70, sent by the server: the client offered the protocol and was refused.
        check("alert protocol version" in r.stderr, "%s refused for another reason: %s" % (proto, r.stderr))


def weak_ciphers_are_refused():
    r = s_client("-tls1_2", "-cipher", "AES128-SHA:DES-CBC3-SHA:@SECLEVEL=0")
    check(r.returncode != 0, "a non-forward-secret cipher was accepted")
    r = s_client("-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", "-CAfile", CERT)
    expect_equal(r.returncode, 0, "modern cipher: " + r.stderr)


def session_cookie_is_secure_over_tls():
    pw = record_secret("Secure-Cookie-2026-pw")
    pwfile = os.path.join(tmp, "pw")
    with open(pwfile, "w") as f:
        f.write(pw + "\n")
    expect_equal(ctl(conninfo, "user", "add", "tlsuser", "--role", "admin", "--password-file", pwfile).returncode, 0, "add")
    status, headers, body = https("/api/v1/session", "POST", '{"username":"tlsuser","password":"%s"}' % pw,
                                  {"Content-Type": "application/json"})
    expect_equal(status, 200, body)
    check("; Secure" in headers["Set-Cookie"], headers["Set-Cookie"])
    record_secret(headers["Set-Cookie"].split(";")[0].split("=", 1)[1])


def peer_cn(conn):
    cert = conn.sock.getpeercert()
    return dict(x[0] for x in cert["subject"])["commonName"]


def reload_on_sighup_keeps_open_connections():
    ctx_first = client_context()
    keep = http.client.HTTPSConnection("127.0.0.1", tls_port, context=ctx_first, timeout=10)
    keep.request("GET", "/healthz")
    r = keep.getresponse()
    r.read()
    expect_equal(peer_cn(keep), "first", "certificate before reload")
    make_cert("second")
    d.signal(signal.SIGHUP)
    eventually(lambda: "TLS certificate and key reloaded" in d.log(), what="reload logged")
    # The connection opened before the reload still works.
    keep.request("GET", "/healthz")
    r = keep.getresponse()
    expect_equal(r.status, 200, "old connection after reload")
    r.read()
    keep.close()
    # New connections get the new certificate.
    conn = http.client.HTTPSConnection("127.0.0.1", tls_port, context=client_context(), timeout=10)
    conn.request("GET", "/healthz")
    conn.getresponse().read()
    expect_equal(peer_cn(conn), "second", "certificate after reload")
    conn.close()


def broken_certificate_on_reload_keeps_the_old_one():
    with open(CERT, "w") as f:
        f.write("not a certificate\n")
    d.signal(signal.SIGHUP)
    eventually(lambda: "reload_failed" in d.log(), what="reload failure logged")
    # Still served with the previous certificate ("second"), whose copy the client trusts.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    status, _, _ = https("/healthz", ctx=ctx)
    expect_equal(status, 200, "still serving")


def unusable_certificate_refuses_to_start():
    bad = Daemon(conninfo, sections={"server": {"tls_listen": "127.0.0.1:%d" % free_port(),
                                                "tls_cert": "/nonexistent.pem", "tls_key": KEY}})
    try:
        bad.start(wait_ready=False)
        raise AssertionError("started without a certificate")
    except AssertionError as e:
        check("cannot load certificate /nonexistent.pem" in str(e), str(e))
    finally:
        bad.stop()


try:
    run([
        handshake_and_headers_over_tls,
        old_protocols_are_refused,
        weak_ciphers_are_refused,
        session_cookie_is_secure_over_tls,
        reload_on_sighup_keeps_open_connections,
        broken_certificate_on_reload_keeps_the_old_one,
        unusable_certificate_refuses_to_start,
    ])
finally:
    d.stop()
    cluster.dropdb(DB)
    subprocess.run(["rm", "-rf", tmp])
