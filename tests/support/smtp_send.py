#!/usr/bin/env python3
"""The Internet-side sender of the relay integration tests (Python smtplib).

Two modes; both print one JSON object per line on stdout, flushed at once,
so the Rust test can follow along.

``smtp_send.py jobs JOBS.json``
    JOBS.json: ``{"host": "127.0.0.1", "port": N, "starttls": false,
    "helo": "sender.test", "messages": [{"id": "...", "file": "path" |
    "hex": "...", "from": "a@b", "to": ["c@d"], "normalize": true,
    "mail_options": [...]}]}``. The messages go over one connection (a new
    one after an error or a 421). ``normalize`` (default true) turns every
    bare CR or bare LF into CRLF, as any MTA puts a stored message on the
    wire; ``BODY=8BITMIME`` is added when the data has 8-bit bytes and no
    ``mail_options`` were given. Output per message:
    ``{"id", "mail": [code, text], "rcpt": [[code, text], ...],
    "data": [code, text] | null, "error": null | "...", "tls": null | "TLSv1.3"}``.

``smtp_send.py stream --port N --count C --prefix P [--conns K] [--to ADDR] [--deadline S]``
    C small messages, each with the unique token ``<P>-<000001>`` in its
    Subject and body, over K parallel connections. While the relay is down
    the sender reconnects (every 20 ms) and carries on. Each token is sent
    at most once (never retried, so a duplicate at the sink is the relay's
    doing). Output per token: ``{"token", "code", "text"}`` where code is the
    reply to the end of DATA (250 = acknowledged), or ``{"token", "code": 0,
    "error"}`` when the connection broke before the reply. Ends with
    ``{"done": true, "sent": ...}``.

The EHLO reply and STARTTLS are handled by smtplib; ``starttls`` uses an
unverified context (the tests' certificate is self-signed).
"""

import json
import re
import smtplib
import ssl
import sys
import threading
import time

_lock = threading.Lock()


def emit(obj):
    with _lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def normalize(data):
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def unverified_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def text(resp):
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


def connect(host, port, helo, starttls, timeout=30):
    s = smtplib.SMTP(host, port, local_hostname=helo, timeout=timeout)
    s.ehlo(helo)
    tls = None
    if starttls:
        if not s.has_extn("starttls"):
            raise RuntimeError("server does not advertise STARTTLS")
        s.starttls(context=unverified_context())
        s.ehlo(helo)
        tls = s.sock.version()
    return s, tls


def one_transaction(s, sender, rcpts, data, options):
    """MAIL, RCPT..., DATA; returns (mail, [rcpt], data|None)."""
    code, resp = s.mail(sender, options)
    mail = [code, text(resp)]
    if code != 250:
        s.rset()
        return mail, [], None
    rcpt = []
    for r in rcpts:
        c, m = s.rcpt(r)
        rcpt.append([c, text(m)])
    if not any(c in (250, 251) for c, _ in rcpt):
        s.rset()
        return mail, rcpt, None
    code, resp = s.data(data)
    return mail, rcpt, [code, text(resp)]


def run_jobs(path):
    with open(path, "rb") as f:
        jobs = json.load(f)
    host = jobs.get("host", "127.0.0.1")
    port = int(jobs["port"])
    helo = jobs.get("helo", "sender.test")
    starttls = bool(jobs.get("starttls", False))
    s = None
    tls = None
    for m in jobs["messages"]:
        if "file" in m:
            with open(m["file"], "rb") as f:
                data = f.read()
        else:
            data = bytes.fromhex(m.get("hex", ""))
        if m.get("normalize", True):
            data = normalize(data)
        options = m.get("mail_options")
        if options is None:
            options = ["BODY=8BITMIME"] if any(b > 127 for b in data) else []
        out = {"id": m["id"], "mail": None, "rcpt": [], "data": None, "error": None, "tls": None}
        try:
            if s is None:
                s, tls = connect(host, port, helo, starttls)
            out["tls"] = tls
            out["mail"], out["rcpt"], out["data"] = one_transaction(s, m["from"], m["to"], data, options)
            if out["data"] is not None and out["data"][0] == 421:
                s.close()
                s = None
        except (smtplib.SMTPException, OSError, RuntimeError) as e:
            out["error"] = "%s: %s" % (type(e).__name__, e)
            # SMTPResponseException carries the code (e.g. 421 on connect).
            if isinstance(e, smtplib.SMTPResponseException):
                out["data"] = [e.smtp_code, text(e.smtp_error)]
            try:
                if s is not None:
                    s.close()
            except Exception:
                pass
            s = None
        emit(out)
    if s is not None:
        try:
            s.quit()
        except Exception:
            pass


def run_stream(argv):
    import argparse

    p = argparse.ArgumentParser(prog="smtp_send.py stream")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--conns", type=int, default=2)
    p.add_argument("--from", dest="sender", default="crash@example.com")
    p.add_argument("--to", default="crash@example.lg.jp")
    p.add_argument("--deadline", type=float, default=150.0)
    a = p.parse_args(argv)
    end = time.time() + a.deadline
    counter = iter(range(1, a.count + 1))
    sent = [0]

    def next_token():
        with _lock:
            n = next(counter, None)
        return None if n is None else "%s-%06d" % (a.prefix, n)

    def worker():
        s = None
        while time.time() < end:
            if s is None:
                try:
                    s, _ = connect(a.host, a.port, "stream.test", False, timeout=10)
                except (smtplib.SMTPException, OSError):
                    s = None
                    time.sleep(0.02)
                    continue
            token = next_token()
            if token is None:
                break
            data = (
                "From: Crash Test <%s>\r\nTo: <%s>\r\nSubject: crash token %s\r\n"
                "Message-ID: <%s@stream.test>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0900\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
                "token %s\r\nA small message of the crash test.\r\n" % (a.sender, a.to, token, token, token)
            ).encode()
            try:
                mail, rcpt, d = one_transaction(s, a.sender, [a.to], data, [])
                if d is None:
                    code, msg = (mail if mail[0] != 250 else (rcpt[0] if rcpt else [0, "no rcpt"]))
                    emit({"token": token, "code": code, "text": msg, "stage": "envelope"})
                    if code == 421:
                        s.close()
                        s = None
                else:
                    emit({"token": token, "code": d[0], "text": d[1]})
                    if d[0] == 421:
                        s.close()
                        s = None
                with _lock:
                    sent[0] += 1
            except smtplib.SMTPResponseException as e:
                # A refused DATA command (e.g. 554): a reply, not a broken link.
                emit({"token": token, "code": e.smtp_code, "text": text(e.smtp_error), "stage": "data-command"})
                with _lock:
                    sent[0] += 1
                try:
                    s.rset()
                except (smtplib.SMTPException, OSError):
                    s = None
            except (smtplib.SMTPException, OSError) as e:
                emit({"token": token, "code": 0, "error": "%s: %s" % (type(e).__name__, e)})
                with _lock:
                    sent[0] += 1
                try:
                    s.close()
                except Exception:
                    pass
                s = None
        if s is not None:
            try:
                s.quit()
            except Exception:
                pass

    threads = [threading.Thread(target=worker) for _ in range(max(1, a.conns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    emit({"done": True, "sent": sent[0]})


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "jobs":
        run_jobs(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "stream":
        run_stream(sys.argv[2:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
