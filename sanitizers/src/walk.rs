//! The walk over the MIME tree: which part becomes body text, which is an
//! attachment, which container is descended into and how.
//!
//! mail-parser gives the structure (a flat list of parts with child ids and
//! byte offsets). The walker visits it depth-first in document order and for
//! each part:
//!
//! 1. checks the limits (depth, part count, header bytes, work budget) and the
//!    parser-ambiguity signals of its header section ([`crate::ambiguity`]);
//! 2. reads its Content-Type, Content-Transfer-Encoding and
//!    Content-Disposition with our own header decoder (raw 8-bit names,
//!    RFC 2231) and cross-checks them against mail-parser's reading;
//! 3. dispatches: multipart/* by subtype (alternative → one rendition,
//!    related → root as body and the rest as inline images, signed → content
//!    without signature, encrypted → quarantine, anything else → every
//!    child), message/rfc822 → flattened into the text under a separator,
//!    leaves → body text (plain, or HTML converted) or the attachment step.
//!
//! Leaves are decoded from the raw bytes by [`crate::transfer`] and
//! [`crate::charset`], not from mail-parser's decoded text, so mislabelled
//! charsets can be detected. The walker stops at the first limit hit (the
//! message will be quarantined); every other problem is a finding and the
//! walk goes on.

use mail_parser::{Message, MessagePart, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use crate::ambiguity::{self, BoundarySet};
use crate::attachment::{Attachment, AttachmentAction, AttachmentSanitizer, attachment_findings};
use crate::charset;
use crate::headers::{self, ContentParams};
use crate::html;
use crate::identity;
use crate::limits::{Budget, LimitExceeded, Limits};
use crate::notice::{ItemKind, NoticeItem, format_size};
use crate::rebuild::Rendition;
use crate::report::{Finding, PartAction, PartReport, Severity, codes};
use crate::sniff;
use crate::text;
use crate::tnef;
use crate::transfer::{self, TransferEncoding};
use crate::uuencode;

type Step = Result<(), LimitExceeded>;

/// How the parent wants a part treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Text parts become body text; other parts are attachments.
    Body,
    /// Everything is an attachment (secondary parts of multipart/related are
    /// inline images).
    InlineImage,
}

/// What the walk produced; assembled into the output by the pipeline.
pub struct Walker<'a> {
    limits: &'a Limits,
    sanitizers: &'a [Box<dyn AttachmentSanitizer>],
    pub budget: Budget,
    pub findings: Vec<Finding>,
    pub parts: Vec<PartReport>,
    pub text: String,
    pub notice: Vec<NoticeItem>,
    pub renditions: Vec<Rendition>,
    pub html_converted: bool,
    part_count: usize,
    boundaries: BoundarySet,
    /// Boundaries of the multiparts enclosing the part being walked.
    open_boundaries: Vec<Vec<u8>>,
}

/// A part's MIME headers as we read them.
struct PartInfo {
    /// type/subtype as mail-parser structured the part (lower-case).
    mime: String,
    params: ContentParams,
    cte: TransferEncoding,
    disposition: Option<String>,
    filename: Option<String>,
}

impl<'a> Walker<'a> {
    pub fn new(limits: &'a Limits, sanitizers: &'a [Box<dyn AttachmentSanitizer>], budget: Budget) -> Self {
        Walker {
            limits,
            sanitizers,
            budget,
            findings: Vec::new(),
            parts: Vec::new(),
            text: String::new(),
            notice: Vec::new(),
            renditions: Vec::new(),
            html_converted: false,
            part_count: 0,
            boundaries: BoundarySet::new(),
            open_boundaries: Vec::new(),
        }
    }

    /// Walks a whole (top-level) message.
    pub fn walk_message(&mut self, msg: &Message<'_>) -> Step {
        self.collect_boundaries(msg, 0)?;
        for (short, long) in self.boundaries.prefix_pairs() {
            self.findings.push(Finding::new(
                codes::MIME_BOUNDARY_PREFIX,
                Severity::Danger,
                "",
                format!("boundary {short:?} is a prefix of boundary {long:?}"),
            ));
        }
        self.walk_part(msg, 0, "1", 0, Role::Body)
    }

    /// Gathers every boundary of the message (nested messages included)
    /// before the walk, so body lines can be checked against all of them.
    fn collect_boundaries(&mut self, msg: &Message<'_>, depth: usize) -> Step {
        if depth > self.limits.max_depth {
            return Err(LimitExceeded::new(codes::LIMIT_DEPTH, "messages nested too deep"));
        }
        for part in &msg.parts {
            if let Some(b) = part.content_type().and_then(|ct| ct.attribute("boundary")) {
                if b.len() > ambiguity::MAX_BOUNDARY_LEN {
                    self.findings.push(Finding::new(
                        codes::MIME_BOUNDARY_PREFIX,
                        Severity::Danger,
                        "",
                        format!("boundary of {} bytes (RFC 2046 allows 70)", b.len()),
                    ));
                }
                self.boundaries.insert(b.as_bytes());
            }
            if let PartType::Message(nested) = &part.body {
                self.collect_boundaries(nested, depth + 1)?;
            }
        }
        Ok(())
    }

    fn walk_part(&mut self, msg: &Message<'_>, id: usize, path: &str, depth: usize, role: Role) -> Step {
        if depth > self.limits.max_depth {
            return Err(LimitExceeded::new(
                codes::LIMIT_DEPTH,
                format!("nesting deeper than {}", self.limits.max_depth),
            ));
        }
        self.part_count += 1;
        if self.part_count > self.limits.max_parts {
            return Err(LimitExceeded::new(codes::LIMIT_PARTS, format!("more than {} parts", self.limits.max_parts)));
        }
        let Some(part) = msg.parts.get(id) else {
            self.findings.push(Finding::new(
                codes::MIME_UNPARSABLE,
                Severity::Danger,
                path,
                "part missing from the parse",
            ));
            return Ok(());
        };
        let raw = msg.raw_message.as_ref();
        let section = raw.get(part.offset_header as usize..part.offset_body as usize).unwrap_or(b"");
        if section.len() > self.limits.max_header_bytes {
            return Err(LimitExceeded::new(
                codes::LIMIT_HEADER_BYTES,
                format!("header section of {} bytes at {path}", section.len()),
            ));
        }
        self.budget.charge(section.len())?;
        ambiguity::check_header_section(section, path, &mut self.findings);
        let info = self.part_info(raw, part, path);

        match &part.body {
            PartType::Multipart(children) => self.walk_multipart(msg, part, &info, children, path, depth),
            PartType::Message(nested) => self.walk_nested(nested, &info, path, depth),
            _ if info.mime.starts_with("multipart/") => {
                // No boundary: the parser kept the body as one leaf; it is text.
                self.findings.push(Finding::new(
                    codes::MIME_MISSING_BOUNDARY,
                    Severity::Warning,
                    path,
                    "multipart without boundary read as text",
                ));
                let info = PartInfo { mime: "text/plain".to_string(), ..info };
                self.walk_leaf(raw, part, &info, path, role)
            }
            _ => self.walk_leaf(raw, part, &info, path, role),
        }
    }

    /// Reads Content-Type / -Transfer-Encoding / -Disposition and records
    /// where readings can differ.
    fn part_info(&mut self, raw: &[u8], part: &MessagePart<'_>, path: &str) -> PartInfo {
        use mail_parser::HeaderName;
        let values = |name: HeaderName<'static>| -> Vec<&[u8]> {
            part.headers
                .iter()
                .filter(|h| h.name == name)
                .map(|h| raw.get(h.offset_start as usize..h.offset_end as usize).unwrap_or(b""))
                .collect()
        };
        let ct_values = values(HeaderName::ContentType);
        let cte_values = values(HeaderName::ContentTransferEncoding);
        let cd_values = values(HeaderName::ContentDisposition);
        self.check_duplicates(&ct_values, codes::MIME_AMBIGUOUS_CONTENT_TYPE, "Content-Type", path);
        self.check_duplicates(&cte_values, codes::MIME_AMBIGUOUS_TRANSFER_ENCODING, "Content-Transfer-Encoding", path);
        self.check_duplicates(&cd_values, codes::MIME_DUPLICATE_PARAMETER, "Content-Disposition", path);

        // mail-parser uses the last occurrence; so do we, to read the same part.
        let mime = match part.content_type() {
            Some(ct) => mime_of(ct),
            None => match &part.body {
                PartType::Message(_) => "message/rfc822".to_string(),
                _ => "text/plain".to_string(),
            },
        };
        let params = headers::parse_content_params(ct_values.last().copied().unwrap_or(b""));
        if params.value.contains('/') && params.value != mime {
            self.findings.push(Finding::new(
                codes::MIME_AMBIGUOUS_CONTENT_TYPE,
                Severity::Danger,
                path,
                format!("Content-Type read as {mime} by the parser but {} by the header decoder", params.value),
            ));
        }
        self.param_conflicts(&params, path);
        if ct_values.iter().chain(cd_values.iter()).any(|v| !v.is_ascii()) {
            self.findings.push(Finding::new(
                codes::HEADER_RAW_8BIT,
                Severity::Info,
                path,
                "MIME header with raw 8-bit bytes (decoded)",
            ));
        }
        if params.limited {
            self.findings.push(Finding::new(
                codes::LIMIT_HEADER_BYTES,
                Severity::Danger,
                path,
                "Content-Type parameters exceed the decoder's limits",
            ));
        }
        let cte_raw = cte_values.last().map(|v| String::from_utf8_lossy(v).into_owned());
        let cte = TransferEncoding::from_header(cte_raw.as_deref());
        if cte == TransferEncoding::Unknown {
            self.findings.push(Finding::new(
                codes::MIME_UNKNOWN_TRANSFER_ENCODING,
                Severity::Warning,
                path,
                format!("Content-Transfer-Encoding {:?}", text::display_name(cte_raw.as_deref().unwrap_or(""), 60)),
            ));
        }
        let cd = cd_values.last().map(|v| headers::parse_content_params(v));
        if let Some(cd) = &cd {
            self.param_conflicts(cd, path);
            if cd.limited {
                self.findings.push(Finding::new(
                    codes::LIMIT_HEADER_BYTES,
                    Severity::Danger,
                    path,
                    "Content-Disposition parameters exceed the decoder's limits",
                ));
            }
        }
        let filename = cd
            .as_ref()
            .and_then(|cd| cd.get("filename"))
            .or_else(|| params.get("name"))
            .map(str::to_string)
            .filter(|f| !f.trim().is_empty());
        let disposition = cd.map(|cd| cd.value).filter(|v| !v.is_empty());
        PartInfo { mime, params, cte, disposition, filename }
    }

    fn check_duplicates(&mut self, values: &[&[u8]], code: &'static str, name: &str, path: &str) {
        if let Some((first, rest)) = values.split_first() {
            let a = ambiguity::normalized_value(first);
            if rest.iter().any(|v| ambiguity::normalized_value(v) != a) {
                self.findings.push(Finding::new(
                    code,
                    Severity::Danger,
                    path,
                    format!("{} {name} headers with different values", values.len()),
                ));
            }
        }
    }

    fn param_conflicts(&mut self, params: &ContentParams, path: &str) {
        for (name, a, b) in &params.conflicts {
            let (code, severity) = match name.as_str() {
                "boundary" => (codes::MIME_DUPLICATE_PARAMETER, Severity::Danger),
                "charset" => (codes::MIME_CONFLICTING_CHARSET, Severity::Warning),
                _ => (codes::MIME_DUPLICATE_PARAMETER, Severity::Warning),
            };
            self.findings.push(Finding::new(
                code,
                severity,
                path,
                format!(
                    "parameter {name} given as {:?} and {:?}",
                    text::display_name(a, 80),
                    text::display_name(b, 80)
                ),
            ));
        }
    }

    fn push_part(&mut self, path: &str, info: &PartInfo, action: PartAction) -> usize {
        self.parts.push(PartReport {
            path: path.to_string(),
            declared_type: info.mime.clone(),
            detected_type: None,
            filename: info.filename.as_deref().map(|f| text::display_name(f, 255)),
            size: 0,
            sha256: None,
            action,
            renditions: Vec::new(),
        });
        self.parts.len() - 1
    }

    // ----- containers -----

    fn walk_multipart(
        &mut self,
        msg: &Message<'_>,
        part: &MessagePart<'_>,
        info: &PartInfo,
        children: &[u32],
        path: &str,
        depth: usize,
    ) -> Step {
        self.push_part(path, info, PartAction::Descended);
        let raw = msg.raw_message.as_ref();
        match info.params.get("boundary").or_else(|| part.content_type().and_then(|c| c.attribute("boundary"))) {
            None => self.findings.push(Finding::new(
                codes::MIME_MISSING_BOUNDARY,
                Severity::Warning,
                path,
                "multipart without boundary",
            )),
            Some(boundary) => {
                let body = raw.get(part.offset_body as usize..part.offset_end as usize).unwrap_or(b"");
                self.budget.charge(body.len())?;
                let scan = ambiguity::scan_multipart_body(body, boundary.as_bytes(), &self.boundaries);
                if !scan.has_close {
                    self.findings.push(Finding::new(
                        codes::MIME_MISSING_CLOSE_BOUNDARY,
                        Severity::Warning,
                        path,
                        "no closing boundary delimiter",
                    ));
                }
                if let Some(line) = scan.prefix_only_line {
                    self.findings.push(Finding::new(
                        codes::MIME_BOUNDARY_IN_BODY,
                        Severity::Danger,
                        path,
                        format!(
                            "line {:?} is a delimiter only for parsers matching boundaries as prefixes",
                            text::display_name(&line, 100)
                        ),
                    ));
                }
                if scan.opening_delimiters > children.len() {
                    self.findings.push(Finding::new(
                        codes::MIME_UNPARSED_PART,
                        Severity::Danger,
                        path,
                        format!(
                            "{} delimiter lines but the parser found {} parts: a part was not read",
                            scan.opening_delimiters,
                            children.len()
                        ),
                    ));
                }
                if scan.delimiter_after_close {
                    self.findings.push(Finding::new(
                        codes::MIME_BOUNDARY_IN_BODY,
                        Severity::Danger,
                        path,
                        "a delimiter line after the closing delimiter (a part hidden in the epilogue)",
                    ));
                }
                if self.open_boundaries.iter().any(|b| b.as_slice() == boundary.as_bytes()) {
                    self.findings.push(Finding::new(
                        codes::MIME_BOUNDARY_PREFIX,
                        Severity::Danger,
                        path,
                        "a nested multipart reuses the boundary of an enclosing one",
                    ));
                }
            }
        }
        let boundary = info.params.get("boundary").map(|b| b.as_bytes().to_vec()).unwrap_or_default();
        self.open_boundaries.push(boundary);
        let walked = self.walk_multipart_children(msg, info, children, path, depth);
        self.open_boundaries.pop();
        walked
    }

    fn walk_multipart_children(
        &mut self,
        msg: &Message<'_>,
        info: &PartInfo,
        children: &[u32],
        path: &str,
        depth: usize,
    ) -> Step {
        let child_path = |i: usize| format!("{path}.{}", i + 1);
        let subtype = info.mime.strip_prefix("multipart/").unwrap_or("mixed");
        match subtype {
            "alternative" => self.walk_alternative(msg, children, path, depth),
            "related" => {
                let root = self.related_root(msg, info, children);
                for (i, &c) in children.iter().enumerate() {
                    let role = if i == root { Role::Body } else { Role::InlineImage };
                    self.walk_part(msg, c as usize, &child_path(i), depth + 1, role)?;
                }
                Ok(())
            }
            "signed" => {
                for (i, &c) in children.iter().enumerate() {
                    if i == 0 {
                        self.walk_part(msg, c as usize, &child_path(i), depth + 1, Role::Body)?;
                    } else {
                        self.remove_signature(msg, c as usize, &child_path(i))?;
                    }
                }
                Ok(())
            }
            "encrypted" => {
                self.findings.push(Finding::new(
                    codes::CRYPTO_ENCRYPTED,
                    Severity::Danger,
                    path,
                    "multipart/encrypted content cannot be inspected",
                ));
                Ok(())
            }
            _ => {
                for (i, &c) in children.iter().enumerate() {
                    self.walk_part(msg, c as usize, &child_path(i), depth + 1, Role::Body)?;
                }
                Ok(())
            }
        }
    }

    /// multipart/alternative: one rendition we can show faithfully. HTML (or a
    /// multipart/related around it) is preferred: its conversion keeps link
    /// destinations and tables that generated text renditions often lose;
    /// otherwise the last showable one (RFC 2046: the last is the richest).
    /// Other text renditions are dropped; non-text ones (a text/calendar
    /// invitation) go to the attachment step so the reader learns of them.
    fn walk_alternative(&mut self, msg: &Message<'_>, children: &[u32], path: &str, depth: usize) -> Step {
        let kind = |id: u32| -> String {
            msg.parts
                .get(id as usize)
                .and_then(|p| p.content_type())
                .map(mime_of)
                .unwrap_or_else(|| "text/plain".to_string())
        };
        let rank = |t: &str| match t {
            "text/html" | "multipart/related" => 3,
            t if t.starts_with("multipart/") => 2,
            "text/plain" => 1,
            _ => 0,
        };
        let showable = |t: &str| rank(t) > 0;
        let best = children.iter().map(|&c| rank(&kind(c))).max().unwrap_or(0);
        let chosen = if best == 0 { None } else { children.iter().rposition(|&c| rank(&kind(c)) == best) };
        if let Some(ci) = chosen {
            let kinds: Vec<String> = children.iter().map(|&c| kind(c)).collect();
            self.findings.push(Finding::new(
                codes::MIME_ALTERNATIVE_CHOSEN,
                Severity::Info,
                path,
                format!("chose {path}.{} ({}) of [{}]", ci + 1, kinds[ci], kinds.join(", ")),
            ));
        }
        for (i, &c) in children.iter().enumerate() {
            let child_path = format!("{path}.{}", i + 1);
            if Some(i) == chosen {
                self.walk_part(msg, c as usize, &child_path, depth + 1, Role::Body)?;
            } else if showable(&kind(c)) {
                self.parts.push(PartReport {
                    path: child_path,
                    declared_type: kind(c),
                    detected_type: None,
                    filename: None,
                    size: 0,
                    sha256: None,
                    action: PartAction::AlternativeNotChosen,
                    renditions: Vec::new(),
                });
            } else {
                self.walk_part(msg, c as usize, &child_path, depth + 1, Role::InlineImage)?;
            }
        }
        Ok(())
    }

    /// Index of the root of a multipart/related: the part named by `start`, or the first.
    fn related_root(&self, msg: &Message<'_>, info: &PartInfo, children: &[u32]) -> usize {
        let Some(start) = info.params.get("start") else { return 0 };
        let start = start.trim().trim_start_matches('<').trim_end_matches('>');
        children
            .iter()
            .position(|&c| {
                msg.parts
                    .get(c as usize)
                    .and_then(|p| p.content_id())
                    .is_some_and(|id| id.trim_start_matches('<').trim_end_matches('>') == start)
            })
            .unwrap_or(0)
    }

    fn remove_signature(&mut self, msg: &Message<'_>, id: usize, path: &str) -> Step {
        self.part_count += 1;
        let mime = msg.parts.get(id).and_then(|p| p.content_type()).map(mime_of).unwrap_or_default();
        self.findings.push(Finding::new(codes::SIGNATURE_REMOVED, Severity::Info, path, format!("{mime} removed")));
        self.notice.push(NoticeItem {
            kind: ItemKind::Signature,
            name: mime.clone(),
            detail: String::new(),
            extra: Vec::new(),
        });
        self.parts.push(PartReport {
            path: path.to_string(),
            declared_type: mime,
            detected_type: None,
            filename: None,
            size: 0,
            sha256: None,
            action: PartAction::Removed,
            renditions: Vec::new(),
        });
        Ok(())
    }

    /// message/rfc822: sanitised recursively and flattened into the text
    /// under a separator that shows who sent it, when, and about what.
    fn walk_nested(&mut self, nested: &Message<'_>, info: &PartInfo, path: &str, depth: usize) -> Step {
        self.push_part(path, info, PartAction::Descended);
        let inner_path = format!("{path}.1");
        self.findings.push(Finding::new(
            codes::MESSAGE_FORWARDED,
            Severity::Info,
            path,
            "message/rfc822 flattened into the text",
        ));
        let id = identity::read_identity(nested, &inner_path, &mut self.findings);
        let s = &id.summary;
        self.begin_block();
        self.text.push_str("---------- 転送されたメッセージ / Forwarded message ----------\n");
        identity::push_summary_lines(&mut self.text, &s.from, &s.date, &s.subject, &s.to);
        self.text.push('\n');
        if nested.parts.is_empty() {
            self.text.push_str("(本文なし / no body)\n");
        } else {
            self.walk_part(nested, 0, &inner_path, depth + 1, Role::Body)?;
        }
        self.begin_block();
        self.text.push_str("---------- 転送されたメッセージここまで / End of forwarded message ----------\n");
        Ok(())
    }

    /// Ends the current paragraph of body text with a blank line.
    fn begin_block(&mut self) {
        if self.text.is_empty() {
            return;
        }
        while self.text.ends_with("\n\n\n") {
            self.text.pop();
        }
        if !self.text.ends_with('\n') {
            self.text.push('\n');
        }
        if !self.text.ends_with("\n\n") {
            self.text.push('\n');
        }
    }

    // ----- leaves -----

    /// A leaf: checked for delimiter lines, decoded, then body text, a
    /// signature, encrypted content or an attachment.
    fn walk_leaf(&mut self, raw: &[u8], part: &MessagePart<'_>, info: &PartInfo, path: &str, role: Role) -> Step {
        let body_raw = raw.get(part.offset_body as usize..part.offset_end as usize).unwrap_or(b"");
        self.budget.charge(body_raw.len())?;
        self.check_delimiter_lines(body_raw, path);
        let data = self.decode_leaf(body_raw, info, path)?;
        let sha = hex_sha256(&data);
        let idx = self.push_part(path, info, PartAction::Removed);
        self.parts[idx].size = data.len() as u64;
        self.parts[idx].sha256 = Some(sha.clone());

        let mime = info.mime.as_str();
        if is_encrypted_type(mime, &info.params) {
            self.findings.push(Finding::new(
                codes::CRYPTO_ENCRYPTED,
                Severity::Danger,
                path,
                format!("{mime} cannot be inspected"),
            ));
            self.parts[idx].action = PartAction::Quarantined;
            return Ok(());
        }
        if is_signature_type(mime) {
            self.findings.push(Finding::new(codes::SIGNATURE_REMOVED, Severity::Info, path, format!("{mime} removed")));
            self.notice.push(NoticeItem {
                kind: ItemKind::Signature,
                name: mime.to_string(),
                detail: String::new(),
                extra: Vec::new(),
            });
            return Ok(());
        }
        if role == Role::Body && info.cte != TransferEncoding::Unknown && is_body_text(info) {
            return self.body_text(&data, info, path, idx);
        }
        self.attachment(&data, &sha, info, path, role, idx)
    }

    /// A line of a leaf body that some parser would take for a delimiter.
    fn check_delimiter_lines(&mut self, body_raw: &[u8], path: &str) {
        if let Some((line, content_after)) = self.boundaries.find_delimiter_line(body_raw) {
            // Only content after the line could be read as a part we did not see.
            let severity = if content_after { Severity::Danger } else { Severity::Warning };
            self.findings.push(Finding::new(
                codes::MIME_BOUNDARY_IN_BODY,
                severity,
                path,
                format!(
                    "body contains the delimiter line {:?}{}",
                    text::display_name(&String::from_utf8_lossy(line), 100),
                    if content_after { " followed by more content" } else { " at its end" }
                ),
            ));
        }
    }

    /// Transfer-decodes a leaf with our own decoder, not the parser's: ours
    /// counts invalid input (the parser silently skips it, and keeps decoding
    /// after base64 padding).
    fn decode_leaf(&mut self, body_raw: &[u8], info: &PartInfo, path: &str) -> Result<Vec<u8>, LimitExceeded> {
        let decoded = transfer::decode(info.cte, body_raw);
        if decoded.invalid > 0 {
            self.findings.push(Finding::new(
                codes::MIME_BAD_ENCODING,
                Severity::Warning,
                path,
                format!("{} invalid bytes in the transfer encoding", decoded.invalid),
            ));
        }
        self.budget.decoded(decoded.bytes.len())?;
        Ok(decoded.bytes)
    }

    /// The attachment step: sniffed, checked, handed to the first sanitiser
    /// that accepts it (a renderer), otherwise removed; named in the notice.
    fn attachment(&mut self, data: &[u8], sha: &str, info: &PartInfo, path: &str, role: Role, idx: usize) -> Step {
        let mime = info.mime.as_str();
        let detected = sniff::detect(data, info.filename.as_deref());
        self.parts[idx].detected_type = Some(detected.mime.to_string());
        if mime.contains("ms-tnef") || detected.mime == "application/vnd.ms-tnef" {
            self.list_tnef(data, path);
        }
        let attachment =
            Attachment { path, filename: info.filename.as_deref(), declared_type: mime, detected, data, sha256: sha };
        attachment_findings(&attachment, &mut self.findings);
        let action = match self.sanitizers.iter().find(|s| s.accepts(&attachment)) {
            Some(s) => s.sanitize(&attachment, &mut self.budget, &mut self.findings)?,
            None => AttachmentAction::removed(),
        };
        let name = info
            .filename
            .as_deref()
            .map(|f| text::display_name(f, 200))
            .unwrap_or_else(|| "(名前なし / unnamed)".to_string());
        let detail = format!(
            "— {} ({}; 宣言 declared {}), {}, SHA-256 {}",
            detected.description,
            detected.mime,
            mime,
            format_size(data.len() as u64),
            sha
        );
        match action {
            AttachmentAction::Remove { note, extra } => {
                let kind =
                    if role == Role::InlineImage { ItemKind::RemovedInlineImage } else { ItemKind::RemovedAttachment };
                self.findings.push(Finding::new(codes::ATTACHMENT_REMOVED, Severity::Info, path, name.clone()));
                let detail = if note.is_empty() { detail } else { format!("{detail} — {note}") };
                self.notice.push(NoticeItem { kind, name, detail, extra });
            }
            AttachmentAction::Render { renditions, note, extra } => {
                self.parts[idx].action = PartAction::Rendered;
                self.parts[idx].renditions = renditions.iter().map(rendition_report).collect();
                self.findings.push(Finding::new(
                    codes::ATTACHMENT_RENDERED,
                    Severity::Info,
                    path,
                    format!("{name}: {note}"),
                ));
                self.renditions.extend(renditions);
                self.notice.push(NoticeItem {
                    kind: ItemKind::Rendered,
                    name,
                    detail: format!("{detail} — {note}"),
                    extra,
                });
            }
            AttachmentAction::Quarantine { code, detail } => {
                self.parts[idx].action = PartAction::Quarantined;
                self.findings.push(Finding::new(code, Severity::Danger, path, detail));
            }
        }
        Ok(())
    }

    fn list_tnef(&mut self, data: &[u8], path: &str) {
        let listing = tnef::list_tnef(data, 100);
        let names: Vec<String> = listing
            .attachments
            .iter()
            .map(|a| {
                a.name.as_deref().map(|n| text::display_name(n, 200)).unwrap_or_else(|| "(名前なし / unnamed)".into())
            })
            .collect();
        self.findings.push(Finding::new(
            codes::TNEF_CONTENTS,
            Severity::Info,
            path,
            format!(
                "{} file(s) inside winmail.dat{}",
                names.len(),
                if listing.malformed { " (malformed)" } else { "" }
            ),
        ));
        for (a, name) in listing.attachments.iter().zip(names) {
            self.notice.push(NoticeItem {
                kind: ItemKind::TnefMember,
                name,
                detail: format!("— {}", format_size(a.size)),
                extra: Vec::new(),
            });
        }
    }

    /// A text/plain or text/html body part: decoded, converted, cleaned, appended.
    fn body_text(&mut self, data: &[u8], info: &PartInfo, path: &str, idx: usize) -> Step {
        let is_html = info.mime == "text/html";
        let declared = info.params.get("charset").map(str::to_string);
        let meta = if is_html { html::sniff_meta_charset(data) } else { None };
        if let (Some(d), Some(m)) = (&declared, &meta)
            && !d.eq_ignore_ascii_case(m)
        {
            self.findings.push(Finding::new(
                codes::MIME_CONFLICTING_CHARSET,
                Severity::Warning,
                path,
                format!("header says {d}, HTML <meta> says {m}"),
            ));
        }
        let label = declared.or(meta);
        let decoded = charset::decode_text(data, label.as_deref());
        self.budget.decoded(decoded.text.len())?;
        self.charset_findings(&decoded, label.as_deref(), path);
        self.parts[idx].detected_type = Some(if is_html { "text/html" } else { "text/plain" }.to_string());

        let remaining = self.limits.max_text_bytes.saturating_sub(self.text.len());
        let body = if is_html {
            let converted = html::html_to_text(&decoded.text, path, remaining);
            self.budget.charge(decoded.text.len())?;
            self.findings.extend(converted.findings);
            if converted.truncated {
                return Err(LimitExceeded::new(
                    codes::LIMIT_DECODED_BYTES,
                    format!("text of {path} exceeds max_text_bytes"),
                ));
            }
            self.html_converted = true;
            self.parts[idx].action = PartAction::ConvertedToText;
            converted.text
        } else {
            self.parts[idx].action = PartAction::KeptAsText;
            decoded.text
        };
        self.begin_block();
        let start = self.text.len();
        let stats = text::clean_text_into(&body, &mut self.text);
        // uuencode blocks are looked for in the cleaned text too: a control
        // character or a bare CR must not hide a block that the reader (and
        // a second pass) would see.
        if !is_html && self.text[start..].contains("begin") {
            let cleaned = self.text.split_off(start);
            let stripped = self.strip_uuencode(cleaned, path);
            self.text.push_str(&stripped);
        }
        // Looked for in the cleaned text, as the reader (and a second pass)
        // sees it: a control character must not hide the armour line.
        if has_pgp_message(&self.text[start..]) {
            self.findings.push(Finding::new(
                codes::CRYPTO_ENCRYPTED,
                Severity::Danger,
                path,
                "inline PGP encrypted message",
            ));
        }
        self.budget.charge(body.len())?;
        if stats.control_chars > 0 {
            self.findings.push(Finding::new(
                codes::TEXT_CONTROL_CHARS,
                Severity::Info,
                path,
                format!("{} control characters removed", stats.control_chars),
            ));
        }
        if stats.bidi_chars > 0 {
            self.findings.push(Finding::new(
                codes::TEXT_BIDI,
                Severity::Warning,
                path,
                format!("{} bidirectional control characters shown escaped", stats.bidi_chars),
            ));
        }
        if self.text.len() > self.limits.max_text_bytes {
            return Err(LimitExceeded::new(codes::LIMIT_DECODED_BYTES, "body text exceeds max_text_bytes"));
        }
        Ok(())
    }

    fn charset_findings(&mut self, d: &charset::Decoded, label: Option<&str>, path: &str) {
        let label = text::display_name(label.unwrap_or("(none)"), 60);
        if d.mislabeled || (d.undeclared && label != "(none)") {
            self.findings.push(Finding::new(
                codes::CHARSET_MISLABELED,
                Severity::Info,
                path,
                format!("declared {label}, decoded as {}", d.charset),
            ));
        }
        if d.unknown_label {
            self.findings.push(Finding::new(
                codes::CHARSET_UNKNOWN,
                Severity::Info,
                path,
                format!("unknown charset {label}, decoded as {}", d.charset),
            ));
        }
        if d.undeclared {
            self.findings.push(Finding::new(
                codes::CHARSET_UNDECLARED,
                Severity::Info,
                path,
                format!("8-bit text without charset, decoded as {}", d.charset),
            ));
        }
        if d.replacements > 0 {
            self.findings.push(Finding::new(
                codes::CHARSET_REPLACEMENT,
                Severity::Info,
                path,
                format!("{} undecodable sequences in {}", d.replacements, d.charset),
            ));
        }
    }

    fn strip_uuencode(&mut self, body: String, path: &str) -> String {
        let (stripped, blocks) = uuencode::strip_uuencode(&body, |b| {
            format!("[uuencode ファイル「{}」を削除 / uuencoded file removed]", text::display_name(&b.name, 200))
        });
        for b in &blocks {
            let name = text::display_name(&b.name, 200);
            self.findings.push(Finding::new(
                codes::TEXT_UUENCODE,
                Severity::Warning,
                path,
                format!("uuencoded {name} removed"),
            ));
            self.notice.push(NoticeItem {
                kind: ItemKind::Uuencoded,
                name,
                detail: format!("— {}", format_size(b.approx_size)),
                extra: Vec::new(),
            });
        }
        if blocks.is_empty() { body } else { stripped }
    }
}

/// `type/subtype` as the parser read it, lower-case, reduced to RFC 2045
/// token characters and at most 100 of them: it is shown in the notice and
/// the report, so nothing else from the header may pass.
fn mime_of(ct: &mail_parser::ContentType<'_>) -> String {
    let token = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(*c))
            .take(100)
            .collect::<String>()
            .to_ascii_lowercase()
    };
    match ct.subtype() {
        Some(sub) => format!("{}/{}", token(ct.ctype()), token(sub)),
        None => token(ct.ctype()),
    }
}

/// Text parts shown as body text: text/plain and text/html, and the plain-text
/// reports of bounces, unless they are attachments.
fn is_body_text(info: &PartInfo) -> bool {
    let textual = matches!(
        info.mime.as_str(),
        "text/plain"
            | "text/html"
            | "text/enriched"
            | "text/richtext"
            | "text/rfc822-headers"
            | "message/delivery-status"
            | "message/global-delivery-status"
            | "message/disposition-notification"
            | "message/feedback-report"
    );
    let attachment = info.disposition.as_deref() == Some("attachment");
    let inline_named = info.filename.is_none() || info.disposition.as_deref() == Some("inline");
    textual && !attachment && inline_named
}

fn is_encrypted_type(mime: &str, params: &ContentParams) -> bool {
    match mime {
        "application/pkcs7-mime" | "application/x-pkcs7-mime" => true,
        "application/pgp-encrypted" | "multipart/encrypted" => true,
        _ => mime == "application/octet-stream" && params.get("smime-type").is_some(),
    }
}

fn is_signature_type(mime: &str) -> bool {
    matches!(mime, "application/pkcs7-signature" | "application/x-pkcs7-signature" | "application/pgp-signature")
}

pub(crate) fn has_pgp_message(text: &str) -> bool {
    text.lines().any(|l| l.trim_end() == "-----BEGIN PGP MESSAGE-----")
}

/// The report's record of one rendition.
fn rendition_report(r: &crate::rebuild::Rendition) -> crate::report::RenditionReport {
    use crate::rebuild::RenditionContent;
    let (content_type, bytes): (&'static str, &[u8]) = match &r.content {
        RenditionContent::Png(b) => ("image/png", b),
        RenditionContent::Text(t) => ("text/plain", t.as_bytes()),
    };
    crate::report::RenditionReport {
        filename: r.filename.clone(),
        content_type,
        size: bytes.len() as u64,
        sha256: hex_sha256(bytes),
    }
}

/// Lower-case hex SHA-256.
pub fn hex_sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(b"0123456789abcdef"[(b >> 4) as usize]));
        s.push(char::from(b"0123456789abcdef"[(b & 15) as usize]));
    }
    s
}
