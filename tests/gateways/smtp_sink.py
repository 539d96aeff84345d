#!/usr/bin/python3
"""A local SMTP server that keeps every message it receives, for tests and the
quickstart. It is Debian's aiosmtpd (python3-aiosmtpd, so run it with the
system interpreter /usr/bin/python3) with a handler of ours.

    smtp_sink.py --dir DIR --port PORT [--tls] [--require-tls] [--auth-file FILE]

Each message is written to DIR/mail/NNNNNN.eml exactly as received, and one
JSON line per message is appended to DIR/mail/index.jsonl: id, file, time,
envelope sender and recipients, decoded Subject/From/To/Message-ID, size,
whether the session was under STARTTLS, the authenticated user (if any), and
whether the client used SMTPUTF8.

--tls offers STARTTLS with a self-made certificate (DIR/smtp-tls/cert.pem and
key.pem, made with openssl when missing; the certificate is its own CA and
names localhost and 127.0.0.1), so one server takes both plain and STARTTLS
sessions. --require-tls refuses mail until STARTTLS. --auth-file holds
"user:password": AUTH PLAIN/LOGIN is then offered (over TLS when --tls is
given, in the clear otherwise, loopback only) but not required; a wrong
password is refused with 535.

Two kinds of recipient are refused at RCPT, as real servers do: any address
at relay-denied.example with sendmail's two-line "550-5.7.1 ... Relaying
denied" (the server will not relay for us: the route's fault, whoever the
recipient), and any local part starting with no-such-user with Postfix's
"550 5.1.1 ... User unknown in relay recipient table", the local part
echoed without its domain (that address is wrong for good); and for any
address at sender-refused.example, Postfix's "550 5.1.8 ... Sender address
rejected" (our sender is refused: the route's fault again).
"""

import argparse
import datetime
import email.errors
import email.header
import email.parser
import email.policy
import json
import os
import signal
import ssl
import subprocess
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def decode_header(v):
    if v is None:
        return None
    try:
        return str(email.header.make_header(email.header.decode_header(v)))
    except (UnicodeDecodeError, LookupError, email.errors.HeaderParseError):
        return v


class Sink:
    def __init__(self, directory):
        self.maildir = os.path.join(directory, "mail")
        os.makedirs(self.maildir, exist_ok=True)
        self.index_path = os.path.join(self.maildir, "index.jsonl")
        self.lock = threading.Lock()
        existing = [f for f in os.listdir(self.maildir) if f.endswith(".eml")]
        self.seq = max([int(f[:-4]) for f in existing if f[:-4].isdigit()] or [0])
        self.index = open(self.index_path, "a", encoding="utf-8")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local, _, domain = address.rpartition("@")
        if domain.lower() == "relay-denied.example":
            return "550-5.7.1 <%s>... Relaying denied\r\n550 5.7.1 Contact your postmaster for help" % address
        if domain.lower() == "sender-refused.example":
            return "550 5.1.8 <%s>: Sender address rejected: Domain not found" % envelope.mail_from
        if local.lower().startswith("no-such-user"):
            return "550 5.1.1 %s: Recipient address rejected: User unknown in relay recipient table" % local
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        with self.lock:
            self.seq += 1
            n = self.seq
            name = "%06d.eml" % n
            path = os.path.join(self.maildir, name)
            tmp = path + ".tmp"
            with open(tmp, "wb") as f:
                f.write(data)
            os.rename(tmp, path)
            headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(data)
            auth = session.auth_data
            rec = {
                "id": n,
                "file": name,
                "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "subject": decode_header(headers.get("Subject")),
                "from": decode_header(headers.get("From")),
                "to": decode_header(headers.get("To")),
                "message_id": headers.get("Message-ID"),
                "content_type": headers.get_content_type(),
                "size": len(data),
                "tls": session.ssl is not None,
                "auth": auth.login.decode("utf-8", "replace") if isinstance(auth, LoginPassword) else None,
                "smtputf8": "SMTPUTF8" in (envelope.mail_options or []),
                "peer": session.peer[0] if session.peer else None,
            }
            self.index.write(json.dumps(rec, ensure_ascii=False) + "\n")
            self.index.flush()
        return "250 OK queued as %s" % name


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode("utf-8")
        self.password = password.encode("utf-8")

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login == self.user and auth_data.password == self.password
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def make_certificate(directory):
    d = os.path.join(directory, "smtp-tls")
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    if not (os.path.exists(cert) and os.path.exists(key)):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "30", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", key + ".tmp", "-out", cert + ".tmp"],
            check=True, capture_output=True)
        os.chmod(key + ".tmp", 0o600)
        os.rename(key + ".tmp", key)
        os.rename(cert + ".tmp", cert)
    return cert, key


def main():
    ap = argparse.ArgumentParser(description="local SMTP server that stores what it receives")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls", action="store_true", help="offer STARTTLS with a self-made certificate")
    ap.add_argument("--require-tls", action="store_true", help="refuse mail until STARTTLS")
    ap.add_argument("--auth-file", help='file with "user:password"; AUTH offered, not required')
    ap.add_argument("--max-size", type=int, default=10 * 1024 * 1024)
    args = ap.parse_args()

    kw = {"data_size_limit": args.max_size, "enable_SMTPUTF8": True, "decode_data": False,
          "ident": "Safety SMTP sink"}
    if args.tls or args.require_tls:
        cert, key = make_certificate(args.dir)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        kw["tls_context"] = ctx
        kw["require_starttls"] = args.require_tls
    if args.auth_file:
        with open(args.auth_file) as f:
            user, _, password = f.read().strip().partition(":")
        kw["authenticator"] = Authenticator(user, password)
        kw["auth_required"] = False
        kw["auth_require_tls"] = bool(args.tls or args.require_tls)

    sink = Sink(args.dir)
    controller = Controller(sink, hostname="127.0.0.1", port=args.port, server_hostname="localhost",
                            ready_timeout=10, **kw)
    controller.start()
    print("smtp_sink: ready on 127.0.0.1:%d%s" % (args.port, " (STARTTLS)" if "tls_context" in kw else ""),
          flush=True)
    done = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: done.set())
    done.wait()
    controller.stop()


if __name__ == "__main__":
    sys.exit(main())
