"""Request limits: oversized bodies and headers, a slow client, a cap on
connections and a per-address rate on public endpoints; each over-limit
answer is clear, and everyone else keeps being served."""

import http.client
import json
import os
import re
import resource
import socket
import time

from harness import Cluster, Daemon, check, eventually, expect_equal, run

cluster = Cluster.shared()
DB = "t_limits"
d = Daemon(cluster.createdb(DB), sections={
    "server": {"max_body_bytes": "4096", "max_header_bytes": "4096", "timeout": "2", "max_connections": "4",
               "trusted_proxies": "127.0.0.1", "request_timeout": "3", "max_public_body_bytes": "1024"},
    "auth": {"public_rate_per_second": "1", "public_burst": "5", "login_failure_delay_ms": "0"},
}).start()


def raw(data, wait=5):
    s = socket.create_connection(("127.0.0.1", d.port))
    try:
        s.sendall(data)
        s.settimeout(wait)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
            if b"\r\n\r\n" in out and len(out) > 200:
                return out
    except socket.timeout:
        return out
    finally:
        s.close()


def oversized_body_is_413():
    body = b'{"username":"' + b"x" * 10000 + b'"}'
    r = raw(b"POST /api/v1/session HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body)
    check(r.startswith(b"HTTP/1.1 413"), r[:100])
    expect_equal(d.get("/healthz").status, 200, "still serving")


def oversized_headers_are_refused():
    r = raw(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Filler: " + b"a" * 8000 + b"\r\n\r\n")
    check(r.startswith(b"HTTP/1.1 400") or r.startswith(b"HTTP/1.1 431") or r == b"", r[:100])
    check(not r.startswith(b"HTTP/1.1 200"), "oversized headers served")
    expect_equal(d.get("/healthz").status, 200, "still serving")


def slow_client_is_cut_off_while_others_are_served():
    s = socket.create_connection(("127.0.0.1", d.port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")  # and never finishes
    t0 = time.time()
    expect_equal(d.get("/healthz").status, 200, "others served meanwhile")
    s.settimeout(10)
    data = s.recv(4096)
    elapsed = time.time() - t0
    s.close()
    check(not data.startswith(b"HTTP/1.1 200"), "a half request was answered")
    check(elapsed < 6, "slow connection held for %.1fs" % elapsed)


def connections_over_the_cap_get_503_and_others_recover():
    held = []
    try:
        for _ in range(4):
            c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            expect_equal(r.status, 200, "within the cap")
            held.append(c)
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)
        c.request("GET", "/healthz")
        r = c.getresponse()
        body = r.read().decode()
        expect_equal(r.status, 503, "over the cap")
        check("too many connections" in body, body)
        expect_equal(r.getheader("Connection"), "close", "closed")
        c.close()
        # Connections already admitted keep working.
        held[0].request("GET", "/healthz")
        expect_equal(held[0].getresponse().status, 200, "admitted connection")
    finally:
        for c in held:
            c.close()
    time.sleep(0.3)
    expect_equal(d.get("/healthz").status, 200, "after the others closed")
    m = d.get("/metrics").body
    check("safety_http_connections_refused_total 1" in m, m[-400:])


def public_endpoint_rate_is_limited_per_address():
    codes = []
    for _ in range(10):
        r = d.post("/api/v1/session", {"username": "nobody", "password": "nothing-at-all"})
        codes.append(r.status)
    check(429 in codes, codes)
    r = d.post("/api/v1/session", {"username": "nobody", "password": "nothing-at-all"})
    if r.status == 429:
        check(r.header("Retry-After"), "Retry-After")
        expect_equal(r.header("Content-Type"), "application/problem+json", "problem")
        check("too many" in r.json()["detail"], r.body)
    # Other routes are not limited, and the limit refills.
    expect_equal(d.get("/healthz").status, 200, "healthz unaffected")
    time.sleep(2.2)
    r = d.post("/api/v1/session", {"username": "nobody", "password": "nothing-at-all"})
    expect_equal(r.status, 401, "after the bucket refilled")


def statuses_from(forwarded_lines, n=10):
    """Sends n GET /register/lost with the given X-Forwarded-For lines (a
    list per request, or a function of the request's index); the statuses."""
    codes = []
    for i in range(n):
        lines = forwarded_lines(i) if callable(forwarded_lines) else forwarded_lines
        head = b"".join(b"X-Forwarded-For: " + v.encode() + b"\r\n" for v in lines)
        r = raw(b"GET /register/lost HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + head + b"\r\n")
        codes.append(int(r.split(b" ", 2)[1]) if r.startswith(b"HTTP/1.1 ") else r[:40])
    return codes


def forwarded_for_is_read_from_the_right_however_long():
    # Through the trusted proxy (127.0.0.1), the client is the rightmost hop.
    codes = statuses_from(["203.0.113.7"])
    check(codes.count(429) >= 4, codes)
    # A client that forges many hops before the one the proxy appended is still
    # that one address: each forged left part changes nothing.
    for forged in (31, 32, 40, 240):
        time.sleep(0.1)
        addr = "203.0.113.%d" % (10 + forged % 200)

        def lines(i):
            hops = ["198.51.%d.%d" % (i, k % 250) for k in range(forged)]
            return [", ".join(hops + [addr])]
        codes = statuses_from(lines)
        check(codes.count(429) >= 4, "%d forged hops: %r" % (forged, codes))
    # Several X-Forwarded-For lines count in order: the last line's last hop.
    codes = statuses_from(lambda i: ["198.51.100.%d, 198.51.101.%d" % (i, i), "203.0.113.250"])
    check(codes.count(429) >= 4, codes)
    # Trusted hops on the right are skipped; the untrusted one left of them is the client.
    codes = statuses_from(lambda i: ["198.51.102.%d, 203.0.113.251, 127.0.0.1" % i])
    check(codes.count(429) >= 4, codes)
    # A header that is not a list of addresses leaves the proxy's own address
    # in charge, not a forged one.
    codes = statuses_from(lambda i: ["198.51.103.%d, not-an-address" % i])
    check(codes.count(429) >= 4, codes)


def trickling_client_is_cut_off_at_the_request_deadline():
    # One byte a second never lets the 2 s idle timeout fire; the request as a
    # whole must still arrive within request_timeout (3 s) of its first byte.
    s = socket.create_connection(("127.0.0.1", d.port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
    t0 = time.time()
    closed_after = None
    try:
        while time.time() - t0 < 8:
            time.sleep(1)
            try:
                s.sendall(b"X")
                s.settimeout(0.01)
                if s.recv(4096) == b"":
                    closed_after = time.time() - t0
                    break
            except socket.timeout:
                pass
            except OSError:
                closed_after = time.time() - t0
                break
    finally:
        s.close()
    check(closed_after is not None, "a trickling request was held for 8 s")
    check(closed_after < 5, "closed after %.1fs" % closed_after)
    expect_equal(d.get("/healthz").status, 200, "still serving")


def refused_total():
    return int(re.search(r"^safety_http_connections_refused_total (\d+)$", d.get("/metrics").body, re.M).group(1))


def unfinished_requests_count_against_the_cap():
    # Connections are counted when accepted: four that never finish a request
    # fill the cap of 4, and the next one is refused at once.
    time.sleep(0.3)
    before = refused_total()
    held = []
    try:
        for _ in range(4):
            s = socket.create_connection(("127.0.0.1", d.port))
            s.sendall(b"POST /register HTTP/1.1\r\nHost: t\r\nContent-Length: 500\r\n\r\n")
            held.append(s)
        time.sleep(0.3)
        r = raw(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        check(r.startswith(b"HTTP/1.1 503"), r[:100])
        check(b"too many connections" in r, r)
        check(b"Connection: close" in r, r)
    finally:
        for s in held:
            s.close()
    eventually(lambda: d.get("/healthz").status == 200, timeout=3, what="served again")
    after = refused_total()
    check(after - before >= 1, "refusals counted: %d" % (after - before))


def public_routes_take_small_bodies_decided_before_the_body():
    # max_public_body_bytes is 1024 and max_body_bytes 4096. The headers alone
    # are answered: the limit holds before any of the body is read.
    for path in ("/register", "/r/sometoken", "/hooks/sms/twilio", "/api/v1/session", "/nowhere"):
        r = raw(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Content-Length: 2000\r\n\r\n", wait=2)
        check(r.startswith(b"HTTP/1.1 413"), "%s: %r" % (path, r[:100]))
    # Chunked bodies are held to it while they arrive.
    r = raw(b"POST /register HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5dc\r\n" + b"a" * 1500 + b"\r\n", wait=2)
    check(not r.startswith(b"HTTP/1.1 2"), r[:100])
    check(r.startswith(b"HTTP/1.1 413") or r == b"", r[:100])
    # A route that needs a login may send the full size: it gets as far as
    # asking who is calling.
    body = json.dumps({"rows": "x" * 2500}).encode()
    r = raw(b"POST /api/v1/nationals/import HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body)
    check(r.startswith(b"HTTP/1.1 401"), r[:100])
    # Small public bodies, pipelined on one connection, each get their own limit.
    small = b"POST /api/v1/session HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    r = raw(b"POST /api/v1/nationals/import HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body + small, wait=3)
    check(r.startswith(b"HTTP/1.1 401"), r[:100])
    expect_equal(d.get("/healthz").status, 200, "still serving")


def accept_errors_pause_the_listener_without_spinning():
    # With 64 descriptors, 120 clients exhaust them: accept() fails with
    # EMFILE. The daemon must neither spin nor flood its log, and must serve
    # again once the clients leave.
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, limits[1]))
    try:
        d2 = Daemon(cluster.createdb(DB + "_fd"), sections={"server": {"timeout": "30", "request_timeout": "30"}})
        d2.start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, limits)
    held = []
    try:
        for _ in range(120):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", d2.port))
            held.append(s)
        time.sleep(0.5)

        def cpu():
            with open("/proc/%d/stat" % d2.proc.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        c0 = cpu()
        time.sleep(3)
        used = cpu() - c0
        check(used < 0.5, "%.2f s of CPU in 3 s while out of descriptors" % used)
        log = d2.log()
        check(log.count("accept_paused") >= 1, log[-2000:])
        check(log.count("accept_paused") <= 8, "%d pause lines" % log.count("accept_paused"))
        check("Error from accept() call" not in log, log[-2000:])
    finally:
        for s in held:
            s.close()
    try:
        eventually(lambda: d2.get("/healthz", timeout=2).status == 200, timeout=10, what="served again")
    finally:
        d2.stop()
        cluster.dropdb(DB + "_fd")


def hostile_request_lines_do_not_crash():
    for line in (b"GET / HTTP/9.9\r\n\r\n", b"\x00\x01\x02\r\n\r\n", b"GET " + b"/a" * 3000 + b" HTTP/1.1\r\n\r\n",
                 b"POST /api/v1/session HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
                 b"POST /api/v1/session HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        raw(line, wait=2)
    expect_equal(d.get("/healthz").status, 200, "still serving")


def a_slow_answer_is_not_cut_off_by_the_next_pipelined_request():
    """The request behind a slow one waits untimed: its deadline starts once the first is answered."""
    d3 = Daemon(cluster.createdb(DB + "_pipe"), sections={
        "server": {"request_timeout": "2"}, "auth": {"login_failure_delay_ms": "3500"}}).start()
    try:
        body = b'{"username": "nobody", "password": "not-the-password"}'
        login = (b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        s = socket.create_connection(("127.0.0.1", d3.port))
        s.sendall(login + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        s.settimeout(15)
        out = b""
        try:
            while out.count(b"HTTP/1.1 ") < 2:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
        s.close()
        # An answer's status line follows the previous body directly.
        statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", out)
        expect_equal(statuses, [b"401", b"200"], "both answered, in order")
    finally:
        d3.stop()
        cluster.dropdb(DB + "_pipe")


try:
    run([
        oversized_body_is_413,
        oversized_headers_are_refused,
        slow_client_is_cut_off_while_others_are_served,
        connections_over_the_cap_get_503_and_others_recover,
        public_endpoint_rate_is_limited_per_address,
        forwarded_for_is_read_from_the_right_however_long,
        trickling_client_is_cut_off_at_the_request_deadline,
        unfinished_requests_count_against_the_cap,
        public_routes_take_small_bodies_decided_before_the_body,
        accept_errors_pause_the_listener_without_spinning,
        hostile_request_lines_do_not_crash,
        a_slow_answer_is_not_cut_off_by_the_next_pipelined_request,
    ])
finally:
    d.stop()
    cluster.dropdb(DB)
