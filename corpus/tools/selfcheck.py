#!/usr/bin/env python3
"""Check the corpus itself (not the sanitiser).

    python3 corpus/tools/selfcheck.py [CORPUS_DIR] [-v]

1. Sidecars: every .eml has a .toml and the other way round; only the known
   keys; verdict is deliver/quarantine; `subject` only for deliver; every
   finding code exists in sanitizers/src/report.rs (module `codes`).
2. A rough *reference reading* of each deliver case with Python's `email`
   package (plus ../shared/tools/jpcharset.py when present), a toy HTML-to-text
   converter and a notice of removed attachments, following the output
   conventions in corpus/README.md.  Every `contains` string must appear in
   it, no `not_contains` string may, and the decoded Subject must match.

The reference reading is an approximation written for this check: where it
disagrees with a sidecar on a case that is *about* a reader difference
(listed in KNOWN_READER_LIMITS) it prints a note instead of a failure.
Exit status 1 when a sidecar is invalid or an unexpected disagreement is found.
"""

from __future__ import annotations

import argparse
import email
import email.header
import email.policy
import re
import struct
import sys
import tomllib
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

sys.dont_write_bytecode = True
HERE = Path(__file__).resolve().parent
for cand in (HERE.parent.parent.parent / "shared" / "tools", Path("/work/shared/tools")):
    if (cand / "jpcharset.py").exists():
        sys.path.insert(0, str(cand))
        break
try:
    import jpcharset as jp  # type: ignore
except ImportError:  # pragma: no cover - the check still runs, a little less exact
    jp = None

KEYS = {"description", "verdict", "subject", "contains", "not_contains", "findings"}

# Cases about a reader difference that Python's email package resolves the
# "other" way (so the toy reading cannot confirm the sidecar).
KNOWN_READER_LIMITS = {
    "encoding/cte_case_and_whitespace": "Python does not strip trailing whitespace from the CTE value",
    "rfc2047/filename_and_filename_star_disagree": "Python's get_filename takes filename= before filename*=",
    "mime/multipart_without_boundary": "Python keeps a multipart without boundary as an unparsed string",
}


def load_codes(root: Path) -> set[str]:
    for rep in (root.parent / "sanitizers" / "src" / "report.rs",):
        if rep.exists():
            return set(re.findall(r'pub const [A-Z0-9_]+: &str = "([a-z0-9_.]+)";', rep.read_text()))
    return set()


# ---------------------------------------------------------------------------
# charsets


def decode_text(data: bytes, label: str | None) -> str:
    lab = (label or "").strip().lower()
    if jp is not None and lab:
        try:
            return jp.decode_bytes(data, lab, "strict")[0]
        except (UnicodeError, LookupError):
            pass
    elif lab:
        try:
            return data.decode(lab)
        except (UnicodeError, LookupError):
            pass
    if not lab or lab in ("us-ascii", "ascii"):
        try:
            return data.decode("ascii")
        except UnicodeError:
            pass
    if b"\x1b$" in data and jp is not None:
        try:
            return jp.decode_iso2022jp(data)
        except UnicodeError:
            pass
    for codec in ("utf-8", "euc_jp", "cp932"):
        try:
            return data.decode(codec)
        except UnicodeError:
            pass
    return data.decode("utf-8", "replace")


def decode_words(value: str) -> str:
    """RFC 2047 decode of a header value that may hold raw 8-bit bytes (surrogateescaped)."""
    raw = value.encode("ascii", "surrogateescape")
    if any(b > 0x7F for b in raw):
        return decode_text(raw, None)
    out = []
    try:
        parts = email.header.decode_header(re.sub(r"\r?\n[ \t]", " ", value))
    except Exception:  # noqa: BLE001
        return value
    for data, cs in parts:
        if isinstance(data, str):
            out.append(data)
        else:
            out.append(decode_text(data, cs) if cs else data.decode("ascii", "replace"))
    return "".join(out)


def esc_bidi(s: str) -> str:
    bidi = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    return "".join(f"<U+{ord(c):04X}>" if c in bidi else c for c in s)


def raw_header(part, name: str) -> str | None:
    """The first raw (surrogate-escaped) value of a header field, unfolded."""
    for k, v in getattr(part, "_headers", []):
        if k.lower() == name.lower():
            return re.sub(r"\r?\n[ \t]", " ", v if isinstance(v, str) else str(v))
    return None


def raw_param(value: str, param: str) -> str | None:
    m = re.search(r'(?:^|;)\s*' + param + r'\s*=\s*("((?:[^"\\]|\\.)*)"|[^;\s]+)', value, re.I)
    if not m:
        return None
    return m.group(2) if m.group(2) is not None else m.group(1)


def part_filename(part) -> str | None:
    for hname, param in (("Content-Disposition", "filename"), ("Content-Type", "name")):
        v = raw_header(part, hname)
        if v and any(0xDC80 <= ord(c) <= 0xDCFF for c in v):
            pv = raw_param(v, param)
            if pv is not None:
                return esc_bidi(decode_text(pv.encode("ascii", "surrogateescape"), None))
    fn = None
    try:
        fn = part.get_filename()
    except Exception:  # noqa: BLE001
        fn = None
    if fn is None:
        return None
    if isinstance(fn, str) and "=?" in fn:
        fn = decode_words(fn)
    elif isinstance(fn, str):
        raw = fn.encode("utf-8", "surrogateescape")
        fn = decode_text(raw, None) if any(b > 0x7F for b in raw) else fn
    return fn


# ---------------------------------------------------------------------------
# HTML to text (toy)

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
        "track", "wbr"}
SKIP = {"script", "style", "title", "template", "iframe", "object", "applet", "noembed", "noframes",
        "select", "textarea", "form"}
BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "hr",
         "details", "summary", "dt", "dd", "blockquote"}


def hidden_style(style: str) -> bool:
    s = re.sub(r"\s+", "", style.lower())
    decl = dict(d.split(":", 1) for d in s.split(";") if ":" in d)
    v = {k: val.replace("!important", "") for k, val in decl.items()}
    if v.get("display") == "none" or v.get("visibility") == "hidden" or v.get("mso-hide") == "all":
        return True
    if v.get("font-size") in ("0", "0px", "0pt", "0em") or v.get("opacity") in ("0", "0.0"):
        return True
    if v.get("max-height") in ("0", "0px") and v.get("overflow") == "hidden":
        return True
    if v.get("position") == "absolute" and v.get("left", "").startswith("-"):
        return True
    fg, bg = v.get("color"), v.get("background-color") or v.get("background")
    return bool(fg and bg and fg == bg)


class ToText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, hides/skips its content)
        self.base = ""
        self.links: list[str | None] = []
        self.hidden_classes: set[str] = set()
        self.hidden_ids: set[str] = set()
        self.in_style = False

    def suppressed(self) -> bool:
        return any(h for _, h in self.stack)

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "base" and a.get("href"):
            self.base = a["href"].strip()
        if tag == "style":
            self.in_style = True
        if tag in BLOCK and not self.suppressed():
            self.out.append("\n")
        if tag in ("td", "th") and not self.suppressed():
            self.out.append(" ")
        if tag == "img" and not self.suppressed():
            w, h = a.get("width", ""), a.get("height", "")
            st = re.sub(r"\s+", "", a.get("style", "").lower())
            tiny = w in ("0", "1") or h in ("0", "1") or "width:1px" in st or "height:1px" in st
            if not tiny and not hidden_style(a.get("style", "")):
                self.out.append(f"[画像: {a.get('alt', '')}]")
        if tag in VOID:
            return
        hides = (tag in SKIP or "hidden" in a or hidden_style(a.get("style", ""))
                 or bool(set(a.get("class", "").split()) & self.hidden_classes)
                 or a.get("id", "") in self.hidden_ids)
        self.stack.append((tag, hides))
        if tag == "a":
            self.links.append(a.get("href"))

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False
        if tag == "a" and self.links:
            href = self.links.pop()
            if href is not None and not self.suppressed():
                h = re.sub(r"[\t\n\r]", "", href).strip()
                low = h.lower()
                if low.startswith("javascript:"):
                    self.out.append(" [removed javascript: link]")
                elif low.startswith("data:"):
                    self.out.append(" [removed data: link]")
                else:
                    self.out.append(f" <{urljoin(self.base, h) if self.base else h}>")
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break
        if tag in BLOCK and not self.suppressed():
            self.out.append("\n")

    def handle_data(self, data):
        if self.in_style:
            for m in re.finditer(r"([.#])([\w-]+)\s*\{([^}]*)\}", data):
                if hidden_style(m.group(3)):
                    (self.hidden_classes if m.group(1) == "." else self.hidden_ids).add(m.group(2))
            return
        if not self.suppressed():
            self.out.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(html: str) -> str:
    p = ToText()
    p.feed(html)
    p.close()
    return "".join(p.out)


def html_charset(data: bytes) -> str | None:
    m = re.search(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_-]+)", data[:4096], re.I)
    return m.group(1).decode("ascii") if m else None


# ---------------------------------------------------------------------------
# message walk


def tnef_names(data: bytes) -> list[str]:
    names, i = [], 6
    while i + 9 <= len(data):
        level, attr, ln = struct.unpack_from("<BII", data, i)
        payload = data[i + 9:i + 9 + ln]
        if attr == 0x00018010:
            names.append(payload.rstrip(b"\x00").decode("cp932", "replace"))
        i += 9 + ln + 2
    return names


UU = re.compile(r"^begin [0-7]{3,4} (.+?)\n(?:.*\n)*?end$", re.M)


class Reading:
    def __init__(self) -> None:
        self.text: list[str] = []
        self.removed: list[str] = []

    def render(self, part, depth=0) -> None:
        if depth > 30:
            return
        ct = part.get_content_type()
        disp = (raw_header(part, "Content-Disposition") or "").split(";")[0].strip().lower()
        fn = part_filename(part)
        if part.is_multipart():
            subs = part.get_payload()
            if ct == "multipart/alternative":
                html = [s for s in subs if s.get_content_type() == "text/html"]
                chosen = html[-1] if html else subs[-1]
                self.render(chosen, depth + 1)
            elif ct == "multipart/signed":
                if subs:
                    self.render(subs[0], depth + 1)
                for s in subs[1:]:
                    self.removed.append(part_filename(s) or s.get_content_type())
            elif ct == "message/rfc822":
                for inner in subs:
                    for h in ("From", "Date", "Subject"):
                        if inner.get(h):
                            self.text.append(f"{h}: {decode_words(str(inner.get(h)))}\n")
                    self.render(inner, depth + 1)
            else:
                for s in subs:
                    self.render(s, depth + 1)
            return
        payload = part.get_payload(decode=True) or b""
        if ct in ("application/ms-tnef", "application/vnd.ms-tnef"):
            self.removed.append(fn or "winmail.dat")
            self.removed += tnef_names(payload)
            return
        if ct in ("text/plain", "text/html") and disp != "attachment" and not (fn and ct == "text/html"):
            cs = part.get_content_charset()
            if ct == "text/html":
                text = html_to_text(decode_text(payload, cs or html_charset(payload)))
            else:
                text = decode_text(payload, cs)
                for m in UU.finditer(text.replace("\r\n", "\n")):
                    self.removed.append(m.group(1))
                text = UU.sub("", text.replace("\r\n", "\n"))
            text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
            self.text.append(text)
            return
        self.removed.append(esc_bidi(fn) if fn else f"({ct})")

    def result(self) -> str:
        notice = ""
        if self.removed:
            notice = "[無害化 / sanitised] removed: " + ", ".join(self.removed) + "\n"
        return notice + "".join(self.text)


def reference_reading(eml: bytes) -> tuple[str | None, str]:
    msg = email.message_from_bytes(eml, policy=email.policy.compat32)
    r = Reading()
    r.render(msg)
    subj = raw_header(msg, "Subject")
    return (decode_words(subj.strip()) if subj is not None else None), r.result()


# ---------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(HERE.parent))
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    root = Path(args.corpus)
    codes = load_codes(root)
    errors, notes, n = [], [], 0
    emls = sorted(p for p in root.rglob("*.eml") if "tools" not in p.parts)
    tomls = sorted(p for p in root.rglob("*.toml") if "tools" not in p.parts)
    for t in tomls:
        if not t.with_suffix(".eml").exists():
            errors.append(f"{t}: no .eml beside it")
    counts: dict[str, int] = {}
    for e in emls:
        key = f"{e.parent.name}/{e.stem}"
        t = e.with_suffix(".toml")
        if not t.exists():
            errors.append(f"{key}: no sidecar")
            continue
        n += 1
        counts[e.parent.name] = counts.get(e.parent.name, 0) + 1
        try:
            side = tomllib.loads(t.read_text(encoding="utf-8"))
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{key}: bad TOML: {exc}")
            continue
        bad = set(side) - KEYS
        if bad:
            errors.append(f"{key}: unknown keys {sorted(bad)}")
        if side.get("verdict") not in ("deliver", "quarantine"):
            errors.append(f"{key}: verdict must be deliver or quarantine")
        if not isinstance(side.get("description"), str) or not side["description"].strip():
            errors.append(f"{key}: description missing")
        if "subject" in side and side.get("verdict") != "deliver":
            errors.append(f"{key}: subject given for a quarantine case")
        for k in ("contains", "not_contains", "findings"):
            v = side.get(k, [])
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                errors.append(f"{key}: {k} must be a list of strings")
        if codes:
            for f in side.get("findings", []):
                if f not in codes:
                    errors.append(f"{key}: unknown finding code {f!r}")
        if side.get("verdict") != "deliver":
            continue
        data = e.read_bytes()
        try:
            subj, text = reference_reading(data)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{key}: reference reading crashed: {type(exc).__name__}: {exc}")
            continue
        problems = []
        if "subject" in side and subj != side["subject"]:
            problems.append(f"subject: expected {side['subject'][:80]!r}, reference reads {subj and subj[:80]!r}")
        for s in side.get("contains", []):
            if s not in text:
                problems.append(f"missing {s[:60]!r}")
        for s in side.get("not_contains", []):
            if s in text:
                problems.append(f"unexpected {s[:60]!r}")
        if problems:
            if key in KNOWN_READER_LIMITS:
                notes.append(f"{key}: ({KNOWN_READER_LIMITS[key]}) " + "; ".join(problems))
            else:
                errors.append(f"{key}: " + "; ".join(problems))
        if args.verbose:
            print(f"--- {key}\n{text[:600]}")
    for x in notes:
        print("note:", x)
    for x in errors:
        print("FAIL:", x)
    print(f"selfcheck: {n} cases ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}), "
          f"{len(errors)} problems, {len(notes)} notes")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
