"""Byte-exact building blocks for the hand-written corpus (used by make_corpus.py).

Everything here is deterministic: running make_corpus.py twice gives the same
bytes.  Messages are written with "\\n" internally and converted to the line
ending of each case at the end (`finish`); cases about line endings build
their bytes by hand after that conversion.

Japanese encoders:

* `jis(text)`   ISO-2022-JP as Outlook/Windows emit it (CP50220 style): the NEC
  row-13 specials (①, ㈱, Ⅴ ...) stay in row 13 (ESC $ B 0x2D21 ...), the IBM
  extensions (髙 CP932 0xFBFC, 﨑 0xFAB1) are first mapped to their NEC-selected
  twins (0xEEE0, 0xED95) and then to JIS rows 89-92 with the SJIS->JIS
  formula; half-width katakana use ESC ( I (CP50221) unless `kana="full"`.
* `sjis(text)`  CP932 bytes (Python's cp932 codec).
* `eucjp(text)` EUC-JP bytes (Python's euc_jp codec).
"""

from __future__ import annotations

import base64
import binascii
import io
import quopri
import struct
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# ---------------------------------------------------------------------------
# Japanese encoders


def sjis_to_jis(c1: int, c2: int) -> tuple[int, int]:
    """Shift_JIS double byte -> JIS X 0208 row/cell bytes (0x21..0x7E each)."""
    if c1 >= 0xE0:
        c1 -= 0x40
    j1 = (c1 - 0x70) * 2
    if c2 >= 0x9F:
        j2 = c2 - 0x7E
    else:
        j1 -= 1
        j2 = c2 - 0x1F
        if c2 >= 0x80:
            j2 -= 1
    if not (0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E):
        raise ValueError(f"SJIS {c1:02X}{c2:02X} has no 7-bit JIS form")
    return j1, j2


def _ibm_to_nec() -> dict[bytes, bytes]:
    """CP932 IBM extension bytes (FA40-FC4B) -> NEC-selected IBM extension bytes
    (ED40-EEFC) of the same character (only characters that have both)."""
    nec = {}
    for b1 in (0xED, 0xEE):
        for b2 in range(0x40, 0xFD):
            try:
                nec[bytes([b1, b2]).decode("cp932")] = bytes([b1, b2])
            except UnicodeDecodeError:
                pass
    m = {}
    for b1 in (0xFA, 0xFB, 0xFC):
        for b2 in range(0x40, 0xFD):
            try:
                ch = bytes([b1, b2]).decode("cp932")
            except UnicodeDecodeError:
                continue
            if ch in nec:
                m[bytes([b1, b2])] = nec[ch]
    return m


IBM_TO_NEC = _ibm_to_nec()
NEC_TO_IBM = {v: k for k, v in IBM_TO_NEC.items()}
ESC_ASCII, ESC_JIS, ESC_KANA = b"\x1b(B", b"\x1b$B", b"\x1b(I"


def jis(text: str, kana: str = "esc") -> bytes:
    """ISO-2022-JP (CP50220/CP50221 dialect). kana="esc": half-width katakana via
    ESC ( I; kana="full": converted to full-width (what CP50220 does)."""
    out = bytearray()
    mode = "ascii"
    for ch in text:
        if ord(ch) < 0x80:
            if mode != "ascii":
                out += ESC_ASCII
                mode = "ascii"
            out.append(ord(ch))
            continue
        if kana == "full" and 0xFF61 <= ord(ch) <= 0xFF9F:
            ch = unicodedata.normalize("NFKC", ch)
        sj = ch.encode("cp932")
        if len(sj) == 1:  # half-width katakana A1..DF
            if mode != "kana":
                out += ESC_KANA
                mode = "kana"
            out.append(sj[0] - 0x80)
            continue
        sj = IBM_TO_NEC.get(sj, sj)
        j1, j2 = sjis_to_jis(sj[0], sj[1])
        if mode != "jis":
            out += ESC_JIS
            mode = "jis"
        out += bytes([j1, j2])
    if mode != "ascii":
        out += ESC_ASCII
    return bytes(out)


def sjis(text: str) -> bytes:
    """CP932 as Windows writes it: characters of the NEC-selected IBM extension
    rows (ED/EE) are written in their IBM form (FA-FC), e.g. 髙 = 0xFBFC, 﨑 = 0xFAB1."""
    out = bytearray()
    for ch in text:
        b = ch.encode("cp932")
        out += NEC_TO_IBM.get(b, b)
    return bytes(out)


def eucjp(text: str) -> bytes:
    return text.encode("euc_jp")


CODECS = {"ISO-2022-JP": jis, "SHIFT_JIS": sjis, "EUC-JP": eucjp}


def enc(text: str, charset: str) -> bytes:
    f = CODECS.get(charset.upper())
    if f:
        return f(text)
    py = {"UTF-8": "utf-8", "WINDOWS-31J": "cp932", "CP932": "cp932"}.get(charset.upper(), charset)
    return text.encode(py)


# ---------------------------------------------------------------------------
# transfer encodings and header encodings


def b64(data: bytes, width: int = 76) -> str:
    s = base64.b64encode(data).decode("ascii")
    return "\n".join(s[i:i + width] for i in range(0, len(s), width))


def qp(data: bytes) -> str:
    """Quoted-printable with "\\n" line breaks (soft breaks "=\\n")."""
    return quopri.encodestring(data).decode("ascii")


def ew(text: str, charset: str = "UTF-8", q: bool = False) -> str:
    """One RFC 2047 encoded-word for the whole text."""
    data = enc(text, charset)
    if not q:
        return f"=?{charset}?B?{base64.b64encode(data).decode('ascii')}?="
    out = []
    for b in data:
        c = chr(b)
        if c == " ":
            out.append("_")
        elif c.isascii() and (c.isalnum() or c in "!*+-/"):
            out.append(c)
        else:
            out.append(f"={b:02X}")
    return f"=?{charset}?Q?{''.join(out)}?="


def ew_words(text: str, charset: str = "UTF-8", per: int = 8, sep: str = "\n ") -> str:
    """Text split into several self-contained encoded-words of `per` characters each."""
    chunks = [text[i:i + per] for i in range(0, len(text), per)]
    return sep.join(ew(c, charset) for c in chunks)


def ew_bytes_split(data: bytes, charset: str, cut: list[int], sep: str = "\n ") -> str:
    """Encoded-words made by cutting the *bytes* at the given offsets (may split a
    character between two words, as some broken mailers do)."""
    pts = [0] + cut + [len(data)]
    return sep.join(f"=?{charset}?B?{base64.b64encode(data[a:b]).decode('ascii')}?="
                     for a, b in zip(pts, pts[1:]))


_ATTR_CHAR = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~")


def pct(data: bytes) -> str:
    """RFC 2231 percent-encoding."""
    return "".join(chr(b) if b in _ATTR_CHAR else f"%{b:02X}" for b in data)


def rfc2231(param: str, data: bytes, charset: str = "UTF-8", lang: str = "", pieces: int = 1) -> str:
    """param*=charset'lang'value, or param*0*=...; param*1*=... continuations
    (split on byte boundaries of the percent-encoded form, never inside a %XX)."""
    enc_s = pct(data)
    if pieces <= 1:
        return f"{param}*={charset}'{lang}'{enc_s}"
    toks = []
    i = 0
    while i < len(enc_s):
        n = 3 if enc_s[i] == "%" else 1
        toks.append(enc_s[i:i + n])
        i += n
    size = -(-len(toks) // pieces)
    segs = ["".join(toks[k:k + size]) for k in range(0, len(toks), size)]
    out = []
    for k, s in enumerate(segs):
        out.append(f"{param}*{k}*={charset}'{lang}'{s}" if k == 0 else f"{param}*{k}*={s}")
    return ";\n ".join(out)


def uuencode(name: str, data: bytes, mode: str = "644") -> str:
    lines = [f"begin {mode} {name}"]
    for i in range(0, len(data), 45):
        lines.append(binascii.b2a_uu(data[i:i + 45]).decode("ascii").rstrip("\n"))
    lines += ["`", "end"]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# fake payloads (tiny, deterministic)


def fake_pe(tag: bytes = b"") -> bytes:
    """A tiny fake PE: "MZ" DOS header, e_lfanew at 0x3C -> "PE\\0\\0" + COFF header."""
    b = bytearray(512)
    b[0:4] = b"MZ\x90\x00"
    struct.pack_into("<I", b, 0x3C, 0x80)
    msg = b"This program cannot be run in DOS mode.\r\r\n$"
    b[0x4E:0x4E + len(msg)] = msg
    b[0x80:0x84] = b"PE\x00\x00"
    struct.pack_into("<HHIIIHH", b, 0x84, 0x014C, 1, 0x65F0A000, 0, 0, 0xE0, 0x0102)
    b[0x200 - len(tag) - 1:0x1FF] = tag
    return bytes(b)


def fake_pdf(title: str = "corpus") -> bytes:
    return (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
            b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            b"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n"
            b"3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>\nendobj\n"
            b"4 0 obj\n<< /Title (" + title.encode("ascii") + b") >>\nendobj\n"
            b"trailer\n<< /Root 1 0 R /Info 4 0 R /Size 5 >>\n%%EOF\n")


def fake_zip(files: dict[str, bytes], encrypted_flag: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in files.items():
            zi = zipfile.ZipInfo(name, date_time=(2024, 4, 1, 9, 0, 0))
            zi.create_system = 0
            z.writestr(zi, data)
    out = bytearray(buf.getvalue())
    if encrypted_flag:
        # Mark every entry as encrypted (the content is not really): zipfile
        # drops flag bit 0 when writing, so it is set in the headers here.
        for sig, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
            i = out.find(sig)
            while i >= 0:
                out[i + flag_at] |= 0x1
                i = out.find(sig, i + 4)
    return bytes(out)


def fake_xlsx() -> bytes:
    return fake_zip({
        "[Content_Types].xml": b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                               b'openxmlformats.org/package/2006/content-types"/>',
        "xl/workbook.xml": b"<workbook/>",
    })


def fake_docx() -> bytes:
    return fake_zip({
        "[Content_Types].xml": b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                               b'openxmlformats.org/package/2006/content-types"/>',
        "word/document.xml": b"<document/>",
    })


# a 1x1 transparent PNG (valid CRCs)
def tiny_png() -> bytes:
    import zlib

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    idat = zlib.compress(b"\x00\x00\x00\x00\x00", 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


# --- TNEF (winmail.dat) ------------------------------------------------------

TNEF_SIGNATURE = 0x223E9F78
LVL_MESSAGE, LVL_ATTACHMENT = 1, 2


def _tnef_attr(level: int, attr_id: int, data: bytes) -> bytes:
    return (struct.pack("<BII", level, attr_id, len(data)) + data
            + struct.pack("<H", sum(data) & 0xFFFF))


def _mapi_string_prop(prop_id: int, text: str, unicode: bool) -> bytes:
    if unicode:
        ptype, raw = 0x001F, text.encode("utf-16-le") + b"\x00\x00"
    else:
        ptype, raw = 0x001E, text.encode("cp932") + b"\x00"
    pad = (-len(raw)) % 4
    return struct.pack("<HHII", ptype, prop_id, 1, len(raw)) + raw + b"\x00" * pad


def tnef(attachments: list[tuple[str, bytes]], codepage: int = 932) -> bytes:
    """A minimal but well-formed TNEF stream. Each attachment gets attAttachRendData,
    attAttachTitle (name in the OEM code page), attAttachData and an attAttachment
    MAPI property block with PR_ATTACH_LONG_FILENAME (0x3707, PT_UNICODE)."""
    out = struct.pack("<IH", TNEF_SIGNATURE, 0x0001)
    out += _tnef_attr(LVL_MESSAGE, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += _tnef_attr(LVL_MESSAGE, 0x00069007, struct.pack("<II", codepage, 0))  # attOemCodepage
    out += _tnef_attr(LVL_MESSAGE, 0x00078008, b"IPM.Microsoft Mail.Note\x00")  # attMessageClass
    for name, data in attachments:
        rend = struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0)
        out += _tnef_attr(LVL_ATTACHMENT, 0x00069002, rend)  # attAttachRendData
        out += _tnef_attr(LVL_ATTACHMENT, 0x00018010, name.encode("cp932") + b"\x00")  # attAttachTitle
        out += _tnef_attr(LVL_ATTACHMENT, 0x0006800F, data)  # attAttachData
        props = struct.pack("<I", 1) + _mapi_string_prop(0x3707, name, True)
        out += _tnef_attr(LVL_ATTACHMENT, 0x00069005, props)  # attAttachment
    return out


# ---------------------------------------------------------------------------
# templates and the case registry


def T(template: str, **values) -> bytes:
    """ASCII template with @@NAME@@ placeholders replaced by bytes (or ASCII str).
    Non-ASCII text must come in through a placeholder, already encoded."""
    out = template.encode("ascii")
    for k, v in values.items():
        if isinstance(v, str):
            v = v.encode("ascii")
        key = f"@@{k}@@".encode("ascii")
        if key not in out:
            raise KeyError(f"placeholder {k} not in template")
        out = out.replace(key, v)
    return out


def finish(data: bytes, eol: str) -> bytes:
    """Convert the "\\n" line ends of a built message to CRLF ("crlf") or keep LF ("lf")."""
    if eol == "lf":
        return data
    if eol == "crlf":
        assert b"\r" not in data, "finish() expects LF-only input"
        return data.replace(b"\n", b"\r\n")
    raise ValueError(eol)


@dataclass
class Case:
    category: str
    name: str
    eml: bytes
    description: str
    verdict: str
    subject: str | None = None
    contains: list = field(default_factory=list)
    not_contains: list = field(default_factory=list)
    findings: list = field(default_factory=list)


CATEGORIES = ("headers", "mime", "encoding", "charset", "rfc2047", "html", "attachments", "limits",
              "structure", "business")


def toml_str(s: str) -> str:
    """A TOML basic string; control, format (bidi) and non-characters escaped."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or o == 0x7F or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            out.append(f"\\u{o:04X}" if o <= 0xFFFF else f"\\U{o:08X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def toml_list(xs) -> str:
    return "[" + ", ".join(toml_str(x) for x in xs) + "]"


def sidecar(c: Case) -> str:
    lines = [f"description = {toml_str(c.description)}", f"verdict = {toml_str(c.verdict)}"]
    if c.subject is not None:
        lines.append(f"subject = {toml_str(c.subject)}")
    if c.verdict == "deliver" or c.contains:
        lines.append(f"contains = {toml_list(c.contains)}")
    if c.verdict == "deliver" or c.not_contains:
        lines.append(f"not_contains = {toml_list(c.not_contains)}")
    if c.findings:
        lines.append(f"findings = {toml_list(c.findings)}")
    return "\n".join(lines) + "\n"


def write_all(cases: list[Case], root: Path) -> None:
    seen = set()
    for c in cases:
        assert c.category in CATEGORIES, c.category
        key = (c.category, c.name)
        assert key not in seen, f"duplicate case {key}"
        seen.add(key)
        assert c.verdict in ("deliver", "quarantine"), c.verdict
        assert c.verdict == "deliver" or c.subject is None, f"{key}: subject only for deliver"
    for cat in CATEGORIES:
        d = root / cat
        d.mkdir(parents=True, exist_ok=True)
        wanted = {f"{c.name}{ext}" for c in cases if c.category == cat for ext in (".eml", ".toml")}
        for p in d.iterdir():  # drop cases that no longer exist
            if p.suffix in (".eml", ".toml") and p.name not in wanted:
                p.unlink()
    for c in cases:
        d = root / c.category
        (d / f"{c.name}.eml").write_bytes(c.eml)
        (d / f"{c.name}.toml").write_text(sidecar(c), encoding="utf-8", newline="\n")
