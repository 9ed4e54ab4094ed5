//! Office documents: plain text out of OOXML (docx/docm, xlsx/xlsm,
//! pptx/pptm) and ODF (odt, ods, odp), and macro detection, including legacy
//! OLE2 files (doc/xls/ppt).
//!
//! What it does: [`extract_office_text`] reads the ZIP package with
//! [`crate::archive`] (inflating only the parts it needs, under the archive
//! limits), tells the format from `mimetype` (ODF) or `[Content_Types].xml`
//! (OOXML, falling back to the usual part names), and turns the document XML
//! into `\n`-separated lines:
//! - Word: one line per paragraph (`w:t` text, `w:tab` → tab, `w:br` → line
//!   break); a table row is one line, cells joined by `" | "`; headers and
//!   footers follow the body under a heading.
//! - Excel: a `== sheet name ==` heading per sheet (workbook order, names from
//!   `xl/workbook.xml` and its relationships; else part-name order), one line
//!   per row, cells joined by tab: shared strings, inline strings, numbers and
//!   booleans as written; formulas and phonetic readings (`rPh`) are skipped.
//! - PowerPoint: `== スライド N / Slide N ==` per slide in numeric order, `a:t`
//!   text, one line per paragraph, table cells joined by `" | "`.
//! - ODF: `text:p` / `text:h` lines, table cells tab-separated, one line per
//!   row, a heading per sheet (ods) or page (odp).
//!
//! Macros ([`OfficeText::macros`], evidence strings): any `vbaProject.bin`,
//! macro-enabled / VBA / macro-sheet / ActiveX content types, Excel 4.0 macro
//! sheets (`xl/macrosheets/`), ActiveX parts, embedded OLE objects that hold a
//! VBA storage, ODF `Basic/` modules and `Scripts/`, ODF event listeners.
//! [`ole2_has_macros`] checks a legacy OLE2 file for the `Macros`,
//! `_VBA_PROJECT_CUR` and `VBA` directory entries.
//!
//! Limits: the output stops at `max_text_chars` characters (`truncated`);
//! the ZIP limits bound inflation; the shared-string table keeps at most
//! 4 × `max_text_chars` characters. XML is read with quick-xml: only the five
//! predefined entities and character references are resolved; a DTD is
//! ignored and no declared entity is ever expanded, so entity bombs
//! (billion laughs) produce nothing. Malformed XML stops that part; the text
//! read so far is kept and a note is added.
//!
//! Not done: text of legacy binary formats (doc/xls/ppt → [`OfficeError::Unsupported`]);
//! VBA inside legacy PowerPoint (stored compressed inside a stream) and
//! Excel 4.0 macro sheets in legacy xls are not detected by [`ole2_has_macros`].

use std::borrow::Cow;
use std::fmt;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::archive::{self, ArchiveError, MemberError, ZipListing, ZipMember};

/// Limits for one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfficeLimits {
    /// Characters of text produced at most (then `truncated`).
    pub max_text_chars: usize,
    pub zip: archive::ZipLimits,
}

impl Default for OfficeLimits {
    fn default() -> Self {
        OfficeLimits { max_text_chars: 1_000_000, zip: archive::ZipLimits::default() }
    }
}

/// Text and macro evidence of one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfficeText {
    /// "docx", "docm", "xlsx", "xlsm", "pptx", "pptm", "odt", "ods", "odp".
    pub format: &'static str,
    /// `\n`-separated lines.
    pub text: String,
    /// `max_text_chars` reached, or a part could not be read completely.
    pub truncated: bool,
    /// Evidence of macros or other active content (empty: none found).
    pub macros: Vec<String>,
    /// Oddities for the auditor: unreadable parts, malformed XML, archive
    /// anomalies and limits.
    pub notes: Vec<String>,
}

/// Why no text could be extracted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficeError {
    /// Neither an OOXML/ODF package nor an OLE2 file.
    NotOffice,
    /// The ZIP package cannot be read.
    Archive(ArchiveError),
    /// A password-protected OOXML document (OLE2 `EncryptedPackage`), or the
    /// main part is encrypted.
    Encrypted,
    /// A recognised format whose text is not extracted ("doc", "xls", "ppt",
    /// "ole2", "odf"); call [`ole2_has_macros`] for legacy files.
    Unsupported(&'static str),
    /// The main part is missing or unreadable.
    Corrupt(String),
}

impl fmt::Display for OfficeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OfficeError::NotOffice => f.write_str("not an Office document"),
            OfficeError::Archive(e) => write!(f, "{e}"),
            OfficeError::Encrypted => f.write_str("encrypted Office document"),
            OfficeError::Unsupported(k) => write!(f, "text extraction from {k} is not supported"),
            OfficeError::Corrupt(d) => write!(f, "corrupt Office document: {d}"),
        }
    }
}

impl std::error::Error for OfficeError {}

const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Extracts the text of an OOXML or ODF document and reports macro evidence.
pub fn extract_office_text(data: &[u8], limits: &OfficeLimits) -> Result<OfficeText, OfficeError> {
    if data.starts_with(&OLE_MAGIC) {
        let names = ole2_names(data, 4096);
        let has = |n: &str| names.iter().any(|x| x.eq_ignore_ascii_case(n));
        if has("EncryptedPackage") || has("EncryptionInfo") {
            return Err(OfficeError::Encrypted);
        }
        let kind = if has("WordDocument") {
            "doc"
        } else if has("Workbook") || has("Book") {
            "xls"
        } else if has("PowerPoint Document") {
            "ppt"
        } else {
            "ole2"
        };
        return Err(OfficeError::Unsupported(kind));
    }
    if !data.starts_with(b"PK") {
        return Err(OfficeError::NotOffice);
    }
    let listing = archive::read_zip_filtered(data, &limits.zip, &wanted).map_err(OfficeError::Archive)?;
    let mut doc = Package { listing: &listing, out: Out::new(limits.max_text_chars), notes: Vec::new() };
    for a in &listing.anomalies {
        doc.notes.push(format!("archive: {a}"));
    }
    if let Some(l) = &listing.limit_hit {
        doc.notes.push(format!("archive limit: {l}"));
    }
    let macros = macro_evidence(&listing);
    let format = if let Some(m) = doc.member("mimetype") {
        let mime = String::from_utf8_lossy(m.data.as_deref().unwrap_or(b"")).trim().to_ascii_lowercase();
        let kind = match mime.strip_prefix("application/vnd.oasis.opendocument.") {
            Some(k) if k.starts_with("text") => "odt",
            Some(k) if k.starts_with("spreadsheet") => "ods",
            Some(k) if k.starts_with("presentation") => "odp",
            Some(_) => return Err(OfficeError::Unsupported("odf")),
            None => return Err(OfficeError::NotOffice),
        };
        let content = doc.part("content.xml")?;
        odf_text(&content, kind, &mut doc.out, &mut doc.notes);
        kind
    } else {
        let types = doc.member("[Content_Types].xml").ok_or(OfficeError::NotOffice)?;
        let types = xml_string(types.data.as_deref().unwrap_or(b""));
        let (kind, main) = main_part(&types).ok_or(OfficeError::NotOffice)?;
        let macro_enabled = types.to_ascii_lowercase().contains("macroenabled")
            || listing.members.iter().any(|m| file_name(&m.path).eq_ignore_ascii_case("vbaProject.bin"));
        match kind {
            Kind::Word => word(&mut doc, &main)?,
            Kind::Excel => excel(&mut doc, &main)?,
            Kind::PowerPoint => powerpoint(&mut doc)?,
        }
        match (kind, macro_enabled) {
            (Kind::Word, false) => "docx",
            (Kind::Word, true) => "docm",
            (Kind::Excel, false) => "xlsx",
            (Kind::Excel, true) => "xlsm",
            (Kind::PowerPoint, false) => "pptx",
            (Kind::PowerPoint, true) => "pptm",
        }
    };
    let truncated = doc.out.truncated;
    let text = doc.out.finish();
    Ok(OfficeText { format, text, truncated, macros, notes: doc.notes })
}

/// Which members are worth inflating: XML parts, relationships, `mimetype`
/// and embedded objects (checked for VBA); not media.
fn wanted(path: &str) -> bool {
    let p = path.to_ascii_lowercase();
    p == "mimetype" || p.ends_with(".xml") || p.ends_with(".rels") || p.contains("/embeddings/")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Excel,
    PowerPoint,
}

struct Package<'a> {
    listing: &'a ZipListing,
    out: Out,
    notes: Vec<String>,
}

impl Package<'_> {
    /// The first member with this path (ASCII case-insensitive, as OPC says).
    fn member(&self, path: &str) -> Option<&ZipMember> {
        let path = path.trim_start_matches('/');
        self.listing.members.iter().find(|m| m.path.eq_ignore_ascii_case(path))
    }

    /// A part's XML text; an error if it is missing or unreadable.
    fn part(&self, path: &str) -> Result<String, OfficeError> {
        let m = self.member(path).ok_or_else(|| OfficeError::Corrupt(format!("{path} is missing")))?;
        match &m.data {
            Ok(d) => Ok(xml_string(d)),
            Err(MemberError::Encrypted) => Err(OfficeError::Encrypted),
            Err(e) => Err(OfficeError::Corrupt(format!("{path}: {e}"))),
        }
    }

    /// A part's XML text, or a note when it is present but unreadable.
    fn optional_part(&mut self, path: &str) -> Option<String> {
        let m = self.member(path)?;
        match &m.data {
            Ok(d) => Some(xml_string(d)),
            Err(e) => {
                self.notes.push(format!("{path}: {e}"));
                self.out.truncated = true;
                None
            }
        }
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Bytes of an XML part as text: UTF-8 (BOM stripped) or UTF-16 with a BOM.
fn xml_string(d: &[u8]) -> String {
    if let Some((enc, bom)) = encoding_rs::Encoding::for_bom(d) {
        let body = d.get(bom..).unwrap_or(&[]);
        return enc.decode_without_bom_handling(body).0.into_owned();
    }
    String::from_utf8_lossy(d).into_owned()
}

/// Bounded text output.
struct Out {
    text: String,
    chars: usize,
    max: usize,
    truncated: bool,
}

impl Out {
    fn new(max: usize) -> Self {
        Out { text: String::new(), chars: 0, max, truncated: false }
    }

    fn full(&self) -> bool {
        self.truncated && self.chars >= self.max
    }

    fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            self.push(c);
        }
    }

    fn push(&mut self, c: char) {
        if self.chars >= self.max {
            self.truncated = true;
            return;
        }
        self.text.push(c);
        self.chars += 1;
    }

    /// Ends the current line, if one is open.
    fn newline(&mut self) {
        if self.text.is_empty() || self.text.ends_with('\n') {
            return;
        }
        self.push('\n');
    }

    /// Ends a paragraph: empty paragraphs give empty lines, at most one in a row.
    fn para_end(&mut self) {
        if self.text.is_empty() || self.text.ends_with("\n\n") {
            return;
        }
        self.push('\n');
    }

    /// A space unless the output already ends with whitespace.
    fn space(&mut self) {
        if !self.text.is_empty() && !self.text.ends_with([' ', '\t', '\n']) {
            self.push(' ');
        }
    }

    fn heading(&mut self, h: &str) {
        if !self.text.is_empty() && !self.text.ends_with('\n') {
            self.push('\n');
        }
        self.push_str(h);
        self.push('\n');
    }

    fn finish(self) -> String {
        let mut t = self.text;
        let keep = t.trim_end().len();
        t.truncate(keep);
        t
    }
}

/// Text carried by a text-ish event: text, CDATA, or a predefined entity /
/// character reference. Anything else (declared entities) yields nothing.
fn event_text<'a>(ev: &'a Event<'_>) -> Option<Cow<'a, str>> {
    match ev {
        Event::Text(t) => Some(t.xml10_content()),
        Event::CData(c) => Some(Cow::Borrowed(&**c)),
        Event::GeneralRef(r) => {
            if r.is_char_ref() {
                return r.resolve_char_ref().ok().flatten().map(|c| Cow::Owned(c.to_string()));
            }
            let s = match &**r {
                "amp" => "&",
                "lt" => "<",
                "gt" => ">",
                "quot" => "\"",
                "apos" => "'",
                _ => return None,
            };
            Some(Cow::Borrowed(s))
        }
        _ => None,
    }
}

fn attr(e: &BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes().flatten().find(|a| a.key.local_name().as_ref() == local).map(|a| {
        match a.normalized_value(XmlVersion::Implicit1_0) {
            Ok(v) => v.into_owned(),
            Err(_) => a.value.into_owned(),
        }
    })
}

fn xml_reader(xml: &str) -> Reader<&[u8]> {
    let mut r = Reader::from_str(xml);
    r.config_mut().check_comments = false;
    r
}

/// Reads events until Eof or an error (noted); `f` returns false to stop.
fn walk(xml: &str, part: &str, notes: &mut Vec<String>, mut f: impl FnMut(&Event<'_>) -> bool) {
    let mut r = xml_reader(xml);
    loop {
        match r.read_event() {
            Ok(Event::Eof) => break,
            Ok(ev) => {
                if !f(&ev) {
                    break;
                }
            }
            Err(e) => {
                notes.push(format!("{part}: malformed XML at byte {}: {e}", r.buffer_position()));
                break;
            }
        }
    }
}

/// Elements whose content is never text of the document.
fn skipped(local: &str) -> bool {
    matches!(local, "Fallback" | "rPh" | "instrText" | "delText" | "tabs" | "phoneticPr" | "tracked-changes" | "notes")
}

/// Word and DrawingML share a shape: `p` paragraphs, `t` text runs,
/// `tr`/`tc` table rows and cells, `br` breaks, `tab` tabs.
fn paragraphs(xml: &str, part: &str, out: &mut Out, notes: &mut Vec<String>) {
    let mut skip = 0usize;
    let mut in_t = 0usize;
    let mut cell_depth = 0usize;
    let mut first_cell = true;
    walk(xml, part, notes, |ev| {
        match ev {
            Event::Start(e) => {
                let name = e.local_name();
                let n = name.as_ref();
                if skip > 0 || skipped(n) {
                    skip += 1;
                } else if n == "t" {
                    in_t += 1;
                } else if n == "tr" {
                    out.newline();
                    first_cell = true;
                } else if n == "tc" {
                    if !first_cell {
                        out.push_str(" | ");
                    }
                    first_cell = false;
                    cell_depth += 1;
                }
            }
            Event::End(e) => {
                let name = e.local_name();
                let n = name.as_ref();
                if skip > 0 {
                    skip -= 1;
                } else if n == "t" {
                    in_t = in_t.saturating_sub(1);
                } else if n == "p" {
                    if cell_depth > 0 {
                        out.space();
                    } else {
                        out.para_end();
                    }
                } else if n == "tc" {
                    cell_depth = cell_depth.saturating_sub(1);
                    while out.text.ends_with(' ') {
                        out.text.pop();
                        out.chars -= 1;
                    }
                } else if n == "tr" || n == "tbl" {
                    out.newline();
                    first_cell = true;
                }
            }
            Event::Empty(e) if skip == 0 => match e.local_name().as_ref() {
                "tab" => out.push('\t'),
                "br" | "cr" => {
                    if cell_depth > 0 {
                        out.space()
                    } else {
                        out.push('\n')
                    }
                }
                _ => {}
            },
            _ if skip == 0 && in_t > 0 => {
                if let Some(t) = event_text(ev) {
                    out.push_str(&t);
                }
            }
            _ => {}
        }
        !out.full()
    });
}

fn word(doc: &mut Package<'_>, main: &str) -> Result<(), OfficeError> {
    let body = doc.part(main)?;
    paragraphs(&body, main, &mut doc.out, &mut doc.notes);
    let mut extra: Vec<String> = doc
        .listing
        .members
        .iter()
        .map(|m| m.path.clone())
        .filter(|p| {
            let l = p.to_ascii_lowercase();
            (l.starts_with("word/header") || l.starts_with("word/footer")) && l.ends_with(".xml")
        })
        .collect();
    extra.sort_by_key(|p| natural_key(p));
    let mut heading = false;
    for p in extra {
        if doc.out.full() {
            break;
        }
        if let Some(x) = doc.optional_part(&p) {
            if !heading {
                doc.out.heading("== ヘッダー・フッター / Headers and footers ==");
                heading = true;
            }
            paragraphs(&x, &p, &mut doc.out, &mut doc.notes);
        }
    }
    Ok(())
}

/// Sort key: the path with its trailing number compared numerically.
fn natural_key(p: &str) -> (String, u64) {
    let stem = p.strip_suffix(".xml").unwrap_or(p);
    let digits: String =
        stem.chars().rev().take_while(|c| c.is_ascii_digit()).collect::<Vec<_>>().into_iter().rev().collect();
    let n = digits.get(..digits.len().min(18)).and_then(|d| d.parse().ok()).unwrap_or(0);
    let prefix = stem.get(..stem.len() - digits.len()).unwrap_or(stem).to_ascii_lowercase();
    (prefix, n)
}

fn powerpoint(doc: &mut Package<'_>) -> Result<(), OfficeError> {
    let mut slides: Vec<(u64, String)> = doc
        .listing
        .members
        .iter()
        .filter_map(|m| {
            let l = m.path.to_ascii_lowercase();
            let n = l.strip_prefix("ppt/slides/slide")?.strip_suffix(".xml")?;
            Some((n.parse::<u64>().ok()?, m.path.clone()))
        })
        .collect();
    slides.sort();
    slides.dedup_by_key(|s| s.0);
    for (i, (_, path)) in slides.iter().enumerate() {
        if doc.out.full() {
            break;
        }
        let n = i + 1;
        doc.out.heading(&format!("== スライド {n} / Slide {n} =="));
        if let Some(x) = doc.optional_part(path) {
            paragraphs(&x, path, &mut doc.out, &mut doc.notes);
        }
    }
    Ok(())
}

/// Resolves a relationship target against the folder of its source part.
fn resolve(base_dir: &str, target: &str) -> String {
    if let Some(abs) = target.strip_prefix('/') {
        return abs.to_string();
    }
    let mut parts: Vec<&str> = base_dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.join("/")
}

fn excel(doc: &mut Package<'_>, main: &str) -> Result<(), OfficeError> {
    let dir = main.trim_start_matches('/').rsplit_once('/').map_or("", |(d, _)| d).to_string();
    let main_name = file_name(main).to_string();
    // Shared strings.
    let cap = doc.out.max.saturating_mul(4);
    let mut shared: Vec<String> = Vec::new();
    if let Some(x) = doc.optional_part(&format!("{dir}/sharedStrings.xml")) {
        let mut cur = String::new();
        let mut total = 0usize;
        let (mut skip, mut in_t) = (0usize, 0usize);
        walk(&x, "sharedStrings.xml", &mut doc.notes, |ev| {
            match ev {
                Event::Start(e) if skip > 0 || skipped(e.local_name().as_ref()) => skip += 1,
                Event::End(_) if skip > 0 => skip -= 1,
                Event::Start(e) if e.local_name().as_ref() == "t" => in_t += 1,
                Event::End(e) if e.local_name().as_ref() == "t" => in_t = in_t.saturating_sub(1),
                Event::End(e) if e.local_name().as_ref() == "si" => shared.push(std::mem::take(&mut cur)),
                Event::Empty(e) if skip == 0 && e.local_name().as_ref() == "si" => shared.push(String::new()),
                _ if skip == 0 && in_t > 0 => {
                    if let Some(t) = event_text(ev) {
                        total = total.saturating_add(t.len());
                        cur.push_str(&t);
                    }
                }
                _ => {}
            }
            total <= cap
        });
    }
    // Sheets in workbook order.
    let mut sheets: Vec<(String, String)> = Vec::new(); // (name, part)
    let rels_path = format!("{dir}/_rels/{main_name}.rels");
    let mut rels: Vec<(String, String)> = Vec::new();
    if let Some(x) = doc.optional_part(&rels_path) {
        walk(&x, &rels_path, &mut doc.notes, |ev| {
            if let Event::Start(e) | Event::Empty(e) = ev
                && e.local_name().as_ref() == "Relationship"
                && let (Some(id), Some(t)) = (attr(e, "Id"), attr(e, "Target"))
            {
                rels.push((id, resolve(&dir, &t)));
            }
            rels.len() < 100_000
        });
    }
    if let Some(x) = doc.optional_part(main) {
        walk(&x, main, &mut doc.notes, |ev| {
            if let Event::Start(e) | Event::Empty(e) = ev
                && e.local_name().as_ref() == "sheet"
            {
                let name = attr(e, "name").unwrap_or_default();
                if let Some(id) = attr(e, "id")
                    && let Some((_, target)) = rels.iter().find(|(i, _)| *i == id)
                {
                    sheets.push((name, target.clone()));
                }
            }
            sheets.len() < 100_000
        });
    }
    if sheets.is_empty() {
        let prefix = format!("{}/worksheets/", dir.to_ascii_lowercase());
        let mut parts: Vec<String> = doc
            .listing
            .members
            .iter()
            .map(|m| m.path.clone())
            .filter(|p| {
                let l = p.to_ascii_lowercase();
                l.starts_with(&prefix) && l.ends_with(".xml") && !l[prefix.len()..].contains('/')
            })
            .collect();
        parts.sort_by_key(|p| natural_key(p));
        sheets = parts.into_iter().map(|p| (file_name(&p).trim_end_matches(".xml").to_string(), p)).collect();
    }
    for (name, part) in sheets {
        if doc.out.full() {
            break;
        }
        doc.out.heading(&format!("== {name} =="));
        let Some(x) = doc.optional_part(&part) else { continue };
        sheet_text(&x, &part, &shared, &mut doc.out, &mut doc.notes);
    }
    Ok(())
}

fn sheet_text(xml: &str, part: &str, shared: &[String], out: &mut Out, notes: &mut Vec<String>) {
    let mut row: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut ctype = String::new();
    let (mut in_v, mut in_t, mut in_is, mut skip) = (false, 0usize, false, 0usize);
    walk(xml, part, notes, |ev| {
        match ev {
            Event::Start(e) if skip > 0 || skipped(e.local_name().as_ref()) || e.local_name().as_ref() == "f" => {
                skip += 1
            }
            Event::End(_) if skip > 0 => skip -= 1,
            Event::Start(e) => match e.local_name().as_ref() {
                "row" => row.clear(),
                "c" => {
                    ctype = attr(e, "t").unwrap_or_default();
                    cell.clear();
                }
                "v" => in_v = true,
                "is" => in_is = true,
                "t" => in_t += 1,
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == "c" => row.push(String::new()),
            Event::End(e) => match e.local_name().as_ref() {
                "v" => in_v = false,
                "is" => in_is = false,
                "t" => in_t = in_t.saturating_sub(1),
                "c" => {
                    let v = match ctype.as_str() {
                        "s" => {
                            cell.trim().parse::<usize>().ok().and_then(|i| shared.get(i)).cloned().unwrap_or_default()
                        }
                        "b" => match cell.trim() {
                            "1" => "TRUE".into(),
                            "0" => "FALSE".into(),
                            o => o.to_string(),
                        },
                        _ => std::mem::take(&mut cell),
                    };
                    row.push(v);
                    cell.clear();
                }
                "row" => {
                    while row.last().is_some_and(|c| c.is_empty()) {
                        row.pop();
                    }
                    if !row.is_empty() {
                        for (i, c) in row.iter().enumerate() {
                            if i > 0 {
                                out.push('\t');
                            }
                            // A cell's own line breaks would split the row.
                            out.push_str(&c.replace(['\r', '\n', '\t'], " "));
                        }
                        out.push('\n');
                    }
                    row.clear();
                }
                _ => {}
            },
            _ if skip == 0 && (in_v || (in_is && in_t > 0)) && cell.len() < out.max => {
                if let Some(t) = event_text(ev) {
                    cell.push_str(&t);
                }
            }
            _ => {}
        }
        !out.full()
    });
}

/// ODF content.xml.
fn odf_text(xml: &str, kind: &str, out: &mut Out, notes: &mut Vec<String>) {
    let (mut skip, mut para, mut cell_depth) = (0usize, 0usize, 0usize);
    let mut first_cell = true;
    let mut page = 0usize;
    walk(xml, "content.xml", notes, |ev| {
        match ev {
            Event::Start(e)
                if skip > 0 || skipped(e.local_name().as_ref()) || e.local_name().as_ref() == "annotation" =>
            {
                skip += 1
            }
            Event::End(_) if skip > 0 => skip -= 1,
            Event::Start(e) => match e.local_name().as_ref() {
                "p" | "h" => para += 1,
                "table" if kind == "ods" => {
                    out.heading(&format!("== {} ==", attr(e, "name").unwrap_or_default()));
                }
                "page" if kind == "odp" => {
                    page += 1;
                    out.heading(&format!("== スライド {page} / Slide {page} =="));
                }
                "table-row" => {
                    out.newline();
                    first_cell = true;
                }
                "table-cell" | "covered-table-cell" => {
                    if !first_cell {
                        out.push('\t');
                    }
                    first_cell = false;
                    cell_depth += 1;
                }
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "s" if para > 0 => {
                    let n = attr(e, "c").and_then(|c| c.parse::<usize>().ok()).unwrap_or(1).min(100);
                    for _ in 0..n {
                        out.push(' ');
                    }
                }
                "tab" if para > 0 => out.push('\t'),
                "line-break" if para > 0 => {
                    if cell_depth > 0 {
                        out.space()
                    } else {
                        out.push('\n')
                    }
                }
                "table-cell" | "covered-table-cell" => {
                    if !first_cell {
                        out.push('\t');
                    }
                    first_cell = false;
                }
                "p" | "h" if cell_depth == 0 => out.para_end(),
                _ => {}
            },
            Event::End(e) => match e.local_name().as_ref() {
                "p" | "h" => {
                    para = para.saturating_sub(1);
                    if para == 0 {
                        if cell_depth > 0 {
                            out.space();
                        } else {
                            out.para_end();
                        }
                    }
                }
                "table-cell" | "covered-table-cell" => {
                    cell_depth = cell_depth.saturating_sub(1);
                    while out.text.ends_with(' ') {
                        out.text.pop();
                        out.chars -= 1;
                    }
                }
                "table-row" | "table" => {
                    while out.text.ends_with('\t') {
                        out.text.pop();
                        out.chars -= 1;
                    }
                    out.newline();
                    first_cell = true;
                }
                _ => {}
            },
            _ if skip == 0 && para > 0 => {
                if let Some(t) = event_text(ev) {
                    out.push_str(&t);
                }
            }
            _ => {}
        }
        !out.full()
    });
}

/// Finds the main part from `[Content_Types].xml` (or the usual part names).
fn main_part(types: &str) -> Option<(Kind, String)> {
    let mut found = None;
    let mut notes = Vec::new();
    walk(types, "[Content_Types].xml", &mut notes, |ev| {
        if let Event::Start(e) | Event::Empty(e) = ev
            && e.local_name().as_ref() == "Override"
            && let (Some(part), Some(ct)) = (attr(e, "PartName"), attr(e, "ContentType"))
        {
            let ct = ct.to_ascii_lowercase();
            if ct.ends_with(".main+xml") {
                let kind = if ct.contains("wordprocessingml") || ct.contains("ms-word") {
                    Some(Kind::Word)
                } else if ct.contains("spreadsheetml") || ct.contains("ms-excel") {
                    Some(Kind::Excel)
                } else if ct.contains("presentationml") || ct.contains("ms-powerpoint") {
                    Some(Kind::PowerPoint)
                } else {
                    None
                };
                if let Some(k) = kind {
                    found = Some((k, part.trim_start_matches('/').to_string()));
                    return false;
                }
            }
        }
        true
    });
    found.or_else(|| {
        let l = types.to_ascii_lowercase();
        if l.contains("wordprocessingml") {
            Some((Kind::Word, "word/document.xml".into()))
        } else if l.contains("spreadsheetml") {
            Some((Kind::Excel, "xl/workbook.xml".into()))
        } else if l.contains("presentationml") {
            Some((Kind::PowerPoint, "ppt/presentation.xml".into()))
        } else {
            None
        }
    })
}

/// Macro and active-content evidence from the package listing.
fn macro_evidence(listing: &ZipListing) -> Vec<String> {
    let mut ev: Vec<String> = Vec::new();
    let mut add = |s: String| {
        if !ev.contains(&s) && ev.len() < 100 {
            ev.push(s);
        }
    };
    for m in &listing.members {
        let l = m.path.to_ascii_lowercase();
        let name = file_name(&l);
        if name == "vbaproject.bin" {
            add(m.path.clone());
        } else if l.starts_with("xl/macrosheets/") && !m.is_dir {
            add(format!("Excel 4.0 macro sheet: {}", m.path));
        } else if l.contains("/activex/") && l.ends_with(".bin") {
            add(format!("ActiveX control: {}", m.path));
        } else if (l.starts_with("basic/") || l.contains("/basic/"))
            && !m.is_dir
            && !matches!(name, "script-lc.xml" | "script-lb.xml" | "dialog-lc.xml" | "dialog-lb.xml")
        {
            add(format!("ODF Basic script: {}", m.path));
        } else if (l.starts_with("scripts/") || l.contains("/scripts/")) && !m.is_dir && !l.starts_with("word/") {
            add(format!("ODF script: {}", m.path));
        } else if l.contains("/embeddings/")
            && let Ok(d) = &m.data
            && d.starts_with(&OLE_MAGIC)
            && ole2_has_macros(d)
        {
            add(format!("embedded OLE object with VBA: {}", m.path));
        }
        if l == "[content_types].xml"
            && let Ok(d) = &m.data
        {
            let types = xml_string(d);
            let mut notes = Vec::new();
            let mut cts: Vec<String> = Vec::new();
            walk(&types, "[Content_Types].xml", &mut notes, |e| {
                if let Event::Start(e) | Event::Empty(e) = e
                    && let Some(ct) = attr(e, "ContentType")
                {
                    // A `Default` mapping (e.g. "bin" → vbaProject) names no part:
                    // only a macro-enabled type counts there.
                    let lc = ct.to_ascii_lowercase();
                    let keys: &[&str] = if e.local_name().as_ref() == "Override" {
                        &["macroenabled", "vbaproject", "macrosheet", "activex", "vbadata"]
                    } else {
                        &["macroenabled"]
                    };
                    if keys.iter().any(|k| lc.contains(k)) {
                        cts.push(ct);
                    }
                }
                cts.len() < 100
            });
            for ct in cts {
                let s = if ct.to_ascii_lowercase().contains("macroenabled") {
                    format!("macro-enabled content type: {ct}")
                } else {
                    format!("content type: {ct}")
                };
                add(s);
            }
        }
        if l == "content.xml"
            && let Ok(d) = &m.data
        {
            let x = xml_string(d);
            let mut notes = Vec::new();
            let mut hrefs = Vec::new();
            walk(&x, "content.xml", &mut notes, |e| {
                if let Event::Start(e) | Event::Empty(e) = e
                    && e.local_name().as_ref() == "event-listener"
                {
                    hrefs.push(attr(e, "href").or_else(|| attr(e, "macro-name")).unwrap_or_default());
                }
                hrefs.len() < 100
            });
            for h in hrefs {
                add(format!("ODF event listener: {h}"));
            }
        }
    }
    ev
}

/// Names of the directory entries of an OLE2 file, found by a bounded scan of
/// every 128-byte-aligned slot past the header (directory sectors are
/// sector-aligned and entries 128 bytes, so the FAT chain need not be trusted).
fn ole2_names(data: &[u8], max: usize) -> Vec<String> {
    let mut names = Vec::new();
    let mut pos = 512usize;
    while let Some(entry) = data.get(pos..pos + 128) {
        pos += 128;
        let len = usize::from(u16::from_le_bytes([entry[0x40], entry[0x41]]));
        let kind = entry[0x42];
        if !(2..=64).contains(&len) || len % 2 != 0 || !matches!(kind, 1 | 2 | 5) || entry[0x43] > 1 {
            continue;
        }
        let units: Vec<u16> =
            entry.get(..len - 2).unwrap_or(&[]).chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        // The name is NUL-terminated and every unit before it is non-NUL.
        if units.contains(&0) || entry.get(len - 2..len) != Some(&[0, 0]) {
            continue;
        }
        names.push(String::from_utf16_lossy(&units));
        if names.len() >= max {
            break;
        }
    }
    names
}

/// Whether a legacy OLE2 file (doc/xls/ppt) has a VBA project: a directory
/// entry named `Macros`, `_VBA_PROJECT_CUR` or `VBA` (case-insensitive).
/// Bounded: one pass over 128-byte slots. Not an OLE2 file → false.
pub fn ole2_has_macros(data: &[u8]) -> bool {
    if !data.starts_with(&OLE_MAGIC) {
        return false;
    }
    ole2_names(data, 100_000).iter().any(|n| {
        n.eq_ignore_ascii_case("Macros") || n.eq_ignore_ascii_case("_VBA_PROJECT_CUR") || n.eq_ignore_ascii_case("VBA")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn build(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, body) in files {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(body).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn limits() -> OfficeLimits {
        OfficeLimits::default()
    }

    const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006""#;

    fn types(main: &str, ct: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="{main}" ContentType="{ct}"/></Types>"#
        )
    }

    fn docx_body() -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document {W}><w:body>
<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="840"/></w:tabs></w:pPr><w:r><w:t>お見積もりを送付いたします。</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">金額</w:t></w:r><w:r><w:tab/><w:t>&#x31;,000円 &amp; 税</w:t><w:br/><w:t>二行目</w:t></w:r></w:p>
<w:tbl><w:tr><w:tc><w:p><w:r><w:t>品名</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>数量</w:t></w:r></w:p></w:tc></w:tr>
<w:tr><w:tc><w:p><w:r><w:t>りんご</w:t></w:r></w:p><w:p><w:r><w:t>青森産</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>3</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:t>テキストボックス</w:t></mc:Choice><mc:Fallback><w:t>FALLBACK-DUP</w:t></mc:Fallback></mc:AlternateContent></w:r></w:p>
<w:p><w:r><w:instrText> HYPERLINK "http://evil" </w:instrText><w:t>よろしくお願いします。</w:t></w:r></w:p>
</w:body></w:document>"#
        )
    }

    fn docx(extra: &[(&str, &[u8])], ct: &str) -> Vec<u8> {
        let t = types("/word/document.xml", ct);
        let body = docx_body();
        let mut files: Vec<(&str, &[u8])> =
            vec![("[Content_Types].xml", t.as_bytes()), ("word/document.xml", body.as_bytes())];
        files.extend_from_slice(extra);
        build(&files)
    }

    const DOCX_CT: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml";

    #[test]
    fn docx_text_and_table() {
        let footer = format!(r#"<w:ftr {W}><w:p><w:r><w:t>〇〇市役所</w:t></w:r></w:p></w:ftr>"#);
        let d = docx(&[("word/footer1.xml", footer.as_bytes()), ("word/media/image1.png", b"\x89PNG....")], DOCX_CT);
        let t = extract_office_text(&d, &limits()).unwrap();
        assert_eq!(t.format, "docx");
        assert!(t.macros.is_empty(), "{:?}", t.macros);
        assert!(!t.truncated);
        let lines: Vec<&str> = t.text.lines().collect();
        assert_eq!(lines[0], "お見積もりを送付いたします。", "{}", t.text);
        assert_eq!(lines[1], "金額\t1,000円 & 税");
        assert_eq!(lines[2], "二行目");
        assert!(lines.contains(&"品名 | 数量"), "{}", t.text);
        assert!(lines.contains(&"りんご 青森産 | 3"), "{}", t.text);
        assert!(t.text.contains("テキストボックス"));
        assert!(!t.text.contains("FALLBACK-DUP"));
        assert!(!t.text.contains("HYPERLINK"));
        assert!(t.text.contains("よろしくお願いします。"));
        assert!(t.text.contains("〇〇市役所"));
    }

    #[test]
    fn docm_macros_reported() {
        let d = docx(
            &[("word/vbaProject.bin", b"\xD0\xCF\x11\xE0 fake")],
            "application/vnd.ms-word.document.macroEnabled.main+xml",
        );
        let t = extract_office_text(&d, &limits()).unwrap();
        assert_eq!(t.format, "docm");
        assert!(t.macros.iter().any(|m| m == "word/vbaProject.bin"), "{:?}", t.macros);
        assert!(t.macros.iter().any(|m| m.starts_with("macro-enabled content type")), "{:?}", t.macros);
        assert!(t.text.contains("お見積もり"));
    }

    fn fake_ole(names: &[&str]) -> Vec<u8> {
        let mut d = OLE_MAGIC.to_vec();
        d.resize(512, 0);
        for (i, n) in ["Root Entry"].iter().chain(names.iter()).enumerate() {
            let mut e = [0u8; 128];
            let units: Vec<u16> = n.encode_utf16().collect();
            for (j, u) in units.iter().enumerate() {
                e[j * 2..j * 2 + 2].copy_from_slice(&u.to_le_bytes());
            }
            e[0x40..0x42].copy_from_slice(&(((units.len() + 1) * 2) as u16).to_le_bytes());
            e[0x42] = if i == 0 { 5 } else { 1 };
            d.extend_from_slice(&e);
        }
        d.resize(d.len() + 512, 0);
        d
    }

    #[test]
    fn ole2_macros() {
        let with = fake_ole(&["WordDocument", "Macros", "VBA"]);
        assert!(ole2_has_macros(&with));
        let xls = fake_ole(&["Workbook", "_VBA_PROJECT_CUR"]);
        assert!(ole2_has_macros(&xls));
        let without = fake_ole(&["WordDocument", "1Table", "SummaryInformation"]);
        assert!(!ole2_has_macros(&without));
        assert!(!ole2_has_macros(b"PK\x03\x04 not ole"));
        assert!(!ole2_has_macros(&OLE_MAGIC));
        assert_eq!(extract_office_text(&without, &limits()), Err(OfficeError::Unsupported("doc")));
        assert_eq!(extract_office_text(&xls, &limits()), Err(OfficeError::Unsupported("xls")));
        let enc = fake_ole(&["EncryptionInfo", "EncryptedPackage"]);
        assert_eq!(extract_office_text(&enc, &limits()), Err(OfficeError::Encrypted));
        // An embedded OLE object with VBA inside a docx is reported.
        let d = docx(&[("word/embeddings/oleObject1.bin", &with)], DOCX_CT);
        let t = extract_office_text(&d, &limits()).unwrap();
        assert!(t.macros.iter().any(|m| m.contains("embedded OLE")), "{:?}", t.macros);
    }

    #[test]
    fn xlsm_sheets_and_macro() {
        let t = types("/xl/workbook.xml", "application/vnd.ms-excel.sheet.macroEnabled.main+xml");
        let wb = r#"<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="見積" sheetId="1" r:id="rId2"/><sheet name="Sheet2" sheetId="2" r:id="rId1"/></sheets></workbook>"#;
        let rels = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="x/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="x/worksheet" Target="/xl/worksheets/sheet2.xml"/></Relationships>"#;
        let sst = r#"<sst xmlns="x"><si><t>品名</t></si><si><r><t>単</t></r><r><t>価</t></r><rPh><t>タンカ</t></rPh></si><si/><si><t>りんご</t></si></sst>"#;
        let s2 = r#"<worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c t="s"><v>3</v></c><c><f>SUM(A1)</f><v>120.5</v></c><c t="b"><v>1</v></c><c t="inlineStr"><is><t>備考&lt;なし&gt;</t></is></c></row><row r="3"/></sheetData></worksheet>"#;
        let s1 = r#"<worksheet><sheetData><row><c t="str"><f>A1</f><v>二枚目</v></c></row></sheetData></worksheet>"#;
        let d = build(&[
            ("[Content_Types].xml", t.as_bytes()),
            ("xl/workbook.xml", wb.as_bytes()),
            ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
            ("xl/sharedStrings.xml", sst.as_bytes()),
            ("xl/worksheets/sheet1.xml", s1.as_bytes()),
            ("xl/worksheets/sheet2.xml", s2.as_bytes()),
            ("xl/vbaProject.bin", b"\xD0\xCF\x11\xE0"),
        ]);
        let x = extract_office_text(&d, &limits()).unwrap();
        assert_eq!(x.format, "xlsm");
        assert!(x.macros.iter().any(|m| m == "xl/vbaProject.bin"), "{:?}", x.macros);
        assert_eq!(
            x.text, "== 見積 ==\n品名\t単価\nりんご\t120.5\tTRUE\t備考<なし>\n== Sheet2 ==\n二枚目",
            "{}",
            x.text
        );
    }

    #[test]
    fn pptx_slides_in_numeric_order() {
        let t = types(
            "/ppt/presentation.xml",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        );
        let a = r#"xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="p""#;
        let s1 = format!(
            r#"<p:sld {a}><p:txBody><a:p><a:r><a:t>会議資料</a:t></a:r></a:p><a:p><a:r><a:t>第一部</a:t></a:r><a:br/><a:r><a:t>概要</a:t></a:r></a:p></p:txBody></p:sld>"#
        );
        let s10 = format!(r#"<p:sld {a}><a:p><a:r><a:t>まとめ</a:t></a:r></a:p></p:sld>"#);
        let d = build(&[
            ("[Content_Types].xml", t.as_bytes()),
            ("ppt/presentation.xml", b"<p:presentation xmlns:p=\"p\"/>"),
            ("ppt/slides/slide10.xml", s10.as_bytes()),
            ("ppt/slides/slide1.xml", s1.as_bytes()),
        ]);
        let x = extract_office_text(&d, &limits()).unwrap();
        assert_eq!(x.format, "pptx");
        assert!(x.macros.is_empty());
        assert_eq!(
            x.text, "== スライド 1 / Slide 1 ==\n会議資料\n第一部\n概要\n== スライド 2 / Slide 2 ==\nまとめ",
            "{}",
            x.text
        );
    }

    fn odt(extra: &[(&str, &[u8])]) -> Vec<u8> {
        let content = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"><office:body><office:text>
<text:h text:outline-level="1">ご案内</text:h>
<text:p>説明会は<text:span>十月</text:span>に<text:s text:c="2"/>開催します。<text:line-break/>以上</text:p>
<table:table table:name="T1"><table:table-row><table:table-cell><text:p>日付</text:p></table:table-cell><table:table-cell><text:p>場所</text:p></table:table-cell></table:table-row></table:table>
<text:p><office:annotation><text:p>コメント非表示</text:p></office:annotation>終わり</text:p>
</office:text></office:body></office:document-content>"#;
        let mut files: Vec<(&str, &[u8])> =
            vec![("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", content.as_bytes())];
        files.extend_from_slice(extra);
        build(&files)
    }

    #[test]
    fn odt_text_and_basic_macro() {
        let x = extract_office_text(&odt(&[("Basic/script-lc.xml", b"<x/>")]), &limits()).unwrap();
        assert_eq!(x.format, "odt");
        assert!(x.macros.is_empty(), "{:?}", x.macros);
        assert_eq!(x.text, "ご案内\n説明会は十月に  開催します。\n以上\n日付\t場所\n終わり", "{}", x.text);
        let x = extract_office_text(&odt(&[("Basic/Standard/Module1.xml", b"<module/>")]), &limits()).unwrap();
        assert!(x.macros.iter().any(|m| m.contains("Basic/Standard/Module1.xml")), "{:?}", x.macros);
        let x = extract_office_text(&odt(&[("Scripts/python/evil.py", b"import os")]), &limits()).unwrap();
        assert!(x.macros.iter().any(|m| m.contains("Scripts/python")), "{:?}", x.macros);
    }

    #[test]
    fn entity_bomb_does_not_expand() {
        let mut dtd = String::from("<!DOCTYPE w:document [<!ENTITY lol \"lol\">");
        for i in 1..10 {
            let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
            dtd.push_str(&format!("<!ENTITY lol{i} \"{}\">", format!("&{prev};").repeat(10)));
        }
        dtd.push(']');
        dtd.push('>');
        let body = format!(
            r#"<?xml version="1.0"?>{dtd}<w:document {W}><w:body><w:p><w:r><w:t>前&lol9;後</w:t></w:r></w:p></w:body></w:document>"#
        );
        let t = types("/word/document.xml", DOCX_CT);
        let d = build(&[("[Content_Types].xml", t.as_bytes()), ("word/document.xml", body.as_bytes())]);
        let x = extract_office_text(&d, &limits()).unwrap();
        assert_eq!(x.text, "前後");
    }

    #[test]
    fn text_limit_truncates() {
        let d = docx(&[], DOCX_CT);
        let x = extract_office_text(&d, &OfficeLimits { max_text_chars: 10, ..limits() }).unwrap();
        assert!(x.truncated);
        assert!(x.text.chars().count() <= 10);
        assert!(x.text.starts_with("お見積もり"));
    }

    fn fixture(name: &str) -> Vec<u8> {
        let p = format!("{}/tests/fixtures/office/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e} (run make_office_fixtures.py)"))
    }

    #[test]
    fn fixtures_text_and_macros() {
        let x = extract_office_text(&fixture("sample.docx"), &limits()).unwrap();
        assert_eq!(x.format, "docx");
        assert!(x.macros.is_empty());
        for s in [
            "いつもお世話になっております。",
            "来週の会議資料をお送りします。",
            "項目 | 担当",
            "予算案 | 総務課",
            "ご確認をお願いいたします。",
        ] {
            assert!(x.text.contains(s), "{s} not in {}", x.text);
        }
        let x = extract_office_text(&fixture("sample.xlsm"), &limits()).unwrap();
        assert_eq!(x.format, "xlsm");
        assert!(x.macros.iter().any(|m| m == "xl/vbaProject.bin"), "{:?}", x.macros);
        assert_eq!(x.text, "== 集計 ==\n支出合計\t12345\n== Sheet2 ==\n備考\t特になし");
        let x = extract_office_text(&fixture("sample.pptx"), &limits()).unwrap();
        assert_eq!(x.format, "pptx");
        assert_eq!(
            x.text,
            "== スライド 1 / Slide 1 ==\n防災訓練のお知らせ\n== スライド 2 / Slide 2 ==\n集合場所は市役所前です。"
        );
        let x = extract_office_text(&fixture("sample.odt"), &limits()).unwrap();
        assert_eq!(x.format, "odt");
        assert_eq!(x.text, "議事録\n出席者は五名でした。\n議題\t結論");
        assert_eq!(extract_office_text(&fixture("exe_member.zip"), &limits()), Err(OfficeError::NotOffice));
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        assert_eq!(extract_office_text(b"", &limits()), Err(OfficeError::NotOffice));
        assert_eq!(extract_office_text(b"hello", &limits()), Err(OfficeError::NotOffice));
        assert!(extract_office_text(b"PK\x03\x04garbage", &limits()).is_err());
        let plain_zip = build(&[("readme.txt", b"hi")]);
        assert_eq!(extract_office_text(&plain_zip, &limits()), Err(OfficeError::NotOffice));
        let d = docx(&[], DOCX_CT);
        for cut in (0..d.len()).step_by(7) {
            let _ = extract_office_text(&d[..cut], &limits());
        }
        // Malformed XML: the text before the error is kept, with a note.
        let t = types("/word/document.xml", DOCX_CT);
        let bad = format!(r#"<w:document {W}><w:body><w:p><w:r><w:t>残る</w:t></w:r></w:p><w:p></w:x></w:body>"#);
        let d = build(&[("[Content_Types].xml", t.as_bytes()), ("word/document.xml", bad.as_bytes())]);
        let x = extract_office_text(&d, &limits()).unwrap();
        assert!(x.text.contains("残る"));
        assert!(x.notes.iter().any(|n| n.contains("malformed")), "{:?}", x.notes);
        // Main part missing.
        let d = build(&[("[Content_Types].xml", t.as_bytes())]);
        assert!(matches!(extract_office_text(&d, &limits()), Err(OfficeError::Corrupt(_))));
        // OLE2 garbage.
        let mut ole = OLE_MAGIC.to_vec();
        ole.extend((0..5000u32).map(|i| (i * 7919 % 251) as u8));
        assert!(!ole2_has_macros(&ole));
        assert!(extract_office_text(&ole, &limits()).is_err());
    }
}
