#!/usr/bin/python3
"""A local server with the shape of Twilio's Programmable Messaging API, for
tests, benchmarks and the quickstart. Python 3 standard library only.

    twilio_stub.py --dir DIR --port PORT --account-sid AC... --auth-token-file FILE
                   [--inbound-url URL] [--callback-delay S] [--fail NUMBER[:STATUS[:CODE]]]

The API, as Twilio's documentation describes it:

  POST /2010-04-01/Accounts/{AccountSid}/Messages.json
      HTTP basic auth AccountSid:AuthToken; form-encoded To, From or
      MessagingServiceSid, Body (and/or MediaUrl), StatusCallback, anything else
      Twilio takes (kept, not interpreted). 201 with the Message resource JSON
      (sid "SM" + 32 hex digits, status "queued", or "accepted" when sent through
      a MessagingServiceSid). Errors are Twilio's JSON {code, message, more_info,
      status}: 20003 (401) authentication, 21604 To missing, 21211 invalid To,
      21603 From missing, 21212 invalid From, 21701 unknown Messaging Service,
      21602 Body missing, 21617 Body over 1600 characters, 21609 invalid
      StatusCallback, 21266 To equals From, 20404 unknown resource.
  GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json   the resource now

Then, asynchronously, the status callback: a form POST to StatusCallback with
MessageSid, SmsSid, AccountSid, From, To, ApiVersion, MessageStatus/SmsStatus
"sent" and then "delivered" (with RawDlrDoneDate), or, for numbers told to
fail, "sent" then "undelivered" (ErrorCode 30003 by default) or straight
"failed" (ErrorCode 30008 by default). Each request carries X-Twilio-Signature:
base64(HMAC-SHA1(AuthToken, URL + every POST parameter name and value, sorted
by name)), Twilio's documented algorithm; twilio_signature() below is it.
Callbacks are made once, like Twilio's, over kept-alive connections.

Every accepted message is appended as a JSON line to DIR/twilio-messages.jsonl,
every status callback made to DIR/twilio-callbacks.jsonl.

Control endpoints (not Twilio's; the leading underscore keeps them apart):
  POST /_inject {"from", "to", "body", "url"?, "media"?: [urls]}
        posts Twilio's inbound-SMS webhook (MessageSid, SmsSid, SmsMessageSid,
        AccountSid, MessagingServiceSid, From, To, Body, NumMedia, NumSegments,
        SmsStatus, ApiVersion, From/To Country/State/City/Zip, MediaUrlN...),
        signed, to url (default --inbound-url); answers with the webhook's status
        and body.
  POST /_fail {"numbers": [...], "status": "undelivered|failed|rejected|throttled|unavailable|deliver",
               "error_code"?: n, "times"?: n}
        undelivered/failed: accepted, then the callback says so with ErrorCode;
        rejected: 400 at once (21610 by default, "unsubscribed recipient");
        throttled: 429 (20429); unavailable: 503 (20503); "times" limits a rule
        to its next n uses; deliver removes the rule; {"clear": true} all rules.
  GET  /_stats   counters as JSON

The server is one asyncio event loop with a small HTTP/1.1 parser of its own
(keep-alive, pipelining, Expect: 100-continue, Content-Length bodies): the
standard library's ThreadingHTTPServer measured under 4,000 requests per
second here, this loop about twice that (tests/gateways/README.md).
--workers N forks N such loops on one listening socket, for benchmarks on
machines with CPUs to spare; the /_fail rules and the counters of /_stats are
then shared through files in DIR/twilio-shared (counters at most 0.1 s old),
and GET of a message finds it only in the worker that created it.
"""

import argparse
import asyncio
import base64
import collections
import email.utils
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import socket
import ssl
import sys
import time
import urllib.parse

API = "2010-04-01"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
SHORTCODE = re.compile(r"^[0-9]{3,8}$")
ALPHA = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
MG_SID = re.compile(r"^MG[0-9a-f]{32}$")
CREATE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
FETCH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages/((?:SM|MM)[0-9a-f]{32})\.json$")
GSM_CHARS = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM_EXT = set("\f^{}\\[~]|€")
COUNTRY = [("+82", "KR"), ("+90", "TR"), ("+380", "UA"), ("+66", "TH"), ("+1", "US"), ("+44", "GB"),
           ("+81", "JP"), ("+86", "CN"), ("+49", "DE"), ("+33", "FR")]
REASONS = {100: "Continue", 200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
           401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed", 411: "Length Required",
           413: "Payload Too Large", 429: "Too Many Requests", 502: "Bad Gateway",
           503: "Service Unavailable"}
MAX_BODY = 1 << 20


def twilio_signature(auth_token, url, params):
    """X-Twilio-Signature of a request: the full URL, then each POST parameter's
    name and value (parameters sorted by name, values of a repeated name sorted),
    HMAC-SHA1 under the AuthToken, base64."""
    by_name = collections.defaultdict(list)
    for k, v in params:
        by_name[k].append(v)
    s = url
    for k in sorted(by_name):
        for v in sorted(set(by_name[k])):
            s += k + v
    mac = hmac.new(auth_token.encode("utf-8"), s.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


_PLAIN = re.compile(r"^[A-Za-z0-9_.~-]*$")


def form_encode(params):
    """application/x-www-form-urlencoded, as urllib.parse.urlencode, faster for plain values."""
    return "&".join((k if _PLAIN.match(k) else urllib.parse.quote_plus(k)) + "=" +
                    (v if _PLAIN.match(v) else urllib.parse.quote_plus(v)) for k, v in params)


_SPLIT_CACHE = {}


def split_url(url):
    u = _SPLIT_CACHE.get(url)
    if u is None:
        if len(_SPLIT_CACHE) > 1000:
            _SPLIT_CACHE.clear()
        u = _SPLIT_CACHE[url] = urllib.parse.urlsplit(url)
    return u


def segments(body):
    """(number of SMS parts, encoding) as Twilio counts them."""
    if all(c in GSM_CHARS or c in GSM_EXT for c in body):
        n = sum(2 if c in GSM_EXT else 1 for c in body)
        return (1 if n <= 160 else -(-n // 153)), "GSM-7"
    n = len(body.encode("utf-16-le")) // 2
    return (1 if n <= 70 else -(-n // 67)), "UCS-2"


_DATE = [0, ""]


def rfc2822():
    """Now as Twilio writes dates ("Fri, 27 Nov 2026 22:36:08 +0000"), made once a second."""
    now = int(time.time())
    if _DATE[0] != now:
        _DATE[0], _DATE[1] = now, email.utils.formatdate(now, usegmt=True).replace("GMT", "+0000")
    return _DATE[1]


def iso_now():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (int(t * 1000) % 1000)


def country_of(number):
    for prefix, cc in COUNTRY:
        if number.startswith(prefix):
            return cc
    return ""


def error(code, message, status=400):
    return status, {"code": code, "message": message,
                    "more_info": "https://www.twilio.com/docs/errors/%d" % code, "status": status}


# --- outbound HTTP (status callbacks, inbound webhooks) ---------------------

class ClientConn(asyncio.Protocol):
    """One kept-alive client connection: one request at a time, response parsed here."""

    def __init__(self):
        self.transport = None
        self.buf = b""
        self.fut = None
        self.lost = False
        self.state = None

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc):
        self.lost = True
        if self.fut is not None and not self.fut.done():
            if self.state and self.state.get("until_close"):
                self.fut.set_result((self.state["status"], self.buf, False))
            else:
                self.fut.set_exception(ConnectionError("connection closed by the webhook"))

    def request(self, data):
        self.fut = asyncio.get_running_loop().create_future()
        self.state = None
        self.buf = b""
        self.transport.write(data)
        return self.fut

    def data_received(self, data):
        self.buf += data
        if self.fut is None or self.fut.done():
            return
        try:
            r = self.parse()
        except ValueError as e:
            self.fut.set_exception(e)
            return
        if r is not None:
            self.fut.set_result(r)

    def parse(self):
        st = self.state
        if st is None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return None
            lines = self.buf[:end].decode("latin-1").split("\r\n")
            version, code = lines[0].split(" ", 2)[:2]
            h = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                h[k.strip().lower()] = v.strip()
            status = int(code)
            self.buf = self.buf[end + 4:]
            if 100 <= status < 200:  # 100 Continue and the like: the real answer follows
                return self.parse()
            keep = version == "HTTP/1.1" and h.get("connection", "").lower() != "close"
            st = self.state = {"status": status, "keep": keep}
            if "chunked" in h.get("transfer-encoding", "").lower():
                st["chunked"] = True
            elif "content-length" in h:
                st["length"] = int(h["content-length"])
            elif status in (204, 304):
                st["length"] = 0
            else:
                st["until_close"] = True
                st["keep"] = False
        if "length" in st:
            if len(self.buf) < st["length"]:
                return None
            return st["status"], self.buf[:st["length"]], st["keep"]
        if st.get("chunked"):
            body, i = b"", 0
            while True:
                j = self.buf.find(b"\r\n", i)
                if j < 0:
                    return None
                size = int(self.buf[i:j].split(b";")[0], 16)
                if size == 0:
                    if self.buf.find(b"\r\n\r\n", j) < 0 and not self.buf.endswith(b"\r\n"):
                        return None
                    return st["status"], body, st["keep"]
                if len(self.buf) < j + 2 + size + 2:
                    return None
                body += self.buf[j + 2:j + 2 + size]
                i = j + 2 + size + 2
        return None  # read until close


class HttpClientPool:
    """Kept-alive connections per (scheme, host, port), at most `limit` requests in flight."""

    def __init__(self, limit=64, timeout=10.0):
        self.idle = collections.defaultdict(list)
        self.sem = asyncio.Semaphore(limit)
        self.timeout = timeout
        self.ssl_ctx = ssl.create_default_context()

    async def post(self, url, params, auth_token):
        u = split_url(url)
        port = u.port or (443 if u.scheme == "https" else 80)
        key = (u.scheme, u.hostname, port)
        body = form_encode(params).encode("utf-8")
        host = u.hostname if not u.port else "%s:%d" % (u.hostname, u.port)
        head = ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
                "Content-Length: %d\r\nX-Twilio-Signature: %s\r\nUser-Agent: TwilioProxy/1.1\r\nAccept: */*\r\n"
                "Connection: keep-alive\r\n" % ((u.path or "/") + ("?" + u.query if u.query else ""), host,
                                                len(body), twilio_signature(auth_token, url, params)))
        if u.username is not None:
            cred = "%s:%s" % (urllib.parse.unquote(u.username), urllib.parse.unquote(u.password or ""))
            head += "Authorization: Basic %s\r\n" % base64.b64encode(cred.encode()).decode()
        req = head.encode("latin-1") + b"\r\n" + body
        loop = asyncio.get_running_loop()
        async with self.sem:
            for attempt in (1, 2):
                conn = None
                while self.idle[key]:
                    c = self.idle[key].pop()
                    if not c.lost:
                        conn = c
                        break
                reused = conn is not None
                if conn is None:
                    _, conn = await asyncio.wait_for(loop.create_connection(
                        ClientConn, u.hostname, port, ssl=self.ssl_ctx if u.scheme == "https" else None,
                        server_hostname=u.hostname if u.scheme == "https" else None), self.timeout)
                try:
                    status, data, keep = await asyncio.wait_for(conn.request(req), self.timeout)
                except (OSError, asyncio.TimeoutError, ValueError):
                    conn.transport.close()
                    if reused and attempt == 1:
                        continue  # a kept-alive connection the server had closed
                    raise
                if keep and not conn.lost:
                    self.idle[key].append(conn)
                else:
                    conn.transport.close()
                return status, data
        return None, b""


# --- the stub ---------------------------------------------------------------

class Stub:
    def __init__(self, args):
        self.args = args
        with open(args.auth_token_file) as f:
            self.token = f.read().strip()
        self.sid = args.account_sid
        self.auth_ok = "Basic " + base64.b64encode(("%s:%s" % (self.sid, self.token)).encode()).decode()
        self.log = open(os.path.join(args.dir, "twilio-messages.jsonl"), "a", encoding="utf-8")
        self.cblog = open(os.path.join(args.dir, "twilio-callbacks.jsonl"), "a", encoding="utf-8")
        self.messages = collections.OrderedDict()
        self.rules = {}
        self.started = time.time()
        self.counts = collections.Counter()
        self.pending = 0
        self.loop = None
        self.pool = None
        self.shared_dir = os.path.join(args.dir, "twilio-shared")
        self.rules_path = os.path.join(self.shared_dir, "rules.json")
        self.rules_version = None

    # -- rules ---------------------------------------------------------------
    def rule_for(self, to):
        self.load_shared_rules()
        r = self.rules.get(to)
        if r is None:
            return None
        if r.get("times") is not None:
            r["times"] -= 1
            if r["times"] <= 0:
                del self.rules[to]
            self.save_shared_rules()
        return dict(r)

    def set_rules(self, req):
        status = req.get("status", "undelivered")
        defaults = {"undelivered": 30003, "failed": 30008, "rejected": 21610, "throttled": 20429,
                    "unavailable": 20503}
        if status not in defaults and status != "deliver":
            raise ValueError("status is undelivered, failed, rejected, throttled, unavailable or deliver")
        self.load_shared_rules()
        if req.get("clear"):
            self.rules.clear()
        for n in req.get("numbers", []):
            if status == "deliver":
                self.rules.pop(n, None)
            else:
                self.rules[n] = {"status": status, "error_code": int(req.get("error_code") or defaults[status]),
                                 "times": int(req["times"]) if req.get("times") else None}
        self.save_shared_rules()
        return {k: dict(v) for k, v in self.rules.items()}

    # With several worker processes the rules live in a file every worker
    # rereads when it changed; counters go to one file per worker.
    def load_shared_rules(self):
        if self.args.workers <= 1:
            return
        try:
            st = os.stat(self.rules_path)
        except FileNotFoundError:
            return
        version = (st.st_mtime_ns, st.st_size, st.st_ino)
        if version != self.rules_version:
            with open(self.rules_path) as f:
                self.rules = json.load(f)
            self.rules_version = version

    def save_shared_rules(self):
        if self.args.workers <= 1:
            return
        tmp = "%s.%d" % (self.rules_path, os.getpid())
        with open(tmp, "w") as f:
            json.dump(self.rules, f)
        os.rename(tmp, self.rules_path)
        st = os.stat(self.rules_path)
        self.rules_version = (st.st_mtime_ns, st.st_size, st.st_ino)

    async def publish_counts(self):
        path = os.path.join(self.shared_dir, "stats-%d.json" % os.getpid())
        last = None
        while True:
            snap = dict(self.counts, callbacks_pending=self.pending)
            if snap != last:
                with open(path + ".tmp", "w") as f:
                    json.dump(snap, f)
                os.rename(path + ".tmp", path)
                last = snap
            await asyncio.sleep(0.1)

    # -- messages ------------------------------------------------------------
    def create(self, account, auth, params):
        if auth != self.auth_ok or account != self.sid:
            self.counts["rejected_20003"] += 1
            return error(20003, "Authenticate", 401)
        p = {}
        for k, v in params:
            p.setdefault(k, v)
        media = [v for k, v in params if k == "MediaUrl"]
        to, frm, mg = p.get("To", ""), p.get("From", ""), p.get("MessagingServiceSid", "")
        body, cb = p.get("Body", ""), p.get("StatusCallback", "")
        err = None
        rule = None
        if not to:
            err = error(21604, "A 'To' phone number is required.")
        elif not E164.match(to):
            err = error(21211, "Invalid 'To' Phone Number: %s" % to[:40])
        elif not frm and not mg:
            err = error(21603, "A 'From' phone number is required.")
        elif frm and not (E164.match(frm) or SHORTCODE.match(frm) or ALPHA.match(frm)):
            err = error(21212, "Invalid From Number (caller ID): %s" % frm[:40])
        elif mg and not (MG_SID.match(mg) and mg == (self.args.messaging_service_sid or mg)):
            err = error(21701, "The Messaging Service Sid %s is invalid." % mg[:40])
        elif not body and not media and not p.get("ContentSid"):
            err = error(21602, "Message body is required.")
        elif len(body) > 1600:
            err = error(21617, "The concatenated message body exceeds the 1600 character limit.")
        elif cb and urllib.parse.urlsplit(cb).scheme not in ("http", "https"):
            err = error(21609, "Invalid StatusCallback url: %s" % cb[:80])
        elif frm and frm == to:
            err = error(21266, "'To' and 'From' number cannot be the same: %s" % to)
        else:
            rule = self.rule_for(to)
            if rule and rule["status"] == "rejected":
                err = error(rule["error_code"], "Attempt to send to unsubscribed recipient")
            elif rule and rule["status"] == "throttled":
                err = error(rule["error_code"], "Too Many Requests", 429)
            elif rule and rule["status"] == "unavailable":
                err = error(rule["error_code"], "Service Unavailable", 503)
        if err is not None:
            self.counts["rejected_%d" % err[1]["code"]] += 1
            return err
        sid = "SM" + secrets.token_hex(16)
        nseg, enc = segments(body)
        now = rfc2822()
        # what changes or differs per message; resource() makes Twilio's JSON of it
        res = {"sid": sid, "to": to, "from": frm or None, "messaging_service_sid": mg or None, "body": body,
               "num_segments": nseg, "num_media": len(media), "status": "accepted" if (mg and not frm) else "queued",
               "date_created": now, "date_sent": None, "date_updated": now, "error_code": None}
        outcome = rule["status"] if rule else "delivered"
        rec = {"sid": sid, "time": iso_now(), "to": to, "from": frm or None, "messaging_service_sid": mg or None,
               "body": body, "num_segments": nseg, "encoding": enc, "media": media, "status_callback": cb or None,
               "outcome": outcome, "error_code": rule["error_code"] if rule else None}
        extra = {k: v for k, v in p.items() if k not in ("To", "From", "MessagingServiceSid", "Body",
                                                          "StatusCallback", "MediaUrl")}
        if extra:
            rec["params"] = extra
        self.log.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.log.flush()
        self.messages[sid] = res
        if len(self.messages) > self.args.keep:
            self.messages.popitem(last=False)
        self.counts["accepted"] += 1
        answer = self.resource(res)
        self.plan_callbacks(res, cb, outcome, rule)
        return 201, answer

    def resource(self, m):
        """Twilio's Message resource JSON."""
        return {
            "account_sid": self.sid, "api_version": API, "body": m["body"], "date_created": m["date_created"],
            "date_sent": m["date_sent"], "date_updated": m["date_updated"], "direction": "outbound-api",
            "error_code": m["error_code"], "error_message": None, "from": m["from"],
            "messaging_service_sid": m["messaging_service_sid"], "num_media": str(m["num_media"]),
            "num_segments": str(m["num_segments"]), "price": None, "price_unit": "USD", "sid": m["sid"],
            "status": m["status"],
            "subresource_uris": {"media": "/%s/Accounts/%s/Messages/%s/Media.json" % (API, self.sid, m["sid"])},
            "to": m["to"], "uri": "/%s/Accounts/%s/Messages/%s.json" % (API, self.sid, m["sid"]),
        }

    def plan_callbacks(self, res, cb, outcome, rule):
        d = self.args.callback_delay
        if outcome == "failed":
            steps = [("failed", rule["error_code"])]
        elif outcome == "undelivered":
            steps = [("sent", None), ("undelivered", rule["error_code"])]
        else:
            steps = [("sent", None), ("delivered", None)]
        for i, (status, code) in enumerate(steps):
            self.pending += 1
            self.loop.call_later(d * (i + 1), lambda s=status, c=code: self.loop.create_task(
                self.status_change(res, cb, s, c)))

    async def status_change(self, res, cb, status, code):
        try:
            now = rfc2822()
            res["status"] = status
            res["date_updated"] = now
            if status in ("sent", "delivered", "undelivered") and not res["date_sent"]:
                res["date_sent"] = now
            if code:
                res["error_code"] = code
            if not cb:
                return
            params = [("AccountSid", self.sid), ("ApiVersion", API), ("From", res["from"] or ""),
                      ("MessageSid", res["sid"]), ("MessageStatus", status), ("SmsSid", res["sid"]),
                      ("SmsStatus", status), ("To", res["to"])]
            if res["messaging_service_sid"]:
                params.append(("MessagingServiceSid", res["messaging_service_sid"]))
            if code:
                params.append(("ErrorCode", str(code)))
            if status in ("delivered", "undelivered"):
                params.append(("RawDlrDoneDate", time.strftime("%y%m%d%H%M", time.gmtime())))
            entry = {"sid": res["sid"], "status": status, "url": cb, "time": iso_now()}
            try:
                st, _ = await self.pool.post(cb, params, self.token)
                entry["http_status"] = st
                ok = st is not None and 200 <= st < 300
            except (OSError, asyncio.TimeoutError, ValueError) as e:
                entry["error"] = str(e) or type(e).__name__
                ok = False
            self.counts["callbacks_ok" if ok else "callbacks_failed"] += 1
            self.cblog.write(json.dumps(entry) + "\n")
            self.cblog.flush()
        finally:
            self.pending -= 1

    def fetch(self, account, auth, sid):
        if auth != self.auth_ok or account != self.sid:
            return error(20003, "Authenticate", 401)
        res = self.messages.get(sid)
        if res is None:
            return error(20404, "The requested resource /%s/Accounts/%s/Messages/%s.json was not found"
                         % (API, account, sid), 404)
        return 200, self.resource(res)

    async def inject(self, req):
        url = req.get("url") or self.args.inbound_url
        if not url:
            raise ValueError("no url given and no --inbound-url")
        frm, to, body = str(req["from"]), str(req["to"]), str(req.get("body", ""))
        media = list(req.get("media", []))
        sid = ("MM" if media else "SM") + secrets.token_hex(16)
        nseg, _ = segments(body)
        params = [("ToCountry", country_of(to)), ("ToState", ""), ("SmsMessageSid", sid),
                  ("NumMedia", str(len(media))), ("ToCity", ""), ("FromZip", ""), ("SmsSid", sid),
                  ("FromState", ""), ("SmsStatus", "received"), ("FromCity", ""), ("Body", body),
                  ("FromCountry", country_of(frm)), ("To", to), ("ToZip", ""),
                  ("NumSegments", str(nseg)), ("MessageSid", sid), ("AccountSid", self.sid),
                  ("From", frm), ("ApiVersion", API)]
        if req.get("messaging_service_sid"):
            params.append(("MessagingServiceSid", req["messaging_service_sid"]))
        for i, m in enumerate(media):
            params += [("MediaContentType%d" % i, "image/jpeg"), ("MediaUrl%d" % i, m)]
        st, data = await self.pool.post(url, params, self.token)
        self.counts["inbound"] += 1
        return {"sid": sid, "url": url, "status": st, "body": data.decode("utf-8", "replace")[:4000],
                "signature": twilio_signature(self.token, url, params)}

    def stats(self):
        c = collections.Counter(self.counts)
        c["callbacks_pending"] = self.pending
        if self.args.workers > 1:  # the other workers' counters, at most 0.1 s old
            mine = "stats-%d.json" % os.getpid()
            for name in os.listdir(self.shared_dir):
                if name.startswith("stats-") and name.endswith(".json") and name != mine:
                    try:
                        with open(os.path.join(self.shared_dir, name)) as f:
                            c.update(json.load(f))
                    except (OSError, ValueError):
                        pass
            self.load_shared_rules()
        c = dict(c)
        c["uptime_s"] = round(time.time() - self.started, 3)
        c["rules"] = len(self.rules)
        c["pid"] = os.getppid() if self.args.workers > 1 else os.getpid()
        c["workers"] = self.args.workers
        return c

    # -- HTTP dispatch ---------------------------------------------------------
    async def handle(self, method, path, headers, body):
        """(status, JSON object, extra headers) for one request."""
        path = path.split("?", 1)[0]
        if method == "POST":
            m = CREATE.match(path)
            if m:
                try:
                    params = urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
                except UnicodeDecodeError:
                    params = []
                status, obj = self.create(m.group(1), headers.get("authorization"), params)
                return status, obj, ('WWW-Authenticate: Basic realm="Twilio API"',) if status == 401 else ()
            if path in ("/_inject", "/_fail"):
                try:
                    req = json.loads(body.decode("utf-8") or "{}")
                    if path == "/_fail":
                        return 200, self.set_rules(req), ()
                    return 200, await self.inject(req), ()
                except (ValueError, KeyError, TypeError, AttributeError) as e:
                    return 400, {"error": "bad request: %s" % e}, ()
                except (OSError, asyncio.TimeoutError) as e:
                    return 502, {"error": "webhook unreachable: %s" % (str(e) or type(e).__name__)}, ()
        elif method == "GET":
            m = FETCH.match(path)
            if m:
                status, obj = self.fetch(m.group(1), headers.get("authorization"), m.group(2))
                return status, obj, ()
            if path in ("/_stats", "/healthz"):
                return 200, self.stats(), ()
        st, obj = error(20404, "The requested resource %s was not found" % path[:200], 404)
        return st, obj, ()


class Connection(asyncio.Protocol):
    """HTTP/1.1 server side of one connection: requests are answered in order."""

    def __init__(self, stub):
        self.stub = stub
        self.buf = b""
        self.transport = None
        self.queue = collections.deque()
        self.busy = False
        self.closing = False
        self.continued = False

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc):
        self.closing = True

    def data_received(self, data):
        self.buf += data
        while not self.closing:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536:
                    self.fail(400, "headers too large")
                return
            try:
                lines = self.buf[:end].decode("latin-1").split("\r\n")
                method, target, version = lines[0].split(" ", 2)
            except ValueError:
                self.fail(400, "bad request line")
                return
            headers = {}
            for ln in lines[1:]:
                k, _, v = ln.partition(":")
                headers[k.strip().lower()] = v.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                self.fail(411, "send a Content-Length")
                return
            try:
                n = int(headers.get("content-length", "0"))
            except ValueError:
                self.fail(400, "bad Content-Length")
                return
            if n > MAX_BODY:
                self.fail(413, "body too large")
                return
            if len(self.buf) < end + 4 + n:
                if headers.get("expect", "").lower() == "100-continue" and not self.continued:
                    self.continued = True
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                return
            body = self.buf[end + 4:end + 4 + n]
            self.buf = self.buf[end + 4 + n:]
            self.continued = False
            keep = (version == "HTTP/1.1" and headers.get("connection", "").lower() != "close") or (
                version == "HTTP/1.0" and headers.get("connection", "").lower() == "keep-alive")
            self.queue.append((method, target, headers, body, keep, version))
            if not self.busy:
                self.busy = True
                self.stub.loop.create_task(self.serve())

    async def serve(self):
        try:
            while self.queue and not self.closing:
                method, target, headers, body, keep, version = self.queue.popleft()
                try:
                    status, obj, extra = await self.stub.handle(method, target, headers, body)
                except Exception as e:  # noqa: BLE001 - answer 500 rather than hang the client
                    status, obj, extra = 500, {"error": "internal error: %r" % e}, ()
                self.write(status, obj, extra, keep, version)
                if not keep:
                    self.closing = True
                    self.transport.close()
        finally:
            self.busy = False

    def write(self, status, obj, extra, keep, version):
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        head = "%s %d %s\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n" % (
            "HTTP/1.1" if version == "HTTP/1.1" else "HTTP/1.0", status, REASONS.get(status, "Status"), len(data))
        for h in extra:
            head += h + "\r\n"
        if not keep:
            head += "Connection: close\r\n"
        elif version == "HTTP/1.0":
            head += "Connection: keep-alive\r\n"
        self.transport.write(head.encode("latin-1") + b"\r\n" + data)

    def fail(self, status, why):
        self.write(status, {"error": why}, (), False, "HTTP/1.1")
        self.closing = True
        self.transport.close()


async def serve(args, sock, parent=None):
    stub = Stub(args)
    stub.loop = asyncio.get_running_loop()
    stub.pool = HttpClientPool(limit=args.callback_connections)
    if parent is None:
        for spec in args.fail:
            n, _, rest = spec.partition(":")
            st, _, code = rest.partition(":")
            stub.set_rules({"numbers": [n], "status": st or "undelivered", "error_code": code or None})
    server = await stub.loop.create_server(lambda: Connection(stub), sock=sock, backlog=4096)
    stop = asyncio.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        stub.loop.add_signal_handler(s, stop.set)
    tasks = []
    if args.workers > 1:
        tasks.append(stub.loop.create_task(stub.publish_counts()))
    if parent is not None:
        async def orphaned():  # the parent is gone (killed): stop too
            while os.getppid() == parent:
                await asyncio.sleep(1)
            stop.set()
        tasks.append(stub.loop.create_task(orphaned()))
    else:
        print("twilio_stub: ready on 127.0.0.1:%d" % args.port, flush=True)
    await stop.wait()
    server.close()
    for t in tasks:
        t.cancel()


def run_workers(args, sock):
    """The parent of several workers sharing one listening socket."""
    os.makedirs(os.path.join(args.dir, "twilio-shared"), exist_ok=True)
    for name in os.listdir(os.path.join(args.dir, "twilio-shared")):
        os.unlink(os.path.join(args.dir, "twilio-shared", name))
    if args.fail:
        stub = Stub(args)
        for spec in args.fail:
            n, _, rest = spec.partition(":")
            st, _, code = rest.partition(":")
            stub.set_rules({"numbers": [n], "status": st or "undelivered", "error_code": code or None})
    me = os.getpid()
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:
            try:
                asyncio.run(serve(args, sock, parent=me))
            finally:
                os._exit(0)
        children.append(pid)
    print("twilio_stub: ready on 127.0.0.1:%d (%d workers)" % (args.port, args.workers), flush=True)

    def forward(signum, _frame):
        for c in children:
            try:
                os.kill(c, signal.SIGTERM)
            except ProcessLookupError:
                pass
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    rc = 0
    for _ in children:
        pid, status = os.wait()
        if status != 0 and rc == 0:
            rc = 1
            forward(signal.SIGTERM, None)  # one worker died: stop the others
    return rc


def main():
    ap = argparse.ArgumentParser(description="a local server with the shape of Twilio's Messages API")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--account-sid", required=True)
    ap.add_argument("--auth-token-file", required=True)
    ap.add_argument("--inbound-url", default="", help="default webhook for /_inject")
    ap.add_argument("--messaging-service-sid", default="",
                    help="the one MessagingServiceSid accepted (default: any MG + 32 hex digits)")
    ap.add_argument("--callback-delay", type=float, default=0.05, help="seconds between status changes")
    ap.add_argument("--callback-connections", type=int, default=64, help="status callbacks in flight at most")
    ap.add_argument("--keep", type=int, default=100000, help="messages kept for GET")
    ap.add_argument("--fail", action="append", default=[], metavar="NUMBER[:STATUS[:CODE]]")
    ap.add_argument("--workers", type=int, default=1,
                    help="processes sharing the port (for benchmarks on machines with CPUs to spare)")
    args = ap.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(4096)
    sock.setblocking(False)
    if args.workers > 1:
        return run_workers(args, sock)
    asyncio.run(serve(args, sock))
    return 0


if __name__ == "__main__":
    sys.exit(main())
