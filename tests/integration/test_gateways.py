"""The message gateways the daemon's tests and the quickstart use, started by
deploy/gateways.sh in a directory of their own: real Kannel (bearerbox +
smsbox) with the stand-in operator behind it, the SMTP sink (aiosmtpd), the
Twilio-shaped server. This test plays safetyd's part itself: it calls sendsms,
SMTP and the Twilio API, and serves the hook, dlr-url and StatusCallback URLs
on an http.server of its own."""

import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from email.message import EmailMessage

from harness import SOURCE_DIR, check, eventually, expect_equal, run

GATEWAYS = os.path.join(SOURCE_DIR, "deploy", "gateways.sh")
KOREAN = "[주튀르키예 대사관] 안전하신가요? 답장: 1 안전, 2 도움 필요, 3 부상"
REPLY = "안전합니다 가족 3명 모두 무사해요"


# --- the test's own web server: safetyd's hooks, dlr-url and StatusCallback ---

class Hits:
    def __init__(self):
        self.items = []
        self.cv = threading.Condition()

    def add(self, hit):
        with self.cv:
            self.items.append(hit)
            self.cv.notify_all()

    def matching(self, path_prefix, **query):
        with self.cv:
            return [h for h in self.items if h["path"].startswith(path_prefix)
                    and all(h["query"].get(k) == v for k, v in query.items())]


HITS = Hits()


class HookHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        u = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        form = []
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            form = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        HITS.add({"method": self.command, "path": u.path, "query": query, "raw_path": self.path,
                  "headers": dict(self.headers.items()), "form": form, "time": time.time()})
        out = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>" if u.path.startswith("/hooks/sms/twilio") else b""
        self.send_response(200)
        self.send_header("Content-Type", "text/xml" if out else "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = handle_any
    do_POST = handle_any

    def log_message(self, *a):
        pass


class HookServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


hook = HookServer(("127.0.0.1", 0), HookHandler)
HOOK_PORT = hook.server_address[1]
HOOK_BASE = "http://127.0.0.1:%d" % HOOK_PORT
threading.Thread(target=hook.serve_forever, daemon=True).start()

# --- the gateways ------------------------------------------------------------

TMP = tempfile.mkdtemp(prefix="safety-gw-", dir=os.environ.get("SAFETY_TEST_TMP"))
GWDIR = os.path.join(TMP, "gw")


def gateways(*args, check_rc=True):
    r = subprocess.run([GATEWAYS, *args], capture_output=True, text=True, timeout=120)
    if check_rc and r.returncode != 0:
        raise AssertionError("gateways.sh %s failed (%d):\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^([A-Z_]+)='([^']*)'$", line.strip())
            if m:
                env[m.group(1)] = m.group(2)
    return env


def pids():
    out = {}
    run_dir = os.path.join(GWDIR, "run")
    for f in os.listdir(run_dir):
        if f.endswith(".pid"):
            with open(os.path.join(run_dir, f)) as fh:
                out[f[:-4]] = int(fh.read().strip())
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def processes_naming(directory):
    """Live processes whose command line names directory."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                args = f.read().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if any(a == directory or a.startswith(directory + "/") for a in args) and alive(int(p)):
            found.append((int(p), " ".join(args)[:120]))
    return found


t0 = time.time()
r = gateways("start", GWDIR, "--hook-base", HOOK_BASE, "--smtp-tls", "--exit-with", str(os.getpid()))
START_SECONDS = time.time() - t0
ENV_PATH = r.stdout.strip().splitlines()[-1]
ENV = read_env(ENV_PATH)


# --- helpers -------------------------------------------------------------------

def http(method, url, data=None, headers=None, timeout=10):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def sendsms(to, text, **extra):
    q = {"username": ENV["SAFETY_KANNEL_USER"], "password": ENV["SAFETY_KANNEL_PASSWORD"],
         "from": ENV["SAFETY_KANNEL_FROM"], "to": to, "text": text}
    q.update(extra)
    return http("GET", ENV["SAFETY_KANNEL_SENDSMS_URL"] + "?" + urllib.parse.urlencode(q))


def mt_records():
    with open(ENV["SAFETY_SMSC_MT_LOG"], encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def mt_message_to(number, **fields):
    for rec in mt_records():
        if rec["kind"] == "message" and rec["to"] == number and all(rec.get(k) == v for k, v in fields.items()):
            return rec
    return None


def control(path, body):
    st, out = http("POST", ENV["SAFETY_SMSC_CONTROL_URL"] + path, json.dumps(body).encode("utf-8"),
                   {"Content-Type": "application/json"})
    if st != 200:
        raise AssertionError("operator control %s: %d %s" % (path, st, out))
    return json.loads(out)


def dlr_url(ref):
    # %d: the report type, %A: the SMSC's answer, %i: the link, %T: when
    return HOOK_BASE + "/dlr?ref=%s&type=%%d&smsc=%%i&ts=%%T&answer=%%A" % ref


def dlr_types(ref):
    return [h["query"]["type"] for h in HITS.matching("/dlr", ref=ref)]


def twilio_api(form, account=None, token=None):
    account = account or ENV["SAFETY_TWILIO_ACCOUNT_SID"]
    token = token or ENV["SAFETY_TWILIO_AUTH_TOKEN"]
    auth = base64.b64encode(("%s:%s" % (account, token)).encode()).decode()
    url = ENV["SAFETY_TWILIO_URL"] + "/2010-04-01/Accounts/%s/Messages.json" % account
    st, out = http("POST", url, urllib.parse.urlencode(form).encode("utf-8"),
                   {"Authorization": "Basic " + auth, "Content-Type": "application/x-www-form-urlencoded"})
    return st, json.loads(out)


def expected_signature(token, url, params):
    """Twilio's documented algorithm, written here independently of the stub:
    the URL, then each parameter name followed by its value, names in sorted
    order; HMAC-SHA1 keyed with the AuthToken; base64."""
    data = url + "".join(k + v for k, v in sorted(params, key=lambda kv: (kv[0], kv[1])))
    return base64.b64encode(hmac.new(token.encode(), data.encode("utf-8"), hashlib.sha1).digest()).decode()


def signature_ok(hit):
    url = HOOK_BASE + hit["raw_path"]
    return hmac.compare_digest(hit["headers"].get("X-Twilio-Signature", ""),
                               expected_signature(ENV["SAFETY_TWILIO_AUTH_TOKEN"], url, hit["form"]))


# --- the tests ------------------------------------------------------------------

def start_writes_an_env_file_with_every_part():
    for k in ("SAFETY_KANNEL_SENDSMS_URL", "SAFETY_KANNEL_USER", "SAFETY_KANNEL_PASSWORD", "SAFETY_KANNEL_FAKE_PORT",
              "SAFETY_SMTP_HOST", "SAFETY_SMTP_PORT", "SAFETY_SMTP_MAILDIR", "SAFETY_TWILIO_URL",
              "SAFETY_TWILIO_ACCOUNT_SID", "SAFETY_TWILIO_AUTH_TOKEN", "SAFETY_TWILIO_LOG", "SAFETY_SMSC_MT_LOG"):
        check(ENV.get(k), "%s missing from %s" % (k, ENV_PATH))
    check(re.match(r"^AC[0-9a-f]{32}$", ENV["SAFETY_TWILIO_ACCOUNT_SID"]), ENV["SAFETY_TWILIO_ACCOUNT_SID"])
    expect_equal(oct(os.stat(ENV_PATH).st_mode & 0o777), oct(0o600), "env file mode (it holds passwords)")
    # the same file through the env command
    expect_equal(read_env_text(gateways("env", GWDIR).stdout), ENV, "gateways.sh env")
    expect_equal(gateways("status", GWDIR).returncode, 0, "status after start")


def read_env_text(text):
    path = os.path.join(TMP, "env-copy")
    with open(path, "w") as f:
        f.write(text)
    return read_env(path)


def every_port_listens_on_loopback_only():
    ports = {int(ENV[k]) for k in ENV if k.endswith("_PORT")}
    ports |= {int(urllib.parse.urlsplit(ENV[k]).port) for k in ENV if k.endswith("_URL") and "127.0.0.1" in ENV[k]
              and not ENV[k].startswith(HOOK_BASE)}
    listening = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if cols[3] == "0A":
                    addr, port = cols[1].split(":")
                    listening.setdefault(int(port, 16), set()).add(addr)
    for p in ports:
        check(p in listening, "nothing listens on port %d" % p)
        expect_equal(listening[p], {"0100007F"}, "addresses listening on port %d" % p)


def sendsms_in_korean_reaches_the_operator_intact():
    st, body = sendsms("+821012345678", KOREAN, coding="2", charset="UTF-8")
    expect_equal((st, body), (202, "0: Accepted for delivery"), "sendsms answer")
    rec = eventually(lambda: mt_message_to("+821012345678", text=KOREAN), what="the MT at the operator")
    expect_equal(rec["coding"], "ucs2", "coding on the operator's side")
    expect_equal(rec["link"], "fake", "default link")
    expect_equal(rec["from"], ENV["SAFETY_KANNEL_FROM"], "sender")


def sendsms_without_coding_2_and_charset_loses_the_hangul():
    # why safetyd must send Korean with coding=2 and charset=UTF-8: Kannel's 7-bit
    # default has no Hangul, and coding=2 alone takes the UTF-8 bytes for UTF-16
    st, _ = sendsms("+821012340001", "안전", charset="UTF-8")
    expect_equal(st, 202, "sendsms answer")
    st, _ = sendsms("+821012340003", "안전", coding="2")
    expect_equal(st, 202, "sendsms answer")
    for n in ("+821012340001", "+821012340003"):
        rec = eventually(lambda: mt_message_to(n), what="the MT at the operator")
        check(rec["text"] != "안전", "Hangul survived: %r" % rec)


def sendsms_refuses_a_wrong_password():
    q = {"username": ENV["SAFETY_KANNEL_USER"], "password": "wrong", "to": "+821012340002", "text": "x"}
    st, body = http("GET", ENV["SAFETY_KANNEL_SENDSMS_URL"] + "?" + urllib.parse.urlencode(q))
    expect_equal(st, 403, "status with a wrong password: %s" % body)


def a_long_message_is_concatenated():
    text = "".join("%d번 대피소는 학교 체육관입니다. " % i for i in range(1, 9))  # about 150 characters
    check(len(text) > 134, "the text must need three UCS-2 parts")
    st, _ = sendsms("+821055556666", text, coding="2", charset="UTF-8")
    expect_equal(st, 202, "sendsms answer")
    rec = eventually(lambda: mt_message_to("+821055556666"), what="the joined message")
    expect_equal(rec["text"], text, "joined text")
    expect_equal(rec["parts"], 3, "number of parts")
    segs = [r for r in mt_records() if r["kind"] == "segment" and r["to"] == "+821055556666"]
    expect_equal(sorted(s["concat"]["seq"] for s in segs), [1, 2, 3], "segment numbers")
    check(all(s["udh"].startswith("050003") for s in segs), "concatenation UDH: %r" % [s["udh"] for s in segs])
    check(len({s["concat"]["ref"] for s in segs}) == 1, "one reference number for all parts")


def delivery_reports_reach_the_dlr_url():
    st, _ = sendsms("+821077778888", "안전 확인", coding="2", charset="UTF-8", **{
        "dlr-mask": "31", "dlr-url": dlr_url("m1")})
    expect_equal(st, 202, "sendsms answer")
    eventually(lambda: len(dlr_types("m1")) >= 2, what="two delivery reports")
    # the fake link reports "delivered to SMSC" (8) and "delivered to phone" (1);
    # smsbox fetches them in parallel, so their order at the hook is not certain
    expect_equal(sorted(dlr_types("m1")), ["1", "8"], "report types")
    hit = HITS.matching("/dlr", ref="m1")[-1]
    expect_equal(hit["query"]["smsc"], "fake", "%i of the report")
    check(re.match(r"^\d{10}$", hit["query"]["ts"]), "%%T is a Unix time: %r" % hit["query"]["ts"])


def delivery_failures_on_the_smpp_link_reach_the_dlr_url():
    control("/fail", {"numbers": ["+821099990001"], "mode": "undeliverable"})
    control("/fail", {"numbers": ["+821099990002"], "mode": "rejected"})
    for n, ref in (("+821099990001", "f1"), ("+821099990002", "f2"), ("+821099990003", "f3")):
        st, _ = sendsms(n, "대피 안내", coding="2", charset="UTF-8", smsc="smpp",
                        **{"dlr-mask": "31", "dlr-url": dlr_url(ref)})
        expect_equal(st, 202, "sendsms answer for %s" % n)
    eventually(lambda: len(dlr_types("f1")) >= 2 and dlr_types("f2") and len(dlr_types("f3")) >= 2,
               what="the reports of three messages")
    expect_equal(sorted(dlr_types("f1")), ["2", "8"], "undeliverable: accepted by the SMSC, then not delivered")
    expect_equal(dlr_types("f2"), ["16"], "rejected by the SMSC")
    expect_equal(sorted(dlr_types("f3")), ["1", "8"], "a number without a rule is delivered")
    check("stat:UNDELIV" in HITS.matching("/dlr", ref="f1")[-1]["query"]["answer"], "the receipt text is in %A")
    expect_equal(mt_message_to("+821099990001")["smpp"]["outcome"], "undeliverable", "what the operator recorded")
    expect_equal(mt_message_to("+821099990003")["text"], "대피 안내", "text over SMPP")


def an_mo_typed_at_the_operator_reaches_the_hook():
    out = control("/mo", {"from": "+821012345678", "to": "1350", "text": REPLY})
    expect_equal(out["coding"], "ucs2", "a phone sends Hangul as UCS-2")
    hit = eventually(lambda: HITS.matching("/hooks/sms/kannel", text=REPLY), what="the MO at the hook")[0]
    q = hit["query"]
    expect_equal(hit["method"], "GET", "get-url method")
    expect_equal((q["from"], q["to"], q["smsc"]), ("+821012345678", "1350", "fake"), "from, to, smsc")
    expect_equal((q["coding"], q["charset"]), ("0", "UTF-8"), "UCS-2 recoded to UTF-8 (mo-recode)")
    check(re.match(r"^[0-9a-f-]{36}$", q["id"]), "%%I is Kannel's message id: %r" % q["id"])
    # %t: the user guide says "YYYY-MM-DD HH:MM"; Kannel 1.4.5 adds the seconds
    check(re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?$", q["time"]), "%%t: %r" % q["time"])


def an_mo_over_smpp_and_a_plain_text_mo_reach_the_hook():
    control("/mo", {"from": "+905321234567", "to": "1350", "text": "safe 2 @home", "via": "smpp"})
    control("/mo", {"from": "+821011112222", "to": "1350", "text": "1", "via": "fake", "coding": "text"})
    eventually(lambda: HITS.matching("/hooks/sms/kannel", text="safe 2 @home", smsc="smpp"), what="the SMPP MO")
    hit = eventually(lambda: HITS.matching("/hooks/sms/kannel", text="1"), what="the text MO")[0]
    expect_equal(hit["query"]["from"], "+821011112222", "sender")


def smtp_sink_stores_plain_and_starttls_messages():
    def msg(subject):
        m = EmailMessage()
        m["From"] = "embassy-ankara@example.org"
        m["To"] = "national@example.com"
        m["Subject"] = subject
        m.set_content("안전하신가요?\nhttps://safety.example/r/abc")
        m.add_alternative("<p>안전하신가요? <a href='https://safety.example/r/abc'>답장</a></p>", subtype="html")
        return m

    host, port = ENV["SAFETY_SMTP_HOST"], int(ENV["SAFETY_SMTP_PORT"])
    with smtplib.SMTP(host, port, timeout=10) as s:
        s.ehlo()
        check(s.has_extn("starttls"), "STARTTLS offered")
        s.send_message(msg("평문 plain"))
    ctx = ssl.create_default_context(cafile=ENV["SAFETY_SMTP_CA_FILE"])
    with smtplib.SMTP("localhost", port, timeout=10) as s:
        s.starttls(context=ctx)  # verifies the certificate against the CA file
        s.login(ENV["SAFETY_SMTP_USER"], ENV["SAFETY_SMTP_PASSWORD"])
        s.send_message(msg("암호화 starttls"))
    with smtplib.SMTP("localhost", port, timeout=10) as s:
        s.starttls(context=ctx)
        try:
            s.login(ENV["SAFETY_SMTP_USER"], "wrong")
            raise AssertionError("a wrong SMTP password was accepted")
        except smtplib.SMTPAuthenticationError as e:
            expect_equal(e.smtp_code, 535, "wrong password")

    def index():
        with open(os.path.join(ENV["SAFETY_SMTP_MAILDIR"], "index.jsonl"), encoding="utf-8") as f:
            return [json.loads(line) for line in f]
    recs = eventually(lambda: len(index()) >= 2 and index(), what="two stored messages")
    by_subject = {r["subject"]: r for r in recs}
    plain, tls = by_subject["평문 plain"], by_subject["암호화 starttls"]
    expect_equal((plain["tls"], plain["auth"]), (False, None), "plain session")
    expect_equal((tls["tls"], tls["auth"]), (True, ENV["SAFETY_SMTP_USER"]), "STARTTLS session")
    expect_equal(tls["rcpt_tos"], ["national@example.com"], "envelope recipients")
    with open(os.path.join(ENV["SAFETY_SMTP_MAILDIR"], tls["file"]), "rb") as f:
        raw = f.read()
    check(b"multipart/alternative" in raw and b"Subject:" in raw, "the stored file is the whole message")


def twilio_accepts_a_valid_request():
    st, res = twilio_api({"To": "+821012345678", "From": ENV["SAFETY_TWILIO_FROM"], "Body": KOREAN})
    expect_equal(st, 201, "status: %r" % res)
    check(re.match(r"^SM[0-9a-f]{32}$", res["sid"]), "sid %r" % res["sid"])
    expect_equal((res["status"], res["to"], res["from"], res["body"]),
                 ("queued", "+821012345678", ENV["SAFETY_TWILIO_FROM"], KOREAN), "resource")
    expect_equal(res["num_segments"], "1", "num_segments of 42 UCS-2 characters")
    expect_equal(res["account_sid"], ENV["SAFETY_TWILIO_ACCOUNT_SID"], "account_sid")
    with open(ENV["SAFETY_TWILIO_LOG"], encoding="utf-8") as f:
        logged = [json.loads(line) for line in f]
    check(any(m["sid"] == res["sid"] and m["body"] == KOREAN for m in logged), "the message is in the log")
    st, res = twilio_api({"To": "+821012345678", "MessagingServiceSid": ENV["SAFETY_TWILIO_MESSAGING_SERVICE_SID"],
                          "Body": "x" * 161})
    expect_equal((st, res["status"], res["num_segments"]), (201, "accepted", "2"), "through a Messaging Service")


def twilio_rejects_bad_auth_and_bad_input_with_twilio_codes():
    ok = {"To": "+821012345678", "From": ENV["SAFETY_TWILIO_FROM"], "Body": "hi"}
    cases = [
        (dict(ok), "wrong-token", 401, 20003),
        (dict(ok, To="12345"), None, 400, 21211),
        (dict(ok, To="+82 10 1234"), None, 400, 21211),
        ({"From": ok["From"], "Body": "hi"}, None, 400, 21604),
        ({"To": ok["To"], "Body": "hi"}, None, 400, 21603),
        ({"To": ok["To"], "From": ok["From"]}, None, 400, 21602),
        (dict(ok, Body="가" * 1601), None, 400, 21617),
        (dict(ok, StatusCallback="ftp://x"), None, 400, 21609),
    ]
    for form, token, status, code in cases:
        st, res = twilio_api(form, token=token)
        expect_equal((st, res.get("code"), res.get("status")), (status, code, status), "answer to %r" % form)
        check(res["more_info"].endswith(str(code)), res)


def twilio_status_callbacks_are_signed():
    cb = HOOK_BASE + "/twilio/status?outbox=42"
    st, res = twilio_api({"To": "+821033334444", "From": ENV["SAFETY_TWILIO_FROM"], "Body": "확인",
                          "StatusCallback": cb})
    expect_equal(st, 201, "create")

    def statuses():
        return [dict(h["form"])["MessageStatus"] for h in HITS.matching("/twilio/status", outbox="42")]
    eventually(lambda: len(statuses()) >= 2, what="two status callbacks")
    expect_equal(statuses(), ["sent", "delivered"], "status sequence")
    for hit in HITS.matching("/twilio/status", outbox="42"):
        form = dict(hit["form"])
        expect_equal((form["MessageSid"], form["AccountSid"], form["To"]),
                     (res["sid"], ENV["SAFETY_TWILIO_ACCOUNT_SID"], "+821033334444"), "callback fields")
        check(signature_ok(hit), "X-Twilio-Signature does not verify: %r" % hit["headers"])
        tampered = dict(hit, form=[(k, v + "x" if k == "MessageStatus" else v) for k, v in hit["form"]])
        check(not signature_ok(tampered), "a changed parameter must break the signature")
    check(re.match(r"^\d{10}$", dict(HITS.matching("/twilio/status", outbox="42")[-1]["form"])["RawDlrDoneDate"]),
          "RawDlrDoneDate on delivered")


def twilio_numbers_told_to_fail_report_it():
    st, out = http("POST", ENV["SAFETY_TWILIO_URL"] + "/_fail",
                   json.dumps({"numbers": ["+821066660001"], "status": "undelivered"}).encode())
    expect_equal(st, 200, out)
    http("POST", ENV["SAFETY_TWILIO_URL"] + "/_fail",
         json.dumps({"numbers": ["+821066660002"], "status": "rejected", "error_code": 21610}).encode())
    st, res = twilio_api({"To": "+821066660001", "From": ENV["SAFETY_TWILIO_FROM"], "Body": "x",
                          "StatusCallback": HOOK_BASE + "/twilio/status?outbox=43"})
    expect_equal(st, 201, "a number that fails later is accepted first")
    hits = eventually(lambda: [h for h in HITS.matching("/twilio/status", outbox="43")
                               if dict(h["form"])["MessageStatus"] == "undelivered"], what="undelivered callback")
    expect_equal(dict(hits[0]["form"])["ErrorCode"], "30003", "ErrorCode")
    check(signature_ok(hits[0]), "signature of the failure callback")
    st, res = twilio_api({"To": "+821066660002", "From": ENV["SAFETY_TWILIO_FROM"], "Body": "x"})
    expect_equal((st, res["code"]), (400, 21610), "rejected number")


def twilio_inject_posts_a_signed_inbound_webhook():
    st, out = http("POST", ENV["SAFETY_TWILIO_URL"] + "/_inject",
                   json.dumps({"from": "+821012345678", "to": ENV["SAFETY_TWILIO_FROM"], "body": REPLY}).encode())
    expect_equal(st, 200, out)
    expect_equal(json.loads(out)["status"], 200, "the webhook's answer")
    hit = eventually(lambda: HITS.matching("/hooks/sms/twilio"), what="the inbound webhook")[-1]
    form = dict(hit["form"])
    expect_equal(hit["method"], "POST", "method")
    expect_equal((form["From"], form["To"], form["Body"]), ("+821012345678", ENV["SAFETY_TWILIO_FROM"], REPLY),
                 "From, To, Body")
    check(re.match(r"^SM[0-9a-f]{32}$", form["MessageSid"]), form)
    expect_equal((form["AccountSid"], form["NumMedia"], form["SmsStatus"], form["FromCountry"]),
                 (ENV["SAFETY_TWILIO_ACCOUNT_SID"], "0", "received", "KR"), "other fields")
    check(signature_ok(hit), "X-Twilio-Signature of the inbound webhook")
    stats = json.loads(http("GET", ENV["SAFETY_TWILIO_URL"] + "/_stats")[1])
    check(stats["inbound"] >= 1 and stats["accepted"] >= 3 and stats["rejected_20003"] >= 1, stats)


def start_twice_starts_nothing_new():
    before = pids()
    t = time.time()
    gateways("start", GWDIR, "--hook-base", HOOK_BASE, "--smtp-tls", "--exit-with", str(os.getpid()))
    after = pids()
    for part in ("operator", "bearerbox", "smsbox", "smtp", "twilio"):
        expect_equal(after[part], before[part], "pid of %s after a second start" % part)
    expect_equal(read_env(ENV_PATH), ENV, "env after a second start")
    check(time.time() - t < 10, "a second start is quick")


def a_crashed_part_is_started_again_and_kannel_keeps_working():
    old = pids()
    os.kill(old["operator"], 9)
    eventually(lambda: not alive(old["operator"]), what="the operator to die")
    r = gateways("status", GWDIR, check_rc=False)
    check(r.returncode != 0 and "operator stopped" in r.stdout, r.stdout)
    gateways("start", GWDIR, "--hook-base", HOOK_BASE, "--smtp-tls", "--exit-with", str(os.getpid()))
    new = pids()
    check(new["operator"] != old["operator"], "a new operator")
    expect_equal(new["bearerbox"], old["bearerbox"], "bearerbox left alone")
    st, _ = sendsms("+821012349999", "다시 연결됨", coding="2", charset="UTF-8")
    expect_equal(st, 202, "sendsms after the operator came back")
    eventually(lambda: mt_message_to("+821012349999", text="다시 연결됨"), what="the MT through the new operator")


def stop_leaves_no_process_behind():
    before = pids()
    check(all(alive(p) for p in before.values()), "every part runs before stop: %r" % before)
    t = time.time()
    gateways("stop", GWDIR)
    took = time.time() - t
    for name, pid in before.items():
        check(not alive(pid), "%s (pid %d) still runs after stop" % (name, pid))
    expect_equal(processes_naming(GWDIR), [], "processes naming the directory")
    expect_equal(gateways("status", GWDIR, check_rc=False).returncode, 1, "status after stop")
    gateways("stop", GWDIR)  # twice is fine
    print("   (start %.1fs, stop %.1fs)" % (START_SECONDS, took))


passed = False
try:
    try:
        run([
            start_writes_an_env_file_with_every_part,
            every_port_listens_on_loopback_only,
            sendsms_in_korean_reaches_the_operator_intact,
            sendsms_without_coding_2_and_charset_loses_the_hangul,
            sendsms_refuses_a_wrong_password,
            a_long_message_is_concatenated,
            delivery_reports_reach_the_dlr_url,
            delivery_failures_on_the_smpp_link_reach_the_dlr_url,
            an_mo_typed_at_the_operator_reaches_the_hook,
            an_mo_over_smpp_and_a_plain_text_mo_reach_the_hook,
            smtp_sink_stores_plain_and_starttls_messages,
            twilio_accepts_a_valid_request,
            twilio_rejects_bad_auth_and_bad_input_with_twilio_codes,
            twilio_status_callbacks_are_signed,
            twilio_numbers_told_to_fail_report_it,
            twilio_inject_posts_a_signed_inbound_webhook,
            start_twice_starts_nothing_new,
            a_crashed_part_is_started_again_and_kannel_keeps_working,
            stop_leaves_no_process_behind,
        ])
    except SystemExit as e:
        passed = e.code == 0
        raise
finally:
    gateways("stop", GWDIR, check_rc=False)
    hook.shutdown()
    if passed:  # a failed run keeps its logs and records in TMP
        shutil.rmtree(TMP, ignore_errors=True)
