//! HTML → plain text for mail bodies.
//!
//! [`html_to_text`] turns the HTML part of a message into the readable plain
//! text that is delivered into the LGWAN zone (readers use Outlook; the text
//! is meant for Japanese civil servants). [`sniff_meta_charset`] finds the
//! charset an HTML part declares about itself, for the caller's decoder.
//!
//! # Design
//!
//! One forward pass over the input, no DOM, no layout, linear time:
//!
//! * **Tokenizer** (`markup`, `parse_tag`, `comment`, `script_end`, …): finds
//!   the next `<` and classifies it (start tag, end tag, comment, bogus
//!   comment/doctype, or literal text). Raw-text elements (`script`, `style`,
//!   `title`, `textarea`, `iframe`, `noembed`, `noframes`, `xmp`,
//!   `plaintext`) are skipped to their end tag in one scan; the `script`
//!   scan follows the HTML "escaped / double-escaped" states so
//!   `<!--<script>…</script>` inside a script does not end it early. Every
//!   search starts where the last one stopped and an unterminated construct
//!   consumes the rest of the input, so nothing is scanned twice (no
//!   quadratic `-->` or `</script` re-scans). Malformed input follows the
//!   HTML tokenizer's rules closely enough: EOF inside a tag drops the tag,
//!   `<` not followed by a letter is text, attributes may be unquoted.
//! * **Element stack** (bounded to `MAX_DEPTH` = 512): each entry carries
//!   the state its descendants inherit (hidden, `pre`, foreign content,
//!   colours, indent, quote depth, nearest list/table). End tags close with a
//!   simplified version of the HTML scope rules (`</div>` never closes an
//!   enclosing table cell; `</b>` never closes through a block), and the
//!   common implied end tags are applied (`<p>`, `<li>`, `<dt>/<dd>`, `<tr>`,
//!   `<td>`, headings, `<a>`). Every "is there an open X in scope" question
//!   is O(1): each entry records where the nearest boundary of each scope kind
//!   is, and a per-name index points at the topmost open element of that name
//!   (entries link to the next one below), so stray or repeated end tags
//!   cannot make the pass quadratic. Past the depth bound, further elements are
//!   counted instead of stored ("flat"): the hidden state of the overflowing
//!   region is still tracked by level, so hidden text cannot leak through
//!   deep nesting, and the ancestors' state is untouched.
//! * **Writer** (`Out`): collapses whitespace, turns block boundaries into
//!   pending line breaks (at most one blank line), writes list markers,
//!   quote prefixes and table separators lazily just before the next visible
//!   text, trims trailing spaces, and enforces `max_output` on every write.
//!
//! # Output conventions
//!
//! * Lines end with `\n`, no trailing newline, no leading/trailing blank lines.
//! * Headings `h1`/`h2` start with `"■ "`; `h3`–`h6` are plain lines. Headings,
//!   paragraphs, tables, block quotes and top-level lists have a blank line
//!   around them.
//! * `ul` items start with `"・ "`, `ol` items with `"1. "` (`start` and
//!   `value` honoured, always decimal); nested lists indent 2 spaces per level
//!   and item continuation lines are indented by 2.
//! * `blockquote` lines are prefixed with `"> "` per level.
//! * Table rows are one line, cells joined by `" | "`, empty cells kept
//!   (`"a | | c"`, `"| b"`). Empty cells before the first or after the last
//!   non-empty cell are shown only in data rows (two or more non-empty cells,
//!   or any row of a table that had such a row), so the spacer columns of
//!   layout tables do not litter the text with `|`. A cell that contains
//!   block content (paragraphs, nested tables with several rows, `<br>`)
//!   "breaks" its row: the row's remaining cells then start on new lines,
//!   which keeps layout tables readable. Divs inside cells do not break rows.
//!   Rows with no visible text vanish; a nested table's single row joins the
//!   outer row.
//! * `<hr>` → `----------------`; `<img>` → `[画像: alt]` / `[画像]`.
//! * Links: `text <URL>`. When the text already is the URL (ignoring a
//!   trailing slash, a `mailto:`/`tel:` prefix and the case of scheme and
//!   host) only the text is printed. `#fragment` links print no URL. Relative
//!   URLs are resolved against the first `<base href>` when that is an
//!   absolute http(s)/ftp URL, otherwise shown as written. Shown URLs are
//!   percent-encoded where they hold spaces, `<>"` or invisible characters,
//!   and cut at 2048 characters with `…`. Only `http`, `https`, `mailto`,
//!   `ftp` and `tel` URLs (and relative ones) are shown: `javascript:`,
//!   `vbscript:`, `livescript:`, `data:`, `file:` (checked after entity
//!   decoding and after removing whitespace/control characters) and any other
//!   scheme (`ms-msdt:`, `search-ms:`, `C:\…`) print
//!   `text [removed javascript: link]` (resp. the scheme). When the link text looks like a URL,
//!   a domain or a mail address whose host is not the destination's host
//!   (nor a subdomain of it, or vice versa; a leading `www.` is ignored), the
//!   marker ` [注意: リンク先が表示と異なります / link target differs from its text]`
//!   follows the URL.
//! * Entities: numeric (invalid, surrogate and 0 → U+FFFD, 0x80–0x9F mapped
//!   as windows-1252 like browsers), the 252 HTML 4 names, `&apos;` and
//!   about 160 common HTML5 names (incl. `&colon;`, `&Tab;`, `&NewLine;`);
//!   the legacy names (Latin-1, `amp`, `lt`, …) also without `;`. Unknown
//!   references stay as written. `&nbsp;` is an ordinary (collapsible) space.
//! * Hygiene: no C0/C1 controls (tab → space), no DEL, NUL, U+FEFF, U+200B,
//!   U+2060, soft hyphen or Unicode tag characters; bidi controls (U+202A–E,
//!   U+2066–9, U+200E/F, U+061C) are written as `<U+202E>`; the text never
//!   contains `<script` (case-insensitive; written as `< script`).
//!
//! # Findings
//!
//! At most one finding per code per document; the detail gives the count and
//! up to three examples. Findings are recorded for everything in the
//! document, hidden parts included: `html.script`, `html.style`,
//! `html.comment` (incl. conditional comments), `html.iframe` (iframe, frame,
//! frameset), `html.object` (object, embed, applet, svg, math), `html.form`
//! (form, input, button, select, textarea; text in a form outside controls is
//! kept), `html.meta_refresh`, `html.event_handler` (count of `on*`
//! attributes), `html.hidden_text` (count of hidden elements),
//! `html.javascript_url` (javascript/vbscript/livescript, and also `file:`
//! and every other scheme that is not shown), `html.data_url`, `html.remote_image`, `html.tracking_pixel`
//! (width and height ≤ 1: not shown), `html.base_href` and `link.mismatch`.
//!
//! Throughput: `benches/html.rs` compares with `html2text` on a 100 KB
//! table-heavy Japanese newsletter (about 25× faster).
//!
//! # Limits (known, accepted)
//!
//! * CSS from `<style>` sheets is applied only for top-level rules whose
//!   selector is one class or id (`.preheader {display:none}`, `#x`,
//!   `span.x`); rules in `@media` and complex selectors are not. Otherwise:
//!   inline `style`, the `hidden` attribute, `bgcolor`/`color`/`text` attributes.
//!   Hidden styles recognised: `display:none`, `visibility:hidden|collapse`,
//!   `opacity` ≤ 0.01, `font-size:0`, `font:0/0 …`, `mso-hide:all`,
//!   (`max-`)`height:0` or (`max-`)`width:0` with `overflow:hidden|clip`,
//!   `width:0` with `height:0`, off-screen `position:absolute` with `left`/`top`
//!   ≤ −999, `text-indent` ≤ −999, transparent text, and text colour within a
//!   small distance of the background colour (named colours: a common subset).
//!   A descendant's `visibility:visible` does not un-hide it (we err on
//!   hiding).
//! * No adoption agency, no foster parenting: text directly inside `<table>`
//!   is printed where it appears; mis-nested inline end tags are ignored.
//! * Stray text inside `<head>` is shown (browsers move it into the body);
//!   `<title>`, `<style>`, `<script>`, `<meta>`, `<link>`, `<base>` never are.
//! * Links rewritten by URL-defence gateways (their text shows the original
//!   host, the `href` the gateway's) are reported as `link.mismatch`.
//! * IDN hosts are compared as written (a Unicode text vs a punycode `href`
//!   counts as a mismatch); full-width look-alike text is not normalised.
//! * `ol type=a/i` and `reversed` are printed as decimal counting up.
//! * SVG/MathML content is dropped entirely.

use std::borrow::Cow;

use crate::report::{Finding, Severity, codes};

/// Deepest element nesting that is tracked individually.
const MAX_DEPTH: usize = 512;
/// Longest URL shown, in characters (then "…").
const URL_CAP: usize = 2048;
/// Bytes of link text kept for the text/URL comparison.
const CAPTURE_CAP: usize = 4096;
/// Longest `alt` text shown, in characters.
const ALT_CAP: usize = 1024;
/// Attributes kept per tag (the rest are parsed and ignored).
const MAX_ATTRS: usize = 256;
/// Indentation cap (spaces) and quote-depth cap, so deep nesting cannot blow
/// up the output.
const MAX_INDENT: u16 = 32;
const MAX_QUOTE: u8 = 8;
/// Examples kept per finding code.
const MAX_EXAMPLES: usize = 3;
/// How far `sniff_meta_charset` looks.
const SNIFF_WINDOW: usize = 8192;

const HR_LINE: &str = "----------------";
const UL_MARKER: &str = "・ ";
const HEADING_MARKER: &str = "■ ";
const MISMATCH_MARKER: &str = " [注意: リンク先が表示と異なります / link target differs from its text]";
const SPACES: &str = "                                                                ";

/// The plain-text rendering of one HTML part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlText {
    pub text: String,
    pub findings: Vec<crate::report::Finding>,
    pub truncated: bool,
}

/// Converts `html` to plain text. `part` is the MIME path used in findings.
/// `max_output` caps the text in bytes: when it would be exceeded the text is
/// cut (at a character boundary), `truncated` is set and conversion stops.
pub fn html_to_text(html: &str, part: &str, max_output: usize) -> HtmlText {
    let mut c = Converter::new(html, max_output);
    c.run();
    c.finish(part)
}

/// Charset label declared in an HTML `<meta charset=..>` or
/// `<meta http-equiv="Content-Type" content="...; charset=..">`, looking only
/// at the first 8 KiB of raw (undecoded) bytes, ASCII-case-insensitive.
/// Returns the label as written (trimmed, lower-case).
pub fn sniff_meta_charset(raw: &[u8]) -> Option<String> {
    let b = raw.get(..raw.len().min(SNIFF_WINDOW)).unwrap_or(raw);
    let mut i = 0;
    while let Some(lt) = find_byte(b, i, b'<') {
        i = lt;
        if starts_with(b, i, b"<!--") {
            // The "-->" may overlap the opening ("<!-->").
            match find_seq(b, i + 2, b"-->") {
                Some(e) => i = e + 3,
                None => return None,
            }
            continue;
        }
        let next = b.get(i + 1).copied().unwrap_or(0);
        if starts_with_ci(b, i, b"<meta") && b.get(i + 5).is_some_and(|&c| is_ws(c) || c == b'/') {
            let mut j = i + 5;
            if let Some(label) = prescan_meta(b, &mut j) {
                return Some(label);
            }
            i = j;
            continue;
        }
        if next.is_ascii_alphabetic() || (next == b'/' && b.get(i + 2).is_some_and(|c| c.is_ascii_alphabetic())) {
            // Skip a tag with its attributes so a "<meta" inside an attribute
            // value is not taken for a tag.
            let mut j = i + 1;
            while j < b.len() && !is_ws(b[j]) && b[j] != b'>' {
                j += 1;
            }
            while prescan_attr(b, &mut j).is_some() {}
            i = j;
            continue;
        }
        if matches!(next, b'!' | b'/' | b'?') {
            match find_byte(b, i + 1, b'>') {
                Some(e) => i = e + 1,
                None => return None,
            }
            continue;
        }
        i += 1;
    }
    None
}

/// Attributes of one `<meta` tag (position after the name); returns the
/// charset label when the tag declares one.
fn prescan_meta(b: &[u8], j: &mut usize) -> Option<String> {
    let mut got_pragma = false;
    let mut need_pragma: Option<bool> = None;
    let mut charset: Option<Vec<u8>> = None;
    let (mut seen_he, mut seen_content, mut seen_charset) = (false, false, false);
    while let Some((name, value)) = prescan_attr(b, j) {
        if name.eq_ignore_ascii_case(b"http-equiv") && !seen_he {
            seen_he = true;
            if trim_ascii(&value).eq_ignore_ascii_case(b"content-type") {
                got_pragma = true;
            }
        } else if name.eq_ignore_ascii_case(b"content") && !seen_content {
            seen_content = true;
            if charset.is_none()
                && let Some(c) = charset_from_content(&value)
            {
                charset = Some(c);
                need_pragma = Some(true);
            }
        } else if name.eq_ignore_ascii_case(b"charset") && !seen_charset {
            seen_charset = true;
            charset = Some(value);
            need_pragma = Some(false);
        }
    }
    let c = charset?;
    if need_pragma == Some(true) && !got_pragma {
        return None;
    }
    let label = trim_ascii(&c);
    if label.is_empty() || label.len() > 64 || !label.iter().all(|&x| x.is_ascii_graphic()) {
        return None;
    }
    Some(String::from_utf8_lossy(label).to_ascii_lowercase())
}

/// One attribute in the prescan (the HTML "get an attribute" algorithm);
/// `None` at `>` or at the end. Names are returned as written.
fn prescan_attr(b: &[u8], j: &mut usize) -> Option<(Vec<u8>, Vec<u8>)> {
    let len = b.len();
    let mut i = *j;
    while i < len && (is_ws(b[i]) || b[i] == b'/') {
        i += 1;
    }
    if i >= len || b[i] == b'>' {
        *j = (i + 1).min(len);
        return None;
    }
    let ns = i;
    i += 1;
    while i < len && !is_ws(b[i]) && !matches!(b[i], b'=' | b'>' | b'/') {
        i += 1;
    }
    let name = b.get(ns..i).unwrap_or_default().to_vec();
    while i < len && is_ws(b[i]) {
        i += 1;
    }
    let mut value = Vec::new();
    if b.get(i) == Some(&b'=') {
        i += 1;
        while i < len && is_ws(b[i]) {
            i += 1;
        }
        match b.get(i) {
            Some(&q) if q == b'"' || q == b'\'' => {
                let end = find_byte(b, i + 1, q).unwrap_or(len);
                value = b.get(i + 1..end).unwrap_or_default().to_vec();
                i = (end + 1).min(len);
            }
            Some(_) => {
                let vs = i;
                while i < len && !is_ws(b[i]) && b[i] != b'>' {
                    i += 1;
                }
                value = b.get(vs..i).unwrap_or_default().to_vec();
            }
            None => {}
        }
    }
    *j = i;
    Some((name, value))
}

/// `charset=...` inside a `content` attribute (HTML "extract a character
/// encoding from a meta element").
fn charset_from_content(v: &[u8]) -> Option<Vec<u8>> {
    let mut i = 0;
    loop {
        let k = find_ci(v, i, b"charset")?;
        let mut p = k + 7;
        while p < v.len() && is_ws(v[p]) {
            p += 1;
        }
        if v.get(p) != Some(&b'=') {
            i = k + 7;
            continue;
        }
        p += 1;
        while p < v.len() && is_ws(v[p]) {
            p += 1;
        }
        return match v.get(p) {
            Some(&q) if q == b'"' || q == b'\'' => {
                let end = find_byte(v, p + 1, q)?;
                Some(v.get(p + 1..end)?.to_vec())
            }
            Some(_) => {
                let s = p;
                while p < v.len() && !is_ws(v[p]) && v[p] != b';' {
                    p += 1;
                }
                Some(v.get(s..p)?.to_vec())
            }
            None => None,
        };
    }
}

// ---------------------------------------------------------------------------
// Tags

macro_rules! tags {
    ($($v:ident = $s:literal),* $(,)?) => {
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        #[repr(u8)]
        enum Tag { Other, $($v),* }
        const TAG_NAMES: &[(&[u8], Tag)] = &[$(($s, Tag::$v),)* (b"image", Tag::Img)];
    };
}

tags! {
    A = b"a", Address = b"address", Applet = b"applet", Area = b"area", Article = b"article",
    Aside = b"aside", Base = b"base", Basefont = b"basefont", Bgsound = b"bgsound",
    Blockquote = b"blockquote", Body = b"body", Br = b"br", Button = b"button",
    Caption = b"caption", Center = b"center", Col = b"col", Colgroup = b"colgroup",
    Datalist = b"datalist", Dd = b"dd", Details = b"details", Dialog = b"dialog", Dir = b"dir",
    Div = b"div", Dl = b"dl", Dt = b"dt", Embed = b"embed", Fieldset = b"fieldset",
    Figcaption = b"figcaption", Figure = b"figure", Font = b"font", Footer = b"footer",
    Form = b"form", Frame = b"frame", Frameset = b"frameset", H1 = b"h1", H2 = b"h2",
    H3 = b"h3", H4 = b"h4", H5 = b"h5", H6 = b"h6", Head = b"head", Header = b"header",
    Hgroup = b"hgroup", Hr = b"hr", Html = b"html", Iframe = b"iframe", Img = b"img",
    Input = b"input", Keygen = b"keygen", Legend = b"legend", Li = b"li", Link = b"link",
    Listing = b"listing", Main = b"main", Marquee = b"marquee", Math = b"math", Menu = b"menu",
    Meta = b"meta", Nav = b"nav", Noembed = b"noembed", Noframes = b"noframes",
    Noscript = b"noscript", Object = b"object", Ol = b"ol", Optgroup = b"optgroup",
    Option = b"option", P = b"p", Param = b"param", Plaintext = b"plaintext", Pre = b"pre",
    Script = b"script", Search = b"search", Section = b"section", Select = b"select",
    Source = b"source", Style = b"style", Summary = b"summary", Svg = b"svg", Table = b"table",
    Tbody = b"tbody", Td = b"td", Template = b"template", Textarea = b"textarea",
    Tfoot = b"tfoot", Th = b"th", Thead = b"thead", Title = b"title", Tr = b"tr",
    Track = b"track", Ul = b"ul", Wbr = b"wbr", Xmp = b"xmp",
}

const TAG_COUNT: usize = Tag::Xmp as usize + 1;

/// A name of up to 16 bytes as one integer (names have no NUL bytes, so
/// this is unique).
const fn pack(s: &[u8]) -> u128 {
    let mut v = 0u128;
    let mut i = 0;
    while i < s.len() {
        v = (v << 8) | s[i] as u128;
        i += 1;
    }
    v
}

const fn tag_slot(v: u128) -> usize {
    let x = (v as u64) ^ ((v >> 64) as u64);
    (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize
}

/// `TAG_NAMES` packed into an open-addressing hash table (256 slots,
/// linear probing; key 0 = empty), built at compile time.
const TAG_TABLE: [(u128, Tag); 256] = {
    let mut t = [(0u128, Tag::Other); 256];
    let mut i = 0;
    while i < TAG_NAMES.len() {
        let v = pack(TAG_NAMES[i].0);
        let mut s = tag_slot(v);
        while t[s].0 != 0 {
            s = (s + 1) % 256;
        }
        t[s] = (v, TAG_NAMES[i].1);
        i += 1;
    }
    t
};

#[inline]
fn tag_id(name: &str) -> Tag {
    let n = name.as_bytes();
    if n.is_empty() || n.len() > 16 {
        return Tag::Other;
    }
    let mut v = 0u128;
    for &c in n {
        v = (v << 8) | u128::from(c.to_ascii_lowercase());
    }
    let mut s = tag_slot(v);
    // The table is less than half full, so an empty slot ends every probe.
    for _ in 0..TAG_TABLE.len() {
        match TAG_TABLE.get(s) {
            Some(&(k, t)) if k == v => return t,
            Some(&(0, _)) | None => return Tag::Other,
            Some(_) => s = (s + 1) % TAG_TABLE.len(),
        }
    }
    Tag::Other
}

/// FNV-1a of the lower-cased name: identity of elements we do not know.
fn name_hash(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &c in name.as_bytes() {
        h ^= u64::from(c.to_ascii_lowercase());
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[inline]
fn is_void(t: Tag) -> bool {
    use Tag::*;
    matches!(
        t,
        Area | Base
            | Basefont
            | Bgsound
            | Br
            | Col
            | Embed
            | Frame
            | Hr
            | Img
            | Input
            | Keygen
            | Link
            | Meta
            | Param
            | Source
            | Track
            | Wbr
    )
}

#[inline]
fn is_raw_text(t: Tag) -> bool {
    use Tag::*;
    matches!(t, Script | Style | Title | Textarea | Iframe | Noembed | Noframes | Xmp | Plaintext)
}

/// HTML's "special" category (roughly: everything but phrasing elements).
#[inline]
const fn is_special(t: Tag) -> bool {
    use Tag::*;
    !matches!(t, Other | A | Font | Datalist | Legend | Optgroup | Option | Dialog)
}

#[inline]
fn is_heading(t: Tag) -> bool {
    matches!(t, Tag::H1 | Tag::H2 | Tag::H3 | Tag::H4 | Tag::H5 | Tag::H6)
}

#[inline]
fn is_list(t: Tag) -> bool {
    matches!(t, Tag::Ul | Tag::Ol | Tag::Menu | Tag::Dir)
}

/// Elements whose content is never shown (no hidden-text finding: they are
/// not text to begin with, and some have their own finding).
#[inline]
fn is_dropped(t: Tag) -> bool {
    use Tag::*;
    matches!(t, Template | Select | Button | Datalist | Optgroup | Option | Object | Applet | Frameset | Svg | Math)
}

/// Start tags that close an open `<p>`.
#[inline]
fn closes_p(t: Tag) -> bool {
    use Tag::*;
    matches!(
        t,
        Address
            | Article
            | Aside
            | Blockquote
            | Center
            | Details
            | Dialog
            | Dir
            | Div
            | Dl
            | Dd
            | Dt
            | Fieldset
            | Figcaption
            | Figure
            | Footer
            | Form
            | Header
            | Hgroup
            | Main
            | Menu
            | Nav
            | Ol
            | P
            | Search
            | Section
            | Summary
            | Ul
            | H1
            | H2
            | H3
            | H4
            | H5
            | H6
            | Pre
            | Listing
            | Table
            | Li
    )
}

/// Line breaks around a block element: 1 = own line, 2 = blank line around.
#[inline]
fn block_breaks(t: Tag) -> u8 {
    use Tag::*;
    match t {
        P | H1 | H2 | H3 | H4 | H5 | H6 | Table | Blockquote | Ul | Ol | Menu | Dir | Dl | Pre | Listing => 2,
        Address | Article | Aside | Center | Details | Dialog | Div | Dt | Dd | Fieldset | Figcaption | Figure
        | Footer | Form | Header | Hgroup | Legend | Li | Main | Nav | Search | Section | Summary | Caption
        | Marquee => 1,
        _ => 0,
    }
}

const fn default_scope(t: Tag) -> bool {
    use Tag::*;
    matches!(t, Applet | Caption | Html | Table | Td | Th | Marquee | Object | Template | Svg | Math)
}

const fn list_item_scope(t: Tag) -> bool {
    default_scope(t) || matches!(t, Tag::Ol | Tag::Ul)
}

const fn button_scope(t: Tag) -> bool {
    default_scope(t) || matches!(t, Tag::Button)
}

const fn table_scope(t: Tag) -> bool {
    matches!(t, Tag::Html | Tag::Table | Tag::Template)
}

/// Boundary when looking for an open `<li>`/`<dd>`/`<dt>` to close.
const fn item_boundary(t: Tag) -> bool {
    is_special(t) && !matches!(t, Tag::Address | Tag::Div | Tag::P)
}

/// The kinds of "scope" an end tag or implied end searches within. Each
/// stack entry records, per kind, where the nearest boundary of that kind
/// is, so every search is O(1).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Default,
    ListItem,
    Button,
    Table,
    /// Inline end tags stop at any special element.
    Special,
    /// Implied `</li>`, `</dd>`, `</dt>`.
    Item,
    /// End tags inside SVG/MathML stay inside it.
    Foreign,
}

const SCOPES: usize = 7;

/// Per tag, a bit per scope kind (but `Foreign`) it is a boundary of.
const BOUNDARY_MASKS: [u8; TAG_COUNT] = {
    let mut m = [0u8; TAG_COUNT];
    let mut i = 0;
    while i < TAG_NAMES.len() {
        let t = TAG_NAMES[i].1;
        let mut bits = 0u8;
        if default_scope(t) {
            bits |= 1 << Scope::Default as u8;
        }
        if list_item_scope(t) {
            bits |= 1 << Scope::ListItem as u8;
        }
        if button_scope(t) {
            bits |= 1 << Scope::Button as u8;
        }
        if table_scope(t) {
            bits |= 1 << Scope::Table as u8;
        }
        if is_special(t) {
            bits |= 1 << Scope::Special as u8;
        }
        if item_boundary(t) {
            bits |= 1 << Scope::Item as u8;
        }
        m[t as usize] = bits;
        i += 1;
    }
    m
};

/// Identity of an element for matching end tags: the tag, or the name hash
/// (high bit set) for elements we do not know.
#[inline]
fn key_of(tag: Tag, hash: u64) -> u64 {
    if tag == Tag::Other { hash | 1 << 63 } else { tag as u64 }
}

const HEADING_KEYS: [u64; 6] =
    [Tag::H1 as u64, Tag::H2 as u64, Tag::H3 as u64, Tag::H4 as u64, Tag::H5 as u64, Tag::H6 as u64];

/// HTML elements that break out of SVG/MathML content.
#[inline]
fn breaks_out_of_foreign(t: Tag) -> bool {
    use Tag::*;
    matches!(
        t,
        Blockquote
            | Body
            | Br
            | Center
            | Dd
            | Div
            | Dl
            | Dt
            | Embed
            | H1
            | H2
            | H3
            | H4
            | H5
            | H6
            | Head
            | Hr
            | Img
            | Li
            | Listing
            | Menu
            | Meta
            | Ol
            | P
            | Pre
            | Table
            | Ul
    )
}

// ---------------------------------------------------------------------------
// Byte helpers (all bounds-checked)

#[inline]
fn is_ws(c: u8) -> bool {
    BYTE_CLASS[usize::from(c)] & WS != 0
}

const WS: u8 = 1;
/// Ends a tag name or an attribute name: whitespace, '/', '>'.
const DELIM: u8 = 2;
/// Ends an attribute name.
const EQ: u8 = 4;

static BYTE_CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = WS | DELIM;
    t[b'\t' as usize] = WS | DELIM;
    t[b'\n' as usize] = WS | DELIM;
    t[b'\r' as usize] = WS | DELIM;
    t[0x0C] = WS | DELIM;
    t[b'/' as usize] = DELIM;
    t[b'>' as usize] = DELIM;
    t[b'=' as usize] = EQ;
    t
};

/// First `x` at or after `from`; eight bytes at a time.
fn find_byte(b: &[u8], from: usize, x: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let hay = b.get(from..)?;
    let rep = LO.wrapping_mul(u64::from(x));
    let mut chunks = hay.chunks_exact(8);
    let mut off = from;
    for ch in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(ch);
        let v = u64::from_le_bytes(w) ^ rep;
        if v.wrapping_sub(LO) & !v & HI != 0 {
            return ch.iter().position(|&c| c == x).map(|k| off + k);
        }
        off += 8;
    }
    chunks.remainder().iter().position(|&c| c == x).map(|k| off + k)
}

fn find_seq(b: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    let first = *pat.first()?;
    let mut i = from;
    loop {
        let k = find_byte(b, i, first)?;
        if starts_with(b, k, pat) {
            return Some(k);
        }
        i = k + 1;
    }
}

fn find_ci(b: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    let n = pat.len();
    let mut i = from;
    while i + n <= b.len() {
        if b.get(i..i + n).is_some_and(|w| w.eq_ignore_ascii_case(pat)) {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn starts_with(b: &[u8], at: usize, pat: &[u8]) -> bool {
    b.get(at..at + pat.len()) == Some(pat)
}

fn starts_with_ci(b: &[u8], at: usize, pat: &[u8]) -> bool {
    b.get(at..at + pat.len()).is_some_and(|w| w.eq_ignore_ascii_case(pat))
}

fn trim_ascii(v: &[u8]) -> &[u8] {
    let mut s = 0;
    let mut e = v.len();
    while s < e && is_ws(v[s]) {
        s += 1;
    }
    while e > s && is_ws(v[e - 1]) {
        e -= 1;
    }
    v.get(s..e).unwrap_or_default()
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

// ---------------------------------------------------------------------------
// Tokenizer pieces

struct TagToken<'a> {
    name: &'a str,
    self_closing: bool,
    /// Index just after the closing `>`.
    end: usize,
    /// Number of `on*` attributes.
    handlers: u64,
}

#[inline]
fn is_tag_delim(c: u8) -> bool {
    BYTE_CLASS[usize::from(c)] & DELIM != 0
}

/// Parses a tag whose name starts at `start` (after `<` or `</`), filling
/// `attrs` (name, raw value). `None` when the input ends inside the tag.
fn parse_tag<'a>(src: &'a str, start: usize, attrs: &mut Vec<(&'a str, &'a str)>) -> Option<TagToken<'a>> {
    let b = src.as_bytes();
    let len = b.len();
    let mut i = start;
    while i < len && !is_tag_delim(b[i]) {
        i += 1;
    }
    let name = src.get(start..i)?;
    attrs.clear();
    let mut handlers = 0u64;
    loop {
        while i < len && is_ws(b[i]) {
            i += 1;
        }
        let c = *b.get(i)?;
        if c == b'>' {
            return Some(TagToken { name, self_closing: false, end: i + 1, handlers });
        }
        if c == b'/' {
            i += 1;
            if b.get(i) == Some(&b'>') {
                return Some(TagToken { name, self_closing: true, end: i + 1, handlers });
            }
            continue;
        }
        let ns = i;
        i += 1;
        while i < len && BYTE_CLASS[usize::from(b[i])] & (DELIM | EQ) == 0 {
            i += 1;
        }
        let an = src.get(ns..i).unwrap_or("");
        while i < len && is_ws(b[i]) {
            i += 1;
        }
        let mut value = "";
        if b.get(i) == Some(&b'=') {
            i += 1;
            while i < len && is_ws(b[i]) {
                i += 1;
            }
            match *b.get(i)? {
                q @ (b'"' | b'\'') => {
                    let ve = find_byte(b, i + 1, q)?;
                    value = src.get(i + 1..ve).unwrap_or("");
                    i = ve + 1;
                }
                b'>' => {}
                _ => {
                    let vs = i;
                    while i < len && !is_ws(b[i]) && b[i] != b'>' {
                        i += 1;
                    }
                    value = src.get(vs..i).unwrap_or("");
                }
            }
        }
        if an.len() > 2 && an.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("on")) {
            handlers += 1;
        }
        if attrs.len() < MAX_ATTRS {
            attrs.push((an, value));
        }
    }
}

/// Start of the `</name` that ends a raw-text element whose content starts at
/// `from` (or the input length).
fn raw_text_end(b: &[u8], from: usize, name: &[u8]) -> usize {
    let mut i = from;
    while let Some(k) = find_byte(b, i, b'<') {
        if b.get(k + 1) == Some(&b'/')
            && starts_with_ci(b, k + 2, name)
            && b.get(k + 2 + name.len()).is_some_and(|&c| is_tag_delim(c))
        {
            return k;
        }
        i = k + 1;
    }
    b.len()
}

/// Like [`raw_text_end`] for `script`, following the HTML script-data escape
/// states: inside `<!--`, a `<script>` opens a "double-escaped" region in
/// which `</script>` does not end the element.
fn script_end(b: &[u8], from: usize) -> usize {
    #[derive(PartialEq)]
    enum S {
        Data,
        Escaped,
        Double,
    }
    let tag_at = |k: usize| starts_with_ci(b, k, b"script") && b.get(k + 6).is_some_and(|&c| is_tag_delim(c));
    let mut st = S::Data;
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'<' => {
                if b.get(i + 1) == Some(&b'/') && tag_at(i + 2) {
                    if st == S::Double {
                        st = S::Escaped;
                        i += 8;
                        continue;
                    }
                    return i;
                }
                if st == S::Data && starts_with(b, i, b"<!--") {
                    st = S::Escaped;
                    i += 4;
                    if b.get(i) == Some(&b'>') {
                        st = S::Data;
                    }
                    continue;
                }
                if st == S::Escaped && tag_at(i + 1) {
                    st = S::Double;
                    i += 7;
                    continue;
                }
            }
            b'-' if st != S::Data && starts_with(b, i, b"-->") => {
                st = S::Data;
                i += 3;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

// ---------------------------------------------------------------------------
// Character references

/// Decodes the character reference at `b[i] == b'&'`. Returns the character
/// (None: not a reference, keep the `&`) and the bytes consumed.
fn decode_entity(b: &[u8], i: usize, in_attr: bool) -> (Option<char>, usize) {
    let j = i + 1;
    match b.get(j) {
        Some(b'#') => decode_numeric(b, i),
        Some(c) if c.is_ascii_alphanumeric() => {
            let mut e = j;
            while e < b.len() && e - j < 40 && b[e].is_ascii_alphanumeric() {
                e += 1;
            }
            let name = b.get(j..e).unwrap_or_default();
            if b.get(e) == Some(&b';')
                && let Some((cp, _)) = lookup_entity(name)
            {
                return (char::from_u32(cp), e + 1 - i);
            }
            // Legacy names may appear without ';': longest match wins.
            for n in (2..=name.len().min(6)).rev() {
                let Some(prefix) = name.get(..n) else { continue };
                if let Some((cp, true)) = lookup_entity(prefix) {
                    let next = b.get(j + n).copied().unwrap_or(0);
                    if in_attr && (next.is_ascii_alphanumeric() || next == b'=') {
                        return (None, 1);
                    }
                    return (char::from_u32(cp), 1 + n);
                }
            }
            (None, 1)
        }
        _ => (None, 1),
    }
}

fn decode_numeric(b: &[u8], i: usize) -> (Option<char>, usize) {
    let mut k = i + 2;
    let hex = matches!(b.get(k), Some(b'x' | b'X'));
    if hex {
        k += 1;
    }
    let ds = k;
    let mut v: u32 = 0;
    while let Some(&c) = b.get(k) {
        let d = if hex {
            match (c as char).to_digit(16) {
                Some(d) => d,
                None => break,
            }
        } else if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            break;
        };
        v = v.saturating_mul(if hex { 16 } else { 10 }).saturating_add(d).min(0x11_0000);
        k += 1;
    }
    if k == ds {
        return (None, 1);
    }
    if b.get(k) == Some(&b';') {
        k += 1;
    }
    let ch = match v {
        0 => '\u{FFFD}',
        0x80..=0x9F => cp1252(v),
        _ => char::from_u32(v).unwrap_or('\u{FFFD}'),
    };
    (Some(ch), k - i)
}

/// Numeric references to C1 controls mean windows-1252 (HTML spec table).
fn cp1252(v: u32) -> char {
    let m = match v {
        0x80 => 0x20AC,
        0x82 => 0x201A,
        0x83 => 0x0192,
        0x84 => 0x201E,
        0x85 => 0x2026,
        0x86 => 0x2020,
        0x87 => 0x2021,
        0x88 => 0x02C6,
        0x89 => 0x2030,
        0x8A => 0x0160,
        0x8B => 0x2039,
        0x8C => 0x0152,
        0x8E => 0x017D,
        0x91 => 0x2018,
        0x92 => 0x2019,
        0x93 => 0x201C,
        0x94 => 0x201D,
        0x95 => 0x2022,
        0x96 => 0x2013,
        0x97 => 0x2014,
        0x98 => 0x02DC,
        0x99 => 0x2122,
        0x9A => 0x0161,
        0x9B => 0x203A,
        0x9C => 0x0153,
        0x9E => 0x017E,
        0x9F => 0x0178,
        other => other,
    };
    char::from_u32(m).unwrap_or('\u{FFFD}')
}

fn lookup_entity(name: &[u8]) -> Option<(u32, bool)> {
    // The usual suspects first.
    match name {
        b"nbsp" => return Some((0xA0, true)),
        b"amp" => return Some((0x26, true)),
        b"lt" => return Some((0x3C, true)),
        b"gt" => return Some((0x3E, true)),
        b"quot" => return Some((0x22, true)),
        _ => {}
    }
    ENTITIES
        .binary_search_by(|(n, _, _)| n.as_bytes().cmp(name))
        .ok()
        .and_then(|k| ENTITIES.get(k))
        .map(|&(_, cp, legacy)| (cp, legacy))
}

/// Attribute value with character references decoded.
fn decode_attr(v: &str) -> Cow<'_, str> {
    if !v.contains('&') {
        return Cow::Borrowed(v);
    }
    let b = v.as_bytes();
    let mut out = String::with_capacity(v.len());
    let mut i = 0;
    let mut run = 0;
    while let Some(k) = find_byte(b, i, b'&') {
        out.push_str(v.get(run..k).unwrap_or(""));
        let (ch, n) = decode_entity(b, k, true);
        match ch {
            Some(c) => out.push(c),
            None => out.push('&'),
        }
        i = k + n;
        run = i;
    }
    out.push_str(v.get(run..).unwrap_or(""));
    Cow::Owned(out)
}

// 413 entries, sorted by name (bytes); third field: may appear without ';' (legacy).
static ENTITIES: &[(&str, u32, bool)] = &[
    ("AElig", 0xC6, true),
    ("AMP", 0x26, true),
    ("Aacute", 0xC1, true),
    ("Acirc", 0xC2, true),
    ("Agrave", 0xC0, true),
    ("Alpha", 0x391, false),
    ("Aring", 0xC5, true),
    ("Atilde", 0xC3, true),
    ("Auml", 0xC4, true),
    ("Because", 0x2235, false),
    ("Bernoullis", 0x212C, false),
    ("Beta", 0x392, false),
    ("COPY", 0xA9, true),
    ("Ccedil", 0xC7, true),
    ("CenterDot", 0xB7, false),
    ("Chi", 0x3A7, false),
    ("Congruent", 0x2261, false),
    ("Dagger", 0x2021, false),
    ("Delta", 0x394, false),
    ("DiacriticalGrave", 0x60, false),
    ("Dot", 0xA8, false),
    ("DoubleDot", 0xA8, false),
    ("ETH", 0xD0, true),
    ("Eacute", 0xC9, true),
    ("Ecirc", 0xCA, true),
    ("Egrave", 0xC8, true),
    ("Epsilon", 0x395, false),
    ("Eta", 0x397, false),
    ("Euml", 0xCB, true),
    ("GT", 0x3E, true),
    ("Gamma", 0x393, false),
    ("Hat", 0x5E, false),
    ("Iacute", 0xCD, true),
    ("Icirc", 0xCE, true),
    ("Igrave", 0xCC, true),
    ("Im", 0x2111, false),
    ("Iota", 0x399, false),
    ("Iuml", 0xCF, true),
    ("Kappa", 0x39A, false),
    ("LT", 0x3C, true),
    ("Lambda", 0x39B, false),
    ("LeftArrow", 0x2190, false),
    ("MediumSpace", 0x205F, false),
    ("Mu", 0x39C, false),
    ("NewLine", 0xA, false),
    ("NoBreak", 0x2060, false),
    ("NonBreakingSpace", 0xA0, false),
    ("NotEqual", 0x2260, false),
    ("Ntilde", 0xD1, true),
    ("Nu", 0x39D, false),
    ("OElig", 0x152, false),
    ("Oacute", 0xD3, true),
    ("Ocirc", 0xD4, true),
    ("Ograve", 0xD2, true),
    ("Omega", 0x3A9, false),
    ("Omicron", 0x39F, false),
    ("Oslash", 0xD8, true),
    ("Otilde", 0xD5, true),
    ("Ouml", 0xD6, true),
    ("OverBar", 0x203E, false),
    ("Phi", 0x3A6, false),
    ("Pi", 0x3A0, false),
    ("PlusMinus", 0xB1, false),
    ("Prime", 0x2033, false),
    ("Product", 0x220F, false),
    ("Psi", 0x3A8, false),
    ("QUOT", 0x22, true),
    ("REG", 0xAE, true),
    ("Re", 0x211C, false),
    ("Rho", 0x3A1, false),
    ("RightArrow", 0x2192, false),
    ("Scaron", 0x160, false),
    ("Sigma", 0x3A3, false),
    ("Sqrt", 0x221A, false),
    ("Square", 0x25A1, false),
    ("Sum", 0x2211, false),
    ("THORN", 0xDE, true),
    ("TRADE", 0x2122, false),
    ("Tab", 0x9, false),
    ("Tau", 0x3A4, false),
    ("Therefore", 0x2234, false),
    ("Theta", 0x398, false),
    ("ThinSpace", 0x2009, false),
    ("Uacute", 0xDA, true),
    ("Ucirc", 0xDB, true),
    ("Ugrave", 0xD9, true),
    ("UnderBar", 0x5F, false),
    ("Upsilon", 0x3A5, false),
    ("Uuml", 0xDC, true),
    ("Vert", 0x2016, false),
    ("VerticalLine", 0x7C, false),
    ("Xi", 0x39E, false),
    ("Yacute", 0xDD, true),
    ("Yuml", 0x178, false),
    ("ZeroWidthSpace", 0x200B, false),
    ("Zeta", 0x396, false),
    ("aacute", 0xE1, true),
    ("acirc", 0xE2, true),
    ("acute", 0xB4, true),
    ("aelig", 0xE6, true),
    ("agrave", 0xE0, true),
    ("alefsym", 0x2135, false),
    ("aleph", 0x2135, false),
    ("alpha", 0x3B1, false),
    ("amp", 0x26, true),
    ("and", 0x2227, false),
    ("ang", 0x2220, false),
    ("angle", 0x2220, false),
    ("angst", 0xC5, false),
    ("apos", 0x27, false),
    ("approx", 0x2248, false),
    ("aring", 0xE5, true),
    ("ast", 0x2A, false),
    ("asymp", 0x2248, false),
    ("atilde", 0xE3, true),
    ("auml", 0xE4, true),
    ("bdquo", 0x201E, false),
    ("becaus", 0x2235, false),
    ("because", 0x2235, false),
    ("bernou", 0x212C, false),
    ("beta", 0x3B2, false),
    ("bigcirc", 0x25EF, false),
    ("bigstar", 0x2605, false),
    ("blacksquare", 0x25AA, false),
    ("brvbar", 0xA6, true),
    ("bsol", 0x5C, false),
    ("bull", 0x2022, false),
    ("bullet", 0x2022, false),
    ("cap", 0x2229, false),
    ("caret", 0x2041, false),
    ("ccedil", 0xE7, true),
    ("cedil", 0xB8, true),
    ("cent", 0xA2, true),
    ("centerdot", 0xB7, false),
    ("check", 0x2713, false),
    ("checkmark", 0x2713, false),
    ("chi", 0x3C7, false),
    ("cir", 0x25CB, false),
    ("circ", 0x2C6, false),
    ("clubs", 0x2663, false),
    ("clubsuit", 0x2663, false),
    ("colon", 0x3A, false),
    ("comma", 0x2C, false),
    ("commat", 0x40, false),
    ("cong", 0x2245, false),
    ("copy", 0xA9, true),
    ("copysr", 0x2117, false),
    ("crarr", 0x21B5, false),
    ("cross", 0x2717, false),
    ("cup", 0x222A, false),
    ("curren", 0xA4, true),
    ("dArr", 0x21D3, false),
    ("dagger", 0x2020, false),
    ("darr", 0x2193, false),
    ("dash", 0x2010, false),
    ("deg", 0xB0, true),
    ("delta", 0x3B4, false),
    ("diamondsuit", 0x2666, false),
    ("diams", 0x2666, false),
    ("die", 0xA8, false),
    ("div", 0xF7, false),
    ("divide", 0xF7, true),
    ("dollar", 0x24, false),
    ("downarrow", 0x2193, false),
    ("dtri", 0x25BF, false),
    ("dtrif", 0x25BE, false),
    ("eacute", 0xE9, true),
    ("ecirc", 0xEA, true),
    ("egrave", 0xE8, true),
    ("ell", 0x2113, false),
    ("empty", 0x2205, false),
    ("emptyset", 0x2205, false),
    ("emsp", 0x2003, false),
    ("emsp13", 0x2004, false),
    ("emsp14", 0x2005, false),
    ("ensp", 0x2002, false),
    ("epsilon", 0x3B5, false),
    ("equals", 0x3D, false),
    ("equiv", 0x2261, false),
    ("eta", 0x3B7, false),
    ("eth", 0xF0, true),
    ("euml", 0xEB, true),
    ("euro", 0x20AC, false),
    ("excl", 0x21, false),
    ("exist", 0x2203, false),
    ("female", 0x2640, false),
    ("flat", 0x266D, false),
    ("fnof", 0x192, false),
    ("forall", 0x2200, false),
    ("frac12", 0xBD, true),
    ("frac13", 0x2153, false),
    ("frac14", 0xBC, true),
    ("frac15", 0x2155, false),
    ("frac16", 0x2159, false),
    ("frac18", 0x215B, false),
    ("frac23", 0x2154, false),
    ("frac25", 0x2156, false),
    ("frac34", 0xBE, true),
    ("frac35", 0x2157, false),
    ("frac38", 0x215C, false),
    ("frac45", 0x2158, false),
    ("frac56", 0x215A, false),
    ("frac58", 0x215D, false),
    ("frac78", 0x215E, false),
    ("frasl", 0x2044, false),
    ("gamma", 0x3B3, false),
    ("ge", 0x2265, false),
    ("geq", 0x2265, false),
    ("grave", 0x60, false),
    ("gt", 0x3E, true),
    ("hArr", 0x21D4, false),
    ("hairsp", 0x200A, false),
    ("half", 0xBD, false),
    ("harr", 0x2194, false),
    ("hbar", 0x210F, false),
    ("hearts", 0x2665, false),
    ("heartsuit", 0x2665, false),
    ("hellip", 0x2026, false),
    ("horbar", 0x2015, false),
    ("hyphen", 0x2010, false),
    ("iacute", 0xED, true),
    ("icirc", 0xEE, true),
    ("iexcl", 0xA1, true),
    ("igrave", 0xEC, true),
    ("image", 0x2111, false),
    ("incare", 0x2105, false),
    ("infin", 0x221E, false),
    ("int", 0x222B, false),
    ("iota", 0x3B9, false),
    ("iquest", 0xBF, true),
    ("isin", 0x2208, false),
    ("iuml", 0xEF, true),
    ("kappa", 0x3BA, false),
    ("lArr", 0x21D0, false),
    ("lambda", 0x3BB, false),
    ("lang", 0x27E8, false),
    ("laquo", 0xAB, true),
    ("larr", 0x2190, false),
    ("lbrace", 0x7B, false),
    ("lbrack", 0x5B, false),
    ("lceil", 0x2308, false),
    ("lcub", 0x7B, false),
    ("ldquo", 0x201C, false),
    ("ldquor", 0x201E, false),
    ("le", 0x2264, false),
    ("leftarrow", 0x2190, false),
    ("leq", 0x2264, false),
    ("lfloor", 0x230A, false),
    ("lowast", 0x2217, false),
    ("lowbar", 0x5F, false),
    ("loz", 0x25CA, false),
    ("lozf", 0x29EB, false),
    ("lpar", 0x28, false),
    ("lrm", 0x200E, false),
    ("lsaquo", 0x2039, false),
    ("lsqb", 0x5B, false),
    ("lsquo", 0x2018, false),
    ("lsquor", 0x201A, false),
    ("lt", 0x3C, true),
    ("ltri", 0x25C3, false),
    ("ltrif", 0x25C2, false),
    ("macr", 0xAF, true),
    ("male", 0x2642, false),
    ("marker", 0x25AE, false),
    ("mdash", 0x2014, false),
    ("mho", 0x2127, false),
    ("micro", 0xB5, true),
    ("midast", 0x2A, false),
    ("middot", 0xB7, true),
    ("minus", 0x2212, false),
    ("mldr", 0x2026, false),
    ("mu", 0x3BC, false),
    ("nabla", 0x2207, false),
    ("natural", 0x266E, false),
    ("nbsp", 0xA0, true),
    ("ndash", 0x2013, false),
    ("ne", 0x2260, false),
    ("ni", 0x220B, false),
    ("nldr", 0x2025, false),
    ("not", 0xAC, true),
    ("notin", 0x2209, false),
    ("nsub", 0x2284, false),
    ("ntilde", 0xF1, true),
    ("nu", 0x3BD, false),
    ("num", 0x23, false),
    ("numero", 0x2116, false),
    ("numsp", 0x2007, false),
    ("oacute", 0xF3, true),
    ("ocirc", 0xF4, true),
    ("oelig", 0x153, false),
    ("ograve", 0xF2, true),
    ("ohm", 0x3A9, false),
    ("oline", 0x203E, false),
    ("omega", 0x3C9, false),
    ("omicron", 0x3BF, false),
    ("oplus", 0x2295, false),
    ("or", 0x2228, false),
    ("ordf", 0xAA, true),
    ("ordm", 0xBA, true),
    ("oslash", 0xF8, true),
    ("otilde", 0xF5, true),
    ("otimes", 0x2297, false),
    ("ouml", 0xF6, true),
    ("para", 0xB6, true),
    ("part", 0x2202, false),
    ("percnt", 0x25, false),
    ("period", 0x2E, false),
    ("permil", 0x2030, false),
    ("perp", 0x22A5, false),
    ("phi", 0x3C6, false),
    ("phone", 0x260E, false),
    ("pi", 0x3C0, false),
    ("piv", 0x3D6, false),
    ("planck", 0x210F, false),
    ("plus", 0x2B, false),
    ("plusmn", 0xB1, true),
    ("pm", 0xB1, false),
    ("pound", 0xA3, true),
    ("prime", 0x2032, false),
    ("prod", 0x220F, false),
    ("prop", 0x221D, false),
    ("propto", 0x221D, false),
    ("psi", 0x3C8, false),
    ("puncsp", 0x2008, false),
    ("quest", 0x3F, false),
    ("quot", 0x22, true),
    ("rArr", 0x21D2, false),
    ("radic", 0x221A, false),
    ("rang", 0x27E9, false),
    ("raquo", 0xBB, true),
    ("rarr", 0x2192, false),
    ("rbrace", 0x7D, false),
    ("rbrack", 0x5D, false),
    ("rceil", 0x2309, false),
    ("rcub", 0x7D, false),
    ("rdquo", 0x201D, false),
    ("rdquor", 0x201D, false),
    ("real", 0x211C, false),
    ("rect", 0x25AD, false),
    ("reg", 0xAE, true),
    ("rfloor", 0x230B, false),
    ("rho", 0x3C1, false),
    ("rightarrow", 0x2192, false),
    ("rlm", 0x200F, false),
    ("rpar", 0x29, false),
    ("rsaquo", 0x203A, false),
    ("rsqb", 0x5D, false),
    ("rsquo", 0x2019, false),
    ("rsquor", 0x2019, false),
    ("rtri", 0x25B9, false),
    ("rtrif", 0x25B8, false),
    ("sbquo", 0x201A, false),
    ("scaron", 0x161, false),
    ("sdot", 0x22C5, false),
    ("sect", 0xA7, true),
    ("semi", 0x3B, false),
    ("sharp", 0x266F, false),
    ("shy", 0xAD, true),
    ("sigma", 0x3C3, false),
    ("sigmaf", 0x3C2, false),
    ("sim", 0x223C, false),
    ("sol", 0x2F, false),
    ("spades", 0x2660, false),
    ("spadesuit", 0x2660, false),
    ("squ", 0x25A1, false),
    ("square", 0x25A1, false),
    ("squf", 0x25AA, false),
    ("star", 0x2606, false),
    ("starf", 0x2605, false),
    ("strns", 0xAF, false),
    ("sub", 0x2282, false),
    ("sube", 0x2286, false),
    ("sum", 0x2211, false),
    ("sung", 0x266A, false),
    ("sup", 0x2283, false),
    ("sup1", 0xB9, true),
    ("sup2", 0xB2, true),
    ("sup3", 0xB3, true),
    ("supe", 0x2287, false),
    ("szlig", 0xDF, true),
    ("tau", 0x3C4, false),
    ("there4", 0x2234, false),
    ("therefore", 0x2234, false),
    ("theta", 0x3B8, false),
    ("thetasym", 0x3D1, false),
    ("thinsp", 0x2009, false),
    ("thorn", 0xFE, true),
    ("tilde", 0x2DC, false),
    ("times", 0xD7, true),
    ("trade", 0x2122, false),
    ("uArr", 0x21D1, false),
    ("uacute", 0xFA, true),
    ("uarr", 0x2191, false),
    ("ucirc", 0xFB, true),
    ("ugrave", 0xF9, true),
    ("uml", 0xA8, true),
    ("uparrow", 0x2191, false),
    ("upsih", 0x3D2, false),
    ("upsilon", 0x3C5, false),
    ("utri", 0x25B5, false),
    ("utrif", 0x25B4, false),
    ("uuml", 0xFC, true),
    ("verbar", 0x7C, false),
    ("vert", 0x7C, false),
    ("weierp", 0x2118, false),
    ("wp", 0x2118, false),
    ("xi", 0x3BE, false),
    ("yacute", 0xFD, true),
    ("yen", 0xA5, true),
    ("yuml", 0xFF, true),
    ("zeta", 0x3B6, false),
    ("zwj", 0x200D, false),
    ("zwnj", 0x200C, false),
];

// ---------------------------------------------------------------------------
// Character hygiene

#[derive(Clone, Copy, PartialEq, Eq)]
enum Cls {
    Plain,
    Space,
    Drop,
    Escape,
}

fn classify(c: char) -> Cls {
    match c {
        ' ' | '\t' | '\n' | '\r' | '\u{0C}' | '\u{A0}' | '\u{2028}' | '\u{2029}' => Cls::Space,
        '\u{0}'..='\u{1F}'
        | '\u{7F}'..='\u{9F}'
        | '\u{AD}'
        | '\u{200B}'
        | '\u{2060}'
        | '\u{FEFF}'
        | '\u{E0000}'..='\u{E007F}' => Cls::Drop,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{61C}' => Cls::Escape,
        _ => Cls::Plain,
    }
}

/// Bytes that need a look in text: ASCII controls/space, `&`, `<`, DEL, and the
/// UTF-8 lead bytes of every character `classify` does not call plain.
const fn special_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i <= 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'&' as usize] = true;
    t[b'<' as usize] = true;
    t[0x7F] = true;
    t[0xC2] = true;
    t[0xD8] = true;
    t[0xE2] = true;
    t[0xEF] = true;
    t[0xF3] = true;
    t
}

static SPECIAL: [bool; 256] = special_table();

/// Length of a UTF-8 sequence by its first byte (1 for bytes that cannot
/// start one, which never happens at a character start).
static UTF8_LEN: [u8; 256] = {
    let mut t = [1u8; 256];
    let mut i = 0xC0;
    while i < 0x100 {
        t[i] = if i < 0xE0 {
            2
        } else if i < 0xF0 {
            3
        } else {
            4
        };
        i += 1;
    }
    t
};

/// Writes `c` as the visible escape `<U+XXXX>`.
fn escape_char(c: char) -> String {
    format!("<U+{:04X}>", c as u32)
}

/// Collapses whitespace and applies the hygiene rules to a short inline
/// string (alt text, finding examples); at most `cap` characters.
fn clean_inline(s: &str, cap: usize) -> String {
    let mut out = String::new();
    let mut space = false;
    let mut n = 0;
    for c in s.chars() {
        match classify(c) {
            Cls::Space => space = !out.is_empty(),
            Cls::Drop => {}
            cls => {
                if n >= cap {
                    out.push('…');
                    break;
                }
                if space {
                    out.push(' ');
                    space = false;
                }
                if cls == Cls::Escape {
                    out.push_str(&escape_char(c));
                } else {
                    out.push(c);
                }
                n += 1;
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Output writer

/// A list/heading marker ("12. ", "・ ", "■ ") without allocation.
#[derive(Clone, Copy)]
struct Marker {
    buf: [u8; 48],
    len: usize,
}

impl Marker {
    fn new(s: &str) -> Self {
        let mut m = Marker { buf: [0; 48], len: 0 };
        m.push(s);
        m
    }

    /// Appends `s` whole, or nothing when it does not fit.
    fn push(&mut self, s: &str) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + s.len()) {
            dst.copy_from_slice(s.as_bytes());
            self.len += s.len();
        }
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever copied in, so this cannot fail.
        self.buf.get(..self.len).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or("")
    }
}

struct Out {
    buf: String,
    max: usize,
    truncated: bool,
    /// Newlines owed before the next content (0..=2).
    pending_nl: u8,
    pending_space: bool,
    /// Table cell separators owed before the next content.
    pending_seps: u32,
    /// Spaces owed inside `pre`.
    pre_spaces: usize,
    at_line_start: bool,
    /// Byte index where the current line's content starts (after prefix).
    line_content: usize,
    /// Quote depth of the current line.
    line_quote: u8,
    /// List or heading marker owed at the next content: (indent, text).
    marker: Option<(u16, Marker)>,
    /// Number of content writes so far (cells/links compare marks).
    text_count: u64,
    /// Number of '\n' written so far.
    nl_count: u64,
    /// Text of the open link, for comparing it with the URL.
    capture: Option<String>,
    /// `watch`: the text count whose first content's position is wanted,
    /// and that position once written.
    watch_mark: u64,
    watch_pos: Option<usize>,
}

impl Out {
    fn new(max: usize, input_len: usize) -> Self {
        Out {
            // Text is usually smaller than its HTML: one allocation.
            buf: String::with_capacity(input_len.min(max).min(1 << 26)),
            max,
            truncated: false,
            pending_nl: 0,
            pending_space: false,
            pending_seps: 0,
            pre_spaces: 0,
            at_line_start: true,
            line_content: 0,
            line_quote: 0,
            marker: None,
            text_count: 0,
            nl_count: 0,
            capture: None,
            watch_mark: u64::MAX,
            watch_pos: None,
        }
    }

    /// Remember where the next content (at text count `mark`) starts.
    fn watch(&mut self, mark: u64) {
        if self.watch_mark != mark {
            self.watch_mark = mark;
            self.watch_pos = None;
        }
    }

    /// The position recorded for `mark`, if it is still known.
    fn watched(&self, mark: u64) -> Option<usize> {
        if self.watch_mark == mark { self.watch_pos } else { None }
    }

    /// Inserts `s` at `pos` in the current line (when it fits the cap).
    fn insert_at(&mut self, pos: usize, s: &str) {
        if self.buf.len() + s.len() <= self.max && pos >= self.line_content && self.buf.is_char_boundary(pos) {
            self.buf.insert_str(pos, s);
        }
    }

    /// Raw write under the output cap.
    fn push(&mut self, s: &str) -> bool {
        if self.truncated {
            return false;
        }
        if self.buf.len() + s.len() > self.max {
            let room = self.max.saturating_sub(self.buf.len());
            let cut = floor_boundary(s, room);
            self.buf.push_str(s.get(..cut).unwrap_or(""));
            self.truncated = true;
            return false;
        }
        self.buf.push_str(s);
        true
    }

    fn push_spaces(&mut self, mut n: usize) -> bool {
        while n > 0 {
            let k = n.min(SPACES.len());
            if !self.push(SPACES.get(..k).unwrap_or("")) {
                return false;
            }
            n -= k;
        }
        true
    }

    fn capture_push(&mut self, s: &str) {
        if let Some(c) = self.capture.as_mut()
            && c.len() < CAPTURE_CAP
        {
            let room = CAPTURE_CAP - c.len();
            c.push_str(s.get(..floor_boundary(s, room)).unwrap_or(""));
        }
    }

    fn capture_space(&mut self) {
        if let Some(c) = self.capture.as_mut()
            && !c.is_empty()
            && !c.ends_with(' ')
            && c.len() < CAPTURE_CAP
        {
            c.push(' ');
        }
    }

    /// Writes visible content `s` (already clean), settling what is owed
    /// first: newlines, line prefix, separators, space, marker.
    fn content(&mut self, s: &str, quote: u8, indent: u16) -> bool {
        if self.truncated {
            return false;
        }
        if (self.pending_nl != 0
            || self.at_line_start
            || self.pending_space
            || self.pending_seps != 0
            || self.pre_spaces != 0
            || self.marker.is_some())
            && !self.prepare(quote, indent)
        {
            return false;
        }
        if self.text_count == self.watch_mark && self.watch_pos.is_none() {
            self.watch_pos = Some(self.buf.len());
        }
        self.text_count += 1;
        self.capture_push(s);
        self.push(s)
    }

    fn prepare(&mut self, quote: u8, indent: u16) -> bool {
        if self.pending_nl > 0 {
            if !self.buf.is_empty() {
                self.end_line();
                if !self.push("\n") {
                    return false;
                }
                self.nl_count += 1;
                if self.pending_nl >= 2 {
                    for _ in 0..self.line_quote.min(quote) {
                        if !self.push(">") {
                            return false;
                        }
                    }
                    if !self.push("\n") {
                        return false;
                    }
                    self.nl_count += 1;
                }
                self.at_line_start = true;
                self.capture_space();
            }
            self.pending_nl = 0;
        }
        if self.at_line_start {
            for _ in 0..quote {
                if !self.push("> ") {
                    return false;
                }
            }
            let ind = self.marker.as_ref().map_or(indent, |m| m.0);
            if !self.push_spaces(usize::from(ind)) {
                return false;
            }
            self.at_line_start = false;
            self.line_quote = quote;
            self.line_content = self.buf.len();
            self.pending_space = false;
        }
        if self.pending_seps > 0 {
            for _ in 0..self.pending_seps {
                let sep = if self.buf.len() > self.line_content { " |" } else { "|" };
                if !self.push(sep) {
                    return false;
                }
            }
            self.pending_seps = 0;
            self.pending_space = true;
        }
        if self.pre_spaces > 0 {
            let n = self.pre_spaces;
            self.pre_spaces = 0;
            self.pending_space = false;
            if !self.push_spaces(n) {
                return false;
            }
        } else if self.pending_space {
            self.pending_space = false;
            self.capture_space();
            if !self.push(" ") {
                return false;
            }
        }
        if let Some((_, m)) = self.marker.take() {
            return self.push(m.as_str());
        }
        true
    }

    /// Trims the trailing spaces of the current line.
    fn end_line(&mut self) {
        let t = self.buf.trim_end_matches(' ').len();
        self.buf.truncate(t);
    }

    /// Writes owed separators of trailing empty cells on the current line.
    fn flush_seps(&mut self) {
        if self.pending_nl == 0 && !self.at_line_start {
            for _ in 0..self.pending_seps {
                if !self.push(" |") {
                    break;
                }
            }
        }
        self.pending_seps = 0;
    }
}

// ---------------------------------------------------------------------------
// Converter state

/// What an element passes on to its descendants.
#[derive(Clone, Copy, Default)]
struct Inherit {
    hidden: bool,
    pre: bool,
    foreign: bool,
    in_li: bool,
    quote: u8,
    indent: u16,
    /// Stack index of the nearest list element.
    list: Option<u16>,
    /// Stack index of the nearest table.
    table: Option<u16>,
    fg: Option<u32>,
    bg: Option<u32>,
}

struct Elem {
    tag: Tag,
    /// `key_of(tag, name hash)`.
    key: u64,
    /// Stack index + 1 of the next open element with the same key below
    /// (0: none).
    prev_same: u16,
    /// Per scope kind, stack index + 1 of the nearest boundary at or below
    /// this element (0: none).
    nb: [u16; SCOPES],
    st: Inherit,
    /// Line breaks requested at its start and end.
    brk: u8,
    /// Lists: number of the next item.
    counter: i64,
    ordered: bool,
    /// `out.text_count` when it started.
    mark: u64,
    /// It set the pending marker (li, h1, h2).
    marker: bool,
    /// `Converter::seq` at its push.
    seq: u64,
}

struct TableCtx {
    /// Nearest open cell outside this table (its start mark).
    outer_cell: Option<u64>,
    /// Open cell of this table (its start mark).
    cell: Option<u64>,
    row_open: bool,
    row_vis: bool,
    /// Visible cells opened in the current row.
    cells: u32,
    row_text_mark: u64,
    /// `nl_count` of the row's first line: the row is "broken" once more
    /// newlines were written.
    row_line: u64,
    /// Separators owed by enclosing rows when this row started.
    seps_base: u32,
    /// Cells of the current row that had visible content.
    content_cells: u32,
    /// Empty cells before the row's first non-empty cell; their separators
    /// are only written once the row proves to have two non-empty cells.
    lead_empty: u32,
    /// Where the row's first content starts in the output.
    row_pos: Option<usize>,
    /// A row with two or more non-empty cells was seen: a data table, so
    /// empty cells are always shown.
    multi: bool,
}

enum LinkKind<'a> {
    /// No URL shown (no href, fragment-only).
    NoUrl,
    /// Dangerous scheme removed.
    Removed(String),
    /// The (resolved) URL.
    Url(Cow<'a, str>),
}

struct LinkState<'a> {
    /// Stack index of the `<a>`; `DETACHED` once its element was closed
    /// implicitly before any text (`<p><a href=x><div>text</div></a>`:
    /// browsers re-open the link inside the div; we keep it open until a
    /// block opened after that point ends, `</a>`, the next `<a>` or the end).
    elem: usize,
    /// `Converter::seq` when it was detached.
    detached_at: u64,
    /// `out.text_count` when it started.
    mark: u64,
    kind: LinkKind<'a>,
}

const DETACHED: usize = usize::MAX;

struct Agg {
    code: &'static str,
    severity: Severity,
    count: u64,
    examples: Vec<String>,
}

#[derive(Default)]
struct Findings {
    items: Vec<Agg>,
}

impl Findings {
    fn add(&mut self, code: &'static str, severity: Severity, n: u64, example: Option<String>) {
        self.add_with(code, severity, n, || example);
    }

    /// Like `add`; the example is only built while fewer than
    /// `MAX_EXAMPLES` are kept.
    fn add_with(&mut self, code: &'static str, severity: Severity, n: u64, example: impl FnOnce() -> Option<String>) {
        let idx = match self.items.iter().position(|a| a.code == code) {
            Some(i) => i,
            None => {
                self.items.push(Agg { code, severity, count: 0, examples: Vec::new() });
                self.items.len() - 1
            }
        };
        if let Some(a) = self.items.get_mut(idx) {
            a.count = a.count.saturating_add(n);
            if a.examples.len() < MAX_EXAMPLES
                && let Some(e) = example()
                && !a.examples.contains(&e)
            {
                a.examples.push(e);
            }
        }
    }

    fn into_findings(self, part: &str) -> Vec<Finding> {
        self.items
            .into_iter()
            .map(|a| {
                let mut detail = format!("{} {}", a.count, describe(a.code));
                if !a.examples.is_empty() {
                    detail.push_str(": ");
                    detail.push_str(&a.examples.join("; "));
                }
                Finding::new(a.code, a.severity, part, detail)
            })
            .collect()
    }
}

fn describe(code: &str) -> &'static str {
    match code {
        codes::HTML_SCRIPT => "script element(s) removed",
        codes::HTML_STYLE => "style sheet(s) removed",
        codes::HTML_COMMENT => "comment(s) removed",
        codes::HTML_IFRAME => "frame/iframe element(s) removed",
        codes::HTML_OBJECT => "embedded object(s) (object/embed/applet/svg/math) removed",
        codes::HTML_FORM => "form element(s) removed",
        codes::HTML_META_REFRESH => "meta refresh removed",
        codes::HTML_EVENT_HANDLER => "event handler attribute(s) removed",
        codes::HTML_HIDDEN_TEXT => "hidden element(s) not shown",
        codes::HTML_JAVASCRIPT_URL => "script link(s) removed",
        codes::HTML_UNSAFE_URL => "link(s) with an unsafe scheme removed",
        codes::HTML_DATA_URL => "data: link(s) removed",
        codes::HTML_REMOTE_IMAGE => "remote image(s) not loaded",
        codes::HTML_TRACKING_PIXEL => "tracking pixel(s) removed",
        codes::HTML_BASE_HREF => "base URL(s) used to resolve relative links",
        codes::LINK_MISMATCH => "link(s) whose text shows another host than the destination",
        _ => "occurrence(s)",
    }
}

struct Converter<'a> {
    src: &'a str,
    pos: usize,
    out: Out,
    stack: Vec<Elem>,
    /// Stack index + 1 of the topmost open element per key (0: none).
    top_known: [u16; TAG_COUNT],
    top_other: std::collections::HashMap<u64, u16>,
    /// Elements opened past `MAX_DEPTH` and not yet closed.
    overflow: usize,
    /// Overflow level at which hidden content started.
    overflow_hidden_at: Option<usize>,
    tables: Vec<TableCtx>,
    attrs: Vec<(&'a str, &'a str)>,
    base: Option<String>,
    base_seen: bool,
    link: Option<LinkState<'a>>,
    /// Spare link-text buffer, reused between links.
    capture_buf: Option<String>,
    findings: Findings,
    /// Skip a newline right after `<pre>`.
    skip_lf: bool,
    /// Elements pushed so far (orders elements in time).
    seq: u64,
    /// An `</a>` end tag is being processed.
    ending_a: bool,
    stopped: bool,
    /// Class and id names a top-level `<style>` rule hides.
    hidden_selectors: HiddenSelectors,
}

/// Class and id names that a style sheet hides with a top-level rule whose
/// selector is one simple selector (`.preheader`, `#x`, `span.x`).
/// Rules inside `@media` and other at-rules are ignored: they hide for some
/// screens only (mobile/desktop variants), and dropping text every reader
/// sees would be worse than showing text some readers do not. Bounded: at
/// most [`MAX_HIDDEN_SELECTORS`] names.
#[derive(Default)]
struct HiddenSelectors {
    classes: std::collections::HashSet<String>,
    ids: std::collections::HashSet<String>,
}

const MAX_HIDDEN_SELECTORS: usize = 1000;

impl HiddenSelectors {
    fn is_empty(&self) -> bool {
        self.classes.is_empty() && self.ids.is_empty()
    }

    /// Reads the rules of one style sheet (linear in its length).
    fn add_sheet(&mut self, css: &str) {
        let css = css_normalize(css);
        let mut depth = 0usize;
        let mut start = 0usize;
        let mut prelude = "";
        for (i, c) in css.char_indices() {
            match c {
                '{' => {
                    if depth == 0 {
                        prelude = css.get(start..i).unwrap_or("").trim();
                        start = i + 1;
                    }
                    depth += 1;
                }
                '}' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 {
                        let body = css.get(start..i).unwrap_or("");
                        if !prelude.starts_with('@') && parse_style(body).hidden {
                            for sel in prelude.split(',') {
                                self.add_selector(sel.trim());
                            }
                        }
                        start = i + 1;
                    }
                }
                '}' => start = i + 1,
                _ => {}
            }
        }
    }

    fn add_selector(&mut self, sel: &str) {
        if self.classes.len() + self.ids.len() >= MAX_HIDDEN_SELECTORS {
            return;
        }
        // One compound selector: an optional tag name, then exactly one .class or #id.
        let rest = sel.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
        let name_ok = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_');
        if let Some(class) = rest.strip_prefix('.').filter(|n| name_ok(n)) {
            self.classes.insert(class.to_string());
        } else if let Some(id) = rest.strip_prefix('#').filter(|n| name_ok(n)) {
            self.ids.insert(id.to_string());
        }
    }

    /// Whether an element with these `class` and `id` attributes is hidden.
    pub(crate) fn hides(&self, class: Option<&str>, id: Option<&str>) -> bool {
        if self.is_empty() {
            return false;
        }
        class.is_some_and(|c| c.split_ascii_whitespace().any(|c| self.classes.contains(&c.to_ascii_lowercase())))
            || id.is_some_and(|i| self.ids.contains(&i.trim().to_ascii_lowercase()))
    }
}

impl<'a> Converter<'a> {
    fn new(src: &'a str, max: usize) -> Self {
        Converter {
            src,
            pos: 0,
            out: Out::new(max, src.len()),
            stack: Vec::new(),
            top_known: [0; TAG_COUNT],
            top_other: std::collections::HashMap::new(),
            overflow: 0,
            overflow_hidden_at: None,
            tables: Vec::new(),
            attrs: Vec::new(),
            base: None,
            base_seen: false,
            link: None,
            capture_buf: None,
            findings: Findings::default(),
            skip_lf: false,
            seq: 0,
            ending_a: false,
            stopped: false,
            hidden_selectors: HiddenSelectors::default(),
        }
    }

    fn finish(mut self, part: &str) -> HtmlText {
        if !self.stopped {
            while !self.stack.is_empty() && !self.out.truncated {
                self.pop();
            }
            self.finish_link();
        }
        let truncated = self.out.truncated;
        let max = self.out.max;
        let mut text = neutralize_script(std::mem::take(&mut self.out.buf));
        let mut truncated = truncated;
        if text.len() > max {
            text.truncate(floor_boundary(&text, max));
            truncated = true;
        }
        let keep = text.trim_end_matches([' ', '\n']).len();
        text.truncate(keep);
        HtmlText { text, findings: self.findings.into_findings(part), truncated }
    }

    fn find(&mut self, code: &'static str, severity: Severity) {
        self.findings.add(code, severity, 1, None);
    }

    fn cur(&self) -> Inherit {
        self.stack.last().map_or_else(Inherit::default, |e| e.st)
    }

    fn visible(&self) -> bool {
        self.overflow_hidden_at.is_none() && !self.stack.last().is_some_and(|e| e.st.hidden)
    }

    fn attr(&self, name: &str) -> Option<&'a str> {
        self.attrs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|&(_, v)| v)
    }

    // ----- main loop ------------------------------------------------------

    fn run(&mut self) {
        let src = self.src;
        let len = src.len();
        while self.pos < len && !self.stopped {
            let Some(rest) = src.get(self.pos..) else { break };
            if rest.starts_with('<') {
                self.markup();
            } else {
                self.pos += self.text_token(rest);
            }
            if self.out.truncated {
                self.stopped = true;
            }
        }
    }

    fn markup(&mut self) {
        self.skip_lf = false;
        let b = self.src.as_bytes();
        let p = self.pos;
        match b.get(p + 1) {
            Some(b'!') => {
                if starts_with(b, p, b"<!--") {
                    self.comment(p + 4);
                } else if self.cur().foreign && starts_with(b, p, b"<![CDATA[") {
                    self.pos = find_seq(b, p + 9, b"]]>").map_or(b.len(), |e| e + 3);
                } else {
                    self.bogus_comment(p + 2);
                }
            }
            Some(b'/') => match b.get(p + 2) {
                Some(c) if c.is_ascii_alphabetic() => self.end_tag(),
                Some(b'>') => self.pos = p + 3,
                None => {
                    self.text("</");
                    self.pos = b.len();
                }
                Some(_) => self.bogus_comment(p + 2),
            },
            Some(b'?') => self.bogus_comment(p + 1),
            Some(c) if c.is_ascii_alphabetic() => self.start_tag(),
            _ => {
                self.text("<");
                self.pos = p + 1;
            }
        }
    }

    fn bogus_comment(&mut self, from: usize) {
        let b = self.src.as_bytes();
        self.pos = find_byte(b, from, b'>').map_or(b.len(), |e| e + 1);
    }

    /// `<!--` seen; `start` is the first byte of the comment's content.
    fn comment(&mut self, start: usize) {
        self.find(codes::HTML_COMMENT, Severity::Info);
        let b = self.src.as_bytes();
        if b.get(start) == Some(&b'>') {
            self.pos = start + 1;
            return;
        }
        if starts_with(b, start, b"->") {
            self.pos = start + 2;
            return;
        }
        let mut i = start;
        while let Some(g) = find_byte(b, i, b'>') {
            let ends = (g >= start + 2 && b.get(g - 2..g) == Some(b"--"))
                || (g >= start + 3 && b.get(g - 3..g) == Some(b"--!"));
            if ends {
                self.pos = g + 1;
                return;
            }
            i = g + 1;
        }
        self.pos = b.len();
    }

    // ----- tags -----------------------------------------------------------

    fn start_tag(&mut self) {
        let src = self.src;
        let Some(tp) = parse_tag(src, self.pos + 1, &mut self.attrs) else {
            self.pos = src.len();
            return;
        };
        self.pos = tp.end;
        let tag = tag_id(tp.name);
        let hash = if tag == Tag::Other { name_hash(tp.name) } else { 0 };
        if tp.handlers > 0 {
            self.findings.add(codes::HTML_EVENT_HANDLER, Severity::Warning, tp.handlers, None);
        }
        self.tag_findings(tag);

        if self.cur().foreign {
            if !breaks_out_of_foreign(tag) {
                if !tp.self_closing && !is_void(tag) {
                    if self.overflow > 0 || self.stack.len() >= MAX_DEPTH {
                        self.overflow_push(tag);
                    } else {
                        self.push(tag, hash, self.cur(), 0);
                    }
                }
                return;
            }
            if self.overflow == 0 {
                while self.stack.last().is_some_and(|e| e.st.foreign) {
                    self.pop();
                }
            }
        }
        if is_raw_text(tag) {
            self.raw_text_element(tag);
            return;
        }
        if is_void(tag) {
            self.void_element(tag);
            return;
        }
        if self.overflow > 0 {
            self.overflow_push(tag);
            return;
        }
        self.implicit_closes(tag);
        if self.stack.len() >= MAX_DEPTH {
            self.overflow_push(tag);
            return;
        }
        self.open_element(tag, hash, tp.self_closing);
    }

    /// Findings that depend only on the tag and its attributes.
    fn tag_findings(&mut self, tag: Tag) {
        use Severity::{Info, Warning};
        match tag {
            Tag::Script => self.find(codes::HTML_SCRIPT, Warning),
            Tag::Style => self.find(codes::HTML_STYLE, Info),
            Tag::Iframe | Tag::Frame | Tag::Frameset => self.find(codes::HTML_IFRAME, Warning),
            Tag::Object | Tag::Embed | Tag::Applet | Tag::Svg | Tag::Math => self.find(codes::HTML_OBJECT, Warning),
            Tag::Form | Tag::Input | Tag::Button | Tag::Select | Tag::Textarea | Tag::Keygen => {
                self.find(codes::HTML_FORM, Warning)
            }
            Tag::Meta
                if self.attr("http-equiv").is_some_and(|v| decode_attr(v).trim().eq_ignore_ascii_case("refresh")) =>
            {
                self.find(codes::HTML_META_REFRESH, Warning);
            }
            Tag::A | Tag::Area | Tag::Base => {
                if let Some(h) = self.attr("href")
                    && let Some(s) = blocked_scheme(&href_value(h))
                {
                    let code = match s.as_ref() {
                        "data" => codes::HTML_DATA_URL,
                        "javascript" | "vbscript" | "livescript" => codes::HTML_JAVASCRIPT_URL,
                        _ => codes::HTML_UNSAFE_URL,
                    };
                    self.findings.add(code, Warning, 1, Some(format!("{s}:")));
                }
            }
            _ => {}
        }
    }

    fn end_tag(&mut self) {
        let src = self.src;
        let Some(tp) = parse_tag(src, self.pos + 2, &mut self.attrs) else {
            self.pos = src.len();
            return;
        };
        self.pos = tp.end;
        let tag = tag_id(tp.name);
        if tag == Tag::Br {
            self.br();
            return;
        }
        if self.overflow > 0 {
            self.overflow -= 1;
            if self.overflow_hidden_at.is_some_and(|h| self.overflow < h) {
                self.overflow_hidden_at = None;
            }
            return;
        }
        let hash = if tag == Tag::Other { name_hash(tp.name) } else { 0 };
        let key = key_of(tag, hash);
        if self.cur().foreign {
            self.close(&[key], Scope::Foreign);
            return;
        }
        match tag {
            Tag::Body | Tag::Html | Tag::Head => {}
            Tag::A => {
                self.ending_a = true;
                let closed = self.close(&[key], Scope::Special);
                self.ending_a = false;
                if !closed && self.link.as_ref().is_some_and(|l| l.elem == DETACHED) {
                    self.finish_link();
                }
            }
            Tag::P => {
                if !self.close(&[key], Scope::Button) && self.visible() {
                    self.request_break(2);
                }
            }
            Tag::Li => {
                self.close(&[key], Scope::ListItem);
            }
            Tag::H1 | Tag::H2 | Tag::H3 | Tag::H4 | Tag::H5 | Tag::H6 => {
                self.close(&HEADING_KEYS, Scope::Default);
            }
            Tag::Td | Tag::Th | Tag::Tr | Tag::Tbody | Tag::Thead | Tag::Tfoot | Tag::Caption | Tag::Table => {
                self.close(&[key], Scope::Table);
            }
            t if is_special(t) => {
                self.close(&[key], Scope::Default);
            }
            _ => {
                self.close(&[key], Scope::Special);
            }
        }
    }

    fn top_of(&self, key: u64) -> u16 {
        match usize::try_from(key).ok().and_then(|k| self.top_known.get(k)) {
            Some(&t) => t,
            None => self.top_other.get(&key).copied().unwrap_or(0),
        }
    }

    fn set_top(&mut self, key: u64, v: u16) {
        match usize::try_from(key).ok().and_then(|k| self.top_known.get_mut(k)) {
            Some(t) => *t = v,
            None if v == 0 => {
                self.top_other.remove(&key);
            }
            None => {
                self.top_other.insert(key, v);
            }
        }
    }

    fn is_open(&self, tag: Tag) -> bool {
        self.top_of(tag as u64) != 0
    }

    /// Closes the topmost open element with one of `keys`, unless a
    /// boundary of `scope` is above it (HTML's "has an element in scope").
    /// O(1) besides the pops. Returns whether it closed one.
    fn close(&mut self, keys: &[u64], scope: Scope) -> bool {
        let top = keys.iter().map(|&k| self.top_of(k)).max().unwrap_or(0);
        if top == 0 {
            return false;
        }
        let nb = self.stack.last().map_or(0, |e| e.nb[scope as usize]);
        // A match at the boundary itself counts (checked first), except for
        // the foreign boundary, which is the HTML element around the region.
        let found = if scope == Scope::Foreign { top > nb } else { top >= nb };
        if found {
            self.pop_to(usize::from(top) - 1);
        }
        found
    }

    fn pop_to(&mut self, i: usize) {
        while self.stack.len() > i {
            self.pop();
        }
    }

    fn implicit_closes(&mut self, tag: Tag) {
        if closes_p(tag) {
            self.close(&[Tag::P as u64], Scope::Button);
        }
        match tag {
            Tag::H1 | Tag::H2 | Tag::H3 | Tag::H4 | Tag::H5 | Tag::H6
                if self.stack.last().is_some_and(|e| is_heading(e.tag)) =>
            {
                self.pop();
            }
            Tag::Li => {
                self.close(&[Tag::Li as u64], Scope::Item);
            }
            Tag::Dd | Tag::Dt => {
                self.close(&[Tag::Dd as u64, Tag::Dt as u64], Scope::Item);
            }
            Tag::A => {
                self.finish_link();
                if self.is_open(Tag::A) {
                    self.close(&[Tag::A as u64], Scope::Special);
                }
            }
            Tag::Option | Tag::Optgroup if self.stack.last().is_some_and(|e| e.tag == Tag::Option) => {
                self.pop();
            }
            Tag::Button => {
                self.close(&[Tag::Button as u64], Scope::Default);
            }
            _ => {}
        }
    }

    /// Table structure before a table-part start tag: pops what the new tag
    /// implicitly closes. `false`: not inside a table, ignore the tag.
    fn prepare_table_child(&mut self, tag: Tag) -> bool {
        let Some(ti) = self.cur().table.map(usize::from) else { return false };
        let keep = |t: Tag| match tag {
            Tag::Tr => matches!(t, Tag::Tbody | Tag::Thead | Tag::Tfoot),
            Tag::Td | Tag::Th => matches!(t, Tag::Tr | Tag::Tbody | Tag::Thead | Tag::Tfoot),
            _ => false,
        };
        while self.stack.len() > ti + 1 && !self.stack.last().is_some_and(|e| keep(e.tag)) {
            self.pop();
        }
        if matches!(tag, Tag::Tbody | Tag::Thead | Tag::Tfoot | Tag::Caption) {
            self.table_end_row();
        }
        true
    }

    fn push(&mut self, tag: Tag, hash: u64, st: Inherit, brk: u8) -> usize {
        let idx = self.stack.len();
        // idx < MAX_DEPTH, so idx + 1 fits in u16.
        let me = u16::try_from(idx + 1).unwrap_or(u16::MAX);
        let key = key_of(tag, hash);
        let prev_same = self.top_of(key);
        self.set_top(key, me);
        let mut nb = self.stack.last().map_or([0; SCOPES], |e| e.nb);
        let mut mask = BOUNDARY_MASKS.get(tag as usize).copied().unwrap_or(0);
        if !st.foreign {
            mask |= 1 << Scope::Foreign as u8;
        }
        for (k, slot) in nb.iter_mut().enumerate() {
            if mask & (1 << k) != 0 {
                *slot = me;
            }
        }
        self.stack.push(Elem {
            tag,
            key,
            prev_same,
            nb,
            st,
            brk,
            counter: 1,
            ordered: false,
            mark: self.out.text_count,
            marker: false,
            seq: self.seq,
        });
        self.seq += 1;
        idx
    }

    fn pop(&mut self) {
        let Some(e) = self.stack.pop() else { return };
        self.set_top(e.key, e.prev_same);
        let idx = self.stack.len();
        let vis = !e.st.hidden;
        // A detached link ends with the first block opened after it, and
        // never crosses a table cell (finished before the cell closes).
        let cell_end = matches!(e.tag, Tag::Td | Tag::Th | Tag::Tr | Tag::Caption | Tag::Table);
        if self.link.as_ref().is_some_and(|l| l.elem == DETACHED && (cell_end || (e.brk > 0 && e.seq >= l.detached_at)))
        {
            self.finish_link();
        }
        match e.tag {
            Tag::A if self.link.as_ref().is_some_and(|l| l.elem == idx) => {
                let has_text = self.out.capture.as_ref().is_some_and(|c| !c.is_empty());
                if self.ending_a || has_text {
                    self.finish_link();
                } else if let Some(l) = self.link.as_mut() {
                    l.elem = DETACHED;
                    l.detached_at = self.seq;
                }
            }
            Tag::Td | Tag::Th => self.table_close_cell(),
            Tag::Tr => self.table_end_row(),
            Tag::Table => {
                self.table_end_row();
                self.tables.pop();
            }
            _ => {}
        }
        if e.marker && self.out.text_count == e.mark {
            self.out.marker = None;
        }
        if vis && e.brk > 0 {
            self.request_break(e.brk);
        }
    }

    fn overflow_push(&mut self, tag: Tag) {
        let parent = self.cur();
        let (st, newly) = self.child_state(tag, &parent);
        if newly {
            self.find(codes::HTML_HIDDEN_TEXT, Severity::Warning);
        }
        self.overflow += 1;
        if (st.hidden || is_dropped(tag) || st.foreign) && self.overflow_hidden_at.is_none() {
            self.overflow_hidden_at = Some(self.overflow);
        }
    }

    /// Pushes a (non-void, non-raw) element and applies its start behaviour.
    fn open_element(&mut self, tag: Tag, hash: u64, self_closing: bool) {
        match tag {
            // Table parts outside a table are ignored (as browsers do).
            Tag::Tr | Tag::Td | Tag::Th | Tag::Tbody | Tag::Thead | Tag::Tfoot | Tag::Caption
                if !self.prepare_table_child(tag) =>
            {
                return;
            }
            Tag::Colgroup | Tag::Head => return,
            Tag::Body | Tag::Html if self.is_open(tag) => return,
            _ => {}
        }
        let parent = self.cur();
        let parent_tag = self.stack.last().map(|e| e.tag);
        let (mut st, newly) = self.child_state(tag, &parent);
        if newly {
            self.find(codes::HTML_HIDDEN_TEXT, Severity::Warning);
        }
        if is_dropped(tag) || (tag == Tag::Dialog && self.attr("open").is_none()) {
            st.hidden = true;
        }
        if matches!(tag, Tag::Svg | Tag::Math) {
            st.foreign = true;
            if self_closing {
                return;
            }
        }
        let idx = self.stack.len();
        let nested = parent.in_li || parent.list.is_some();
        let mut brk = block_breaks(tag);
        if brk == 2 && nested {
            brk = 1;
        }
        let vis = !st.hidden && self.overflow_hidden_at.is_none();
        let mut counter = 1;
        let mut ordered = false;
        let mut marker = false;
        match tag {
            Tag::Pre | Tag::Listing => st.pre = true,
            Tag::Blockquote => st.quote = (st.quote + 1).min(MAX_QUOTE),
            Tag::Dd => st.indent = (st.indent + 2).min(MAX_INDENT),
            Tag::Ul | Tag::Ol | Tag::Menu | Tag::Dir => {
                if parent_tag.is_some_and(is_list) {
                    st.indent = (st.indent + 2).min(MAX_INDENT);
                }
                st.list = u16::try_from(idx).ok();
                if tag == Tag::Ol {
                    ordered = true;
                    counter = self.attr("start").and_then(parse_int).unwrap_or(1);
                }
            }
            Tag::Li => {
                st.indent = (parent.indent + 2).min(MAX_INDENT);
                st.in_li = true;
                if vis {
                    let text = self.list_marker(parent.list);
                    self.request_break(1);
                    self.out.marker = Some((parent.indent, text));
                    marker = true;
                }
            }
            Tag::H1 | Tag::H2 if vis => {
                self.request_break(brk);
                match self.out.marker.as_mut() {
                    Some((_, m)) => m.push(HEADING_MARKER),
                    None => self.out.marker = Some((parent.indent, Marker::new(HEADING_MARKER))),
                }
                marker = true;
            }
            Tag::Table => st.table = u16::try_from(idx).ok(),
            _ => {}
        }
        if vis && brk > 0 {
            self.request_break(brk);
        }
        self.push(tag, hash, st, brk);
        if let Some(e) = self.stack.last_mut() {
            e.counter = counter;
            e.ordered = ordered;
            e.marker = marker;
        }
        match tag {
            Tag::Table => {
                let outer = self.nearest_cell();
                let seps = self.out.pending_seps;
                self.tables.push(TableCtx {
                    outer_cell: outer,
                    cell: None,
                    row_open: false,
                    row_vis: false,
                    cells: 0,
                    row_text_mark: 0,
                    row_line: 0,
                    seps_base: seps,
                    content_cells: 0,
                    lead_empty: 0,
                    row_pos: None,
                    multi: false,
                });
            }
            Tag::Tr => self.table_start_row(vis),
            Tag::Td | Tag::Th => self.table_open_cell(vis),
            Tag::A => self.start_link(idx, vis),
            Tag::Pre | Tag::Listing => self.skip_lf = true,
            _ => {}
        }
    }

    /// Text of the marker for a new `<li>` in the list at stack index `list`.
    fn list_marker(&mut self, list: Option<u16>) -> Marker {
        let value = self.attr("value").and_then(parse_int);
        if let Some(l) = list.and_then(|i| self.stack.get_mut(usize::from(i)))
            && l.ordered
        {
            if let Some(v) = value {
                l.counter = v;
            }
            let n = l.counter;
            l.counter = n.saturating_add(1);
            let mut m = Marker::new("");
            let mut digits = [0u8; 20];
            let mut k = digits.len();
            let mut v = n.unsigned_abs();
            loop {
                k -= 1;
                digits[k] = b'0' + (v % 10) as u8;
                v /= 10;
                if v == 0 || k == 0 {
                    break;
                }
            }
            if n < 0 {
                m.push("-");
            }
            m.push(std::str::from_utf8(digits.get(k..).unwrap_or_default()).unwrap_or(""));
            m.push(". ");
            return m;
        }
        Marker::new(UL_MARKER)
    }

    /// State of a new element: inherited state plus its own hiding and
    /// colours. Also returns whether it newly hides content.
    fn child_state(&self, tag: Tag, parent: &Inherit) -> (Inherit, bool) {
        let mut st = *parent;
        // One pass over the attributes (the first of each name counts).
        let (mut hidden, mut style, mut color, mut text, mut bgcolor) = (None, None, None, None, None);
        let (mut class, mut id) = (None, None);
        for &(n, v) in &self.attrs {
            let slot = match n.len() {
                2 if n.eq_ignore_ascii_case("id") => &mut id,
                5 if n.eq_ignore_ascii_case("class") => &mut class,
                4 if n.eq_ignore_ascii_case("text") => &mut text,
                5 if n.eq_ignore_ascii_case("style") => &mut style,
                5 if n.eq_ignore_ascii_case("color") => &mut color,
                6 if n.eq_ignore_ascii_case("hidden") => &mut hidden,
                7 if n.eq_ignore_ascii_case("bgcolor") => &mut bgcolor,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v);
            }
        }
        let mut hide = hidden.is_some() || self.hidden_selectors.hides(class, id);
        let mut fg: Option<Color> = None;
        let mut bg: Option<Color> = None;
        match tag {
            Tag::Font => fg = color.and_then(legacy_color),
            Tag::Body => {
                fg = text.and_then(legacy_color);
                bg = bgcolor.and_then(legacy_color);
            }
            Tag::Table | Tag::Tr | Tag::Td | Tag::Th | Tag::Tbody | Tag::Thead | Tag::Tfoot => {
                bg = bgcolor.and_then(legacy_color);
            }
            _ => {}
        }
        if let Some(style) = style {
            let s = parse_style(style);
            hide |= s.hidden;
            if s.fg.is_some() {
                fg = s.fg;
            }
            if s.bg.is_some() {
                bg = s.bg;
            }
        }
        let mut coloured = false;
        match fg {
            Some(Color::Transparent) => hide = true,
            Some(Color::Rgb(c)) => {
                st.fg = Some(c);
                coloured = true;
            }
            None => {}
        }
        if let Some(Color::Rgb(c)) = bg {
            st.bg = Some(c);
            coloured = true;
        }
        if coloured
            && let (Some(f), Some(b)) = (st.fg, st.bg)
            && colours_close(f, b)
        {
            hide = true;
        }
        let newly = hide && !parent.hidden && self.overflow_hidden_at.is_none();
        st.hidden |= hide;
        (st, newly)
    }

    fn void_element(&mut self, tag: Tag) {
        match tag {
            Tag::Br => self.br(),
            Tag::Hr => {
                let (st, _) = self.child_state(tag, &self.cur());
                if self.visible() && !st.hidden {
                    self.request_break(1);
                    self.emit(HR_LINE);
                    self.request_break(1);
                }
            }
            Tag::Img => self.image(),
            Tag::Base => self.base(),
            _ => {}
        }
    }

    fn raw_text_element(&mut self, tag: Tag) {
        let src = self.src;
        let b = src.as_bytes();
        let start = self.pos;
        let end = match tag {
            Tag::Script => script_end(b, start),
            Tag::Plaintext => b.len(),
            _ => {
                let name: &[u8] = match tag {
                    Tag::Style => b"style",
                    Tag::Title => b"title",
                    Tag::Textarea => b"textarea",
                    Tag::Iframe => b"iframe",
                    Tag::Noembed => b"noembed",
                    Tag::Noframes => b"noframes",
                    _ => b"xmp",
                };
                raw_text_end(b, start, name)
            }
        };
        self.pos = if end < b.len() { find_byte(b, end + 2, b'>').map_or(b.len(), |g| g + 1) } else { b.len() };
        if tag == Tag::Style {
            self.hidden_selectors.add_sheet(src.get(start..end).unwrap_or(""));
        }
        if matches!(tag, Tag::Xmp | Tag::Plaintext) {
            let (st, newly) = self.child_state(tag, &self.cur());
            if newly {
                self.find(codes::HTML_HIDDEN_TEXT, Severity::Warning);
            }
            if self.visible() && !st.hidden {
                self.request_break(1);
                self.pre_text(src.get(start..end).unwrap_or(""), false);
                self.request_break(1);
            }
        }
    }

    // ----- text -----------------------------------------------------------

    fn emit(&mut self, s: &str) {
        let (quote, indent) = self.stack.last().map_or((0, 0), |e| (e.st.quote, e.st.indent));
        if !self.out.content(s, quote, indent) {
            self.stopped = true;
        }
    }

    fn emit_char(&mut self, c: char, pre: bool) {
        match classify(c) {
            Cls::Plain => {
                let mut buf = [0u8; 4];
                self.emit(c.encode_utf8(&mut buf));
            }
            Cls::Space => {
                if pre {
                    match c {
                        '\n' | '\r' | '\u{2028}' | '\u{2029}' => self.pre_newline(),
                        '\t' => self.out.pre_spaces = self.out.pre_spaces.saturating_add(4),
                        _ => self.out.pre_spaces = self.out.pre_spaces.saturating_add(1),
                    }
                } else {
                    self.out.pending_space = true;
                }
            }
            Cls::Drop => {}
            Cls::Escape => self.emit(&escape_char(c)),
        }
    }

    /// The text token at the start of `rest` (up to the next `<`): writes
    /// it and returns its length.
    fn text_token(&mut self, rest: &str) -> usize {
        let mut s = rest;
        if std::mem::take(&mut self.skip_lf) {
            s = s.strip_prefix("\r\n").or_else(|| s.strip_prefix('\n')).unwrap_or(s);
        }
        let skipped = rest.len() - s.len();
        if !self.visible() || self.cur().pre {
            let k = s.find('<').unwrap_or(s.len());
            if self.visible() {
                self.pre_text(s.get(..k).unwrap_or(""), true);
            }
            return skipped + k;
        }
        skipped + self.flow_text(s, true, true)
    }

    /// Literal text produced by the tokenizer (a `<` that starts no tag).
    fn text(&mut self, s: &str) {
        if !self.visible() {
            return;
        }
        if self.cur().pre {
            self.pre_text(s, false);
        } else {
            self.flow_text(s, false, false);
        }
    }

    /// Normal text: whitespace collapses; runs of plain bytes are written
    /// in one piece. With `stop_at_lt`, stops at the first `<` and returns
    /// its index (else the length).
    fn flow_text(&mut self, s: &str, decode: bool, stop_at_lt: bool) -> usize {
        let b = s.as_bytes();
        let mut i = 0;
        let mut run = 0;
        while i < b.len() && !self.stopped {
            let c = b[i];
            if !SPECIAL[usize::from(c)] {
                // `i` is always at a character start: skip the whole character.
                i += usize::from(UTF8_LEN[usize::from(c)]);
                continue;
            }
            let mut ch = None;
            if c >= 0x80 {
                let Some(x) = s.get(i..).and_then(|r| r.chars().next()) else { break };
                if classify(x) == Cls::Plain {
                    i += x.len_utf8();
                    continue;
                }
                ch = Some(x);
            }
            if c == b'<' && !stop_at_lt {
                i += 1;
                continue;
            }
            if run < i {
                self.emit(s.get(run..i).unwrap_or(""));
            }
            match (c, ch) {
                (b'<', _) => return i,
                (_, Some(x)) => {
                    self.emit_char(x, false);
                    i += x.len_utf8();
                }
                (b'&', _) if decode => {
                    let (d, n) = decode_entity(b, i, false);
                    match d {
                        Some(x) => self.emit_char(x, false),
                        None => self.emit("&"),
                    }
                    i += n;
                }
                (b'&', _) => {
                    self.emit("&");
                    i += 1;
                }
                (b' ' | b'\t' | b'\n' | b'\r' | 0x0C, _) => {
                    self.out.pending_space = true;
                    i += 1;
                }
                _ => i += 1,
            }
            run = i;
        }
        if run < b.len() && !self.stopped {
            self.emit(s.get(run..).unwrap_or(""));
        }
        b.len()
    }

    /// Preformatted text: spaces and newlines are kept (blank lines still
    /// collapse to one, trailing spaces are trimmed).
    fn pre_text(&mut self, s: &str, decode: bool) {
        let b = s.as_bytes();
        let mut i = 0;
        let mut run = 0;
        while i < b.len() && !self.stopped {
            let c = b[i];
            if !SPECIAL[usize::from(c)] || c == b'<' {
                i += 1;
                continue;
            }
            let mut ch = None;
            if c >= 0x80 {
                let Some(x) = s.get(i..).and_then(|r| r.chars().next()) else { break };
                if classify(x) == Cls::Plain {
                    i += x.len_utf8();
                    continue;
                }
                ch = Some(x);
            }
            if run < i {
                self.emit(s.get(run..i).unwrap_or(""));
            }
            match (c, ch) {
                (_, Some(x)) => {
                    self.emit_char(x, true);
                    i += x.len_utf8();
                }
                (b'&', _) if decode => {
                    let (d, n) = decode_entity(b, i, false);
                    match d {
                        Some(x) => self.emit_char(x, true),
                        None => self.emit("&"),
                    }
                    i += n;
                }
                (b'&', _) => {
                    self.emit("&");
                    i += 1;
                }
                (b'\r', _) => {
                    if b.get(i + 1) != Some(&b'\n') {
                        self.pre_newline();
                    }
                    i += 1;
                }
                (b'\n', _) => {
                    self.pre_newline();
                    i += 1;
                }
                (b' ' | 0x0C, _) => {
                    self.out.pre_spaces = self.out.pre_spaces.saturating_add(1);
                    i += 1;
                }
                (b'\t', _) => {
                    self.out.pre_spaces = self.out.pre_spaces.saturating_add(4);
                    i += 1;
                }
                _ => i += 1,
            }
            run = i;
        }
        if run < b.len() && !self.stopped {
            self.emit(s.get(run..).unwrap_or(""));
        }
    }

    fn pre_newline(&mut self) {
        self.out.pre_spaces = 0;
        if !self.in_empty_cell() {
            self.out.pending_nl = (self.out.pending_nl + 1).min(2);
        }
    }

    // ----- line breaks and tables ------------------------------------------

    fn nearest_cell(&self) -> Option<u64> {
        self.tables.last().and_then(|t| t.cell.or(t.outer_cell))
    }

    fn in_empty_cell(&self) -> bool {
        self.nearest_cell() == Some(self.out.text_count)
    }

    fn request_break(&mut self, n: u8) {
        if self.in_empty_cell() {
            return;
        }
        self.out.pending_nl = self.out.pending_nl.max(n);
        self.out.pending_space = false;
    }

    fn br(&mut self) {
        if !self.visible() || self.in_empty_cell() {
            return;
        }
        self.out.pending_nl = (self.out.pending_nl + 1).min(2);
        self.out.pending_space = false;
    }

    fn table_start_row(&mut self, vis: bool) {
        self.table_end_row();
        if vis {
            self.request_break(1);
        }
        let line = self.out.nl_count + if self.out.buf.is_empty() { 0 } else { u64::from(self.out.pending_nl) };
        let (tc, seps) = (self.out.text_count, self.out.pending_seps);
        self.out.watch(tc);
        if let Some(t) = self.tables.last_mut() {
            t.row_open = true;
            t.row_vis = vis;
            t.cells = 0;
            t.row_text_mark = tc;
            t.row_line = line;
            t.seps_base = seps;
            t.content_cells = 0;
            t.lead_empty = 0;
            t.row_pos = None;
        }
    }

    fn table_end_row(&mut self) {
        self.table_close_cell();
        let (tc, nl) = (self.out.text_count, self.out.nl_count);
        let Some(t) = self.tables.last_mut() else { return };
        if !t.row_open {
            return;
        }
        t.row_open = false;
        let had = tc != t.row_text_mark;
        let broken = nl > t.row_line;
        let (vis, base) = (t.row_vis, t.seps_base);
        let show_empty = t.multi || t.content_cells >= 2;
        t.multi |= t.content_cells >= 2;
        if had {
            if vis && !broken && show_empty {
                self.out.flush_seps();
            }
            self.out.pending_seps = 0;
        } else {
            self.out.pending_seps = self.out.pending_seps.min(base);
        }
        if vis {
            self.request_break(1);
        }
    }

    fn table_open_cell(&mut self, vis: bool) {
        self.table_close_cell();
        if !self.tables.last().is_some_and(|t| t.row_open) {
            self.table_start_row(vis);
        }
        let (tc, nl) = (self.out.text_count, self.out.nl_count);
        let Some(t) = self.tables.last_mut() else { return };
        if vis {
            if t.cells > 0 {
                if nl > t.row_line && tc != t.row_text_mark {
                    self.out.pending_nl = self.out.pending_nl.max(1);
                } else if t.content_cells == 0 && !t.multi {
                    t.lead_empty += 1;
                } else {
                    self.out.pending_seps += 1;
                }
            }
            t.cells += 1;
        }
        t.cell = Some(tc);
    }

    fn table_close_cell(&mut self) {
        let (tc, nl) = (self.out.text_count, self.out.nl_count);
        let Some(t) = self.tables.last_mut() else { return };
        let Some(m) = t.cell.take() else { return };
        if tc == m {
            return;
        }
        let broken = nl > t.row_line;
        if !broken {
            self.out.pending_nl = 0;
        }
        t.content_cells += 1;
        if t.content_cells == 1 {
            t.row_pos = self.out.watched(t.row_text_mark);
        }
        if t.content_cells == 2 && t.lead_empty > 0 && !broken && t.row_vis {
            // The row is a data row after all: show its leading empty cells.
            if let Some(pos) = t.row_pos {
                self.out.insert_at(pos, &"| ".repeat(t.lead_empty.min(64) as usize));
            }
        }
    }

    // ----- links, images, base ----------------------------------------------

    fn start_link(&mut self, idx: usize, vis: bool) {
        let Some(h) = self.attr("href") else { return };
        if !vis {
            return;
        }
        let u = href_value(h);
        let kind = if let Some(s) = blocked_scheme(&u) {
            LinkKind::Removed(s)
        } else if u.is_empty() || u.starts_with('#') {
            LinkKind::NoUrl
        } else {
            let resolved = match &self.base {
                Some(b) if !has_scheme(&u) => Cow::Owned(resolve(b, &u)),
                _ => u,
            };
            LinkKind::Url(resolved)
        };
        self.link = Some(LinkState { elem: idx, detached_at: 0, mark: self.out.text_count, kind });
        let mut buf = self.capture_buf.take().unwrap_or_default();
        buf.clear();
        self.out.capture = Some(buf);
    }

    fn finish_link(&mut self) {
        let Some(l) = self.link.take() else { return };
        let buf = self.out.capture.take().unwrap_or_default();
        // Whitespace after the link text belongs after the URL; so do line
        // breaks owed by blocks that ended inside the link.
        let space_after = std::mem::take(&mut self.out.pending_space);
        let nl_after = if self.out.text_count > l.mark { std::mem::take(&mut self.out.pending_nl) } else { 0 };
        self.finish_link_kind(l.kind, buf.trim());
        self.out.pending_space |= space_after;
        self.out.pending_nl = self.out.pending_nl.max(nl_after);
        self.capture_buf = Some(buf);
    }

    fn finish_link_kind(&mut self, kind: LinkKind<'_>, text: &str) {
        match kind {
            LinkKind::NoUrl => {}
            LinkKind::Removed(s) => {
                self.out.pending_space = true;
                self.emit(&format!("[removed {s}: link]"));
            }
            LinkKind::Url(url) => {
                let display = display_url(&url);
                if urls_equivalent(text, &display) {
                    return;
                }
                self.out.pending_space = true;
                let mut shown = String::with_capacity(display.len() + 2);
                shown.push('<');
                shown.push_str(&display);
                shown.push('>');
                self.emit(&shown);
                if let Some(th) = text_host(text) {
                    let host = url_host(&url);
                    let differs = match &host {
                        Some(dh) => !same_site(&th, dh),
                        None => has_scheme(&url),
                    };
                    if differs {
                        let dest = host.as_deref().unwrap_or("(no host)");
                        self.findings.add_with(codes::LINK_MISMATCH, Severity::Warning, 1, || {
                            Some(format!("text {} -> {}", clean_inline(&th, 200), clean_inline(dest, 200)))
                        });
                        self.emit(MISMATCH_MARKER);
                    }
                }
            }
        }
    }

    fn image(&mut self) {
        let src = self.attr("src").map(|s| clean_url(&decode_attr(s)).into_owned()).unwrap_or_default();
        let lower = src.to_ascii_lowercase();
        let remote = ["http:", "https:", "ftp:", "//"].iter().any(|p| lower.starts_with(p))
            || (self.base.is_some() && !src.is_empty() && !has_scheme(&src) && !src.starts_with('#'));
        let style = self.attr("style").map(parse_style);
        let dim = |attr: Option<&str>, css: Option<f64>| attr.and_then(|v| css_number(decode_attr(v).trim())).or(css);
        let w = dim(self.attr("width"), style.as_ref().and_then(|s| s.width));
        let h = dim(self.attr("height"), style.as_ref().and_then(|s| s.height));
        if remote {
            self.find(codes::HTML_REMOTE_IMAGE, Severity::Info);
        }
        if let (Some(w), Some(h)) = (w, h)
            && w <= 1.0
            && h <= 1.0
        {
            self.find(codes::HTML_TRACKING_PIXEL, Severity::Info);
            return;
        }
        let (st, _) = self.child_state(Tag::Img, &self.cur());
        if !self.visible() || st.hidden {
            return;
        }
        let alt = self.attr("alt").map(|a| clean_inline(&decode_attr(a), ALT_CAP)).unwrap_or_default();
        let shown = if alt.is_empty() { "[画像]".to_string() } else { format!("[画像: {alt}]") };
        let cap = self.out.capture.take();
        self.emit(&shown);
        self.out.capture = cap;
    }

    fn base(&mut self) {
        if self.base_seen {
            return;
        }
        let Some(h) = self.attr("href") else { return };
        self.base_seen = true;
        let d = decode_attr(h);
        let u = clean_url(&d);
        if dangerous_scheme(&u).is_some() {
            return;
        }
        let ex = clean_inline(&display_url(&u), 200);
        self.findings.add(codes::HTML_BASE_HREF, Severity::Info, 1, Some(ex));
        let lower = u.to_ascii_lowercase();
        let ok = ["http://", "https://", "ftp://"].iter().any(|p| lower.starts_with(p))
            && url_host(&u).is_some_and(|h| !h.is_empty());
        if ok {
            self.base = Some(u.into_owned());
        }
    }
}

/// The output never contains `<script` (any case): it becomes `< script`.
fn neutralize_script(s: String) -> String {
    let b = s.as_bytes();
    let hit = |k: usize| starts_with_ci(b, k + 1, b"script");
    let mut i = 0;
    let mut first = None;
    while let Some(k) = find_byte(b, i, b'<') {
        if hit(k) {
            first = Some(k);
            break;
        }
        i = k + 1;
    }
    let Some(first) = first else { return s };
    let mut out = String::with_capacity(s.len() + 16);
    let mut run = 0;
    let mut i = first;
    while let Some(k) = find_byte(b, i, b'<') {
        if hit(k) {
            out.push_str(s.get(run..=k).unwrap_or(""));
            out.push(' ');
            run = k + 1;
        }
        i = k + 1;
    }
    out.push_str(s.get(run..).unwrap_or(""));
    out
}

fn parse_int(v: &str) -> Option<i64> {
    let v = v.trim();
    let (neg, digits) = match v.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, v.strip_prefix('+').unwrap_or(v)),
    };
    let mut n: i64 = 0;
    let mut any = false;
    for c in digits.bytes() {
        if !c.is_ascii_digit() {
            break;
        }
        any = true;
        n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    any.then_some(if neg { -n } else { n })
}

// ---------------------------------------------------------------------------
// Inline style and colours

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Color {
    Rgb(u32),
    Transparent,
}

#[derive(Default)]
struct StyleInfo {
    hidden: bool,
    fg: Option<Color>,
    bg: Option<Color>,
    width: Option<f64>,
    height: Option<f64>,
}

/// Removes CSS comments (replaced by a space, as the CSS tokenizer would
/// separate tokens there) and resolves backslash escapes; lower-cases ASCII.
fn css_normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '/' if it.peek() == Some(&'*') => {
                it.next();
                let mut prev = ' ';
                for d in it.by_ref() {
                    if prev == '*' && d == '/' {
                        break;
                    }
                    prev = d;
                }
                out.push(' ');
            }
            '\\' => {
                let mut hex = String::new();
                while hex.len() < 6 {
                    match it.peek() {
                        Some(d) if d.is_ascii_hexdigit() => {
                            hex.push(*d);
                            it.next();
                        }
                        _ => break,
                    }
                }
                if hex.is_empty() {
                    match it.next() {
                        Some('\n') | None => {}
                        Some(d) => out.push(d.to_ascii_lowercase()),
                    }
                } else {
                    if it.peek().is_some_and(|d| d.is_ascii_whitespace()) {
                        it.next();
                    }
                    let v = u32::from_str_radix(&hex, 16).unwrap_or(0xFFFD);
                    out.push(char::from_u32(v).unwrap_or('\u{FFFD}').to_ascii_lowercase());
                }
            }
            _ => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// The leading number of a CSS length/number (`0`, `0px`, `-9999px`,
/// `50%`); `None` for keywords and functions.
fn css_number(v: &str) -> Option<f64> {
    let b = v.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let ds = i;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
        i += 1;
    }
    if i == ds {
        return None;
    }
    let rest = v.get(i..)?.trim();
    if !rest.chars().all(|c| c.is_ascii_alphabetic() || c == '%') {
        return None;
    }
    v.get(..i)?.parse::<f64>().ok()
}

fn parse_style(raw: &str) -> StyleInfo {
    let css = css_normalize(&decode_attr(raw));
    let mut s = StyleInfo::default();
    let (mut h0, mut w0, mut hmax0, mut wmax0, mut overflow) = (false, false, false, false, false);
    let (mut abs, mut offscreen) = (false, false);
    let is_zero = |v: &str| css_number(v).is_some_and(|n| n <= 0.0);
    for decl in css.split(';') {
        let Some((p, v)) = decl.split_once(':') else { continue };
        let p = p.trim();
        let v = v.split('!').next().unwrap_or("").trim();
        match p {
            "display" => s.hidden |= v == "none",
            "visibility" => s.hidden |= v == "hidden" || v == "collapse",
            "opacity" => {
                if let Some(n) = css_number(v) {
                    let n = if v.ends_with('%') { n / 100.0 } else { n };
                    s.hidden |= n <= 0.01;
                }
            }
            "font-size" => s.hidden |= is_zero(v),
            "font" => {
                s.hidden |= v.split_whitespace().any(|t| is_zero(t.split('/').next().unwrap_or(t)));
            }
            "mso-hide" => s.hidden |= v == "all",
            "height" => {
                h0 |= is_zero(v);
                s.height = css_number(v);
            }
            "width" => {
                w0 |= is_zero(v);
                s.width = css_number(v);
            }
            "max-height" => hmax0 |= is_zero(v),
            "max-width" => wmax0 |= is_zero(v),
            "overflow" | "overflow-x" | "overflow-y" => {
                overflow |= v.contains("hidden") || v.contains("clip");
            }
            "position" => abs = v == "absolute" || v == "fixed",
            "left" | "top" | "right" => offscreen |= css_number(v).is_some_and(|n| n <= -999.0),
            "text-indent" => s.hidden |= css_number(v).is_some_and(|n| n <= -999.0),
            "color" => s.fg = parse_color(v),
            "background-color" => s.bg = parse_color(v).or(s.bg),
            "background" => {
                if let Some(c) = css_tokens(v).into_iter().find_map(parse_color) {
                    s.bg = Some(c);
                }
            }
            _ => {}
        }
    }
    s.hidden |= ((h0 || hmax0 || w0 || wmax0) && overflow) || (h0 && w0) || (abs && offscreen);
    s
}

/// Whitespace-separated tokens, keeping `( … )` groups together.
fn css_tokens(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0u32;
    let mut start = None;
    for (i, c) in v.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c.is_ascii_whitespace() && depth == 0 {
            if let Some(s) = start.take() {
                out.push(v.get(s..i).unwrap_or(""));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push(v.get(s..).unwrap_or(""));
    }
    out
}

/// A CSS colour value (already lower-case).
fn parse_color(v: &str) -> Option<Color> {
    let v = v.trim();
    if v == "transparent" {
        return Some(Color::Transparent);
    }
    if let Some(h) = v.strip_prefix('#') {
        return hex_color(h);
    }
    if let Some(args) = v.strip_prefix("rgba(").or_else(|| v.strip_prefix("rgb(")) {
        return rgb_function(args.strip_suffix(')').unwrap_or(args));
    }
    named_color(v).map(Color::Rgb)
}

/// A legacy colour attribute (`bgcolor`, `color`, `text`).
fn legacy_color(v: &str) -> Option<Color> {
    let v = decode_attr(v).trim().to_ascii_lowercase();
    if v == "transparent" {
        return None;
    }
    match v.strip_prefix('#') {
        Some(h) => hex_color(h),
        None if (v.len() == 6 || v.len() == 3) && v.bytes().all(|c| c.is_ascii_hexdigit()) => hex_color(&v),
        None => named_color(&v).map(Color::Rgb),
    }
}

fn hex_color(h: &str) -> Option<Color> {
    if !h.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let digit = |i: usize| h.get(i..=i).and_then(|d| u32::from_str_radix(d, 16).ok());
    let (rgb, alpha) = match h.len() {
        3 | 4 => {
            let mut v = 0u32;
            for i in 0..3 {
                let d = digit(i)?;
                v = (v << 8) | (d * 17);
            }
            (v, if h.len() == 4 { digit(3)? * 17 } else { 255 })
        }
        6 | 8 => {
            let v = u32::from_str_radix(h.get(..6)?, 16).ok()?;
            let a = if h.len() == 8 { u32::from_str_radix(h.get(6..8)?, 16).ok()? } else { 255 };
            (v, a)
        }
        _ => return None,
    };
    Some(if alpha == 0 { Color::Transparent } else { Color::Rgb(rgb) })
}

fn rgb_function(args: &str) -> Option<Color> {
    let parts: Vec<&str> = args.split([',', ' ', '/']).map(str::trim).filter(|p| !p.is_empty()).collect();
    if parts.len() < 3 {
        return None;
    }
    let mut v = 0u32;
    for p in parts.iter().take(3) {
        let n = css_number(p)?;
        let n = if p.ends_with('%') { n * 2.55 } else { n };
        v = (v << 8) | (n.clamp(0.0, 255.0).round() as u32);
    }
    if let Some(a) = parts.get(3) {
        let n = css_number(a)?;
        let n = if a.ends_with('%') { n / 100.0 } else { n };
        if n <= 0.01 {
            return Some(Color::Transparent);
        }
    }
    Some(Color::Rgb(v))
}

fn named_color(v: &str) -> Option<u32> {
    Some(match v {
        "white" => 0xFFFFFF,
        "black" => 0x000000,
        "red" => 0xFF0000,
        "green" => 0x008000,
        "blue" => 0x0000FF,
        "yellow" => 0xFFFF00,
        "aqua" | "cyan" => 0x00FFFF,
        "fuchsia" | "magenta" => 0xFF00FF,
        "gray" | "grey" => 0x808080,
        "silver" => 0xC0C0C0,
        "maroon" => 0x800000,
        "olive" => 0x808000,
        "lime" => 0x00FF00,
        "navy" => 0x000080,
        "purple" => 0x800080,
        "teal" => 0x008080,
        "orange" => 0xFFA500,
        "whitesmoke" => 0xF5F5F5,
        "snow" => 0xFFFAFA,
        "ivory" => 0xFFFFF0,
        "ghostwhite" => 0xF8F8FF,
        "floralwhite" => 0xFFFAF0,
        "linen" => 0xFAF0E6,
        "seashell" => 0xFFF5EE,
        "mintcream" => 0xF5FFFA,
        "azure" => 0xF0FFFF,
        "aliceblue" => 0xF0F8FF,
        "lavenderblush" => 0xFFF0F5,
        "honeydew" => 0xF0FFF0,
        "oldlace" => 0xFDF5E6,
        "beige" => 0xF5F5DC,
        "lightgray" | "lightgrey" => 0xD3D3D3,
        "gainsboro" => 0xDCDCDC,
        "darkgray" | "darkgrey" => 0xA9A9A9,
        "dimgray" | "dimgrey" => 0x696969,
        "lightyellow" => 0xFFFFE0,
        "lightcyan" => 0xE0FFFF,
        _ => return None,
    })
}

/// Text colour indistinguishable from the background.
fn colours_close(a: u32, b: u32) -> bool {
    let ch = |v: u32, s: u32| ((v >> s) & 0xFF) as i32;
    let d: i32 = [16, 8, 0].iter().map(|&s| (ch(a, s) - ch(b, s)).abs()).sum();
    d <= 24
}

// ---------------------------------------------------------------------------
// URLs

/// Length of a leading URL scheme (index of its ':').
fn scheme_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if !b.first()?.is_ascii_alphabetic() {
        return None;
    }
    let k = b.iter().position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))?;
    (b.get(k) == Some(&b':')).then_some(k)
}

fn has_scheme(s: &str) -> bool {
    scheme_end(s).is_some()
}

/// What a browser does to an `href` before parsing: strip leading and
/// trailing C0 controls and spaces, remove tabs and newlines.
fn clean_url(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let start = b.iter().position(|&c| c > b' ').unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c > b' ').map_or(start, |e| e + 1);
    // Both ends are at ASCII bytes or the string's ends: char boundaries.
    let t = s.get(start..end).unwrap_or("");
    if !has_byte_below(t.as_bytes(), 0x20) {
        return Cow::Borrowed(t);
    }
    Cow::Owned(t.chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect())
}

/// Whether any byte is below `n` (n <= 128); eight bytes at a time.
fn has_byte_below(b: &[u8], n: u8) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let sub = LO.wrapping_mul(u64::from(n));
    let mut chunks = b.chunks_exact(8);
    for ch in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(ch);
        let v = u64::from_le_bytes(w);
        if v.wrapping_sub(sub) & !v & HI != 0 {
            return true;
        }
    }
    chunks.remainder().iter().any(|&c| c < n)
}

const DANGEROUS_SCHEMES: [&str; 5] = ["javascript", "vbscript", "livescript", "data", "file"];

/// Schemes whose links are shown; relative URLs are shown as written.
const SHOWN_SCHEMES: [&str; 5] = ["http", "https", "mailto", "ftp", "tel"];

/// The scheme of a link that must not be shown: a dangerous one (also when
/// disguised, see `dangerous_scheme`) or any scheme outside `SHOWN_SCHEMES`
/// (`ms-msdt:`, `search-ms:`, `C:` paths, …).
fn blocked_scheme(u: &str) -> Option<String> {
    if let Some(s) = dangerous_scheme(u) {
        return Some(s.to_string());
    }
    let k = scheme_end(u)?;
    let scheme = u.get(..k)?;
    if SHOWN_SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return None;
    }
    // Scheme characters only (see `scheme_end`): safe to show, capped.
    Some(scheme.chars().take(32).collect::<String>().to_ascii_lowercase())
}

/// An `href`/`src` value as a browser reads it (references decoded,
/// `clean_url`), borrowed from the input when nothing changes.
fn href_value(raw: &str) -> Cow<'_, str> {
    match decode_attr(raw) {
        Cow::Borrowed(b) => clean_url(b),
        Cow::Owned(o) => Cow::Owned(clean_url(&o).into_owned()),
    }
}

/// `javascript:` and friends, looked for after dropping whitespace, control
/// and invisible characters anywhere in the scheme.
fn dangerous_scheme(u: &str) -> Option<&'static str> {
    // Fast path: a plain scheme (only scheme characters before the ':').
    let b = u.as_bytes();
    if let Some(k) = b.iter().take(12).position(|&c| c == b':')
        && let Some(scheme) = b.get(..k)
        && scheme.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return DANGEROUS_SCHEMES.into_iter().find(|s| s.as_bytes().eq_ignore_ascii_case(scheme));
    }
    // The first 11 significant characters, ASCII-lower-cased, on the stack.
    let mut buf = [0u8; 11];
    let mut n = 0;
    for c in u.chars() {
        if c.is_whitespace() || classify(c) != Cls::Plain {
            continue;
        }
        if !c.is_ascii() || n == buf.len() {
            break;
        }
        buf[n] = (c as u8).to_ascii_lowercase();
        n += 1;
        if c == ':' {
            break;
        }
    }
    let compact = buf.get(..n).unwrap_or_default();
    DANGEROUS_SCHEMES.into_iter().find(|s| compact.strip_prefix(s.as_bytes()) == Some(b":"))
}

/// (scheme incl. ':', "//authority" or "", path, "?query#fragment" rest)
fn split_url(u: &str) -> (&str, &str, &str, &str) {
    let se = scheme_end(u).map_or(0, |k| k + 1);
    let scheme = u.get(..se).unwrap_or("");
    let after = u.get(se..).unwrap_or("");
    let (auth, rest) = match after.strip_prefix("//") {
        Some(r) => {
            let k = r.find(['/', '?', '#']).unwrap_or(r.len());
            (after.get(..k + 2).unwrap_or(""), r.get(k..).unwrap_or(""))
        }
        None => ("", after),
    };
    let k = rest.find(['?', '#']).unwrap_or(rest.len());
    (scheme, auth, rest.get(..k).unwrap_or(""), rest.get(k..).unwrap_or(""))
}

/// RFC 3986 reference resolution against an absolute base.
fn resolve(base: &str, r: &str) -> String {
    if has_scheme(r) {
        return r.to_string();
    }
    let (bs, ba, bp, brest) = split_url(base);
    if r.starts_with("//") {
        return format!("{bs}{r}");
    }
    let (_, _, rp, rrest) = split_url(r);
    if rp.is_empty() {
        let query = if rrest.starts_with('?') {
            rrest
        } else {
            let bq = brest.split('#').next().unwrap_or("");
            return format!("{bs}{ba}{bp}{bq}{rrest}");
        };
        return format!("{bs}{ba}{bp}{query}");
    }
    let path = if rp.starts_with('/') {
        remove_dot_segments(rp)
    } else {
        let dir = match bp.rfind('/') {
            Some(k) => bp.get(..=k).unwrap_or("/"),
            None => "/",
        };
        remove_dot_segments(&format!("{dir}{rp}"))
    };
    format!("{bs}{ba}{path}{rrest}")
}

fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segs: Vec<&str> = path.split('/').collect();
    let last = segs.len().saturating_sub(1);
    for (i, s) in segs.iter().enumerate() {
        match *s {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    let j = out.join("/");
    if j.starts_with('/') { j } else { format!("/{j}") }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn normalize_host(h: &str) -> String {
    let h = percent_decode(h).to_lowercase();
    h.trim_end_matches('.').to_string()
}

/// Host of an absolute http(s)/ftp/ws(s) URL, or the domain of a mailto:.
fn url_host(u: &str) -> Option<String> {
    let se = scheme_end(u)?;
    let scheme = u.get(..se)?.to_ascii_lowercase();
    let rest = u.get(se + 1..)?;
    match scheme.as_str() {
        "http" | "https" | "ftp" | "ws" | "wss" => {
            let r = rest.trim_start_matches(['/', '\\']);
            let k = r.find(['/', '\\', '?', '#']).unwrap_or(r.len());
            let auth = r.get(..k)?;
            let hostport = auth.rsplit('@').next().unwrap_or(auth);
            let host = if hostport.starts_with('[') {
                hostport.split(']').next().map(|h| format!("{h}]")).unwrap_or_default()
            } else {
                hostport.split(':').next().unwrap_or("").to_string()
            };
            Some(normalize_host(&host))
        }
        "mailto" => {
            let addr = rest.split(['?', ',']).next().unwrap_or("");
            let d = addr.rsplit('@').next().filter(|_| addr.contains('@'))?;
            Some(normalize_host(d))
        }
        _ => None,
    }
}

/// ASCII bytes shown as they are in a URL.
static URL_PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0x21;
    while i < 0x7F {
        t[i] = !matches!(i as u8, b'<' | b'>' | b'"' | b'`');
        i += 1;
    }
    t
};

/// How a URL is shown: invisible, control, space and `<>"` characters
/// percent-encoded; at most `URL_CAP` characters, then "…".
fn display_url(u: &str) -> Cow<'_, str> {
    if u.len() <= URL_CAP && u.bytes().all(|c| URL_PLAIN[usize::from(c)]) {
        return Cow::Borrowed(u);
    }
    let mut out = String::with_capacity(u.len().min(URL_CAP * 3));
    for (n, c) in u.chars().enumerate() {
        if n >= URL_CAP {
            out.push('…');
            break;
        }
        let encode = matches!(c, ' ' | '<' | '>' | '"' | '`') || classify(c) != Cls::Plain;
        if encode {
            let mut buf = [0u8; 4];
            for byte in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{byte:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// File extensions that look like top-level domains in link texts such as
/// "report.pdf"; such texts are not taken for domains.
const FILE_EXTENSIONS: &[&str] = &[
    "asp", "aspx", "avi", "bmp", "cgi", "css", "csv", "doc", "docx", "eml", "exe", "gif", "htm", "html", "ics", "jpeg",
    "jpg", "js", "json", "jsp", "jtd", "lzh", "mov", "mp3", "mp4", "msg", "odt", "ods", "pdf", "php", "png", "ppt",
    "pptx", "rtf", "txt", "wav", "xls", "xlsm", "xlsx", "xml", "zip",
];

fn domain_like(h: &str, allow_file_ext: bool) -> bool {
    let labels: Vec<&str> = h.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    if labels.len() == 4
        && labels.iter().all(|l| !l.is_empty() && l.len() <= 3 && l.bytes().all(|c| c.is_ascii_digit()))
    {
        return true;
    }
    let ok_label = |l: &&str| {
        !l.is_empty()
            && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !labels.iter().all(ok_label) {
        return false;
    }
    let tld = labels.last().copied().unwrap_or("");
    let tld_ok = (tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic())) || tld.starts_with("xn--");
    tld_ok && (allow_file_ext || !FILE_EXTENSIONS.contains(&tld))
}

/// The host a link text shows, when the text looks like a URL, a domain
/// or a mail address.
fn text_host(text: &str) -> Option<String> {
    if !text.contains('.') {
        return None;
    }
    let t = text.trim().trim_matches(|c: char| "<>()[]\"'「」『』".contains(c));
    let t = t.trim_end_matches(|c: char| ".,;:!?。、".contains(c));
    if t.is_empty() || t.chars().any(char::is_whitespace) {
        return None;
    }
    let lower = t.to_ascii_lowercase();
    if let Some(addr) = lower.strip_prefix("mailto:") {
        return url_host(&format!("mailto:{addr}")).filter(|h| domain_like(h, true));
    }
    if let Some(k) = lower.find("://") {
        if scheme_end(&lower) != Some(k) {
            return None;
        }
        return url_host(&lower).filter(|h| domain_like(h, true));
    }
    let host_end = lower.find(['/', '?', '#']).unwrap_or(lower.len());
    let hostpart = lower.get(..host_end)?;
    if let Some(at) = hostpart.rfind('@') {
        let d = hostpart.get(at + 1..)?;
        return domain_like(d, true).then(|| normalize_host(d));
    }
    let host = hostpart.split(':').next().unwrap_or("");
    let allow_ext = host.starts_with("www.");
    domain_like(host, allow_ext).then(|| normalize_host(host))
}

/// Same host, or one a subdomain of the other (a leading "www." ignored).
fn same_site(a: &str, b: &str) -> bool {
    let a = a.strip_prefix("www.").unwrap_or(a);
    let b = b.strip_prefix("www.").unwrap_or(b);
    let sub =
        |long: &str, short: &str| short.contains('.') && long.strip_suffix(short).is_some_and(|p| p.ends_with('.'));
    a == b || sub(a, b) || sub(b, a)
}

/// Whether the link text already shows the URL: equal but for a trailing
/// '/', a `mailto:`/`tel:` prefix and the case of scheme and host.
fn urls_equivalent(text: &str, url: &str) -> bool {
    /// (scheme and host part, compared ignoring case; the rest)
    fn parts(s: &str) -> (&str, &str) {
        let s = s.trim();
        let s = ["mailto:", "tel:"]
            .iter()
            .find_map(|p| s.get(..p.len()).filter(|h| h.eq_ignore_ascii_case(p)).and_then(|_| s.get(p.len()..)))
            .unwrap_or(s);
        let s = s.strip_suffix('/').unwrap_or(s);
        match s.find("://") {
            Some(k) => {
                let hs = k + 3;
                let he = s.get(hs..).and_then(|r| r.find(['/', '?', '#'])).map_or(s.len(), |e| hs + e);
                (s.get(..he).unwrap_or(""), s.get(he..).unwrap_or(""))
            }
            None => ("", s),
        }
    }
    if text.is_empty() || text.len().abs_diff(url.len()) > 8 {
        return false;
    }
    let (th, tr) = parts(text);
    let (uh, ur) = parts(url);
    th.eq_ignore_ascii_case(uh) && tr == ur
}

#[cfg(test)]
mod tests {

    #[test]
    fn style_sheet_class_and_id_rules_hide_but_media_rules_do_not() {
        let html = "<style>.x{display:none} #y { visibility: hidden } @media (max-width:600px){ .m {display:none} } p.z, .a .b {display:none}</style>\
            <p>shown</p><p class=\"q X\">HIDDEN1</p><div id=y>HIDDEN2</div><p class=m>mobile-only-hidden</p><p class=z>HIDDEN3</p><p class=b>kept</p>";
        let out = html_to_text(html, "1", 1 << 20);
        assert!(
            out.text.contains("shown") && out.text.contains("mobile-only-hidden") && out.text.contains("kept"),
            "{}",
            out.text
        );
        assert!(!out.text.contains("HIDDEN"), "{}", out.text);
        assert!(out.findings.iter().any(|f| f.code == codes::HTML_HIDDEN_TEXT));
    }

    use super::*;

    fn conv(html: &str) -> HtmlText {
        html_to_text(html, "1.2", 1 << 22)
    }

    fn text(html: &str) -> String {
        conv(html).text
    }

    fn has(r: &HtmlText, code: &str) -> bool {
        r.findings.iter().any(|f| f.code == code)
    }

    fn finding<'r>(r: &'r HtmlText, code: &str) -> &'r Finding {
        r.findings.iter().find(|f| f.code == code).unwrap_or_else(|| panic!("no {code} in {:?}", r.findings))
    }

    /// No output may contain these, whatever the input.
    fn assert_clean(t: &str) {
        assert!(!t.to_ascii_lowercase().contains("<script"), "<script in {t:?}");
        for c in t.chars() {
            assert!(c == '\n' || !(c.is_control()), "control {:?} in {t:?}", c);
            assert!(
                !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{61C}' | '\u{FEFF}'),
                "bidi/bom {:?} in {t:?}",
                c
            );
        }
        for line in t.lines() {
            assert!(!line.ends_with(' '), "trailing space in {line:?}");
        }
        assert!(!t.contains("\n\n\n"), "two blank lines in {t:?}");
        assert!(!t.starts_with('\n') && !t.ends_with('\n'));
    }

    #[test]
    fn structure_example_exact() {
        let html = "<html><head><title>件名</title></head><body>\
            <h1>お知らせ</h1><p>市役所からの<b>重要</b>な\n   お知らせです。</p>\
            <ul><li>項目A</li><li>項目B<ol start=\"3\"><li>三</li><li>四</li></ol></li></ul>\
            <h3>施設一覧</h3>\
            <table><tr><th>施設名</th><th>電話</th><th>備考</th></tr>\
            <tr><td>図書館</td><td>03-1234-5678</td><td></td></tr>\
            <tr><td></td><td>045-000-0000</td><td>休館中</td></tr></table>\
            <p>以上<br>よろしくお願いします。</p><hr><p>市民課</p></body></html>";
        let expected = "■ お知らせ\n\n市役所からの重要な お知らせです。\n\n・ 項目A\n・ 項目B\n  3. 三\n  4. 四\n\n\
            施設一覧\n\n施設名 | 電話 | 備考\n図書館 | 03-1234-5678 |\n| 045-000-0000 | 休館中\n\n\
            以上\nよろしくお願いします。\n\n----------------\n\n市民課";
        let r = conv(html);
        assert_eq!(r.text, expected);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert!(!r.truncated);
        assert_clean(&r.text);
    }

    #[test]
    fn whitespace_blank_lines_and_pre() {
        assert_eq!(text("  a \n\t b  "), "a b");
        assert_eq!(text("<p>a</p><p></p><p> </p><p>&nbsp;</p><br><br><br><p>b</p>"), "a\n\nb");
        assert_eq!(text("a<br>b<br><br><br><br>c"), "a\nb\n\nc");
        assert_eq!(text("<div>a</div><div><br></div><div>b</div>"), "a\n\nb");
        assert_eq!(text("<pre>\n  x  y\n\tz\n\n\n\nw</pre>after"), "  x  y\n    z\n\nw\n\nafter");
        assert_eq!(text("<p>a</p>\r\n\r\n<p>b</p>"), "a\n\nb");
        assert_eq!(text("x<span> </span>y"), "x y");
        assert_eq!(text("<blockquote>q1<blockquote>q2</blockquote></blockquote>"), "> q1\n>\n> > q2");
    }

    #[test]
    fn lists_nesting_and_numbering() {
        let t = text("<ol><li>a<li value=10>b<li>c</ol><ul><li>x<ul><li>y<ul><li>z</li></ul></li></ul></li></ul>");
        assert_eq!(t, "1. a\n10. b\n11. c\n\n・ x\n  ・ y\n    ・ z");
        assert_eq!(text("<ul><li>a<br>b</li></ul>"), "・ a\n  b");
        assert_eq!(text("<ol start=-1><li>m<li>z</ol>"), "-1. m\n0. z");
        // Empty items vanish (but count, as in browsers); hidden items do not count.
        assert_eq!(text("<ol><li></li><li hidden>h</li><li>v</li></ol>"), "2. v");
        assert_eq!(text("<dl><dt>用語</dt><dd>説明</dd></dl>"), "用語\n  説明");
    }

    #[test]
    fn tables_layout_and_nested() {
        // Nested single-row table flattens into the outer row.
        let t =
            text("<table><tr><td>a</td><td><table><tr><td>x</td><td>y</td></tr></table></td><td>c</td></tr></table>");
        assert_eq!(t, "a | x | y | c");
        // Layout table: block content breaks the row instead of one long line.
        let t = text("<table><tr><td><p>左1</p><p>左2</p></td><td><p>右</p></td></tr></table>");
        assert_eq!(t, "左1\n\n左2\n\n右");
        // Divs inside cells do not break a row.
        assert_eq!(text("<table><tr><td><div>a</div></td><td><div>b</div></td></tr></table>"), "a | b");
        // Rows with nothing visible vanish; rows without </tr> and cells without </td>.
        assert_eq!(text("<table><tr><td>&nbsp;<td> </table>x"), "x");
        assert_eq!(text("<table><tr><td>1<td>2<tr><td>3<td>4</table>"), "1 | 2\n3 | 4");
        // Table cells outside a table are ignored as tags.
        assert_eq!(text("<td>a</td><td>b</td>"), "ab");
        // Spacer cells of layout tables do not produce separators...
        assert_eq!(
            text(
                "<table><tr><td width=20></td><td>Email Returned</td><td>&nbsp;</td></tr>\
            <tr><td></td><td>本文</td></tr></table>"
            ),
            "Email Returned\n本文"
        );
        // ...but a data row shows its leading empty cells, even the first one.
        assert_eq!(
            text(
                "<table><tr><th></th><th>月</th><th>火</th></tr><tr><td>朝</td><td>a</td><td></td></tr>\
            <tr><td></td><td></td><td>b</td></tr></table>"
            ),
            "| 月 | 火\n朝 | a |\n| | b"
        );
        assert_eq!(
            text("<table><tr><td>x</td><td><table><tr><td></td><td>p</td><td>q</td></tr></table></td></tr></table>"),
            "x | | p | q"
        );
        // A stray </div> inside a cell does not close the table.
        assert_eq!(text("<div><table><tr><td>a</div>b</td><td>c</td></tr></table></div>"), "ab | c");
    }

    #[test]
    fn headings() {
        assert_eq!(text("<h2>見出し</h2>本文<h4>小見出し</h4>x"), "■ 見出し\n\n本文\n\n小見出し\n\nx");
        assert_eq!(text("<h1></h1><p>t</p>"), "t");
        assert_eq!(text("<h1>a<h2>b</h2>"), "■ a\n\n■ b");
    }

    #[test]
    fn links_basic() {
        assert_eq!(
            text("<a href=\"https://x.example.jp/a?b=1&amp;c=2\">案内</a>"),
            "案内 <https://x.example.jp/a?b=1&c=2>"
        );
        assert_eq!(text("<a href=\"https://x.example.jp/\">https://X.example.jp</a>"), "https://X.example.jp");
        assert_eq!(text("<a href=\"mailto:a@b.example.jp\">a@b.example.jp</a>"), "a@b.example.jp");
        assert_eq!(text("<a href=\"#top\">先頭へ</a>"), "先頭へ");
        assert_eq!(text("<a name=x>anchor</a>"), "anchor");
        assert_eq!(text("<a href=\"/relative/page.html\">相対</a>"), "相対 </relative/page.html>");
        assert_eq!(
            text("<a href=\"https://a.example/\"><img alt=\"バナー\"></a>"),
            "[画像: バナー] <https://a.example/>"
        );
        assert_eq!(text("<a href=\"https://a.example/x y<z>\">t</a>"), "t <https://a.example/x%20y%3Cz%3E>");
        // A block inside a link that sits in a paragraph: text, then URL.
        assert_eq!(
            text("<p><a href=\"https://x.example/\"><div>block link</div></a>next</p>"),
            "block link <https://x.example/>\nnext"
        );
        assert_eq!(
            text("<a href=\"https://x.example/\"><table><tr><td>ボタン</td></tr></table></a>"),
            "ボタン <https://x.example/>"
        );
        // An empty link closed by its cell does not swallow the next cell.
        assert_eq!(
            text("<table><tr><td><a href=\"https://x.example/\"></td><td>b</td></tr></table>"),
            "<https://x.example/> | b"
        );
        assert_eq!(text("<a href=\"https://x.example/\"></a>x"), "<https://x.example/>x");
        // Unclosed link ends at the next link.
        assert_eq!(
            text("<a href=\"https://a.example/1\">one <a href=\"https://a.example/2\">two</a>"),
            "one <https://a.example/1> two <https://a.example/2>"
        );
        let long = format!("<a href=\"https://a.example/{}\">t</a>", "x".repeat(5000));
        let t = text(&long);
        assert!(t.ends_with("…>") && t.chars().count() < 2100, "{}", t.len());
    }

    #[test]
    fn links_base_href() {
        let r = conv(
            "<head><base href=\"https://www.city.example.lg.jp/kurashi/gomi/index.html\"></head>\
            <a href=\"calendar.pdf\">カレンダー</a> <a href=\"../../about/\">概要</a> \
            <a href=\"/top.html?q=1\">トップ</a> <a href=\"//cdn.example.jp/x\">cdn</a> <a href=\"?p=2\">次</a>",
        );
        assert_eq!(
            r.text,
            "カレンダー <https://www.city.example.lg.jp/kurashi/gomi/calendar.pdf> \
             概要 <https://www.city.example.lg.jp/about/> トップ <https://www.city.example.lg.jp/top.html?q=1> \
             cdn <https://cdn.example.jp/x> 次 <https://www.city.example.lg.jp/kurashi/gomi/index.html?p=2>"
        );
        let f = finding(&r, codes::HTML_BASE_HREF);
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(f.part, "1.2");
        // A relative or dangerous base is not used.
        let r = conv("<base href=\"/x/\"><a href=\"y\">t</a>");
        assert_eq!(r.text, "t <y>");
        let r = conv("<base href=\"javascript:alert(1)//\"><a href=\"y\">t</a>");
        assert_eq!(r.text, "t <y>");
        assert!(has(&r, codes::HTML_JAVASCRIPT_URL));
    }

    #[test]
    fn links_dangerous_schemes_with_tricks() {
        for href in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "  javascript:alert(1)",
            "jav&#x09;ascript:alert(1)",
            "jav&#9;ascript:alert(1)",
            "java\nscript:alert(1)",
            "&#106;avascript:alert(1)",
            "&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)",
            "javascript&colon;alert(1)",
            "\u{1}javascript:alert(1)",
            "java&NewLine;script:x",
        ] {
            let r = conv(&format!("<a href=\"{href}\">押す</a>"));
            assert_eq!(r.text, "押す [removed javascript: link]", "{href}");
            let f = finding(&r, codes::HTML_JAVASCRIPT_URL);
            assert_eq!(f.severity, Severity::Warning);
        }
        let r = conv("<a href=\"vbscript:x\">v</a>");
        assert_eq!(r.text, "v [removed vbscript: link]");
        let r = conv("<a href='DaTa:text/html;base64,PHNjcmlwdD4='>d</a>");
        assert_eq!(r.text, "d [removed data: link]");
        assert_eq!(finding(&r, codes::HTML_DATA_URL).severity, Severity::Warning);
        assert!(!has(&r, codes::HTML_JAVASCRIPT_URL));
        let r = conv("<a href='file:///C:/x.exe'>f</a>");
        assert_eq!(r.text, "f [removed file: link]");
        // Schemes outside the shown set are removed too.
        let r = conv(
            "<a href='ms-msdt:/id PCWDiagnostic'>m</a> <a href='C:\\Windows\\calc.exe'>c</a> <a href='tel:110'>t</a>",
        );
        assert_eq!(r.text, "m [removed ms-msdt: link] c [removed c: link] t <tel:110>");
        assert!(finding(&r, codes::HTML_UNSAFE_URL).detail.contains("ms-msdt:"));
        // Even hidden ones are reported.
        let r = conv("<div hidden><a href='javascript:x'>h</a></div>");
        assert_eq!(r.text, "");
        assert!(has(&r, codes::HTML_JAVASCRIPT_URL));
    }

    #[test]
    fn links_mismatch() {
        let r = conv("<a href=\"https://evil.example/login\">https://bank.example.jp</a>");
        assert_eq!(r.text, format!("https://bank.example.jp <https://evil.example/login>{MISMATCH_MARKER}"));
        let f = finding(&r, codes::LINK_MISMATCH);
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.detail.contains("bank.example.jp") && f.detail.contains("evil.example"), "{}", f.detail);
        for (href, shown, mismatch) in [
            ("https://evil.example/", "www.bank.co.jp", true),
            ("https://evil.example/", "bank.example.com/login", true),
            ("https://bank.example.com.evil.example/", "bank.example.com", true),
            ("mailto:x@evil.example", "info@bank.example.jp", true),
            ("https://login.bank.co.jp/", "www.bank.co.jp", false),
            ("https://bank.co.jp/", "https://bank.co.jp/top", false),
            ("https://bank.co.jp/", "BANK.CO.JP", false),
            ("https://files.example.jp/r.pdf", "report.pdf", false),
            ("https://evil.example/", "こちら", false),
            ("https://evil.example/", "3.14", false),
            ("https://%65vil.example/", "evil.example", false),
            ("https:\\\\evil.example\\x", "bank.example.jp", true),
            ("https://bank.example.jp@evil.example/", "bank.example.jp", true),
        ] {
            let r = conv(&format!("<a href=\"{href}\">{shown}</a>"));
            assert_eq!(has(&r, codes::LINK_MISMATCH), mismatch, "{href} {shown}: {}", r.text);
            assert_eq!(r.text.contains(MISMATCH_MARKER), mismatch, "{href} {shown}");
        }
        // One finding for many links, with a count.
        let many = "<a href='https://e.example/'>www.b.example.jp</a>".repeat(50);
        let r = conv(&many);
        let n = r.findings.iter().filter(|f| f.code == codes::LINK_MISMATCH).count();
        assert_eq!(n, 1);
        assert!(finding(&r, codes::LINK_MISMATCH).detail.starts_with("50 "));
    }

    #[test]
    fn hidden_text_variants() {
        for (html, hidden) in [
            ("<div style=\"display:none\">S</div>", true),
            ("<div style=\"DISPLAY : NONE !important\">S</div>", true),
            ("<div style=\"dis/**/play:none\">S</div>", false),
            ("<div style=\"d\\69splay:none\">S</div>", true),
            ("<div style=\"display&#58;none\">S</div>", true),
            ("<span style=\"visibility:hidden\">S</span>", true),
            ("<span style=\"opacity:0\">S</span>", true),
            ("<span style=\"opacity:0.0\">S</span>", true),
            ("<span style=\"opacity:0.5\">S</span>", false),
            ("<span style=\"font-size:0\">S</span>", true),
            ("<span style=\"font-size:0px\">S</span>", true),
            ("<span style=\"font-size:0.0em\">S</span>", true),
            ("<span style=\"font-size:0%\">S</span>", true),
            ("<span style=\"font-size:10px\">S</span>", false),
            ("<span style=\"font:0/0 a\">S</span>", true),
            ("<div style=\"max-height:0;overflow:hidden\">S</div>", true),
            ("<div style=\"height:0px; overflow: hidden\">S</div>", true),
            ("<div style=\"height:0\">S</div>", false),
            ("<div style=\"width:0;height:0\">S</div>", true),
            ("<div style=\"mso-hide:all\">S</div>", true),
            ("<div style=\"position:absolute;left:-9999px\">S</div>", true),
            ("<p hidden>S</p>", true),
            ("<p HIDDEN=\"hidden\">S</p>", true),
            ("<span style=\"color:#fff;background-color:#ffffff\">S</span>", true),
            ("<span style=\"color:white;background:#FFF url(x.png)\">S</span>", true),
            ("<span style=\"color:rgb(255,255,255);background-color:white\">S</span>", true),
            ("<span style=\"color:rgb(255 255 255 / 1);background-color:#fefefe\">S</span>", true),
            ("<span style=\"color:#000;background-color:#fff\">S</span>", false),
            ("<span style=\"color:transparent\">S</span>", true),
            ("<span style=\"color:rgba(0,0,0,0)\">S</span>", true),
            ("<table bgcolor=\"#FFFFFF\"><tr><td><font color=\"white\">S</font></td></tr></table>", true),
            ("<table bgcolor=\"white\"><tr><td><font color=\"#000000\">S</font></td></tr></table>", false),
            ("<body bgcolor=black><font color=\"#000\">S</font></body>", true),
            ("<td bgcolor=white><font color=white>S</font>", false), // td outside a table is ignored
            ("<div style=\"display:none\"><p>x<b>S</b></p></div>", true),
            ("<div style=\"display:none\"><table><tr><td>S</td></tr></table></div>", true),
        ] {
            let r = conv(&format!("<p>before</p>{html}<p>after</p>"));
            assert_eq!(!r.text.contains('S'), hidden, "{html}: {:?}", r.text);
            assert!(r.text.starts_with("before") && r.text.ends_with("after"), "{html}: {:?}", r.text);
            assert_eq!(has(&r, codes::HTML_HIDDEN_TEXT), hidden, "{html}");
        }
        let r = conv("<div hidden>a</div><div hidden>b</div><span style='display:none'>c<span hidden>d</span></span>");
        let f = finding(&r, codes::HTML_HIDDEN_TEXT);
        assert_eq!(f.severity, Severity::Warning);
        assert!(f.detail.starts_with("3 "), "{}", f.detail);
        // Hidden state ends with the element.
        assert_eq!(text("<div hidden><p>a</p></div><p>b</p>"), "b");
        assert_eq!(text("<p style='display:none'>a<p>b"), "b");
    }

    #[test]
    fn japanese_passes_through() {
        let s = "日本語のテキスト。全角　スペース、半角ｶﾅ、①②、〜、※注意、髙﨑、𠮷野家";
        assert_eq!(text(&format!("<p>{s}</p>")), s);
        let r = conv("<p>ご案内&#12354;&#x3042;&hellip;</p>");
        assert_eq!(r.text, "ご案内ああ…");
    }

    #[test]
    fn dropped_content_never_appears() {
        let html = "<head><title>TITLE</title><meta http-equiv=\"Refresh\" content=\"0;url=x\">\
            <style>STYLE{}</style><script>SCRIPT1</script></head><body>\
            <!-- COMMENT --><!--[if mso]>MSO<![endif]--><!--[if !mso]><!-->visible<!--<![endif]-->\
            <script type=text/javascript>if (a < b && c > d) { SCRIPT2 } // </scripty </script>\
            <script><!--<script>SCRIPT3</script>SCRIPT4--></script>\
            <template>TEMPLATE</template><iframe src=x>IFRAME</iframe><object>OBJECT<param></object>\
            <embed src=x><applet>APPLET</applet><svg><text>SVG</text><style>x</style></svg><math><mi>MATH</mi></math>\
            <form action=x>form text<input value=INPUT><button>BUTTON</button><select><option>OPTION</select>\
            <textarea>TEXTAREA</p></textarea></form><noembed>NOEMBED</noembed>\
            <div onclick=\"x()\" onmouseover='y()'>end</div></body>";
        let r = conv(html);
        assert_eq!(r.text, "visible\nform text\nend");
        for code in [
            codes::HTML_SCRIPT,
            codes::HTML_STYLE,
            codes::HTML_COMMENT,
            codes::HTML_IFRAME,
            codes::HTML_OBJECT,
            codes::HTML_FORM,
            codes::HTML_META_REFRESH,
            codes::HTML_EVENT_HANDLER,
        ] {
            assert!(has(&r, code), "{code}: {:?}", r.findings);
        }
        assert!(finding(&r, codes::HTML_SCRIPT).detail.starts_with("3 "));
        assert!(finding(&r, codes::HTML_EVENT_HANDLER).detail.starts_with("2 "));
        assert_eq!(finding(&r, codes::HTML_STYLE).severity, Severity::Info);
        assert_eq!(finding(&r, codes::HTML_COMMENT).severity, Severity::Info);
        // HTML elements break out of svg, as in browsers.
        assert_eq!(text("<svg><circle/><p>out</p>"), "out");
        // Unclosed script swallows the rest.
        assert_eq!(text("a<script>b<p>c"), "a");
        assert_eq!(text("a<style>b</style >c"), "ac");
    }

    #[test]
    fn entities() {
        assert_eq!(text("&lt;&gt;&amp;&quot;&apos;&nbsp;x&copy;&euro;&hellip;&mdash;&colon;"), "<>&\"' x©€…—:");
        assert_eq!(
            text("&#65;&#x41;&#X41;&#0;&#xD800;&#1114112;&#99999999999;&#128;&#x80;"),
            "AAA\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}€€"
        );
        assert_eq!(
            text("&amp &lt3 &copy2020 &notin; &notit; &unknown; &; & x &#; &#x;"),
            "& <3 ©2020 ∉ ¬it; &unknown; &; & x &#; &#x;"
        );
        assert_eq!(text("&Alpha;&omega;&lang;&rang;&spades;&thetasym;&there4;"), "Αω⟨⟩♠ϑ∴");
        assert_eq!(text("&AMP;&LT;&COPY;&Tab;x"), "&<© x");
        // In attributes, a legacy name followed by '=' or alnum stays.
        assert_eq!(
            text("<a href=\"https://a.example/?x=1&copy=2&amp;y\">t</a>"),
            "t <https://a.example/?x=1&copy=2&y>"
        );
        assert_eq!(ENTITIES.len(), 413);
        assert!(ENTITIES.windows(2).all(|w| w[0].0.as_bytes() < w[1].0.as_bytes()), "entity table not sorted");
    }

    #[test]
    fn output_hygiene() {
        let r =
            conv("a\u{0}b\u{1}c\u{7}d\u{7F}e\u{85}f\u{FEFF}g\tx\u{200B}y <b>\u{202E}evil\u{202C}</b> &#x2066;i&#8207;");
        assert_eq!(r.text, "abcdefg xy <U+202E>evil<U+202C> <U+2066>i<U+200F>");
        assert_clean(&r.text);
        let r = conv("&lt;script&gt;alert(1)&lt;/script&gt; &lt;SCRIPT src=x&gt; <pre>&lt;sCrIpT></pre>");
        assert_eq!(r.text, "< script>alert(1)</script> < SCRIPT src=x>\n\n< sCrIpT>");
        assert_clean(&r.text);
        let r = conv("<a href=\"script:x\">t</a>");
        assert_clean(&r.text);
        let r = conv("<img alt=\"\u{202E}gnp.exe\">");
        assert_eq!(r.text, "[画像: <U+202E>gnp.exe]");
    }

    #[test]
    fn malformed_inputs() {
        assert_eq!(text("a < b and c<d e>f"), "a < b and cf");
        assert_eq!(text("1 <3 and <= 2 < 5"), "1 <3 and <= 2 < 5");
        assert_eq!(text("x</p>y"), "x\n\ny");
        assert_eq!(text("x</>y</ >z</3>w"), "xyzw");
        assert_eq!(text("a<b"), "a");
        assert_eq!(text("a<div class=\"x>b"), "a");
        assert_eq!(text("a<div class='x'"), "a");
        assert_eq!(text("a<!-- unclosed"), "a");
        assert_eq!(text("a<!-->b<!--->c<!---->d<!-- x --!>e"), "abcde");
        assert_eq!(text("a<!doctype html>b<?xml x?>c<![CDATA[d]]>e"), "abce");
        assert_eq!(text("<p class=a id=b data-x=c>x</p>"), "x");
        assert_eq!(text("<DIV>A</Div><P>B</p>"), "A\n\nB");
        assert_eq!(text("<b><i>x</b></i>y"), "xy");
        assert_eq!(text("<p>a<div>b</p>c</div>"), "a\n\nb\n\nc");
        assert_eq!(text("</br>x"), "x");
        assert_eq!(text("a</br>b"), "a\nb");
        assert_eq!(text("<"), "<");
        assert_eq!(text("</"), "</");
        assert_eq!(text("&"), "&");
        assert_eq!(text("<a href"), "");
        assert_eq!(text("<table><tr><td>a"), "a");
        assert_eq!(text("<ul><li>a"), "・ a");
        assert_eq!(text("<p/>x<br/>y<img/>"), "x\ny[画像]");
    }

    #[test]
    fn images() {
        let r = conv(
            "<img src=\"https://t.example/o.gif\" width=\"1\" height=\"1\">\
            <img src=\"http://t.example/p.gif\" style=\"width:0;height:0\">\
            <img src=\"https://img.example/a.png\" alt=\"写真\"><img src=\"cid:logo\">\
            <img src=\"https://img.example/b.png\" alt=\"x\" style=\"display:none\">",
        );
        assert_eq!(r.text, "[画像: 写真][画像]");
        assert!(finding(&r, codes::HTML_TRACKING_PIXEL).detail.starts_with("2 "));
        assert!(finding(&r, codes::HTML_REMOTE_IMAGE).detail.starts_with("4 "));
        assert_eq!(finding(&r, codes::HTML_REMOTE_IMAGE).severity, Severity::Info);
    }

    #[test]
    fn max_output_is_hard() {
        let html = "<p>あいうえお</p>".repeat(1000);
        for max in [0, 1, 2, 3, 4, 10, 100, 1001] {
            let r = html_to_text(&html, "1", max);
            assert!(r.text.len() <= max, "{max}: {}", r.text.len());
            assert!(r.truncated);
        }
        let r = html_to_text("<p>abc</p>", "1", 3);
        assert_eq!((r.text.as_str(), r.truncated), ("abc", false));
    }

    #[test]
    fn deep_nesting_completes() {
        for tag in ["div", "b", "ul", "table", "blockquote", "x-custom", "li", "td", "a href=x"] {
            let n = 10_000;
            let name = tag.split(' ').next().unwrap_or(tag);
            let html = format!("{}deep{}tail", format!("<{tag}>").repeat(n), format!("</{name}>").repeat(n));
            let r = conv(&html);
            assert!(r.text.contains("deep"), "{tag}");
            assert!(r.text.contains("tail"), "{tag}");
            assert!(r.text.len() < 4 * html.len(), "{tag}");
            assert_clean(&r.text);
        }
        // Hidden state past the depth bound: hidden inside, visible after.
        let html = format!(
            "{}<div style=display:none>{}secret{}</div>visible{}<p>end</p>",
            "<div>".repeat(600),
            "<span>".repeat(100),
            "</span>".repeat(100),
            "</div>".repeat(600)
        );
        let t = text(&html);
        assert!(!t.contains("secret"));
        assert_eq!(t, "visible\n\nend");
        // Hidden ancestor below the bound stays hidden past it.
        let html = format!("<div hidden>{}secret{}</div>shown", "<div>".repeat(1000), "</div>".repeat(1000));
        assert_eq!(text(&html), "shown");
    }

    #[test]
    fn huge_unclosed_constructs_complete() {
        let mb = 1 << 20;
        let r = conv(&format!("before<!--{}", "-".repeat(mb)));
        assert_eq!(r.text, "before");
        let r = conv(&format!("before<!--{}", "<!-- -- -> --!".repeat(mb / 14)));
        assert_eq!(r.text, "before");
        let r = conv(&format!("a<script>{}", "</scrip <!--<script> --> ".repeat(mb / 24)));
        assert_eq!(r.text, "a");
        let r = conv(&format!("a<div title=\"{}", "x".repeat(mb)));
        assert_eq!(r.text, "a");
        let r = conv(&"<a ".repeat(mb / 3));
        assert_eq!(r.text, "");
        let r = conv(&"</p".repeat(mb / 3));
        assert_eq!(r.text, "");
        let r = conv(&"&amp".repeat(mb / 4));
        assert_eq!(r.text.len(), mb / 4);
        let r = conv(&format!("{}{}", "<li>".repeat(600), "</x>".repeat(mb / 4)));
        assert_eq!(r.text, "");
        let r = conv(&format!("<table>{}", "<td><table>".repeat(mb / 11)));
        assert_eq!(r.text, "");
        let r = conv(&"<p style='display:none'>x".repeat(mb / 26));
        assert_eq!(r.text, "");
    }

    /// xorshift64*: deterministic pseudo-random numbers for the property test.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn property_random_inputs() {
        const PIECES: &[&str] = &[
            "<",
            ">",
            "</",
            "/>",
            "<!--",
            "-->",
            "<!",
            "<?",
            "&",
            ";",
            "#",
            "x",
            "=",
            "\"",
            "'",
            " ",
            "\n",
            "\t",
            "\r",
            "\0",
            "<script>",
            "</script>",
            "<script",
            "script",
            "<p>",
            "</p>",
            "<div>",
            "</div>",
            "<a href='",
            "javascript:",
            "https://bank.example.jp",
            "</a>",
            "<table>",
            "<tr>",
            "<td>",
            "</td>",
            "<li>",
            "<ul>",
            "<ol start=9>",
            "<pre>",
            "</pre>",
            "<br>",
            "<hr>",
            "<img alt=",
            "<style>",
            "</style>",
            "<svg>",
            "</svg>",
            "<title>",
            "<textarea>",
            "<xmp>",
            "<plaintext>",
            "style='display:none'",
            "hidden",
            "&#x202E;",
            "\u{202E}",
            "\u{2066}",
            "\u{FEFF}",
            "\u{85}",
            "&#0;",
            "&#x1;",
            "&lt;script",
            "&lt;",
            "SCRIPT",
            "日本語",
            "ｶﾅ",
            "𠮷",
            "<base href=https://b.example/>",
            "<font color=white>",
            "<td bgcolor=white>",
            "<blockquote>",
            "<h1>",
            "<math>",
            "<![CDATA[",
            "]]>",
            "<noscript>",
            "&nbsp;",
            "&#150;",
            "\u{7F}",
            "<o:p>",
        ];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for round in 0..600 {
            let mut s = String::new();
            let n = rng.below(200);
            for _ in 0..n {
                if rng.below(5) == 0 {
                    // Raw random bytes, repaired to UTF-8 like the caller's decoder would.
                    let bytes: Vec<u8> = (0..rng.below(8)).map(|_| rng.next() as u8).collect();
                    s.push_str(&String::from_utf8_lossy(&bytes));
                } else {
                    s.push_str(PIECES[rng.below(PIECES.len())]);
                }
            }
            let max = if round % 7 == 0 { rng.below(64) } else { 1 << 20 };
            let r = html_to_text(&s, "1", max);
            assert!(r.text.len() <= max, "{s:?}");
            assert_clean(&r.text);
            assert!(r.text.len() <= 12 * s.len() + 64, "output blow-up for {s:?}");
            let mut codes_seen: Vec<&str> = r.findings.iter().map(|f| f.code).collect();
            let total = codes_seen.len();
            codes_seen.dedup();
            codes_seen.sort_unstable();
            codes_seen.dedup();
            assert_eq!(codes_seen.len(), total, "duplicate finding codes for {s:?}");
        }
    }

    #[test]
    fn sniff_charset() {
        assert_eq!(sniff_meta_charset(b"<meta charset=\"Shift_JIS\">"), Some("shift_jis".into()));
        assert_eq!(sniff_meta_charset(b"<META CHARSET = ' EUC-JP ' >"), Some("euc-jp".into()));
        assert_eq!(sniff_meta_charset(b"<meta charset=utf-8/>"), Some("utf-8/".into()));
        assert_eq!(
            sniff_meta_charset(
                b"<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-2022-JP\">"
            ),
            Some("iso-2022-jp".into())
        );
        assert_eq!(
            sniff_meta_charset(b"<meta content='text/html;charset=\"windows-31j\"' http-equiv='content-type'>"),
            Some("windows-31j".into())
        );
        // content= without the pragma does not count.
        assert_eq!(sniff_meta_charset(b"<meta name=x content=\"text/html; charset=euc-jp\">"), None);
        assert_eq!(sniff_meta_charset(b"<!-- <meta charset=euc-jp> --><meta charset=utf-8>"), Some("utf-8".into()));
        assert_eq!(sniff_meta_charset(b"<div title='<meta charset=euc-jp>'><meta charset=sjis>"), Some("sjis".into()));
        assert_eq!(sniff_meta_charset(b"<metadata charset=x>"), None);
        assert_eq!(sniff_meta_charset(b"<meta charset=>"), None);
        assert_eq!(sniff_meta_charset(b""), None);
        assert_eq!(sniff_meta_charset(b"<meta charset=\"\xff\xfe\">"), None);
        let mut far = vec![b' '; 8200];
        far.extend_from_slice(b"<meta charset=euc-jp>");
        assert_eq!(sniff_meta_charset(&far), None);
        // Random bytes never panic.
        let mut rng = Rng(42);
        for _ in 0..500 {
            let v: Vec<u8> = (0..rng.below(300))
                .map(|_| if rng.below(3) == 0 { b"<meta charset=\"'/>-!"[rng.below(20)] } else { rng.next() as u8 })
                .collect();
            let _ = sniff_meta_charset(&v);
        }
    }

    #[test]
    fn url_helpers() {
        assert_eq!(resolve("http://a/b/c/d;p?q", "g"), "http://a/b/c/g");
        assert_eq!(resolve("http://a/b/c/d;p?q", "./g/"), "http://a/b/c/g/");
        assert_eq!(resolve("http://a/b/c/d;p?q", "../../../g"), "http://a/g");
        assert_eq!(resolve("http://a/b/c/d;p?q", "#s"), "http://a/b/c/d;p?q#s");
        assert_eq!(resolve("http://a/b/c/d;p?q", ""), "http://a/b/c/d;p?q");
        assert_eq!(resolve("http://a", "g"), "http://a/g");
        assert_eq!(url_host("HTTPS://User:pw@Bank.Example.JP.:8443/x"), Some("bank.example.jp".into()));
        assert_eq!(url_host("mailto:a@B.example?subject=x"), Some("b.example".into()));
        assert_eq!(url_host("tel:123"), None);
        assert_eq!(text_host("www.bank.co.jp"), Some("www.bank.co.jp".into()));
        assert_eq!(text_host("「https://bank.co.jp/」"), Some("bank.co.jp".into()));
        assert_eq!(text_host("click here"), None);
        assert_eq!(text_host("v1.2"), None);
        assert!(same_site("www.bank.co.jp", "bank.co.jp"));
        assert!(!same_site("bank.co.jp", "evilbank.co.jp"));
    }
}
