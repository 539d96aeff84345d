"""Two safetyd on one database behind Debian's nginx, with the locations
shipped in deploy/nginx: a campaign launched and answered through the
proxy; every message sent once, the re-ask timer run once per person,
answers stored by both instances, and both instances' event streams seeing
every answer. Counts are printed."""

import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse

from harness import (SOURCE_DIR, Cluster, Daemon, EventStream, Session, check, counts_hold, ctl, eventually,
                     expect_equal, free_port, http_request, record_secret, run)

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
cluster = Cluster.shared()
DB = "t_two"
PASSWORD = record_secret("Iskenderun-Belen-2026-two")
HOOK_SECRET = record_secret("two-instances-hook-secret")
# People asked and not yet answered, with their reply tokens: (national id, token).
unanswered = []
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", "120", "--seed", "6").returncode, 0, "demo")

port = free_port()
ports = [free_port(), free_port()]
# Every instance must open the links any of them made: one key file for all.
keyfile = os.path.join(tempfile.mkdtemp(prefix="two-keys-", dir=os.environ.get("SAFETY_TEST_TMP")), "token.key")
with open(keyfile, "w") as f:
    f.write("1:" + "ef" * 32 + "\n")
os.chmod(keyfile, 0o600)  # safetyd refuses keys others may read
sections = {"tokens": {"key_file": keyfile},
            "server": {"trusted_proxies": "127.0.0.1", "public_url": "http://127.0.0.1:%d" % port},
            "auth": {"password_hash_cost": "10", "public_rate_per_second": "1000", "public_burst": "1000"},
            # Each instance may send 10 SMS a second (a provider's rate), so neither can take the
            # whole round before the other wakes: how the work is shared shows, whatever the load.
            "channels": {"dispatch_interval_ms": "50", "dispatch_batch": "4", "escalate_interval": "1",
                         "sms_rate": "10", "hook_secret": HOOK_SECRET}}
instances = [Daemon(conninfo, sections=sections, port=p).start() for p in ports]

prefix = tempfile.mkdtemp(prefix="nginx-", dir=os.environ.get("SAFETY_TEST_TMP"))
os.chmod(prefix, 0o755)
with open(os.path.join(prefix, "nginx.conf"), "w") as f:
    f.write("""%s
worker_processes 1;
error_log %s/error.log warn;
pid %s/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %s/body;
    proxy_temp_path %s/proxy;
    upstream safetyd {
        least_conn;
        server 127.0.0.1:%d max_fails=3 fail_timeout=5s;
        server 127.0.0.1:%d max_fails=3 fail_timeout=5s;
        keepalive 16;
    }
    server {
        listen 127.0.0.1:%d;
        include %s/deploy/nginx/safety-locations.conf;
    }
}
""" % ("user root;" if os.geteuid() == 0 else "", prefix, prefix, prefix, prefix, ports[0], ports[1], port, SOURCE_DIR))
nginx = subprocess.Popen([NGINX, "-p", prefix, "-c", os.path.join(prefix, "nginx.conf"), "-g", "daemon off;"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Proxy:
    """What Session needs of a daemon: the proxy's port and requests through it."""
    port = port

    def post(self, path, body=None, **kw):
        return http_request("POST", port, path, body=body, **kw)

    def request(self, method, path, body=None, **kw):
        return http_request(method, port, path, body=body, **kw)


eventually(lambda: http_request("GET", port, "/healthz").status == 200, timeout=10, what="nginx up")
pwfile = os.path.join(prefix, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
expect_equal(ctl(conninfo, "user", "add", "lead", "--role", "mission_lead", "--mission", "TR-ANK", "--password-file",
                 pwfile).returncode, 0, "user")
lead = Session(Proxy(), "lead", PASSWORD)


def sent_messages():
    """Every message the two log drivers wrote: (outbox id, national, text)."""
    out = []
    for d in instances:
        path = os.path.join(d.workdir, "outbox-log.jsonl")
        if os.path.exists(path):
            with open(path) as f:
                out.extend(json.loads(line) for line in f)
    return out


def a_campaign_through_the_proxy_runs_once_and_streams_everywhere():
    crisis = lead.post("/api/v1/crises", {"kind": "earthquake", "title": "Two instances", "drill": True,
                                          "circle": {"lat": 37.0, "lon": 37.0, "radius_m": 400000}}).json()["id"]
    streams = [EventStream(d, "/api/v1/crises/%d/events" % crisis, {"Cookie": Session(d, "lead", PASSWORD).cookie})
               for d in instances]
    for s in streams:
        expect_equal(s.status, 200, "stream")
    r = lead.post("/api/v1/crises/%d/campaigns" % crisis, {"channels": ["sms"], "rounds": 2, "reask_interval_s": 30})
    expect_equal(r.status, 201, r.body)
    round1 = r.json()["messages"]
    check(round1 > 20, "messages of round 1: %d" % round1)
    eventually(lambda: len(sent_messages()) >= round1 and cluster.psql(
        DB, "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')") == "0", timeout=25, what="round 1 sent")
    first = sent_messages()
    by_id = {}
    for m in first:
        by_id[m["outbox_id"]] = by_id.get(m["outbox_id"], 0) + 1
    twice = sum(1 for n in by_id.values() if n > 1)
    senders = [len(open(os.path.join(d.workdir, "outbox-log.jsonl")).readlines()) if os.path.exists(
        os.path.join(d.workdir, "outbox-log.jsonl")) else 0 for d in instances]

    # Half the people answer, through the proxy.
    tokens = {}
    for m in first:
        tokens[m["outbox_id"]] = re.search(r"/r/([A-Za-z0-9_-]+)", m["text"]).group(1)
    answered = []
    unanswered.clear()
    owner = dict(tuple(map(int, row.split("|"))) for row in cluster.psql(
        DB, "SELECT id, national_id FROM outbox WHERE crisis_id = %d" % crisis).splitlines())
    for oid, tok in sorted(tokens.items())[: round1 // 2]:
        record_secret(tok)
        rr = http_request("POST", port, "/r/" + tok, body=urllib.parse.urlencode({"status": "safe"}),
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        expect_equal(rr.status, 200, rr.body)
        answered.append(owner[oid])
    for oid, tok in sorted(tokens.items())[round1 // 2:]:
        record_secret(tok)
        unanswered.append((owner[oid], tok))
    stored_by = []
    for d in instances:
        mt = re.search(r'safety_replies_total\{channel="web",status="safe"\} (\d+)', d.get("/metrics").body)
        stored_by.append(int(mt.group(1)) if mt else 0)
    for s in streams:
        eventually(lambda s=s: set(answered) <= {e["data"]["national_id"] for e in s.of("person")}, timeout=10,
                   what="every answer on every instance's stream")

    # The re-ask: once per unanswered person, whichever instance holds the lock.
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM checkin WHERE crisis_id = %d AND round = 2" % crisis)
               == str(round1 - len(answered)), timeout=60, what="round 2 for the unanswered")
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')") == "0",
               timeout=30, what="round 2 sent")
    time.sleep(2)  # a second run of the timer, if there were one, would show now
    per_person = cluster.psql(DB, "SELECT count(*) FILTER (WHERE n > 2), count(*) FILTER (WHERE n = 2) FROM "
                                  "(SELECT national_id, count(*) AS n FROM outbox WHERE crisis_id = %d GROUP BY 1) x" % crisis)
    more_than_two, two = map(int, per_person.split("|"))
    answered_again = int(cluster.psql(DB, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND national_id IN (%s)"
                                          % (crisis, ",".join(map(str, answered))))) - len(answered)
    print("  %d messages in round 1, sent by the instances %r, %d sent twice; answers stored by the instances %r; "
          "both streams saw all %d answers; round 2: %d people asked again, %d more than twice, %d who answered asked again"
          % (round1, senders, twice, stored_by, len(answered), two, more_than_two, answered_again))
    expect_equal(twice, 0, "no message sent twice")
    check(all(n > 0 for n in senders), "both instances sent: %r" % senders)
    check(all(n > 0 for n in stored_by), "both instances stored answers: %r" % stored_by)
    expect_equal(two, round1 - len(answered), "each unanswered person re-asked once")
    expect_equal(more_than_two, 0, "the timer never ran twice for anyone")
    expect_equal(answered_again, 0, "nobody who answered is asked again")
    for s in streams:
        s.close()


def one_persons_answers_on_both_instances_at_once_both_count():
    # The same people answer twice at the same moment, once to each instance: a text the parser
    # cannot read (SMS) and "safe" (the reply page). Each instance reads the status, applies
    # its answer and writes with a compare-and-set; the loser must read again and apply its
    # answer on the winner's, or an answer is lost. Both count in either order: safe, and
    # still to be read by staff (an unreadable answer stays to review).
    check(len(unanswered) >= 10, "people left to answer: %d" % len(unanswered))
    people = unanswered[:20]
    phones = dict(tuple(row.split("|")) for row in cluster.psql(
        DB, "SELECT national_id, value FROM contact WHERE kind = 'phone' AND national_id IN (%s)"
        % ",".join(str(n) for n, _ in people)).splitlines())
    people = [(n, t) for n, t in people if str(n) in phones]
    check(len(people) >= 10, "people with a phone: %d" % len(people))
    results = []
    gate = threading.Barrier(2 * len(people), timeout=20)

    def web(tok):
        gate.wait()
        results.append(http_request("POST", instances[0].port, "/r/" + tok,
                                    body=urllib.parse.urlencode({"status": "safe"}),
                                    headers={"Content-Type": "application/x-www-form-urlencoded"}).status)

    def sms(nid):
        q = urllib.parse.urlencode({"secret": HOOK_SECRET, "from": phones[str(nid)], "to": "1234",
                                    "text": "zzq xvv", "id": "two-%d" % nid})
        gate.wait()
        results.append(http_request("GET", instances[1].port, "/hooks/sms/kannel?" + q).status)

    threads = [threading.Thread(target=web, args=(t,)) for _, t in people] + \
              [threading.Thread(target=sms, args=(n,)) for n, _ in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    expect_equal(sorted(set(results)), [200], "every answer acknowledged")
    ids = ",".join(str(n) for n, _ in people)
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id IN (%s) AND "
                                        "channel IN ('web', 'sms') AND (channel = 'sms' OR status = 'safe')"
                                    % ids) == str(2 * len(people)), timeout=10, what="both answers stored")
    states = {}

    def settled():
        states.clear()
        for row in cluster.psql(DB, "SELECT national_id, status, needs_review FROM person_status "
                                    "WHERE national_id IN (%s)" % ids).splitlines():
            nid, status, review = row.split("|")
            states[int(nid)] = (status, review)
        return all(v == ("safe", "t") for v in states.values()) and len(states) == len(people)

    try:
        eventually(settled, timeout=10, what="both answers in every status")
    except AssertionError:
        raise AssertionError("answers lost, (status, to review) by person: %r" % {
            n: v for n, v in states.items() if v != ("safe", "t")}) from None
    counts_hold(cluster, DB, int(cluster.psql(DB, "SELECT crisis_id FROM person_status WHERE national_id = %d "
                                                  "ORDER BY crisis_id DESC LIMIT 1" % people[0][0])))
    retries = sum(int(m.group(1)) for d in instances for m in [
        re.search(r"^safety_status_retries_total (\d+)$", d.get("/metrics").body, re.M)] if m)
    print("  %d people answered on both instances at once: all safe and to review; %d status writes "
          "lost a race and were applied again" % (len(people), retries))


def login_from(source, forwarded):
    """Logs in directly at the first instance from a loopback source address, with an
    X-Forwarded-For header; returns the client address the audit log recorded."""
    conn = http.client.HTTPConnection("127.0.0.1", instances[0].port, timeout=10, source_address=(source, 0))
    conn.request("POST", "/api/v1/session", body=json.dumps({"username": "lead", "password": PASSWORD}),
                 headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded,
                          "X-Forwarded-Proto": "https"})
    r = conn.getresponse()
    cookie = r.getheader("Set-Cookie") or ""
    r.read()
    conn.close()
    expect_equal(r.status, 200, "login")
    record_secret(cookie.split(";")[0].split("=", 1)[-1])
    return cluster.psql(DB, "SELECT client_addr FROM audit_log WHERE action = 'login' ORDER BY id DESC LIMIT 1"), cookie


def the_proxy_passes_the_client_address_and_scheme():
    # From the trusted proxy's address: the client named in X-Forwarded-For, over https (a Secure cookie).
    addr, cookie = login_from("127.0.0.1", "198.51.100.7")
    expect_equal(addr, "198.51.100.7", "client behind the proxy")
    check("Secure" in cookie, "https at the proxy makes the cookie Secure: %r" % cookie)
    # From anyone else the headers are whatever the client wrote: ignored.
    addr, cookie = login_from("127.0.0.2", "198.51.100.7")
    expect_equal(addr, "127.0.0.2", "a forged X-Forwarded-For is ignored")
    check("Secure" not in cookie, "a forged X-Forwarded-Proto is ignored")


try:
    run([a_campaign_through_the_proxy_runs_once_and_streams_everywhere,
         one_persons_answers_on_both_instances_at_once_both_count,
         the_proxy_passes_the_client_address_and_scheme])
finally:
    nginx.terminate()
    try:
        nginx.wait(timeout=10)
    except subprocess.TimeoutExpired:
        nginx.kill()
    for d in instances:
        d.stop()
    shutil.rmtree(prefix, ignore_errors=True)
