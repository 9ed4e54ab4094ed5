//! Header field decoding (input side) and encoding (output side).
//!
//! # Input side
//!
//! * [`decode_unstructured`] turns the raw bytes of an unstructured field
//!   (Subject, Comments, a display name) into clean text: it unfolds, decodes
//!   RFC 2047 encoded words and raw (un-encoded) 8-bit or ISO-2022-JP bytes,
//!   removes control characters and collapses folding whitespace.
//! * [`parse_content_params`] splits a Content-Type / Content-Disposition
//!   value into its main value and decoded parameters (RFC 2045 quoted
//!   strings, RFC 2231 continuations and charsets, RFC 2047 words inside
//!   quotes, raw 8-bit Shift_JIS/UTF-8), and reports parameters that were given
//!   more than once with different values (a parser-differential smell).
//!
//! Both are liberal in what they accept, as Japanese mail needs: encoded words
//! are recognised anywhere (also glued to ordinary text), adjacent words in the
//! same charset are joined at the byte level before charset decoding (so a
//! character split between two words by a careless encoder still decodes), and
//! raw 8-bit bytes go through `charset::decode_fragment(bytes, None)`. Seven
//! bit text with ISO-2022 escape sequences (`ESC $ B`, raw JIS as old Japanese
//! mailers send it) is decoded as ISO-2022-JP and counted as raw, like 8-bit.
//! A quoted string with 8-bit bytes that are not UTF-8 is re-read treating a
//! backslash after a Shift_JIS lead byte as the second byte of that character
//! (the "dame-moji" 0x5C problem), not as an escape.
//!
//! Decoded text never contains C0 controls (except that tab, CR and LF become
//! a space), DEL or C1 controls; a run of whitespace containing a tab, CR or LF
//! (folding) becomes one space, runs of plain spaces are kept; the text is
//! trimmed. A CR/LF that arrives inside an encoded word is therefore a space.
//!
//! # Output side
//!
//! [`encode_unstructured_field`], [`encode_address_field`] and
//! [`encode_filename_params`] write 7-bit fields folded with CRLF + space so
//! that lines stay within 78 octets where possible and never exceed 998.
//! Non-ASCII text is written as `=?UTF-8?B?…?=` words of at most 75 characters,
//! each holding whole UTF-8 characters so that every word decodes on its own
//! (Python's `email` package and others check this); filenames as RFC 2231
//! `filename*` (continuations split at character boundaries too, since Python
//! decodes each section on its own) plus an RFC 2047 `name="…"` for Outlook.
//!
//! # Limits
//!
//! Everything is linear in the input: the encoded-word scanner looks at each
//! byte a bounded number of times (a failed candidate stops at the next `?`),
//! no recursion, no quadratic look-ups (parameters are found through a hash
//! map). A decoded value is cut at [`MAX_DECODED_LEN`] bytes (at a character
//! boundary); at most [`MAX_PARAMS`] distinct parameters, [`MAX_SECTIONS`]
//! continuation sections per parameter (section numbers must be below it) and
//! [`MAX_CONFLICTS`] conflicts are kept. Hitting any limit sets a flag
//! (`truncated` / `limited`) so the caller can fail closed. Nothing here panics
//! on any input.

use std::collections::HashMap;

use crate::charset::{self, Decoded};

/// Longest decoded text (bytes of UTF-8) returned for one field or parameter.
pub const MAX_DECODED_LEN: usize = 64 * 1024;
/// Most distinct parameter names kept by [`parse_content_params`].
pub const MAX_PARAMS: usize = 1000;
/// Most RFC 2231 continuation sections kept per parameter; also the bound on
/// a section number.
pub const MAX_SECTIONS: usize = 1000;
/// Most conflicts recorded by [`parse_content_params`].
pub const MAX_CONFLICTS: usize = 64;

/// Longest charset label (with an RFC 2231 language suffix) in an encoded word.
const MAX_LABEL_LEN: usize = 64;
/// Longest parameter name kept.
const MAX_PARAM_NAME_LEN: usize = 256;
/// Line length we aim for (RFC 5322 "SHOULD").
const SOFT_LINE: usize = 78;
/// Line length we never exceed (RFC 5322 "MUST").
const HARD_LINE: usize = 998;
/// Longest encoded word (RFC 2047).
const MAX_WORD: usize = 75;
/// `=?UTF-8?B?` + `?=`.
const WORD_OVERHEAD: usize = 12;
/// Longest header field name we write.
const MAX_FIELD_NAME: usize = 76;
/// Longest addr-spec we write (RFC 5321 path limit less the brackets).
const MAX_ADDR_SPEC: usize = 254;

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// Result of [`decode_unstructured`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodedHeader {
    /// The clean, decoded text.
    pub text: String,
    /// Un-encoded non-ASCII bytes were present (8-bit bytes, or ISO-2022-JP
    /// escape sequences written raw).
    pub raw_8bit: bool,
    /// At least one RFC 2047 encoded word was decoded.
    pub had_encoded_words: bool,
    /// A charset label was unknown or wrong, or bytes had to be replaced.
    pub charset_problems: bool,
    /// Control characters were removed.
    pub controls_removed: bool,
    /// The text was cut at [`MAX_DECODED_LEN`].
    pub truncated: bool,
}

/// Result of [`parse_content_params`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContentParams {
    /// Lower-cased, trimmed main value (`text/plain`, `attachment`); empty if
    /// missing.
    pub value: String,
    /// One entry per parameter name (lower-cased), in first-seen order, with
    /// its effective decoded value: the RFC 2231 form (`name*=` or the
    /// reassembled `name*0…`) when there is one, else the first plain value.
    /// Disagreeing repeats are in [`ContentParams::conflicts`].
    pub params: Vec<(String, String)>,
    /// A parameter given more than once with different decoded values:
    /// `(name, first value, other value)`. A duplicated continuation section
    /// is reported as `name*N` with its raw section values.
    pub conflicts: Vec<(String, String, String)>,
    /// A value contained raw 8-bit (or raw ISO-2022-JP) bytes.
    pub raw_8bit: bool,
    /// A charset label was unknown or wrong, or bytes had to be replaced.
    pub charset_problems: bool,
    /// A limit was hit: too many parameters, sections or conflicts, a section
    /// number too large, a name or value cut. The caller should fail closed.
    pub limited: bool,
}

impl ContentParams {
    /// The effective value of parameter `name` (ASCII case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

// ---------------------------------------------------------------------------
// Clean text sink
// ---------------------------------------------------------------------------

/// Collects decoded text: removes controls, turns tab/CR/LF into space,
/// collapses whitespace runs that contain one of them, trims both ends, and
/// stops at a byte cap (at a character boundary).
struct Sink {
    out: String,
    pending_spaces: usize,
    pending_fold: bool,
    full: bool,
    truncated: bool,
    controls_removed: bool,
}

impl Sink {
    fn new() -> Self {
        Sink {
            out: String::new(),
            pending_spaces: 0,
            pending_fold: false,
            full: false,
            truncated: false,
            controls_removed: false,
        }
    }

    fn push_str(&mut self, s: &str) {
        for c in s.chars() {
            if self.full {
                if !c.is_whitespace() {
                    self.truncated = true;
                }
                return;
            }
            self.push_char(c);
        }
    }

    fn push_char(&mut self, c: char) {
        match c {
            ' ' => self.pending_spaces = self.pending_spaces.saturating_add(1),
            '\t' | '\r' | '\n' => {
                self.pending_spaces = self.pending_spaces.saturating_add(1);
                self.pending_fold = true;
            }
            c if is_control(c) => self.controls_removed = true,
            c => {
                let ws = if self.out.is_empty() {
                    0
                } else if self.pending_fold {
                    1
                } else {
                    self.pending_spaces
                };
                if self.out.len().saturating_add(ws).saturating_add(c.len_utf8()) > MAX_DECODED_LEN {
                    self.full = true;
                    self.truncated = true;
                    return;
                }
                for _ in 0..ws {
                    self.out.push(' ');
                }
                self.out.push(c);
                self.pending_spaces = 0;
                self.pending_fold = false;
            }
        }
    }
}

fn is_control(c: char) -> bool {
    (c < ' ' && c != '\t') || ('\u{7f}'..='\u{9f}').contains(&c)
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Flags gathered while decoding.
#[derive(Default, Clone, Copy)]
struct Flags {
    raw_8bit: bool,
    had_encoded_words: bool,
    charset_problems: bool,
    controls_removed: bool,
    truncated: bool,
}

impl Flags {
    fn note(&mut self, d: &Decoded) {
        if d.mislabeled || d.unknown_label || d.replacements > 0 {
            self.charset_problems = true;
        }
    }
}

// ---------------------------------------------------------------------------
// RFC 2047 encoded words
// ---------------------------------------------------------------------------

struct EncodedWord<'a> {
    /// Charset label without an RFC 2231 language suffix.
    charset: &'a [u8],
    /// Transfer-decoded bytes.
    bytes: Vec<u8>,
    /// Index just past the closing `?=`.
    end: usize,
}

/// Tries to read an encoded word starting at `start` (which holds `=?`).
/// The scan stops at the third `?` at the latest, which keeps the overall
/// scanner linear.
fn parse_encoded_word(raw: &[u8], start: usize) -> Option<EncodedWord<'_>> {
    let rest = raw.get(start.checked_add(2)?..)?;
    let q1 = rest.iter().take(MAX_LABEL_LEN + 1).position(|&b| b == b'?')?;
    let label = rest.get(..q1)?;
    if label.is_empty() || !label.iter().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    let charset = label.split(|&b| b == b'*').next()?;
    if charset.is_empty() {
        return None;
    }
    let enc = *rest.get(q1 + 1)?;
    if rest.get(q1 + 2) != Some(&b'?') {
        return None;
    }
    let text_start = q1 + 3;
    let tail = rest.get(text_start..)?;
    let len = tail.iter().position(|&b| b == b'?' || is_ws(b))?;
    if tail.get(len) != Some(&b'?') || tail.get(len + 1) != Some(&b'=') {
        return None;
    }
    let text = tail.get(..len)?;
    let bytes = match enc {
        b'B' | b'b' => decode_b(text)?,
        b'Q' | b'q' => decode_q(text),
        _ => return None,
    };
    Some(EncodedWord { charset, bytes, end: start + 2 + text_start + len + 2 })
}

fn b64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Lenient base64: stops at the first `=`, tolerates missing padding, rejects
/// characters outside the alphabet.
fn decode_b(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &b in text {
        if b == b'=' {
            break;
        }
        acc = (acc << 6) | u32::from(b64_value(b)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `_` is a space, `=XX` a byte (any case); a stray `=` stays.
fn decode_q(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        match b {
            b'_' => out.push(b' '),
            b'=' => {
                let hi = text.get(i + 1).copied().and_then(hex_value);
                let lo = text.get(i + 2).copied().and_then(hex_value);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                out.push(b'=');
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------
// Decoding core
// ---------------------------------------------------------------------------

/// Seven-bit text with an ISO-2022 designation (`ESC $` or `ESC (`).
fn has_iso2022_escape(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w[0] == 0x1b && (w[1] == b'$' || w[1] == b'('))
}

/// Decodes bytes that were not inside an encoded word.
fn emit_literal(sink: &mut Sink, flags: &mut Flags, lit: &[u8]) {
    if lit.is_ascii() {
        if has_iso2022_escape(lit) {
            flags.raw_8bit = true;
            let d = charset::decode_fragment(lit, Some("ISO-2022-JP"));
            flags.note(&d);
            sink.push_str(&d.text);
        } else if let Ok(s) = std::str::from_utf8(lit) {
            sink.push_str(s);
        }
    } else {
        flags.raw_8bit = true;
        let d = charset::decode_fragment(lit, None);
        flags.note(&d);
        sink.push_str(&d.text);
    }
}

fn emit_group(sink: &mut Sink, flags: &mut Flags, group: &mut Option<(&[u8], Vec<u8>)>) {
    if let Some((label, bytes)) = group.take() {
        let label = std::str::from_utf8(label).unwrap_or("");
        let d = charset::decode_fragment(&bytes, Some(label));
        flags.note(&d);
        sink.push_str(&d.text);
    }
}

/// Decodes `raw` (encoded words only when `allow_2047`) into clean text.
fn decode_text(raw: &[u8], allow_2047: bool) -> (String, Flags) {
    let mut sink = Sink::new();
    let mut flags = Flags::default();
    // Adjacent encoded words with the same charset, not yet decoded. `Some`
    // exactly when the last thing seen was an encoded word.
    let mut group: Option<(&[u8], Vec<u8>)> = None;
    let mut lit_start = 0;
    let mut i = 0;
    while i < raw.len() && !sink.full {
        if allow_2047
            && raw.get(i) == Some(&b'=')
            && raw.get(i + 1) == Some(&b'?')
            && let Some(w) = parse_encoded_word(raw, i)
        {
            let lit = raw.get(lit_start..i).unwrap_or_default();
            let only_ws_between = group.is_some() && lit.iter().all(|&b| is_ws(b));
            if !only_ws_between {
                emit_group(&mut sink, &mut flags, &mut group);
                emit_literal(&mut sink, &mut flags, lit);
            }
            flags.had_encoded_words = true;
            match &mut group {
                Some((label, bytes)) if label.eq_ignore_ascii_case(w.charset) => bytes.extend_from_slice(&w.bytes),
                _ => {
                    emit_group(&mut sink, &mut flags, &mut group);
                    group = Some((w.charset, w.bytes));
                }
            }
            i = w.end;
            lit_start = i;
            continue;
        }
        i += 1;
    }
    emit_group(&mut sink, &mut flags, &mut group);
    if !sink.full {
        emit_literal(&mut sink, &mut flags, raw.get(lit_start..).unwrap_or_default());
    } else {
        flags.truncated = true;
    }
    flags.controls_removed |= sink.controls_removed;
    flags.truncated |= sink.truncated;
    (sink.out, flags)
}

/// Clean already-decoded text (from an RFC 2231 value).
fn clean_text(s: &str) -> (String, Flags) {
    let mut sink = Sink::new();
    sink.push_str(s);
    let flags = Flags { controls_removed: sink.controls_removed, truncated: sink.truncated, ..Flags::default() };
    (sink.out, flags)
}

/// Unfold and decode an unstructured header value (raw bytes as in the
/// message, without the field name and colon): RFC 2047 B/Q words in any
/// case (also `charset*lang`), whitespace between adjacent words dropped,
/// adjacent same-charset words joined at the byte level before charset
/// decoding, malformed words left as written, raw 8-bit runs (and raw
/// ISO-2022-JP) decoded through `charset::decode_fragment`; controls removed,
/// folding whitespace collapsed, trimmed, cut at [`MAX_DECODED_LEN`].
pub fn decode_unstructured(raw: &[u8]) -> DecodedHeader {
    let (text, f) = decode_text(raw, true);
    DecodedHeader {
        text,
        raw_8bit: f.raw_8bit,
        had_encoded_words: f.had_encoded_words,
        charset_problems: f.charset_problems,
        controls_removed: f.controls_removed,
        truncated: f.truncated,
    }
}

// ---------------------------------------------------------------------------
// Content-Type / Content-Disposition parameters
// ---------------------------------------------------------------------------

/// Skips a (nested) comment starting at `p` (which holds `(`); returns the
/// index after it (or the end).
fn skip_comment(s: &[u8], mut p: usize) -> usize {
    let mut depth = 0usize;
    while let Some(&b) = s.get(p) {
        match b {
            b'\\' => p += 1,
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return p + 1;
                }
            }
            _ => {}
        }
        p += 1;
    }
    s.len()
}

fn is_sjis_lead(b: u8) -> bool {
    matches!(b, 0x81..=0x9f | 0xe0..=0xfc)
}

fn is_sjis_trail(b: u8) -> bool {
    matches!(b, 0x40..=0x7e | 0x80..=0xfc)
}

/// Reads a quoted string starting at `p` (which holds `"`). With `sjis`, a
/// Shift_JIS lead byte takes the next byte with it (so a 0x5C trail byte is
/// not an escape). Returns the unescaped bytes and the index after the
/// closing quote (or the end if unterminated).
fn read_quoted(s: &[u8], p: usize, sjis: bool) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut p = p + 1;
    while let Some(&b) = s.get(p) {
        match b {
            b'"' => return (out, p + 1),
            b'\\' => {
                if let Some(&n) = s.get(p + 1) {
                    out.push(n);
                }
                p += 2;
            }
            b if sjis && is_sjis_lead(b) && s.get(p + 1).is_some_and(|&n| is_sjis_trail(n)) => {
                out.push(b);
                out.extend(s.get(p + 1).copied());
                p += 2;
            }
            b => {
                out.push(b);
                p += 1;
            }
        }
    }
    (out, s.len())
}

/// A quoted string, read strictly unless the strict reading is not UTF-8
/// (then the Shift_JIS-aware reading is used).
fn parse_quoted(s: &[u8], p: usize) -> (Vec<u8>, usize) {
    let strict = read_quoted(s, p, false);
    if std::str::from_utf8(&strict.0).is_ok() { strict } else { read_quoted(s, p, true) }
}

fn trim_ws(mut v: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = v {
        if is_ws(*first) {
            v = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = v {
        if is_ws(*last) {
            v = rest;
        } else {
            break;
        }
    }
    v
}

fn percent_decode(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        if b == b'%' {
            let hi = v.get(i + 1).copied().and_then(hex_value);
            let lo = v.get(i + 2).copied().and_then(hex_value);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// Splits `charset'lang'value`; `None` charset when absent or empty.
fn split_2231(v: &[u8]) -> (Option<&[u8]>, &[u8]) {
    let Some(a) = v.iter().position(|&b| b == b'\'') else { return (None, v) };
    let after = v.get(a + 1..).unwrap_or_default();
    let Some(b) = after.iter().position(|&b| b == b'\'') else { return (None, v) };
    let charset = v.get(..a).unwrap_or_default();
    let rest = after.get(b + 1..).unwrap_or_default();
    (if charset.is_empty() { None } else { Some(charset) }, rest)
}

/// Decodes RFC 2231 bytes (already percent-decoded) in `charset`.
fn decode_2231_bytes(bytes: &[u8], charset: Option<&[u8]>) -> (String, Flags) {
    match charset.and_then(|c| std::str::from_utf8(c).ok()) {
        Some(label) => {
            let d = charset::decode_fragment(bytes, Some(label.trim()));
            let (text, mut flags) = clean_text(&d.text);
            flags.note(&d);
            (text, flags)
        }
        None => decode_text(bytes, false),
    }
}

/// How a parameter name was written.
enum ParamKind {
    Plain,
    /// `name*=charset'lang'value`
    Extended,
    /// `name*N=` or `name*N*=`
    Section {
        index: usize,
        extended: bool,
    },
}

/// Why a parameter name was not used.
enum BadName {
    /// Empty base name or similar junk: ignored.
    Junk,
    /// A section number at or above [`MAX_SECTIONS`]: ignored, a limit hit.
    SectionTooLarge,
}

/// Splits a lower-cased parameter name into its base and kind.
fn classify_name(name: &str) -> Result<(&str, ParamKind), BadName> {
    let (stem, extended) = match name.strip_suffix('*') {
        Some(s) => (s, true),
        None => (name, false),
    };
    if let Some(star) = stem.rfind('*') {
        let digits = stem.get(star + 1..).unwrap_or_default();
        let base = stem.get(..star).unwrap_or_default();
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if base.is_empty() {
                return Err(BadName::Junk);
            }
            let index = if digits.len() > 9 { usize::MAX } else { digits.parse::<usize>().unwrap_or(usize::MAX) };
            if index >= MAX_SECTIONS {
                return Err(BadName::SectionTooLarge);
            }
            return Ok((base, ParamKind::Section { index, extended }));
        }
    }
    if stem.is_empty() {
        return Err(BadName::Junk);
    }
    Ok((stem, if extended { ParamKind::Extended } else { ParamKind::Plain }))
}

/// Everything seen for one parameter name.
#[derive(Default)]
struct Entry {
    name: String,
    plain: Option<(usize, String)>,
    extended: Option<(usize, String)>,
    sections: Vec<(usize, bool, Vec<u8>)>,
    /// Order of the first section seen.
    sections_seq: usize,
}

struct ParamParser {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    out: ContentParams,
    seq: usize,
}

impl ParamParser {
    fn conflict(&mut self, name: String, first: String, other: String) {
        if self.out.conflicts.len() < MAX_CONFLICTS {
            self.out.conflicts.push((name, first, other));
        } else {
            self.out.limited = true;
        }
    }

    fn absorb(&mut self, f: Flags) {
        self.out.raw_8bit |= f.raw_8bit;
        self.out.charset_problems |= f.charset_problems;
        self.out.limited |= f.truncated;
    }

    /// Handles one `name=value` (value already unquoted and trimmed).
    fn add(&mut self, raw_name: &[u8], value: &[u8]) {
        let mut name: String = String::from_utf8_lossy(trim_ws(raw_name))
            .chars()
            .filter(|c| !c.is_whitespace() && !is_control(*c))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if name.len() > MAX_PARAM_NAME_LEN {
            truncate_at_char_boundary(&mut name, MAX_PARAM_NAME_LEN);
            self.out.limited = true;
        }
        let (base, kind) = match classify_name(&name) {
            Ok(c) => c,
            Err(BadName::Junk) => return,
            Err(BadName::SectionTooLarge) => {
                self.out.limited = true;
                return;
            }
        };
        let idx = match self.index.get(base) {
            Some(&i) => i,
            None => {
                if self.entries.len() >= MAX_PARAMS {
                    self.out.limited = true;
                    return;
                }
                self.index.insert(base.to_string(), self.entries.len());
                self.entries.push(Entry { name: base.to_string(), ..Entry::default() });
                self.entries.len() - 1
            }
        };
        self.seq += 1;
        let seq = self.seq;
        let allow_2047 = base != "boundary";
        match kind {
            ParamKind::Plain => {
                let (text, f) = decode_text(value, allow_2047);
                self.absorb(f);
                self.record(idx, false, seq, text);
            }
            ParamKind::Extended => {
                let (charset, rest) = split_2231(value);
                let (text, f) = decode_2231_bytes(&percent_decode(rest), charset);
                self.absorb(f);
                self.record(idx, true, seq, text);
            }
            ParamKind::Section { index, extended } => {
                let Some(entry) = self.entries.get_mut(idx) else { return };
                if entry.sections.len() >= MAX_SECTIONS {
                    self.out.limited = true;
                    return;
                }
                if entry.sections.is_empty() {
                    entry.sections_seq = seq;
                }
                entry.sections.push((index, extended, value.to_vec()));
            }
        }
    }

    /// Records a plain or extended value, noting a disagreeing repeat.
    fn record(&mut self, idx: usize, extended: bool, seq: usize, text: String) {
        let Some(entry) = self.entries.get_mut(idx) else { return };
        let slot = if extended { &mut entry.extended } else { &mut entry.plain };
        match slot {
            None => *slot = Some((seq, text)),
            Some((_, first)) if *first != text => {
                let (name, first) = (entry.name.clone(), first.clone());
                self.conflict(name, first, text);
            }
            Some(_) => {}
        }
    }

    /// Reassembles continuation sections in numeric order.
    fn assemble(&mut self, idx: usize) -> Option<(usize, String)> {
        let entry = self.entries.get_mut(idx)?;
        if entry.sections.is_empty() {
            return None;
        }
        let mut sections = std::mem::take(&mut entry.sections);
        let (name, seq) = (entry.name.clone(), entry.sections_seq);
        sections.sort_by_key(|s| s.0);
        let mut bytes = Vec::new();
        let mut charset: Option<Vec<u8>> = None;
        let mut prev: Option<&(usize, bool, Vec<u8>)> = None;
        let mut dups = Vec::new();
        for s in &sections {
            let (index, extended, value) = s;
            if let Some(p) = prev
                && p.0 == *index
            {
                if p.2 != *value {
                    dups.push((
                        format!("{name}*{index}"),
                        String::from_utf8_lossy(&p.2).into_owned(),
                        String::from_utf8_lossy(value).into_owned(),
                    ));
                }
                continue;
            }
            prev = Some(s);
            if *extended {
                let value = if *index == 0 {
                    let (cs, rest) = split_2231(value);
                    charset = cs.map(<[u8]>::to_vec);
                    rest
                } else {
                    value
                };
                bytes.extend_from_slice(&percent_decode(value));
            } else {
                bytes.extend_from_slice(value);
            }
        }
        for (n, a, b) in dups {
            self.conflict(n, a, b);
        }
        let (text, f) = match charset {
            Some(cs) => decode_2231_bytes(&bytes, Some(&cs)),
            None => decode_text(&bytes, name != "boundary"),
        };
        self.absorb(f);
        Some((seq, text))
    }

    fn finish(mut self) -> ContentParams {
        for idx in 0..self.entries.len() {
            let continued = self.assemble(idx);
            let Some(entry) = self.entries.get_mut(idx) else { continue };
            let name = entry.name.clone();
            let plain = entry.plain.take();
            let mut extended = entry.extended.take();
            if let Some(cont) = continued {
                match &extended {
                    None => extended = Some(cont),
                    Some(single) if single.1 != cont.1 => {
                        let (first, other) = if single.0 < cont.0 { (single, &cont) } else { (&cont, single) };
                        let (a, b) = (first.1.clone(), other.1.clone());
                        self.conflict(name.clone(), a, b);
                    }
                    Some(_) => {}
                }
            }
            if let (Some(p), Some(e)) = (&plain, &extended)
                && p.1 != e.1
            {
                let (first, other) = if p.0 < e.0 { (p, e) } else { (e, p) };
                let (a, b) = (first.1.clone(), other.1.clone());
                self.conflict(name.clone(), a, b);
            }
            if let Some((_, v)) = extended.or(plain) {
                self.out.params.push((name, v));
            }
        }
        self.out
    }
}

/// Reads the main value (up to the first `;`). Returns it raw and the index
/// of the `;` (or the end).
fn read_main_value(s: &[u8]) -> (Vec<u8>, usize) {
    let mut main = Vec::new();
    let mut p = 0;
    while let Some(&b) = s.get(p) {
        match b {
            b';' => break,
            b'(' => p = skip_comment(s, p),
            b'"' => {
                let (q, np) = parse_quoted(s, p);
                main.extend_from_slice(&q);
                p = np;
            }
            b if is_ws(b) => p += 1,
            b => {
                main.push(b);
                p += 1;
            }
        }
    }
    (main, p)
}

/// Parse a Content-Type / Content-Disposition value: `type/subtype; a=b;
/// c*0*=...`. See [`ContentParams`] and the module docs.
pub fn parse_content_params(raw: &[u8]) -> ContentParams {
    // Unfold: a line break is dropped, the whitespace after it stays.
    let s: Vec<u8> = raw.iter().copied().filter(|&b| b != b'\r' && b != b'\n').collect();
    let mut parser = ParamParser { entries: Vec::new(), index: HashMap::new(), out: ContentParams::default(), seq: 0 };
    let (main, mut p) = read_main_value(&s);
    if main.contains(&b'=') {
        // No main value, the field starts with a parameter.
        p = 0;
    } else {
        let mut value: String = String::from_utf8_lossy(&main)
            .chars()
            .filter(|c| !is_control(*c) && !c.is_whitespace())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if value.len() > MAX_PARAM_NAME_LEN {
            truncate_at_char_boundary(&mut value, MAX_PARAM_NAME_LEN);
            parser.out.limited = true;
        }
        parser.out.value = value;
    }
    loop {
        while s.get(p).is_some_and(|&b| b == b';' || is_ws(b)) {
            p += 1;
        }
        match s.get(p) {
            None => break,
            Some(b'(') => {
                p = skip_comment(&s, p);
                continue;
            }
            Some(_) => {}
        }
        let name_start = p;
        while s.get(p).is_some_and(|&b| b != b'=' && b != b';') {
            p += 1;
        }
        if s.get(p) != Some(&b'=') {
            continue; // a bare token without '=': ignored
        }
        let name = s.get(name_start..p).unwrap_or_default();
        p += 1;
        while s.get(p).is_some_and(|&b| is_ws(b)) {
            p += 1;
        }
        let value = if s.get(p) == Some(&b'"') {
            let (v, np) = parse_quoted(&s, p);
            p = np;
            while s.get(p).is_some_and(|&b| b != b';') {
                p += 1;
            }
            v
        } else {
            let start = p;
            while s.get(p).is_some_and(|&b| b != b';') {
                p += 1;
            }
            let mut v = s.get(start..p).unwrap_or_default();
            // A comment after whitespace ends an unquoted value.
            if let Some(k) = v.windows(2).position(|w| is_ws(w[0]) && w[1] == b'(') {
                v = v.get(..k).unwrap_or_default();
            }
            trim_ws(v).to_vec()
        };
        parser.add(name, &value);
    }
    parser.finish()
}

// ---------------------------------------------------------------------------
// Output side
// ---------------------------------------------------------------------------

fn truncate_at_char_boundary(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut cut = max;
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_char(v: u32) -> char {
    char::from(B64[(v & 63) as usize])
}

fn encode_b64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = u32::from(chunk.first().copied().unwrap_or(0));
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let n = (b0 << 16) | (b1 << 8) | b2;
        out.push(b64_char(n >> 18));
        out.push(b64_char(n >> 12));
        out.push(if chunk.len() > 1 { b64_char(n >> 6) } else { '=' });
        out.push(if chunk.len() > 2 { b64_char(n) } else { '=' });
    }
    out
}

/// One `=?UTF-8?B?…?=` word.
fn encoded_word(text: &str) -> String {
    format!("=?UTF-8?B?{}?=", encode_b64(text.as_bytes()))
}

/// Longest prefix of `s` of at most `max` bytes ending at a char boundary.
fn take_chars(s: &str, max: usize) -> (&str, &str) {
    let mut cut = max.min(s.len());
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.split_at(cut)
}

/// Payload bytes that fit in a word of at most `width` characters.
fn payload_for_width(width: usize) -> usize {
    width.saturating_sub(WORD_OVERHEAD) / 4 * 3
}

/// Splits `text` into encoded words of at most `width` characters each.
fn encoded_words(text: &str, width: usize) -> Vec<String> {
    let max = payload_for_width(width).max(4);
    let mut words = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let (chunk, r) = take_chars(rest, max);
        if chunk.is_empty() {
            break; // unreachable: max >= 4 holds any char
        }
        words.push(encoded_word(chunk));
        rest = r;
    }
    words
}

/// Builds a folded field out of words separated by foldable spaces.
struct Folder {
    out: String,
    line_len: usize,
    max_line: usize,
}

impl Folder {
    fn new(name: &str) -> Self {
        let name = clean_field_name(name);
        let line_len = name.len() + 1;
        Folder { out: format!("{name}:"), line_len, max_line: line_len }
    }

    /// Space left on the current line after a separating space.
    fn room(&self) -> usize {
        SOFT_LINE.saturating_sub(self.line_len + 1)
    }

    /// Appends ` word` (then `suffix`), folding before it if it would not fit.
    fn word(&mut self, word: &str, suffix: &str) {
        let len = word.len() + suffix.len();
        if self.line_len + 1 + len > SOFT_LINE && self.line_len > 0 {
            self.out.push_str("\r\n");
            self.line_len = 0;
        }
        self.out.push(' ');
        self.out.push_str(word);
        self.out.push_str(suffix);
        self.line_len += 1 + len;
        self.max_line = self.max_line.max(self.line_len);
    }

    fn finish(mut self) -> String {
        self.out.push_str("\r\n");
        self.out
    }
}

/// Field names: printable ASCII without `:`, at most 76 characters.
fn clean_field_name(name: &str) -> String {
    let mut n: String = name.chars().filter(|c| c.is_ascii_graphic() && *c != ':').collect();
    if n.is_empty() {
        n.push_str("X-Invalid");
    }
    truncate_at_char_boundary(&mut n, MAX_FIELD_NAME);
    n
}

fn is_printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// Writes printable ASCII as is, folding at single spaces between words;
/// `None` if some line would exceed the hard limit.
fn fold_plain(name: &str, text: &str) -> Option<String> {
    let mut f = Folder::new(name);
    let bytes = text.as_bytes();
    let mut start = 0;
    for i in 1..bytes.len().saturating_sub(1) {
        let fold_here =
            bytes.get(i) == Some(&b' ') && bytes.get(i - 1) != Some(&b' ') && bytes.get(i + 1) != Some(&b' ');
        if fold_here {
            f.word(text.get(start..i)?, "");
            start = i + 1;
        }
    }
    f.word(text.get(start..)?, "");
    if f.max_line > HARD_LINE { None } else { Some(f.finish()) }
}

/// Output side: encode one header field, folded, 7-bit. `name` is ASCII.
/// Printable ASCII text without `=?` is written as is; anything else as
/// `=?UTF-8?B?…?=` words (≤ 75 characters, whole characters each). Lines stay
/// within 78 octets where possible and never exceed 998. Returns the complete
/// field including the trailing CRLF.
pub fn encode_unstructured_field(name: &str, text: &str) -> String {
    // Text that looks like a MIME header ("Content-Type: text/html") is
    // written encoded, so no byte-level scanner mistakes it for one.
    let header_like = text.to_ascii_lowercase().contains("content-type");
    if is_printable_ascii(text)
        && !text.contains("=?")
        && !header_like
        && let Some(field) = fold_plain(name, text)
    {
        return field;
    }
    let mut f = Folder::new(name);
    let mut rest = text;
    while !rest.is_empty() {
        let max = payload_for_width(f.room().min(MAX_WORD));
        let (mut chunk, mut r) = take_chars(rest, max);
        if chunk.is_empty() {
            // Not even one character fits on this line: a full-width word.
            (chunk, r) = take_chars(rest, payload_for_width(MAX_WORD));
        }
        if chunk.is_empty() {
            break; // unreachable: 45 bytes hold any char
        }
        f.word(&encoded_word(chunk), "");
        rest = r;
    }
    f.finish()
}

/// RFC 5322 atext.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// Words of a display name that can be written as bare atoms.
fn atom_phrase(display: &str) -> Option<Vec<&str>> {
    if display.contains("=?") {
        return None;
    }
    let words: Vec<&str> = display.split(' ').collect();
    let ok = words.iter().all(|w| !w.is_empty() && w.len() <= MAX_WORD && w.bytes().all(is_atext));
    if ok { Some(words) } else { None }
}

fn quoted_string(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            q.push('\\');
        }
        q.push(c);
    }
    q.push('"');
    q
}

/// The words of a display name: atoms, one quoted string, or encoded words.
fn display_words(display: &str) -> Vec<String> {
    if let Some(atoms) = atom_phrase(display) {
        return atoms.into_iter().map(str::to_string).collect();
    }
    if is_printable_ascii(display) && !display.contains("=?") {
        let q = quoted_string(display);
        if q.len() <= SOFT_LINE - 2 {
            return vec![q];
        }
    }
    encoded_words(display, MAX_WORD)
}

/// An addr-spec we are willing to write: printable ASCII, no spaces,
/// controls, `<>(),;:"\`, with a non-empty local part and domain.
/// RFC 5322 dot-atom-text: atext runs separated by single dots.
fn is_dot_atom(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(|run| !run.is_empty() && run.bytes().all(is_atext))
}

/// The addr-spec as RFC 5322 wants it written, or `None` when it cannot be
/// written as 7-bit: split at the last `@`; the domain must be a dot-atom or a
/// domain literal; a local part that is not a dot-atom (`a..b`, `x@y`) is
/// written as a quoted string.
fn normalize_addr_spec(a: &str) -> Option<String> {
    // `=?` would let a reader take part of the address for an RFC 2047
    // encoded word: no real address needs it, so it is skipped.
    if a.is_empty()
        || a.len() > MAX_ADDR_SPEC
        || a.contains("=?")
        || !a.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
    {
        return None;
    }
    let (local, domain) = a.rsplit_once('@')?;
    let domain_ok = is_dot_atom(domain)
        || (domain.starts_with('[')
            && domain.ends_with(']')
            && domain.len() > 2
            && !domain[1..domain.len() - 1].bytes().any(|b| b"[]\\ ".contains(&b)));
    if local.is_empty() || !domain_ok {
        return None;
    }
    if is_dot_atom(local) {
        return Some(a.to_string());
    }
    let inner = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')).unwrap_or(local);
    if inner.is_empty() || inner.contains([' ', '<', '>', '(', ')', '[', ']', ',', ';', ':']) {
        return None;
    }
    let mut quoted = String::with_capacity(inner.len() + 4);
    quoted.push('"');
    for c in inner.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    Some(format!("{quoted}@{domain}"))
}

/// Output side: an address list field (From, To, Cc, Reply-To), folded
/// between words. Display names are written as atoms, a quoted string (ASCII
/// with specials) or RFC 2047 words (non-ASCII, `=?`, controls, too long).
/// Addresses whose addr-spec is not printable ASCII without spaces, controls
/// and `<>(),;:"\` (or lacks `local@domain`) are skipped and returned in the
/// second value. When no address is left the field is the empty string: the
/// caller decides what to write instead.
pub fn encode_address_field(name: &str, addrs: &[(Option<String>, String)]) -> (String, Vec<String>) {
    let mut skipped = Vec::new();
    let mut kept: Vec<Vec<String>> = Vec::new();
    for (display, addr) in addrs {
        let Some(addr) = normalize_addr_spec(addr) else {
            skipped.push(addr.clone());
            continue;
        };
        let display = display.as_deref().map(str::trim).unwrap_or("");
        let mut words = Vec::new();
        if display.is_empty() {
            words.push(addr);
        } else {
            words.extend(display_words(display));
            words.push(format!("<{addr}>"));
        }
        kept.push(words);
    }
    if kept.is_empty() {
        return (String::new(), skipped);
    }
    let mut f = Folder::new(name);
    let last_addr = kept.len() - 1;
    for (i, words) in kept.iter().enumerate() {
        let last_word = words.len().saturating_sub(1);
        for (j, w) in words.iter().enumerate() {
            let suffix = if j == last_word && i != last_addr { "," } else { "" };
            f.word(w, suffix);
        }
    }
    (f.finish(), skipped)
}

/// RFC 2231 attribute-char that needs no percent-encoding (conservative).
fn is_attr_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b)
}

fn percent_encode_char(c: char, out: &mut String) {
    let mut buf = [0u8; 4];
    for &b in c.encode_utf8(&mut buf).as_bytes() {
        if is_attr_char(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
        }
    }
}

/// A filename safe to write as a plain quoted string.
fn plain_filename(filename: &str) -> bool {
    !filename.is_empty()
        && is_printable_ascii(filename)
        && !filename.contains("=?")
        && !filename.contains(['"', '\\'])
        && filename.trim() == filename
}

/// Content-Type `name`: a quoted string, or RFC 2047 words inside quotes.
fn encode_name_param(filename: &str) -> String {
    const PREFIX: &str = ";\r\n name=\"";
    if plain_filename(filename) && " name=\"\"".len() + filename.len() <= SOFT_LINE {
        return format!("{PREFIX}{filename}\"");
    }
    // ` name="` + word, and ` ` + word + `"`: words of at most 70 characters.
    let words = encoded_words(filename, SOFT_LINE - 8);
    format!("{PREFIX}{}\"", words.join("\r\n "))
}

/// Content-Disposition `filename`: a quoted string, `filename*=`, or
/// `filename*N*=` continuations split at character boundaries.
fn encode_filename_param(filename: &str) -> String {
    if plain_filename(filename) && " filename=\"\"".len() + filename.len() <= SOFT_LINE {
        return format!(";\r\n filename=\"{filename}\"");
    }
    let mut pct = String::new();
    for c in filename.chars() {
        percent_encode_char(c, &mut pct);
    }
    const SINGLE: &str = " filename*=UTF-8''";
    if SINGLE.len() + pct.len() <= SOFT_LINE {
        return format!(";\r\n{SINGLE}{pct}");
    }
    // Sections: " filename*N*=" (+ "UTF-8''" in section 0) + value + ";".
    let mut out = String::new();
    let mut section = String::new();
    let mut index = 0usize;
    let mut prefix = format!(" filename*{index}*=UTF-8''");
    let mut one = String::new();
    for c in filename.chars() {
        one.clear();
        percent_encode_char(c, &mut one);
        if !section.is_empty() && prefix.len() + section.len() + one.len() + 1 > SOFT_LINE {
            out.push_str(";\r\n");
            out.push_str(&prefix);
            out.push_str(&section);
            section.clear();
            index += 1;
            prefix = format!(" filename*{index}*=");
        }
        section.push_str(&one);
    }
    out.push_str(";\r\n");
    out.push_str(&prefix);
    out.push_str(&section);
    out
}

/// Output side: the filename parameters. Returns `(for Content-Type, for
/// Content-Disposition)`, each starting with `;` and folded onto its own
/// lines (append right after the main value, before the field's CRLF):
/// `;\r\n name="…"` (RFC 2047 words inside the quotes when not plain ASCII,
/// for Outlook) and `;\r\n filename="…"` for a short plain-ASCII name, else
/// `;\r\n filename*=UTF-8''…` or RFC 2231 continuations `filename*0*=…`.
/// Names needing more than [`MAX_SECTIONS`] sections (over ~17 KB) will not
/// read back whole through [`parse_content_params`]: callers should cap
/// filename length well below that.
pub fn encode_filename_params(filename: &str) -> (String, String) {
    (encode_name_param(filename), encode_filename_param(filename))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(raw: &str) -> String {
        decode_unstructured(raw.as_bytes()).text
    }

    /// Every line CRLF-terminated, 7-bit, no NUL, within `max` octets,
    /// continuation lines start with whitespace.
    fn check_lines(field: &str, max: usize) {
        assert!(field.ends_with("\r\n"), "no final CRLF: {field:?}");
        assert!(field.is_ascii(), "not 7-bit: {field:?}");
        assert!(!field.contains('\0'));
        let body = &field[..field.len() - 2];
        for (i, line) in body.split("\r\n").enumerate() {
            assert!(!line.contains('\r') && !line.contains('\n'), "bare CR/LF in {field:?}");
            assert!(line.len() <= max, "line of {} octets: {line:?}", line.len());
            if i > 0 {
                assert!(line.starts_with(' '), "continuation without WSP: {line:?}");
                assert!(!line.trim().is_empty(), "whitespace-only line in {field:?}");
            }
        }
    }

    /// Each `=?UTF-8?B?…?=` word in `s` decodes on its own to valid UTF-8.
    fn check_words_standalone(s: &str) {
        let mut n = 0;
        for tok in s.split(|c: char| c.is_ascii_whitespace() || c == '"') {
            if let Some(b64) = tok.strip_prefix("=?UTF-8?B?") {
                let b64 = b64.strip_suffix("?=").expect("word not closed");
                assert!(tok.len() <= MAX_WORD, "word too long: {tok}");
                let bytes = decode_b(b64.as_bytes()).expect("bad base64");
                assert!(std::str::from_utf8(&bytes).is_ok(), "word splits a character: {tok}");
                n += 1;
            }
        }
        assert!(n > 0, "no encoded word in {s:?}");
    }

    fn value_of<'a>(field: &'a str, name: &str) -> &'a str {
        field.strip_prefix(name).and_then(|f| f.strip_prefix(':')).expect("field name")
    }

    // --- decode_unstructured ---------------------------------------------

    #[test]
    fn iso2022jp_split_mid_character_across_words() {
        // "日本語の件名テスト" in ISO-2022-JP, split after ESC $ B + one byte of 日.
        let d = decode_unstructured(b" =?ISO-2022-JP?B?GyRCRg==?=\r\n =?iso-2022-jp?b?fEtcOGwkTjdvTD4lRiU5JUgbKEI=?=");
        assert_eq!(d.text, "日本語の件名テスト");
        assert!(d.had_encoded_words && !d.raw_8bit && !d.charset_problems);
    }

    #[test]
    fn classic_iso2022jp_word() {
        assert_eq!(dec(" =?ISO-2022-JP?B?GyRCOD4kTyM1GyhC?="), "絃は５");
        assert_eq!(dec("=?ISO-2022-JP?B?GyRCRTpJVTtxTkEbKEIuZG9jeA==?="), "添付資料.docx");
        // RFC 2231 language suffix.
        assert_eq!(dec("=?ISO-2022-JP*ja?B?GyRCOD4kTyM1GyhC?="), "絃は５");
    }

    #[test]
    fn q_encoding_underscores_and_case() {
        assert_eq!(dec("=?UTF-8?Q?Hello_World_=E3=81=82?="), "Hello World あ");
        assert_eq!(dec("=?utf-8?q?a=5fb_c=e3=81=82?="), "a_b cあ");
        // A stray '=' stays.
        assert_eq!(dec("=?UTF-8?Q?1=2?="), "1=2");
    }

    #[test]
    fn raw_shift_jis_subject() {
        // "表示テスト" in Shift_JIS: 表 ends in 0x5C.
        let raw = b" Re: \x95\x5c\x8e\xa6\x83\x65\x83\x58\x83\x67";
        let d = decode_unstructured(raw);
        assert_eq!(d.text, "Re: 表示テスト");
        assert!(d.raw_8bit && !d.had_encoded_words);
    }

    #[test]
    fn raw_utf8_and_raw_jis() {
        let d = decode_unstructured(" 会議の件 (再送)".as_bytes());
        assert_eq!(d.text, "会議の件 (再送)");
        assert!(d.raw_8bit);
        let d = decode_unstructured(b" \x1b$B8+@Q=q\x1b(B.pdf");
        assert_eq!(d.text, "見積書.pdf");
        assert!(d.raw_8bit);
    }

    #[test]
    fn mixed_encoded_and_plain() {
        let d = decode_unstructured(
            b"Re: [info:123] =?ISO-2022-JP?B?GyRCOD4kTyM1GyhC?= and\r\n\t=?UTF-8?B?44GT44KT44Gr44Gh44Gv?= world",
        );
        assert_eq!(d.text, "Re: [info:123] 絃は５ and こんにちは world");
        // Whitespace between adjacent words of different charsets is dropped too.
        assert_eq!(dec("=?UTF-8?Q?a?= =?ISO-8859-1?Q?=E9?=  x"), "aé  x");
        // A word glued to text is still decoded.
        assert_eq!(dec("abc=?UTF-8?Q?=E3=81=82?=def"), "abcあdef");
    }

    #[test]
    fn malformed_words_left_as_written() {
        for s in
            ["=?UTF-8?X?abc?=", "=?UTF-8?B?a b?=", "=??B?abc?=", "=?UTF-8?B?abc", "=?UTF-8?B?ab!c?=", "1 =? 2", "=?=?"]
        {
            assert_eq!(dec(s), s, "{s}");
        }
    }

    #[test]
    fn controls_and_folding() {
        let d = decode_unstructured(b" a\x00b\x7f\tc  d \r\n  e\x1b");
        assert_eq!(d.text, "ab c  d e");
        assert!(d.controls_removed);
        // C1 and CR/LF inside a word.
        let d = decode_unstructured(b"=?UTF-8?B?woVhDQpi?=");
        assert_eq!(d.text, "a b");
        assert!(d.controls_removed);
        assert_eq!(dec(" \r\n "), "");
    }

    // --- parse_content_params ---------------------------------------------

    #[test]
    fn simple_content_type() {
        let p = parse_content_params(b" Text/Plain ; charset=\"ISO-2022-JP\" (comment); format=flowed (x)");
        assert_eq!(p.value, "text/plain");
        assert_eq!(p.get("charset"), Some("ISO-2022-JP"));
        assert_eq!(p.get("FORMAT"), Some("flowed"));
        assert!(p.conflicts.is_empty() && !p.limited);
        let p = parse_content_params(b"attachment;\r\n\tfilename=\"a b.txt\"; size=10");
        assert_eq!(p.value, "attachment");
        assert_eq!(p.params, vec![("filename".into(), "a b.txt".into()), ("size".into(), "10".into())]);
        let p = parse_content_params(b"filename=x.txt");
        assert_eq!(p.value, "");
        assert_eq!(p.get("filename"), Some("x.txt"));
        let p = parse_content_params(b"inline; *0*=x; =y; *=z; junk; ok=1");
        assert_eq!(p.params, vec![("ok".into(), "1".into())]);
        assert!(!p.limited);
        let p = parse_content_params(br#"inline; filename="a\"b\\c""#);
        assert_eq!(p.get("filename"), Some("a\"b\\c"));
    }

    #[test]
    fn rfc2231_iso2022jp_out_of_order_sections() {
        // 見積書.pdf; the escape/character bytes split mid-character.
        let p = parse_content_params(
            b"attachment; filename*1*=%2B%40%51%3D%71%1B%28%42; filename*2=\".pdf\";\r\n filename*0*=iso-2022-jp'ja'%1B%24%42%38",
        );
        assert_eq!(p.get("filename"), Some("見積書.pdf"));
        assert!(p.conflicts.is_empty());
    }

    #[test]
    fn rfc2231_utf8_split_sections() {
        let p = parse_content_params(
            b"attachment; filename*2=\".txt\"; filename*1*=%9C%AC%E8%AA%9E%E3%83%95%E3%82%A1%E3%82%A4%E3%83%AB%E5%90%8D;\r\n filename*0*=UTF-8''%E6%97%A5%E6",
        );
        assert_eq!(p.get("filename"), Some("日本語ファイル名.txt"));
        let p = parse_content_params("attachment; filename*=utf-8''%E6%97%A5%E6%9C%AC.txt".as_bytes());
        assert_eq!(p.get("filename"), Some("日本.txt"));
        // Quoted (broken but seen) extended value.
        let p = parse_content_params(b"attachment; filename*=\"UTF-8''a%20b.txt\"");
        assert_eq!(p.get("filename"), Some("a b.txt"));
    }

    #[test]
    fn filename_vs_filename_star_conflict() {
        let p = parse_content_params(b"attachment; filename=\"invoice.pdf\"; filename*=UTF-8''invoice.pdf.exe");
        assert_eq!(p.get("filename"), Some("invoice.pdf.exe"));
        assert_eq!(p.conflicts, vec![("filename".into(), "invoice.pdf".into(), "invoice.pdf.exe".into())]);
        // Agreeing forms are not a conflict.
        let p = parse_content_params(
            "attachment; filename*=UTF-8''%E6%97%A5.txt; filename=\"=?UTF-8?B?5pelLnR4dA==?=\"".as_bytes(),
        );
        assert_eq!(p.get("filename"), Some("日.txt"));
        assert!(p.conflicts.is_empty(), "{:?}", p.conflicts);
        // Continuations against the plain form.
        let p = parse_content_params(b"attachment; filename*0=\"a\"; filename=\"b\"; filename*1=\"c\"");
        assert_eq!(p.get("filename"), Some("ac"));
        assert_eq!(p.conflicts, vec![("filename".into(), "ac".into(), "b".into())]);
    }

    #[test]
    fn duplicate_boundary_conflict() {
        let p = parse_content_params(b"multipart/mixed; boundary=\"abc\"; BOUNDARY=def; boundary=abc");
        assert_eq!(p.get("boundary"), Some("abc"));
        assert_eq!(p.conflicts, vec![("boundary".into(), "abc".into(), "def".into())]);
        // A boundary is never RFC 2047-decoded.
        let p = parse_content_params(b"multipart/mixed; boundary=\"=?UTF-8?Q?x?=\"");
        assert_eq!(p.get("boundary"), Some("=?UTF-8?Q?x?="));
        // Duplicate continuation section.
        let p = parse_content_params(b"a; f*0=x; f*0=y; f*1=z");
        assert_eq!(p.get("f"), Some("xz"));
        assert_eq!(p.conflicts, vec![("f*0".into(), "x".into(), "y".into())]);
    }

    #[test]
    fn quoted_rfc2047_filename() {
        // Outlook: encoded words inside quotes, folded between them.
        let p = parse_content_params(
            b"application/pdf;\r\n name=\"=?ISO-2022-JP?B?GyRCMnE1RDtxTkEhSjo=?=\r\n =?ISO-2022-JP?B?Rz0qSEchSxsoQi5wZGY=?=\"",
        );
        assert_eq!(p.get("name"), Some("会議資料（最終版）.pdf"));
        // Unquoted, as some mailers write it.
        let p = parse_content_params(b"application/pdf; name==?UTF-8?B?44GT44KT44Gr44Gh44Gv?=");
        assert_eq!(p.get("name"), Some("こんにちは"));
    }

    #[test]
    fn raw_sjis_filename() {
        // "表示.txt" raw Shift_JIS in quotes: 表 = 95 5C must not be an escape.
        let p = parse_content_params(b"attachment; filename=\"\x95\x5c\x8e\xa6.txt\"; size=3");
        assert_eq!(p.get("filename"), Some("表示.txt"));
        assert_eq!(p.get("size"), Some("3"));
        assert!(p.raw_8bit);
        // Unquoted raw Shift_JIS.
        let p = parse_content_params(b"attachment; filename=\x8c\xa9\x90\xcf\x8f\x91.pdf");
        assert_eq!(p.get("filename"), Some("見積書.pdf"));
        // Raw UTF-8.
        let p = parse_content_params("attachment; filename=\"報告書.docx\"".as_bytes());
        assert_eq!(p.get("filename"), Some("報告書.docx"));
    }

    // --- encoders ----------------------------------------------------------

    #[test]
    fn unstructured_round_trips() {
        let long_ascii = "Lorem ipsum dolor sit amet, consectetur adipiscing elit ".repeat(8);
        let long_ascii = long_ascii.trim();
        let long_jp: String = "日本語の長い件名です。".chars().cycle().take(450).collect();
        let mixed: String = "ASCII と 日本語 が混在 ".repeat(20).trim().to_string();
        let cases = [
            "会議のお知らせ（第３回）",
            "Emoji 😀👍🏽 test 🇯🇵",
            long_ascii,
            &long_jp,
            &mixed,
            "Price =?UTF-8?B?abc?= is =? fine",
            "=?",
            "plain subject",
            "a  b   c",
        ];
        for text in cases {
            let field = encode_unstructured_field("Subject", text);
            check_lines(&field, SOFT_LINE);
            let d = decode_unstructured(value_of(&field, "Subject").as_bytes());
            assert_eq!(d.text, text, "field: {field}");
            assert!(!d.charset_problems);
            if !is_printable_ascii(text) || text.contains("=?") {
                check_words_standalone(&field);
            }
        }
        assert_eq!(encode_unstructured_field("Subject", "Hello"), "Subject: Hello\r\n");
        assert!(encode_unstructured_field("Subject", "日本").starts_with("Subject: =?UTF-8?B?5pel5pys?="));
    }

    #[test]
    fn unstructured_long_tokens_and_names() {
        // A 2000-character ASCII token cannot be folded as is: encoded.
        let token = "x".repeat(2000);
        let field = encode_unstructured_field("Subject", &token);
        check_lines(&field, SOFT_LINE);
        assert_eq!(decode_unstructured(value_of(&field, "Subject").as_bytes()).text, token);
        // A 500-character token stays plain (≤ 998) but gets its own line.
        let text = format!("see {}", "y".repeat(500));
        let field = encode_unstructured_field("Subject", &text);
        check_lines(&field, HARD_LINE);
        assert_eq!(decode_unstructured(value_of(&field, "Subject").as_bytes()).text, text);
        // Long field names still fold the first word onto a new line.
        let name = "X-Very-Long-Header-Name-That-Takes-Most-Of-The-Line-Alone-abcdefghijk";
        let field = encode_unstructured_field(name, "日本語😀");
        check_lines(&field, SOFT_LINE);
        assert_eq!(decode_unstructured(value_of(&field, name).as_bytes()).text, "日本語😀");
        // Control characters are encoded, never written raw.
        let field = encode_unstructured_field("Subject", "a\r\nBcc: x@y\0");
        check_lines(&field, SOFT_LINE);
        assert!(field.starts_with("Subject: =?UTF-8?B?"));
        assert_eq!(encode_unstructured_field("Bad: Name\r\n", "x"), "BadName: x\r\n");
    }

    fn parse_with_mail_parser(headers: &str) -> mail_parser::Message<'static> {
        let raw = format!("{headers}Subject: t\r\n\r\nbody\r\n").into_bytes();
        mail_parser::MessageParser::default().parse(&raw).expect("parse").into_owned()
    }

    #[test]
    fn address_field() {
        let addrs = vec![
            (Some("山田 太郎".to_string()), "taro@example.jp".to_string()),
            (Some("Yamada, Taro".to_string()), "t@example.jp".to_string()),
            (Some("He said \"hi\"".to_string()), "h@example.jp".to_string()),
            (None, "bad addr@example.jp".to_string()),
            (Some("総務課 (庶務係)、受付".to_string()), "soumu@city.example.lg.jp".to_string()),
            (Some("Plain Name".to_string()), "p@example.jp".to_string()),
            (Some("x".to_string()), "<evil>@x".to_string()),
            (Some("  ".to_string()), "bare@example.jp".to_string()),
            (Some("=?UTF-8?B?5pel?=".to_string()), "q@example.jp".to_string()),
            (None, "日本@example.jp".to_string()),
        ];
        let (field, skipped) = encode_address_field("To", &addrs);
        check_lines(&field, SOFT_LINE);
        assert_eq!(skipped, vec!["bad addr@example.jp", "<evil>@x", "日本@example.jp"]);
        assert!(field.contains("\"Yamada, Taro\""), "{field}");
        assert!(field.contains("Plain Name <p@example.jp>"), "{field}");
        check_words_standalone(&field);

        let msg = parse_with_mail_parser(&format!("From: a@example.jp\r\n{field}"));
        let got: Vec<(Option<String>, Option<String>)> = msg
            .to()
            .expect("to")
            .iter()
            .map(|a| (a.name().map(str::to_string), a.address().map(str::to_string)))
            .collect();
        let want: Vec<(Option<String>, Option<String>)> = vec![
            (Some("山田 太郎".into()), Some("taro@example.jp".into())),
            (Some("Yamada, Taro".into()), Some("t@example.jp".into())),
            (Some("He said \"hi\"".into()), Some("h@example.jp".into())),
            (Some("総務課 (庶務係)、受付".into()), Some("soumu@city.example.lg.jp".into())),
            (Some("Plain Name".into()), Some("p@example.jp".into())),
            (None, Some("bare@example.jp".into())),
            (Some("=?UTF-8?B?5pel?=".into()), Some("q@example.jp".into())),
        ];
        assert_eq!(got, want, "{field}");

        let (field, skipped) = encode_address_field("From", &[(None, "no-at-sign".into())]);
        assert_eq!(field, "");
        assert_eq!(skipped.len(), 1);
        // A very long display name still folds within 78 octets.
        let long = "長い表示名".repeat(60);
        let (field, _) = encode_address_field("From", &[(Some(long), "l@example.jp".into())]);
        check_lines(&field, SOFT_LINE);
    }

    #[test]
    fn filename_params_round_trip() {
        let names = [
            "report.pdf".to_string(),
            "見積書.pdf".to_string(),
            "会議資料（最終版）_2024年度_総務課_提出用_修正済み_ほんとうに最終.xlsx".to_string(),
            "with \"quotes\" and \\ and ; = ( ) % ' *.txt".to_string(),
            "😀".repeat(100),
            "a".repeat(300),
            "=?UTF-8?B?5pel?=.txt".to_string(),
            " leading space.txt".to_string(),
        ];
        for name in &names {
            let (ct, cd) = encode_filename_params(name);
            for (main, part, param) in [("application/pdf", &ct, "name"), ("attachment", &cd, "filename")] {
                let field = format!("X:{main}{part}\r\n");
                check_lines(&field, SOFT_LINE);
                let p = parse_content_params(format!("{main}{part}").as_bytes());
                assert_eq!(p.value, main);
                assert_eq!(p.get(param), Some(name.trim()), "{field}");
                assert!(p.conflicts.is_empty() && !p.limited && !p.charset_problems, "{field}");
                if !plain_filename(name) || name.len() > 60 {
                    if param == "name" {
                        check_words_standalone(part);
                    } else {
                        assert!(part.contains("filename*"), "{part}");
                    }
                }
            }
        }
        let (ct, cd) = encode_filename_params("report.pdf");
        assert_eq!(ct, ";\r\n name=\"report.pdf\"");
        assert_eq!(cd, ";\r\n filename=\"report.pdf\"");
        let (_, cd) = encode_filename_params("見積書.pdf");
        assert_eq!(cd, ";\r\n filename*=UTF-8''%E8%A6%8B%E7%A9%8D%E6%9B%B8.pdf");
    }

    #[test]
    fn filename_sections_never_split_characters() {
        let name = "日本語😀".repeat(40);
        let (_, cd) = encode_filename_params(&name);
        let mut sections = 0;
        for line in cd.split("\r\n").skip(1) {
            let value = line.split_once("*=").expect("section").1.trim_end_matches(';');
            let value = value.strip_prefix("UTF-8''").unwrap_or(value);
            assert!(std::str::from_utf8(&percent_decode(value.as_bytes())).is_ok(), "{line}");
            sections += 1;
        }
        assert!(sections > 5);
    }

    #[test]
    fn filename_params_through_mail_parser() {
        use mail_parser::MimeHeaders;
        let name = "会議資料（最終版）_2024年度_総務課_提出用_修正済み.xlsx";
        let (ct, cd) = encode_filename_params(name);
        let raw = format!(
            "From: a@example.jp\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
             --b\r\nContent-Type: application/octet-stream{ct}\r\nContent-Disposition: attachment{cd}\r\n\
             Content-Transfer-Encoding: base64\r\n\r\nQUJD\r\n--b--\r\n"
        );
        let msg = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("parse");
        let att = msg.attachment(0).expect("attachment");
        assert_eq!(att.attachment_name(), Some(name));
    }

    // --- hostile inputs ----------------------------------------------------

    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 33
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        const PIECES: &[&[u8]] = &[
            b"=?",
            b"?=",
            b"?B?",
            b"?q?",
            b"UTF-8",
            b"ISO-2022-JP*ja",
            b"*0*=",
            b"*1=",
            b"*=",
            b"''",
            b"%E3",
            b"%",
            b"\"",
            b"\\",
            b";",
            b"=",
            b"(",
            b")",
            b" ",
            b"\r\n ",
            b"\t",
            b"\x1b$B",
            b"\x1b(B",
            b"\x95\x5c",
            b"\xe3\x81",
            b"\xff",
            b"\0",
            b"name",
            b"filename",
            b"boundary",
            b"44GC",
            b"_",
        ];
        let mut rng = Lcg(0x5eed);
        for _ in 0..300 {
            let mut input = Vec::new();
            let n = rng.next() % 120;
            for _ in 0..n {
                if rng.next().is_multiple_of(4) {
                    input.push((rng.next() & 0xff) as u8);
                } else {
                    input.extend_from_slice(PIECES[(rng.next() as usize) % PIECES.len()]);
                }
            }
            let d = decode_unstructured(&input);
            assert!(!d.text.chars().any(is_control));
            assert!(!d.text.contains(['\t', '\r', '\n']));
            let p = parse_content_params(&input);
            assert!(p.params.len() <= MAX_PARAMS);
            let text = String::from_utf8_lossy(&input);
            check_lines(&encode_unstructured_field("Subject", &text), SOFT_LINE);
            let (ct, cd) = encode_filename_params(&text);
            check_lines(&format!("X:a{ct}{cd}\r\n"), SOFT_LINE);
            let (f, _) = encode_address_field("To", &[(Some(text.to_string()), "a@b".into())]);
            check_lines(&f, SOFT_LINE);
        }
    }

    #[test]
    fn huge_counts_complete() {
        // 10,000 encoded words.
        let raw = "=?UTF-8?B?44GC?= ".repeat(10_000);
        let d = decode_unstructured(raw.as_bytes());
        assert!(d.text == "あ".repeat(10_000));
        // 100 KB subject: cut at 64 KiB on a character boundary.
        let raw = "あいう ".repeat(10_000);
        let d = decode_unstructured(raw.as_bytes());
        assert!(d.truncated && d.text.len() <= MAX_DECODED_LEN && d.text.len() > MAX_DECODED_LEN - 8);
        // Lots of failed candidates.
        let raw = "=?a?B?x".repeat(9_000);
        assert_eq!(decode_unstructured(raw.as_bytes()).text.len(), raw.len());
        // 10,000 parameters.
        let mut raw = String::from("text/plain");
        for i in 0..10_000 {
            raw.push_str(&format!("; p{i}={i}"));
        }
        let p = parse_content_params(raw.as_bytes());
        assert_eq!(p.params.len(), MAX_PARAMS);
        assert_eq!(p.get("p999"), Some("999"));
        assert!(p.limited);
        // 10,000 disagreeing boundaries.
        let mut raw = String::from("multipart/mixed");
        for i in 0..10_000 {
            raw.push_str(&format!("; boundary=b{i}"));
        }
        let p = parse_content_params(raw.as_bytes());
        assert_eq!(p.get("boundary"), Some("b0"));
        assert_eq!(p.conflicts.len(), MAX_CONFLICTS);
        assert!(p.limited);
        // Absurd section numbers and too many sections.
        let p = parse_content_params(b"attachment; filename*99999999*=x; filename*123456789012345678901=y");
        assert_eq!(p.get("filename"), None);
        assert!(p.limited);
        let mut raw = String::from("attachment");
        for i in (0..5_000).rev() {
            raw.push_str(&format!("; filename*{i}=a"));
        }
        let p = parse_content_params(raw.as_bytes());
        assert_eq!(p.get("filename"), Some("a".repeat(MAX_SECTIONS).as_str()));
        assert!(p.limited);
        // Deep comments, unterminated quotes and comments.
        let raw = format!("text/plain; {}", "(".repeat(100_000));
        assert_eq!(parse_content_params(raw.as_bytes()).value, "text/plain");
        let p = parse_content_params(b"text/plain; name=\"abc; x=y");
        assert_eq!(p.get("name"), Some("abc; x=y"));
        // Encoders on huge input.
        let text = "日本語".repeat(7_000);
        let field = encode_unstructured_field("Subject", &text);
        check_lines(&field, SOFT_LINE);
        assert!(decode_unstructured(value_of(&field, "Subject").as_bytes()).text == text);
        let text = "日本語".repeat(30_000);
        let field = encode_unstructured_field("Subject", &text);
        check_lines(&field, SOFT_LINE);
        let d = decode_unstructured(value_of(&field, "Subject").as_bytes());
        assert!(d.truncated && text.starts_with(&d.text));
    }
}
