//! The pipeline: raw bytes of a hostile message in, a safe message (or none)
//! and a report out.
//!
//! ```text
//! raw ─► pre-checks (size, empty, nesting count) ─► mail-parser
//!     ─► identity headers ─► walk (per-part sanitisers) ─► notice + rebuild ─► Sanitized
//! ```
//!
//! Fail closed: a limit, an unparsable message, or a panic anywhere inside
//! (caught here with `catch_unwind`) yields `output: None` and a Danger
//! finding; the original bytes are never returned. The default verdict is
//! quarantine when there is no output or any Danger finding; the caller's
//! policy may decide again from the report.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use mail_parser::MessageParser;

use crate::attachment::AttachmentSanitizer;
use crate::headers;
use crate::identity;
use crate::limits::{Budget, LimitExceeded, Limits};
use crate::notice;
use crate::rebuild::OutputMessage;
use crate::report::{Finding, InputSummary, REPORT_SCHEMA, Report, Severity, Timings, Verdict, codes};
use crate::walk::{Walker, hex};
use sha2::Digest;

/// The result of one run.
#[derive(Debug, Clone)]
pub struct Sanitized {
    pub report: Report,
    /// The sanitised message; `None` when the pipeline could not produce one
    /// it can vouch for (the message must be quarantined).
    pub output: Option<Vec<u8>>,
}

/// A configured sanitiser pipeline. Cheap to share between threads.
pub struct Pipeline {
    limits: Limits,
    sanitizers: Vec<Box<dyn AttachmentSanitizer>>,
    parser: MessageParser,
}

/// mail-parser set up for what the pipeline reads: MIME headers, the identity
/// headers, and nothing else (Received, DKIM, List-* … are not parsed, only
/// skipped: they never reach the output).
fn message_parser() -> MessageParser {
    use mail_parser::HeaderName;
    MessageParser::new()
        .with_mime_headers()
        .with_message_ids()
        .header_date(HeaderName::Date)
        .header_text(HeaderName::Subject)
        .header_address(HeaderName::From)
        .header_address(HeaderName::To)
        .header_address(HeaderName::Cc)
        .header_address(HeaderName::ReplyTo)
        .default_header_ignore()
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new(Limits::default())
    }
}

impl Pipeline {
    pub fn new(limits: Limits) -> Self {
        Pipeline { limits, sanitizers: Vec::new(), parser: message_parser() }
    }

    /// Adds an attachment sanitiser (renderer); the first that accepts an
    /// attachment handles it.
    pub fn with_sanitizer(mut self, sanitizer: Box<dyn AttachmentSanitizer>) -> Self {
        self.sanitizers.push(sanitizer);
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sanitises one message with the default decision (Danger quarantines).
    pub fn run(&self, raw: &[u8]) -> Sanitized {
        self.run_with(raw, None, &DefaultDecision)
    }

    /// Sanitises one message; `decide` (the policy) turns the report into the
    /// verdict; past `deadline` the run stops and quarantines. The output is
    /// returned only when the verdict is Deliver.
    pub fn run_with(&self, raw: &[u8], deadline: Option<Instant>, decide: &dyn Decide) -> Sanitized {
        let started = Instant::now();
        let digest = sha2::Sha256::digest(raw);
        let retrieval_id = retrieval_id_of_digest(&digest);
        let input_sha = hex(&digest);
        let result = catch_unwind(AssertUnwindSafe(|| self.run_inner(raw, deadline, &retrieval_id)));
        let (mut report, output) = match result {
            Ok(r) => r,
            Err(panic) => {
                let detail = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_string());
                let mut report = empty_report(&retrieval_id);
                report.findings.push(Finding::new(codes::INTERNAL_PANIC, Severity::Danger, "", detail));
                (report, None)
            }
        };
        report.input.size = raw.len() as u64;
        report.input.sha256 = input_sha;
        report.timings.total_us = started.elapsed().as_micros() as u64;
        let (verdict, reasons) = decide.decide(&report, output.is_some());
        report.verdict = verdict;
        report.reasons = reasons;
        Sanitized { report, output: if verdict == Verdict::Deliver { output } else { None } }
    }

    fn run_inner(&self, raw: &[u8], deadline: Option<Instant>, retrieval_id: &str) -> (Report, Option<Vec<u8>>) {
        let mut report = empty_report(retrieval_id);
        if let Err(stop) = self.pre_checks(raw) {
            report.findings.push(Finding::new(stop.code, Severity::Danger, "", stop.detail));
            return (report, None);
        }
        let raw = normalize_cr_only(raw, &mut report.findings);
        let raw = raw.as_ref();
        let t = Instant::now();
        let Some(msg) = self.parser.parse(raw) else {
            report.findings.push(Finding::new(codes::MIME_UNPARSABLE, Severity::Danger, "", "no header section found"));
            return (report, None);
        };
        report.timings.parse_us = t.elapsed().as_micros() as u64;

        let t = Instant::now();
        let identity = identity::read_identity(&msg, "1", &mut report.findings);
        let s = &identity.summary;
        report.input.from = s.from.clone();
        report.input.to = s.to.clone();
        report.input.subject = crate::text::display_name(&s.subject, 1000);
        report.input.date = s.date.clone();
        report.input.message_id = s.message_id.clone();

        let budget = Budget::new(&self.limits, raw.len(), deadline);
        let mut walker = Walker::new(&self.limits, &self.sanitizers, budget);
        let walked = walker.walk_message(&msg);
        report.findings.append(&mut walker.findings);
        report.parts = std::mem::take(&mut walker.parts);
        report.timings.sanitize_us = t.elapsed().as_micros() as u64;
        if let Err(stop) = walked.and_then(|_| walker.budget.check_deadline()) {
            report.findings.push(Finding::new(stop.code, Severity::Danger, "", stop.detail));
            return (report, None);
        }

        let t = Instant::now();
        let mut fields = identity.fields;
        if s.message_id.is_none() {
            fields.push(format!("Message-ID: <{}@mugaika.invalid>\r\n", retrieval_id.to_ascii_lowercase()));
        }
        fields.push(headers::encode_unstructured_field("X-Mugaika-Result", &result_summary(&report, &walker)));
        fields.push(format!("X-Mugaika-Retrieval-Id: {retrieval_id}\r\n"));
        let mut text = notice::write_notice(&walker.notice, walker.html_converted, retrieval_id);
        text.push('\n');
        text.push_str(walker.text.trim_start_matches('\n').trim_end());
        text.push('\n');
        let output = OutputMessage {
            header_fields: fields,
            text,
            renditions: std::mem::take(&mut walker.renditions),
            boundary_seed: retrieval_id.to_string(),
        };
        let bytes = output.write();
        report.timings.write_us = t.elapsed().as_micros() as u64;
        (report, Some(bytes))
    }

    /// Checks made before the parser sees the bytes.
    fn pre_checks(&self, raw: &[u8]) -> Result<(), LimitExceeded> {
        if raw.len() > self.limits.max_message_bytes {
            return Err(LimitExceeded::new(
                codes::LIMIT_SIZE,
                format!("{} bytes exceeds max_message_bytes {}", raw.len(), self.limits.max_message_bytes),
            ));
        }
        if is_empty_message(raw) {
            return Err(LimitExceeded::new(codes::MIME_EMPTY_MESSAGE, "the message is empty"));
        }
        // Nested messages are parsed into nested structures that are dropped
        // recursively: refuse absurd counts before building them.
        let nested = count_nested_message_types(raw);
        if nested > self.limits.max_parts {
            return Err(LimitExceeded::new(codes::LIMIT_PARTS, format!("{nested} nested message declarations")));
        }
        Ok(())
    }
}

/// Classic Mac mail ends lines with CR alone. Python's email package and
/// mail clients read those as line ends; mail-parser does not. A message with
/// no LF at all is read as they read it: every CR becomes CRLF. (A bare CR in
/// a message that otherwise uses LF stays, and is a finding of the walk.)
fn normalize_cr_only<'r>(raw: &'r [u8], findings: &mut Vec<Finding>) -> std::borrow::Cow<'r, [u8]> {
    if raw.contains(&b'\n') || !raw.contains(&b'\r') {
        return std::borrow::Cow::Borrowed(raw);
    }
    findings.push(Finding::new(codes::MIME_CR_LINE_ENDINGS, Severity::Info, "", "CR-only line endings read as CRLF"));
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 16);
    for &b in raw {
        out.push(b);
        if b == b'\r' {
            out.push(b'\n');
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Nothing but white space, possibly after trace fields (`Received:`,
/// `Return-Path:`) that relays add to every message, empty ones included.
fn is_empty_message(raw: &[u8]) -> bool {
    let mut rest = raw;
    // Only whole lines count (a CR-only message has no LF at all).
    while let Some(line_end) = memchr::memchr(b'\n', rest).map(|i| i + 1) {
        let line = &rest[..line_end];
        let is_trace = line.len() > 9
            && (line[..9].eq_ignore_ascii_case(b"received:")
                || line.get(..12).is_some_and(|l| l.eq_ignore_ascii_case(b"return-path:")));
        let is_continuation =
            matches!(line.first(), Some(b' ' | b'\t')) && !line.iter().all(|b| b.is_ascii_whitespace());
        if line.is_empty() || !(is_trace || (is_continuation && rest.len() != raw.len())) {
            break;
        }
        rest = &rest[line_end..];
    }
    rest.iter().all(|b| b.is_ascii_whitespace())
}

fn empty_report(retrieval_id: &str) -> Report {
    Report {
        schema: REPORT_SCHEMA,
        retrieval_id: retrieval_id.to_string(),
        verdict: Verdict::Quarantine,
        reasons: Vec::new(),
        input: InputSummary::default(),
        parts: Vec::new(),
        findings: Vec::new(),
        timings: Timings::default(),
    }
}

/// Turns a report into a verdict and the codes that caused a quarantine.
/// Implementations must quarantine when `has_output` is false.
pub trait Decide {
    fn decide(&self, report: &Report, has_output: bool) -> (Verdict, Vec<String>);
}

/// The default decision: quarantine when there is no output or any Danger finding.
pub struct DefaultDecision;

impl Decide for DefaultDecision {
    fn decide(&self, report: &Report, has_output: bool) -> (Verdict, Vec<String>) {
        default_verdict(report, has_output)
    }
}

fn default_verdict(report: &Report, has_output: bool) -> (Verdict, Vec<String>) {
    let mut reasons: Vec<String> = Vec::new();
    for f in report.findings.iter().filter(|f| f.severity == Severity::Danger) {
        if !reasons.iter().any(|r| r == f.code) {
            reasons.push(f.code.to_string());
        }
    }
    if !has_output && reasons.is_empty() {
        reasons.push(codes::INTERNAL_ERROR.to_string());
    }
    if reasons.is_empty() { (Verdict::Deliver, reasons) } else { (Verdict::Quarantine, reasons) }
}

/// `X-Mugaika-Result` value: verdict and actions in one short line.
fn result_summary(report: &Report, walker: &Walker<'_>) -> String {
    use crate::notice::ItemKind;
    let removed = walker.notice.iter().filter(|i| i.kind != ItemKind::Rendered).count();
    let rendered = walker.notice.len() - removed;
    let warnings = report.findings.iter().filter(|f| f.severity >= Severity::Warning).count();
    format!(
        "delivered; html={}; removed={removed}; rendered={rendered}; warnings={warnings}",
        if walker.html_converted { "converted" } else { "none" }
    )
}

/// Stable retrieval id: `MGK-` and 80 bits of the SHA-256 of the original in
/// Crockford base32, grouped by four (`MGK-7Q2M-XK4P-0D9R-A1BC`).
pub fn retrieval_id(raw: &[u8]) -> String {
    retrieval_id_of_digest(&sha2::Sha256::digest(raw))
}

fn retrieval_id_of_digest(digest: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bits: u128 = 0;
    for &b in &digest[..10] {
        bits = bits << 8 | b as u128;
    }
    let mut id = String::from("MGK");
    for i in 0..16 {
        if i % 4 == 0 {
            id.push('-');
        }
        let shift = 75 - 5 * i;
        id.push(ALPHABET[((bits >> shift) & 31) as usize] as char);
    }
    id
}

/// Occurrences of `message/rfc822` and `message/global` (ASCII
/// case-insensitive). Scans for the `/` and checks around it: one fast pass.
fn count_nested_message_types(raw: &[u8]) -> usize {
    let mut count = 0;
    let mut from = 0;
    while let Some(off) = raw.get(from..).and_then(|r| memchr::memchr(b'/', r)) {
        let slash = from + off;
        from = slash + 1;
        let before = slash.checked_sub(7).and_then(|s| raw.get(s..slash));
        let after = raw.get(slash + 1..);
        if before.is_some_and(|b| b.eq_ignore_ascii_case(b"message"))
            && after.is_some_and(|a| {
                a.get(..6).is_some_and(|w| w.eq_ignore_ascii_case(b"rfc822") || w.eq_ignore_ascii_case(b"global"))
            })
        {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retrieval_id_is_stable_and_formatted() {
        let a = retrieval_id(b"hello");
        assert_eq!(a, retrieval_id(b"hello"));
        assert_ne!(a, retrieval_id(b"hello!"));
        assert_eq!(a.len(), 3 + 4 * 5);
        assert!(a.starts_with("MGK-"));
    }

    #[test]
    fn empty_and_oversized_are_quarantined() {
        let p = Pipeline::default();
        let r = p.run(b"");
        assert!(r.output.is_none());
        assert_eq!(r.report.reasons, vec![codes::MIME_EMPTY_MESSAGE]);
        let p = Pipeline::new(Limits { max_message_bytes: 10, ..Limits::default() });
        let r = p.run(b"Subject: x\r\n\r\nhello world");
        assert_eq!(r.report.reasons, vec![codes::LIMIT_SIZE]);
    }

    #[test]
    fn simple_message_is_delivered() {
        let raw =
            b"From: a@example.jp\r\nTo: b@example.jp\r\nSubject: hi\r\nMessage-ID: <1@example.jp>\r\n\r\nhello\r\n";
        let r = Pipeline::default().run(raw);
        assert_eq!(r.report.verdict, Verdict::Deliver, "{:?}", r.report.findings);
        let out = String::from_utf8(r.output.unwrap()).unwrap();
        assert!(out.contains("Message-ID: <1@example.jp>\r\n"));
        assert!(out.contains("X-Mugaika-Retrieval-Id: MGK-"));
    }

    #[test]
    fn multipart_leaves_end_before_the_delimiter() {
        let raw = b"From: a@example.jp\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=x.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b1--\r\n";
        let r = Pipeline::default().run(raw);
        assert_eq!(r.report.verdict, Verdict::Deliver, "{:?}", r.report.findings);
        let codes = r.report.codes();
        assert!(!codes.contains(&codes::MIME_BOUNDARY_IN_BODY), "{codes:?}");
        assert!(!codes.contains(&codes::MIME_MISSING_CLOSE_BOUNDARY), "{codes:?}");
        let bin = r.report.parts.iter().find(|p| p.filename.as_deref() == Some("x.bin")).unwrap();
        assert_eq!(bin.size, 3);
    }

    #[test]
    fn empty_means_nothing_but_trace_fields_and_space() {
        assert!(is_empty_message(b""));
        assert!(is_empty_message(b"\r\n \r\n"));
        assert!(is_empty_message(
            b"Received: from a\r\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\r\nReturn-Path: <>\r\n\r\n"
        ));
        assert!(!is_empty_message(b"Received: from a\r\n\r\nbody"));
        assert!(!is_empty_message(b"Subject: x\r\n\r\n"));
        assert!(!is_empty_message(b" folded first line\r\n"));
        assert!(!is_empty_message(b"Received: from a\rFrom: b\r\rbody"));
    }

    #[test]
    fn counting_is_case_insensitive() {
        assert_eq!(count_nested_message_types(b"Message/RFC822 message/rfc822x message/Global /rfc822 message/"), 3);
    }
}
