#!/usr/bin/env python3
"""Writes candidate seed inputs for every fuzz target (used by seed.sh).

    seed_inputs.py OUT_DIR CORPUS_DIR...

OUT_DIR/<target>/<sha1> for target in sanitize, html_to_text, charset_decode,
headers, smtp_session. Inputs come from the corpora's messages (split as the
tests split them), parsed with Python's email package:

* sanitize: whole messages up to 8 KiB;
* html_to_text: text/html parts, decoded to UTF-8, up to 32 KiB;
* charset_decode: transfer-decoded bodies of text/* parts (raw charset
  bytes) up to 8 KiB, and raw 8-bit header values;
* headers: raw (folded) values of address, Subject and MIME header fields;
* smtp_session: SMTP client transcripts (config byte, split seed, then
  EHLO/MAIL/RCPT/DATA with the dot-stuffed message, or BDAT) for messages up
  to 4 KiB, plus hand-written smuggling attempts.
"""

import email
import email.policy
import hashlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "support_differential"))
import corpus_messages  # noqa: E402

TARGETS = ("sanitize", "html_to_text", "charset_decode", "headers", "smtp_session")
HEADER_FIELDS = {"from", "to", "cc", "reply-to", "subject", "content-type", "content-disposition", "sender"}


def write(out, target, data):
    if not data:
        return
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(out, target, name), "wb") as fh:
        fh.write(data)


def raw_header_values(msg_bytes):
    """Raw (folded) values of the top-level header section's fields."""
    end = msg_bytes.find(b"\r\n\r\n")
    if end < 0:
        end = msg_bytes.find(b"\n\n")
    head = msg_bytes[: end if end >= 0 else len(msg_bytes)]
    fields, current = [], None
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and current is not None:
            current[1] += b"\n" + line
        elif b":" in line:
            name, value = line.split(b":", 1)
            current = [name.strip().lower(), value]
            fields.append(current)
    return [(n.decode("latin-1"), v) for n, v in fields]


def smtp_transcript(message, cfg, seed, bdat=False):
    head = bytes([cfg, seed]) + b"EHLO client.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@b>\r\n"
    body = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    if bdat:
        return head + b"BDAT %d LAST\r\n" % len(body) + body + b"QUIT\r\n"
    lines = body.split(b"\r\n")[:-1]
    stuffed = b"".join((b"." if line.startswith(b".") else b"") + line + b"\r\n" for line in lines)
    return head + b"DATA\r\n" + stuffed + b".\r\nQUIT\r\n"


SMUGGLING = [
    b"DATA\r\nhi\n.\nMAIL FROM:<evil@b>\r\n.\r\n",
    b"DATA\r\nhi\r\n.\nRCPT TO:<y@b>\r\n.\r\n",
    b"DATA\r\nhi\n.\r\nDATA\r\n.\r\n",
    b"DATA\r\nhi\r.\r\nQUIT\r\n.\r\n",
    b"DATA\r\nhi\r\n.\r\r\nNOOP\r\n.\r\n",
    b"DATA\r\nhi\r\n..\r\n.\r\n",
    b"DATA\r\n.\r\nDATA\r\n.\r\n",
    b"BDAT 4\r\nhi\r\nBDAT 3 LAST\r\n.\r\n",
    b"BDAT 2\r\nhi\r\nBDAT 2 LAST\r\n\r\n",
    b"BDAT 3 LAST\r\nhi\rDATA\r\n",
    b"DATA\r\nhi\x00\r\n.\r\n",
]


def main():
    out = sys.argv[1]
    for t in TARGETS:
        os.makedirs(os.path.join(out, t), exist_ok=True)
    seen_headers = set()
    n = 0
    for root in sys.argv[2:]:
        kind = corpus_messages.kind_of(root)
        for _name, data in corpus_messages.messages(root, kind):
            n += 1
            if len(data) <= 8 * 1024:
                write(out, "sanitize", data)
            if len(data) <= 4 * 1024:
                write(out, "smtp_session", smtp_transcript(data, 0x00, n % 256))
                if n % 4 == 0:
                    write(out, "smtp_session", smtp_transcript(data, 0x05, n % 256, bdat=True))
            for fname, value in raw_header_values(data):
                if (fname in HEADER_FIELDS or any(b >= 0x80 for b in value)) and len(value) <= 4096:
                    v = value.strip(b" \t\r")
                    if v not in seen_headers:
                        seen_headers.add(v)
                        write(out, "headers", v)
                        if any(b >= 0x80 or b == 0x1B for b in v):
                            write(out, "charset_decode", v)
            try:
                msg = email.message_from_bytes(data, policy=email.policy.default)
                parts = list(msg.walk())
            except Exception:
                continue
            for part in parts:
                try:
                    if part.is_multipart() or part.get_content_maintype() != "text":
                        continue
                    payload = part.get_payload(decode=True) or b""
                except Exception:
                    continue
                if len(payload) <= 8 * 1024:
                    write(out, "charset_decode", payload)
                if part.get_content_subtype() == "html":
                    try:
                        html = part.get_content()
                    except Exception:
                        html = payload.decode("utf-8", "replace")
                    html = html.encode("utf-8", "replace")
                    if len(html) <= 32 * 1024:
                        write(out, "html_to_text", html)
    for i, s in enumerate(SMUGGLING):
        write(out, "smtp_session", bytes([0x00, i]) + b"EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@b>\r\n" + s + b"QUIT\r\n")
        write(out, "smtp_session", bytes([0x05, i]) + b"EHLO a\r\nSTARTTLS\r\nEHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@b>\r\n" + s)


if __name__ == "__main__":
    main()
