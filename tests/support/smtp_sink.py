#!/usr/bin/env python3
"""The LGWAN-side MTA of the relay integration tests: an aiosmtpd server that
records every message it accepts.

    smtp_sink.py --dir DIR [--port N] [--tempfail ADDR]... [--permfail ADDR]...

* Binds 127.0.0.1:N (N = 0: a free port), then prints one line
  ``READY <port>`` on stdout. Any other first line is an error (for example
  ``ERROR aiosmtpd missing ...`` with exit status 3).
* Each accepted message becomes ``DIR/msgs/<name>.eml`` (the data exactly as
  received, dot-unstuffed) and ``DIR/msgs/<name>.json`` (its envelope:
  mail_from, rcpt_tos, mail_options, peer, time). Both are written to
  ``DIR/tmp`` first and renamed; the ``.json`` comes last, so a reader that
  keys on ``.json`` never sees half a message.
* Every RCPT is appended to ``DIR/events.jsonl`` as
  ``{"t": unix_seconds, "event": "rcpt", "addr": ..., "code": ...}`` (and every
  DATA as ``"event": "data"``), so tests can see when and how often the relay
  tried a recipient.
* ``--tempfail ADDR`` answers ``451 4.2.0`` to RCPT TO:<ADDR>, ``--permfail
  ADDR`` answers ``550 5.1.1`` (case-insensitive). Other recipients: 250.
* Stopping it (SIGKILL/SIGTERM) is the "next hop down" of the tests; starting
  it again with ``--port`` on the same port and the same ``--dir`` carries on
  (names stay unique across restarts).
"""

import argparse
import asyncio
import itertools
import json
import os
import sys
import time

try:
    from aiosmtpd.smtp import SMTP
except ImportError:  # the Rust harness turns this line into a clear failure
    print("ERROR aiosmtpd missing: install it with `python3 -m pip install aiosmtpd`", flush=True)
    sys.exit(3)


class Recorder:
    def __init__(self, folder, tempfail, permfail):
        self.folder = folder
        self.msgs = os.path.join(folder, "msgs")
        self.tmp = os.path.join(folder, "tmp")
        os.makedirs(self.msgs, exist_ok=True)
        os.makedirs(self.tmp, exist_ok=True)
        self.events = open(os.path.join(folder, "events.jsonl"), "a", buffering=1)
        self.tempfail = {a.lower() for a in tempfail}
        self.permfail = {a.lower() for a in permfail}
        self.seq = itertools.count()

    def event(self, **fields):
        fields["t"] = time.time()
        self.events.write(json.dumps(fields) + "\n")

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        a = address.lower()
        if a in self.tempfail:
            self.event(event="rcpt", addr=address, code=451)
            return "451 4.2.0 test sink: temporary failure for this recipient"
        if a in self.permfail:
            self.event(event="rcpt", addr=address, code=550)
            return "550 5.1.1 test sink: no such user"
        self.event(event="rcpt", addr=address, code=250)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        name = "%d-%d-%06d" % (time.time_ns(), os.getpid(), next(self.seq))
        data = envelope.original_content or b""
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "peer": str(session.peer),
            "time": time.time(),
            "eml": name + ".eml",
        }
        for suffix, payload in ((".eml", data), (".json", json.dumps(meta).encode())):
            tmp = os.path.join(self.tmp, name + suffix)
            with open(tmp, "wb") as f:
                f.write(payload)
            os.rename(tmp, os.path.join(self.msgs, name + suffix))
        self.event(event="data", name=name, rcpts=envelope.rcpt_tos)
        return "250 2.0.0 OK: recorded by test sink"


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tempfail", action="append", default=[])
    p.add_argument("--permfail", action="append", default=[])
    args = p.parse_args()
    handler = Recorder(args.dir, args.tempfail, args.permfail)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", enable_SMTPUTF8=True, decode_data=False, data_size_limit=64 << 20),
        host="127.0.0.1",
        port=args.port,
    )
    port = server.sockets[0].getsockname()[1]
    print("READY %d" % port, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
