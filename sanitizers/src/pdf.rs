//! PDF inspection and rasterisation.
//!
//! Two entry points:
//!
//! * [`inspect_pdf`] parses the document with `lopdf` and walks every object
//!   (at most [`PdfOptions::max_objects`]) looking for *active content*:
//!   JavaScript, automatic actions (`/OpenAction`, `/AA`), `/Launch`,
//!   embedded files, RichMedia, XFA / AcroForm, and the remote actions
//!   (`/URI`, `/SubmitForm`, `/ImportData`, `/GoToR`, `/GoToE`). URI targets
//!   are collected (as display text only) so staff can see where links went.
//!   Encryption is reported from the trailer's `/Encrypt`; when `lopdf`
//!   cannot load the file at all, a bounded byte scan for `/Encrypt` decides
//!   whether the file is "encrypted" (`Ok`) or simply malformed (`Err`).
//! * [`render_pdf`] rasterises the first [`PdfOptions::max_pages`] pages with
//!   `hayro` (pure Rust, no unsafe) at [`PdfOptions::dpi`], composited on
//!   white, as plain RGB. Every page is bounded by
//!   [`PdfOptions::max_page_pixels`] (huge pages are rendered at a lower
//!   resolution; absurd ones are refused) and the whole document by
//!   [`PdfOptions::max_total_pixels`] (later pages are dropped). It also
//!   extracts the first [`PdfOptions::max_text_chars`] characters of text with
//!   `lopdf` (best effort, whitespace-normalised).
//!
//! Fonts: the 14 standard fonts (and non-embedded Latin fonts, by closest
//! style) use the Foxit substitutes built into hayro. Non-embedded CID fonts
//! (Type0, e.g. MS-Mincho / MS-Gothic with Adobe-Japan1 and encodings such as
//! `UniJIS-UCS2-H`, `90ms-RKSJ-H`, `Identity-H` + `ToUnicode`) and simple fonts
//! whose name looks CJK are drawn with [`PdfOptions::fallback_font`]: hayro
//! maps code → CID with the predefined CMap (built in), CID → Unicode with the
//! font's `ToUnicode` or the `Adobe-Japan1-UCS2` map, and Unicode → glyph with
//! the fallback font's `cmap`.
//!
//! Limits and design: encrypted PDFs are never rendered (`Err(Encrypted)`),
//! even when the user password is empty. Renderer panics are caught and turned
//! into `Err(Malformed)`; hangs inside hayro are not handled here (the caller
//! runs rendering in a subprocess with rlimits and a wall-clock timeout).
//! Inspection is iterative (no recursion over input-controlled depth) and
//! linear in the number of parsed objects. Decompression in `lopdf` is bounded
//! per stream. Nothing here does I/O.

use std::fmt;
use std::sync::Arc;

use hayro::hayro_interpret::font::{FallbackFontQuery, FontData, FontQuery, GlyphRun};
use hayro::hayro_interpret::hayro_cmap::BfString;
use hayro::hayro_interpret::{
    BlendMode, ClipPath, Context, Device, DrawMode, DrawProps, Image, ImageDrawProps, InterpreterCache,
    InterpreterSettings, SoftMask, interpret_page,
};
use hayro::hayro_syntax::Pdf;
use hayro::kurbo::{Affine, BezPath, Rect};
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings};
use lopdf::{Dictionary, Document, LoadOptions, Object};

/// Limits and settings for PDF handling.
#[derive(Clone, Debug)]
pub struct PdfOptions {
    /// Target resolution in dots per inch (clamped to 1..=600).
    pub dpi: u32,
    /// Maximum number of pages rendered.
    pub max_pages: usize,
    /// Maximum pixels of one rendered page; bigger pages get a lower dpi.
    pub max_page_pixels: u64,
    /// Maximum pixels over all rendered pages; pages beyond it are dropped.
    pub max_total_pixels: u64,
    /// Maximum number of characters of extracted text.
    pub max_text_chars: usize,
    /// Maximum number of PDF objects; more is `Err(TooLarge)`.
    pub max_objects: usize,
    /// Maximum decompressed size of one stream for `lopdf` (bytes).
    pub max_stream_bytes: usize,
    /// A CJK TrueType/OpenType font used for non-embedded CJK fonts.
    pub fallback_font: Option<Arc<Vec<u8>>>,
}

impl Default for PdfOptions {
    fn default() -> Self {
        Self {
            dpi: 100,
            max_pages: 20,
            max_page_pixels: 16_000_000,
            max_total_pixels: 48_000_000,
            max_text_chars: 500,
            max_objects: 200_000,
            max_stream_bytes: 64 * 1024 * 1024,
            fallback_font: None,
        }
    }
}

/// One piece of active content found in a PDF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActiveContent {
    /// One of "JavaScript", "OpenAction", "AA", "Launch", "EmbeddedFile",
    /// "RichMedia", "XFA", "AcroForm", "URI", "SubmitForm", "ImportData",
    /// "GoToR", "GoToE".
    pub kind: &'static str,
    /// Short, control-character-free description (≤ 200 chars).
    pub detail: String,
}

/// Result of [`inspect_pdf`].
#[derive(Clone, Debug, Default)]
pub struct PdfInspection {
    /// Number of pages (0 when the document could not be parsed because it is encrypted).
    pub page_count: usize,
    /// The trailer has an `/Encrypt` entry.
    pub encrypted: bool,
    /// Active content found (deduplicated, at most [`MAX_ACTIVE`]).
    pub active: Vec<ActiveContent>,
    /// URI action targets (deduplicated, at most [`MAX_URIS`]), for display only.
    pub uris: Vec<String>,
}

/// One rendered page.
#[derive(Clone, Debug)]
pub struct RenderedPage {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// 3 bytes per pixel, row-major, composited on white.
    pub rgb: Vec<u8>,
}

/// Result of [`render_pdf`].
#[derive(Clone, Debug)]
pub struct PdfRendering {
    /// The rendered pages, in order (at most `max_pages`).
    pub pages: Vec<RenderedPage>,
    /// Number of pages in the document.
    pub total_pages: usize,
    /// First `max_text_chars` characters of the text, whitespace-normalised.
    pub text: String,
}

/// Why a PDF could not be handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PdfError {
    /// The document is encrypted.
    Encrypted,
    /// The document could not be parsed or rendered.
    Malformed(String),
    /// The document exceeds a limit.
    TooLarge(String),
}

impl fmt::Display for PdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PdfError::Encrypted => f.write_str("PDF is encrypted"),
            PdfError::Malformed(m) => write!(f, "malformed PDF: {m}"),
            PdfError::TooLarge(m) => write!(f, "PDF too large: {m}"),
        }
    }
}

impl std::error::Error for PdfError {}

/// Maximum number of [`ActiveContent`] entries reported.
pub const MAX_ACTIVE: usize = 100;
/// Maximum number of URIs reported.
pub const MAX_URIS: usize = 50;
const MAX_DETAIL_CHARS: usize = 200;
const MAX_URI_CHARS: usize = 1000;
/// Bound on object-graph nodes visited during inspection.
const MAX_NODES: usize = 20_000_000;
/// Bound on pages scanned for text.
const MAX_TEXT_PAGES: usize = 100;
/// A page side longer than this (in points) is refused (14400 is the PDF maximum).
const MAX_PAGE_SIDE_PT: f32 = 200_000.0;
/// Maximum rendered side length in pixels (hayro uses u16 sizes).
const MAX_SIDE_PX: f64 = 16_384.0;

// ------------------------------------------------------------------ loading

fn load_lopdf(data: &[u8], opts: &PdfOptions) -> Result<Document, String> {
    let options = LoadOptions { max_decompressed_size: Some(opts.max_stream_bytes), ..Default::default() };
    let res = std::panic::catch_unwind(|| Document::load_mem_with_options(data, options));
    match res {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("parser panicked".into()),
    }
}

/// Linear scan for the `/Encrypt` key (used only when the parser failed).
fn bytes_mention_encrypt(data: &[u8]) -> bool {
    data.windows(8).any(|w| w == b"/Encrypt")
}

fn doc_encrypted(doc: &Document) -> bool {
    doc.trailer.get(b"Encrypt").is_ok() || doc.was_encrypted()
}

// ------------------------------------------------------------------ inspection

/// Inspect a PDF for active content, encryption and page count.
pub fn inspect_pdf(data: &[u8], opts: &PdfOptions) -> Result<PdfInspection, PdfError> {
    let doc = match load_lopdf(data, opts) {
        Ok(d) => d,
        Err(e) => {
            if bytes_mention_encrypt(data) {
                return Ok(PdfInspection { encrypted: true, ..Default::default() });
            }
            return Err(PdfError::Malformed(e));
        }
    };
    if doc.objects.len() > opts.max_objects {
        return Err(PdfError::TooLarge(format!("{} objects (limit {})", doc.objects.len(), opts.max_objects)));
    }
    let mut found = Found::default();
    found.walk(&doc)?;
    let page_count = doc.get_pages().len();
    let encrypted = doc_encrypted(&doc);
    if page_count == 0 && !encrypted {
        return Err(PdfError::Malformed("no pages".into()));
    }
    Ok(PdfInspection { page_count, encrypted, active: found.active, uris: found.uris })
}

#[derive(Default)]
struct Found {
    active: Vec<ActiveContent>,
    uris: Vec<String>,
    embedded_stream: bool,
}

impl Found {
    fn add(&mut self, kind: &'static str, detail: String) {
        if self.active.len() >= MAX_ACTIVE {
            return;
        }
        if self.active.iter().any(|a| a.kind == kind && a.detail == detail) {
            return;
        }
        self.active.push(ActiveContent { kind, detail });
    }

    fn add_uri(&mut self, uri: String) {
        if self.uris.len() < MAX_URIS && !self.uris.contains(&uri) {
            self.uris.push(uri);
        }
    }

    /// Visit every object of the document with an explicit stack.
    fn walk(&mut self, doc: &Document) -> Result<(), PdfError> {
        let mut nodes = 0usize;
        let mut stack: Vec<&Object> = Vec::new();
        for obj in doc.objects.values() {
            stack.push(obj);
            while let Some(o) = stack.pop() {
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(PdfError::TooLarge("object graph too large".into()));
                }
                match o {
                    Object::Array(items) => stack.extend(items.iter()),
                    Object::Dictionary(d) => {
                        self.check_dict(doc, d, false);
                        stack.extend(d.iter().map(|(_, v)| v));
                    }
                    Object::Stream(s) => {
                        self.check_dict(doc, &s.dict, true);
                        stack.extend(s.dict.iter().map(|(_, v)| v));
                    }
                    _ => {}
                }
            }
        }
        if self.embedded_stream && !self.active.iter().any(|a| a.kind == "EmbeddedFile") {
            self.add("EmbeddedFile", "embedded file stream".into());
        }
        Ok(())
    }

    fn check_dict(&mut self, doc: &Document, d: &Dictionary, is_stream: bool) {
        let action = name_of(d, b"S");
        match action {
            Some(b"JavaScript") => {
                let js = d.get(b"JS").ok().map(string_or_ref).unwrap_or_default();
                self.add("JavaScript", js);
            }
            Some(b"Launch") => {
                let target = launch_target(doc, d);
                self.add("Launch", target);
            }
            Some(b"URI") => {
                if let Ok(Object::String(s, _)) = d.get(b"URI") {
                    let uri = clean_text(&decode_pdf_string(s), MAX_URI_CHARS);
                    self.add("URI", clean_text(&uri, MAX_DETAIL_CHARS));
                    self.add_uri(uri);
                } else {
                    self.add("URI", String::new());
                }
            }
            Some(b"SubmitForm") => {
                let target = d.get(b"F").map(|f| file_name(doc, f)).unwrap_or_default();
                self.add("SubmitForm", target);
            }
            Some(b"ImportData") => {
                let target = d.get(b"F").map(|f| file_name(doc, f)).unwrap_or_default();
                self.add("ImportData", target);
            }
            Some(b"GoToR") => {
                let target = d.get(b"F").map(|f| file_name(doc, f)).unwrap_or_default();
                self.add("GoToR", target);
            }
            Some(b"GoToE") => {
                let target = d.get(b"F").map(|f| file_name(doc, f)).unwrap_or_default();
                self.add("GoToE", target);
            }
            _ => {}
        }
        if action != Some(b"JavaScript")
            && let Ok(js) = d.get(b"JS")
        {
            self.add("JavaScript", string_or_ref(js));
        }
        if let Ok(oa) = d.get(b"OpenAction") {
            let detail = match resolve(doc, oa) {
                Some(Object::Dictionary(a)) => match name_of(a, b"S") {
                    Some(s) => format!("action {}", clean_text(&latin1(s), 40)),
                    None => "action".into(),
                },
                Some(Object::Array(_)) => "destination".into(),
                _ => String::new(),
            };
            // A plain destination is harmless; report only actions.
            if detail != "destination" {
                self.add("OpenAction", detail);
            }
        }
        if let Ok(aa) = d.get(b"AA") {
            let mut triggers = Vec::new();
            if let Some(Object::Dictionary(aad)) = resolve(doc, aa) {
                for (k, _) in aad.iter().take(20) {
                    triggers.push(clean_text(&latin1(k), 10));
                }
            }
            self.add("AA", format!("triggers {}", triggers.join(",")));
        }
        if d.get(b"EmbeddedFiles").is_ok() {
            self.add("EmbeddedFile", "EmbeddedFiles name tree".into());
        }
        if let Ok(ef) = d.get(b"EF") {
            let mut name = String::new();
            for key in [&b"UF"[..], b"F"] {
                if let Ok(Object::String(s, _)) = d.get(key) {
                    name = clean_text(&decode_pdf_string(s), MAX_DETAIL_CHARS);
                    break;
                }
            }
            if name.is_empty()
                && let Some(Object::Dictionary(efd)) = resolve(doc, ef)
                && !efd.is_empty()
            {
                name = "unnamed".into();
            }
            self.add("EmbeddedFile", name);
        }
        if is_stream && name_of(d, b"Type") == Some(b"EmbeddedFile") {
            self.embedded_stream = true;
        }
        if name_of(d, b"Subtype") == Some(b"RichMedia") || d.get(b"RichMediaContent").is_ok() {
            self.add("RichMedia", String::new());
        }
        if d.get(b"XFA").is_ok() {
            self.add("XFA", String::new());
        }
        if d.get(b"AcroForm").is_ok() {
            self.add("AcroForm", String::new());
        }
    }
}

fn name_of<'a>(d: &'a Dictionary, key: &[u8]) -> Option<&'a [u8]> {
    match d.get(key) {
        Ok(Object::Name(n)) => Some(n.as_slice()),
        _ => None,
    }
}

/// Follow at most a few references (no loops).
fn resolve<'a>(doc: &'a Document, mut o: &'a Object) -> Option<&'a Object> {
    for _ in 0..8 {
        match o {
            Object::Reference(id) => o = doc.objects.get(id)?,
            other => return Some(other),
        }
    }
    None
}

fn string_or_ref(o: &Object) -> String {
    match o {
        Object::String(s, _) => clean_text(&decode_pdf_string(s), MAX_DETAIL_CHARS),
        Object::Reference((n, g)) => format!("in object {n} {g}"),
        Object::Stream(_) => "in stream".into(),
        _ => String::new(),
    }
}

fn file_name(doc: &Document, f: &Object) -> String {
    match resolve(doc, f) {
        Some(Object::String(s, _)) => clean_text(&decode_pdf_string(s), MAX_DETAIL_CHARS),
        Some(Object::Dictionary(fs)) => {
            for key in [&b"UF"[..], b"F", b"Unix", b"DOS", b"Mac"] {
                if let Ok(Object::String(s, _)) = fs.get(key) {
                    return clean_text(&decode_pdf_string(s), MAX_DETAIL_CHARS);
                }
            }
            String::new()
        }
        _ => String::new(),
    }
}

fn launch_target(doc: &Document, d: &Dictionary) -> String {
    if let Ok(f) = d.get(b"F") {
        let n = file_name(doc, f);
        if !n.is_empty() {
            return n;
        }
    }
    if let Ok(win) = d.get(b"Win")
        && let Some(Object::Dictionary(w)) = resolve(doc, win)
        && let Ok(f) = w.get(b"F")
    {
        let mut n = file_name(doc, f);
        if let Ok(Object::String(p, _)) = w.get(b"P") {
            n.push(' ');
            n.push_str(&decode_pdf_string(p));
        }
        return clean_text(&n, MAX_DETAIL_CHARS);
    }
    String::new()
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// Decode a PDF text string: UTF-16BE with BOM, UTF-8 with BOM, else PDFDocEncoding
/// (approximated as Latin-1).
fn decode_pdf_string(b: &[u8]) -> String {
    if let Some(rest) = b.strip_prefix(&[0xFE, 0xFF]) {
        let units = rest.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
        char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
    } else if let Some(rest) = b.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        String::from_utf8_lossy(rest).into_owned()
    } else {
        latin1(b)
    }
}

/// Replace control characters by spaces and truncate to `max` characters.
fn clean_text(s: &str, max: usize) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(max).collect()
}

// ------------------------------------------------------------------ rendering

/// Render the first pages of a PDF to RGB bitmaps and extract its text.
pub fn render_pdf(data: &[u8], opts: &PdfOptions) -> Result<PdfRendering, PdfError> {
    // Encryption and text come from lopdf; a file lopdf cannot read may still
    // render with hayro (it is more forgiving), so a lopdf failure is not fatal.
    let text = match load_lopdf(data, opts) {
        Ok(doc) => {
            if doc_encrypted(&doc) {
                return Err(PdfError::Encrypted);
            }
            if doc.objects.len() > opts.max_objects {
                return Err(PdfError::TooLarge(format!("{} objects (limit {})", doc.objects.len(), opts.max_objects)));
            }
            extract_text(&doc, opts)
        }
        Err(_) => {
            if bytes_mention_encrypt(data) {
                return Err(PdfError::Encrypted);
            }
            String::new()
        }
    };

    let bytes: Arc<Vec<u8>> = Arc::new(data.to_vec());
    let settings = interpreter_settings(opts);
    let need_text = text.is_empty();
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| render_with_hayro(bytes, &settings, opts, need_text)));
    let (pages, total_pages, hayro_text) = match result {
        Ok(r) => r?,
        Err(_) => return Err(PdfError::Malformed("renderer panicked".into())),
    };
    Ok(PdfRendering { pages, total_pages, text: if need_text { hayro_text } else { text } })
}

fn interpreter_settings(opts: &PdfOptions) -> InterpreterSettings {
    let fallback = opts.fallback_font.clone();
    InterpreterSettings {
        font_resolver: Arc::new(move |query: &FontQuery| match query {
            FontQuery::Standard(s) => Some(s.get_font_data()),
            FontQuery::Fallback(f) => {
                if let Some(fb) = &fallback
                    && wants_cjk_font(f)
                {
                    let data: FontData = fb.clone();
                    return Some((data, 0));
                }
                Some(f.pick_standard_font().get_font_data())
            }
        }),
        ..Default::default()
    }
}

/// CID-keyed fonts, and simple fonts whose name looks like a CJK font.
fn wants_cjk_font(q: &FallbackFontQuery) -> bool {
    if q.character_collection.is_some() {
        return true;
    }
    const HINTS: [&str; 16] = [
        "mincho", "gothic", "meiryo", "hiragino", "kozuka", "ryumin", "heisei", "ipa", "msung", "mhei", "simsun",
        "simhei", "gulim", "batang", "yugoth", "yumin",
    ];
    [&q.post_script_name, &q.font_name, &q.font_family].into_iter().flatten().any(|n| {
        let lower = n.to_ascii_lowercase();
        !n.is_ascii() || HINTS.iter().any(|h| lower.contains(h))
    })
}

/// The scale (pixels per point) for a page of `w`×`h` points.
fn page_scale(w: f32, h: f32, opts: &PdfOptions) -> Result<f32, PdfError> {
    if !(w.is_finite() && h.is_finite()) || w <= 0.0 || h <= 0.0 {
        return Err(PdfError::Malformed("invalid page size".into()));
    }
    if w > MAX_PAGE_SIDE_PT || h > MAX_PAGE_SIDE_PT {
        return Err(PdfError::TooLarge(format!("page of {w}x{h} points")));
    }
    let (w, h) = (f64::from(w), f64::from(h));
    let mut s = f64::from(opts.dpi.clamp(1, 600)) / 72.0;
    let max_px = opts.max_page_pixels.max(1) as f64;
    let px = w * s * h * s;
    if px > max_px {
        s *= (max_px / px).sqrt() * 0.999;
    }
    s = s.min(MAX_SIDE_PX / w).min(MAX_SIDE_PX / h);
    if (w * s).floor() < 1.0 || (h * s).floor() < 1.0 {
        return Err(PdfError::TooLarge(format!("page of {w}x{h} points cannot fit the pixel limit")));
    }
    Ok(s as f32)
}

fn render_with_hayro(
    bytes: Arc<Vec<u8>>,
    settings: &InterpreterSettings,
    opts: &PdfOptions,
    need_text: bool,
) -> Result<(Vec<RenderedPage>, usize, String), PdfError> {
    let pdf = match Pdf::new(bytes) {
        Ok(p) => p,
        Err(hayro::hayro_syntax::LoadPdfError::Decryption(_)) => return Err(PdfError::Encrypted),
        Err(_) => return Err(PdfError::Malformed("cannot parse PDF".into())),
    };
    if pdf.len() > opts.max_objects {
        return Err(PdfError::TooLarge(format!("{} objects", pdf.len())));
    }
    let pages = pdf.pages();
    let total = pages.len();
    if total == 0 {
        return Err(PdfError::Malformed("no pages".into()));
    }
    let cache = RenderCache::new();
    let render_settings = RenderSettings::default();
    let mut out = Vec::new();
    let mut budget = opts.max_total_pixels;
    for page in pages.iter().take(opts.max_pages) {
        let (w, h) = page.render_dimensions();
        let scale = page_scale(w, h, opts)?;
        // Same arithmetic as hayro::render uses for the pixmap size.
        let expect = ((w * scale) as u64) * ((h * scale) as u64);
        if expect > budget {
            break;
        }
        let pixmap = hayro::render(
            page,
            &cache,
            settings,
            &render_settings,
            &PixmapSettings { x_scale: scale, y_scale: scale, bg_color: WHITE },
        );
        let (pw, ph) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
        let pixels = u64::from(pw) * u64::from(ph);
        if pixels > opts.max_page_pixels || pixels > budget {
            return Err(PdfError::TooLarge("rendered page exceeds pixel limit".into()));
        }
        budget -= pixels;
        let rgba = pixmap.data_as_u8_slice();
        let mut rgb = Vec::with_capacity(rgba.len() / 4 * 3);
        for px in rgba.chunks_exact(4) {
            // Premultiplied RGBA over white: c + (255 - a).
            let inv = 255 - px[3];
            rgb.push(px[0].saturating_add(inv));
            rgb.push(px[1].saturating_add(inv));
            rgb.push(px[2].saturating_add(inv));
        }
        out.push(RenderedPage { width: pw, height: ph, rgb });
    }
    let mut text = TextDevice { text: String::new(), chars: 0, max: opts.max_text_chars, pending_space: false };
    if need_text && opts.max_text_chars > 0 {
        let icache = InterpreterCache::new();
        for page in pages.iter().take(opts.max_pages) {
            if text.chars >= text.max {
                break;
            }
            let mut ctx =
                Context::new(Affine::IDENTITY, Rect::new(0.0, 0.0, 1.0, 1.0), &icache, page.xref(), settings.clone());
            interpret_page(page, &mut ctx, &mut text);
            text.pending_space = true;
        }
    }
    Ok((out, total, text.text))
}

/// A hayro device that only collects the Unicode of drawn glyphs (used when
/// `lopdf` finds no text, e.g. CID fonts with predefined CMaps).
struct TextDevice {
    text: String,
    chars: usize,
    max: usize,
    pending_space: bool,
}

impl TextDevice {
    fn push(&mut self, c: char) {
        if self.chars >= self.max {
            return;
        }
        if c.is_whitespace() || c.is_control() {
            self.pending_space = true;
            return;
        }
        if self.pending_space && self.chars > 0 {
            self.text.push(' ');
            self.chars += 1;
            if self.chars >= self.max {
                return;
            }
        }
        self.pending_space = false;
        self.text.push(c);
        self.chars += 1;
    }
}

impl<'a> Device<'a> for TextDevice {
    fn draw_path(&mut self, _: &BezPath, _: DrawProps<'a>, _: &DrawMode) {}
    fn push_clip_path(&mut self, _: &ClipPath) {}
    fn push_transparency_group(&mut self, _: f32, _: Option<SoftMask<'a>>, _: BlendMode) {}
    fn draw_glyph_run(&mut self, run: &GlyphRun<'_, 'a>, _: DrawProps<'a>, _: &DrawMode) {
        self.pending_space = true;
        for g in run.glyphs() {
            if self.chars >= self.max {
                return;
            }
            match g.as_unicode() {
                Some(BfString::Char(c)) => self.push(c),
                Some(BfString::String(s)) => {
                    for c in s.chars().take(16) {
                        self.push(c);
                    }
                }
                None => {}
            }
        }
    }
    fn draw_image(&mut self, _: Image<'a, '_>, _: ImageDrawProps<'a>) {}
    fn pop_clip(&mut self) {}
    fn pop_transparency_group(&mut self) {}
}

// ------------------------------------------------------------------ text

fn extract_text(doc: &Document, opts: &PdfOptions) -> String {
    let max = opts.max_text_chars;
    let mut text = String::new();
    let mut count = 0usize;
    if max == 0 {
        return text;
    }
    let page_numbers: Vec<u32> = doc.get_pages().keys().copied().take(MAX_TEXT_PAGES).collect();
    for n in page_numbers {
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            doc.extract_text_with_limit(&[n], opts.max_stream_bytes)
        }));
        let Ok(Ok(page_text)) = res else { continue };
        for word in page_text.split_whitespace() {
            let word: String = word.chars().filter(|c| !c.is_control()).collect();
            if word.is_empty() {
                continue;
            }
            if count > 0 {
                text.push(' ');
                count += 1;
                if count >= max {
                    return text.trim_end().to_string();
                }
            }
            for c in word.chars() {
                text.push(c);
                count += 1;
                if count >= max {
                    return text;
                }
            }
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT_1: &[u8] = include_bytes!("../tests/fixtures/pdf/text_1page.pdf");
    const TEXT_3: &[u8] = include_bytes!("../tests/fixtures/pdf/text_3pages.pdf");
    const JAPANESE: &[u8] = include_bytes!("../tests/fixtures/pdf/japanese_nonembedded.pdf");
    const JS: &[u8] = include_bytes!("../tests/fixtures/pdf/js_openaction.pdf");
    const LAUNCH: &[u8] = include_bytes!("../tests/fixtures/pdf/launch.pdf");
    const EMBEDDED: &[u8] = include_bytes!("../tests/fixtures/pdf/embedded_file.pdf");
    const ENCRYPTED: &[u8] = include_bytes!("../tests/fixtures/pdf/encrypted.pdf");
    const HUGE: &[u8] = include_bytes!("../tests/fixtures/pdf/huge_mediabox.pdf");
    const IPAEX: &str = "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf";

    fn dark_pixels(p: &RenderedPage) -> usize {
        p.rgb.chunks_exact(3).filter(|c| u32::from(c[0]) + u32::from(c[1]) + u32::from(c[2]) < 3 * 128).count()
    }

    fn kinds(i: &PdfInspection) -> Vec<&'static str> {
        i.active.iter().map(|a| a.kind).collect()
    }

    #[test]
    fn text_page_renders_a4_at_100dpi() {
        let t = std::time::Instant::now();
        let r = render_pdf(TEXT_1, &PdfOptions::default()).unwrap();
        eprintln!("text_1page render: {:?}", t.elapsed());
        assert_eq!(r.total_pages, 1);
        assert_eq!(r.pages.len(), 1);
        let p = &r.pages[0];
        assert!((826..=828).contains(&p.width), "width {}", p.width);
        assert!((1168..=1170).contains(&p.height), "height {}", p.height);
        assert_eq!(p.rgb.len(), (p.width * p.height * 3) as usize);
        let dark = dark_pixels(p);
        assert!(dark > 2000, "only {dark} dark pixels");
        // Mostly white background.
        assert!(dark < (p.width * p.height / 10) as usize);
    }

    #[test]
    fn text_is_extracted() {
        let r = render_pdf(TEXT_1, &PdfOptions::default()).unwrap();
        assert!(r.text.contains("The quick brown fox jumps over the lazy dog."), "text: {:?}", r.text);
        let opts = PdfOptions { max_text_chars: 9, ..Default::default() };
        let r = render_pdf(TEXT_1, &opts).unwrap();
        assert_eq!(r.text, "The quick");
    }

    #[test]
    fn max_pages_is_respected() {
        let opts = PdfOptions { max_pages: 2, ..Default::default() };
        let r = render_pdf(TEXT_3, &opts).unwrap();
        assert_eq!(r.pages.len(), 2);
        assert_eq!(r.total_pages, 3);
        assert!(r.text.contains("page 1 of three"), "{}", r.text);
        let i = inspect_pdf(TEXT_3, &opts).unwrap();
        assert_eq!(i.page_count, 3);
        assert!(i.active.is_empty());
        assert!(!i.encrypted);
    }

    #[test]
    fn total_pixel_budget_drops_pages() {
        let opts = PdfOptions { max_total_pixels: 1_500_000, ..Default::default() };
        let r = render_pdf(TEXT_3, &opts).unwrap();
        assert_eq!(r.pages.len(), 1);
        assert_eq!(r.total_pages, 3);
    }

    #[test]
    fn japanese_uses_fallback_font() {
        let Ok(font) = std::fs::read(IPAEX) else {
            eprintln!("SKIP japanese_uses_fallback_font: {IPAEX} missing");
            return;
        };
        let without = render_pdf(JAPANESE, &PdfOptions::default()).unwrap();
        let opts = PdfOptions { fallback_font: Some(Arc::new(font)), ..Default::default() };
        let t = std::time::Instant::now();
        let with = render_pdf(JAPANESE, &opts).unwrap();
        eprintln!("japanese render: {:?}", t.elapsed());
        let a = dark_pixels(&without.pages[0]);
        let b = dark_pixels(&with.pages[0]);
        eprintln!("dark pixels without fallback {a}, with {b}");
        assert!(b > 5000, "with fallback only {b} dark pixels");
        assert!(b > a * 2 + 1000, "without {a}, with {b}");
        assert!(with.text.contains("見積書をお送りします。"), "{}", with.text);
        assert!(with.text.contains("令和六年度"), "{}", with.text);
    }

    #[test]
    fn inspect_finds_javascript_openaction() {
        let i = inspect_pdf(JS, &PdfOptions::default()).unwrap();
        let k = kinds(&i);
        assert!(k.contains(&"JavaScript"), "{:?}", i.active);
        assert!(k.contains(&"OpenAction"), "{:?}", i.active);
        let js = i.active.iter().find(|a| a.kind == "JavaScript").unwrap();
        assert!(js.detail.contains("app.alert"), "{}", js.detail);
        assert_eq!(i.page_count, 1);
    }

    #[test]
    fn inspect_finds_launch_and_uri() {
        let i = inspect_pdf(LAUNCH, &PdfOptions::default()).unwrap();
        let launch = i.active.iter().find(|a| a.kind == "Launch").expect("Launch");
        assert!(launch.detail.contains("cmd.exe"), "{}", launch.detail);
        assert!(kinds(&i).contains(&"URI"));
        assert_eq!(i.uris, vec!["https://example.com/login?x=1".to_string()]);
        assert!(!kinds(&i).contains(&"JavaScript"));
    }

    #[test]
    fn inspect_finds_embedded_file() {
        let i = inspect_pdf(EMBEDDED, &PdfOptions::default()).unwrap();
        assert!(
            i.active.iter().any(|a| a.kind == "EmbeddedFile" && a.detail.contains("invoice.exe")),
            "{:?}",
            i.active
        );
        let clean = inspect_pdf(TEXT_1, &PdfOptions::default()).unwrap();
        assert!(clean.active.is_empty(), "{:?}", clean.active);
    }

    #[test]
    fn encrypted_is_detected_and_refused() {
        let i = inspect_pdf(ENCRYPTED, &PdfOptions::default()).unwrap();
        assert!(i.encrypted);
        assert_eq!(render_pdf(ENCRYPTED, &PdfOptions::default()).unwrap_err(), PdfError::Encrypted);
        // Corrupted beyond parsing, but still says /Encrypt.
        let mut broken = b"%PDF-1.4\ngarbage /Encrypt 6 0 R".to_vec();
        broken.extend_from_slice(&[0xFF; 20]);
        assert!(inspect_pdf(&broken, &PdfOptions::default()).unwrap().encrypted);
        assert_eq!(render_pdf(&broken, &PdfOptions::default()).unwrap_err(), PdfError::Encrypted);
        assert!(!inspect_pdf(TEXT_1, &PdfOptions::default()).unwrap().encrypted);
    }

    #[test]
    fn huge_mediabox_is_scaled_down() {
        let opts = PdfOptions { max_page_pixels: 1_000_000, ..Default::default() };
        let r = render_pdf(HUGE, &opts).unwrap();
        let p = &r.pages[0];
        assert!(u64::from(p.width) * u64::from(p.height) <= 1_000_000);
        assert!(p.width > 900 && p.height > 900, "{}x{}", p.width, p.height);
        // The blue square covers about 6% of the page.
        let blue = p.rgb.chunks_exact(3).filter(|c| c[2] > 200 && c[0] < 60).count();
        assert!(blue > 30_000, "blue {blue}");
    }

    #[test]
    fn absurd_mediabox_is_refused() {
        let doc = String::from_utf8_lossy(TEXT_1).replace("[0 0 595 842]", "[0 0 9e9 842]");
        // The xref offsets shift (both parsers repair that); the result must be an
        // Err or a bounded page.
        match render_pdf(doc.as_bytes(), &PdfOptions::default()) {
            Err(PdfError::TooLarge(_)) | Err(PdfError::Malformed(_)) => {}
            Ok(r) => {
                for p in r.pages {
                    assert!(u64::from(p.width) * u64::from(p.height) <= 16_000_000);
                }
            }
            Err(e) => panic!("unexpected {e}"),
        }
        assert!(matches!(page_scale(1e9, 10.0, &PdfOptions::default()), Err(PdfError::TooLarge(_))));
        assert!(matches!(page_scale(100_000.0, 1.0, &PdfOptions::default()), Err(PdfError::TooLarge(_))));
        assert!(page_scale(f32::NAN, 10.0, &PdfOptions::default()).is_err());
        let s = page_scale(595.0, 842.0, &PdfOptions::default()).unwrap();
        assert!((s - 100.0 / 72.0).abs() < 1e-4);
    }

    #[test]
    fn garbage_and_truncated_are_errors() {
        let opts = PdfOptions::default();
        for data in [
            &b""[..],
            b"hello world",
            b"%PDF-1.4\n",
            b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>",
            &[0u8; 1000][..],
        ] {
            let i = inspect_pdf(data, &opts);
            assert!(i.is_err(), "{:?} {:?}", String::from_utf8_lossy(data), i);
            let r = render_pdf(data, &opts);
            assert!(r.is_err(), "{:?} {:?}", String::from_utf8_lossy(data), r.map(|r| r.total_pages));
        }
        // Every truncation of a real file: no panic; either Err or a bounded Ok.
        for cut in (0..TEXT_1.len()).step_by(37) {
            let data = &TEXT_1[..cut];
            let _ = inspect_pdf(data, &opts);
            if let Ok(r) = render_pdf(data, &opts) {
                assert!(r.pages.len() <= 1);
            }
        }
        // Bit flips.
        let mut data = JS.to_vec();
        for i in (0..data.len()).step_by(53) {
            data[i] ^= 0x5A;
        }
        let _ = inspect_pdf(&data, &opts);
        let _ = render_pdf(&data, &opts);
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let mut body = String::from("%PDF-1.4\n1 0 obj\n<< /Type /Catalog /X ");
        for _ in 0..5000 {
            body.push('[');
        }
        for _ in 0..5000 {
            body.push(']');
        }
        body.push_str(" >>\nendobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");
        let _ = inspect_pdf(body.as_bytes(), &PdfOptions::default());
        let _ = render_pdf(body.as_bytes(), &PdfOptions::default());
    }

    #[test]
    fn max_objects_is_enforced() {
        let opts = PdfOptions { max_objects: 3, ..Default::default() };
        assert!(matches!(inspect_pdf(JS, &opts), Err(PdfError::TooLarge(_))));
    }

    #[test]
    fn pdf_strings_are_decoded_and_cleaned() {
        assert_eq!(decode_pdf_string(&[0xFE, 0xFF, 0x30, 0x42, 0x00]), "あ");
        assert_eq!(decode_pdf_string(&[0xFE, 0xFF, 0xD8, 0x00]), "\u{FFFD}");
        assert_eq!(decode_pdf_string(b"caf\xe9"), "café");
        assert_eq!(clean_text("a\u{7}b\nc", 10), "a b c");
        assert_eq!(clean_text("abcdef", 3), "abc");
    }
}
