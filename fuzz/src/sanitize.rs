//! The `sanitize` target: the whole pipeline, renderers included (in process, at small limits), bytes in.
//!
//! The pipeline runs with a *permissive* decision ([`Permissive`]): it
//! delivers every output the pipeline produced unless a finding is one the
//! relay's policy can never override (`limit.*`, `internal.*`,
//! `mime.unparsable`, `mime.empty_message`). An administrator may set any
//! other finding to "record", so every output the pipeline writes must be
//! safe, not only those the default policy delivers.
//!
//! Oracles, for every input:
//! 1. no panic (libFuzzer aborts on any panic, also one the pipeline would
//!    catch) and no `internal.*` finding;
//! 2. when there is an output:
//!    * `verify_output` (the project's verifier) finds no violation;
//!    * mail-parser re-parses it, and sees only `text/plain` and `image/png`
//!      leaves, at least one `text/plain`;
//!    * `output_text` can decode it;
//!    * idempotence: sanitising the output again yields an output, with no
//!      Danger finding the first run did not have (an output delivered only
//!      because a policy records, say, `crypto.encrypted` still shows the
//!      inline PGP block), whose text (notices stripped, trimmed) is the same.

use std::sync::LazyLock;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use mugaika_sanitizers::Limits;
use mugaika_sanitizers::notice::strip_notices;
use mugaika_sanitizers::render::{Isolation, RenderConfig, Renderers};
use mugaika_sanitizers::report::Severity;
use mugaika_sanitizers::verify::{VerifyConfig, output_text, verify_output};
use mugaika_sanitizers::{Decide, Pipeline, Report, Sanitized, Verdict};

use crate::show;

/// Codes the relay's policy always quarantines (`mugaika::policy`).
const ALWAYS_QUARANTINE: &[&str] = &["limit.", "internal.", "mime.unparsable", "mime.empty_message"];

/// Delivers every output except when a never-overridable finding is present.
pub struct Permissive;

impl Decide for Permissive {
    fn decide(&self, report: &Report, has_output: bool) -> (Verdict, Vec<String>) {
        let mut reasons: Vec<String> = report
            .findings
            .iter()
            .filter(|f| ALWAYS_QUARANTINE.iter().any(|p| f.code.starts_with(p)))
            .map(|f| f.code.to_string())
            .collect();
        reasons.dedup();
        if !has_output && reasons.is_empty() {
            reasons.push("internal.error".to_string());
        }
        if reasons.is_empty() { (Verdict::Deliver, reasons) } else { (Verdict::Quarantine, reasons) }
    }
}

/// The pipeline with the renderers in process, at small limits (1 PDF page
/// at 36 dpi, images ≤ 128 px, no CJK font) so one input stays well under 1 s.
static PIPELINE: LazyLock<Pipeline> = LazyLock::new(|| {
    let limits = Limits::default();
    let config = RenderConfig {
        pdf_dpi: 36,
        pdf_max_pages: 1,
        pdf_max_page_pixels: 300_000,
        pdf_max_objects: 20_000,
        image_max_width: 128,
        image_max_height: 128,
        image_max_source_pixels: 4_000_000,
        image_max_alloc_bytes: 64 << 20,
        archive_max_member_bytes: 1 << 20,
        archive_max_total_bytes: 4 << 20,
        archive_max_entries: 64,
        text_max_bytes: 64 << 10,
        max_renditions: 8,
        cjk_font: String::new(),
        isolation: Isolation::InProcess,
        ..RenderConfig::default()
    };
    Pipeline::new(limits.clone()).with_sanitizer(Box::new(Renderers::new(config, None, &limits)))
});

/// Runs the pipeline with the permissive decision.
pub fn run(raw: &[u8]) -> Sanitized {
    PIPELINE.run_with(raw, None, &Permissive)
}

fn codes(report: &Report) -> Vec<&'static str> {
    report.codes()
}

/// The checks of the module doc.
pub fn check(raw: &[u8]) {
    let first = run(raw);
    let report = &first.report;
    if let Some(f) = report.findings.iter().find(|f| f.code.starts_with("internal.")) {
        panic!("sanitize: internal finding {} ({}) on input {}", f.code, f.detail, show(raw));
    }
    let Some(out) = first.output.as_deref() else { return };
    let default_delivers = !report.findings.iter().any(|f| f.severity == Severity::Danger);

    let violations = verify_output(out, &VerifyConfig::default());
    if !violations.is_empty() {
        panic!(
            "sanitize: output fails verify_output (default policy would {}): {violations:?}\ncodes {:?}\ninput {}\noutput {}",
            if default_delivers { "deliver" } else { "quarantine" },
            codes(report),
            show(raw),
            show(out)
        );
    }

    check_reparse(raw, out);

    let Some(text1) = output_text(out) else {
        panic!("sanitize: output_text cannot decode the output\ninput {}\noutput {}", show(raw), show(out));
    };

    let second = run(out);
    let Some(out2) = second.output.as_deref() else {
        panic!(
            "sanitize: the output is not delivered when sanitised again: reasons {:?}, codes {:?}\ninput {}\noutput {}",
            second.report.reasons,
            codes(&second.report),
            show(raw),
            show(out)
        );
    };
    let first_danger: Vec<&str> =
        report.findings.iter().filter(|f| f.severity == Severity::Danger).map(|f| f.code).collect();
    if let Some(f) =
        second.report.findings.iter().find(|f| f.severity == Severity::Danger && !first_danger.contains(&f.code))
    {
        panic!(
            "sanitize: our own output raises a new Danger finding {} ({}) when sanitised again\ninput {}\noutput {}",
            f.code,
            f.detail,
            show(raw),
            show(out)
        );
    }
    let Some(text2) = output_text(out2) else {
        panic!("sanitize: output_text cannot decode the second output\ninput {}\noutput {}", show(raw), show(out2));
    };
    let a = strip_notices(&text1).trim();
    let b = strip_notices(&text2).trim();
    if a != b {
        let at = a.bytes().zip(b.bytes()).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
        panic!(
            "sanitize: not idempotent: texts differ from byte {at}\nfirst  {:?}\nsecond {:?}\ninput {}\noutput {}",
            around(a, at),
            around(b, at),
            show(raw),
            show(out)
        );
    }
}

/// mail-parser must read the output as a message whose leaves are only
/// text/plain and image/png, with at least one text/plain.
fn check_reparse(raw: &[u8], out: &[u8]) {
    let Some(msg) = MessageParser::default().parse(out) else {
        panic!("sanitize: mail-parser cannot parse the output\ninput {}\noutput {}", show(raw), show(out));
    };
    let mut text_leaves = 0;
    for (i, part) in msg.parts.iter().enumerate() {
        let ct = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_ascii_lowercase())
            .unwrap_or_else(|| "text/plain".to_string());
        match &part.body {
            PartType::Multipart(_) => {
                if !ct.starts_with("multipart/") {
                    panic!("sanitize: mail-parser sees a container of type {ct}\noutput {}", show(out));
                }
            }
            PartType::Text(_) if ct == "text/plain" => text_leaves += 1,
            PartType::Binary(_) | PartType::InlineBinary(_) if ct == "image/png" => {}
            other => panic!(
                "sanitize: mail-parser sees a {} leaf of type {ct} (part {i})\ninput {}\noutput {}",
                match other {
                    PartType::Text(_) => "text",
                    PartType::Html(_) => "html",
                    PartType::Binary(_) => "binary",
                    PartType::InlineBinary(_) => "inline binary",
                    PartType::Message(_) => "message",
                    PartType::Multipart(_) => "multipart",
                },
                show(raw),
                show(out)
            ),
        }
    }
    if text_leaves == 0 {
        panic!("sanitize: mail-parser sees no text/plain leaf\ninput {}\noutput {}", show(raw), show(out));
    }
}

/// About 300 characters of `s` from 80 bytes before `at` (on a character boundary).
fn around(s: &str, at: usize) -> String {
    let mut start = at.saturating_sub(80).min(s.len());
    while !s.is_char_boundary(start) {
        start -= 1;
    }
    s.get(start..).unwrap_or(s).chars().take(300).collect()
}
