//! The identity headers of the output: who wrote the mail, to whom, when,
//! what about, and which thread it belongs to.
//!
//! From, To, Cc, Reply-To, Subject, Date, Message-ID, In-Reply-To and
//! References are read from the original, decoded (RFC 2047, raw 8-bit
//! Shift_JIS/UTF-8 as Outlook sends it) and written again from scratch as
//! 7-bit fields. The first occurrence of each wins; a second one is a
//! `header.duplicate` finding. A value that cannot be written safely is left
//! out with a `header.dropped` finding rather than copied.

use mail_parser::{Address, DateTime, HeaderName, HeaderValue, Message, MessageParser};

use crate::charset;
use crate::headers;
use crate::report::{Finding, Severity, codes};

/// Decoded identity of a message: for the separator of a forwarded message
/// and for the report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub date: String,
    pub message_id: Option<String>,
}

/// `From: …`, `Date: …`, `Subject: …`, `To: …` lines (the empty ones left
/// out, each value made safe to show on one line), as the separator of a
/// forwarded message and the .txt of an attached one show who sent it.
pub fn push_summary_lines(out: &mut String, from: &str, date: &str, subject: &str, to: &str) {
    for (label, value) in [("From", from), ("Date", date), ("Subject", subject), ("To", to)] {
        if !value.is_empty() {
            out.push_str(label);
            out.push_str(": ");
            out.push_str(&crate::text::display_name(value, 2000));
            out.push('\n');
        }
    }
}

/// The output header fields and the summary.
pub struct Identity {
    pub fields: Vec<String>,
    pub summary: Summary,
}

/// The identity fields, in output order.
const IDENTITY_FIELDS: [(HeaderName<'static>, &str); 9] = [
    (HeaderName::From, "From"),
    (HeaderName::To, "To"),
    (HeaderName::Cc, "Cc"),
    (HeaderName::ReplyTo, "Reply-To"),
    (HeaderName::Subject, "Subject"),
    (HeaderName::Date, "Date"),
    (HeaderName::MessageId, "Message-ID"),
    (HeaderName::InReplyTo, "In-Reply-To"),
    (HeaderName::References, "References"),
];

/// Reads the identity headers of `msg` (a top-level or a nested message).
/// `path` names the message in findings.
pub fn read_identity(msg: &Message<'_>, path: &str, findings: &mut Vec<Finding>) -> Identity {
    let mut reader = Reader { path, findings, fields: Vec::new(), summary: Summary::default() };
    let Some(root) = msg.parts.first() else { return Identity { fields: reader.fields, summary: reader.summary } };
    let raw = msg.raw_message.as_ref();
    for (name, label) in IDENTITY_FIELDS.iter() {
        let mut all = root.headers.iter().filter(|h| &h.name == name);
        let Some(header) = all.next() else { continue };
        if all.next().is_some() {
            reader.finding(
                codes::HEADER_DUPLICATE,
                Severity::Warning,
                format!("{label} appears more than once; the first is kept"),
            );
        }
        let value_raw = raw.get(header.offset_start as usize..header.offset_end as usize).unwrap_or(b"");
        if !value_raw.is_ascii() {
            reader.finding(codes::HEADER_RAW_8BIT, Severity::Info, format!("{label} contains raw 8-bit bytes"));
        }
        match name {
            HeaderName::From | HeaderName::To | HeaderName::Cc | HeaderName::ReplyTo => {
                reader.address_field(name, label, &header.value, value_raw)
            }
            HeaderName::Subject => reader.subject(value_raw),
            HeaderName::Date => reader.date(&header.value, value_raw),
            _ => reader.message_ids(name, label, &header.value),
        }
    }
    Identity { fields: reader.fields, summary: reader.summary }
}

/// Accumulates the output fields, the summary and the findings.
struct Reader<'f> {
    path: &'f str,
    findings: &'f mut Vec<Finding>,
    fields: Vec<String>,
    summary: Summary,
}

impl Reader<'_> {
    fn finding(&mut self, code: &'static str, severity: Severity, detail: String) {
        self.findings.push(Finding::new(code, severity, self.path, detail));
    }

    fn address_field(&mut self, name: &HeaderName<'_>, label: &str, value: &HeaderValue<'_>, value_raw: &[u8]) {
        let addrs = addresses(value, value_raw, label);
        if addrs.is_empty() {
            return;
        }
        if *name == HeaderName::From {
            for (display, addr) in &addrs {
                if let Some(shown) = display.as_deref().and_then(|d| foreign_address_in(d, addr)) {
                    self.finding(
                        codes::HEADER_DISPLAY_NAME_ADDRESS,
                        Severity::Warning,
                        format!("From display name shows {shown} but the address is {addr}"),
                    );
                }
            }
        }
        let (field, skipped) = headers::encode_address_field(label, &addrs);
        for s in skipped {
            let shown = crate::text::display_name(&s, 100);
            self.finding(
                codes::HEADER_DROPPED,
                Severity::Info,
                format!("{label}: address {shown} cannot be written as 7-bit"),
            );
        }
        if field.contains('@') {
            self.fields.push(field);
        }
        let shown = || {
            addrs
                .iter()
                .map(|(n, a)| match n {
                    Some(n) => format!("{n} <{a}>"),
                    None => a.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        match name {
            HeaderName::From => self.summary.from = shown(),
            HeaderName::To => self.summary.to = shown(),
            _ => {}
        }
    }

    fn subject(&mut self, value_raw: &[u8]) {
        let decoded = headers::decode_unstructured(value_raw);
        self.fields.push(headers::encode_unstructured_field("Subject", &decoded.text));
        self.summary.subject = decoded.text;
    }

    fn date(&mut self, value: &HeaderValue<'_>, value_raw: &[u8]) {
        match date_of(value, value_raw) {
            Some(d) => {
                let text = d.to_rfc822();
                self.fields.push(format!("Date: {text}\r\n"));
                self.summary.date = text;
            }
            None => self.finding(codes::HEADER_DROPPED, Severity::Info, "Date does not parse; left out".to_string()),
        }
    }

    fn message_ids(&mut self, name: &HeaderName<'_>, label: &str, value: &HeaderValue<'_>) {
        let ids = message_ids(value);
        let Some(first) = ids.first() else {
            self.finding(codes::HEADER_DROPPED, Severity::Info, format!("{label} holds no valid message id; left out"));
            return;
        };
        if *name == HeaderName::MessageId {
            self.fields.push(format!("Message-ID: <{first}>\r\n"));
            self.summary.message_id = Some(first.clone());
        } else {
            self.fields.push(fold_ids(label, &ids));
        }
    }
}

/// Address pairs (display name, addr-spec) of an address header. Raw 8-bit
/// values are decoded as a whole and parsed again, so a Shift_JIS display
/// name comes out right.
fn addresses(value: &HeaderValue<'_>, raw: &[u8], label: &str) -> Vec<(Option<String>, String)> {
    if !raw.is_ascii() {
        let decoded = charset::decode_fragment(raw, None).text;
        let mut synthetic = Vec::with_capacity(decoded.len() + label.len() + 8);
        synthetic.extend_from_slice(label.as_bytes());
        synthetic.extend_from_slice(b": ");
        synthetic.extend_from_slice(decoded.replace(['\r', '\n'], " ").as_bytes());
        synthetic.extend_from_slice(b"\r\n\r\n");
        let parsed = MessageParser::new().with_address_headers().parse(&synthetic);
        let Some(parsed) = parsed else { return Vec::new() };
        let Some(header) = parsed.parts.first().and_then(|p| p.headers.first()) else { return Vec::new() };
        return address_pairs(&header.value);
    }
    address_pairs(value)
}

/// An address-looking word in a display name whose domain differs from the
/// real address's domain (`"boss@city.example.lg.jp" <evil@example.net>`).
fn foreign_address_in(display: &str, addr: &str) -> Option<String> {
    let domain = |a: &str| a.rsplit_once('@').map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase());
    let real = domain(addr)?;
    display
        .split(|c: char| c.is_whitespace() || "<>()[]\"',;".contains(c))
        .filter(|w| w.contains('@'))
        .find(|w| domain(w).is_some_and(|d| !d.is_empty() && d != real))
        .map(|w| crate::text::display_name(w, 100))
}

fn address_pairs(value: &HeaderValue<'_>) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let mut push = |name: Option<&str>, addr: Option<&str>| {
        let Some(addr) = addr.map(str::trim).filter(|a| !a.is_empty()) else { return };
        let name = name.map(|n| crate::text::display_name(n, 200)).filter(|n| !n.is_empty());
        out.push((name, addr.to_string()));
    };
    match value.as_address() {
        Some(Address::List(list)) => list.iter().for_each(|a| push(a.name(), a.address())),
        Some(Address::Group(groups)) => {
            groups.iter().flat_map(|g| g.addresses.iter()).for_each(|a| push(a.name(), a.address()))
        }
        None => {}
    }
    out
}

/// The date of a Date header: as parsed, or, for a date written without a
/// zone (`Wed, 3 May 2007 23:34:45`), read as `-0000` (RFC 5322: "no
/// information about the local time zone").
fn date_of(value: &HeaderValue<'_>, raw: &[u8]) -> Option<DateTime> {
    let days_in_month = |y: u16, m: u8| match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        _ => 31,
    };
    let plausible = |d: &DateTime| {
        (1000..=9999).contains(&d.year)
            && (1..=12).contains(&d.month)
            && d.day >= 1
            && d.day <= days_in_month(d.year, d.month)
            && d.hour <= 23
            && d.minute <= 59
            && d.second <= 60
            && d.tz_hour <= 23
            && d.tz_minute <= 59
    };
    if let Some(d) = value.as_datetime().filter(|d| plausible(d)) {
        return Some(*d);
    }
    let text = std::str::from_utf8(raw).ok()?.trim();
    if text.len() > 200 {
        return None;
    }
    DateTime::parse_rfc822(&format!("{text} -0000")).filter(|d| plausible(d))
}

/// Message ids that can be written back: whitespace (folding, comment
/// leftovers) removed, then exactly one `@` between two non-empty runs of
/// printable ASCII without specials, or a domain literal on the right.
/// Obsolete forms such as `a..b@host` are kept as they are: threading in the
/// reader's client matches ids as strings, so changing one breaks the thread.
fn message_ids(value: &HeaderValue<'_>) -> Vec<String> {
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && !b"<>()[]\\\",;:@".contains(&b));
    let ok = |id: &str| {
        let Some((left, right)) = id.split_once('@') else { return false };
        id.len() <= 250
            && plain(left)
            && (plain(right)
                || (right.len() > 2
                    && right.starts_with('[')
                    && right.ends_with(']')
                    && plain(&right[1..right.len() - 1])))
    };
    let mut ids: Vec<String> = match value {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    };
    for id in &mut ids {
        id.retain(|c| !c.is_whitespace());
    }
    ids.retain(|id| ok(id));
    ids.truncate(100);
    ids
}

fn fold_ids(label: &str, ids: &[String]) -> String {
    let mut s = format!("{label}:");
    for id in ids {
        s.push_str(&format!("\r\n <{id}>"));
    }
    s.push_str("\r\n");
    s
}
