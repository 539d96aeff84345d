#!/usr/bin/python3
"""Throughput of each gateway stand-in, alone, on this machine.

    bench_gateways.py [-n 5000] [-c 32] [--keep]

Starts its own gateways (deploy/gateways.sh) in a temporary directory with
its own hook server, then measures, one after the other:

  kannel_mt         sendsms -> bearerbox -> stand-in operator (fake link), no
                    delivery report: until the operator has recorded every message
  kannel_mt_dlr     the same with dlr-mask=3: until every final report reached
                    the dlr-url
  kannel_mt_smpp    sendsms over the SMPP link, dlr-mask=3
  kannel_mo         MO lines typed at the operator -> bearerbox -> smsbox ->
                    the get-url: until the hook has them all
  smtp              messages through the SMTP sink, c connections in parallel
  twilio            tests/gateways/load_twilio.py against the Twilio stand-in,
                    with and without status callbacks

and prints one JSON object per measure. Python 3 standard library only.
"""

import argparse
import asyncio
import json
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from email.message import EmailMessage

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
GATEWAYS = os.path.join(ROOT, "deploy", "gateways.sh")
TEXT = "[대사관] 안전하신가요? 답장: 1 안전 2 도움"


class Hook(asyncio.Protocol):
    """Counts requests by path prefix; answers 200 with an empty body."""
    counts = {}

    def connection_made(self, t):
        self.t = t
        self.buf = b""

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].split(b"\r\n")
            n = 0
            for line in head[1:]:
                if line[:15].lower() == b"content-length:":
                    n = int(line[15:])
            if len(self.buf) < end + 4 + n:
                return
            self.buf = self.buf[end + 4 + n:]
            path = head[0].split(b" ")[1].split(b"?")[0].decode()
            Hook.counts[path] = Hook.counts.get(path, 0) + 1
            self.t.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


async def get_many(url_of, n, c):
    """n GET requests over c kept-alive connections; reconnects when told to close."""
    u = urllib.parse.urlsplit(url_of(0))
    todo = list(range(n))
    status = {}

    async def worker():
        reader = writer = None
        while todo:
            i = todo.pop()
            if writer is None:
                reader, writer = await asyncio.open_connection(u.hostname, u.port)
            p = urllib.parse.urlsplit(url_of(i))
            writer.write(("GET %s?%s HTTP/1.1\r\nHost: %s\r\n\r\n" % (p.path, p.query, p.netloc)).encode())
            line = await reader.readline()
            code = int(line.split()[1])
            length, close = None, False
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                if k.lower() == "content-length":
                    length = int(v)
                elif k.lower() == "connection" and v.strip().lower() == "close":
                    close = True
            if length is None:
                await reader.read()
                close = True
            else:
                await reader.readexactly(length)
            status[code] = status.get(code, 0) + 1
            if close:
                writer.close()
                writer = None
        if writer:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(c)))
    return status


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            k, sep, v = line.strip().partition("=")
            if sep and not k.startswith("#"):
                env[k] = v.strip("'")
    return env


def operator_count(env):
    with urllib.request.urlopen(env["SAFETY_SMSC_CONTROL_URL"] + "/status") as r:
        return json.load(r)["counts"]["mt_messages"]


async def wait_until(cond, timeout=300):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("benchmark did not finish")
        await asyncio.sleep(0.02)


async def bench_mt(env, n, c, label, extra):
    base = operator_count(env)
    sendsms = env["SAFETY_KANNEL_SENDSMS_URL"]
    q0 = {"username": env["SAFETY_KANNEL_USER"], "password": env["SAFETY_KANNEL_PASSWORD"],
          "from": env["SAFETY_KANNEL_FROM"], "text": TEXT, "coding": "2", "charset": "UTF-8"}

    def url(i):
        q = dict(q0, to="+8210%08d" % i, **extra)
        if "dlr-url" in q:
            q["dlr-url"] = q["dlr-url"] % label
        return sendsms + "?" + urllib.parse.urlencode(q)
    dlr_path = "/dlr/%s" % label
    t0 = time.monotonic()
    status = await get_many(url, n, c)
    t1 = time.monotonic()
    await wait_until(lambda: operator_count(env) - base >= n)
    t2 = time.monotonic()
    out = {"measure": label, "messages": n, "concurrency": c, "sendsms_seconds": round(t1 - t0, 3),
           "sendsms_per_second": round(n / (t1 - t0)), "answers": status,
           "at_operator_after_s": round(t2 - t0, 3), "per_second": round(n / (t2 - t0))}
    if "dlr-url" in extra:
        await wait_until(lambda: Hook.counts.get(dlr_path, 0) >= n)  # dlr-mask=3: the final report only
        t3 = time.monotonic()
        out["reports"] = Hook.counts.get(dlr_path, 0)
        out["all_reports_after_s"] = round(t3 - t0, 3)
        out["per_second"] = round(n / (t3 - t0))
    return out


async def bench_mo(env, n, via):
    path = "/hooks/sms/kannel"
    base = Hook.counts.get(path, 0)
    msgs = [{"from": "+8210%08d" % i, "to": "1350", "text": "안전합니다 %d" % i, "via": via} for i in range(n)]
    body = json.dumps({"messages": msgs}).encode()
    t0 = time.monotonic()
    loop = asyncio.get_running_loop()
    req = urllib.request.Request(env["SAFETY_SMSC_CONTROL_URL"] + "/mo", data=body,
                                 headers={"Content-Type": "application/json"})
    await loop.run_in_executor(None, lambda: urllib.request.urlopen(req, timeout=300).read())
    t1 = time.monotonic()
    await wait_until(lambda: Hook.counts.get(path, 0) - base >= n)
    t2 = time.monotonic()
    return {"measure": "kannel_mo_" + via, "messages": n, "injected_s": round(t1 - t0, 3),
            "at_hook_after_s": round(t2 - t0, 3), "per_second": round(n / (t2 - t0))}


def smtp_client(host, port, k, count):
    """One SMTP session sending count messages (the message is built once)."""
    m = EmailMessage()
    m["From"] = "embassy@example.org"
    m["To"] = "national@example.com"
    m["Subject"] = "안전 확인"
    m.set_content(TEXT + "\nhttps://safety.example/r/abcdefghijklmnopqrstuv")
    data = m.as_bytes()
    with smtplib.SMTP(host, port, timeout=30) as s:
        for i in range(count):
            s.sendmail("embassy@example.org", ["n%d-%d@example.com" % (k, i)], data)


def bench_smtp(env, n, c):
    """c client processes, one session each, so the client is not the limit."""
    t0 = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "-c", "import sys; sys.path.insert(0, %r); import bench_gateways as b; "
                               "b.smtp_client(%r, %d, %d, %d)" % (HERE, env["SAFETY_SMTP_HOST"],
                                                                  int(env["SAFETY_SMTP_PORT"]), k, n // c)])
             for k in range(c)]
    for p in procs:
        p.wait()
    t1 = time.monotonic()
    return {"measure": "smtp", "messages": n // c * c, "connections": c, "seconds": round(t1 - t0, 3),
            "per_second": round(n // c * c / (t1 - t0))}


async def main_async(args, env):
    results = []
    results.append(await bench_mt(env, args.n, args.c, "kannel_mt", {}))
    dlr = {"dlr-mask": "3", "dlr-url": "http://127.0.0.1:%d/dlr/%%s?d=%%%%d" % args.hook_port}
    results.append(await bench_mt(env, args.n, args.c, "kannel_mt_dlr", dlr))
    results.append(await bench_mt(env, args.n, args.c, "kannel_mt_smpp_dlr", dict(dlr, smsc="smpp")))
    results.append(await bench_mo(env, args.n, "fake"))
    results.append(await bench_mo(env, args.n, "smpp"))
    return results


def main():
    ap = argparse.ArgumentParser(description="throughput of the gateway stand-ins")
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("-c", type=int, default=32)
    ap.add_argument("--keep", action="store_true", help="leave the gateways' directory in place")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="safety-gw-bench-", dir=os.environ.get("SAFETY_TEST_TMP"))
    gwdir = os.path.join(tmp, "gw")

    async def run_all():
        server = await asyncio.get_running_loop().create_server(Hook, "127.0.0.1", 0, backlog=4096)
        args.hook_port = server.sockets[0].getsockname()[1]
        r = await asyncio.get_running_loop().run_in_executor(None, lambda: subprocess.run(
            [GATEWAYS, "start", gwdir, "--hook-base", "http://127.0.0.1:%d" % args.hook_port,
             "--exit-with", str(os.getpid())], capture_output=True, text=True))
        if r.returncode != 0:
            raise SystemExit(r.stderr)
        env = read_env(r.stdout.strip().splitlines()[-1])
        out = await main_async(args, env)
        out.append(await asyncio.get_running_loop().run_in_executor(None, bench_smtp, env, args.n, 8))
        return env, out

    try:
        env, results = asyncio.run(run_all())
        for r in results:
            print(json.dumps(r, ensure_ascii=False), flush=True)
        envfile = os.path.join(gwdir, "gateways.env")
        for extra in (["--no-callback"], []):
            r = subprocess.run([sys.executable, os.path.join(HERE, "load_twilio.py"), "--env", envfile,
                                "-n", str(max(args.n, 20000)), "-c", str(args.c)] + extra,
                               capture_output=True, text=True)
            d = json.loads(r.stdout)
            d["measure"] = "twilio" + ("_no_callback" if extra else "_with_callbacks")
            print(json.dumps(d), flush=True)
    finally:
        subprocess.run([GATEWAYS, "stop", gwdir], capture_output=True)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
