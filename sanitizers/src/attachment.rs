//! The attachment step: every part that is not body text comes here.
//!
//! An attachment is described by an [`Attachment`] (decoded bytes, the type
//! detected from its content, its decoded filename, its hash). Renderers plug
//! in as [`AttachmentSanitizer`]s: the first one that `accepts` the attachment
//! turns it into an [`AttachmentAction`]. When none accepts it, it is removed
//! and named in the notice: the design is an allow-list.
//!
//! Checks that hold for every attachment whatever becomes of it (executable
//! content or name, double extension, bidi characters in the name, declared
//! type contradicting the content) are made here, once, by
//! [`attachment_findings`].

use crate::limits::{Budget, LimitExceeded};
use crate::rebuild::Rendition;
use crate::report::{Finding, Severity, codes};
use crate::sniff::{self, Detected, Kind};
use crate::text::is_bidi_control;

/// One attachment as the sanitisers see it.
#[derive(Debug)]
pub struct Attachment<'a> {
    /// MIME path (for findings).
    pub path: &'a str,
    /// Decoded filename, if any (may contain anything: display it with `text::display_name`).
    pub filename: Option<&'a str>,
    /// Declared Content-Type, lower-case.
    pub declared_type: &'a str,
    /// Type detected from the bytes.
    pub detected: Detected,
    /// Decoded content.
    pub data: &'a [u8],
    /// SHA-256 of `data`, lower-case hex.
    pub sha256: &'a str,
}

/// What a sanitiser decided for one attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentAction {
    /// Replace with safe renditions (PNG pages, a `.txt` extraction), plus a
    /// line of text for the notice (e.g. "3 of 12 pages rendered") and
    /// further lines shown under it (metadata, archive members).
    Render { renditions: Vec<Rendition>, note: String, extra: Vec<String> },
    /// Remove; named in the notice, with why (`note`, may be empty) and
    /// further lines.
    Remove { note: String, extra: Vec<String> },
    /// The message must be quarantined (e.g. an encrypted archive by policy).
    Quarantine { code: &'static str, detail: String },
}

impl AttachmentAction {
    /// Removed, with nothing more to say.
    pub fn removed() -> Self {
        AttachmentAction::Remove { note: String::new(), extra: Vec::new() }
    }
}

/// A renderer or other specialist for some kinds of attachment.
pub trait AttachmentSanitizer: Send + Sync {
    /// Short name for the report.
    fn name(&self) -> &'static str;
    /// Whether this sanitiser handles the attachment (decided on the detected type).
    fn accepts(&self, attachment: &Attachment<'_>) -> bool;
    /// Turns the attachment into an action. Must charge `budget` for its work
    /// and stay within it; record what it finds in `findings`.
    fn sanitize(
        &self,
        attachment: &Attachment<'_>,
        budget: &mut Budget,
        findings: &mut Vec<Finding>,
    ) -> Result<AttachmentAction, LimitExceeded>;
}

/// Findings that hold for any attachment, whatever is done with it.
pub fn attachment_findings(a: &Attachment<'_>, findings: &mut Vec<Finding>) {
    let name = a.filename.unwrap_or("");
    let label = if name.is_empty() { "(unnamed)".to_string() } else { crate::text::display_name(name, 200) };
    if a.detected.kind == Kind::Executable || a.detected.kind == Kind::Script || sniff::is_dangerous_name(name) {
        findings.push(Finding::new(
            codes::ATTACHMENT_EXECUTABLE,
            Severity::Warning,
            a.path,
            format!("{label}: {} ({})", a.detected.description, a.detected.mime),
        ));
    }
    if sniff::has_double_extension(name) {
        findings.push(Finding::new(codes::ATTACHMENT_DOUBLE_EXTENSION, Severity::Warning, a.path, label.clone()));
    }
    if name.chars().any(|c| is_bidi_control(c) || c.is_control()) {
        findings.push(Finding::new(codes::ATTACHMENT_BIDI_NAME, Severity::Warning, a.path, label.clone()));
    }
    if declared_contradicts(a.declared_type, &a.detected) {
        findings.push(Finding::new(
            codes::ATTACHMENT_TYPE_MISMATCH,
            Severity::Warning,
            a.path,
            format!("{label}: declared {}, content is {}", a.declared_type, a.detected.mime),
        ));
    }
}

/// A declared type that names a harmless family while the content is
/// executable or of another family. Generic declarations
/// (application/octet-stream) contradict nothing.
fn declared_contradicts(declared: &str, detected: &Detected) -> bool {
    let family = declared.split('/').next().unwrap_or("");
    if declared == "application/octet-stream" || declared.is_empty() {
        return false;
    }
    match detected.kind {
        Kind::Executable => !declared.contains("msdownload") && !declared.contains("executable"),
        Kind::Image => family != "image",
        Kind::Pdf => declared != "application/pdf" && !declared.contains("pdf"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn att<'a>(name: Option<&'a str>, declared: &'a str, data: &'a [u8]) -> Attachment<'a> {
        Attachment {
            path: "1.2",
            filename: name,
            declared_type: declared,
            detected: sniff::detect(data, name),
            data,
            sha256: "",
        }
    }

    #[test]
    fn executable_disguised_as_image_is_reported_twice() {
        let mut pe = vec![0u8; 256];
        pe[0] = b'M';
        pe[1] = b'Z';
        pe[0x3c] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        let a = att(Some("photo.jpg"), "image/jpeg", &pe);
        let mut f = Vec::new();
        attachment_findings(&a, &mut f);
        let codes: Vec<_> = f.iter().map(|f| f.code).collect();
        assert!(codes.contains(&codes::ATTACHMENT_EXECUTABLE), "{codes:?}");
        assert!(codes.contains(&codes::ATTACHMENT_TYPE_MISMATCH), "{codes:?}");
    }

    #[test]
    fn rtlo_name_is_reported() {
        let a = att(Some("invoice\u{202E}fdp.exe"), "application/octet-stream", b"hello");
        let mut f = Vec::new();
        attachment_findings(&a, &mut f);
        assert!(f.iter().any(|f| f.code == codes::ATTACHMENT_BIDI_NAME));
        assert!(f.iter().all(|f| !f.detail.contains('\u{202E}')));
    }
}
