#!/usr/bin/python3
"""Measures the Twilio stand-in alone: N message creations over C kept-alive
connections, with a StatusCallback to a local sink that counts the callbacks.

    load_twilio.py --env DIR/gateways.env [-n 20000] [-c 32] [--no-callback]

Prints one JSON line: requests, seconds, requests per second, non-201
answers, and how long until every status callback (two per message) arrived.
Python 3 standard library only.
"""

import argparse
import asyncio
import base64
import json
import shlex
import socket
import sys
import time
import urllib.parse


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = shlex.split(v)[0] if v else ""
    return env


class Sink(asyncio.Protocol):
    """Counts status callbacks; answers 204 to each (several per read when pipelined)."""
    count = 0

    def connection_made(self, transport):
        self.t = transport
        self.buf = b""

    def data_received(self, data):
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            n = 0
            for line in self.buf[:end].split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    n = int(line[15:])
            if len(self.buf) < end + 4 + n:
                return
            self.buf = self.buf[end + 4 + n:]
            Sink.count += 1
            self.t.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


async def worker(host, port, reqs, stats):
    reader, writer = await asyncio.open_connection(host, port)
    while reqs:
        req = reqs.pop()
        writer.write(req)
        status = int((await reader.readline()).split()[1])
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        if status != 201:
            stats["errors"] += 1
        stats["done"] += 1
    writer.close()


async def run(args, env):
    u = urllib.parse.urlsplit(env["SAFETY_TWILIO_URL"])
    sid, token = env["SAFETY_TWILIO_ACCOUNT_SID"], env["SAFETY_TWILIO_AUTH_TOKEN"]
    auth = base64.b64encode(("%s:%s" % (sid, token)).encode()).decode()
    path = "/2010-04-01/Accounts/%s/Messages.json" % sid
    cb = "" if args.no_callback else "http://127.0.0.1:%d/status" % args.sink_port
    reqs = []
    for i in range(args.n):
        form = {"To": "+8210%08d" % (i % 100000000), "From": env.get("SAFETY_TWILIO_FROM", "+15005550006"),
                "Body": "[Safety] 안전하신가요? 답장: 1 안전 / 2 도움 https://safety.example/r/%08d" % i}
        if cb:
            form["StatusCallback"] = cb
        body = urllib.parse.urlencode(form).encode()
        reqs.append(("POST %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Basic %s\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n"
                     % (path, u.hostname, u.port, auth, len(body))).encode() + body)
    if cb:
        await asyncio.get_running_loop().create_server(Sink, "127.0.0.1", args.sink_port, backlog=4096)
    stats = {"done": 0, "errors": 0}
    t0 = time.monotonic()
    await asyncio.gather(*(worker(u.hostname, u.port, reqs, stats) for _ in range(args.c)))
    t1 = time.monotonic()
    out = {"requests": stats["done"], "connections": args.c, "seconds": round(t1 - t0, 3),
           "per_second": round(stats["done"] / (t1 - t0)), "non_201": stats["errors"]}
    if cb:
        want = 2 * stats["done"]
        deadline = time.monotonic() + 120
        while Sink.count < want and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        t2 = time.monotonic()
        out["callbacks"] = Sink.count
        out["callbacks_done_after_s"] = round(t2 - t0, 3)
        out["callbacks_per_second"] = round(Sink.count / (t2 - t0))
    return out


def main():
    ap = argparse.ArgumentParser(description="load test of the Twilio stand-in")
    ap.add_argument("--env", required=True, help="gateways.env written by deploy/gateways.sh")
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("-c", type=int, default=32)
    ap.add_argument("--no-callback", action="store_true")
    ap.add_argument("--sink-port", type=int, default=0)
    args = ap.parse_args()
    env = read_env(args.env)
    if not args.no_callback and not args.sink_port:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            args.sink_port = s.getsockname()[1]
    print(json.dumps(asyncio.run(run(args, env))))


if __name__ == "__main__":
    sys.exit(main())
