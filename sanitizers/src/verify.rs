//! The project's own verifier of sanitised output.
//!
//! [`verify_output`] takes the bytes of a message that mugaika produced and
//! checks every invariant a safe output must have; an empty list means the
//! message passed. [`output_text`] returns the text a reader sees (every
//! text/plain leaf, decoded), for the idempotence tests. The golden tests, the
//! real-corpus test, proptest and fuzzing all use it, so it is strict, linear
//! in the size of the output and never panics.
//!
//! # Contract
//!
//! It implements in Rust the checks of the independent Python checker
//! `shared/tools/verify_output.py` (same kinds: `format`, `safety`,
//! `fidelity`), with these differences:
//!
//! * PNG: instead of decoding with Pillow, the chunk structure is checked here
//!   (signature, IHDR first with sane dimensions, a CRC-32 for every chunk,
//!   only IHDR PLTE IDAT IEND tRNS gAMA sRGB cHRM pHYs, consecutive IDATs,
//!   nothing after IEND). The zlib stream inside IDAT is not inflated.
//! * Stricter where the output is entirely ours: header charsets and text
//!   charsets must be UTF-8 or US-ASCII; encoded-words must be well formed
//!   (strict base64 padding, upper-case hex in Q, at most 75 characters); QP
//!   bodies may not end a line in white space; a filename's extension is
//!   compared without stripping trailing dots or spaces; message/rfc822 is not
//!   an allowed container; form feed is not an allowed control character;
//!   in decoded text CR and LF may only appear as CR LF pairs (RFC 2046
//!   canonical form); MIME-Version (1.0), From, Date and Message-ID are
//!   required; every header field's encoded-words are checked, not only
//!   those of From/To/Cc/Subject (msg-id fields excepted: opaque tokens that
//!   no reader decodes).
//! * The Python notes about its own parser's bugs do not apply.
//! * A duplicated singleton header is reported as `safety` (as in the Python
//!   checker: it is a parser differential), not `format`.
//!
//! # Design
//!
//! 1. Raw passes over all bytes: NUL, bare CR, bare LF, lines over 998
//!    octets, `Content-Type: text/html` anywhere.
//! 2. An independent, strict MIME scan (`scan_structure`): each entity's
//!    header section is split into fields, its Content-Type parsed, and a
//!    multipart body cut at its delimiter lines. The scan is iterative (an
//!    explicit work stack, no recursion), stops at `max_parts` entities and
//!    does not descend deeper than `max_depth` (nor than an internal hard
//!    limit of 64 levels). Each multipart level re-reads its own body once to
//!    find `--boundary` anywhere (mail-parser splits a part at a boundary even
//!    in the middle of a line), so the cost is at most (depth + 1) passes.
//! 3. Per-entity checks on that tree: header bytes, encoded-words, singleton
//!    headers, transfer encodings (strict base64 and quoted-printable
//!    decoders), text charset and control characters, filenames (RFC 2231 and
//!    RFC 2047 decoded), PNG structure.
//! 4. A differential against mail-parser 0.11.9: the number of leaves must
//!    match, and when the entity lists line up, each entity's type and each
//!    leaf's decoded body must match too; mail-parser must be able to read
//!    From, Date and Message-ID.
//!
//! At most 50 violations are collected (duplicates are dropped); many checks
//! report only their first occurrence, with a count.
//!
//! # Limits
//!
//! * No preservation checks against the original input (the Python checker
//!   does those with `--input`).
//! * Decoded header text (Subject, display names) is checked for control
//!   characters, not for bidi controls.
//! * message/rfc822 parts are flagged and not descended into.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// Kind of a violation: the output is malformed (a reader may see something
/// else than we meant).
pub const FORMAT: &str = "format";
/// Kind of a violation: something unsafe or ambiguous crosses the boundary.
pub const SAFETY: &str = "safety";
/// Kind of a violation: the reader loses content (no text part).
pub const FIDELITY: &str = "fidelity";

/// One failed invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// `"format"`, `"safety"` or `"fidelity"` ([`FORMAT`], [`SAFETY`], [`FIDELITY`]).
    pub kind: &'static str,
    /// Human-readable detail: where and what.
    pub detail: String,
}

/// What the verifier accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyConfig {
    /// Leaf types allowed in the output (lower-case `type/subtype`).
    pub allowed_leaf_types: Vec<&'static str>,
    /// Deepest allowed MIME nesting (the top-level entity is depth 0).
    pub max_depth: usize,
    /// Most MIME entities (containers and leaves) allowed.
    pub max_parts: usize,
    /// Largest allowed PNG width and height.
    pub max_image_side: u32,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            allowed_leaf_types: vec!["text/plain", "image/png"],
            max_depth: 8,
            max_parts: 1000,
            max_image_side: 10_000,
        }
    }
}

/// At most this many violations are collected.
const MAX_VIOLATIONS: usize = 50;
/// The scan never descends deeper than this, whatever the configuration.
const HARD_MAX_DEPTH: usize = 64;
/// RFC 5322 line limit, excluding CRLF.
const MAX_LINE: usize = 998;
/// RFC 2045 line limit for base64 and quoted-printable, excluding CRLF.
const MAX_ENCODED_LINE: usize = 76;
/// Headers that may appear at most once per entity.
const SINGLETONS: [&str; 15] = [
    "From",
    "Sender",
    "To",
    "Cc",
    "Bcc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Content-Type",
    "Content-Transfer-Encoding",
    "MIME-Version",
    "Content-Disposition",
];
const ALLOWED_CONTAINERS: [&str; 3] = ["multipart/mixed", "multipart/alternative", "multipart/related"];

/// Checks a sanitised message. Empty Vec = pass.
#[must_use]
pub fn verify_output(output: &[u8], config: &VerifyConfig) -> Vec<Violation> {
    let mut sink = Sink::default();
    if output.is_empty() {
        sink.add(FORMAT, "output is empty".to_string());
        return sink.list;
    }
    check_raw_lines(output, &mut sink);
    let html_in_raw = check_raw_html(output, &mut sink);
    let mut scan = scan_structure(output, config, &mut sink);
    for e in &scan.entities {
        check_entity_headers(e, html_in_raw, &mut sink);
    }
    if let Some(top) = scan.entities.first() {
        check_top_headers(top, &mut sink);
    }
    let mut text_leaves = 0;
    for e in &mut scan.entities {
        if e.container {
            check_container(e, &mut sink);
        } else if check_leaf(output, e, config, &mut sink) {
            text_leaves += 1;
        }
    }
    if text_leaves == 0 {
        sink.add(FIDELITY, "no text/plain part in the output".to_string());
    }
    check_differential(output, &scan, &mut sink);
    sink.list
}

/// The text a reader sees: the concatenation of every text/plain leaf,
/// decoded (QP/base64, declared charset, which must be UTF-8 or US-ASCII),
/// line endings normalised to `\n`. `None` when the output is empty or a
/// text/plain leaf cannot be decoded strictly.
#[must_use]
pub fn output_text(output: &[u8]) -> Option<String> {
    if output.is_empty() {
        return None;
    }
    let mut sink = Sink::default();
    let scan = scan_structure(output, &VerifyConfig::default(), &mut sink);
    let mut text = String::new();
    for e in scan.entities.iter().filter(|e| !e.container && e.mime == "text/plain") {
        let raw = slice(output, e.body.0, e.body.1);
        let decoded = decode_body(raw, &e.cte).ok()?;
        let s = decode_text(&decoded, e.charset().as_deref()).ok()?;
        text.push_str(&s);
    }
    Some(text.replace("\r\n", "\n").replace('\r', "\n"))
}

// ---------------------------------------------------------------------------
// small helpers

/// Collects violations: at most [`MAX_VIOLATIONS`], no duplicates.
#[derive(Default)]
struct Sink {
    list: Vec<Violation>,
}

impl Sink {
    fn add(&mut self, kind: &'static str, detail: String) {
        if self.list.len() < MAX_VIOLATIONS && !self.list.iter().any(|v| v.kind == kind && v.detail == detail) {
            self.list.push(Violation { kind, detail });
        }
    }
}

/// `buf[a..b]`, or empty when out of range.
fn slice(buf: &[u8], a: usize, b: usize) -> &[u8] {
    buf.get(a..b).unwrap_or(&[])
}

/// A short, escaped rendering of raw bytes for a detail message.
fn show(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b.iter().take(60) {
        s.extend(std::ascii::escape_default(c).map(char::from));
    }
    if b.len() > 60 {
        s.push_str("...");
    }
    s
}

/// A short rendering of text for a detail message.
fn show_str(s: &str) -> String {
    let short: String = s.chars().take(60).collect();
    if short.len() < s.len() { format!("{short:?}...") } else { format!("{short:?}") }
}

fn where_(path: &str) -> String {
    format!("part {path}")
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

fn trim_wsp(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if !first.is_ascii_whitespace() {
            break;
        }
        b = rest;
    }
    while let [rest @ .., last] = b {
        if !last.is_ascii_whitespace() {
            break;
        }
        b = rest;
    }
    b
}

/// One line of a buffer: `buf[start..end]` is its content (without the CR LF
/// or LF that ends it), `next` where the following line starts.
#[derive(Clone, Copy, Debug)]
struct Line {
    start: usize,
    end: usize,
    next: usize,
    terminated: bool,
}

/// The lines of `buf[start..end]`, split at LF (a CR before the LF is not
/// part of the content). A final empty piece after the last LF is no line.
struct Lines<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Lines<'a> {
    fn new(buf: &'a [u8], start: usize, end: usize) -> Self {
        Lines { buf, pos: start, end: end.min(buf.len()) }
    }
}

impl Iterator for Lines<'_> {
    type Item = Line;

    fn next(&mut self) -> Option<Line> {
        if self.pos >= self.end {
            return None;
        }
        let start = self.pos;
        let rest = self.buf.get(start..self.end)?;
        match rest.iter().position(|&b| b == b'\n') {
            Some(off) => {
                let nl = start + off;
                let end = if off > 0 && self.buf.get(nl - 1) == Some(&b'\r') { nl - 1 } else { nl };
                self.pos = nl + 1;
                Some(Line { start, end, next: nl + 1, terminated: true })
            }
            None => {
                self.pos = self.end;
                Some(Line { start, end: self.end, next: self.end, terminated: false })
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 1. raw passes

/// First occurrence and count of one kind of raw problem.
#[derive(Default)]
struct Hits {
    count: usize,
    first: usize,
    extra: usize,
}

impl Hits {
    fn hit(&mut self, at: usize, extra: usize) {
        if self.count == 0 {
            self.first = at;
            self.extra = extra;
        }
        self.count += 1;
    }
}

/// NUL, bare CR, bare LF and over-long lines, each reported once with a count.
fn check_raw_lines(out: &[u8], sink: &mut Sink) {
    let (mut nul, mut cr, mut lf, mut long) = (Hits::default(), Hits::default(), Hits::default(), Hits::default());
    let mut line_start = 0usize;
    let mut line_no = 1usize;
    for (i, &b) in out.iter().enumerate() {
        match b {
            0 => nul.hit(i, 0),
            b'\r' if out.get(i + 1) != Some(&b'\n') => cr.hit(i, 0),
            b'\n' => {
                let has_cr = i > 0 && out.get(i - 1) == Some(&b'\r');
                if !has_cr {
                    lf.hit(i, 0);
                }
                let len = i - line_start - usize::from(has_cr);
                if len > MAX_LINE {
                    long.hit(line_no, len);
                }
                line_start = i + 1;
                line_no += 1;
            }
            _ => {}
        }
    }
    if out.len() - line_start > MAX_LINE {
        long.hit(line_no, out.len() - line_start);
    }
    for (h, what) in [(&nul, "NUL byte"), (&cr, "bare CR"), (&lf, "bare LF")] {
        if h.count > 0 {
            sink.add(FORMAT, format!("{what} in output at offset {} ({} in total)", h.first, h.count));
        }
    }
    if long.count > 0 {
        sink.add(
            FORMAT,
            format!("line {} is {} octets (> {MAX_LINE}; {} such lines)", long.first, long.extra, long.count),
        );
    }
}

/// `Content-Type[ \t]*:[ \t]*(\r?\n[ \t]+)?text/html`, case-insensitive,
/// anywhere in the raw bytes (as the Python checker does). Returns whether
/// it was found.
fn check_raw_html(out: &[u8], sink: &mut Sink) -> bool {
    const CT: &[u8] = b"content-type";
    for i in 0..out.len() {
        if out.get(i).map(u8::to_ascii_lowercase) != Some(b'c') || !slice(out, i, i + CT.len()).eq_ignore_ascii_case(CT)
        {
            continue;
        }
        let mut j = i + CT.len();
        let skip_wsp = |j: &mut usize| {
            while matches!(out.get(*j), Some(b' ' | b'\t')) {
                *j += 1;
            }
        };
        skip_wsp(&mut j);
        if out.get(j) != Some(&b':') {
            continue;
        }
        j += 1;
        skip_wsp(&mut j);
        let mut k = j;
        if out.get(k) == Some(&b'\r') {
            k += 1;
        }
        if out.get(k) == Some(&b'\n') && matches!(out.get(k + 1), Some(b' ' | b'\t')) {
            k += 1;
            skip_wsp(&mut k);
            j = k;
        }
        if slice(out, j, j + 9).eq_ignore_ascii_case(b"text/html") {
            sink.add(SAFETY, format!("output contains Content-Type: text/html at offset {i}"));
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------------------
// 2. the independent MIME scan

/// One header field, unfolded, with the white space after the colon removed.
#[derive(Debug)]
struct Field {
    name: String,
    value: Vec<u8>,
}

/// One MIME entity as the independent scan reads it.
#[derive(Debug)]
struct Entity {
    /// `"1"` is the top-level entity, `"1.2"` its second child.
    path: String,
    fields: Vec<Field>,
    /// Body bytes: `out[body.0..body.1]`.
    body: (usize, usize),
    /// Lower-case `type/subtype` (`text/plain` when there is no Content-Type).
    mime: String,
    /// The parsed Content-Type, when present and readable.
    ct: Option<MimeValue>,
    /// Lower-case Content-Transfer-Encoding (`7bit` when absent).
    cte: String,
    /// A multipart whose body was cut into children.
    container: bool,
    /// The decoded body of a leaf, when its transfer encoding is valid.
    decoded: Option<Vec<u8>>,
}

impl Entity {
    fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    fn charset(&self) -> Option<String> {
        let cs = self.ct.as_ref()?.plain("charset")?;
        Some(String::from_utf8_lossy(trim_wsp(cs)).to_ascii_lowercase())
    }
}

struct Scan {
    entities: Vec<Entity>,
    /// False when a limit stopped the scan (the differential is then skipped).
    complete: bool,
}

/// One entity still to read: `out[start..end]`, its depth and the arena index
/// of its parent's boundary.
struct Work {
    start: usize,
    end: usize,
    depth: usize,
    path: String,
    parent_boundary: Option<usize>,
}

/// Reads the MIME tree of `out` without mail-parser: entities in pre-order.
fn scan_structure(out: &[u8], config: &VerifyConfig, sink: &mut Sink) -> Scan {
    // boundaries of the containers seen so far: (boundary, parent's index)
    let mut arena: Vec<(Vec<u8>, Option<usize>)> = Vec::new();
    let mut entities = Vec::new();
    let mut complete = true;
    let mut stack = vec![Work { start: 0, end: out.len(), depth: 0, path: "1".to_string(), parent_boundary: None }];
    while let Some(w) = stack.pop() {
        if entities.len() >= config.max_parts {
            sink.add(SAFETY, format!("output has more than {} MIME entities", config.max_parts));
            complete = false;
            break;
        }
        let (fields, body_start) = parse_header_section(out, w.start, w.end, &w.path, sink);
        let mut e = Entity {
            path: w.path,
            fields,
            body: (body_start, w.end),
            mime: "text/plain".to_string(),
            ct: None,
            cte: "7bit".to_string(),
            container: false,
            decoded: None,
        };
        read_mime_fields(&mut e, sink);
        if e.mime.starts_with("multipart/") {
            let Some(boundary) = multipart_boundary(&e, &arena, w.parent_boundary, sink) else {
                entities.push(e);
                continue;
            };
            e.container = true;
            if w.depth + 1 > config.max_depth {
                sink.add(SAFETY, format!("MIME nesting deeper than {} at {}", config.max_depth, where_(&e.path)));
                complete = false;
            } else if w.depth + 1 > HARD_MAX_DEPTH {
                sink.add(FORMAT, format!("MIME nesting deeper than the verifier's limit {HARD_MAX_DEPTH}"));
                complete = false;
            } else {
                let children = split_multipart(out, e.body, &boundary, &e.path, sink);
                arena.push((boundary, w.parent_boundary));
                let me = arena.len() - 1;
                for (n, &(start, end)) in children.iter().enumerate().rev() {
                    let path = format!("{}.{}", e.path, n + 1);
                    stack.push(Work { start, end, depth: w.depth + 1, path, parent_boundary: Some(me) });
                }
            }
        }
        entities.push(e);
    }
    Scan { entities, complete }
}

/// Splits the header section of `out[start..end]` into fields; returns them
/// and where the body starts. Reports 8-bit bytes, control characters and
/// lines that are not fields.
fn parse_header_section(out: &[u8], start: usize, end: usize, path: &str, sink: &mut Sink) -> (Vec<Field>, usize) {
    let mut fields: Vec<Field> = Vec::new();
    let mut body_start = end;
    let (mut eight_bit, mut control, mut bad_line) = (None, None, false);
    for (n, l) in Lines::new(out, start, end).enumerate() {
        let line = slice(out, l.start, l.end);
        if line.is_empty() {
            body_start = l.next;
            break;
        }
        if eight_bit.is_none() && line.iter().any(|&c| c >= 0x80) {
            eight_bit = Some(n + 1);
        }
        if control.is_none() {
            control = line.iter().find(|&&c| (c < 0x20 && c != b'\t' && c != b'\r') || c == 0x7F).copied();
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some(last) = fields.last_mut() {
                if line.iter().all(|c| matches!(c, b' ' | b'\t')) {
                    sink.add(FORMAT, format!("{}: header line {} holds only white space", where_(path), n + 1));
                }
                last.value.extend_from_slice(line);
            } else {
                sink.add(FORMAT, format!("{}: header section starts with a continuation line", where_(path)));
            }
            continue;
        }
        let colon = line.iter().position(|&c| c == b':');
        let name = colon.map(|c| slice(line, 0, c)).unwrap_or_default();
        if colon.is_none() || name.is_empty() || !name.iter().all(|&c| (0x21..=0x7E).contains(&c)) {
            if !bad_line {
                let what = if line.starts_with(b"From ") { "an mbox From_ line".to_string() } else { show(line) };
                sink.add(FORMAT, format!("{}: header line {} is not a header field: {what}", where_(path), n + 1));
                bad_line = true;
            }
            continue;
        }
        let value = slice(line, name.len() + 1, line.len());
        let skip = value.iter().take_while(|c| matches!(c, b' ' | b'\t')).count();
        fields.push(Field {
            name: String::from_utf8_lossy(name).into_owned(),
            value: slice(value, skip, value.len()).to_vec(),
        });
    }
    if let Some(n) = eight_bit {
        sink.add(
            FORMAT,
            format!("{}: non-ASCII (8-bit) byte in header line {n} (must be RFC 2047/2231 encoded)", where_(path)),
        );
    }
    if let Some(c) = control {
        sink.add(FORMAT, format!("{}: control character 0x{c:02X} in the header section", where_(path)));
    }
    (fields, body_start)
}

/// Fills in the entity's type and transfer encoding from its fields.
fn read_mime_fields(e: &mut Entity, sink: &mut Sink) {
    if let Some(f) = e.field("Content-Type") {
        match parse_mime_value(&f.value, true) {
            Ok(ct) => {
                e.mime.clone_from(&ct.value);
                report_duplicate_params(&ct, "Content-Type", &e.path, sink);
                e.ct = Some(ct);
            }
            Err(err) => {
                sink.add(FORMAT, format!("{}: unreadable Content-Type {} ({err})", where_(&e.path), show(&f.value)));
                e.mime = "(unreadable)".to_string();
            }
        }
    }
    if let Some(f) = e.field("Content-Transfer-Encoding") {
        e.cte = String::from_utf8_lossy(trim_wsp(&f.value)).to_ascii_lowercase();
    }
}

fn report_duplicate_params(v: &MimeValue, header: &str, path: &str, sink: &mut Sink) {
    let mut seen = std::collections::HashSet::new();
    for (name, _) in &v.params {
        if !seen.insert(name.as_str()) {
            sink.add(SAFETY, format!("{}: {header} has parameter {name} more than once", where_(path)));
        }
    }
}

/// The boundary of a multipart entity, checked; `None` (reported) when there
/// is none.
fn multipart_boundary(
    e: &Entity,
    arena: &[(Vec<u8>, Option<usize>)],
    parent: Option<usize>,
    sink: &mut Sink,
) -> Option<Vec<u8>> {
    let ct = e.ct.as_ref()?;
    if ct.params.iter().any(|(n, _)| n.starts_with("boundary*")) {
        sink.add(SAFETY, format!("{}: boundary given in RFC 2231 form", where_(&e.path)));
    }
    let Some(b) = ct.plain("boundary") else {
        sink.add(SAFETY, format!("{}: {} without a boundary parameter", where_(&e.path), e.mime));
        return None;
    };
    let bchar = |c: &u8| c.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(c);
    if b.is_empty() || b.len() > 70 || !b.iter().all(bchar) || b.last() == Some(&b' ') {
        sink.add(FORMAT, format!("{}: invalid boundary {} (RFC 2046: 1-70 bchars)", where_(&e.path), show(b)));
    }
    if b.is_empty() {
        return None;
    }
    let mut up = parent;
    let mut steps = 0;
    while let Some(i) = up {
        let Some((ab, next)) = arena.get(i) else {
            break;
        };
        if ab.starts_with(b) || b.starts_with(ab) {
            sink.add(
                SAFETY,
                format!("{}: boundary {} overlaps an enclosing boundary {}", where_(&e.path), show(b), show(ab)),
            );
            break;
        }
        up = *next;
        steps += 1;
        if steps > HARD_MAX_DEPTH {
            break;
        }
    }
    Some(b.to_vec())
}

/// A delimiter line: where it starts and where the line after it starts.
#[derive(Clone, Copy)]
struct Delim {
    start: usize,
    next: usize,
}

/// Cuts a multipart body at its delimiter lines; returns the children's
/// regions. Reports every other appearance of `--boundary`.
fn split_multipart(
    out: &[u8],
    body: (usize, usize),
    boundary: &[u8],
    path: &str,
    sink: &mut Sink,
) -> Vec<(usize, usize)> {
    let mut dash = b"--".to_vec();
    dash.extend_from_slice(boundary);
    let mut delims: Vec<Delim> = Vec::new();
    let mut close: Option<Delim> = None;
    let (mut stray, mut padded) = (0usize, false);
    for l in Lines::new(out, body.0, body.1) {
        let line = slice(out, l.start, l.end);
        let Some(rest) = line.strip_prefix(dash.as_slice()) else {
            continue;
        };
        let d = Delim { start: l.start, next: l.next };
        let (is_close, tail) = match rest.strip_prefix(b"--") {
            Some(t) => (true, t),
            None => (false, rest),
        };
        if close.is_some() || !tail.iter().all(|c| matches!(c, b' ' | b'\t')) {
            stray += 1;
            continue;
        }
        padded |= !tail.is_empty();
        if is_close {
            close = Some(d);
        } else {
            delims.push(d);
        }
    }
    if stray > 0 {
        sink.add(
            SAFETY,
            format!("{}: {stray} line(s) start with the boundary but are not its delimiters", where_(path)),
        );
    }
    if padded {
        sink.add(FORMAT, format!("{}: white space after a boundary delimiter", where_(path)));
    }
    let inside = count_mid_line(slice(out, body.0, body.1), &dash);
    if inside > 0 {
        sink.add(
            SAFETY,
            format!(
                "{}: the boundary appears {inside} time(s) inside a line (mail-parser would split there)",
                where_(path)
            ),
        );
    }
    if delims.is_empty() {
        sink.add(SAFETY, format!("{}: multipart without any body part", where_(path)));
        return Vec::new();
    }
    if close.is_none() {
        sink.add(FORMAT, format!("{}: multipart without a close delimiter", where_(path)));
    }
    let mut children = Vec::with_capacity(delims.len());
    for (k, d) in delims.iter().enumerate() {
        let start = d.next;
        let end = match delims.get(k + 1).or(close.as_ref()) {
            Some(n) => before_line_break(out, start, n.start),
            None => body.1,
        };
        children.push((start, end.max(start)));
    }
    children
}

/// `pos` moved back over the CR LF (or LF) that ends the previous line, not
/// before `floor`.
fn before_line_break(out: &[u8], floor: usize, pos: usize) -> usize {
    if pos >= floor + 2 && slice(out, pos - 2, pos) == b"\r\n" {
        pos - 2
    } else if pos > floor && out.get(pos - 1) == Some(&b'\n') {
        pos - 1
    } else {
        pos
    }
}

/// How often `needle` occurs in `hay` not at the start of a line (KMP,
/// linear).
fn count_mid_line(hay: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() {
        return 0;
    }
    let mut fail = vec![0usize; needle.len()];
    let mut k = 0;
    for (i, &c) in needle.iter().enumerate().skip(1) {
        while k > 0 && needle.get(k) != Some(&c) {
            k = fail.get(k - 1).copied().unwrap_or(0);
        }
        if needle.get(k) == Some(&c) {
            k += 1;
        }
        if let Some(f) = fail.get_mut(i) {
            *f = k;
        }
    }
    let mut count = 0;
    let mut k = 0;
    for (i, &c) in hay.iter().enumerate() {
        while k > 0 && needle.get(k) != Some(&c) {
            k = fail.get(k - 1).copied().unwrap_or(0);
        }
        if needle.get(k) == Some(&c) {
            k += 1;
        }
        if k == needle.len() {
            let start = i + 1 - needle.len();
            if start > 0 && hay.get(start - 1) != Some(&b'\n') {
                count += 1;
            }
            k = fail.get(k - 1).copied().unwrap_or(0);
        }
    }
    count
}

// ---------------------------------------------------------------------------
// Content-Type / Content-Disposition values

/// A parsed `type/subtype; params` (or `disposition; params`) value.
#[derive(Debug, Clone)]
struct MimeValue {
    /// Lower-case `type/subtype`, or the disposition type.
    value: String,
    /// Lower-case names with their unquoted values, in order.
    params: Vec<(String, Vec<u8>)>,
}

impl MimeValue {
    fn plain(&self, name: &str) -> Option<&[u8]> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice())
    }

    /// Every reading of a name parameter: the plain one (RFC 2047-decoded)
    /// and the RFC 2231 one, each decoded or the reason it cannot be.
    fn name_variants(&self, name: &str) -> Vec<Result<String, String>> {
        let mut out = Vec::new();
        if let Some(v) = self.plain(name) {
            out.push(match std::str::from_utf8(v) {
                Ok(s) if s.contains("=?") => decode_2047_text(s.as_bytes()),
                Ok(s) => Ok(s.to_string()),
                Err(_) => Err("not UTF-8".to_string()),
            });
        }
        if let Some(r) = self.rfc2231(name) {
            out.push(r);
        }
        out
    }

    /// The RFC 2231 value of `name` (`name*`, `name*0`, `name*0*`, ...).
    fn rfc2231(&self, name: &str) -> Option<Result<String, String>> {
        let prefix = format!("{name}*");
        let mut segs: Vec<(usize, bool, &[u8])> = Vec::new();
        let mut single = false;
        for (n, v) in &self.params {
            let Some(rest) = n.strip_prefix(prefix.as_str()) else {
                continue;
            };
            if rest.is_empty() {
                single = true;
                segs.push((0, true, v));
                continue;
            }
            let (num, ext) = rest.strip_suffix('*').map_or((rest, false), |n| (n, true));
            let ok = !num.is_empty()
                && num.len() <= 4
                && num.bytes().all(|c| c.is_ascii_digit())
                && (num == "0" || !num.starts_with('0'));
            match num.parse::<usize>() {
                Ok(i) if ok => segs.push((i, ext, v)),
                _ => return Some(Err(format!("bad RFC 2231 section {n}"))),
            }
        }
        if segs.is_empty() {
            return None;
        }
        Some(assemble_2231(segs, single))
    }
}

fn assemble_2231(mut segs: Vec<(usize, bool, &[u8])>, single: bool) -> Result<String, String> {
    if single && segs.len() > 1 {
        return Err("both name* and name*N given".to_string());
    }
    segs.sort_by_key(|s| s.0);
    if segs.iter().enumerate().any(|(i, s)| s.0 != i) {
        return Err("RFC 2231 sections not numbered 0, 1, 2, ...".to_string());
    }
    let mut bytes = Vec::new();
    let mut charset = String::new();
    for (i, &(_, ext, v)) in segs.iter().enumerate() {
        if !ext {
            bytes.extend_from_slice(v);
            continue;
        }
        let mut v = v;
        if i == 0 {
            let mut it = v.splitn(3, |&c| c == b'\'');
            let (Some(cs), Some(_lang), Some(rest)) = (it.next(), it.next(), it.next()) else {
                return Err("RFC 2231 value without charset'language'".to_string());
            };
            charset = String::from_utf8_lossy(cs).to_ascii_lowercase();
            v = rest;
        }
        pct_decode(v, &mut bytes)?;
    }
    if !charset.is_empty() && charset != "utf-8" && charset != "us-ascii" {
        return Err(format!("RFC 2231 charset {charset:?} is not UTF-8 or US-ASCII"));
    }
    let s = String::from_utf8(bytes).map_err(|_| "RFC 2231 value is not UTF-8".to_string())?;
    if charset == "us-ascii" && !s.is_ascii() {
        return Err("RFC 2231 value declared US-ASCII is not".to_string());
    }
    Ok(s)
}

fn pct_decode(v: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut i = 0;
    while let Some(&c) = v.get(i) {
        if c == b'%' {
            let h = v.get(i + 1).and_then(|&c| hex_val(c, false));
            let l = v.get(i + 2).and_then(|&c| hex_val(c, false));
            let (Some(h), Some(l)) = (h, l) else {
                return Err("bad %-escape in RFC 2231 value".to_string());
            };
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(())
}

fn hex_val(c: u8, upper_only: bool) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' if !upper_only => Some(c - b'a' + 10),
        _ => None,
    }
}

/// A cursor over a header value, with RFC 5322 comment skipping.
struct Cur<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn new(s: &'a [u8]) -> Self {
        Cur { s, i: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn skip_cfws(&mut self) -> Result<(), String> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => self.i += 1,
                Some(b'(') => self.skip_comment()?,
                _ => return Ok(()),
            }
        }
    }

    fn skip_comment(&mut self) -> Result<(), String> {
        let mut depth = 0usize;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'\\' => {
                    if self.peek().is_none() {
                        break;
                    }
                    self.i += 1;
                }
                b'(' => depth += 1,
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Ok(());
                    }
                }
                _ => {}
            }
        }
        Err("unterminated comment".to_string())
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.i;
        while let Some(c) = self.peek() {
            if !f(c) {
                break;
            }
            self.i += 1;
        }
        self.s.get(start..self.i).unwrap_or_default()
    }

    /// A quoted-string starting at the cursor, unescaped.
    fn quoted(&mut self) -> Result<Vec<u8>, String> {
        if !self.eat(b'"') {
            return Err("expected a quoted string".to_string());
        }
        let mut v = Vec::new();
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => return Ok(v),
                b'\\' => {
                    let Some(n) = self.peek() else { break };
                    self.i += 1;
                    v.push(n);
                }
                _ => v.push(c),
            }
        }
        Err("unterminated quoted string".to_string())
    }
}

/// RFC 2045 token character.
fn is_token(c: u8) -> bool {
    (0x21..=0x7E).contains(&c) && !b"()<>@,;:\\\"/[]?=".contains(&c)
}

/// Parses `type/subtype *(; param)` (`with_subtype`) or `token *(; param)`.
fn parse_mime_value(v: &[u8], with_subtype: bool) -> Result<MimeValue, String> {
    let mut c = Cur::new(v);
    c.skip_cfws()?;
    let ty = c.take_while(is_token);
    if ty.is_empty() {
        return Err("no type".to_string());
    }
    let mut value = String::from_utf8_lossy(ty).to_ascii_lowercase();
    if with_subtype {
        c.skip_cfws()?;
        if !c.eat(b'/') {
            return Err("no subtype".to_string());
        }
        c.skip_cfws()?;
        let sub = c.take_while(is_token);
        if sub.is_empty() {
            return Err("no subtype".to_string());
        }
        value.push('/');
        value.push_str(&String::from_utf8_lossy(sub).to_ascii_lowercase());
    }
    let mut params = Vec::new();
    loop {
        c.skip_cfws()?;
        if c.peek().is_none() {
            break;
        }
        if !c.eat(b';') {
            return Err(format!("unexpected {:?} where ';' was expected", char::from(c.peek().unwrap_or(b'?'))));
        }
        c.skip_cfws()?;
        if c.peek().is_none() {
            break; // a trailing ';'
        }
        let name = c.take_while(is_token);
        if name.is_empty() {
            return Err("parameter without a name".to_string());
        }
        c.skip_cfws()?;
        if !c.eat(b'=') {
            return Err(format!("parameter {} without '='", show(name)));
        }
        c.skip_cfws()?;
        let val = if c.peek() == Some(b'"') { c.quoted()? } else { c.take_while(is_token).to_vec() };
        if val.is_empty() && c.s.get(c.i.wrapping_sub(1)) != Some(&b'"') {
            return Err(format!("parameter {} without a value", show(name)));
        }
        params.push((String::from_utf8_lossy(name).to_ascii_lowercase(), val));
    }
    Ok(MimeValue { value, params })
}

// ---------------------------------------------------------------------------
// RFC 2047 encoded-words

/// An encoded-word `=?charset?e?payload?=` at `s[start..end]`.
struct EncodedWord<'a> {
    start: usize,
    end: usize,
    charset: &'a [u8],
    enc: u8,
    payload: &'a [u8],
}

/// The next encoded-word at or after `from` (the shape Python's
/// `=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=` matches).
fn next_encoded_word(s: &[u8], from: usize) -> Option<EncodedWord<'_>> {
    let mut i = from;
    while i + 1 < s.len() {
        if s.get(i) == Some(&b'=')
            && s.get(i + 1) == Some(&b'?')
            && let Some(w) = encoded_word_at(s, i)
        {
            return Some(w);
        }
        i += 1;
    }
    None
}

fn encoded_word_at(s: &[u8], i: usize) -> Option<EncodedWord<'_>> {
    let run = |from: usize| {
        let mut j = from;
        while let Some(&c) = s.get(j) {
            if c == b'?' || c.is_ascii_whitespace() {
                break;
            }
            j += 1;
        }
        j
    };
    let cs_end = run(i + 2);
    if cs_end == i + 2 || s.get(cs_end) != Some(&b'?') {
        return None;
    }
    let enc = *s.get(cs_end + 1)?;
    if !matches!(enc, b'b' | b'B' | b'q' | b'Q') || s.get(cs_end + 2) != Some(&b'?') {
        return None;
    }
    let p_end = run(cs_end + 3);
    if s.get(p_end) != Some(&b'?') || s.get(p_end + 1) != Some(&b'=') {
        return None;
    }
    Some(EncodedWord {
        start: i,
        end: p_end + 2,
        charset: s.get(i + 2..cs_end)?,
        enc: enc.to_ascii_lowercase(),
        payload: s.get(cs_end + 3..p_end)?,
    })
}

/// Decodes one encoded-word on its own, strictly.
fn decode_word(w: &EncodedWord<'_>) -> Result<String, String> {
    let cs = w.charset.split(|&c| c == b'*').next().unwrap_or_default().to_ascii_lowercase();
    if cs != b"utf-8" && cs != b"us-ascii" {
        return Err(format!("charset {} is not UTF-8 or US-ASCII", show(&cs)));
    }
    let bytes = if w.enc == b'b' {
        decode_base64_strict(w.payload).map_err(|e| format!("bad base64 ({e})"))?
    } else {
        decode_q(w.payload)?
    };
    let s =
        String::from_utf8(bytes).map_err(|_| "does not decode on its own (split multi-byte character?)".to_string())?;
    if cs == b"us-ascii" && !s.is_ascii() {
        return Err("declared US-ASCII but is not".to_string());
    }
    Ok(s)
}

fn decode_q(p: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(p.len());
    let mut i = 0;
    while let Some(&c) = p.get(i) {
        match c {
            b'_' => out.push(b' '),
            b'=' => {
                let h = p.get(i + 1).and_then(|&c| hex_val(c, true));
                let l = p.get(i + 2).and_then(|&c| hex_val(c, true));
                let (Some(h), Some(l)) = (h, l) else {
                    return Err("'=' not followed by two upper-case hex digits".to_string());
                };
                out.push(h << 4 | l);
                i += 2;
            }
            0x21..=0x7E => out.push(c),
            _ => return Err(format!("byte 0x{c:02X} not allowed in Q encoding")),
        }
        i += 1;
    }
    Ok(out)
}

/// Decodes the encoded-words in a (parameter) text; white space between two
/// adjacent words is dropped.
fn decode_2047_text(s: &[u8]) -> Result<String, String> {
    let mut out = String::new();
    let mut pos = 0;
    let mut after_word = false;
    while let Some(w) = next_encoded_word(s, pos) {
        let between = slice(s, pos, w.start);
        if !(after_word && between.iter().all(u8::is_ascii_whitespace)) {
            out.push_str(&String::from_utf8_lossy(between));
        }
        out.push_str(&decode_word(&w)?);
        pos = w.end;
        after_word = true;
    }
    out.push_str(&String::from_utf8_lossy(slice(s, pos, s.len())));
    Ok(out)
}

fn is_bad_control(c: char) -> bool {
    c < ' ' || ('\u{7F}'..='\u{9F}').contains(&c)
}

// ---------------------------------------------------------------------------
// 3. header checks

/// Checks every entity's fields: singletons, encoded-words, text/html in
/// Content-Type.
fn check_entity_headers(e: &Entity, html_in_raw: bool, sink: &mut Sink) {
    for name in SINGLETONS {
        let n = e.fields.iter().filter(|f| f.name.eq_ignore_ascii_case(name)).count();
        if n > 1 {
            sink.add(SAFETY, format!("{} has {n} {name} headers (parser differential)", where_(&e.path)));
        }
    }
    for f in &e.fields {
        // A msg-id is an opaque token: no reader decodes `=?…?=` in it, and
        // it is kept verbatim for threading.
        if ["Message-ID", "In-Reply-To", "References"].iter().any(|n| f.name.eq_ignore_ascii_case(n)) {
            continue;
        }
        let mut pos = 0;
        while let Some(w) = next_encoded_word(&f.value, pos) {
            pos = w.end;
            let word = slice(&f.value, w.start, w.end);
            let problem = if word.len() > 75 {
                Some("longer than 75 characters".to_string())
            } else {
                match decode_word(&w) {
                    Err(p) => Some(p),
                    Ok(t) if t.chars().any(|c| is_bad_control(c) && c != '\t') => {
                        Some("decodes to control characters".to_string())
                    }
                    Ok(_) => None,
                }
            };
            if let Some(p) = problem {
                sink.add(FORMAT, format!("{}: {}: encoded-word {}: {p}", where_(&e.path), f.name, show(word)));
                break;
            }
        }
        if !html_in_raw && f.name.eq_ignore_ascii_case("Content-Type") && contains_ci(&f.value, b"text/html") {
            sink.add(SAFETY, format!("{}: Content-Type mentions text/html: {}", where_(&e.path), show(&f.value)));
        }
    }
}

/// The top-level header checks: MIME-Version, From, Date, Message-ID and
/// the other address fields.
fn check_top_headers(top: &Entity, sink: &mut Sink) {
    if top.fields.is_empty() {
        sink.add(FORMAT, "output has no header fields".to_string());
        return;
    }
    match top.field("MIME-Version") {
        None => sink.add(FORMAT, "no MIME-Version header".to_string()),
        Some(f) if !is_mime_version_1(&f.value) => {
            sink.add(FORMAT, format!("MIME-Version is {} (expected 1.0)", show(&f.value)));
        }
        Some(_) => {}
    }
    // Message-ID is always written (generated when the original has none);
    // From and Date are written when the original has a usable one (the
    // sanitiser has no clock and invents no sender), so they are optional
    // here but must parse when present.
    let checked: [(&str, bool, HeaderCheck); 3] = [
        ("From", false, |v| check_addresses(v, AddrRule::MailboxList)),
        ("Date", false, check_date),
        ("Message-ID", true, check_msg_id),
    ];
    for (name, required, check) in checked {
        match top.field(name) {
            None if !required => {}
            None => sink.add(FORMAT, format!("no {name} header")),
            Some(f) => {
                if let Err(e) = check(&f.value) {
                    sink.add(FORMAT, format!("{name} header is malformed ({e}): {}", show(&f.value)));
                }
            }
        }
    }
    let optional = [
        ("Sender", AddrRule::Mailbox),
        ("Reply-To", AddrRule::AddressList),
        ("To", AddrRule::AddressList),
        ("Cc", AddrRule::AddressList),
        ("Bcc", AddrRule::OptionalList),
    ];
    for (name, rule) in optional {
        for f in top.fields.iter().filter(|f| f.name.eq_ignore_ascii_case(name)) {
            if let Err(e) = check_addresses(&f.value, rule) {
                sink.add(FORMAT, format!("{name} header is malformed ({e}): {}", show(&f.value)));
            }
        }
    }
}

/// `1.0`, with comments allowed around it (`1.0 (Apple Message framework)`).
fn is_mime_version_1(v: &[u8]) -> bool {
    let mut c = Cur::new(v);
    let ok = c.skip_cfws().is_ok() && c.take_while(|x| x.is_ascii_digit()) == b"1" && c.eat(b'.');
    ok && c.take_while(|x| x.is_ascii_digit()) == b"0" && c.skip_cfws().is_ok() && c.peek().is_none()
}

/// A syntax check of one header value.
type HeaderCheck = fn(&[u8]) -> Result<(), String>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum AddrRule {
    /// Exactly one mailbox (Sender).
    Mailbox,
    /// One or more mailboxes, no groups (From).
    MailboxList,
    /// One or more addresses, groups allowed (To, Cc, Reply-To).
    AddressList,
    /// Like `AddressList` but may be empty (Bcc).
    OptionalList,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    Atom,
    Quoted,
    Literal,
    Dot,
    Special(u8),
}

fn is_atext(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&c)
}

fn addr_tokens(v: &[u8]) -> Result<Vec<Tok>, String> {
    let mut c = Cur::new(v);
    let mut toks = Vec::new();
    loop {
        c.skip_cfws()?;
        let Some(b) = c.peek() else { break };
        let tok = match b {
            b'"' => {
                c.quoted()?;
                Tok::Quoted
            }
            b'[' => {
                c.i += 1;
                c.take_while(|x| x != b']' && x != b'[' && x != b'\\');
                if !c.eat(b']') {
                    return Err("unterminated domain literal".to_string());
                }
                Tok::Literal
            }
            b'.' => {
                c.i += 1;
                Tok::Dot
            }
            b'<' | b'>' | b'@' | b',' | b';' | b':' => {
                c.i += 1;
                Tok::Special(b)
            }
            _ if is_atext(b) => {
                c.take_while(is_atext);
                Tok::Atom
            }
            _ => return Err(format!("unexpected character 0x{b:02X}")),
        };
        toks.push(tok);
    }
    Ok(toks)
}

/// A small strict RFC 5322 address parser over tokens.
struct AddrParser {
    t: Vec<Tok>,
    i: usize,
}

impl AddrParser {
    fn peek(&self) -> Option<Tok> {
        self.t.get(self.i).copied()
    }

    fn eat(&mut self, tok: Tok) -> bool {
        if self.peek() == Some(tok) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// A display name: words, with obsolete dots after the first word.
    fn phrase(&mut self) -> usize {
        let mut n = 0;
        while let Some(t) = self.peek() {
            match t {
                Tok::Atom | Tok::Quoted => n += 1,
                Tok::Dot if n > 0 => {}
                _ => break,
            }
            self.i += 1;
        }
        n
    }

    fn addr_spec(&mut self) -> Result<(), String> {
        if !(self.eat(Tok::Atom) || self.eat(Tok::Quoted)) {
            return Err("missing local part".to_string());
        }
        while self.eat(Tok::Dot) {
            if !(self.eat(Tok::Atom) || self.eat(Tok::Quoted)) {
                return Err("bad dot in local part".to_string());
            }
        }
        if !self.eat(Tok::Special(b'@')) {
            return Err("address without @domain".to_string());
        }
        if self.eat(Tok::Literal) {
            return Ok(());
        }
        if !self.eat(Tok::Atom) {
            return Err("missing domain".to_string());
        }
        while self.eat(Tok::Dot) {
            if !self.eat(Tok::Atom) {
                return Err("bad dot in domain".to_string());
            }
        }
        Ok(())
    }

    fn mailbox(&mut self) -> Result<(), String> {
        let save = self.i;
        self.phrase();
        if self.eat(Tok::Special(b'<')) {
            self.addr_spec()?;
            if !self.eat(Tok::Special(b'>')) {
                return Err("missing '>'".to_string());
            }
            return Ok(());
        }
        self.i = save;
        self.addr_spec()
    }

    /// One address; returns how many mailboxes it holds.
    fn address(&mut self, groups: bool) -> Result<usize, String> {
        let save = self.i;
        if self.phrase() > 0 && self.eat(Tok::Special(b':')) {
            if !groups {
                return Err("group syntax not allowed here".to_string());
            }
            if self.eat(Tok::Special(b';')) {
                return Ok(0);
            }
            let mut n = 0;
            loop {
                self.mailbox()?;
                n += 1;
                if !self.eat(Tok::Special(b',')) {
                    break;
                }
            }
            if !self.eat(Tok::Special(b';')) {
                return Err("group not closed with ';'".to_string());
            }
            return Ok(n);
        }
        self.i = save;
        self.mailbox()?;
        Ok(1)
    }
}

fn check_addresses(v: &[u8], rule: AddrRule) -> Result<(), String> {
    let t = addr_tokens(v)?;
    if t.is_empty() {
        return if rule == AddrRule::OptionalList { Ok(()) } else { Err("empty".to_string()) };
    }
    let mut p = AddrParser { t, i: 0 };
    let groups = matches!(rule, AddrRule::AddressList | AddrRule::OptionalList);
    let (mut addresses, mut mailboxes) = (0, 0);
    loop {
        mailboxes += p.address(groups)?;
        addresses += 1;
        if !p.eat(Tok::Special(b',')) {
            break;
        }
    }
    if let Some(t) = p.peek() {
        return Err(format!("unexpected {t:?} after an address"));
    }
    match rule {
        AddrRule::Mailbox if addresses != 1 || mailboxes != 1 => Err("must be exactly one mailbox".to_string()),
        AddrRule::MailboxList if mailboxes == 0 => Err("no mailbox".to_string()),
        _ => Ok(()),
    }
}

/// RFC 5322 date-time (obsolete two-digit years and zone names accepted).
fn check_date(v: &[u8]) -> Result<(), String> {
    const DAYS: [&[u8]; 7] = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"];
    const MONTHS: [&[u8]; 12] =
        [b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec"];
    const ZONES: [&[u8]; 12] =
        [b"ut", b"utc", b"gmt", b"z", b"est", b"edt", b"cst", b"cdt", b"mst", b"mdt", b"pst", b"pdt"];
    let mut c = Cur::new(v);
    let num = |c: &mut Cur<'_>, min: usize, max: usize, what: &str| -> Result<u32, String> {
        c.skip_cfws()?;
        let d = c.take_while(|x| x.is_ascii_digit());
        if d.len() < min || d.len() > max {
            return Err(format!("bad {what}"));
        }
        Ok(d.iter().fold(0u32, |a, &x| a * 10 + u32::from(x - b'0')))
    };
    c.skip_cfws()?;
    if c.peek().is_some_and(|x| x.is_ascii_alphabetic()) {
        let d = c.take_while(|x| x.is_ascii_alphabetic()).to_ascii_lowercase();
        if !DAYS.contains(&d.as_slice()) {
            return Err("bad day name".to_string());
        }
        c.skip_cfws()?;
        if !c.eat(b',') {
            return Err("no ',' after the day name".to_string());
        }
    }
    let day = num(&mut c, 1, 2, "day")?;
    c.skip_cfws()?;
    let m = c.take_while(|x| x.is_ascii_alphabetic()).to_ascii_lowercase();
    let month = MONTHS.iter().position(|&x| x == m.as_slice()).ok_or("bad month")? + 1;
    let digits_before = {
        c.skip_cfws()?;
        c.s.get(c.i..).unwrap_or_default().iter().take_while(|x| x.is_ascii_digit()).count()
    };
    let mut year = num(&mut c, 2, 4, "year")?;
    if digits_before == 2 {
        year += if year < 50 { 2000 } else { 1900 };
    } else if digits_before == 3 {
        year += 1900;
    }
    let hour = num(&mut c, 1, 2, "hour")?;
    c.skip_cfws()?;
    if !c.eat(b':') {
        return Err("bad time".to_string());
    }
    let minute = num(&mut c, 2, 2, "minute")?;
    c.skip_cfws()?;
    let second = if c.eat(b':') { num(&mut c, 2, 2, "second")? } else { 0 };
    c.skip_cfws()?;
    match c.peek() {
        Some(b'+' | b'-') => {
            c.i += 1;
            let z = c.take_while(|x| x.is_ascii_digit());
            if z.len() != 4 || z.get(2).is_some_and(|&d| d > b'5') {
                return Err("bad zone".to_string());
            }
        }
        Some(x) if x.is_ascii_alphabetic() => {
            let z = c.take_while(|x| x.is_ascii_alphabetic()).to_ascii_lowercase();
            if !ZONES.contains(&z.as_slice()) {
                return Err("unknown zone name".to_string());
            }
        }
        _ => return Err("no zone".to_string()),
    }
    c.skip_cfws()?;
    if c.peek().is_some() {
        return Err("text after the zone".to_string());
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let dim = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day == 0 || day > dim || hour > 23 || minute > 59 || second > 60 {
        return Err("date or time out of range".to_string());
    }
    Ok(())
}

/// `<left@right>`: left dot-atom-ish text, right the same or a literal.
fn check_msg_id(v: &[u8]) -> Result<(), String> {
    let v = trim_wsp(v);
    let inner = v.strip_prefix(b"<").and_then(|x| x.strip_suffix(b">")).ok_or_else(|| "not <id@host>".to_string())?;
    let at = inner.iter().position(|&c| c == b'@').ok_or_else(|| "no '@'".to_string())?;
    let (left, right) = (slice(inner, 0, at), slice(inner, at + 1, inner.len()));
    let idtext = |s: &[u8]| !s.is_empty() && s.iter().all(|&c| is_atext(c) || c == b'.');
    let literal = right.len() > 2
        && right.starts_with(b"[")
        && right.ends_with(b"]")
        && slice(right, 1, right.len() - 1).iter().all(|&c| (0x21..=0x7E).contains(&c) && !b"[]\\".contains(&c));
    if !idtext(left) || !(idtext(right) || literal) {
        return Err("characters outside <dot-atom@dot-atom>".to_string());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// 4. leaves and containers

fn check_container(e: &Entity, sink: &mut Sink) {
    if !ALLOWED_CONTAINERS.contains(&e.mime.as_str()) {
        sink.add(SAFETY, format!("{}: container type {} not allowed", where_(&e.path), e.mime));
    }
    if !matches!(e.cte.as_str(), "7bit" | "8bit") {
        sink.add(FORMAT, format!("{}: multipart with Content-Transfer-Encoding {:?}", where_(&e.path), e.cte));
    }
}

/// Checks one leaf; returns whether it is a text/plain leaf.
fn check_leaf(out: &[u8], e: &mut Entity, config: &VerifyConfig, sink: &mut Sink) -> bool {
    let path = where_(&e.path);
    if e.mime.starts_with("message/") {
        sink.add(SAFETY, format!("{path}: {} is not allowed in the output", e.mime));
    } else if !config.allowed_leaf_types.iter().any(|t| t.eq_ignore_ascii_case(&e.mime)) {
        sink.add(
            SAFETY,
            format!("{path}: leaf type {} not allowed (allowed: {})", e.mime, config.allowed_leaf_types.join(", ")),
        );
    }
    check_names(e, sink);
    let raw = slice(out, e.body.0, e.body.1);
    if e.cte == "7bit" && raw.iter().any(|&c| c >= 0x80) {
        sink.add(FORMAT, format!("{path}: declares 7bit but contains 8-bit data"));
    }
    match decode_body(raw, &e.cte) {
        Ok(d) => e.decoded = Some(d),
        Err(err) => sink.add(FORMAT, format!("{path}: {err}")),
    }
    let decoded = e.decoded.as_deref();
    if e.mime == "text/plain" {
        let cs = e.charset();
        match decoded.map(|d| decode_text(d, cs.as_deref())) {
            Some(Ok(text)) => check_text(&text, &path, sink),
            Some(Err(err)) => sink.add(FORMAT, format!("{path}: {err}")),
            None => {}
        }
        return true;
    }
    if e.mime == "image/png"
        && let Some(d) = decoded
    {
        for p in png_problems(d, config.max_image_side) {
            sink.add(SAFETY, format!("{path}: {p}"));
        }
    }
    false
}

/// Decodes a body by its transfer encoding, strictly.
fn decode_body(raw: &[u8], cte: &str) -> Result<Vec<u8>, String> {
    match cte {
        "7bit" | "8bit" => Ok(raw.to_vec()),
        "base64" => decode_base64_body(raw),
        "quoted-printable" => decode_qp_body(raw),
        other => Err(format!("Content-Transfer-Encoding {other:?} not allowed")),
    }
}

/// A text body in its declared charset (none = US-ASCII), strictly.
fn decode_text(d: &[u8], charset: Option<&str>) -> Result<String, String> {
    let cs = charset.unwrap_or("us-ascii");
    if cs != "utf-8" && cs != "us-ascii" {
        return Err(format!("text charset {cs:?} is not utf-8 or us-ascii"));
    }
    let s = std::str::from_utf8(d).map_err(|e| format!("text does not decode as {cs} at byte {}", e.valid_up_to()))?;
    if cs == "us-ascii"
        && let Some(i) = s.bytes().position(|c| c >= 0x80)
    {
        return Err(format!("text does not decode as us-ascii at byte {i}"));
    }
    Ok(s.to_string())
}

/// Control characters (C0 except TAB and CR LF pairs, DEL, C1) and bidi
/// controls in decoded text.
fn check_text(s: &str, path: &str, sink: &mut Sink) {
    let (mut bad, mut n_bad, mut bidi, mut n_bidi) = (Vec::new(), 0usize, Vec::new(), 0usize);
    let mut prev = '\0';
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        let ok = match c {
            '\t' => true,
            '\r' => it.peek() == Some(&'\n'),
            '\n' => prev == '\r',
            _ => !is_bad_control(c),
        };
        if !ok {
            n_bad += 1;
            if bad.len() < 3 {
                bad.push(format!("U+{:04X}", u32::from(c)));
            }
        }
        if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
            n_bidi += 1;
            if bidi.len() < 3 {
                bidi.push(format!("U+{:04X}", u32::from(c)));
            }
        }
        prev = c;
    }
    if n_bad > 0 {
        sink.add(FORMAT, format!("{path}: text contains {n_bad} control character(s) {}", bad.join(" ")));
    }
    if n_bidi > 0 {
        sink.add(FORMAT, format!("{path}: text contains {n_bidi} bidi control(s) {}", bidi.join(" ")));
    }
}

/// filename (Content-Disposition) and name (Content-Type) of a leaf.
fn check_names(e: &Entity, sink: &mut Sink) {
    let path = where_(&e.path);
    let disposition = e.field("Content-Disposition").map(|f| parse_mime_value(&f.value, false));
    let disposition = match disposition {
        Some(Err(err)) => {
            sink.add(FORMAT, format!("{path}: unreadable Content-Disposition ({err})"));
            None
        }
        Some(Ok(d)) => {
            report_duplicate_params(&d, "Content-Disposition", &e.path, sink);
            Some(d)
        }
        None => None,
    };
    let ext = match e.mime.as_str() {
        "text/plain" => Some(".txt"),
        "image/png" => Some(".png"),
        _ => None,
    };
    for (param, value) in [("filename", disposition.as_ref()), ("name", e.ct.as_ref())] {
        for variant in value.map(|v| v.name_variants(param)).unwrap_or_default() {
            let name = match variant {
                Ok(n) => n,
                Err(err) => {
                    sink.add(FORMAT, format!("{path}: {param} cannot be decoded ({err})"));
                    continue;
                }
            };
            if name.chars().any(is_bad_control) {
                sink.add(SAFETY, format!("{path}: {param} contains control characters: {}", show_str(&name)));
            }
            if name.chars().any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')) {
                sink.add(SAFETY, format!("{path}: {param} contains bidi control characters: {}", show_str(&name)));
            }
            if name.contains(['/', '\\']) {
                sink.add(SAFETY, format!("{path}: {param} contains a path separator: {}", show_str(&name)));
            }
            if let Some(ext) = ext
                && !name.to_lowercase().ends_with(ext)
            {
                sink.add(
                    SAFETY,
                    format!("{path}: {} is named {}: the extension must be {ext}", e.mime, show_str(&name)),
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// transfer encodings

fn b64_val(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Strict base64 without line breaks: length a multiple of 4, padding only
/// at the end.
fn decode_base64_strict(s: &[u8]) -> Result<Vec<u8>, &'static str> {
    if !s.len().is_multiple_of(4) {
        return Err("length is not a multiple of 4");
    }
    let pad = s.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return Err("too much padding");
    }
    let data = slice(s, 0, s.len() - pad);
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in data {
        let v =
            b64_val(c).ok_or(if c == b'=' { "padding inside the data" } else { "character outside the alphabet" })?;
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xFF) as u8);
        }
    }
    Ok(out)
}

fn decode_base64_body(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut chars = Vec::with_capacity(raw.len());
    for (n, l) in Lines::new(raw, 0, raw.len()).enumerate() {
        let line = slice(raw, l.start, l.end);
        if line.len() > MAX_ENCODED_LINE {
            return Err(format!("base64 line {} is {} characters (> {MAX_ENCODED_LINE})", n + 1, line.len()));
        }
        if let Some(&c) = line.iter().find(|&&c| b64_val(c).is_none() && c != b'=') {
            return Err(format!("base64 line {} has byte 0x{c:02X} outside the alphabet", n + 1));
        }
        chars.extend_from_slice(line);
    }
    decode_base64_strict(&chars).map_err(|e| format!("invalid base64 body: {e}"))
}

fn decode_qp_body(raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw.len());
    for (n, l) in Lines::new(raw, 0, raw.len()).enumerate() {
        let line = slice(raw, l.start, l.end);
        if line.len() > MAX_ENCODED_LINE {
            return Err(format!("quoted-printable line {} is {} characters (> {MAX_ENCODED_LINE})", n + 1, line.len()));
        }
        let soft = line.last() == Some(&b'=');
        let content = if soft { slice(line, 0, line.len() - 1) } else { line };
        if !soft && matches!(content.last(), Some(b' ' | b'\t')) {
            return Err(format!("quoted-printable line {} ends in white space", n + 1));
        }
        let mut i = 0;
        while let Some(&c) = content.get(i) {
            match c {
                b'=' => {
                    let h = content.get(i + 1).and_then(|&c| hex_val(c, true));
                    let lo = content.get(i + 2).and_then(|&c| hex_val(c, true));
                    let (Some(h), Some(lo)) = (h, lo) else {
                        return Err(format!(
                            "quoted-printable line {}: '=' not followed by two upper-case hex digits",
                            n + 1
                        ));
                    };
                    out.push(h << 4 | lo);
                    i += 3;
                }
                b' ' | b'\t' | 0x21..=0x7E => {
                    out.push(c);
                    i += 1;
                }
                _ => {
                    return Err(format!("quoted-printable line {}: byte 0x{c:02X} must be encoded", n + 1));
                }
            }
        }
        if l.terminated && !soft {
            out.extend_from_slice(b"\r\n");
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// PNG

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[n] = c;
        n += 1;
    }
    t
};

/// CRC-32 (ISO-HDLC, as PNG and ZIP use) of the concatenation of `parts`.
/// The one CRC of the project: tests and fuzz skeletons build chunks with it.
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for p in parts {
        for &b in *p {
            c = CRC_TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
    }
    !c
}

fn be32(b: &[u8]) -> u32 {
    match b {
        [a, b, c, d, ..] => u32::from_be_bytes([*a, *b, *c, *d]),
        _ => 0,
    }
}

/// Structure problems of a PNG file (empty = fine).
fn png_problems(data: &[u8], max_side: u32) -> Vec<String> {
    const SIG: &[u8] = b"\x89PNG\r\n\x1a\n";
    const ALLOWED: [&[u8; 4]; 9] = [b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"sRGB", b"cHRM", b"pHYs"];
    if !data.starts_with(SIG) {
        return vec!["image/png part is not a PNG (bad signature)".to_string()];
    }
    let mut probs = Vec::new();
    let (mut pos, mut index) = (SIG.len(), 0usize);
    let (mut ended, mut seen_idat, mut idat_done, mut seen_plte, mut color_type) = (false, false, false, false, None);
    while pos < data.len() && probs.len() < 8 {
        let Some(head) = data.get(pos..pos + 8) else {
            probs.push("truncated PNG chunk header".to_string());
            break;
        };
        let len = be32(head) as usize;
        let ty = slice(head, 4, 8);
        let name = show(ty);
        let body_end = pos.saturating_add(8).saturating_add(len);
        let (Some(body), Some(crc)) = (data.get(pos + 8..body_end), data.get(body_end..body_end.saturating_add(4)))
        else {
            probs.push(format!("truncated PNG chunk {name}"));
            break;
        };
        if crc32(&[ty, body]) != be32(crc) {
            probs.push(format!("bad CRC in PNG chunk {name}"));
        }
        if index == 0 && ty != b"IHDR" {
            probs.push("first PNG chunk is not IHDR".to_string());
        }
        if seen_idat && ty != b"IDAT" {
            idat_done = true;
        }
        match ty {
            b"IHDR" if index == 0 => match ihdr_problem(body, max_side) {
                Ok(ct) => color_type = Some(ct),
                Err(p) => probs.push(p),
            },
            b"IHDR" => probs.push("second IHDR chunk".to_string()),
            b"PLTE" => {
                seen_plte = true;
                if seen_idat || len == 0 || !len.is_multiple_of(3) || len > 768 || matches!(color_type, Some(0 | 4)) {
                    probs.push("misplaced or malformed PLTE chunk".to_string());
                }
            }
            b"IDAT" => {
                if idat_done {
                    probs.push("IDAT chunks are not consecutive".to_string());
                }
                seen_idat = true;
            }
            b"IEND" => {
                if len != 0 {
                    probs.push("IEND chunk is not empty".to_string());
                }
                ended = true;
                pos = body_end + 4;
                break;
            }
            _ if ALLOWED.iter().any(|a| a.as_slice() == ty) => {
                if seen_idat {
                    probs.push(format!("PNG chunk {name} after IDAT"));
                }
            }
            _ => probs.push(format!("PNG chunk type {name} not allowed")),
        }
        pos = body_end + 4;
        index += 1;
    }
    if !ended {
        probs.push("PNG has no IEND chunk".to_string());
    } else if pos < data.len() {
        probs.push(format!("{} bytes after IEND (polyglot/trailing data)", data.len() - pos));
    }
    if !seen_idat {
        probs.push("PNG has no IDAT chunk".to_string());
    }
    if color_type == Some(3) && !seen_plte {
        probs.push("palette PNG without PLTE".to_string());
    }
    probs
}

/// Checks an IHDR body; returns the colour type.
fn ihdr_problem(body: &[u8], max_side: u32) -> Result<u8, String> {
    let [w0, w1, w2, w3, h0, h1, h2, h3, depth, ct, comp, filter, interlace] = body else {
        return Err(format!("IHDR is {} bytes (expected 13)", body.len()));
    };
    let (w, h) = (u32::from_be_bytes([*w0, *w1, *w2, *w3]), u32::from_be_bytes([*h0, *h1, *h2, *h3]));
    if w == 0 || h == 0 || w > max_side || h > max_side {
        return Err(format!("PNG dimensions {w}x{h} outside 1..={max_side}"));
    }
    let depth_ok = match ct {
        0 => matches!(depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(depth, 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(depth, 8 | 16),
        _ => false,
    };
    if !depth_ok || *comp != 0 || *filter != 0 || *interlace > 1 {
        return Err(format!("invalid IHDR (colour type {ct}, bit depth {depth})"));
    }
    Ok(*ct)
}

// ---------------------------------------------------------------------------
// 5. differential against mail-parser

fn check_differential(out: &[u8], scan: &Scan, sink: &mut Sink) {
    let parsed = catch_unwind(AssertUnwindSafe(|| MessageParser::new().parse(out)));
    let msg = match parsed {
        Err(_) => {
            sink.add(FORMAT, "mail-parser panicked on the output".to_string());
            return;
        }
        Ok(None) => {
            sink.add(FORMAT, "mail-parser finds no message in the output".to_string());
            return;
        }
        Ok(Some(m)) => m,
    };
    if let Some(top) = scan.entities.first() {
        if top.field("From").is_some() && msg.from().and_then(|a| a.first()).and_then(|a| a.address()).is_none() {
            sink.add(FORMAT, "mail-parser reads no From address".to_string());
        }
        let plausible = |d: &mail_parser::DateTime| {
            (1000..=9999).contains(&d.year) && (1..=12).contains(&d.month) && (1..=31).contains(&d.day)
        };
        if top.field("Date").is_some() && !msg.date().is_some_and(plausible) {
            sink.add(FORMAT, "mail-parser reads no valid Date".to_string());
        }
        if top.field("Message-ID").is_some() && msg.message_id().is_none() {
            sink.add(FORMAT, "mail-parser reads no Message-ID".to_string());
        }
    }
    if let Some(i) = msg.parts.iter().position(|p| p.is_encoding_problem) {
        sink.add(FORMAT, format!("mail-parser reports an encoding problem in its part {i}"));
    }
    if !scan.complete {
        return;
    }
    let theirs = msg.parts.iter().filter(|p| !matches!(p.body, PartType::Multipart(_))).count();
    let mine = scan.entities.iter().filter(|e| !e.container).count();
    if theirs != mine {
        sink.add(SAFETY, format!("parsers disagree: the boundary scan finds {mine} leaves, mail-parser {theirs}"));
        return;
    }
    if msg.parts.len() != scan.entities.len() {
        sink.add(
            SAFETY,
            format!("parsers disagree: {} entities, mail-parser {}", scan.entities.len(), msg.parts.len()),
        );
        return;
    }
    for (e, p) in scan.entities.iter().zip(msg.parts.iter()) {
        let their_mime = p.content_type().map_or_else(
            || "text/plain".to_string(),
            |ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()).to_ascii_lowercase(),
        );
        let their_container = matches!(p.body, PartType::Multipart(_));
        if their_container != e.container || (e.mime != "(unreadable)" && their_mime != e.mime) {
            sink.add(
                SAFETY,
                format!("parsers disagree on {}: {} here, {their_mime} in mail-parser", where_(&e.path), e.mime),
            );
            continue;
        }
        let Some(mine) = e.decoded.as_deref() else {
            continue;
        };
        let same = match &p.body {
            PartType::Binary(b) | PartType::InlineBinary(b) => b.as_ref() == mine,
            PartType::Text(t) | PartType::Html(t) => {
                let plain_charset = e.charset().is_none_or(|cs| cs == "utf-8" || cs == "us-ascii");
                !plain_charset || std::str::from_utf8(mine).is_err() || t.as_bytes() == mine
            }
            _ => true,
        };
        if !same {
            sink.add(SAFETY, format!("parsers disagree on the decoded content of {}", where_(&e.path)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // --- builders -----------------------------------------------------------

    fn b64(data: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for ch in data.chunks(3) {
            let n = ch.iter().enumerate().fold(0u32, |a, (i, &b)| a | u32::from(b) << (16 - 8 * i));
            for i in 0..4 {
                if i <= ch.len() {
                    s.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
                } else {
                    s.push('=');
                }
            }
        }
        s
    }

    /// base64 wrapped at 76 columns with CRLF, no final CRLF.
    fn b64_lines(data: &[u8]) -> String {
        let s = b64(data);
        s.as_bytes().chunks(76).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join("\r\n")
    }

    fn chunk(out: &mut Vec<u8>, ty: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        out.extend_from_slice(ty);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc32(&[ty, data]).to_be_bytes());
    }

    fn adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in data {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        b << 16 | a
    }

    fn ihdr(w: u32, h: u32) -> Vec<u8> {
        let mut v = w.to_be_bytes().to_vec();
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, no interlace
        v
    }

    /// A 1x1 grey PNG whose IDAT is a zlib stream with one stored block.
    fn png_with(extra_before_idat: Option<(&[u8; 4], &[u8])>) -> Vec<u8> {
        let raw = [0u8, 0x80]; // filter type 0, one grey pixel
        let mut z = vec![0x78, 0x01, 0x01];
        z.extend_from_slice(&2u16.to_le_bytes());
        z.extend_from_slice(&(!2u16).to_le_bytes());
        z.extend_from_slice(&raw);
        z.extend_from_slice(&adler32(&raw).to_be_bytes());
        let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut p, b"IHDR", &ihdr(1, 1));
        if let Some((ty, data)) = extra_before_idat {
            chunk(&mut p, ty, data);
        }
        chunk(&mut p, b"IDAT", &z);
        chunk(&mut p, b"IEND", b"");
        p
    }

    fn tiny_png() -> Vec<u8> {
        png_with(None)
    }

    const TOP: &str = "From: =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>\r\n\
        To: taro@example.lg.jp, \"Hanako\" <hanako@example.lg.jp>\r\n\
        Subject: =?UTF-8?B?5pel5pys6Kqe?=\r\n\
        Date: Mon, 3 Mar 2025 10:00:00 +0900\r\n\
        Message-ID: <abc.123@example.jp>\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"=_mugaika_1\"\r\n";

    const TEXT_PART: &str = "Content-Type: text/plain; charset=utf-8\r\n\
        Content-Transfer-Encoding: quoted-printable\r\n\
        \r\n\
        =E6=97=A5=E6=9C=AC=E8=AA=9E hello\r\n\
        second line";

    fn png_part(png: &[u8], filename: &str) -> String {
        format!(
            "Content-Type: image/png; name=\"{filename}\"\r\n\
             Content-Disposition: attachment; filename=\"{filename}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}",
            b64_lines(png)
        )
    }

    fn assemble(top: &str, parts: &[String]) -> Vec<u8> {
        let mut m = format!("{top}\r\nThis is a multi-part message in MIME format.\r\n");
        for p in parts {
            m.push_str("--=_mugaika_1\r\n");
            m.push_str(p);
            m.push_str("\r\n");
        }
        m.push_str("--=_mugaika_1--\r\n");
        m.into_bytes()
    }

    fn good() -> Vec<u8> {
        assemble(TOP, &[TEXT_PART.to_string(), png_part(&tiny_png(), "pic.png")])
    }

    fn run(m: &[u8]) -> Vec<Violation> {
        verify_output(m, &VerifyConfig::default())
    }

    /// Asserts a violation of `kind` whose detail contains `needle`.
    fn assert_fails(m: &[u8], kind: &str, needle: &str) {
        let v = run(m);
        assert!(
            v.iter().any(|x| x.kind == kind && x.detail.contains(needle)),
            "expected a {kind} violation mentioning {needle:?}, got {v:#?}"
        );
    }

    fn replace(m: &[u8], from: &str, to: &str) -> Vec<u8> {
        let s = String::from_utf8(m.to_vec()).unwrap();
        assert!(s.contains(from), "test bug: {from:?} not in message");
        s.replacen(from, to, 1).into_bytes()
    }

    // --- the good message ---------------------------------------------------

    #[test]
    fn crc32_known_values() {
        assert_eq!(crc32(&[b"123456789"]), 0xCBF4_3926);
        assert_eq!(crc32(&[b"IEND"]), 0xAE42_6082);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
    }

    #[test]
    fn known_good_message_passes() {
        let v = run(&good());
        assert!(v.is_empty(), "{v:#?}");
        assert!(png_problems(&tiny_png(), 10_000).is_empty());
    }

    #[test]
    fn single_part_message_passes() {
        let m = "From: a@example.jp\r\nDate: Tue, 4 Mar 2025 01:02:03 +0000\r\nMessage-ID: <x@y>\r\n\
                 MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nhello\r\n";
        let v = run(m.as_bytes());
        assert!(v.is_empty(), "{v:#?}");
        assert_eq!(output_text(m.as_bytes()).as_deref(), Some("hello\n"));
    }

    #[test]
    fn output_text_decodes_the_text_leaves() {
        assert_eq!(output_text(&good()).as_deref(), Some("日本語 hello\nsecond line"));
        let b = TEXT_PART
            .replace("quoted-printable", "base64")
            .replace("=E6=97=A5=E6=9C=AC=E8=AA=9E hello\r\nsecond line", &b64_lines("日本語\r\nx".as_bytes()));
        let m = assemble(TOP, &[b, TEXT_PART.to_string()]);
        assert!(run(&m).is_empty(), "{:#?}", run(&m));
        assert_eq!(output_text(&m).as_deref(), Some("日本語\nx日本語 hello\nsecond line"));
        assert_eq!(output_text(b""), None);
        let bad = replace(&good(), "=E6=97", "=E6=9");
        assert_eq!(output_text(&bad), None);
    }

    #[test]
    fn rfc2231_and_2047_filenames_are_decoded() {
        let m = assemble(
            TOP,
            &[
                TEXT_PART.to_string(),
                png_part(&tiny_png(), "x.png")
                    .replace("name=\"x.png\"", "name=\"=?UTF-8?B?5YaZ55yf?= =?UTF-8?Q?=2Epng?=\"")
                    .replace("filename=\"x.png\"", "filename*0*=UTF-8''%E5%86%99; filename*1*=%E7%9C%9F.png"),
            ],
        );
        let v = run(&m);
        assert!(v.is_empty(), "{v:#?}");
    }

    // --- one test per check ---------------------------------------------------

    #[test]
    fn bare_lf_fails() {
        assert_fails(&replace(&good(), "MIME-Version: 1.0\r\n", "MIME-Version: 1.0\n"), FORMAT, "bare LF");
    }

    #[test]
    fn bare_cr_and_nul_fail() {
        assert_fails(&replace(&good(), "second line", "second\rline"), FORMAT, "bare CR");
        assert_fails(&replace(&good(), "second line", "second\0line"), FORMAT, "NUL");
    }

    #[test]
    fn long_line_fails() {
        let m = replace(&good(), "MIME-Version", &format!("X-Long: {}\r\nMIME-Version", "a".repeat(1000)));
        assert_fails(&m, FORMAT, "octets");
    }

    #[test]
    fn eight_bit_header_fails() {
        assert_fails(&replace(&good(), "Subject: =?UTF-8?B?5pel5pys6Kqe?=", "Subject: 日本語"), FORMAT, "8-bit");
    }

    #[test]
    fn control_character_in_header_fails() {
        assert_fails(&replace(&good(), "Subject: ", "Subject: \x1b$B"), FORMAT, "control character 0x1B");
    }

    #[test]
    fn line_that_is_not_a_field_fails() {
        assert_fails(&replace(&good(), "MIME-Version", "From yamada Mon Mar 3\r\nMIME-Version"), FORMAT, "mbox");
        assert_fails(&replace(&good(), "MIME-Version", "Bad Name: x\r\nMIME-Version"), FORMAT, "not a header field");
    }

    #[test]
    fn missing_mime_version_fails() {
        assert_fails(&replace(&good(), "MIME-Version: 1.0\r\n", ""), FORMAT, "MIME-Version");
        assert_fails(&replace(&good(), "MIME-Version: 1.0", "MIME-Version: 1.1"), FORMAT, "MIME-Version");
    }

    #[test]
    fn raw_text_html_part_fails() {
        let m = replace(&good(), "text/plain; charset=utf-8", "text/html; charset=utf-8");
        assert_fails(&m, SAFETY, "text/html");
        assert_fails(&m, SAFETY, "leaf type text/html not allowed");
        // folded, and in a header that is not the part's own
        assert_fails(
            &replace(&good(), "MIME-Version", "X-Original-Content-Type:\r\n text/html\r\nMIME-Version"),
            SAFETY,
            "text/html",
        );
    }

    #[test]
    fn octet_stream_leaf_fails() {
        let m = replace(&good(), "Content-Type: image/png", "Content-Type: application/octet-stream");
        assert_fails(&m, SAFETY, "application/octet-stream not allowed");
    }

    #[test]
    fn message_rfc822_fails() {
        let inner = "Content-Type: message/rfc822\r\n\r\nFrom: x@y\r\nSubject: inner\r\n\r\nhello\r\n";
        let m = assemble(TOP, &[TEXT_PART.to_string(), inner.to_string()]);
        assert_fails(&m, SAFETY, "message/rfc822 is not allowed");
    }

    #[test]
    fn other_container_fails() {
        let m = replace(&good(), "multipart/mixed", "multipart/signed");
        assert_fails(&m, SAFETY, "container type multipart/signed");
    }

    #[test]
    fn duplicate_subject_fails() {
        assert_fails(&replace(&good(), "MIME-Version", "Subject: again\r\nMIME-Version"), SAFETY, "2 Subject headers");
        let dup_ct = TEXT_PART.replace("Content-Transfer", "Content-Type: text/plain\r\nContent-Transfer");
        assert_fails(&assemble(TOP, &[dup_ct]), SAFETY, "2 Content-Type headers");
    }

    #[test]
    fn split_encoded_word_fails() {
        let day = "日".as_bytes();
        let split = format!("Subject: =?UTF-8?B?{}?= =?UTF-8?B?{}?=", b64(&day[..2]), b64(&day[2..]));
        let m = replace(&good(), "Subject: =?UTF-8?B?5pel5pys6Kqe?=", &split);
        assert_fails(&m, FORMAT, "does not decode on its own");
    }

    #[test]
    fn bad_encoded_words_fail() {
        let cases = [
            ("=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=", "charset"),
            ("=?UTF-8?B?5pel5pys6Kqe=?=", "bad base64"),
            ("=?UTF-8?Q?=e6=97=a5?=", "upper-case hex"),
            ("=?UTF-8?Q?a=0Ab?=", "control"),
        ];
        for (word, needle) in cases {
            let m = replace(&good(), "=?UTF-8?B?5pel5pys6Kqe?=", word);
            assert_fails(&m, FORMAT, needle);
        }
        let long = format!("=?UTF-8?Q?{}?=", "a".repeat(70));
        assert_fails(&replace(&good(), "=?UTF-8?B?5pel5pys6Kqe?=", &long), FORMAT, "75");
    }

    #[test]
    fn bad_base64_fails() {
        let png = b64_lines(&tiny_png());
        let mut bad = png.clone();
        bad.replace_range(5..6, "*");
        assert_fails(&replace(&good(), &png, &bad), FORMAT, "outside the alphabet");
        let unpadded = png.trim_end_matches('=').to_string();
        assert_fails(&replace(&good(), &png, &unpadded), FORMAT, "multiple of 4");
        let joined = png.replace("\r\n", "");
        assert_fails(&replace(&good(), &png, &joined), FORMAT, "> 76");
    }

    #[test]
    fn bad_quoted_printable_fails() {
        assert_fails(&replace(&good(), "=E6=97=A5", "=e6=97=a5"), FORMAT, "upper-case hex");
        assert_fails(&replace(&good(), "=E6=97=A5", "=ZZ=97=A5"), FORMAT, "upper-case hex");
        assert_fails(&replace(&good(), "second line", &"x".repeat(80)), FORMAT, "> 76");
        assert_fails(&replace(&good(), " hello\r\n", " hello \r\n"), FORMAT, "white space");
    }

    #[test]
    fn seven_bit_with_8bit_data_fails() {
        let part = "Content-Type: text/plain; charset=utf-8\r\n\r\n日本語\r\n";
        assert_fails(&assemble(TOP, &[part.to_string()]), FORMAT, "declares 7bit");
        let part = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n日本語\r\n";
        let v = run(&assemble(TOP, &[part.to_string()]));
        assert!(v.is_empty(), "{v:#?}");
    }

    #[test]
    fn unknown_transfer_encoding_fails() {
        assert_fails(&replace(&good(), "quoted-printable", "x-uuencode"), FORMAT, "x-uuencode");
        assert_fails(&replace(&good(), "quoted-printable", "binary"), FORMAT, "binary");
    }

    #[test]
    fn charset_and_invalid_utf8_fail() {
        assert_fails(&replace(&good(), "charset=utf-8", "charset=shift_jis"), FORMAT, "shift_jis");
        assert_fails(&replace(&good(), "=E6=97=A5", "=E6=97=E6"), FORMAT, "does not decode as utf-8");
        assert_fails(&replace(&good(), "charset=utf-8", "charset=us-ascii"), FORMAT, "us-ascii");
    }

    #[test]
    fn control_characters_in_text_fail() {
        assert_fails(&replace(&good(), " hello", "=1B hello"), FORMAT, "U+001B");
        assert_fails(&replace(&good(), " hello", "=C2=85 hello"), FORMAT, "U+0085");
        assert_fails(&replace(&good(), " hello", "=0A hello"), FORMAT, "U+000A");
    }

    #[test]
    fn bidi_in_text_fails() {
        assert_fails(&replace(&good(), " hello", "=E2=80=AE hello"), FORMAT, "bidi");
    }

    #[test]
    fn png_with_text_chunk_fails() {
        let png = png_with(Some((b"tEXt", b"Comment\0hi")));
        let m = assemble(TOP, &[TEXT_PART.to_string(), png_part(&png, "pic.png")]);
        assert_fails(&m, SAFETY, "tEXt");
    }

    #[test]
    fn data_after_iend_fails() {
        let mut png = tiny_png();
        png.extend_from_slice(b"PK\x03\x04zip");
        let m = assemble(TOP, &[TEXT_PART.to_string(), png_part(&png, "pic.png")]);
        assert_fails(&m, SAFETY, "after IEND");
    }

    #[test]
    fn bad_crc_fails() {
        let mut png = tiny_png();
        let n = png.len();
        png[n - 13] ^= 1; // last byte of the IDAT CRC
        let m = assemble(TOP, &[TEXT_PART.to_string(), png_part(&png, "pic.png")]);
        assert_fails(&m, SAFETY, "bad CRC");
    }

    #[test]
    fn other_png_problems_fail() {
        assert_eq!(png_problems(b"GIF89a", 10), vec!["image/png part is not a PNG (bad signature)".to_string()]);
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        chunk(&mut big, b"IHDR", &ihdr(20_000, 1));
        chunk(&mut big, b"IEND", b"");
        let p = png_problems(&big, 10_000);
        assert!(p.iter().any(|x| x.contains("20000x1")), "{p:?}");
        assert!(p.iter().any(|x| x.contains("no IDAT")), "{p:?}");
        let truncated = &tiny_png()[..30];
        assert!(png_problems(truncated, 10).iter().any(|x| x.contains("truncated")));
    }

    #[test]
    fn bad_filenames_fail() {
        let m = assemble(TOP, &[TEXT_PART.to_string(), png_part(&tiny_png(), "a.exe")]);
        assert_fails(&m, SAFETY, "extension must be .png");
        let m = assemble(TOP, &[TEXT_PART.to_string(), png_part(&tiny_png(), "../a.png")]);
        assert_fails(&m, SAFETY, "path separator");
        let m = assemble(TOP, &[TEXT_PART.to_string(), png_part(&tiny_png(), "a.png.")]);
        assert_fails(&m, SAFETY, "extension");
    }

    #[test]
    fn bidi_in_filename_fails() {
        // RFC 2231 form and RFC 2047 form
        let part = png_part(&tiny_png(), "x.png").replace("filename=\"x.png\"", "filename*=UTF-8''a%E2%80%AEgnp.png");
        assert_fails(&assemble(TOP, &[TEXT_PART.to_string(), part]), SAFETY, "bidi");
        let word = format!("=?UTF-8?B?{}?=", b64("a\u{202E}gnp.png".as_bytes()));
        let part = png_part(&tiny_png(), "x.png").replace("name=\"x.png\"", &format!("name=\"{word}\""));
        assert_fails(&assemble(TOP, &[TEXT_PART.to_string(), part]), SAFETY, "bidi");
    }

    #[test]
    fn missing_from_and_date_are_allowed_but_message_id_is_required() {
        let m = replace(&good(), "From: =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>\r\n", "");
        let m = replace(&m, "Date: Mon, 3 Mar 2025 10:00:00 +0900\r\n", "");
        assert_eq!(run(&m), vec![]);
        let m = replace(&m, "Message-ID: <abc.123@example.jp>\r\n", "");
        assert_fails(&m, FORMAT, "no Message-ID header");
    }

    #[test]
    fn malformed_identity_headers_fail() {
        let from = "From: =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>";
        assert_fails(&replace(&good(), from, "From: MAILER-DAEMON <>"), FORMAT, "From header is malformed");
        assert_fails(&replace(&good(), from, "From: a@b, "), FORMAT, "From header is malformed");
        assert_fails(&replace(&good(), from, "From: undisclosed:;"), FORMAT, "From header is malformed");
        let date = "Date: Mon, 3 Mar 2025 10:00:00 +0900";
        assert_fails(&replace(&good(), date, "Date:"), FORMAT, "Date header is malformed");
        assert_fails(&replace(&good(), date, "Date: 30 Feb 2025 10:00:00 +0900"), FORMAT, "Date header");
        assert_fails(&replace(&good(), date, "Date: Mon, 3 Mar 2025 10:00 JST"), FORMAT, "Date header");
        assert_fails(&replace(&good(), "<abc.123@example.jp>", "abc.123@example.jp"), FORMAT, "Message-ID");
        assert_fails(&replace(&good(), "<abc.123@example.jp>", "<abc 123@example.jp>"), FORMAT, "Message-ID");
        assert_fails(&replace(&good(), "To: taro@example.lg.jp", "To: taro@"), FORMAT, "To header");
    }

    #[test]
    fn accepted_header_variants_pass() {
        let variants = [
            ("Date: Mon, 3 Mar 2025 10:00:00 +0900", "Date: 3 Mar 25 10:00 GMT (comment)"),
            ("To: taro@example.lg.jp, \"Hanako\" <hanako@example.lg.jp>", "To: undisclosed-recipients:;"),
            ("To: taro@example.lg.jp, \"Hanako\" <hanako@example.lg.jp>", "To: team: a@b.c, d@[192.0.2.1];, e.f@g"),
            ("From: =?UTF-8?B?5bGx55Sw?= <yamada@example.jp>", "From: John Q. Public <jqp@example.com> (x)"),
            ("Message-ID: <abc.123@example.jp>", "Message-ID: <a$b=c@[127.0.0.1]>"),
            ("MIME-Version: 1.0", "MIME-Version: 1.0 (Apple Message framework v929.2)"),
        ];
        for (from, to) in variants {
            let v = run(&replace(&good(), from, to));
            assert!(v.is_empty(), "{to}: {v:#?}");
        }
    }

    #[test]
    fn no_text_part_fails_fidelity() {
        let m = assemble(TOP, &[png_part(&tiny_png(), "pic.png")]);
        assert_fails(&m, FIDELITY, "no text/plain");
    }

    // --- boundaries and the differential --------------------------------------

    #[test]
    fn boundary_inside_a_line_fails() {
        let m = replace(&good(), "second line", "second line x--=_mugaika_1 y");
        assert_fails(&m, SAFETY, "inside a line");
    }

    #[test]
    fn boundary_as_line_prefix_fails() {
        // 7bit text so that the line survives as written
        let part = "Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n--=_mugaika_1x\r\nmore";
        let m = assemble(TOP, &[part.to_string()]);
        assert_fails(&m, SAFETY, "start with the boundary");
    }

    #[test]
    fn nested_overlapping_boundary_fails() {
        let inner = "Content-Type: multipart/alternative; boundary=\"=_mugaika_1_alt\"\r\n\r\n\
                     --=_mugaika_1_alt\r\nContent-Type: text/plain\r\n\r\nhi\r\n--=_mugaika_1_alt--";
        let m = assemble(TOP, &[inner.to_string()]);
        assert_fails(&m, SAFETY, "overlaps an enclosing boundary");
    }

    #[test]
    fn nested_multipart_passes() {
        let inner = "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
                     --alt\r\nContent-Type: text/plain\r\n\r\nhi\r\n--alt\r\n\
                     Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
                     5pel5pys6Kqe\r\n--alt--";
        let m = assemble(TOP, &[inner.to_string(), png_part(&tiny_png(), "p.png")]);
        let v = run(&m);
        assert!(v.is_empty(), "{v:#?}");
        assert_eq!(output_text(&m).as_deref(), Some("hi日本語"));
    }

    #[test]
    fn missing_boundary_and_close_delimiter_fail() {
        let m = replace(&good(), "; boundary=\"=_mugaika_1\"", "");
        assert_fails(&m, SAFETY, "without a boundary");
        let m = replace(&good(), "--=_mugaika_1--\r\n", "");
        assert_fails(&m, FORMAT, "close delimiter");
        let m = replace(&good(), "boundary=\"=_mugaika_1\"", "boundary=\"=_mugaika_1\"; boundary=other");
        assert_fails(&m, SAFETY, "parameter boundary more than once");
    }

    #[test]
    fn leaf_count_differential_is_checked() {
        // mail-parser reads the delimiter with trailing junk as a delimiter
        // (then headers), the strict scan does not
        let part = "Content-Type: text/plain\r\n\r\nhello\r\n--=_mugaika_1 junk\r\nContent-Type: text/plain\r\n\r\nx";
        let m = assemble(TOP, &[part.to_string()]);
        let v = run(&m);
        assert!(v.iter().any(|x| x.kind == SAFETY && x.detail.contains("parsers disagree")), "{v:#?}");
    }

    #[test]
    fn depth_and_part_limits() {
        let mut m =
            String::from("From: a@b.c\r\nDate: 1 Jan 2025 00:00 +0000\r\nMessage-ID: <a@b>\r\nMIME-Version: 1.0\r\n");
        let depth = 12;
        for i in 0..depth {
            m.push_str(&format!("Content-Type: multipart/mixed; boundary=\"b{i}x\"\r\n\r\n--b{i}x\r\n"));
        }
        m.push_str("Content-Type: text/plain\r\n\r\nhi\r\n");
        for i in (0..depth).rev() {
            m.push_str(&format!("--b{i}x--\r\n"));
        }
        assert_fails(m.as_bytes(), SAFETY, "nesting deeper than 8");
        let cfg = VerifyConfig { max_parts: 5, ..VerifyConfig::default() };
        let v = verify_output(m.as_bytes(), &cfg);
        assert!(v.iter().any(|x| x.kind == SAFETY && x.detail.contains("more than 5")), "{v:#?}");
        let cfg = VerifyConfig { max_depth: 20, ..VerifyConfig::default() };
        let v = verify_output(m.as_bytes(), &cfg);
        assert!(v.is_empty(), "{v:#?}");
    }

    #[test]
    fn violations_are_capped() {
        let mut m =
            String::from("From: a@b.c\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
        for i in 0..200 {
            m.push_str(&format!("--b\r\nContent-Type: application/x-{i}\r\n\r\nx\r\n"));
        }
        m.push_str("--b--\r\n");
        let v = run(m.as_bytes());
        assert_eq!(v.len(), MAX_VIOLATIONS);
    }

    // --- hostile input ----------------------------------------------------------

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut r = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..300 {
            let len = (r.next() % 600) as usize;
            let alphabet = b"\r\n-=?:; \"abB=Content-Type/multipart boundary\x00\x89PNG\xff";
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    let x = r.next();
                    if x.is_multiple_of(3) { (x >> 8) as u8 } else { alphabet[(x >> 8) as usize % alphabet.len()] }
                })
                .collect();
            let _ = run(&buf);
            let _ = output_text(&buf);
        }
    }

    #[test]
    fn mutated_and_truncated_good_message_never_panics() {
        let g = good();
        for cut in (0..g.len()).step_by(5) {
            let _ = run(&g[..cut]);
            let _ = output_text(&g[..cut]);
        }
        let mut r = Rng(12345);
        for _ in 0..300 {
            let mut m = g.clone();
            for _ in 0..(1 + r.next() % 4) {
                let i = (r.next() as usize) % m.len();
                match r.next() % 3 {
                    0 => m[i] = (r.next() >> 8) as u8,
                    1 => {
                        m.remove(i);
                    }
                    _ => m.insert(i, b"\r\n-=?\"("[(r.next() % 7) as usize]),
                }
            }
            let _ = run(&m);
            let _ = output_text(&m);
        }
    }

    #[test]
    fn many_parameters_stay_fast() {
        let params = (0..50_000).map(|i| format!("; p{i}=v")).collect::<String>();
        let m = replace(&good(), "charset=utf-8", &format!("charset=utf-8{params}; p1=x"));
        let start = std::time::Instant::now();
        assert_fails(&m, SAFETY, "parameter p1 more than once");
        assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
    }

    #[test]
    fn deep_nesting_does_not_overflow_the_stack() {
        let mut m = String::from("From: a@b.c\r\nMIME-Version: 1.0\r\n");
        for i in 0..5_000 {
            m.push_str(&format!("Content-Type: multipart/mixed; boundary=\"{i}\"\r\n\r\n--{i}\r\n"));
        }
        let cfg = VerifyConfig { max_depth: usize::MAX, ..VerifyConfig::default() };
        let v = verify_output(m.as_bytes(), &cfg);
        assert!(!v.is_empty());
        let _ = output_text(m.as_bytes());
    }

    #[test]
    fn pathological_inputs_stay_fast() {
        // many encoded-word starts, many boundary-like lines, long header
        let mut m = String::from("From: a@b.c\r\nSubject: ");
        m.push_str(&"=?=?a?".repeat(20_000));
        m.push_str("\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=aaaa\r\n\r\n");
        for _ in 0..20_000 {
            m.push_str("--aaa--aaa-aaaaa\r\n");
        }
        m.push_str(&"(".repeat(50_000));
        let start = std::time::Instant::now();
        let _ = run(m.as_bytes());
        assert!(start.elapsed().as_secs() < 5, "took {:?}", start.elapsed());
    }
}
