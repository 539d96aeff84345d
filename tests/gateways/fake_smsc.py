#!/usr/bin/python3
"""A stand-in mobile operator for Kannel's bearerbox, for tests and the quickstart.

It speaks two protocols to the same bearerbox:

* Kannel's "fake" SMSC line protocol (smsc = fake). bearerbox listens, this
  program connects as the one client, and every message is one line over TCP:

      SENDER RECEIVER TYPE DATA\\n

  bearerbox -> operator (MT), as Kannel 1.4.5 writes them:
      text DATA          7-bit/default coding, DATA raw (UTF-8 as given to sendsms)
      data DATA          8-bit coding, DATA url-encoded bytes
      ucs-2 DATA         UCS-2 coding, DATA url-encoded UTF-16BE
      udh UDH data DATA  any message with a UDH (concatenated parts among
                         them); both url-encoded; the coding is NOT carried
  operator -> bearerbox (MO):
      text DATA          raw text, coding 0
      data DATA          url-encoded bytes, coding 1
      ucs2 DATA          url-encoded UTF-16BE, coding 2
      udh UDH DATA       both url-encoded
  The fake link carries no delivery reports: bearerbox itself reports "sent"
  (dlr 8) when the line is written and "delivered" (dlr 1) right after. So a
  failed delivery cannot be simulated on this link.

* SMPP 3.4 as an SMSC (smsc = smpp, transceiver or transmitter/receiver binds):
  submit_sm is answered with a message id, and delivery receipts come back as
  deliver_sm (esm_class 0x04, the usual "id:... stat:DELIVRD err:000" text
  plus the receipted_message_id and message_state TLVs). Numbers can be told to
  fail here: rejected at submit (Kannel dlr 16), undeliverable or expired
  (dlr 8, then dlr 2), or buffered first (dlr 4, then 1).

Every MT is appended as one JSON line to --mt-log (default DIR/smsc-mt.jsonl).
Parts of a concatenated message are written as "segment" lines when they
arrive, and as one "message" line with the joined text once all are in; a
message without concatenation is one "message" line.

A small HTTP control port on 127.0.0.1 lets a test act as the operator:
    POST /mo    {"from": "+821012345678", "to": "1234", "text": "안전합니다",
                 "coding": "auto|text|ucs2|data", "udh": "hex", "via": "fake|smpp"}
                ("auto", the default, is what a phone does: GSM 7-bit when every
                character has a GSM form, UCS-2 otherwise), or a batch sent in
                order: {"messages": [{...}, {...}]}
    POST /fail  {"numbers": ["+8210..."], "mode": "rejected|undeliverable|expired|buffered|deliver"}
                ({"clear": true} forgets every rule)
    GET  /fail  the rules
    POST /link  {"link": "fake|smpp|all", "state": "down|up"}   cut or restore a link
    GET  /mt?since=N   MT records with id > N
    GET  /status (or /_stats)   link state and counters

Python 3 standard library only.
"""

import argparse
import asyncio
import datetime
import http.server
import json
import os
import signal
import struct
import sys
import threading
import time
import traceback
import urllib.parse

# GSM 03.38 default alphabet, one septet per octet as SMPP carries it.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXT = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~",
           0x3E: "]", 0x40: "|", 0x65: "€"}
GSM_ENCODE = {c: bytes([i]) for i, c in enumerate(GSM_BASIC) if c != "\x1b"}
GSM_ENCODE.update({c: bytes([0x1B, i]) for i, c in GSM_EXT.items()})
assert len(GSM_BASIC) == 128


def gsm_decode(b):
    out = []
    i = 0
    while i < len(b):
        c = b[i] & 0x7F
        if c == 0x1B and i + 1 < len(b):
            out.append(GSM_EXT.get(b[i + 1] & 0x7F, " "))
            i += 2
            continue
        out.append(GSM_BASIC[c])
        i += 1
    return "".join(out)


def gsm_encode(s):
    """The text in GSM 03.38 septets, or None when a character has no GSM form."""
    try:
        return b"".join(GSM_ENCODE[c] for c in s)
    except KeyError:
        return None


def printable(s):
    return all(c >= " " or c in "\n\r\t" for c in s)


def guess_decode(b):
    """Text of a payload whose coding the wire did not say (UDH parts on the fake link)."""
    try:
        s = b.decode("utf-8")
        if printable(s):
            return s, "8bit"
    except UnicodeDecodeError:
        pass
    if len(b) % 2 == 0:
        try:
            s = b.decode("utf-16-be")
            if printable(s):
                return s, "ucs2"
        except UnicodeDecodeError:
            pass
    return None, "binary"


def parse_concat(udh):
    """(ref, total, seq) from a concatenation information element, or None."""
    if not udh:
        return None
    i = 1
    end = min(len(udh), 1 + udh[0])
    while i + 2 <= end:
        iei, ln = udh[i], udh[i + 1]
        v = udh[i + 2:i + 2 + ln]
        if iei == 0x00 and ln == 3 and len(v) == 3:
            return v[0], v[1], v[2]
        if iei == 0x08 and ln == 4 and len(v) == 4:
            return (v[0] << 8) | v[1], v[2], v[3]
        i += 2 + ln
    return None


def url_bytes(b):
    """The bytes of a url-encoded field of the fake protocol ('+' is a space there)."""
    return urllib.parse.unquote_to_bytes(b.replace(b"+", b" "))


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def norm_number(n):
    """A number as rules compare it: digits only, so +8210... and 8210... match."""
    return "".join(c for c in str(n) if c.isdigit())


class Recorder:
    """The MT log: one JSON line per message (and per segment of a long one)."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()
        self.records = []
        self.seq = 0
        self.pending = {}  # concatenation key -> {seq: record}
        self.counts = {"mt_messages": 0, "mt_segments": 0}

    def _write(self, rec):
        with self.lock:
            self.seq += 1
            rec["id"] = self.seq
            self.records.append(rec)
            self.f.write(json.dumps(rec, ensure_ascii=False) + "\n")
            self.f.flush()

    def mt(self, link, sender, receiver, coding, payload, udh=None, text=None, extra=None):
        rec = {"kind": "message", "link": link, "time": now_iso(), "from": sender, "to": receiver,
               "coding": coding}
        if text is None:
            text, guessed = self._decode(coding, payload)
            if coding == "unknown":
                rec["coding"] = guessed
        rec["text"] = text
        if udh:
            rec["udh"] = udh.hex()
        if coding not in ("text",):
            rec["data_hex"] = payload.hex()
        if extra:
            rec.update(extra)
        concat = parse_concat(udh) if udh else None
        if not concat:
            rec["parts"] = 1
            self.counts["mt_messages"] += 1
            self._write(rec)
            return rec
        ref, total, seqno = concat
        rec["kind"] = "segment"
        rec["concat"] = {"ref": ref, "total": total, "seq": seqno}
        self.counts["mt_segments"] += 1
        self._write(rec)
        key = (link, sender, receiver, ref, total)
        parts = self.pending.setdefault(key, {})
        parts[seqno] = (coding, payload, rec)
        if len(parts) == total and all(i in parts for i in range(1, total + 1)):
            del self.pending[key]
            joined = b"".join(parts[i][1] for i in range(1, total + 1))
            first = parts[1][2]
            codings = {parts[i][0] for i in parts}
            c = codings.pop() if len(codings) == 1 else "mixed"
            if c in ("unknown", "mixed"):
                jtext, c = guess_decode(joined)
            elif c == "gsm":
                jtext = "".join(parts[i][2]["text"] or "" for i in range(1, total + 1))
            else:
                jtext, _ = self._decode(c, joined)
            msg = {"kind": "message", "link": link, "time": now_iso(), "from": sender, "to": receiver,
                   "coding": c, "text": jtext, "parts": total, "concat_ref": ref,
                   "segment_ids": [parts[i][2]["id"] for i in range(1, total + 1)]}
            for k in ("smpp",):
                if k in first:
                    msg[k] = {"message_ids": [parts[i][2][k]["message_id"] for i in range(1, total + 1)],
                              "outcome": first[k].get("outcome")}
            self.counts["mt_messages"] += 1
            self._write(msg)
        return rec

    @staticmethod
    def _decode(coding, payload):
        if coding == "ucs2":
            return payload.decode("utf-16-be", "replace"), coding
        if coding == "gsm":
            return gsm_decode(payload), coding
        if coding in ("text", "latin1"):
            try:
                return payload.decode("utf-8"), coding
            except UnicodeDecodeError:
                return payload.decode("latin-1"), coding
        if coding == "unknown":
            return guess_decode(payload)
        # 8-bit data: text only when it reads as UTF-8
        try:
            s = payload.decode("utf-8")
            return (s if printable(s) else None), coding
        except UnicodeDecodeError:
            return None, coding

    def since(self, n):
        with self.lock:
            return [r for r in self.records if r["id"] > n]


class SmppSession:
    """One SMPP connection from bearerbox."""

    def __init__(self, writer):
        self.writer = writer
        self.bound = None
        self.closing = False
        self.lock = asyncio.Lock()


class Operator:
    def __init__(self, args):
        self.args = args
        self.rec = Recorder(args.mt_log)
        self.loop = None
        self.fake_writer = None
        self.fake_down = False
        self.smpp_down = False
        self.smpp_sessions = set()  # sessions bound as receiver or transceiver
        self.smpp_all = set()
        self.rules = {}  # digits -> mode
        self.msgid = int(time.time() * 1000) % 1000000000
        self.dlr_seq = 1
        self.counts = {"mo_fake": 0, "mo_smpp": 0, "dlr_sent": 0, "submit_rejected": 0,
                       "fake_connects": 0, "smpp_binds": 0, "bad_lines": 0}
        self.stop_event = None

    # ---- fake SMSC link -------------------------------------------------
    async def fake_link(self):
        host, port = "127.0.0.1", self.args.fake_port
        while not self.stop_event.is_set():
            if self.fake_down:
                await asyncio.sleep(0.05)
                continue
            try:
                reader, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            self.fake_writer = writer
            self.counts["fake_connects"] += 1
            try:
                while True:
                    line = await reader.readline()
                    if not line:
                        break
                    self.fake_mt(line.rstrip(b"\r\n"))
            except (ConnectionError, OSError):
                pass
            finally:
                self.fake_writer = None
                writer.close()
            await asyncio.sleep(0.1)

    def fake_mt(self, line):
        parts = line.split(b" ", 3)
        if len(parts) < 4:
            self.counts["bad_lines"] += 1
            return
        sender, receiver, typ, rest = parts[0].decode("utf-8", "replace"), parts[1].decode(
            "utf-8", "replace"), parts[2].decode("ascii", "replace"), parts[3]
        if typ == "text":
            self.rec.mt("fake", sender, receiver, "text", rest)
        elif typ == "data":
            self.rec.mt("fake", sender, receiver, "8bit", url_bytes(rest))
        elif typ in ("ucs-2", "ucs2"):
            self.rec.mt("fake", sender, receiver, "ucs2", url_bytes(rest))
        elif typ == "udh":
            sub = rest.split(b" ", 2)
            udh = url_bytes(sub[0])
            if len(sub) == 3 and sub[1] in (b"data", b"text", b"ucs-2", b"ucs2"):
                payload = sub[2]
                kind = sub[1]
            else:  # older form: "udh UDH DATA"
                payload = b" ".join(sub[1:])
                kind = b"data"
            payload = url_bytes(payload) if kind != b"text" else payload
            coding = {b"ucs-2": "ucs2", b"ucs2": "ucs2", b"text": "text"}.get(kind, "unknown")
            self.rec.mt("fake", sender, receiver, coding, payload, udh=udh)
        else:
            self.counts["bad_lines"] += 1

    async def fake_mo(self, sender, receiver, text, coding, udh):
        w = self.fake_writer
        if w is None:
            raise RuntimeError("the fake SMSC link to bearerbox is not connected")
        if " " in sender or " " in receiver or not sender or not receiver:
            raise ValueError("from and to must be non-empty and without spaces")
        q = lambda b: urllib.parse.quote_from_bytes(b, safe="")
        if udh:
            payload = text.encode("utf-16-be") if coding == "ucs2" else text.encode("utf-8")
            line = "%s %s udh %s %s" % (sender, receiver, q(udh), q(payload))
        elif coding == "text":
            if "\n" in text or "\r" in text:
                raise ValueError("a text MO cannot hold a line break; use coding ucs2")
            line = "%s %s text %s" % (sender, receiver, text)
        elif coding == "data":
            line = "%s %s data %s" % (sender, receiver, q(text.encode("utf-8")))
        else:
            line = "%s %s ucs2 %s" % (sender, receiver, q(text.encode("utf-16-be")))
        w.write(line.encode("utf-8") + b"\n")
        await w.drain()
        self.counts["mo_fake"] += 1
        return line

    # ---- SMPP ------------------------------------------------------------
    async def smpp_session(self, reader, writer):
        sess = SmppSession(writer)
        self.smpp_all.add(sess)
        try:
            while True:
                head = await reader.readexactly(16)
                length, cmd, status, seq = struct.unpack(">IIII", head)
                if length < 16 or length > 65536:
                    break
                body = await reader.readexactly(length - 16)
                await self.smpp_pdu(sess, cmd, status, seq, body)
                if sess.closing:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except Exception:  # noqa: BLE001 - a bad PDU ends this session only
            traceback.print_exc()
        finally:
            self.smpp_sessions.discard(sess)
            self.smpp_all.discard(sess)
            writer.close()

    async def smpp_send(self, sess, cmd, status, seq, body=b""):
        w = sess.writer
        async with sess.lock:
            w.write(struct.pack(">IIII", 16 + len(body), cmd, status, seq) + body)
            await w.drain()

    @staticmethod
    def cstr(body, i):
        j = body.index(b"\0", i)
        return body[i:j], j + 1

    async def smpp_pdu(self, sess, cmd, status, seq, body):
        if cmd in (0x00000009, 0x00000002, 0x00000001):  # bind transceiver/transmitter/receiver
            system_id, i = self.cstr(body, 0)
            password, i = self.cstr(body, i)
            ok = (system_id.decode() == self.args.smpp_user and password.decode() == self.args.smpp_password)
            st = 0 if ok else 0x0E  # ESME_RINVPASWD
            if self.smpp_down:
                st = 0x0D  # ESME_RBINDFAIL
            await self.smpp_send(sess, cmd | 0x80000000, st, seq, b"SafetyFakeSMSC\0")
            if st == 0:
                sess.bound = cmd
                if cmd in (0x00000009, 0x00000001):
                    self.smpp_sessions.add(sess)
                self.counts["smpp_binds"] += 1
            else:
                sess.closing = True
        elif cmd == 0x00000015:  # enquire_link
            await self.smpp_send(sess, 0x80000015, 0, seq)
        elif cmd == 0x00000006:  # unbind
            await self.smpp_send(sess, 0x80000006, 0, seq)
            sess.closing = True
        elif cmd == 0x00000004:  # submit_sm
            await self.smpp_submit(sess, seq, body)
        elif cmd & 0x80000000:  # responses to our deliver_sm, generic_nack
            pass
        else:
            await self.smpp_send(sess, 0x80000000, 0x03, seq)  # generic_nack: invalid command id

    def parse_sm(self, body):
        f = {}
        f["service_type"], i = self.cstr(body, 0)
        f["source_ton"], f["source_npi"] = body[i], body[i + 1]
        f["source"], i = self.cstr(body, i + 2)
        f["dest_ton"], f["dest_npi"] = body[i], body[i + 1]
        f["dest"], i = self.cstr(body, i + 2)
        f["esm_class"], f["protocol_id"], f["priority"] = body[i], body[i + 1], body[i + 2]
        _, i = self.cstr(body, i + 3)  # schedule_delivery_time
        _, i = self.cstr(body, i)  # validity_period
        f["registered_delivery"], _, f["data_coding"], _, sm_len = body[i:i + 5]
        i += 5
        f["short_message"] = body[i:i + sm_len]
        i += sm_len
        tlvs = {}
        while i + 4 <= len(body):
            tag, ln = struct.unpack(">HH", body[i:i + 4])
            tlvs[tag] = body[i + 4:i + 4 + ln]
            i += 4 + ln
        if not f["short_message"] and 0x0424 in tlvs:  # message_payload
            f["short_message"] = tlvs[0x0424]
        f["tlvs"] = tlvs
        return f

    @staticmethod
    def smpp_number(addr, ton):
        a = addr.decode("latin-1")
        return "+" + a if ton == 1 and not a.startswith("+") else a

    async def smpp_submit(self, sess, seq, body):
        try:
            f = self.parse_sm(body)
        except (ValueError, IndexError):
            await self.smpp_send(sess, 0x80000004, 0x01, seq)  # ESME_RINVMSGLEN
            return
        sender = self.smpp_number(f["source"], f["source_ton"])
        receiver = self.smpp_number(f["dest"], f["dest_ton"])
        mode = self.rules.get(norm_number(receiver), "deliver")
        sm = f["short_message"]
        udh = None
        if f["esm_class"] & 0x40 and sm:
            udh, sm = sm[:sm[0] + 1], sm[sm[0] + 1:]
        dc = f["data_coding"]
        coding = {0x08: "ucs2", 0x00: "gsm", 0x01: "gsm", 0x03: "latin1"}.get(dc, "8bit")
        text = None
        if coding == "latin1":
            text = sm.decode("latin-1")
        if mode == "rejected":
            self.counts["submit_rejected"] += 1
            await self.smpp_send(sess, 0x80000004, 0x0B, seq)  # ESME_RINVDSTADR
            self.rec.mt("smpp", sender, receiver, coding, sm, udh=udh, text=text,
                        extra={"smpp": {"message_id": None, "outcome": "rejected", "command_status": 0x0B}})
            return
        self.msgid += 1
        mid = str(self.msgid)
        await self.smpp_send(sess, 0x80000004, 0, seq, mid.encode() + b"\0")
        outcome = {"deliver": "delivered", "undeliverable": "undeliverable", "expired": "expired",
                   "buffered": "delivered"}.get(mode, "delivered")
        self.rec.mt("smpp", sender, receiver, coding, sm, udh=udh, text=text,
                    extra={"smpp": {"message_id": mid, "outcome": outcome,
                                    "registered_delivery": f["registered_delivery"]}})
        if f["registered_delivery"] & 0x03:
            self.loop.create_task(self.smpp_receipts(mid, f, mode, sm))

    async def smpp_receipts(self, mid, f, mode, sm):
        await asyncio.sleep(self.args.dlr_delay)
        submit = time.strftime("%y%m%d%H%M", time.gmtime())
        steps = {"deliver": [("DELIVRD", 2, "000")], "undeliverable": [("UNDELIV", 5, "001")],
                 "expired": [("EXPIRED", 3, "000")],
                 "buffered": [("ENROUTE", 1, "000"), ("DELIVRD", 2, "000")]}[mode if mode in (
                     "deliver", "undeliverable", "expired", "buffered") else "deliver"]
        for n, (stat, state, err) in enumerate(steps):
            if n:
                await asyncio.sleep(self.args.dlr_delay)
            done = time.strftime("%y%m%d%H%M", time.gmtime())
            final = stat in ("DELIVRD", "UNDELIV", "EXPIRED")
            txt = ("id:%s sub:001 dlvrd:%s submit date:%s done date:%s stat:%s err:%s text:%s" % (
                mid, "001" if stat == "DELIVRD" else "000", submit, done, stat, err,
                sm[:20].decode("latin-1", "replace") if f["data_coding"] in (0, 1) else "")).encode("latin-1", "replace")
            tlv = struct.pack(">HH", 0x001E, len(mid) + 1) + mid.encode() + b"\0"
            tlv += struct.pack(">HHB", 0x0427, 1, state)
            if stat in ("UNDELIV", "EXPIRED"):
                tlv += struct.pack(">HHBH", 0x0423, 3, 3, int(err))  # network_error_code: GSM, err
            # a receipt comes from the handset (source) to the original sender (destination)
            body = (b"\0" + bytes([f["dest_ton"], f["dest_npi"]]) + f["dest"] + b"\0" +
                    bytes([f["source_ton"], f["source_npi"]]) + f["source"] + b"\0" +
                    bytes([0x04, 0, 0]) + b"\0\0" + bytes([0, 0, 0, 0, len(txt)]) + txt + tlv)
            if not await self.deliver_sm(body):
                return
            self.counts["dlr_sent"] += 1
            if final:
                return

    async def deliver_sm(self, body):
        for sess in list(self.smpp_sessions):
            self.dlr_seq += 1
            try:
                await self.smpp_send(sess, 0x00000005, 0, self.dlr_seq, body)
                return True
            except (ConnectionError, OSError):
                continue
        return False

    async def smpp_mo(self, sender, receiver, text, coding, udh):
        if not self.smpp_sessions:
            raise RuntimeError("no SMPP receiver is bound")
        esm = 0
        if coding == "text":
            payload = gsm_encode(text)
            dc = 0
            if payload is None:
                raise ValueError("text has characters outside GSM 03.38; use coding ucs2")
        elif coding == "data":
            payload, dc = text.encode("utf-8"), 0x04
        else:
            payload, dc = text.encode("utf-16-be"), 0x08
        if udh:
            payload = udh + payload
            esm = 0x40
        if len(payload) > 254:
            raise ValueError("an SMPP short_message holds at most 254 octets")

        def addr(n):
            return (1, 1, n[1:]) if n.startswith("+") else (0, 1, n)
        st, sn, sa = addr(sender)
        dt, dn, da = addr(receiver)
        body = (b"\0" + bytes([st, sn]) + sa.encode() + b"\0" + bytes([dt, dn]) + da.encode() + b"\0" +
                bytes([esm, 0, 0]) + b"\0\0" + bytes([0, 0, dc, 0, len(payload)]) + payload)
        if not await self.deliver_sm(body):
            raise RuntimeError("no SMPP receiver is bound")
        self.counts["mo_smpp"] += 1
        return "deliver_sm %d octets dcs %d" % (len(payload), dc)

    async def mo_batch(self, items):
        for via, sender, receiver, text, coding, udh in items:
            if via == "smpp":
                await self.smpp_mo(sender, receiver, text, coding, udh)
            else:
                await self.fake_mo(sender, receiver, text, coding, udh)
        return len(items)

    async def set_link(self, link, state):
        down = state == "down"
        if link in ("fake", "all"):
            self.fake_down = down
            if down and self.fake_writer is not None:
                self.fake_writer.close()
        if link in ("smpp", "all"):
            self.smpp_down = down
            if down:
                for sess in list(self.smpp_all):
                    sess.writer.close()

    def status(self):
        c = dict(self.counts)
        c.update(self.rec.counts)
        return {"fake_link": "down" if self.fake_down else (
                    "connected" if self.fake_writer is not None else "connecting"),
                "smpp_link": "down" if self.smpp_down else ("bound" if self.smpp_sessions else "unbound"),
                "rules": len(self.rules), "counts": c, "mt_log": self.args.mt_log, "pid": os.getpid()}

    # ---- main ----------------------------------------------------------
    async def main(self):
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        self.loop.set_exception_handler(
            lambda loop, ctx: print("fake_smsc: %s %r" % (ctx.get("message"), ctx.get("exception")),
                                    file=sys.stderr, flush=True))
        for s in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(s, self.stop_event.set)
        servers = []
        if self.args.smpp_port:
            servers.append(await asyncio.start_server(self.smpp_session, "127.0.0.1", self.args.smpp_port,
                                                      reuse_address=True))
        control = ControlServer(("127.0.0.1", self.args.control_port), self)
        t = threading.Thread(target=control.serve_forever, daemon=True)
        t.start()
        tasks = []
        if self.args.fake_port:
            tasks.append(self.loop.create_task(self.fake_link()))
        print("fake_smsc: ready (control 127.0.0.1:%d, fake link to %s, smpp %s)" % (
            self.args.control_port, self.args.fake_port, self.args.smpp_port), flush=True)
        await self.stop_event.wait()
        control.shutdown()
        for s in servers:
            s.close()
        for tk in tasks:
            tk.cancel()
        if self.fake_writer:
            self.fake_writer.close()
        for sess in list(self.smpp_all):
            sess.writer.close()

    def call(self, coro, timeout=10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SafetyFakeSMSC/1"

    def log_message(self, fmt, *a):  # no message content in logs
        pass

    def reply(self, status, obj):
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body_json(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b"{}"
        return json.loads(raw.decode("utf-8"))

    def do_GET(self):
        op = self.server.op
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path in ("/status", "/_stats", "/healthz"):
            self.reply(200, op.status())
        elif u.path == "/mt":
            self.reply(200, op.rec.since(int(q.get("since", ["0"])[0])))
        elif u.path == "/fail":
            self.reply(200, dict(op.rules))
        else:
            self.reply(404, {"error": "no such path"})

    def do_POST(self):
        op = self.server.op
        path = urllib.parse.urlsplit(self.path).path
        try:
            req = self.body_json()
        except (ValueError, UnicodeDecodeError) as e:
            self.reply(400, {"error": "bad JSON: %s" % e})
            return
        try:
            if path == "/mo":
                if "messages" in req:  # a batch: {"messages": [{...}, ...]}, sent in order
                    items = [mo_request(m) for m in req["messages"]]
                    n = op.call(op.mo_batch(items), timeout=120)
                    self.reply(200, {"ok": True, "sent": n})
                else:
                    via, sender, receiver, text, coding, udh = mo_request(req)
                    send = op.smpp_mo if via == "smpp" else op.fake_mo
                    line = op.call(send(sender, receiver, text, coding, udh))
                    self.reply(200, {"ok": True, "via": via, "coding": coding, "sent": line})
            elif path == "/fail":
                if req.get("clear"):
                    op.rules.clear()
                mode = req.get("mode", "undeliverable")
                if mode not in ("rejected", "undeliverable", "expired", "buffered", "deliver"):
                    raise ValueError("mode is rejected, undeliverable, expired, buffered or deliver")
                for n in req.get("numbers", []):
                    if mode == "deliver":
                        op.rules.pop(norm_number(n), None)
                    else:
                        op.rules[norm_number(n)] = mode
                self.reply(200, dict(op.rules))
            elif path == "/link":
                link, state = req.get("link", "all"), req.get("state")
                if link not in ("fake", "smpp", "all") or state not in ("up", "down"):
                    raise ValueError("link is fake, smpp or all; state is up or down")
                op.call(op.set_link(link, state))
                self.reply(200, op.status())
            else:
                self.reply(404, {"error": "no such path"})
        except (KeyError, ValueError) as e:
            self.reply(400, {"error": "bad request: %s" % e})
        except RuntimeError as e:
            self.reply(503, {"error": str(e)})


def mo_request(req):
    """(via, from, to, text, coding, udh) of one MO asked for over the control port."""
    sender, receiver, text = str(req["from"]), str(req["to"]), str(req.get("text", ""))
    coding = req.get("coding", "auto")
    if coding not in ("auto", "text", "ucs2", "data"):
        raise ValueError("coding is auto, text, ucs2 or data")
    udh = bytes.fromhex(req["udh"]) if req.get("udh") else None
    via = req.get("via", "fake")
    if via not in ("fake", "smpp"):
        raise ValueError("via is fake or smpp")
    if coding == "auto":
        # what a phone does: GSM 7-bit when every character has a GSM form, else UCS-2
        coding = "text" if (gsm_encode(text) is not None and "\n" not in text
                            and "\r" not in text and "@" not in text) else "ucs2"
    return via, sender, receiver, text, coding, udh


class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, op):
        self.op = op
        super().__init__(addr, ControlHandler)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, help="working directory (the MT log goes here)")
    ap.add_argument("--fake-port", type=int, default=0, help="bearerbox's fake SMSC port to connect to")
    ap.add_argument("--smpp-port", type=int, default=0, help="port to serve SMPP on (0: none)")
    ap.add_argument("--smpp-user", default="safety")
    ap.add_argument("--smpp-password-file", help="file holding the SMPP password")
    ap.add_argument("--control-port", type=int, required=True)
    ap.add_argument("--mt-log", help="default DIR/smsc-mt.jsonl")
    ap.add_argument("--dlr-delay", type=float, default=0.05, help="seconds before a delivery receipt")
    ap.add_argument("--fail", action="append", default=[], metavar="NUMBER[:MODE]",
                    help="numbers that fail on the SMPP link (mode: undeliverable, rejected, expired, buffered)")
    args = ap.parse_args()
    args.mt_log = args.mt_log or os.path.join(args.dir, "smsc-mt.jsonl")
    args.smpp_password = ""
    if args.smpp_password_file:
        with open(args.smpp_password_file) as f:
            args.smpp_password = f.read().strip()
    op = Operator(args)
    for spec in args.fail:
        n, _, mode = spec.partition(":")
        op.rules[norm_number(n)] = mode or "undeliverable"
    asyncio.run(op.main())


if __name__ == "__main__":
    sys.exit(main())
