//! Delivery status notifications (RFC 3464): the bounce sent back to the
//! envelope sender when a recipient fails permanently or the message expires
//! in the queue.
//!
//! [`build_dsn`] is pure (no clock, no I/O: `now` and every other value are
//! passed in) and returns the whole message, ready to queue with the null
//! sender `""` as its envelope MAIL FROM — the caller must use the null
//! sender, so that a DSN about the DSN can never be produced (RFC 3464 §2,
//! RFC 5321 §4.5.5). It returns `None` when no DSN may be sent:
//!
//! - the original's sender is the null sender (never bounce a bounce);
//! - the sender's local part is `MAILER-DAEMON` (any domain, any case: our
//!   own bounce address `MAILER-DAEMON@<reporting_mta>` and other MTAs'
//!   bounce addresses), so two relays cannot bounce each other in a loop;
//! - the sender is unusable as a recipient (no `@`, a control character,
//!   `<` or `>`), or no failed recipient is given.
//!
//! # The message
//!
//! ```text
//! From: Mail Delivery System <MAILER-DAEMON@reporting_mta>
//! To: <sender>                         (undisclosed-recipients:; if not printable ASCII)
//! Subject: =?UTF-8?B?…?= / Undelivered Mail Returned to Sender   (Japanese, then English)
//! Date, Message-ID: <now.queue_id.dsn@reporting_mta>, Auto-Submitted: auto-replied,
//! MIME-Version: 1.0
//! Content-Type: multipart/report; report-type=delivery-status; boundary="…"
//!
//! 1. text/plain; charset=UTF-8, base64: Japanese first, then English — what failed and why
//!    (or that delivery expired after N days/hours), sender, arrival date, retrieval id.
//! 2. message/delivery-status: [Original-Envelope-Id], Reporting-MTA: dns; …, Arrival-Date,
//!    X-Mugaika-Retrieval-Id, then per recipient Final-Recipient, Action: failed, Status,
//!    Diagnostic-Code, Last-Attempt-Date.
//! 3. text/rfc822-headers: the original header section, made safe (below).
//! ```
//!
//! The whole DSN is 7-bit US-ASCII with CRLF line ends and lines of at most
//! 998 octets (headers at most 78 where we control them), so the
//! Internet-side MTA needs neither 8BITMIME nor SMTPUTF8 to carry it —
//! except for its envelope recipient when the original sender address is
//! not ASCII, which only an SMTPUTF8 path can reach anyway.
//!
//! Dates are written in Japan Standard Time (`+0900`, no DST), the zone of
//! the product's users.
//!
//! # What is made safe
//!
//! - **Original headers** (untrusted: they come from the Internet): only the
//!   header section (up to the first empty line), at most 64 KiB (cut at a
//!   line end); NUL and bare CR / LF bytes removed, empty lines dropped (so
//!   nothing inside can end the section early); lines longer than 900 octets
//!   are folded into continuation lines (a space starts each). If 8-bit bytes
//!   remain, the part is sent quoted-printable, else 7bit.
//! - **Addresses** in the report: `rfc822; addr` when printable ASCII, else
//!   `utf-8; ` with RFC 6533 `\x{HEX}` escapes (so the report stays 7-bit).
//! - **Diagnostics** (replies of the next hop): controls removed, at most 500
//!   characters; non-ASCII replaced by `?` in the report (kept in the text
//!   part). A reply starting with a 3-digit code is `smtp;`, a locally made
//!   one `X-mugaika;`.
//! - **Statuses**: must be `class.subject.detail` with class 4 or 5, else
//!   `5.0.0`; with `expired`, every recipient without a 5.x.x status gets
//!   `4.4.7` (delivery time expired).
//! - **Boundary**: derived from a hash of the parts (FNV-1a) and checked
//!   against their content, so a header line cannot forge it.
//! - Every header field that carries input is folded or bounded below 998
//!   octets.

/// What the DSN reports.
pub struct DsnInput<'a> {
    /// Our host name: `Reporting-MTA: dns; …` and the bounce address `MAILER-DAEMON@…`.
    pub reporting_mta: &'a str,
    /// The ENVID the client gave, if any (xtext as received).
    pub original_envelope_id: Option<&'a str>,
    pub queue_id: &'a str,
    pub retrieval_id: &'a str,
    /// The original envelope sender: the DSN goes there.
    pub mail_from: &'a str,
    /// Unix seconds the original was received.
    pub arrival_date: u64,
    /// Unix seconds now.
    pub now: u64,
    /// (recipient, status such as `5.1.1`, diagnostic reply).
    pub failed: &'a [(String, String, String)],
    /// The header section of the original message, raw.
    pub original_headers: &'a [u8],
    /// The message expired in the queue (rather than failing permanently).
    pub expired: bool,
}

/// Longest original header section quoted.
const MAX_QUOTED_HEADERS: usize = 64 * 1024;
/// Longest diagnostic kept.
const MAX_DIAGNOSTIC_CHARS: usize = 500;
/// Lines of the quoted headers longer than this are folded.
const FOLD_AT: usize = 900;
/// Japan Standard Time.
const JST_OFFSET_SECS: u64 = 9 * 3600;

/// The DSN bytes, or `None` when none may be sent (see the module doc).
pub fn build_dsn(input: &DsnInput) -> Option<Vec<u8>> {
    let sender = input.mail_from;
    if !may_bounce_to(sender) || input.failed.is_empty() {
        return None;
    }
    let mta = host_name(input.reporting_mta);
    let (headers_part, headers_cte) = quoted_headers(input.original_headers);
    let text = base64_lines(human_text(input, &mta).as_bytes());
    let report = delivery_status(input, &mta);
    let boundary = pick_boundary(&[text.as_bytes(), report.as_bytes(), &headers_part]);

    let mut out = Vec::with_capacity(text.len() + report.len() + headers_part.len() + 2048);
    let mut header = |name: &str, value: &str| push_field(&mut out, name, value);
    header("From", &format!("Mail Delivery System <MAILER-DAEMON@{mta}>"));
    header("To", &to_header(sender));
    header("Subject", &subject(input.expired));
    header("Date", &rfc5322_date(input.now));
    header("Message-ID", &format!("<{}.{}.dsn@{mta}>", input.now, token(input.queue_id, 64)));
    header("Auto-Submitted", "auto-replied");
    header("MIME-Version", "1.0");
    header("Content-Type", &format!("multipart/report; report-type=delivery-status;\r\n\tboundary=\"{boundary}\""));
    header("Content-Transfer-Encoding", "7bit");
    out.extend_from_slice(b"\r\nThis is a MIME-formatted delivery status notification.\r\n");

    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    out.extend_from_slice(b"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    out.extend_from_slice(text.as_bytes());

    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    out.extend_from_slice(b"Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
    out.extend_from_slice(report.as_bytes());

    out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
    out.extend_from_slice(
        format!("Content-Type: text/rfc822-headers\r\nContent-Transfer-Encoding: {headers_cte}\r\n\r\n").as_bytes(),
    );
    out.extend_from_slice(&headers_part);

    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Some(out)
}

/// The enhanced status code of a reply (`"550 5.1.1 no such user"` → `5.1.1`,
/// `"4.4.1 connect to …"` → `4.4.1`), else `5.0.0` / `4.0.0` by the reply
/// code's class or, without one, by `permanent`.
pub fn status_from_reply(reply: &str, permanent: bool) -> String {
    let mut words = reply.split_whitespace();
    let first = words.next().unwrap_or("");
    let candidate =
        if first.len() == 3 && first.bytes().all(|b| b.is_ascii_digit()) { words.next().unwrap_or("") } else { first };
    if valid_status(candidate) {
        return candidate.to_string();
    }
    match first.as_bytes().first() {
        Some(b'5') if first.len() == 3 => "5.0.0".to_string(),
        Some(b'4') if first.len() == 3 => "4.0.0".to_string(),
        _ if permanent => "5.0.0".to_string(),
        _ => "4.0.0".to_string(),
    }
}

/// Whether a DSN may go to this envelope sender.
fn may_bounce_to(sender: &str) -> bool {
    let Some((local, domain)) = sender.rsplit_once('@') else { return false };
    !local.is_empty()
        && !domain.is_empty()
        && !local.trim_matches('"').eq_ignore_ascii_case("mailer-daemon")
        && !sender.chars().any(|c| c.is_control() || c == '<' || c == '>')
}

/// `class.subject.detail`, class 2, 4 or 5, 1–3 digits each.
fn valid_status(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && matches!(parts.first(), Some(&"2" | &"4" | &"5"))
        && parts.iter().all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

fn report_status(given: &str, expired: bool) -> String {
    let given = given.trim();
    let ok = valid_status(given) && !given.starts_with('2');
    match (ok, expired) {
        (true, false) => given.to_string(),
        (true, true) if given.starts_with('5') => given.to_string(),
        (_, true) => "4.4.7".to_string(),
        (false, false) => "5.0.0".to_string(),
    }
}

/// Letters, digits, `.`, `-`, `_` only; `localhost` if nothing is left.
fn host_name(s: &str) -> String {
    let h: String = s.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(253).collect();
    if h.is_empty() { "localhost".to_string() } else { h }
}

/// Printable ASCII without spaces, bounded (for ids).
fn token(s: &str, max: usize) -> String {
    s.chars().filter(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '\\')).take(max).collect()
}

fn to_header(sender: &str) -> String {
    if sender.len() <= 900 && sender.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        format!("<{sender}>")
    } else {
        "undisclosed-recipients:;".to_string()
    }
}

fn subject(expired: bool) -> String {
    let (ja, en) = if expired {
        (
            "配送期限切れのお知らせ（メールを配送できませんでした）",
            "Delivery expired: Undelivered Mail Returned to Sender",
        )
    } else {
        ("配送不能のお知らせ（メールを配送できませんでした）", "Undelivered Mail Returned to Sender")
    };
    let mut words = encoded_words(ja);
    words.push(format!("/ {en}"));
    words.join("\r\n ")
}

/// RFC 2047 `B` encoded-words of at most 64 characters, split between characters.
fn encoded_words(text: &str) -> Vec<String> {
    const MAX_RAW: usize = 39; // 39 bytes → 52 base64 chars → 64 with "=?UTF-8?B?" and "?="
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > MAX_RAW {
            words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(format!("=?UTF-8?B?{}?=", base64(chunk.as_bytes())));
    }
    words
}

/// Text for people: Japanese first, then English.
fn human_text(input: &DsnInput, mta: &str) -> String {
    let arrival = jst_date_human(input.arrival_date);
    let age = input.now.saturating_sub(input.arrival_date);
    let (age_ja, age_en) = age_words(age);
    let sender = display_text(input.mail_from, 300);
    let rid = token(input.retrieval_id, 64);
    let mut t = String::new();
    t.push_str(&format!("このメールは {mta} の配送システム（mugaika 無害化中継）が自動的に送信しています。\n\n"));
    if input.expired {
        t.push_str(&format!(
            "{arrival} に受け付けたメールは、{age_ja}の間配送を試みましたが、次の宛先に届けることができなかったため、配送を中止しました。\n\n"
        ));
    } else {
        t.push_str(&format!("{arrival} に受け付けたメールは、次の宛先に配送できませんでした。\n\n"));
    }
    for (rcpt, _, diag) in input.failed {
        t.push_str(&format!(
            "  宛先: {}\n  理由: {}\n\n",
            display_text(rcpt, 300),
            display_text(diag, MAX_DIAGNOSTIC_CHARS)
        ));
    }
    t.push_str(&format!("  差出人: {sender}\n  受付ID（問い合わせ番号）: {rid}\n\n"));
    t.push_str("お問い合わせの際は、この受付IDを管理者にお知らせください。\n");
    t.push_str("このメールには返信しないでください。元のメールのヘッダーを添付しています。\n\n");
    t.push_str("--------------------------------------------------------------------\n\n");
    t.push_str(&format!("This is the mail delivery system at {mta} (mugaika sanitising relay).\n\n"));
    if input.expired {
        t.push_str(&format!(
            "Your message received on {} could not be delivered to the recipients below.\nDelivery was attempted for {age_en} and has now been given up.\n\n",
            rfc5322_date(input.arrival_date)
        ));
    } else {
        t.push_str(&format!(
            "Your message received on {} could not be delivered to the recipients below.\n\n",
            rfc5322_date(input.arrival_date)
        ));
    }
    for (rcpt, _, diag) in input.failed {
        t.push_str(&format!(
            "  Recipient: {}\n  Reason:    {}\n\n",
            display_text(rcpt, 300),
            display_text(diag, MAX_DIAGNOSTIC_CHARS)
        ));
    }
    t.push_str(&format!("  Sender:       {sender}\n  Retrieval ID: {rid}\n\n"));
    t.push_str("Please quote the retrieval ID when you contact the administrator.\n");
    t.push_str("Do not reply to this message. The headers of your message are attached.\n");
    t.replace('\n', "\r\n")
}

fn age_words(secs: u64) -> (String, String) {
    let plural = |n: u64, unit: &str| if n == 1 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    if secs >= 86400 {
        let d = secs / 86400;
        (format!("{d}日"), plural(d, "day"))
    } else if secs >= 3600 {
        let h = secs / 3600;
        (format!("{h}時間"), plural(h, "hour"))
    } else {
        let m = (secs / 60).max(1);
        (format!("{m}分"), plural(m, "minute"))
    }
}

/// One line of printable text (controls → space), at most `max` characters.
fn display_text(s: &str, max: usize) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(max).collect::<String>().trim().to_string()
}

/// The message/delivery-status part.
fn delivery_status(input: &DsnInput, mta: &str) -> String {
    let mut out = Vec::new();
    if let Some(envid) = input.original_envelope_id {
        let envid = token(envid, 100);
        if !envid.is_empty() {
            push_field(&mut out, "Original-Envelope-Id", &envid);
        }
    }
    push_field(&mut out, "Reporting-MTA", &format!("dns; {mta}"));
    push_field(&mut out, "Arrival-Date", &rfc5322_date(input.arrival_date));
    push_field(&mut out, "X-Mugaika-Retrieval-Id", &token(input.retrieval_id, 64));
    for (rcpt, status, diag) in input.failed {
        out.extend_from_slice(b"\r\n");
        push_field(&mut out, "Final-Recipient", &typed_address(rcpt));
        push_field(&mut out, "Action", "failed");
        push_field(&mut out, "Status", &report_status(status, input.expired));
        let diag = ascii_diagnostic(diag);
        if !diag.is_empty() {
            let starts_with_code = diag.len() >= 3 && diag.bytes().take(3).all(|b| b.is_ascii_digit());
            let kind = if starts_with_code { "smtp" } else { "X-mugaika" };
            push_field(&mut out, "Diagnostic-Code", &format!("{kind}; {diag}"));
        }
        push_field(&mut out, "Last-Attempt-Date", &rfc5322_date(input.now));
    }
    // Only ASCII was pushed.
    String::from_utf8_lossy(&out).into_owned()
}

/// `rfc822; addr`, or `utf-8; ` with RFC 6533 escapes for anything not printable ASCII.
fn typed_address(addr: &str) -> String {
    let addr: String = addr.chars().take(512).collect();
    if addr.bytes().all(|b| b.is_ascii_graphic()) {
        return format!("rfc822; {addr}");
    }
    let mut out = String::from("utf-8; ");
    for c in addr.chars() {
        if c.is_ascii_graphic() && c != '\\' && c != '+' && c != '=' {
            out.push(c);
        } else {
            out.push_str(&format!("\\x{{{:X}}}", u32::from(c)));
        }
    }
    out
}

fn ascii_diagnostic(s: &str) -> String {
    s.chars()
        .take(MAX_DIAGNOSTIC_CHARS)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else if c.is_control() {
                ' '
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// `Name: value` + CRLF; a value with embedded `\r\n` + WSP folds is kept as
/// given; any line longer than 78 is folded at a space when one is there,
/// and cut into ≤ 900-octet pieces when not.
fn push_field(out: &mut Vec<u8>, name: &str, value: &str) {
    let line = format!("{name}: {value}");
    for (i, physical) in line.split("\r\n").enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        fold_line(out, physical.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes `line` folded: breaks before a space after column 78 where possible,
/// hard pieces of at most [`FOLD_AT`] octets (continuations start with a space).
fn fold_line(out: &mut Vec<u8>, line: &[u8]) {
    let mut rest = line;
    let mut first = true;
    loop {
        let limit = if first { 78 } else { 77 };
        if rest.len() <= limit {
            out.extend_from_slice(rest);
            return;
        }
        // Last space within a soft window, else the first one before the hard limit.
        let window = rest.get(..FOLD_AT.min(rest.len())).unwrap_or(rest);
        let soft =
            window.get(1..limit.min(window.len())).and_then(|w| w.iter().rposition(|&b| b == b' ')).map(|p| p + 1);
        let cut = soft
            .or_else(|| window.iter().skip(1).position(|&b| b == b' ').map(|p| p + 1))
            .unwrap_or_else(|| char_floor(rest, FOLD_AT.min(rest.len())));
        let (head, tail) = rest.split_at(cut.max(1));
        out.extend_from_slice(head);
        if tail.is_empty() {
            return;
        }
        out.extend_from_slice(b"\r\n");
        if tail.first() != Some(&b' ') {
            out.push(b' ');
        }
        rest = tail;
        first = false;
    }
}

/// `at`, moved back (at most 3) so as not to split a UTF-8 sequence; never 0 for a non-empty input.
fn char_floor(bytes: &[u8], at: usize) -> usize {
    let mut i = at.min(bytes.len());
    let mut steps = 0;
    while i > 1 && steps < 3 && bytes.get(i).is_some_and(|b| (0x80..0xC0).contains(b)) {
        i -= 1;
        steps += 1;
    }
    i.max(1)
}

/// The original header section made safe; the transfer encoding to declare.
fn quoted_headers(raw: &[u8]) -> (Vec<u8>, &'static str) {
    let section = match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => raw.get(..end + 2).unwrap_or(raw),
        None => raw,
    };
    let section = if section.len() > MAX_QUOTED_HEADERS {
        let cut = section.get(..MAX_QUOTED_HEADERS).unwrap_or(section);
        match cut.windows(2).rposition(|w| w == b"\r\n") {
            Some(p) => cut.get(..p + 2).unwrap_or(cut),
            None => cut,
        }
    } else {
        section
    };
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut rest = section;
    while !rest.is_empty() {
        let (line, next) = match rest.windows(2).position(|w| w == b"\r\n") {
            Some(p) => (rest.get(..p).unwrap_or(rest), rest.get(p + 2..).unwrap_or(&[])),
            None => (rest, &[][..]),
        };
        let clean: Vec<u8> = line.iter().copied().filter(|&b| b != b'\r' && b != b'\n' && b != 0).collect();
        if !clean.iter().all(|b| *b == b' ' || *b == b'\t') {
            lines.push(clean);
        }
        rest = next;
    }
    let mut folded = Vec::with_capacity(section.len() + 64);
    for line in &lines {
        let mut piece: &[u8] = line;
        let mut first = true;
        while !piece.is_empty() {
            let room = if first { FOLD_AT } else { FOLD_AT - 1 };
            let cut = if piece.len() <= room { piece.len() } else { char_floor(piece, room) };
            let (head, tail) = piece.split_at(cut);
            if !first {
                folded.push(b' ');
            }
            folded.extend_from_slice(head);
            folded.extend_from_slice(b"\r\n");
            piece = tail;
            first = false;
        }
    }
    if folded.is_ascii() { (folded, "7bit") } else { (quoted_printable(&folded), "quoted-printable") }
}

/// Quoted-printable (RFC 2045) of CRLF-separated lines, output lines ≤ 76.
fn quoted_printable(text: &[u8]) -> Vec<u8> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Vec::with_capacity(text.len() * 2);
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut col = 0;
        for (i, &b) in line.iter().enumerate() {
            let last = i + 1 == line.len();
            let literal = ((b'!'..=b'~').contains(&b) && b != b'=') || ((b == b' ' || b == b'\t') && !last);
            let width = if literal { 1 } else { 3 };
            if col + width > 75 {
                out.extend_from_slice(b"=\r\n");
                col = 0;
            }
            if literal {
                out.push(b);
            } else {
                out.push(b'=');
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
            col += width;
        }
        out.extend_from_slice(b"\r\n");
    }
    // split() yields an empty piece after the final newline: drop its CRLF.
    if text.ends_with(b"\n") && out.ends_with(b"\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 63) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// Base64 in lines of 76 characters, each ending in CRLF.
fn base64_lines(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 4 / 3 + data.len() / 38 + 4);
    for chunk in data.chunks(57) {
        out.push_str(&base64(chunk));
        out.push_str("\r\n");
    }
    out
}

/// A boundary that occurs in none of the parts.
fn pick_boundary(parts: &[&[u8]]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mut candidate = String::new();
    for n in 0u64..64 {
        candidate = format!("=_mugaika-dsn-{:016x}", hash.wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
        let needle = candidate.as_bytes();
        if !parts.iter().any(|p| p.windows(needle.len()).any(|w| w == needle)) {
            break;
        }
    }
    candidate
}

/// (year, month, day, hour, minute, second, weekday 0 = Sunday) of unix seconds.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32, usize) {
    let days = i64::try_from(secs / 86400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86400;
    let weekday = usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0);
    // Civil from days (proleptic Gregorian), era-based.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    let hms = u32::try_from(rem).unwrap_or(0);
    (y, u32::try_from(m).unwrap_or(1), u32::try_from(d).unwrap_or(1), hms / 3600, hms / 60 % 60, hms % 60, weekday)
}

/// `Tue, 14 Nov 2023 22:13:20 +0900` (Japan Standard Time).
fn rfc5322_date(unix: u64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let (y, mo, d, h, mi, s, wd) = civil(unix.saturating_add(JST_OFFSET_SECS));
    let month = MONTHS.get(usize::try_from(mo.saturating_sub(1)).unwrap_or(0)).copied().unwrap_or("Jan");
    let day = DAYS.get(wd).copied().unwrap_or("Sun");
    format!("{day}, {d:02} {month} {y:04} {h:02}:{mi:02}:{s:02} +0900")
}

/// `2023年11月14日 22:13 (JST)`.
fn jst_date_human(unix: u64) -> String {
    let (y, mo, d, h, mi, _, _) = civil(unix.saturating_add(JST_OFFSET_SECS));
    format!("{y}年{mo}月{d}日 {h:02}:{mi:02} (JST)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders, PartType};

    const HEADERS: &[u8] = b"Received: from mx.example.com by relay\r\n\tfor <a@lg.example.jp>\r\nFrom: Sender <sender@example.com>\r\nTo: a@lg.example.jp\r\nSubject: =?UTF-8?B?5pel5pys6Kqe?=\r\nMessage-ID: <orig@example.com>\r\n\r\nbody must not appear\r\n";

    fn failed() -> Vec<(String, String, String)> {
        vec![
            ("nouser@lg.example.jp".to_string(), "5.1.1".to_string(), "550 5.1.1 no such user here".to_string()),
            (
                "たろう@lg.example.jp".to_string(),
                "5.2.2".to_string(),
                "552 5.2.2 mailbox full\r\nInjected: yes".to_string(),
            ),
        ]
    }

    fn input<'a>(failed: &'a [(String, String, String)], headers: &'a [u8]) -> DsnInput<'a> {
        DsnInput {
            reporting_mta: "mugaika.lg.example.jp",
            original_envelope_id: Some("ENV+2B42"),
            queue_id: "0123456789ABCDEF",
            retrieval_id: "R20231115-abc_123",
            mail_from: "sender@example.com",
            arrival_date: 1_700_000_000,
            now: 1_700_000_000 + 3600,
            failed,
            original_headers: headers,
            expired: false,
        }
    }

    /// 7-bit, CRLF only, lines ≤ 998.
    fn assert_wire_safe(dsn: &[u8]) {
        assert!(dsn.is_ascii(), "8-bit byte in the DSN");
        assert!(!dsn.contains(&0));
        for (i, &b) in dsn.iter().enumerate() {
            if b == b'\n' {
                assert_eq!(i.checked_sub(1).and_then(|p| dsn.get(p)), Some(&b'\r'), "bare LF at {i}");
            }
            if b == b'\r' {
                assert_eq!(dsn.get(i + 1), Some(&b'\n'), "bare CR at {i}");
            }
        }
        for line in dsn.split(|&b| b == b'\n') {
            assert!(line.len() <= 999, "line of {} octets", line.len());
        }
        let header_end = dsn.windows(4).position(|w| w == b"\r\n\r\n").expect("header section");
        for line in dsn[..header_end].split(|&b| b == b'\n') {
            assert!(line.len() <= 79, "header line of {} octets: {}", line.len(), String::from_utf8_lossy(line));
        }
    }

    fn part_text(msg: &mail_parser::Message, i: usize) -> String {
        let part = msg.part(i as u32).expect("part");
        match &part.body {
            PartType::Text(t) => t.to_string(),
            PartType::Binary(b) | PartType::InlineBinary(b) => String::from_utf8_lossy(b).into_owned(),
            PartType::Message(m) => String::from_utf8_lossy(m.raw_message()).into_owned(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn structure_parses() {
        let f = failed();
        let dsn = build_dsn(&input(&f, HEADERS)).expect("a DSN");
        assert_wire_safe(&dsn);
        let msg = MessageParser::default().parse(&dsn).expect("parses");
        assert_eq!(
            msg.subject(),
            Some("配送不能のお知らせ（メールを配送できませんでした） / Undelivered Mail Returned to Sender")
        );
        assert_eq!(
            msg.from().and_then(|a| a.first()).and_then(|a| a.address()),
            Some("MAILER-DAEMON@mugaika.lg.example.jp")
        );
        assert_eq!(msg.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("sender@example.com"));
        assert_eq!(msg.message_id(), Some("1700003600.0123456789ABCDEF.dsn@mugaika.lg.example.jp"));
        assert_eq!(msg.header_raw("Auto-Submitted").map(str::trim), Some("auto-replied"));
        assert!(msg.date().is_some());
        let ct = msg.content_type().expect("content type");
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("report")));
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));

        // Parts: root, text, delivery-status, headers.
        let types: Vec<String> = msg
            .parts
            .iter()
            .skip(1)
            .map(|p| {
                p.content_type().map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or(""))).unwrap_or_default()
            })
            .collect();
        assert_eq!(types, ["text/plain", "message/delivery-status", "text/rfc822-headers"]);

        let text = part_text(&msg, 1);
        assert!(text.contains("配送できませんでした"), "{text}");
        assert!(text.contains("受付ID（問い合わせ番号）: R20231115-abc_123"));
        assert!(text.contains("Retrieval ID: R20231115-abc_123"));
        assert!(text.contains("nouser@lg.example.jp") && text.contains("550 5.1.1 no such user here"));
        assert!(text.contains("たろう@lg.example.jp"));
        let ja = text.find("このメールは").expect("Japanese");
        let en = text.find("This is the mail delivery system").expect("English");
        assert!(ja < en, "Japanese first");
        assert!(text.contains("2023年11月15日 07:13 (JST)"), "{text}");

        let report = part_text(&msg, 2);
        for want in [
            "Reporting-MTA: dns; mugaika.lg.example.jp",
            "Original-Envelope-Id: ENV+2B42",
            "Arrival-Date: Wed, 15 Nov 2023 07:13:20 +0900",
            "Final-Recipient: rfc822; nouser@lg.example.jp",
            "Action: failed",
            "Status: 5.1.1",
            "Diagnostic-Code: smtp; 550 5.1.1 no such user here",
            "Final-Recipient: utf-8; \\x{305F}\\x{308D}\\x{3046}@lg.example.jp",
            "Status: 5.2.2",
            "Diagnostic-Code: smtp; 552 5.2.2 mailbox full  Injected: yes",
        ] {
            assert!(report.contains(want), "missing {want:?} in\n{report}");
        }
        assert!(!report.contains("\r\nInjected"), "a diagnostic may not start a field");

        let quoted = part_text(&msg, 3);
        assert!(quoted.contains("Message-ID: <orig@example.com>"), "{quoted}");
        assert!(quoted.contains("\tfor <a@lg.example.jp>"));
        assert!(!quoted.contains("body must not appear"));
    }

    #[test]
    fn expired_dsn() {
        let f = vec![("a@lg.example.jp".to_string(), "4.2.1".to_string(), "451 4.2.1 mailbox busy".to_string())];
        let mut i = input(&f, HEADERS);
        i.expired = true;
        i.now = i.arrival_date + 5 * 86400 + 7;
        let dsn = build_dsn(&i).expect("a DSN");
        assert_wire_safe(&dsn);
        let msg = MessageParser::default().parse(&dsn).expect("parses");
        assert!(msg.subject().is_some_and(|s| s.starts_with("配送期限切れ") && s.contains("Delivery expired")));
        let text = part_text(&msg, 1);
        assert!(text.contains("5日の間配送を試みました"), "{text}");
        assert!(text.contains("attempted for 5 days"), "{text}");
        let report = part_text(&msg, 2);
        assert!(report.contains("Status: 4.4.7"), "{report}");
        assert!(report.contains("Diagnostic-Code: smtp; 451 4.2.1 mailbox busy"));
    }

    #[test]
    fn no_dsn_for_null_sender_or_bounce_addresses() {
        let f = failed();
        for sender in [
            "",
            "MAILER-DAEMON@mugaika.lg.example.jp",
            "mailer-daemon@other.example",
            "\"MAILER-DAEMON\"@x.example",
            "no-at-sign",
            "a@b\r\nBcc: x@y",
            "<a@b>",
        ] {
            let mut i = input(&f, HEADERS);
            i.mail_from = sender;
            assert!(build_dsn(&i).is_none(), "DSN built for {sender:?}");
        }
        let i = DsnInput { failed: &[], ..input(&f, HEADERS) };
        assert!(build_dsn(&i).is_none(), "nothing failed");
        let mut i = input(&f, HEADERS);
        i.mail_from = "postmaster@example.com";
        assert!(build_dsn(&i).is_some());
    }

    #[test]
    fn hostile_original_headers_are_made_safe() {
        let f = failed();
        // NUL, bare CR and LF, an empty-looking line, a huge line, 8-bit bytes, and our own boundary.
        let probe = build_dsn(&input(&f, b"X: y\r\n")).expect("dsn");
        let probe_boundary = {
            let s = String::from_utf8_lossy(&probe).into_owned();
            let start = s.find("boundary=\"").expect("boundary") + 10;
            s[start..].split('"').next().expect("end").to_string()
        };
        let mut h = Vec::new();
        h.extend_from_slice(b"Subject: a\0b\rc\nd\r\n");
        h.extend_from_slice(b" \r\n");
        h.extend_from_slice(format!("--{probe_boundary}\r\n--{probe_boundary}--\r\n").as_bytes());
        h.extend_from_slice(b"X-Long: ");
        h.extend(std::iter::repeat_n(b'x', 5000));
        h.extend_from_slice(b"\r\nX-Jp: \xe6\x97\xa5\xe6\x9c\xac\xff\r\n");
        h.extend_from_slice(b"Content-Type: multipart/related; boundary=\"zz\"\r\n");
        let dsn = build_dsn(&input(&f, &h)).expect("dsn");
        assert_wire_safe(&dsn);
        let msg = MessageParser::default().parse(&dsn).expect("parses");
        assert_eq!(msg.parts.len(), 4, "the structure held");
        let part = msg.part(3).expect("headers part");
        assert_eq!(part.content_transfer_encoding(), Some("quoted-printable"));
        let quoted = match &part.body {
            PartType::Text(t) => t.as_bytes().to_vec(),
            PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
            other => panic!("{other:?}"),
        };
        let quoted_s = String::from_utf8_lossy(&quoted);
        assert!(quoted_s.contains("Subject: abcd"), "{quoted_s}");
        assert!(quoted_s.contains("日本"), "{quoted_s}");
        let body = quoted.strip_suffix(b"\n").unwrap_or(&quoted);
        for line in body.split(|&b| b == b'\n') {
            assert!(
                line.len() <= 999 && !line.is_empty() && line != b"\r",
                "bad line {:?}",
                String::from_utf8_lossy(line)
            );
        }
        let xs = quoted.iter().filter(|&&b| b == b'x').count();
        assert_eq!(xs, 5000, "folded, not cut");
    }

    #[test]
    fn huge_and_odd_inputs() {
        let many: Vec<(String, String, String)> =
            (0..300).map(|i| (format!("user{i}@lg.example.jp"), "bogus".to_string(), "\u{1}".repeat(3000))).collect();
        let long_rcpt = vec![("ü".repeat(2000) + "@example.jp", "5.1.1".to_string(), "y".repeat(4000))];
        let headers = vec![b'a'; 200_000];
        for f in [&many, &long_rcpt] {
            let mut i = input(f, &headers);
            i.reporting_mta = "bad host\r\nX: y";
            i.original_envelope_id = Some("\r\n\u{0}");
            i.retrieval_id = "id\r\nBcc: x";
            i.now = u64::MAX;
            i.arrival_date = u64::MAX;
            let dsn = build_dsn(&i).expect("dsn");
            assert_wire_safe(&dsn);
            assert!(dsn.len() < 6 << 20);
            let msg = MessageParser::default().parse(&dsn).expect("parses");
            assert_eq!(msg.parts.len(), 4);
            let report = part_text(&msg, 2);
            assert!(report.contains("Reporting-MTA: dns; badhostXy"), "{}", &report[..200.min(report.len())]);
            assert!(!report.contains("Original-Envelope-Id"));
            assert!(report.contains("Status: 5.0.0") || report.contains("Status: 5.1.1"));
        }
    }

    #[test]
    fn random_headers_never_break_the_dsn() {
        let f = failed();
        let mut seed: u64 = 0x1234_5678_9abc_def0;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) as u32
        };
        let alphabet: &[u8] = b"\r\n\0 \t:-=.aZ\x80\xe3\xff";
        for round in 0..200 {
            let len = (next() % 3000) as usize;
            let raw: Vec<u8> = (0..len)
                .map(|_| {
                    if next() % 4 == 0 {
                        alphabet[(next() as usize) % alphabet.len()]
                    } else {
                        b'a' + (next() % 26) as u8
                    }
                })
                .collect();
            let dsn = build_dsn(&input(&f, &raw)).expect("dsn");
            assert_wire_safe(&dsn);
            let msg = MessageParser::default().parse(&dsn).expect("parses");
            assert_eq!(msg.parts.len(), 4, "round {round}");
        }
    }

    #[test]
    fn status_extraction() {
        assert_eq!(status_from_reply("550 5.1.1 no such user", true), "5.1.1");
        assert_eq!(status_from_reply("451 4.2.1 busy", false), "4.2.1");
        assert_eq!(status_from_reply("550 no such user", false), "5.0.0");
        assert_eq!(status_from_reply("421 go away", true), "4.0.0");
        assert_eq!(status_from_reply("4.4.1 connect to 127.0.0.1:2526: refused", false), "4.4.1");
        assert_eq!(status_from_reply("", true), "5.0.0");
        assert_eq!(status_from_reply("garbage 9.9.9", false), "4.0.0");
        assert_eq!(report_status("5.7.1", true), "5.7.1");
        assert_eq!(report_status("2.0.0", false), "5.0.0");
        assert_eq!(report_status("5.1234.1", false), "5.0.0");
    }

    #[test]
    fn dates_and_encodings() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 09:00:00 +0900");
        assert_eq!(rfc5322_date(1_700_000_000), "Wed, 15 Nov 2023 07:13:20 +0900");
        assert_eq!(rfc5322_date(951_782_400), "Tue, 29 Feb 2000 09:00:00 +0900");
        assert!(rfc5322_date(u64::MAX).ends_with("+0900"));
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(quoted_printable(b"a=b \xe6\r\n"), b"a=3Db =E6\r\n");
        assert_eq!(quoted_printable(b"trailing \r\n"), b"trailing=20\r\n");
        let long = quoted_printable(&[b'x'; 200]);
        assert!(long.split(|&b| b == b'\n').all(|l| l.len() <= 77));
        for w in encoded_words(&"あ".repeat(40)) {
            assert!(w.len() <= 75, "{w}");
        }
        let mut out = Vec::new();
        fold_line(&mut out, "Subject: ".repeat(30).as_bytes());
        assert!(out.split(|&b| b == b'\n').all(|l| l.len() <= 80));
    }
}
