//! The renderers: each attachment becomes flat, safe renditions — PNG pages
//! or a `.txt` extraction — or is removed, or quarantines the message, as the
//! per-type policy of the `[render]` table says.
//!
//! ```text
//! attachment ─► class of the detected type (never the name) ─► policy
//!   image       ─► image_render: header checked, decoded, downscaled, new PNG; EXIF as notice text
//!   pdf         ─► pdf: active content reported, pages rendered to PNG, text excerpt in the notice
//!   office      ─► office: text extracted into a .txt, macros reported
//!   text / html ─► re-decoded (HTML converted) into a UTF-8 .txt
//!   mail (.eml) ─► the whole pipeline again (without renderers) into a .txt
//!   zip         ─► archive: each member is an attachment in its own right, nested up to a depth
//!   executable, script, disk image, svg, other ─► removed (or quarantined by policy)
//! ```
//!
//! Everything here is in-process, pure and bounded by the limits of
//! [`RenderConfig`] (pixels, pages, entries, bytes, ratio, depth). The
//! `mugaika` crate additionally runs [`Renderers`] in a subprocess with
//! rlimits and a wall-clock timeout (`render.isolation`), because a third-party
//! decoder can still loop or allocate inside one page.
//!
//! Rendition names end in `.png` or `.txt` and keep the original name in
//! front (`見積書.pdf-p1.png`, `data.csv.txt`), so the reader knows what
//! they came from.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::archive::{self, MemberError, ZipLimits};
use crate::attachment::{Attachment, AttachmentAction, AttachmentSanitizer, attachment_findings};
use crate::charset;
use crate::html;
use crate::image_render::{self, ImageError, ImageOptions};
use crate::limits::{Budget, LimitExceeded, Limits};
use crate::notice::format_size;
use crate::office::{self, OfficeError, OfficeLimits};
use crate::pdf::{self, PdfError, PdfOptions};
use crate::pipeline::Pipeline;
use crate::rebuild::{Rendition, RenditionContent};
use crate::report::{Finding, Severity, Verdict, codes};
use crate::sniff::{self, Detected, Kind};
use crate::text;

/// What to do with one class of attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Treatment {
    /// Flat renditions: PNG images or pages (for a ZIP: open it and treat
    /// each member).
    Render,
    /// A `.txt` rendition of the text only.
    Text,
    /// Removed and named in the notice.
    Remove,
    /// The whole message is quarantined.
    Quarantine,
}

/// The class of an attachment, from its detected type. Keys of [`RenderPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Image,
    Svg,
    Pdf,
    Office,
    OfficeLegacy,
    OfficeEncrypted,
    Text,
    Mail,
    Zip,
    Archive,
    Executable,
    Other,
}

/// Which class an attachment belongs to: decided on the detected content
/// type, never on the name or the declared type.
pub fn classify(d: &Detected) -> Class {
    match d.kind {
        Kind::Image => match d.mime {
            "image/svg+xml" => Class::Svg,
            "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "image/bmp" | "image/tiff" => Class::Image,
            _ => Class::Other,
        },
        Kind::Pdf => Class::Pdf,
        Kind::Office => {
            if d.description.contains("encrypted") {
                Class::OfficeEncrypted
            } else if d.mime == "application/onenote" {
                // OneNote files carry embedded files that run on a double click.
                Class::Executable
            } else if d.mime.contains("openxmlformats")
                || d.mime.contains("macroenabled")
                || d.mime.starts_with("application/vnd.oasis.opendocument")
            {
                Class::Office
            } else {
                Class::OfficeLegacy
            }
        }
        Kind::Archive => match d.mime {
            // Encrypted members are found while reading (`zip_encrypted`).
            "application/zip" => Class::Zip,
            // Disk images mount as drives and carry executables past
            // Mark-of-the-Web: never opened, like executables.
            m if m.contains("iso9660") || m.contains("vhd") || m.contains("vmdk") || m.contains("diskimage") => {
                Class::Executable
            }
            m if m.contains("qemu") || m.contains("wim") => Class::Executable,
            _ => Class::Archive,
        },
        Kind::Executable | Kind::Script => Class::Executable,
        Kind::Text | Kind::Html => Class::Text,
        Kind::Mail => Class::Mail,
        Kind::Media | Kind::Other => Class::Other,
    }
}

/// The per-type policy table (`[render.policy]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RenderPolicy {
    /// PNG, JPEG, GIF, WebP, BMP, TIFF: `render`, `remove` or `quarantine`.
    pub image: Treatment,
    /// SVG (XML that may carry scripts): `remove` or `quarantine`.
    pub svg: Treatment,
    /// PDF: `render` (pages as PNG), `text`, `remove` or `quarantine`.
    pub pdf: Treatment,
    /// Password-protected PDF (cannot be rendered): `remove` or `quarantine`.
    pub pdf_encrypted: Treatment,
    /// OOXML and ODF documents: `text`, `remove` or `quarantine`.
    pub office: Treatment,
    /// Legacy binary Office, RTF, 一太郎, Outlook .msg: `remove` or `quarantine`.
    pub office_legacy: Treatment,
    /// Password-protected Office documents: `remove` or `quarantine`.
    pub office_encrypted: Treatment,
    /// Plain text, CSV, logs, iCalendar, vCard, XML, HTML: `text`, `remove`
    /// or `quarantine`.
    pub text: Treatment,
    /// Attached messages (.eml): `text` (sanitised by the whole pipeline),
    /// `remove` or `quarantine`.
    pub mail: Treatment,
    /// ZIP: `render` (each member treated by this table), `remove` or `quarantine`.
    pub zip: Treatment,
    /// ZIP with encrypted members (PPAP): `remove` or `quarantine`.
    pub zip_encrypted: Treatment,
    /// 7z, RAR, LZH, CAB, tar, gzip …: `remove` or `quarantine`.
    pub archive: Treatment,
    /// Executables, scripts, installers, shortcuts, disk images, OneNote:
    /// `remove` or `quarantine`.
    pub executable: Treatment,
    /// Anything else: `remove` or `quarantine`.
    pub other: Treatment,
}

impl Default for RenderPolicy {
    fn default() -> Self {
        use Treatment::*;
        RenderPolicy {
            image: Render,
            svg: Remove,
            pdf: Render,
            pdf_encrypted: Quarantine,
            office: Text,
            office_legacy: Remove,
            office_encrypted: Quarantine,
            text: Text,
            mail: Text,
            zip: Render,
            zip_encrypted: Quarantine,
            archive: Remove,
            executable: Remove,
            other: Remove,
        }
    }
}

impl RenderPolicy {
    fn of(&self, class: Class) -> Treatment {
        match class {
            Class::Image => self.image,
            Class::Svg => self.svg,
            Class::Pdf => self.pdf,
            Class::Office => self.office,
            Class::OfficeLegacy => self.office_legacy,
            Class::OfficeEncrypted => self.office_encrypted,
            Class::Text => self.text,
            Class::Mail => self.mail,
            Class::Zip => self.zip,
            Class::Archive => self.archive,
            Class::Executable => self.executable,
            Class::Other => self.other,
        }
    }

    /// Problems with the table: a treatment a class cannot have.
    pub fn validate(&self) -> Vec<String> {
        use Treatment::*;
        let rows: [(&str, Treatment, &[Treatment]); 14] = [
            ("image", self.image, &[Render, Remove, Quarantine]),
            ("svg", self.svg, &[Remove, Quarantine]),
            ("pdf", self.pdf, &[Render, Text, Remove, Quarantine]),
            ("pdf_encrypted", self.pdf_encrypted, &[Remove, Quarantine]),
            ("office", self.office, &[Text, Remove, Quarantine]),
            ("office_legacy", self.office_legacy, &[Remove, Quarantine]),
            ("office_encrypted", self.office_encrypted, &[Remove, Quarantine]),
            ("text", self.text, &[Text, Remove, Quarantine]),
            ("mail", self.mail, &[Text, Remove, Quarantine]),
            ("zip", self.zip, &[Render, Remove, Quarantine]),
            ("zip_encrypted", self.zip_encrypted, &[Remove, Quarantine]),
            ("archive", self.archive, &[Remove, Quarantine]),
            ("executable", self.executable, &[Remove, Quarantine]),
            ("other", self.other, &[Remove, Quarantine]),
        ];
        rows.iter()
            .filter(|(_, t, allowed)| !allowed.contains(t))
            .map(|(k, t, allowed)| {
                let allowed: Vec<String> = allowed.iter().map(|a| format!("{a:?}").to_lowercase()).collect();
                format!(
                    "render.policy.{k} = {:?}: must be one of {}",
                    format!("{t:?}").to_lowercase(),
                    allowed.join(", ")
                )
            })
            .collect()
    }
}

/// The `[render]` table: the policy and the limits of every renderer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RenderConfig {
    pub policy: RenderPolicy,
    /// PDF pages are rendered at this resolution.
    pub pdf_dpi: u32,
    /// At most this many pages of a PDF are rendered; the notice says how
    /// many were left out.
    pub pdf_max_pages: usize,
    /// A page larger than this many pixels at `pdf_dpi` is rendered at a
    /// lower resolution.
    pub pdf_max_page_pixels: u64,
    /// Characters of a PDF's text shown in the notice (0: none).
    pub pdf_text_chars: usize,
    /// Objects a PDF may have before it is refused.
    pub pdf_max_objects: usize,
    /// Images larger than this are downscaled (aspect kept).
    pub image_max_width: u32,
    pub image_max_height: u32,
    /// An image whose header claims more pixels is refused before decoding
    /// (decompression bomb: `limit.image_pixels`).
    pub image_max_source_pixels: u64,
    /// Memory the image decoder may allocate.
    pub image_max_alloc_bytes: u64,
    /// ZIP archives nested deeper than this are not opened (`limit.archive_depth`).
    pub archive_depth: usize,
    pub archive_max_entries: usize,
    /// Largest uncompressed member.
    pub archive_max_member_bytes: u64,
    /// Most uncompressed bytes over one archive.
    pub archive_max_total_bytes: u64,
    /// Largest inflation ratio of a member (zip bomb).
    pub archive_max_ratio: u64,
    /// Largest `.txt` rendition, in bytes; longer text is cut with a note.
    pub text_max_bytes: usize,
    /// Most renditions made from one attachment (archive members included).
    pub max_renditions: usize,
    /// A CJK font used for fonts a PDF does not embed, so Japanese text
    /// shows. Read by the `mugaika` crate at start-up; empty: none.
    pub cjk_font: String,
    /// `subprocess` (default): renderers run in a child process with
    /// rlimits and a timeout; `in_process`: in the worker (tests, fuzzing).
    pub isolation: Isolation,
    /// Wall-clock seconds one attachment may take in the subprocess.
    pub timeout_secs: u64,
    /// Address-space limit of the subprocess, in MiB.
    pub memory_mb: u64,
}

/// Where the renderers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    Subprocess,
    InProcess,
}

/// The font `.ci/run` installs (Debian's fonts-ipaexfont-gothic).
pub const DEFAULT_CJK_FONT: &str = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf";

impl Default for RenderConfig {
    fn default() -> Self {
        RenderConfig {
            policy: RenderPolicy::default(),
            pdf_dpi: 100,
            pdf_max_pages: 20,
            pdf_max_page_pixels: 16_000_000,
            pdf_text_chars: 500,
            pdf_max_objects: 200_000,
            image_max_width: 2000,
            image_max_height: 2000,
            image_max_source_pixels: 50_000_000,
            image_max_alloc_bytes: 512 << 20,
            archive_depth: 3,
            archive_max_entries: 1000,
            archive_max_member_bytes: 32 << 20,
            archive_max_total_bytes: 128 << 20,
            archive_max_ratio: 100,
            text_max_bytes: 1 << 20,
            max_renditions: 100,
            cjk_font: DEFAULT_CJK_FONT.to_string(),
            isolation: Isolation::Subprocess,
            timeout_secs: 60,
            memory_mb: 2048,
        }
    }
}

impl RenderConfig {
    /// Problems with the table, for `check-config`.
    pub fn validate(&self) -> Vec<String> {
        let mut p = self.policy.validate();
        if !(36..=600).contains(&self.pdf_dpi) {
            p.push(format!("render.pdf_dpi = {}: must be 36..=600", self.pdf_dpi));
        }
        if self.pdf_max_page_pixels < 100_000 {
            p.push("render.pdf_max_page_pixels must be at least 100000".into());
        }
        if self.image_max_width == 0 || self.image_max_height == 0 {
            p.push("render.image_max_width and image_max_height must be positive".into());
        }
        if self.max_renditions == 0 {
            p.push("render.max_renditions must be positive".into());
        }
        if self.timeout_secs == 0 {
            p.push("render.timeout_secs must be positive".into());
        }
        if self.memory_mb < 256 {
            p.push("render.memory_mb must be at least 256".into());
        }
        p
    }
}

/// The renderers as one [`AttachmentSanitizer`]: it accepts every attachment
/// and applies the policy table.
pub struct Renderers {
    config: RenderConfig,
    font: Option<Arc<Vec<u8>>>,
    /// The pipeline attached messages go through (no renderers of its own:
    /// the attachments of an attached message are removed and listed).
    nested: Pipeline,
}

impl Renderers {
    /// `font`: the bytes of [`RenderConfig::cjk_font`], if it could be read.
    pub fn new(config: RenderConfig, font: Option<Arc<Vec<u8>>>, limits: &Limits) -> Self {
        Renderers { config, font, nested: Pipeline::new(limits.clone()) }
    }

    pub fn config(&self) -> &RenderConfig {
        &self.config
    }

    fn pdf_options(&self) -> PdfOptions {
        PdfOptions {
            dpi: self.config.pdf_dpi,
            max_pages: self.config.pdf_max_pages,
            max_page_pixels: self.config.pdf_max_page_pixels,
            max_text_chars: self.config.pdf_text_chars,
            max_objects: self.config.pdf_max_objects,
            fallback_font: self.font.clone(),
            ..PdfOptions::default()
        }
    }

    fn image_options(&self) -> ImageOptions {
        ImageOptions {
            max_source_pixels: self.config.image_max_source_pixels,
            max_alloc_bytes: self.config.image_max_alloc_bytes,
            max_width: self.config.image_max_width,
            max_height: self.config.image_max_height,
        }
    }

    fn zip_limits(&self) -> ZipLimits {
        ZipLimits {
            max_entries: self.config.archive_max_entries,
            max_member_bytes: self.config.archive_max_member_bytes,
            max_total_bytes: self.config.archive_max_total_bytes,
            max_ratio: self.config.archive_max_ratio,
        }
    }
}

impl AttachmentSanitizer for Renderers {
    fn name(&self) -> &'static str {
        "renderers"
    }

    fn accepts(&self, _attachment: &Attachment<'_>) -> bool {
        true
    }

    fn sanitize(
        &self,
        a: &Attachment<'_>,
        budget: &mut Budget,
        findings: &mut Vec<Finding>,
    ) -> Result<AttachmentAction, LimitExceeded> {
        let mut out = Out { renditions: Vec::new(), extra: Vec::new(), findings, budget };
        let file_name = base_name(a.filename);
        let shown = a.filename.map(|f| text::display_name(f, 200)).unwrap_or_else(|| file_name.clone());
        let obj = Object { data: a.data, file_name, shown, path: a.path, detected: a.detected };
        let done = self.process(&obj, 0, &mut out)?;
        let Out { renditions, extra, .. } = out;
        Ok(match done {
            Done::Rendered(note) if renditions.is_empty() => AttachmentAction::Remove { note, extra },
            Done::Rendered(note) => AttachmentAction::Render { renditions, note, extra },
            Done::Removed(note) => AttachmentAction::Remove { note, extra },
            Done::Quarantine(code, detail) => AttachmentAction::Quarantine { code, detail },
        })
    }
}

/// One object to treat: an attachment or a member of an archive.
struct Object<'a> {
    data: &'a [u8],
    /// Safe base for rendition file names (no path, no controls).
    file_name: String,
    /// How the notice names it: the attachment's name, then the path inside
    /// each archive (`files.zip/docs/見積.pdf`).
    shown: String,
    /// MIME path, with the member path appended for archive members.
    path: &'a str,
    detected: Detected,
}

/// What is being built for one attachment.
struct Out<'f, 'b> {
    renditions: Vec<Rendition>,
    extra: Vec<String>,
    findings: &'f mut Vec<Finding>,
    budget: &'b mut Budget,
}

impl Out<'_, '_> {
    fn finding(&mut self, code: &'static str, severity: Severity, path: &str, detail: impl Into<String>) {
        self.findings.push(Finding::new(code, severity, path, detail));
    }
}

/// What became of one object.
enum Done {
    /// Renditions were added; the note says what they are.
    Rendered(String),
    /// Removed, with why.
    Removed(String),
    /// The message must be quarantined.
    Quarantine(&'static str, String),
}

const REMOVED_BY_POLICY: &str = "ポリシーにより削除 / removed by policy";

impl Renderers {
    fn process(&self, obj: &Object<'_>, depth: usize, out: &mut Out<'_, '_>) -> Result<Done, LimitExceeded> {
        out.budget.charge(obj.data.len())?;
        // A name that Windows would run (.hta, .js, .lnk …) makes it an
        // executable whatever the content looks like.
        let class = if sniff::is_dangerous_name(&obj.file_name) { Class::Executable } else { classify(&obj.detected) };
        let treatment = self.config.policy.of(class);
        if treatment == Treatment::Quarantine {
            let detail = format!("{}: {} quarantined by policy", obj.shown, obj.detected.description);
            out.finding(codes::ATTACHMENT_POLICY_QUARANTINE, Severity::Danger, obj.path, detail.clone());
            return Ok(Done::Quarantine(codes::ATTACHMENT_POLICY_QUARANTINE, detail));
        }
        if treatment == Treatment::Remove {
            return Ok(Done::Removed(REMOVED_BY_POLICY.into()));
        }
        match class {
            Class::Image => Ok(self.image(obj, out)),
            Class::Pdf => Ok(self.pdf(obj, treatment, out)),
            Class::Office => Ok(self.office(obj, out)),
            Class::Text => Ok(self.text(obj, out)),
            Class::Mail => Ok(self.mail(obj, out)),
            Class::Zip => self.zip(obj, depth, out),
            // Validation allows only remove/quarantine for the rest.
            _ => Ok(Done::Removed(REMOVED_BY_POLICY.into())),
        }
    }

    /// Every `.txt` rendition goes through here: cleaned like body text,
    /// uuencoded blocks cut out (the rendition must not carry a file), cut at
    /// `text_max_bytes`. `None` when it holds an inline PGP message (content
    /// nobody can inspect: quarantined, as in a body).
    fn text_rendition(&self, obj: &Object<'_>, raw: &str, out: &mut Out<'_, '_>) -> Option<(String, bool)> {
        let (cleaned, _) = text::clean_text(raw);
        let (stripped, blocks) = crate::uuencode::strip_uuencode(&cleaned, |b| {
            format!("[uuencode ファイル「{}」を削除 / uuencoded file removed]", text::display_name(&b.name, 200))
        });
        let body = if blocks.is_empty() { cleaned } else { stripped };
        for b in &blocks {
            let name = text::display_name(&b.name, 200);
            out.finding(codes::TEXT_UUENCODE, Severity::Warning, obj.path, format!("uuencoded {name} removed"));
            out.extra.push(format!("{} — uuencode「{name}」を削除 / uuencoded file removed", obj.shown));
        }
        if crate::walk::has_pgp_message(&body) {
            return None;
        }
        // One line end at the end, however many the source had: a rendition
        // sanitised again must come out the same.
        let mut body = body;
        body.truncate(body.trim_end().len());
        body.push('\n');
        Some(cap_text(&head_if_not_plain(body), self.config.text_max_bytes))
    }

    fn pgp_quarantine(&self, obj: &Object<'_>, out: &mut Out<'_, '_>) -> Done {
        let detail = format!("{}: inline PGP encrypted message", obj.shown);
        out.finding(codes::CRYPTO_ENCRYPTED, Severity::Danger, obj.path, detail.clone());
        Done::Quarantine(codes::CRYPTO_ENCRYPTED, detail)
    }

    fn room(&self, out: &Out<'_, '_>) -> usize {
        self.config.max_renditions.saturating_sub(out.renditions.len())
    }

    fn image(&self, obj: &Object<'_>, out: &mut Out<'_, '_>) -> Done {
        if self.room(out) == 0 {
            return Done::Removed("変換数の上限 / rendition limit reached".into());
        }
        match image_render::render_image(obj.data, &self.image_options()) {
            Ok(r) => {
                let mut note = format!("PNG 画像に変換 / converted to PNG ({}×{})", r.width, r.height);
                if (r.width, r.height) != (r.source_width, r.source_height) {
                    note.push_str(&format!(", 縮小 / downscaled from {}×{}", r.source_width, r.source_height));
                }
                if r.animated {
                    note.push_str(", 最初のコマのみ / first frame only");
                    out.finding(codes::IMAGE_ANIMATED, Severity::Info, obj.path, "animated image: first frame kept");
                }
                if !r.metadata.is_empty() {
                    let shown: Vec<String> = r
                        .metadata
                        .iter()
                        .map(|(k, v)| format!("{}: {}", text::display_name(k, 60), text::display_name(v, 200)))
                        .collect();
                    out.finding(codes::IMAGE_METADATA, Severity::Info, obj.path, shown.join("; "));
                    for line in shown {
                        out.extra.push(format!("{} — {line}", obj.shown));
                    }
                }
                out.renditions.push(Rendition {
                    filename: rendition_name(&obj.file_name, "", "png"),
                    content: RenditionContent::Png(r.png),
                });
                Done::Rendered(note)
            }
            Err(ImageError::TooLarge(why)) => {
                out.finding(codes::LIMIT_IMAGE_PIXELS, Severity::Danger, obj.path, why);
                Done::Removed("画像が大きすぎます / image too large (decompression bomb?)".into())
            }
            Err(e) => {
                out.finding(codes::ATTACHMENT_RENDER_FAILED, Severity::Warning, obj.path, e.to_string());
                Done::Removed("画像を読めません / image could not be decoded".into())
            }
        }
    }

    /// A PDF: inspected (active content and links reported), then its pages
    /// rendered as PNG, or its text extracted when the treatment is text.
    fn pdf(&self, obj: &Object<'_>, treatment: Treatment, out: &mut Out<'_, '_>) -> Done {
        let mut opts = self.pdf_options();
        let inspection = match pdf::inspect_pdf(obj.data, &opts) {
            Ok(i) => i,
            Err(PdfError::Encrypted) => return self.pdf_encrypted(obj, out),
            Err(e) => {
                out.finding(codes::ATTACHMENT_RENDER_FAILED, Severity::Warning, obj.path, e.to_string());
                return Done::Removed("PDF を読めません / the PDF could not be read".into());
            }
        };
        if inspection.encrypted {
            return self.pdf_encrypted(obj, out);
        }
        report_pdf_inspection(obj, &inspection, out);
        if treatment == Treatment::Text {
            opts.max_pages = 0;
            opts.max_text_chars = self.config.text_max_bytes / 3;
        } else {
            opts.max_pages = opts.max_pages.min(self.room(out));
        }
        let rendering = match pdf::render_pdf(obj.data, &opts) {
            Ok(r) => r,
            Err(PdfError::Encrypted) => return self.pdf_encrypted(obj, out),
            Err(PdfError::TooLarge(why)) => {
                out.finding(codes::LIMIT_RENDER, Severity::Danger, obj.path, why);
                return Done::Removed("PDF が大きすぎます / the PDF exceeds the rendering limits".into());
            }
            Err(e) => {
                out.finding(codes::ATTACHMENT_RENDER_FAILED, Severity::Warning, obj.path, e.to_string());
                return Done::Removed("PDF を画像にできません / the PDF could not be rendered".into());
            }
        };
        if treatment == Treatment::Text {
            self.pdf_text(obj, &rendering, out)
        } else {
            self.pdf_pages(obj, rendering, out)
        }
    }

    /// The text treatment of a PDF: its text as a .txt.
    fn pdf_text(&self, obj: &Object<'_>, rendering: &pdf::PdfRendering, out: &mut Out<'_, '_>) -> Done {
        let Some((body, cut)) = self.text_rendition(obj, &rendering.text, out) else {
            return self.pgp_quarantine(obj, out);
        };
        if body.trim().is_empty() {
            return Done::Removed("PDF に文字がありません / the PDF has no text".into());
        }
        push_txt(obj, body, out);
        Done::Rendered(format!("テキストを抽出 / text extracted ({} pages){}", rendering.total_pages, truncated(cut)))
    }

    /// The render treatment of a PDF: one PNG per rendered page, a note of
    /// the pages left out, and the beginning of its text in the notice.
    fn pdf_pages(&self, obj: &Object<'_>, rendering: pdf::PdfRendering, out: &mut Out<'_, '_>) -> Done {
        let excerpt = text::clean_text(&rendering.text).0;
        let rendered = rendering.pages.len();
        for (i, page) in rendering.pages.into_iter().enumerate() {
            let png = image_render::encode_png_rgb(page.width, page.height, &page.rgb);
            out.renditions.push(Rendition {
                filename: rendition_name(&obj.file_name, &format!("-p{}", i + 1), "png"),
                content: RenditionContent::Png(png),
            });
        }
        let total = rendering.total_pages;
        if rendered < total {
            out.finding(
                codes::PDF_PAGES_OMITTED,
                Severity::Info,
                obj.path,
                format!("{rendered} of {total} pages rendered"),
            );
            out.extra.push(format!(
                "{} — {} ページ目以降は省略 / pages {}–{} omitted",
                obj.shown,
                rendered + 1,
                rendered + 1,
                total
            ));
        }
        let flat = excerpt.split_whitespace().collect::<Vec<_>>().join(" ");
        if !flat.is_empty() && self.config.pdf_text_chars > 0 {
            let shown: String = flat.chars().take(self.config.pdf_text_chars).collect();
            let more = if flat.chars().count() > self.config.pdf_text_chars { "…" } else { "" };
            out.extra.push(format!("{} — 本文の冒頭 / text begins: {shown}{more}", obj.shown));
        }
        if rendered == 0 {
            return Done::Removed("PDF にページがありません / the PDF has no page to render".into());
        }
        Done::Rendered(format!(
            "{total} ページ中 {rendered} ページを画像に変換 / {rendered} of {total} pages rendered as PNG"
        ))
    }

    fn pdf_encrypted(&self, obj: &Object<'_>, out: &mut Out<'_, '_>) -> Done {
        let detail = format!("{}: password-protected PDF", obj.shown);
        if self.config.policy.pdf_encrypted == Treatment::Quarantine {
            out.finding(codes::PDF_ENCRYPTED, Severity::Danger, obj.path, detail.clone());
            return Done::Quarantine(codes::PDF_ENCRYPTED, detail);
        }
        out.finding(codes::PDF_ENCRYPTED, Severity::Warning, obj.path, detail);
        Done::Removed("パスワード付き PDF / password-protected PDF".into())
    }

    fn office(&self, obj: &Object<'_>, out: &mut Out<'_, '_>) -> Done {
        let limits = OfficeLimits { max_text_chars: self.config.text_max_bytes / 3, zip: self.zip_limits() };
        match office::extract_office_text(obj.data, &limits) {
            Ok(doc) => {
                if !doc.macros.is_empty() {
                    let evidence = doc.macros.iter().map(|m| text::display_name(m, 100)).collect::<Vec<_>>().join(", ");
                    out.finding(codes::OFFICE_MACRO, Severity::Warning, obj.path, evidence);
                    out.extra.push(format!("{} — マクロを除去 / macros removed", obj.shown));
                }
                let Some((body, cut)) = self.text_rendition(obj, &doc.text, out) else {
                    return self.pgp_quarantine(obj, out);
                };
                if body.trim().is_empty() {
                    return Done::Removed("文書に文字がありません / no text in the document".into());
                }
                push_txt(obj, body, out);
                Done::Rendered(format!(
                    "テキストを抽出 / text extracted ({}){}",
                    doc.format,
                    truncated(cut || doc.truncated)
                ))
            }
            Err(OfficeError::Encrypted) => {
                let detail = format!("{}: password-protected Office document", obj.shown);
                if self.config.policy.office_encrypted == Treatment::Quarantine {
                    out.finding(codes::OFFICE_ENCRYPTED, Severity::Danger, obj.path, detail.clone());
                    return Done::Quarantine(codes::OFFICE_ENCRYPTED, detail);
                }
                out.finding(codes::OFFICE_ENCRYPTED, Severity::Warning, obj.path, detail);
                Done::Removed("パスワード付き文書 / password-protected document".into())
            }
            Err(e) => {
                out.finding(codes::ATTACHMENT_RENDER_FAILED, Severity::Warning, obj.path, e.to_string());
                Done::Removed("文書を読めません / the document could not be read".into())
            }
        }
    }

    fn text(&self, obj: &Object<'_>, out: &mut Out<'_, '_>) -> Done {
        let decoded = charset::decode_text(obj.data, None);
        let body = if obj.detected.kind == Kind::Html {
            let converted = html::html_to_text(&decoded.text, obj.path, self.config.text_max_bytes);
            out.findings.extend(converted.findings);
            converted.text
        } else {
            decoded.text
        };
        let Some((body, cut)) = self.text_rendition(obj, &body, out) else {
            return self.pgp_quarantine(obj, out);
        };
        // Nothing left but the markers of removed uuencoded files (a file
        // sent as x-uuencode): nothing to show either.
        if body.trim().is_empty() {
            return Done::Removed("文字がありません / no text".into());
        }
        if body.lines().all(|l| l.trim().is_empty() || l.starts_with("[uuencode ")) {
            return Done::Removed("uuencode ファイル / uuencoded file".into());
        }
        push_txt(obj, body, out);
        Done::Rendered(format!(
            "UTF-8 テキストに変換 / converted to UTF-8 text ({}){}",
            decoded.charset,
            truncated(cut)
        ))
    }

    fn mail(&self, obj: &Object<'_>, out: &mut Out<'_, '_>) -> Done {
        let nested = self.nested.run(obj.data);
        let danger: Vec<&str> =
            nested.report.findings.iter().filter(|f| f.severity == Severity::Danger).map(|f| f.code).collect();
        for f in &nested.report.findings {
            if f.severity >= Severity::Warning {
                let part = format!("{}/{}", obj.path, f.part);
                out.findings.push(Finding::new(f.code, f.severity, &part, f.detail.clone()));
            }
        }
        let text = match (&nested.output, nested.report.verdict) {
            (Some(o), Verdict::Deliver) => crate::verify::output_text(o),
            _ => None,
        };
        match text {
            Some(t) if danger.is_empty() => {
                let t = attached_message_text(&nested.report.input, &t);
                let (body, cut) = cap_text(&t, self.config.text_max_bytes);
                push_txt(obj, body, out);
                Done::Rendered(format!(
                    "添付メールを無害化してテキストに / attached message sanitised into text{}",
                    truncated(cut)
                ))
            }
            _ => {
                let detail = format!("attached message {} would be quarantined: {}", obj.shown, danger.join(", "));
                out.finding(codes::NESTED_MESSAGE, Severity::Danger, obj.path, detail.clone());
                Done::Quarantine(codes::NESTED_MESSAGE, detail)
            }
        }
    }

    fn zip(&self, obj: &Object<'_>, depth: usize, out: &mut Out<'_, '_>) -> Result<Done, LimitExceeded> {
        if depth >= self.config.archive_depth {
            out.finding(
                codes::LIMIT_ARCHIVE_DEPTH,
                Severity::Danger,
                obj.path,
                format!("{}: archive nested deeper than {}", obj.shown, self.config.archive_depth),
            );
            return Ok(Done::Removed("入れ子が深すぎる書庫 / archive nested too deep".into()));
        }
        if archive::is_encrypted_zip(obj.data) {
            return Ok(self.zip_encrypted(obj, out));
        }
        let listing = match archive::read_zip(obj.data, &self.zip_limits()) {
            Ok(l) => l,
            Err(e) => {
                out.finding(codes::ATTACHMENT_RENDER_FAILED, Severity::Warning, obj.path, e.to_string());
                return Ok(Done::Removed("ZIP を読めません / the ZIP archive could not be read".into()));
            }
        };
        if listing.any_encrypted {
            return Ok(self.zip_encrypted(obj, out));
        }
        if !listing.anomalies.is_empty() {
            let detail = listing.anomalies.iter().take(10).map(|a| text::display_name(a, 120)).collect::<Vec<_>>();
            out.finding(codes::ARCHIVE_ANOMALY, Severity::Warning, obj.path, detail.join("; "));
        }
        if let Some(why) = &listing.limit_hit {
            out.finding(codes::LIMIT_ARCHIVE, Severity::Danger, obj.path, format!("{}: {why}", obj.shown));
        }
        let mut files = 0usize;
        let mut rendered = 0usize;
        for m in &listing.members {
            if m.is_dir {
                continue;
            }
            files += 1;
            let shown = format!("{}/{}", obj.shown, text::display_name(&m.path, 200));
            let member_path = format!("{}:{}", obj.path, text::display_name(&m.path, 200));
            let data = match &m.data {
                Ok(d) => d,
                Err(e) => {
                    let (code, sev) = match e {
                        MemberError::TooLarge | MemberError::RatioExceeded => (codes::LIMIT_ARCHIVE, Severity::Danger),
                        MemberError::Encrypted => (codes::ARCHIVE_ENCRYPTED, Severity::Danger),
                        _ => (codes::ARCHIVE_MEMBER_UNREADABLE, Severity::Warning),
                    };
                    out.finding(code, sev, &member_path, format!("{shown}: {e:?}"));
                    out.extra.push(format!("{shown} — 読めないため削除 / removed, unreadable ({e:?})"));
                    continue;
                }
            };
            let detected = sniff::detect(data, Some(&m.path));
            let member_name = base_name(Some(m.path.rsplit(['/', '\\']).next().unwrap_or(&m.path)));
            let attachment = Attachment {
                path: &member_path,
                filename: Some(&m.path),
                declared_type: "application/octet-stream",
                detected,
                data,
                sha256: "",
            };
            attachment_findings(&attachment, out.findings);
            let member = Object {
                data,
                file_name: format!("{}-{}", obj.file_name, member_name),
                shown: shown.clone(),
                path: &member_path,
                detected,
            };
            let before = out.renditions.len();
            // The member's own line comes before the lines of what it holds.
            let line_at = out.extra.len();
            out.extra.push(String::new());
            let done = self.process(&member, depth + 1, out)?;
            let line = match done {
                Done::Quarantine(code, detail) => return Ok(Done::Quarantine(code, detail)),
                Done::Rendered(note) => {
                    rendered += usize::from(out.renditions.len() > before);
                    note
                }
                Done::Removed(note) => {
                    out.finding(codes::ATTACHMENT_REMOVED, Severity::Info, &member_path, shown.clone());
                    format!("削除 / removed: {note}")
                }
            };
            out.extra[line_at] = format!(
                "{shown} — {} ({}), {}, SHA-256 {}: {line}",
                detected.description,
                detected.mime,
                format_size(data.len() as u64),
                crate::walk::hex(&sha2::Sha256::digest(data))
            );
        }
        Ok(Done::Rendered(format!(
            "書庫を展開 / archive opened: {files} 個のファイル, {rendered} 個を変換 / {files} file(s), {rendered} converted"
        )))
    }

    fn zip_encrypted(&self, obj: &Object<'_>, out: &mut Out<'_, '_>) -> Done {
        let detail = format!("{}: ZIP with encrypted members (password-protected)", obj.shown);
        if self.config.policy.zip_encrypted == Treatment::Quarantine {
            out.finding(codes::ARCHIVE_ENCRYPTED, Severity::Danger, obj.path, detail.clone());
            return Done::Quarantine(codes::ARCHIVE_ENCRYPTED, detail);
        }
        out.finding(codes::ARCHIVE_ENCRYPTED, Severity::Warning, obj.path, detail);
        Done::Removed("パスワード付き ZIP / password-protected ZIP".into())
    }
}

/// At most `max` bytes of `s` (on a character boundary), and whether it was cut.
fn cap_text(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_string(), false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    let mut t = s[..end].to_string();
    t.push_str("\n[… 以下省略 / truncated]\n");
    (t, true)
}

/// A file name safe to build rendition names from: the last path component,
/// controls and bidi characters escaped, separators and quotes replaced, at
/// most 80 characters; `attachment` when there is none.
fn base_name(name: Option<&str>) -> String {
    let last = name.map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n)).unwrap_or("");
    let shown = text::display_name(last, 80);
    let cleaned: String = shown
        .chars()
        .map(|c| if matches!(c, '/' | '\\' | '"' | ':' | '*' | '?' | '<' | '>' | '|') { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace()).to_string();
    if cleaned.is_empty() { "attachment".to_string() } else { cleaned }
}

/// `base` + `suffix` + `.ext`; an image already named `.png` keeps its name.
fn rendition_name(base: &str, suffix: &str, ext: &str) -> String {
    if suffix.is_empty() && base.to_ascii_lowercase().ends_with(&format!(".{ext}")) {
        return base.to_string();
    }
    format!("{base}{suffix}.{ext}")
}

/// The `.txt` rendition of `obj`, named after it.
fn push_txt(obj: &Object<'_>, body: String, out: &mut Out<'_, '_>) {
    out.renditions
        .push(Rendition { filename: rendition_name(&obj.file_name, "", "txt"), content: RenditionContent::Text(body) });
}

/// The note's suffix for a text cut at `text_max_bytes` (or at a renderer's limit).
fn truncated(cut: bool) -> &'static str {
    if cut { ", 一部 / truncated" } else { "" }
}

/// The line that heads a text rendition which would not be read back as
/// plain text.
const AS_TEXT_HEADING: &str = "（mugaika: 以下は添付ファイルをテキストにしたものです / the attachment as text）";

/// `body`, headed by [`AS_TEXT_HEADING`] when the type sniffer would take it
/// for something other than plain text — it starts like a PDF, a script, a
/// shortcut, HTML or mail — so the .txt, sanitised again, is plain text
/// and comes out the same. Most text is returned as it is.
fn head_if_not_plain(body: String) -> String {
    // Sniffed as the next run sniffs it: a .txt (the name is a hint only).
    if sniff::detect(body.as_bytes(), Some("attachment.txt")).kind == Kind::Text {
        return body;
    }
    format!("{AS_TEXT_HEADING}\n{body}")
}

/// The PDF's active content (a Warning and a notice line naming the kinds)
/// and up to ten of its links, as text.
fn report_pdf_inspection(obj: &Object<'_>, inspection: &pdf::PdfInspection, out: &mut Out<'_, '_>) {
    if !inspection.active.is_empty() {
        let mut kinds: Vec<&str> = inspection.active.iter().map(|a| a.kind).collect();
        kinds.dedup();
        let detail = inspection
            .active
            .iter()
            .take(20)
            .map(|a| format!("{}: {}", a.kind, text::display_name(&a.detail, 120)))
            .collect::<Vec<_>>()
            .join("; ");
        out.finding(codes::PDF_ACTIVE_CONTENT, Severity::Warning, obj.path, detail);
        out.extra.push(format!(
            "{} — 動的な内容を無効化 / active content neutralised: {}",
            obj.shown,
            kinds.join(", ")
        ));
    }
    for uri in inspection.uris.iter().take(10) {
        out.extra.push(format!("{} — リンク / link: {}", obj.shown, text::display_name(uri, 200)));
    }
}

/// The .txt of an attached message: who sent it, when and about what (the
/// nested pipeline's summary, shown as the inline forwarded block shows it),
/// then its sanitised text with one final line end, as `text_rendition`
/// writes it. The first line is no header, so the .txt sanitised again is
/// text, and comes out the same.
fn attached_message_text(input: &crate::report::InputSummary, sanitised: &str) -> String {
    let mut t = String::from("---------- 添付メール / Attached message ----------\n");
    crate::identity::push_summary_lines(&mut t, &input.from, &input.date, &input.subject, &input.to);
    t.push('\n');
    t.push_str(sanitised.trim_end());
    t.push('\n');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_come_from_the_content() {
        let png = sniff::detect(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Some("x.exe"));
        assert_eq!(classify(&png), Class::Image);
        let pe = {
            let mut pe = vec![0u8; 256];
            pe[0] = b'M';
            pe[1] = b'Z';
            pe[0x3c] = 0x80;
            pe[0x80..0x84].copy_from_slice(b"PE\0\0");
            pe
        };
        assert_eq!(classify(&sniff::detect(&pe, Some("photo.jpg"))), Class::Executable);
        assert_eq!(classify(&sniff::detect(b"%PDF-1.4\n", None)), Class::Pdf);
        assert_eq!(
            classify(&sniff::detect(b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", Some("a.svg"))),
            Class::Svg
        );
    }

    #[test]
    fn the_default_policy_is_valid_and_bad_rows_are_named() {
        assert!(RenderConfig::default().validate().is_empty());
        let p = RenderPolicy { executable: Treatment::Render, svg: Treatment::Text, ..RenderPolicy::default() };
        let problems = p.validate();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("render.policy.svg"), "{problems:?}");
        assert!(problems[1].contains("render.policy.executable"), "{problems:?}");
    }

    #[test]
    fn rendition_names_keep_the_original() {
        assert_eq!(rendition_name("見積書.pdf", "-p1", "png"), "見積書.pdf-p1.png");
        assert_eq!(rendition_name("data.csv", "", "txt"), "data.csv.txt");
        assert_eq!(rendition_name("photo.PNG", "", "png"), "photo.PNG");
        assert_eq!(base_name(Some("../../etc/passwd")), "passwd");
        assert_eq!(base_name(Some("a\u{202E}gpj.exe")), "a_U+202E_gpj.exe");
        assert_eq!(base_name(Some("C:\\x\\y.txt")), "y.txt");
        assert_eq!(base_name(None), "attachment");
        assert_eq!(base_name(Some("...")), "attachment");
    }

    #[test]
    fn an_attached_message_is_headed_by_its_summary_and_ends_in_one_line_end() {
        let input = crate::report::InputSummary {
            from: "差出人 <a@example.jp>".into(),
            subject: "件名\u{202E}".into(),
            ..Default::default()
        };
        let t = attached_message_text(&input, "body\n\n\n");
        assert_eq!(
            t,
            "---------- 添付メール / Attached message ----------\nFrom: 差出人 <a@example.jp>\n\
             Subject: 件名<U+202E>\n\nbody\n"
        );
        // Not mail-shaped, so sanitised again it stays text.
        assert_ne!(sniff::detect(t.as_bytes(), Some("a.eml.txt")).kind, sniff::Kind::Mail);
    }

    #[test]
    fn text_that_reads_as_another_type_is_headed_and_stays_text() {
        assert_eq!(head_if_not_plain("見積書です。\n".into()), "見積書です。\n");
        for body in ["%PDF-1.7 で始まる\n", "#!/bin/sh\nrm -rf /\n", "[InternetShortcut]\nURL=x\n", "<html><p>x</p>\n"]
        {
            let headed = head_if_not_plain(body.to_string());
            assert_eq!(headed, format!("{AS_TEXT_HEADING}\n{body}"));
            assert_eq!(sniff::detect(headed.as_bytes(), None).kind, Kind::Text, "{body:?}");
            // Once headed, it is plain text: no second heading.
            assert_eq!(head_if_not_plain(headed.clone()), headed);
        }
    }

    #[test]
    fn text_is_capped_on_a_character_boundary() {
        let (t, cut) = cap_text("あいう", 4);
        assert!(cut);
        assert!(t.starts_with("あ\n"), "{t:?}");
        assert_eq!(cap_text("abc", 3), ("abc".to_string(), false));
    }
}
