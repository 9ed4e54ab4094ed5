#!/usr/bin/env python3
"""Differential check of mugaika's MIME reading against Python's email package.

    differential.py --bin target/release/mugaika [--explained FILE] [-j N]
                    [--structural-only] [-v] DIR...

For every message below the directories (split like tests/common/mod.rs:
corpus/ = *.eml, corpus-real/ = every message file with mbox files cut at
their postmarks, any other directory = every file is one message), it runs
`mugaika sanitize --report R` and compares the report's parts[] (path,
declared_type, filename, size and sha256 of the transfer-decoded body) with
the tree Python's `email` package (policy.default) builds from the same bytes.

Paths are mugaika's: "1" is the top-level entity, "1.2" its second child,
"1.2.1" the message inside a message/rfc822 at "1.2". Python's tree is walked
the same way: multipart children are numbered, a message/rfc822 (global,
news) part has one child, the message inside. Two readings of Python's are
adjusted to what RFCs and mail clients do: other message/* types
(delivery-status, feedback-report, partial, disposition-notification) are
leaves, not parsed messages, and a multipart Python could not split is a
text/plain leaf. A message with CR but no LF is read with CRLF line ends (as
mail clients and the pipeline read it). Bodies are compared up to the line
end at their very end.

Disagreements, each with an id "<kind>@<path>":

structural (content that could carry something):
  missing-ours@P    Python sees a leaf at P that mugaika does not list
  missing-python@P  mugaika lists a leaf at P that Python does not see
  shape@P           a container for one, a leaf for the other
  body@P            both see a leaf at P, with different transfer-decoded bytes
                    (another boundary, another transfer encoding)
other:
  type@P            different declared Content-Type (lower-case type/subtype)
  filename@P        different decoded filename
  text@P            (delivered only) a line of the text Python decodes from
                    the text/plain leaf P is not in mugaika's output text
  python-error      Python's parser raised (the message is then skipped)

Rules: a message with a disagreement must be quarantined, or the
disagreement is listed for that message in the allow-list (--explained, a
TOML file of [[case]] tables: message = name, ids = [...], why = one line).
Any other disagreement on a delivered message fails the run, and so does a
crash (exit status other than 0 or 3). With --structural-only (long runs
over fuzz corpora), only structural disagreements on delivered messages and
crashes fail; the others are counted.

Message names: the path relative to the parent of the DIR given, e.g.
"corpus/mime/two_boundaries.eml", "corpus-real/sisimai-set-of-emails/mailbox/mbox-0#3".

Exit status 0 = pass, 1 = a failing disagreement or crash, 2 = usage.
"""

import argparse
import concurrent.futures
import email
import email.policy
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import tomllib
import unicodedata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus_messages  # noqa: E402

STRUCTURAL = ("missing-ours", "missing-python", "shape", "body")
# message/* types that hold a whole message. Python's email package parses
# every message/* type but delivery-status as a message (message/partial,
# message/feedback-report, message/disposition-notification too), which no
# mail client does; those are read here as leaves, as RFC 2046/5965/8098 say.
MESSAGE_CONTAINERS = ("message/rfc822", "message/global", "message/news")
# Every sequence of at most four CR/LF bytes (the tails same_body tries).
LINE_END_TAILS = [b""]
for _ in range(4):
    LINE_END_TAILS += [t + c for t in LINE_END_TAILS if len(t) == _ for c in (b"\r", b"\n")]
BIDI = {0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0x200E, 0x200F, 0x061C}
# What mugaika maps after decoding Japanese charsets (sanitizers/src/charset.rs).
FOLD = str.maketrans({"\u301c": "\uff5e", "\u2016": "\u2225", "\u2212": "\uff0d", "\u00a2": "\uffe0",
                      "\u00a3": "\uffe1", "\u00ac": "\uffe2"})


# --------------------------------------------------------------------------
# Python's reading


def content_type(part):
    try:
        return part.get_content_type().lower()
    except Exception:
        return "text/plain"


def filename_of(part):
    try:
        name = part.get_filename()
    except Exception:
        return None
    if name is None:
        return None
    return str(name)


def python_tree(msg):
    """path -> {"type", "leaf", "filename", "body" (bytes or None), "part"}."""
    out = {}
    stack = [("1", msg)]
    while stack:
        path, part = stack.pop()
        ct = content_type(part)
        entry = {"type": ct, "filename": filename_of(part), "part": part}
        payload = part.get_payload()
        maintype = ct.split("/")[0]
        if part.is_multipart() and isinstance(payload, list) and (maintype == "multipart" or ct in MESSAGE_CONTAINERS):
            entry["leaf"] = False
            entry["body"] = None
            children = payload[:1] if maintype == "message" else payload
            for i, child in reversed(list(enumerate(children, 1))):
                stack.append((f"{path}.{i}", child))
        else:
            entry["leaf"] = True
            if isinstance(payload, list):
                # Another message/* type that Python parsed into header blocks
                # or a message (delivery-status, feedback-report, partial…):
                # its bytes are not available any more.
                entry["body"] = None
            else:
                try:
                    entry["body"] = part.get_payload(decode=True)
                except Exception:
                    entry["body"] = None
            if maintype == "multipart":
                # A multipart Python could not split (no usable boundary): its
                # body is read as one text, as text/plain.
                entry["type"] = "text/plain"
        out[path] = entry
    return out


# --------------------------------------------------------------------------
# comparison


def norm_name(name):
    """Filenames as compared: mugaika's report shows bidi controls escaped."""
    if name is None:
        return ""
    return escape_bidi(unicodedata.normalize("NFC", name).strip())


def escape_bidi(s):
    return "".join(f"<U+{ord(c):04X}>" if ord(c) in BIDI else c for c in s)


def norm_text(s):
    s = escape_bidi(s).translate(FOLD)
    s = unicodedata.normalize("NFKC", s).casefold()
    return "".join(c for c in s if not c.isspace() and unicodedata.category(c) not in ("Cc", "Cf", "Zs"))


def output_text(out_bytes):
    try:
        msg = email.message_from_bytes(out_bytes, policy=email.policy.default)
        texts = []
        for part in msg.walk():
            if not part.is_multipart() and part.get_content_type() == "text/plain":
                texts.append(part.get_content())
        return "\n".join(texts)
    except Exception:
        return ""


def text_disagreement(py_part, our_text_norm):
    """The first line of Python's text not found in ours, or None."""
    try:
        text = py_part.get_content()
    except Exception:
        return None  # Python cannot decode the charset: nothing to compare
    if not isinstance(text, str) or "\ufffd" in text:
        return None  # Python's decoding is lossy here
    in_uu = False
    for line in text.splitlines():
        stripped = line.strip()
        # uuencoded blocks ("begin 644 name" … "end") are removed by design
        if not in_uu and stripped.startswith("begin ") and len(stripped.split()) >= 3:
            in_uu = True
        if in_uu:
            in_uu = stripped != "end"
            continue
        n = norm_text(line)
        if n and n not in our_text_norm:
            return line.strip()[:120]
    return None


def same_body(body, sha):
    """Whether Python's body is mugaika's (sha256), up to the line end at the
    very end (which of the CRLF before a boundary belongs to the body is read
    differently in a few malformed cases; nothing can hide in it)."""
    if hashlib.sha256(body).hexdigest() == sha:
        return True
    stripped = body.rstrip(b"\r\n")
    return any(hashlib.sha256(stripped + e).hexdigest() == sha for e in LINE_END_TAILS)


def as_clients_read(raw):
    """A message with CR but no LF at all is read as mail clients (and the
    pipeline, pipeline.rs normalize_cr_only) read it: every CR is a CRLF."""
    if b"\n" not in raw and b"\r" in raw:
        return raw.replace(b"\r", b"\r\n")
    return raw


def compare(raw, report, delivered, out_bytes):
    """List of (id, detail)."""
    found = []
    try:
        msg = email.message_from_bytes(as_clients_read(raw), policy=email.policy.default)
        py = python_tree(msg)
    except Exception as e:  # noqa: BLE001
        return [("python-error", f"{type(e).__name__}: {e}")]
    ours = {p["path"]: p for p in report.get("parts", [])}
    our_norm = None  # mugaika's output text, normalised, computed when needed
    examined = {p: o for p, o in ours.items() if o.get("action") != "skipped"}
    if not examined:
        return found  # nothing examined (limit, unparsable): quarantined
    for path in sorted(set(py) | set(ours), key=lambda p: [int(x) for x in p.split(".")]):
        p, o = py.get(path), ours.get(path)
        if o is not None and o.get("action") == "skipped":
            continue
        if o is None:
            if p["leaf"]:
                found.append((f"missing-ours@{path}", f"Python sees a {p['type']} leaf"))
            continue
        our_leaf = o.get("action") != "descended"
        if p is None:
            if our_leaf:
                found.append((f"missing-python@{path}", f"mugaika sees a {o['declared_type']} leaf"))
            continue
        if p["leaf"] != our_leaf:
            found.append((f"shape@{path}",
                          f"Python: {'leaf' if p['leaf'] else 'container'} {p['type']}, "
                          f"mugaika: {'leaf' if our_leaf else 'container'} {o['declared_type']}"))
            continue
        if p["type"] != o["declared_type"]:
            found.append((f"type@{path}", f"Python {p['type']!r}, mugaika {o['declared_type']!r}"))
        py_name = p["filename"]
        if py_name is not None and any(c == "\ufffd" or 0xD800 <= ord(c) <= 0xDFFF for c in py_name):
            py_name = o.get("filename")  # raw 8-bit name Python cannot decode: nothing to compare
        if norm_name(py_name) != norm_name(o.get("filename")):
            found.append((f"filename@{path}", f"Python {p['filename']!r}, mugaika {o.get('filename')!r}"))
        if our_leaf and p["body"] is not None and o.get("sha256"):
            if not same_body(p["body"], o["sha256"]):
                found.append((f"body@{path}", f"Python {len(p['body'])} bytes, mugaika {o.get('size')} bytes"))
            elif delivered and o.get("action") == "kept_as_text" and p["type"] == "text/plain":
                if our_norm is None:
                    our_norm = norm_text(output_text(out_bytes))
                missing = text_disagreement(p["part"], our_norm)
                if missing is not None:
                    found.append((f"text@{path}", f"line not in the output: {missing!r}"))
    return found


# --------------------------------------------------------------------------
# running


def run_one(binary, name, raw, timeout):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.eml")
        rep = os.path.join(tmp, "report.json")
        with open(src, "wb") as fh:
            fh.write(raw)
        try:
            r = subprocess.run([binary, "sanitize", "--report", rep, src], capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return name, "crash", f"timeout after {timeout}s", []
        if r.returncode not in (0, 3):
            return name, "crash", f"exit {r.returncode}: {r.stderr.decode('utf-8', 'replace')[:300]}", []
        try:
            with open(rep, "rb") as fh:
                report = json.load(fh)
        except Exception as e:  # noqa: BLE001
            return name, "crash", f"no report: {e}", []
    delivered = r.returncode == 0
    found = compare(raw, report, delivered, r.stdout)
    return name, "deliver" if delivered else "quarantine", ",".join(report.get("reasons", [])), found


def load_explained(path):
    if not path:
        return {}
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    out = {}
    for case in data.get("case", []):
        msg, ids, why = case.get("message"), case.get("ids", []), case.get("why", "")
        if not msg or not ids or not why.strip():
            raise SystemExit(f"{path}: every [[case]] needs message, ids and why: {case!r}")
        out.setdefault(msg, {}).update({i: why for i in ids})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="the mugaika binary")
    ap.add_argument("--explained", help="allow-list (TOML)")
    ap.add_argument("-j", type=int, default=2, help="parallel runs (default 2)")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--structural-only", action="store_true",
                    help="fail only on structural disagreements in delivered messages (fuzz corpora)")
    ap.add_argument("-v", "--verbose", action="store_true", help="also list covered disagreements")
    ap.add_argument("dirs", nargs="+")
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        print(f"differential: no executable {args.bin}", file=sys.stderr)
        return 2
    explained = load_explained(args.explained)
    jobs = []
    for d in args.dirs:
        if not os.path.isdir(d):
            print(f"differential: no directory {d}", file=sys.stderr)
            return 2
        base = os.path.dirname(os.path.normpath(os.path.abspath(d)))
        for path, raw in corpus_messages.messages(d, corpus_messages.kind_of(d)):
            jobs.append((os.path.relpath(os.path.abspath(path.split("#")[0]), base)
                         + ("#" + path.split("#", 1)[1] if "#" in path else ""), raw))
    failures, covered, explained_hits = [], 0, set()
    counts = {}
    verdicts = {"deliver": 0, "quarantine": 0, "crash": 0}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
        results = pool.map(lambda j: run_one(args.bin, j[0], j[1], args.timeout), jobs)
        for name, verdict, detail, found in results:
            verdicts[verdict] += 1
            if verdict == "crash":
                failures.append(f"{name}: CRASH {detail}")
                continue
            for ident, what in found:
                kind = ident.split("@")[0]
                counts[kind] = counts.get(kind, 0) + 1
                if verdict == "quarantine":
                    covered += 1
                    if args.verbose:
                        print(f"covered (quarantined: {detail}): {name}: {ident}: {what}")
                    continue
                if ident in explained.get(name, {}):
                    explained_hits.add((name, ident))
                    if args.verbose:
                        print(f"explained: {name}: {ident}: {explained[name][ident]}")
                    continue
                if args.structural_only and kind not in STRUCTURAL:
                    continue
                failures.append(f"{name}: {ident}: {what} (delivered)")
    stale = [(m, i) for m, ids in explained.items() for i in ids if (m, i) not in explained_hits]
    for m, i in stale:
        print(f"note: allow-list entry no longer needed: {m}: {i}")
    for f in failures:
        print(f"UNEXPLAINED: {f}")
    total = sum(verdicts.values())
    print(f"differential: {total} messages ({verdicts['deliver']} delivered, {verdicts['quarantine']} quarantined, "
          f"{verdicts['crash']} crashed); disagreements by kind {dict(sorted(counts.items()))}; "
          f"{covered} covered by quarantine, {len(explained_hits)} explained, {len(failures)} unexplained")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
