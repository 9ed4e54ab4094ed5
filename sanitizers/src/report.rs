//! The report: what the pipeline found and did, per part and per message.
//!
//! The report is the auditor's record of one sanitisation and the only input
//! the policy looks at (besides the envelope). It is serialised as JSON by
//! `mugaika sanitize --report FILE`; the schema is documented in
//! `docs/report.md` and versioned by [`REPORT_SCHEMA`]. Add fields; never
//! rename or repurpose one.
//!
//! Findings carry a stable dotted code (see [`codes`]) and a severity. The
//! severity is the sanitiser's opinion; the policy (in the `mugaika` crate)
//! decides what a finding means for the message.

use serde::Serialize;

/// Version tag written into every report.
pub const REPORT_SCHEMA: &str = "mugaika.report/1";

/// How serious a finding is, in the sanitiser's opinion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Recorded for the auditor; nothing was at risk (e.g. a style sheet dropped).
    Info,
    /// Something active or suspicious was neutralised (a script dropped, an
    /// executable removed); the sanitised output is still safe.
    Warning,
    /// The sanitiser cannot vouch for its reading of the message (parser
    /// ambiguity, limit hit, encrypted content, internal error). The default
    /// policy quarantines.
    Danger,
}

/// One observation, with a stable dotted code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable dotted code, one of [`codes`].
    pub code: &'static str,
    pub severity: Severity,
    /// MIME path of the part it concerns (`""` for the whole message).
    pub part: String,
    /// Human-readable detail for the log and the administrator.
    pub detail: String,
}

impl Finding {
    pub fn new(code: &'static str, severity: Severity, part: &str, detail: impl Into<String>) -> Self {
        Finding { code, severity, part: part.to_string(), detail: detail.into() }
    }
}

/// What happened to one part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartAction {
    /// A container (multipart/*, message/rfc822) whose children were handled.
    Descended,
    /// Text kept (re-decoded and re-encoded as UTF-8 plain text).
    KeptAsText,
    /// Converted to plain text (HTML → text).
    ConvertedToText,
    /// The other rendition of a multipart/alternative was chosen instead.
    AlternativeNotChosen,
    /// Replaced by a safe rendition (PNG pages, text extraction).
    Rendered,
    /// Removed; named in the notice.
    Removed,
    /// Caused the whole message to be quarantined.
    Quarantined,
    /// Not examined because the message was already quarantined or a limit hit.
    Skipped,
}

/// One MIME part as the pipeline saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartReport {
    /// Path in the MIME tree: `"1"` is the top-level body, `"1.2"` its second
    /// child, `"1.2.1"` the body of a message/rfc822 attached there.
    pub path: String,
    /// Content-Type as declared (lower-case `type/subtype`).
    pub declared_type: String,
    /// Type detected from the content (magic bytes), `None` for containers.
    pub detected_type: Option<String>,
    /// Decoded filename (RFC 2231/2047, raw 8-bit repaired), if any.
    pub filename: Option<String>,
    /// Size of the decoded body in bytes.
    pub size: u64,
    /// SHA-256 of the decoded body, lower-case hex.
    pub sha256: Option<String>,
    pub action: PartAction,
    /// What replaced the part when it was rendered: each PNG or `.txt`
    /// rendition with its size and SHA-256 (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub renditions: Vec<RenditionReport>,
}

/// One rendition written into the output in place of an attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RenditionReport {
    pub filename: String,
    /// `image/png` or `text/plain`.
    pub content_type: &'static str,
    pub size: u64,
    pub sha256: String,
}

/// Final verdict of a sanitisation run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Deliver,
    Quarantine,
}

/// Stable finding codes. Add new codes here; never reuse or rename one.
pub mod codes {
    // --- MIME structure and parser ambiguity ---
    pub const MIME_AMBIGUOUS_CONTENT_TYPE: &str = "mime.ambiguous_content_type";
    pub const MIME_AMBIGUOUS_TRANSFER_ENCODING: &str = "mime.ambiguous_transfer_encoding";
    pub const MIME_DUPLICATE_PARAMETER: &str = "mime.duplicate_parameter";
    pub const MIME_BOUNDARY_PREFIX: &str = "mime.boundary_prefix";
    pub const MIME_BOUNDARY_IN_BODY: &str = "mime.boundary_in_body";
    pub const MIME_MISSING_CLOSE_BOUNDARY: &str = "mime.missing_close_boundary";
    pub const MIME_MISSING_BOUNDARY: &str = "mime.missing_boundary";
    pub const MIME_HEADER_NUL: &str = "mime.header_nul";
    pub const MIME_HEADER_BARE_CR: &str = "mime.header_bare_cr";
    pub const MIME_HEADER_BARE_LF: &str = "mime.header_bare_lf";
    pub const MIME_CONFLICTING_CHARSET: &str = "mime.conflicting_charset";
    pub const MIME_UNKNOWN_TRANSFER_ENCODING: &str = "mime.unknown_transfer_encoding";
    pub const MIME_BAD_ENCODING: &str = "mime.bad_encoding";
    pub const MIME_ALTERNATIVE_CHOSEN: &str = "mime.alternative_chosen";
    pub const MIME_EMPTY_MESSAGE: &str = "mime.empty_message";
    pub const MIME_UNPARSABLE: &str = "mime.unparsable";
    pub const MIME_CR_LINE_ENDINGS: &str = "mime.cr_line_endings";
    pub const MIME_UNPARSED_PART: &str = "mime.unparsed_part";
    // --- headers ---
    pub const HEADER_RAW_8BIT: &str = "header.raw_8bit";
    pub const HEADER_DUPLICATE: &str = "header.duplicate";
    pub const HEADER_DROPPED: &str = "header.dropped";
    pub const HEADER_DISPLAY_NAME_ADDRESS: &str = "header.display_name_address";
    // --- text and charsets ---
    pub const CHARSET_MISLABELED: &str = "charset.mislabeled";
    pub const CHARSET_UNKNOWN: &str = "charset.unknown";
    pub const CHARSET_UNDECLARED: &str = "charset.undeclared";
    pub const CHARSET_REPLACEMENT: &str = "charset.replacement";
    pub const TEXT_CONTROL_CHARS: &str = "text.control_chars";
    pub const TEXT_UUENCODE: &str = "text.uuencode";
    pub const TEXT_BIDI: &str = "text.bidi";
    // --- HTML ---
    pub const HTML_SCRIPT: &str = "html.script";
    pub const HTML_EVENT_HANDLER: &str = "html.event_handler";
    pub const HTML_IFRAME: &str = "html.iframe";
    pub const HTML_FORM: &str = "html.form";
    pub const HTML_OBJECT: &str = "html.object";
    pub const HTML_META_REFRESH: &str = "html.meta_refresh";
    pub const HTML_HIDDEN_TEXT: &str = "html.hidden_text";
    pub const HTML_STYLE: &str = "html.style";
    pub const HTML_COMMENT: &str = "html.comment";
    pub const HTML_JAVASCRIPT_URL: &str = "html.javascript_url";
    pub const HTML_DATA_URL: &str = "html.data_url";
    pub const HTML_UNSAFE_URL: &str = "html.unsafe_url";
    pub const HTML_REMOTE_IMAGE: &str = "html.remote_image";
    pub const HTML_TRACKING_PIXEL: &str = "html.tracking_pixel";
    pub const HTML_BASE_HREF: &str = "html.base_href";
    pub const LINK_MISMATCH: &str = "link.mismatch";
    // --- structure ---
    pub const MESSAGE_FORWARDED: &str = "message.forwarded";
    pub const SIGNATURE_REMOVED: &str = "signature.removed";
    pub const CRYPTO_ENCRYPTED: &str = "crypto.encrypted";
    pub const TNEF_CONTENTS: &str = "tnef.contents";
    // --- attachments ---
    pub const ATTACHMENT_REMOVED: &str = "attachment.removed";
    pub const ATTACHMENT_EXECUTABLE: &str = "attachment.executable";
    pub const ATTACHMENT_DOUBLE_EXTENSION: &str = "attachment.double_extension";
    pub const ATTACHMENT_BIDI_NAME: &str = "attachment.bidi_name";
    pub const ATTACHMENT_TYPE_MISMATCH: &str = "attachment.type_mismatch";
    // --- renderers (attachments turned into PNG pages or text) ---
    pub const ATTACHMENT_RENDERED: &str = "attachment.rendered";
    pub const ATTACHMENT_RENDER_FAILED: &str = "attachment.render_failed";
    pub const ATTACHMENT_POLICY_QUARANTINE: &str = "attachment.policy_quarantine";
    pub const IMAGE_METADATA: &str = "image.metadata";
    pub const IMAGE_ANIMATED: &str = "image.animated";
    pub const PDF_ACTIVE_CONTENT: &str = "pdf.active_content";
    pub const PDF_ENCRYPTED: &str = "pdf.encrypted";
    pub const PDF_PAGES_OMITTED: &str = "pdf.pages_omitted";
    pub const OFFICE_MACRO: &str = "office.macro";
    pub const ARCHIVE_ENCRYPTED: &str = "archive.encrypted";
    pub const ARCHIVE_MEMBER_UNREADABLE: &str = "archive.member_unreadable";
    /// A ZIP that other unzip tools may read differently (duplicate names,
    /// overlapping members, local and central names differ): what mugaika
    /// read is what it rendered; the original is not delivered.
    pub const ARCHIVE_ANOMALY: &str = "archive.anomaly";
    pub const OFFICE_ENCRYPTED: &str = "office.encrypted";
    pub const NESTED_MESSAGE: &str = "attachment.nested_message";
    // --- limits (always Danger: fail closed) ---
    pub const LIMIT_SIZE: &str = "limit.size";
    pub const LIMIT_DEPTH: &str = "limit.depth";
    pub const LIMIT_PARTS: &str = "limit.parts";
    pub const LIMIT_HEADER_BYTES: &str = "limit.header_bytes";
    pub const LIMIT_DECODED_BYTES: &str = "limit.decoded_bytes";
    pub const LIMIT_WORK: &str = "limit.work";
    pub const LIMIT_TIME: &str = "limit.time";
    /// An image whose header claims more pixels than allowed (decompression bomb).
    pub const LIMIT_IMAGE_PIXELS: &str = "limit.image_pixels";
    /// A ZIP member or archive over its size, ratio or entry limits (zip bomb).
    pub const LIMIT_ARCHIVE: &str = "limit.archive";
    /// Archives nested deeper than `render.archive_depth`.
    pub const LIMIT_ARCHIVE_DEPTH: &str = "limit.archive_depth";
    /// The renderer subprocess ran out of time or memory, or died.
    pub const LIMIT_RENDER: &str = "limit.render";
    // --- the pipeline itself ---
    pub const INTERNAL_PANIC: &str = "internal.panic";
    pub const INTERNAL_ERROR: &str = "internal.error";
}

/// Every finding code, for validating configuration.
pub const ALL_CODES: &[&str] = &[
    codes::MIME_AMBIGUOUS_CONTENT_TYPE,
    codes::MIME_AMBIGUOUS_TRANSFER_ENCODING,
    codes::MIME_DUPLICATE_PARAMETER,
    codes::MIME_BOUNDARY_PREFIX,
    codes::MIME_BOUNDARY_IN_BODY,
    codes::MIME_MISSING_CLOSE_BOUNDARY,
    codes::MIME_MISSING_BOUNDARY,
    codes::MIME_HEADER_NUL,
    codes::MIME_HEADER_BARE_CR,
    codes::MIME_HEADER_BARE_LF,
    codes::MIME_CONFLICTING_CHARSET,
    codes::MIME_UNKNOWN_TRANSFER_ENCODING,
    codes::MIME_BAD_ENCODING,
    codes::MIME_ALTERNATIVE_CHOSEN,
    codes::MIME_EMPTY_MESSAGE,
    codes::MIME_UNPARSABLE,
    codes::MIME_CR_LINE_ENDINGS,
    codes::MIME_UNPARSED_PART,
    codes::HEADER_RAW_8BIT,
    codes::HEADER_DUPLICATE,
    codes::HEADER_DROPPED,
    codes::HEADER_DISPLAY_NAME_ADDRESS,
    codes::CHARSET_MISLABELED,
    codes::CHARSET_UNKNOWN,
    codes::CHARSET_UNDECLARED,
    codes::CHARSET_REPLACEMENT,
    codes::TEXT_CONTROL_CHARS,
    codes::TEXT_UUENCODE,
    codes::TEXT_BIDI,
    codes::HTML_SCRIPT,
    codes::HTML_EVENT_HANDLER,
    codes::HTML_IFRAME,
    codes::HTML_FORM,
    codes::HTML_OBJECT,
    codes::HTML_META_REFRESH,
    codes::HTML_HIDDEN_TEXT,
    codes::HTML_STYLE,
    codes::HTML_COMMENT,
    codes::HTML_JAVASCRIPT_URL,
    codes::HTML_DATA_URL,
    codes::HTML_UNSAFE_URL,
    codes::HTML_REMOTE_IMAGE,
    codes::HTML_TRACKING_PIXEL,
    codes::HTML_BASE_HREF,
    codes::LINK_MISMATCH,
    codes::MESSAGE_FORWARDED,
    codes::SIGNATURE_REMOVED,
    codes::CRYPTO_ENCRYPTED,
    codes::TNEF_CONTENTS,
    codes::ATTACHMENT_REMOVED,
    codes::ATTACHMENT_EXECUTABLE,
    codes::ATTACHMENT_DOUBLE_EXTENSION,
    codes::ATTACHMENT_BIDI_NAME,
    codes::ATTACHMENT_TYPE_MISMATCH,
    codes::LIMIT_SIZE,
    codes::LIMIT_DEPTH,
    codes::LIMIT_PARTS,
    codes::LIMIT_HEADER_BYTES,
    codes::LIMIT_DECODED_BYTES,
    codes::LIMIT_WORK,
    codes::LIMIT_TIME,
    codes::INTERNAL_PANIC,
    codes::INTERNAL_ERROR,
    codes::ATTACHMENT_RENDERED,
    codes::ATTACHMENT_RENDER_FAILED,
    codes::ATTACHMENT_POLICY_QUARANTINE,
    codes::IMAGE_METADATA,
    codes::IMAGE_ANIMATED,
    codes::PDF_ACTIVE_CONTENT,
    codes::PDF_ENCRYPTED,
    codes::PDF_PAGES_OMITTED,
    codes::OFFICE_MACRO,
    codes::ARCHIVE_ENCRYPTED,
    codes::ARCHIVE_MEMBER_UNREADABLE,
    codes::ARCHIVE_ANOMALY,
    codes::OFFICE_ENCRYPTED,
    codes::NESTED_MESSAGE,
    codes::LIMIT_IMAGE_PIXELS,
    codes::LIMIT_ARCHIVE,
    codes::LIMIT_ARCHIVE_DEPTH,
    codes::LIMIT_RENDER,
];

/// The message as received, for the report (decoded, display-safe).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InputSummary {
    pub size: u64,
    pub sha256: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub date: String,
    pub message_id: Option<String>,
}

/// Microseconds spent per stage (informational; never affects the output).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    pub parse_us: u64,
    pub sanitize_us: u64,
    pub write_us: u64,
    pub total_us: u64,
}

/// The whole report of one run. See `docs/report.md` for the JSON schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub schema: &'static str,
    /// Stable id derived from the original bytes (same input, same id).
    pub retrieval_id: String,
    /// The decision. The pipeline fills in its default (quarantine when there
    /// is no output or any Danger finding); the policy may decide again.
    pub verdict: Verdict,
    /// Finding codes that caused a quarantine (empty when delivered).
    pub reasons: Vec<String>,
    pub input: InputSummary,
    /// Every part examined, in document order.
    pub parts: Vec<PartReport>,
    pub findings: Vec<Finding>,
    pub timings: Timings,
}

impl Report {
    /// Distinct finding codes, in first-seen order.
    pub fn codes(&self) -> Vec<&'static str> {
        let mut seen: Vec<&'static str> = Vec::new();
        for f in &self.findings {
            if !seen.contains(&f.code) {
                seen.push(f.code);
            }
        }
        seen
    }

    /// The highest severity among the findings.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}
