//! Text decoding for mail as it really arrives, tuned for Japanese.
//!
//! [`decode_text`] turns a transfer-decoded text body plus its declared
//! `charset=` label into a `String`; [`decode_fragment`] does the same for a
//! header fragment (raw 8-bit header bytes, or the payload of one RFC 2047
//! encoded-word with its label). The result says which charset was really
//! used and whether the label was missing, unknown or wrong, so the caller can
//! record `charset.undeclared`, `charset.unknown`, `charset.mislabeled` and
//! `charset.replacement` findings.
//!
//! # Charsets
//!
//! | family | how |
//! |---|---|
//! | ISO-2022-JP (and the CP50220/CP50221/CP50222, -1, -2, -3, -2004, -MS labels) | own decoder, see below |
//! | Shift_JIS, CP932, windows-31j, … | `encoding_rs` Shift_JIS (= WHATWG, i.e. CP932 with NEC row 13 and the IBM extensions) |
//! | EUC-JP, CP51932, eucJP-ms, … | `encoding_rs` EUC-JP (JIS X 0212 via 0x8F, NEC row 13, IBM extension rows 89–92) |
//! | UTF-8 (BOM stripped), UTF-16 (only when labelled; BOM or RFC 2781 big-endian default) | std / `encoding_rs` |
//! | UTF-7 (RFC 2152) | own decoder |
//! | ISO-8859-x, windows-125x, KOI8, GBK/GB18030, Big5, EUC-KR, … | `encoding_rs` labels (WHATWG), plus a few common mail aliases |
//! | ISO-2022-KR | own decoder (the ISO-2022 engine with `ESC $ ) C` + SO/SI, KS X 1001 via `encoding_rs` EUC-KR) |
//!
//! Labels are cleaned first (quotes, spaces, an RFC 2231 `*lang` suffix, case).
//! `us-ascii` and its aliases count as "no label": WHATWG maps them to
//! windows-1252, but mail that says us-ascii and carries 8-bit bytes is
//! undeclared, not Western European. The WHATWG `replacement` labels
//! (`iso-2022-cn`, `hz-gb-2312`, …) and `x-user-defined` count as unknown.
//!
//! # ISO-2022-JP as mail uses it
//!
//! The decoder accepts what Windows (CP5022x), old Unix mailers and mobile
//! carriers emit: `ESC ( B`, `ESC ( J` (both read as ASCII; the Roman ¥/‾ are
//! not applied because nobody means them), `ESC ( H`, `ESC $ @`, `ESC $ B`,
//! `ESC & @` (announcer, ignored), `ESC $ ( @/B`, `ESC ( I` and SO/SI
//! half-width katakana, `ESC $ ( D` (JIS X 0212, via `encoding_rs` EUC-JP
//! `8F a|80 b|80`), `ESC $ ( Q` / `ESC $ ( O` (JIS X 0213 plane 1, best effort
//! through the JIS X 0208 table: the 0208 subset and NEC row 13 decode, the
//! few 0213-only code points become U+FFFD), the ISO-2022-JP-2 sets `ESC $ A`
//! (GB 2312), `ESC $ ( C` (KS X 1001) and `ESC . A`/`ESC . F` + `ESC N`. JIS
//! X 0208 pairs are converted to their Shift_JIS pair and looked up in a table
//! built once (lazily) by decoding every Shift_JIS pair with `encoding_rs`, so
//! NEC row 13 (①, ㈱, Ⅴ, ㍻) and the NEC-selected IBM extensions in rows
//! 89–92 (髙, 﨑) decode as CP50220 does.
//!
//! A line that ends in a double-byte mode without `ESC ( B` is the most common
//! defect. Real decoders return to ASCII at the end of the line; a mailer that
//! re-wrapped already encoded text, however, continues in JIS on the next line
//! without an escape. At the end of each line we therefore look at the next
//! line once: if it is nothing but an even number of graphic 7-bit bytes that
//! all map in JIS X 0208 and mostly fall into the kana/punctuation/level-1
//! kanji rows, the mode carries on; otherwise it returns to ASCII. Half-width
//! katakana modes always return to ASCII at the end of a line. Control
//! characters and space pass through in any mode, like the CP5022x decoders.
//!
//! # Microsoft mapping
//!
//! Recipients read mail in Outlook on Windows, where the JIS characters below
//! are the CP932 code points; CP932 converters (and our checker's `cp932`
//! tables) produce them. After decoding a Japanese charset we therefore map:
//!
//! | from | to | applies to |
//! |---|---|---|
//! | U+301C WAVE DASH 〜 | U+FF5E FULLWIDTH TILDE ～ | ISO-2022-JP, Shift_JIS, EUC-JP |
//! | U+2016 DOUBLE VERTICAL LINE ‖ | U+2225 PARALLEL TO ∥ | ISO-2022-JP, Shift_JIS, EUC-JP |
//! | U+2212 MINUS SIGN − | U+FF0D FULLWIDTH HYPHEN-MINUS － | ISO-2022-JP, Shift_JIS, EUC-JP |
//! | U+00A2 ¢ / U+00A3 £ / U+00AC ¬ | U+FFE0 ￠ / U+FFE1 ￡ / U+FFE2 ￢ | ISO-2022-JP, Shift_JIS |
//!
//! (The WHATWG tables in `encoding_rs` already produce the right-hand side for
//! JIS X 0208; the map is kept so the guarantee does not depend on a table
//! version.) The independent checker folds exactly these differences in
//! `normalize_for_match` (NFKC of the right-hand side equals the fold of the
//! left-hand side), so text decoded here compares equal to Python's.
//!
//! # Detection
//!
//! Candidates are only UTF-8, Shift_JIS and EUC-JP; each is scanned at most
//! once (a validity + plausibility pass with no allocation), and only the
//! chosen one is decoded, so everything is linear in the input. Plausibility
//! counts, per non-ASCII character, kana and punctuation and JIS level-1 kanji
//! (good), symbols (neutral), level-2 kanji and extensions (rare), half-width
//! katakana, private-use and C1 (bad). The rules:
//!
//! * No label / us-ascii / unknown label: 7-bit with ISO-2022-JP escapes →
//!   ISO-2022-JP (ISO-2022-KR for `ESC $ ) C`); other 7-bit → US-ASCII; 8-bit:
//!   valid UTF-8 → UTF-8, else the better of Shift_JIS / EUC-JP if it decodes
//!   (almost) cleanly and plausibly, else windows-1252.
//! * ISO-2022-JP label with 8-bit bytes: the best of the three candidates;
//!   when escapes are present too, the ISO-2022-JP decoder runs and its ASCII
//!   segments are decoded in that candidate (mixed mail).
//! * Any ASCII-compatible label on bytes with ISO-2022-JP escapes →
//!   ISO-2022-JP (segments in the declared charset).
//! * Declared charset produces replacements while another candidate decodes
//!   cleanly (or with far fewer errors) and plausibly → that one.
//! * Bodies only (not fragments, which keep agreement with the literal label):
//!   a clean but implausible Shift_JIS/EUC-JP decoding is replaced by a clean,
//!   clearly Japanese (kana-rich) alternative; a single-byte or non-Japanese
//!   CJK label is replaced by valid UTF-8 or by clearly Japanese
//!   Shift_JIS/EUC-JP.
//!
//! # Output
//!
//! NUL is removed, a leading U+FEFF is stripped, other control characters are
//! kept (the caller handles them). `replacements` counts the U+FFFD produced
//! by decoding; a U+FFFD already present in the source is not counted (except
//! in a gb18030/Big5/EUC-KR/UTF-16 text that also has real errors, where the
//! count is of all U+FFFD in the output).
//!
//! # Limits
//!
//! JIS X 0213-only characters (plane 2 and the plane 1 additions) are not
//! decoded (U+FFFD); `ESC ( J` is read as ASCII; UTF-16 and UTF-7 are never
//! detected without a label; a single encoded-word cut in the middle of an
//! ISO-2022-JP state is decoded on its own (the caller should join adjacent
//! words of the same charset first). Detection of very short fragments can
//! only be a guess. Carrier emoji (au/docomo/SoftBank rows in ISO-2022-JP and
//! Shift_JIS) have no Unicode mapping here: U+FFFD or private use. Rows 89–92
//! of EUC-JP are read as the IBM extensions (CP51932/eucJP-ms, as
//! `encoding_rs`), not as JIS X 0213.

use encoding_rs::{
    EUC_JP, EUC_KR, Encoding, GBK, ISO_8859_7, REPLACEMENT, SHIFT_JIS, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252,
    X_USER_DEFINED,
};
use std::sync::LazyLock;

/// The result of decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub text: String,
    /// canonical charset actually used, e.g. "ISO-2022-JP", "Shift_JIS", "EUC-JP", "UTF-8", "UTF-7", "windows-1252"
    pub charset: &'static str,
    /// the declared label was present, known, and not what the bytes are
    pub mislabeled: bool,
    /// a label was given but not recognised
    pub unknown_label: bool,
    /// bytes were 8-bit with no (or us-ascii) label, and we detected
    /// (also set for 7-bit ISO-2022 escapes under no / us-ascii label)
    pub undeclared: bool,
    /// number of U+FFFD produced by decoding (0 when the bytes were valid in the chosen charset)
    pub replacements: usize,
}

/// Decode a text body (after transfer decoding) given its declared charset label.
pub fn decode_text(bytes: &[u8], declared: Option<&str>) -> Decoded {
    decode_impl(bytes, declared, false)
}

/// Decode a header fragment (raw 8-bit bytes as Outlook sends Shift_JIS/UTF-8 unencoded, or the payload of an RFC 2047 word with its label).
/// Same as decode_text but tuned for short input.
pub fn decode_fragment(bytes: &[u8], declared: Option<&str>) -> Decoded {
    decode_impl(bytes, declared, true)
}

/// True when the label names a charset we can decode.
pub fn is_known_label(label: &str) -> bool {
    matches!(resolve_label(Some(label)), Label::Known(_) | Label::Ascii)
}

// ---------------------------------------------------------------------------
// labels

/// A charset we can decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Charset {
    Ascii,
    Utf8,
    Utf7,
    Utf16Le,
    Utf16Be,
    /// "utf-16" without byte order: BOM, else a zero-byte heuristic, else BE.
    Utf16,
    Iso2022Jp,
    Iso2022Kr,
    ShiftJis,
    EucJp,
    /// Any other `encoding_rs` encoding (single-byte, GBK, gb18030, Big5, EUC-KR).
    Other(&'static Encoding),
}

impl Charset {
    fn name(self) -> &'static str {
        match self {
            Charset::Ascii => "US-ASCII",
            Charset::Utf8 => "UTF-8",
            Charset::Utf7 => "UTF-7",
            Charset::Utf16Le => "UTF-16LE",
            Charset::Utf16Be | Charset::Utf16 => "UTF-16BE",
            Charset::Iso2022Jp => "ISO-2022-JP",
            Charset::Iso2022Kr => "ISO-2022-KR",
            Charset::ShiftJis => "Shift_JIS",
            Charset::EucJp => "EUC-JP",
            Charset::Other(e) => e.name(),
        }
    }

    /// The detection candidate this charset is, if any.
    fn cand(self) -> Option<Cand> {
        match self {
            Charset::Utf8 => Some(Cand::Utf8),
            Charset::ShiftJis => Some(Cand::Sjis),
            Charset::EucJp => Some(Cand::Euc),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    None,
    Ascii,
    Known(Charset),
    Unknown,
}

const ASCII_LABELS: &[&str] = &[
    "us-ascii",
    "ascii",
    "ansi_x3.4-1968",
    "ansi_x3.4-1986",
    "iso646-us",
    "iso_646.irv:1991",
    "us",
    "cp367",
    "ibm367",
    "csascii",
    "iso-ir-6",
    "7bit",
    "8bit",
];
const ISO2022JP_LABELS: &[&str] = &[
    "iso-2022-jp",
    "iso2022jp",
    "iso2022_jp",
    "csiso2022jp",
    "iso-2022-jp-1",
    "iso-2022-jp-2",
    "csiso2022jp2",
    "iso-2022-jp-3",
    "iso-2022-jp-2004",
    "iso-2022-jp-ms",
    "iso2022-jp",
    "cp50220",
    "cp50221",
    "cp50222",
    "jis",
    "x-iso-2022-jp",
    "jis_encoding",
    "csjisencoding",
];
const ISO2022KR_LABELS: &[&str] = &["iso-2022-kr", "csiso2022kr", "iso2022kr", "cp50225"];
const SJIS_LABELS: &[&str] = &[
    "shift_jis",
    "shift-jis",
    "sjis",
    "x-sjis",
    "windows-31j",
    "cp932",
    "ms932",
    "ms_kanji",
    "csshiftjis",
    "cswindows31j",
    "x-ms-cp932",
    "shift_jisx0213",
    "shift_jis_2004",
    "shift_jis-2004",
    "ibm-943",
    "ibm943",
    "cp943",
    "cp943c",
    "x-mac-japanese",
    "windows-932",
    "sjis-open",
    "sjis-win",
    "shiftjis",
];
const EUCJP_LABELS: &[&str] = &[
    "euc-jp",
    "eucjp",
    "x-euc-jp",
    "euc_jp",
    "cseucpkdfmtjapanese",
    "cp51932",
    "euc-jis-2004",
    "euc-jisx0213",
    "eucjp-ms",
    "eucjp-win",
    "eucjp-open",
    "x-euc",
];
const UTF7_LABELS: &[&str] = &["utf-7", "utf7", "unicode-1-1-utf-7", "csunicode11utf7", "x-utf-7"];
const UTF16_LABELS: &[&str] = &["utf-16", "utf16", "ucs-2", "iso-10646-ucs-2", "csunicode", "unicode"];
const UTF16LE_LABELS: &[&str] = &["utf-16le", "utf16le", "ucs-2le"];
const UTF16BE_LABELS: &[&str] = &["utf-16be", "utf16be", "ucs-2be", "unicodefffe"];
/// Common mail aliases that WHATWG does not list.
const EXTRA_LABELS: &[(&str, &str)] = &[
    ("cp949", "euc-kr"),
    ("uhc", "euc-kr"),
    ("ks_c_5601", "euc-kr"),
    ("ks_c_5601-1989", "euc-kr"),
    ("cp936", "gbk"),
    ("ms936", "gbk"),
    ("cp950", "big5"),
    ("utf8mb4", "utf-8"),
    ("cp1252", "windows-1252"),
    ("cp1251", "windows-1251"),
    ("cp1250", "windows-1250"),
    ("iso8859-1", "iso-8859-1"),
    ("iso8859-15", "iso-8859-15"),
    ("iso_8859-15", "iso-8859-15"),
];

/// Trim quotes and spaces, drop an RFC 2231 `*lang` suffix and anything after
/// `;`, lower-case.
fn clean_label(label: &str) -> String {
    let cut = label.split([';', '*']).next().unwrap_or("");
    cut.trim_matches(|c: char| c.is_whitespace() || c == '"' || c == '\'').to_ascii_lowercase()
}

fn resolve_label(declared: Option<&str>) -> Label {
    let Some(raw) = declared else { return Label::None };
    let lab = clean_label(raw);
    if lab.is_empty() {
        return Label::None;
    }
    if lab.len() > 64 {
        return Label::Unknown;
    }
    let l = lab.as_str();
    let tables: [(&[&str], Label); 9] = [
        (ASCII_LABELS, Label::Ascii),
        (ISO2022JP_LABELS, Label::Known(Charset::Iso2022Jp)),
        (ISO2022KR_LABELS, Label::Known(Charset::Iso2022Kr)),
        (SJIS_LABELS, Label::Known(Charset::ShiftJis)),
        (EUCJP_LABELS, Label::Known(Charset::EucJp)),
        (UTF7_LABELS, Label::Known(Charset::Utf7)),
        (UTF16_LABELS, Label::Known(Charset::Utf16)),
        (UTF16LE_LABELS, Label::Known(Charset::Utf16Le)),
        (UTF16BE_LABELS, Label::Known(Charset::Utf16Be)),
    ];
    for (names, result) in tables {
        if names.contains(&l) {
            return result;
        }
    }
    let alias = EXTRA_LABELS.iter().find(|(a, _)| *a == l).map_or(l, |(_, target)| *target);
    match Encoding::for_label_no_replacement(alias.as_bytes()) {
        Some(e) if e == X_USER_DEFINED || e == REPLACEMENT => Label::Unknown,
        Some(e) if e == UTF_8 => Label::Known(Charset::Utf8),
        Some(e) if e == SHIFT_JIS => Label::Known(Charset::ShiftJis),
        Some(e) if e == EUC_JP => Label::Known(Charset::EucJp),
        Some(e) if e == encoding_rs::ISO_2022_JP => Label::Known(Charset::Iso2022Jp),
        Some(e) if e == UTF_16LE => Label::Known(Charset::Utf16Le),
        Some(e) if e == UTF_16BE => Label::Known(Charset::Utf16Be),
        Some(e) => Label::Known(Charset::Other(e)),
        None => Label::Unknown,
    }
}

// ---------------------------------------------------------------------------
// top level

/// Text plus replacement count, before the final clean-up.
struct Outcome {
    text: String,
    charset: &'static str,
    replacements: usize,
}

#[derive(Default)]
struct Flags {
    mislabeled: bool,
    unknown_label: bool,
    undeclared: bool,
}

fn decode_impl(bytes: &[u8], declared: Option<&str>, short: bool) -> Decoded {
    let label = resolve_label(declared);
    let mut flags = Flags { unknown_label: label == Label::Unknown, ..Flags::default() };
    let out = choose_and_decode(bytes, label, short, &mut flags);
    finish(out, flags)
}

fn finish(out: Outcome, flags: Flags) -> Decoded {
    let mut text = out.text;
    if text.starts_with('\u{FEFF}') {
        text.drain(..'\u{FEFF}'.len_utf8());
    }
    if text.contains('\0') {
        text.retain(|c| c != '\0');
    }
    Decoded {
        text,
        charset: out.charset,
        mislabeled: flags.mislabeled,
        unknown_label: flags.unknown_label,
        undeclared: flags.undeclared,
        replacements: out.replacements,
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn choose_and_decode(bytes: &[u8], label: Label, short: bool, flags: &mut Flags) -> Outcome {
    if let Label::Known(cs @ (Charset::Utf16 | Charset::Utf16Le | Charset::Utf16Be)) = label {
        if looks_like_utf16(bytes) {
            return decode_utf16(bytes, cs);
        }
        flags.mislabeled = true;
        return detect_unlabelled(bytes, short, &mut Flags::default());
    }
    if let Some(rest) = bytes.strip_prefix(UTF8_BOM)
        && std::str::from_utf8(rest).is_ok()
    {
        match label {
            Label::Known(cs) => flags.mislabeled = cs != Charset::Utf8,
            Label::None | Label::Ascii => flags.undeclared = !rest.is_ascii(),
            Label::Unknown => {}
        }
        return decode_as(rest, Charset::Utf8);
    }
    match label {
        Label::None | Label::Ascii => detect_unlabelled(bytes, short, flags),
        Label::Unknown => detect_unlabelled(bytes, short, &mut Flags::default()),
        Label::Known(cs) => decode_declared(bytes, cs, short, flags),
    }
}

/// Which ISO-2022 escape sequences occur: (Japanese designations, KR designation).
fn scan_escapes(bytes: &[u8]) -> (bool, bool) {
    let (mut jp, mut kr) = (false, false);
    for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == 0x1B) {
        let tail = bytes.get(i + 1..).unwrap_or(&[]);
        match tail {
            [b'$', b'@' | b'B', ..] | [b'$', b'(', b'@' | b'B' | b'D' | b'O' | b'P' | b'Q', ..] => jp = true,
            [b'(', b'I', ..] => jp = true,
            [b'$', b')', b'C', ..] => kr = true,
            _ => {}
        }
        if jp && kr {
            break;
        }
    }
    (jp, kr)
}

fn has_8bit(bytes: &[u8]) -> bool {
    !bytes.is_ascii()
}

/// No label, us-ascii, or an unknown label.
fn detect_unlabelled(bytes: &[u8], short: bool, flags: &mut Flags) -> Outcome {
    let eight = has_8bit(bytes);
    let (jp_esc, kr_esc) = scan_escapes(bytes);
    if jp_esc || kr_esc {
        flags.undeclared = true;
        let segments = eight.then(|| best_candidate(bytes, short).charset());
        let mut out = Iso2022::run(bytes, segments);
        if kr_esc && !jp_esc {
            out.charset = Charset::Iso2022Kr.name();
        }
        return out;
    }
    if !eight {
        return decode_as(bytes, Charset::Ascii);
    }
    flags.undeclared = true;
    let best = best_candidate(bytes, short);
    if best.acceptable(short) {
        return decode_as(bytes, best.cand.charset());
    }
    decode_as(bytes, Charset::Other(WINDOWS_1252))
}

fn decode_declared(bytes: &[u8], cs: Charset, short: bool, flags: &mut Flags) -> Outcome {
    let eight = has_8bit(bytes);
    let (jp_esc, kr_esc) = scan_escapes(bytes);
    if matches!(cs, Charset::Iso2022Jp | Charset::Iso2022Kr) {
        if !eight {
            let mut out = Iso2022::run(bytes, None);
            out.charset = cs.name();
            return out;
        }
        flags.mislabeled = true;
        let best = best_candidate(bytes, short).cand.charset();
        if jp_esc || kr_esc {
            return Iso2022::run(bytes, Some(best));
        }
        return decode_as(bytes, best);
    }
    if jp_esc {
        // ISO-2022-JP under an ASCII-compatible label (UTF-7 included: ESC is a
        // direct character there); 8-bit segments stay in the declared charset.
        flags.mislabeled = true;
        let segments = match cs {
            Charset::Utf7 => eight.then(|| best_candidate(bytes, short).charset()),
            other => Some(other),
        };
        return Iso2022::run(bytes, segments);
    }
    let declared = decode_as(bytes, cs);
    if !eight {
        return declared;
    }
    match reconsider(bytes, cs, &declared, short) {
        Some(better) => {
            flags.mislabeled = true;
            decode_as(bytes, better)
        }
        None => declared,
    }
}

/// Decide whether a declared, 8-bit decoding should give way to another
/// Japanese candidate. `None` keeps the declared charset.
fn reconsider(bytes: &[u8], cs: Charset, declared: &Outcome, short: bool) -> Option<Charset> {
    let own = cs.cand();
    let alts: Vec<Eval> = Cand::ALL.iter().filter(|c| Some(**c) != own).map(|c| evaluate(bytes, *c)).collect();
    if declared.replacements > 0 {
        let best = pick_best(&alts)?;
        let far_fewer = best.errors.saturating_mul(8) <= declared.replacements;
        return ((best.errors == 0 || far_fewer) && best.st.plausible()).then(|| best.cand.charset());
    }
    if short {
        return None; // a clean fragment keeps its label (the checker reads it literally)
    }
    let utf8 = alts.iter().find(|e| e.cand == Cand::Utf8);
    let japanese = alts
        .iter()
        .filter(|e| e.cand != Cand::Utf8 && e.errors == 0 && e.st.strongly_japanese(false))
        .max_by_key(|e| e.st.score());
    match cs {
        Charset::Utf8 => None,
        Charset::ShiftJis | Charset::EucJp => {
            let mine = own.map(|c| evaluate(bytes, c))?;
            if let Some(u) = utf8.filter(|u| u.errors == 0 && u.st.chars >= 3) {
                return Some(u.cand.charset());
            }
            let alt = japanese?;
            (!mine.st.plausible() && alt.st.score() > mine.st.score()).then(|| alt.cand.charset())
        }
        _ => {
            if let Some(u) = utf8.filter(|u| u.errors == 0 && u.st.chars >= 1) {
                return Some(u.cand.charset());
            }
            japanese.map(|e| e.cand.charset())
        }
    }
}

// ---------------------------------------------------------------------------
// decoding in one charset

fn decode_as(bytes: &[u8], cs: Charset) -> Outcome {
    match cs {
        Charset::Ascii => {
            if bytes.is_ascii() {
                let text = bytes.iter().map(|&b| char::from(b)).collect();
                Outcome { text, charset: cs.name(), replacements: 0 }
            } else {
                decode_encoding(bytes, WINDOWS_1252)
            }
        }
        Charset::Utf8 => decode_utf8(bytes),
        Charset::Utf7 => decode_utf7(bytes),
        Charset::Utf16 | Charset::Utf16Le | Charset::Utf16Be => decode_utf16(bytes, cs),
        Charset::Iso2022Jp | Charset::Iso2022Kr => {
            let mut out = Iso2022::run(bytes, None);
            out.charset = cs.name();
            out
        }
        Charset::ShiftJis => {
            let mut out = decode_encoding(bytes, SHIFT_JIS);
            out.text = ms_map_string(out.text, true);
            out
        }
        Charset::EucJp => {
            let mut out = decode_encoding(bytes, EUC_JP);
            out.text = ms_map_string(out.text, false);
            out
        }
        Charset::Other(e) => decode_encoding(bytes, e),
    }
}

fn decode_encoding(bytes: &[u8], enc: &'static Encoding) -> Outcome {
    if let Some(s) = enc.decode_without_bom_handling_and_without_replacement(bytes) {
        return Outcome { text: s.into_owned(), charset: enc.name(), replacements: 0 };
    }
    let (s, _) = enc.decode_without_bom_handling(bytes);
    let replacements = s.chars().filter(|&c| c == '\u{FFFD}').count();
    Outcome { text: s.into_owned(), charset: enc.name(), replacements }
}

fn decode_utf8(bytes: &[u8]) -> Outcome {
    let replacements = bytes.utf8_chunks().filter(|c| !c.invalid().is_empty()).count();
    let text = String::from_utf8_lossy(bytes).into_owned();
    Outcome { text, charset: Charset::Utf8.name(), replacements }
}

/// A body labelled UTF-16 that has no BOM, no zero byte at all and yet line
/// breaks or spaces is really an ASCII-compatible charset.
fn looks_like_utf16(bytes: &[u8]) -> bool {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return true;
    }
    bytes.contains(&0) || !bytes.iter().any(|&b| b == b'\n' || b == b' ')
}

fn decode_utf16(bytes: &[u8], cs: Charset) -> Outcome {
    let (enc, body) = match (bytes, cs) {
        ([0xFF, 0xFE, rest @ ..], Charset::Utf16 | Charset::Utf16Le) => (UTF_16LE, rest),
        ([0xFE, 0xFF, rest @ ..], Charset::Utf16 | Charset::Utf16Be) => (UTF_16BE, rest),
        (_, Charset::Utf16Le) => (UTF_16LE, bytes),
        (_, Charset::Utf16Be) => (UTF_16BE, bytes),
        _ => (guess_utf16_order(bytes), bytes),
    };
    decode_encoding(body, enc)
}

/// RFC 2781: big-endian unless the zero bytes say otherwise.
fn guess_utf16_order(bytes: &[u8]) -> &'static Encoding {
    let sample = bytes.get(..4096).unwrap_or(bytes);
    let (mut even, mut odd) = (0usize, 0usize);
    for pair in sample.chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    if odd > even { UTF_16LE } else { UTF_16BE }
}

// ---------------------------------------------------------------------------
// Microsoft mapping

/// JIS-table code point → what CP932 converters produce (see module docs).
fn ms_map_char(c: char, full: bool) -> char {
    match c {
        '\u{301C}' => '\u{FF5E}',
        '\u{2016}' => '\u{2225}',
        '\u{2212}' => '\u{FF0D}',
        '\u{00A2}' if full => '\u{FFE0}',
        '\u{00A3}' if full => '\u{FFE1}',
        '\u{00AC}' if full => '\u{FFE2}',
        other => other,
    }
}

fn ms_map_string(s: String, full: bool) -> String {
    if s.chars().all(|c| ms_map_char(c, full) == c) {
        return s;
    }
    s.chars().map(|c| ms_map_char(c, full)).collect()
}

// ---------------------------------------------------------------------------
// tables built once from encoding_rs

const SJIS_TRAILS: usize = 188;
const SJIS_LEADS: usize = 60;

fn sjis_lead_index(b: u8) -> Option<usize> {
    match b {
        0x81..=0x9F => Some(usize::from(b - 0x81)),
        0xE0..=0xFC => Some(usize::from(b - 0xC1)),
        _ => None,
    }
}

fn sjis_trail_index(b: u8) -> Option<usize> {
    match b {
        0x40..=0x7E => Some(usize::from(b - 0x40)),
        0x80..=0xFC => Some(usize::from(b - 0x41)),
        _ => None,
    }
}

/// Decode `count` byte sequences (written by `write`) in one `encoding_rs`
/// call, separated by LF, into a table; '\0' marks an unmapped sequence.
fn build_table(enc: &'static Encoding, count: usize, write: impl Fn(usize, &mut Vec<u8>)) -> Box<[char]> {
    let mut buf = Vec::with_capacity(count * 4);
    for k in 0..count {
        write(k, &mut buf);
        buf.push(b'\n');
    }
    let (s, _) = enc.decode_without_bom_handling(&buf);
    let mut table = vec!['\0'; count];
    for (slot, piece) in table.iter_mut().zip(s.split('\n')) {
        let mut chars = piece.chars();
        if let (Some(c), None) = (chars.next(), chars.next())
            && c != '\u{FFFD}'
        {
            *slot = c;
        }
    }
    table.into_boxed_slice()
}

/// Every Shift_JIS (CP932) double-byte code, indexed by lead × trail index.
static SJIS_TABLE: LazyLock<Box<[char]>> = LazyLock::new(|| {
    build_table(SHIFT_JIS, SJIS_LEADS * SJIS_TRAILS, |k, buf| {
        let (li, ti) = (k / SJIS_TRAILS, k % SJIS_TRAILS);
        let lead = if li < 31 { 0x81 + li } else { 0xC1 + li };
        let trail = if ti < 63 { 0x40 + ti } else { 0x41 + ti };
        buf.extend([lead as u8, trail as u8]);
    })
});

/// 94×94 table of a 96-set read through an EUC-style encoding (`prefix`, a|0x80, b|0x80).
fn euc_style_table(enc: &'static Encoding, prefix: Option<u8>) -> Box<[char]> {
    build_table(enc, 94 * 94, |k, buf| {
        buf.extend(prefix);
        buf.extend([0xA1 + (k / 94) as u8, 0xA1 + (k % 94) as u8]);
    })
}

static JIS0212_TABLE: LazyLock<Box<[char]>> = LazyLock::new(|| euc_style_table(EUC_JP, Some(0x8F)));
static GB2312_TABLE: LazyLock<Box<[char]>> = LazyLock::new(|| euc_style_table(GBK, None));
static KSC5601_TABLE: LazyLock<Box<[char]>> = LazyLock::new(|| euc_style_table(EUC_KR, None));

fn sjis_lookup(lead: u8, trail: u8) -> Option<char> {
    let idx = sjis_lead_index(lead)? * SJIS_TRAILS + sjis_trail_index(trail)?;
    SJIS_TABLE.get(idx).copied().filter(|&c| c != '\0')
}

/// A JIS X 0208 pair (both bytes 0x21..=0x7E) as its Shift_JIS pair.
fn jis_to_sjis(j1: u8, j2: u8) -> (u8, u8) {
    let (j1, j2) = (u16::from(j1), u16::from(j2));
    let (c1, c2) = if j1 % 2 == 1 {
        let c2 = j2 + 0x1F;
        (j1.div_ceil(2) + 0x70, if c2 >= 0x7F { c2 + 1 } else { c2 })
    } else {
        (j1 / 2 + 0x70, j2 + 0x7E)
    };
    let c1 = if c1 >= 0xA0 { c1 + 0x40 } else { c1 };
    (u8::try_from(c1).unwrap_or(0), u8::try_from(c2).unwrap_or(0))
}

/// JIS X 0208 (with NEC row 13 and IBM rows 89–92), Microsoft-mapped.
fn jis0208(j1: u8, j2: u8) -> Option<char> {
    let (s1, s2) = jis_to_sjis(j1, j2);
    sjis_lookup(s1, s2).map(|c| ms_map_char(c, true))
}

fn table94(table: &[char], j1: u8, j2: u8) -> Option<char> {
    let r = usize::from(j1.checked_sub(0x21)?);
    let c = usize::from(j2.checked_sub(0x21)?);
    if r >= 94 || c >= 94 {
        return None;
    }
    table.get(r * 94 + c).copied().filter(|&ch| ch != '\0')
}

// ---------------------------------------------------------------------------
// ISO-2022 (JP superset, KR)

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum G0 {
    Ascii,
    Jis0208,
    Jis0212,
    /// JIS X 0213 plane 2: not decodable, every pair is U+FFFD.
    Jis0213Plane2,
    Kana,
    Gb2312,
    Ksc5601,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum G2 {
    None,
    Latin1,
    Greek,
}

enum EscAction {
    Designate(G0),
    G1Ksc,
    G2(G2),
    SingleShift(u8),
    Ignore,
    Invalid,
}

struct Iso2022<'a> {
    bytes: &'a [u8],
    pos: usize,
    out: String,
    reps: usize,
    g0: G0,
    /// SO is active (half-width katakana, or KS X 1001 after `ESC $ ) C`).
    shifted: bool,
    g1_ksc: bool,
    g2: G2,
    /// Pending bytes of the ASCII mode, decoded in `segments` when flushed.
    seg: Vec<u8>,
    segments: Option<Charset>,
}

impl<'a> Iso2022<'a> {
    /// Decode `bytes`; 8-bit bytes (outside the standard) are read in
    /// `segments` when given, else each one is U+FFFD.
    fn run(bytes: &'a [u8], segments: Option<Charset>) -> Outcome {
        let mut d = Iso2022 {
            bytes,
            pos: 0,
            out: String::with_capacity(bytes.len() + bytes.len() / 2),
            reps: 0,
            g0: G0::Ascii,
            shifted: false,
            g1_ksc: false,
            g2: G2::None,
            seg: Vec::new(),
            segments,
        };
        while let Some(&b) = d.bytes.get(d.pos) {
            d.step(b);
        }
        d.flush();
        Outcome { text: d.out, charset: Charset::Iso2022Jp.name(), replacements: d.reps }
    }

    fn step(&mut self, b: u8) {
        match b {
            0x1B => self.escape(),
            0x0E => {
                self.flush();
                self.shifted = true;
                self.pos += 1;
            }
            0x0F => {
                self.flush();
                self.shifted = false;
                self.pos += 1;
            }
            b'\r' | b'\n' => self.newline(b),
            0x80..=0xFF => self.eight_bit(b),
            _ if self.shifted && self.g1_ksc => self.pair(G0::Ksc5601, b),
            _ if self.shifted => self.kana(b),
            _ => match self.g0 {
                G0::Ascii => {
                    self.seg.push(b);
                    self.pos += 1;
                }
                G0::Kana => self.kana(b),
                mode => self.pair(mode, b),
            },
        }
    }

    fn in_ascii(&self) -> bool {
        self.g0 == G0::Ascii && !self.shifted
    }

    fn flush(&mut self) {
        if self.seg.is_empty() {
            return;
        }
        match std::str::from_utf8(&self.seg) {
            Ok(s) if self.seg.is_ascii() => self.out.push_str(s),
            _ => {
                let o = match self.segments {
                    Some(cs) => decode_as(&self.seg, cs),
                    None => {
                        let text: String =
                            self.seg.iter().map(|&b| if b < 0x80 { char::from(b) } else { '\u{FFFD}' }).collect();
                        let replacements = self.seg.iter().filter(|&&b| b >= 0x80).count();
                        Outcome { text, charset: "", replacements }
                    }
                };
                self.out.push_str(&o.text);
                self.reps += o.replacements;
            }
        }
        self.seg.clear();
    }

    fn emit(&mut self, c: char) {
        self.flush();
        self.out.push(c);
    }

    fn bad(&mut self) {
        self.emit('\u{FFFD}');
        self.reps += 1;
    }

    fn eight_bit(&mut self, b: u8) {
        if self.segments.is_some() {
            // 8-bit text without an escape: an implicit return to "ASCII" (the segment charset)
            if !self.in_ascii() {
                self.flush();
                self.g0 = G0::Ascii;
                self.shifted = false;
            }
            self.seg.push(b);
        } else {
            self.bad();
        }
        self.pos += 1;
    }

    fn newline(&mut self, b: u8) {
        if self.in_ascii() {
            self.seg.push(b);
        } else {
            self.emit(char::from(b));
        }
        self.pos += 1;
        if self.in_ascii() || matches!(self.bytes.get(self.pos), Some(b'\r' | b'\n')) {
            return; // decide at the last byte of a run of line breaks
        }
        let carry_on = !self.shifted && self.g0 == G0::Jis0208 && self.next_line_is_jis();
        if !carry_on {
            self.flush();
            self.g0 = G0::Ascii;
            self.shifted = false;
        }
    }

    /// The line starting at `pos` is JIS X 0208 that lost its escape: only an
    /// even number of graphic 7-bit bytes, every pair mapped, and at least 70%
    /// of the pairs in the punctuation/kana/level-1 kanji rows.
    fn next_line_is_jis(&self) -> bool {
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        let end = rest.iter().position(|&b| matches!(b, b'\r' | b'\n' | 0x1B | 0x0E | 0x0F)).unwrap_or(rest.len());
        let line = rest.get(..end).unwrap_or(&[]);
        if line.is_empty() || line.len() % 2 != 0 || !line.iter().all(|b| (0x21..=0x7E).contains(b)) {
            return false;
        }
        let mut typical = 0usize;
        for pair in line.chunks_exact(2) {
            if jis0208(pair[0], pair[1]).is_none() {
                return false;
            }
            typical += usize::from(matches!(pair[0], 0x21 | 0x23 | 0x24 | 0x25 | 0x30..=0x4F));
        }
        typical * 10 >= (line.len() / 2) * 7
    }

    fn kana(&mut self, b: u8) {
        self.pos += 1;
        match b {
            0x21..=0x5F => self.emit(char::from_u32(0xFF61 + u32::from(b - 0x21)).unwrap_or('\u{FFFD}')),
            0x60..=0x7E => self.bad(),
            _ => self.emit(char::from(b)), // controls and space pass through
        }
    }

    fn pair(&mut self, mode: G0, b: u8) {
        if !(0x21..=0x7E).contains(&b) {
            self.emit(char::from(b)); // controls, space and DEL pass through
            self.pos += 1;
            return;
        }
        let trail = self.bytes.get(self.pos + 1).copied().filter(|t| (0x21..=0x7E).contains(t));
        let Some(t) = trail else {
            self.bad();
            self.pos += 1;
            return;
        };
        self.pos += 2;
        let c = match mode {
            G0::Jis0208 => jis0208(b, t),
            G0::Jis0212 => table94(&JIS0212_TABLE, b, t).map(|c| ms_map_char(c, true)),
            G0::Gb2312 => table94(&GB2312_TABLE, b, t),
            G0::Ksc5601 => table94(&KSC5601_TABLE, b, t),
            G0::Jis0213Plane2 | G0::Ascii | G0::Kana => None,
        };
        match c {
            Some(c) => self.emit(c),
            None => self.bad(),
        }
    }

    fn escape(&mut self) {
        let tail = self.bytes.get(self.pos + 1..).unwrap_or(&[]);
        let (len, action) = match tail {
            [b'(', b'B' | b'J' | b'H', ..] => (3, EscAction::Designate(G0::Ascii)),
            [b'(', b'I', ..] => (3, EscAction::Designate(G0::Kana)),
            [b'$', b'@' | b'B', ..] => (3, EscAction::Designate(G0::Jis0208)),
            [b'$', b'A', ..] => (3, EscAction::Designate(G0::Gb2312)),
            [b'$', b'(', b'@' | b'B' | b'O' | b'Q', ..] => (4, EscAction::Designate(G0::Jis0208)),
            [b'$', b'(', b'D', ..] => (4, EscAction::Designate(G0::Jis0212)),
            [b'$', b'(', b'P', ..] => (4, EscAction::Designate(G0::Jis0213Plane2)),
            [b'$', b'(', b'C', ..] => (4, EscAction::Designate(G0::Ksc5601)),
            [b'$', b')', b'C', ..] => (4, EscAction::G1Ksc),
            [b')', b'I', ..] | [b'&', b'@', ..] => (3, EscAction::Ignore),
            [b'.', b'A', ..] => (3, EscAction::G2(G2::Latin1)),
            [b'.', b'F', ..] => (3, EscAction::G2(G2::Greek)),
            [b'N', x, ..] => (3, EscAction::SingleShift(*x)),
            _ => (1, EscAction::Invalid),
        };
        self.pos += len;
        match action {
            EscAction::Designate(g0) => {
                self.flush();
                self.g0 = g0;
                self.shifted = false;
            }
            EscAction::G1Ksc => self.g1_ksc = true,
            EscAction::G2(g2) => self.g2 = g2,
            EscAction::SingleShift(x) => self.single_shift(x),
            EscAction::Ignore => {}
            EscAction::Invalid => self.bad(),
        }
    }

    fn single_shift(&mut self, x: u8) {
        let byte = x | 0x80;
        let c = match self.g2 {
            _ if !(0x20..=0x7F).contains(&x) => None,
            G2::Latin1 => Some(char::from(byte)),
            G2::Greek => {
                let arr = [byte];
                let (s, _) = ISO_8859_7.decode_without_bom_handling(&arr);
                s.chars().next().filter(|&c| c != '\u{FFFD}')
            }
            G2::None => None,
        };
        match c {
            Some(c) => self.emit(c),
            None => self.bad(),
        }
    }
}

// ---------------------------------------------------------------------------
// UTF-7 (RFC 2152)

fn base64_value(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// UTF-16 code units → chars, with U+FFFD for unpaired surrogates.
#[derive(Default)]
struct Utf16Sink {
    high: Option<u16>,
}

impl Utf16Sink {
    fn push(&mut self, unit: u16, out: &mut String, reps: &mut usize) {
        if let Some(h) = self.high.take() {
            if (0xDC00..=0xDFFF).contains(&unit) {
                let cp = 0x10000 + ((u32::from(h) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                out.push(char::from_u32(cp).unwrap_or('\u{FFFD}'));
                return;
            }
            out.push('\u{FFFD}');
            *reps += 1;
        }
        match unit {
            0xD800..=0xDBFF => self.high = Some(unit),
            0xDC00..=0xDFFF => {
                out.push('\u{FFFD}');
                *reps += 1;
            }
            _ => out.push(char::from_u32(u32::from(unit)).unwrap_or('\u{FFFD}')),
        }
    }

    fn end(&mut self, out: &mut String, reps: &mut usize) {
        if self.high.take().is_some() {
            out.push('\u{FFFD}');
            *reps += 1;
        }
    }
}

fn decode_utf7(bytes: &[u8]) -> Outcome {
    let mut out = String::with_capacity(bytes.len());
    let mut reps = 0usize;
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        if b != b'+' {
            if b < 0x80 {
                out.push(char::from(b));
            } else {
                out.push('\u{FFFD}');
                reps += 1;
            }
            continue;
        }
        if bytes.get(i) == Some(&b'-') {
            out.push('+');
            i += 1;
            continue;
        }
        let (mut acc, mut nbits, mut any) = (0u32, 0u32, false);
        let mut sink = Utf16Sink::default();
        while let Some(v) = bytes.get(i).and_then(|&c| base64_value(c)) {
            any = true;
            acc = (acc << 6) | v;
            nbits += 6;
            if nbits >= 16 {
                nbits -= 16;
                let unit = u16::try_from((acc >> nbits) & 0xFFFF).unwrap_or(0xFFFD);
                sink.push(unit, &mut out, &mut reps);
            }
            acc &= (1 << nbits) - 1;
            i += 1;
        }
        sink.end(&mut out, &mut reps);
        if !any {
            out.push('+'); // a lone '+': ill-formed, kept literally
        }
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
    }
    Outcome { text: out, charset: Charset::Utf7.name(), replacements: reps }
}

// ---------------------------------------------------------------------------
// detection

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cand {
    Utf8,
    Sjis,
    Euc,
}

impl Cand {
    const ALL: [Cand; 3] = [Cand::Utf8, Cand::Sjis, Cand::Euc];

    fn charset(self) -> Charset {
        match self {
            Cand::Utf8 => Charset::Utf8,
            Cand::Sjis => Charset::ShiftJis,
            Cand::Euc => Charset::EucJp,
        }
    }
}

/// Per non-ASCII character counts of one candidate reading.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    chars: usize,
    kana: usize,
    good: usize,
    neutral: usize,
    rare: usize,
    halfwidth: usize,
    bad: usize,
}

impl Stats {
    fn score(&self) -> i64 {
        let v = |n: usize| i64::try_from(n).unwrap_or(i64::MAX / 8);
        3 * v(self.good) + v(self.neutral) - 2 * v(self.rare) - 2 * v(self.halfwidth) - 4 * v(self.bad)
    }

    /// At least half of the characters are ordinary Japanese text or symbols.
    fn plausible(&self) -> bool {
        self.bad == 0 && (self.good + self.neutral) * 2 >= self.chars
    }

    /// Kana-rich text that is clearly Japanese.
    fn strongly_japanese(&self, short: bool) -> bool {
        let min_kana = if short { 1 } else { 2 };
        self.bad == 0 && self.kana >= min_kana && self.kana * 5 >= self.chars && self.good * 3 >= self.chars * 2
    }

    /// JIS row of a double-byte character (rows > 94 are the Shift_JIS
    /// private-use and IBM areas).
    fn add_row(&mut self, row: usize) {
        self.chars += 1;
        match row {
            4 | 5 => {
                self.kana += 1;
                self.good += 1;
            }
            1 | 3 | 16..=47 => self.good += 1,
            2 | 6..=8 | 13 => self.neutral += 1,
            95..=114 => self.bad += 1,
            _ => self.rare += 1,
        }
    }

    fn add_char(&mut self, c: char) {
        self.chars += 1;
        match c {
            '\u{3041}'..='\u{30FF}' => {
                self.kana += 1;
                self.good += 1;
            }
            '\u{3000}'..='\u{303F}' | '\u{FF01}'..='\u{FF5E}' | '\u{4E00}'..='\u{9FFF}' => self.good += 1,
            '\u{FF61}'..='\u{FF9F}' => self.halfwidth += 1,
            '\u{80}'..='\u{9F}' | '\u{E000}'..='\u{F8FF}' => self.bad += 1,
            _ => self.neutral += 1,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Eval {
    cand: Cand,
    errors: usize,
    st: Stats,
}

impl Eval {
    fn charset(&self) -> Charset {
        self.cand.charset()
    }

    /// Good enough to be chosen for unlabelled 8-bit text.
    fn acceptable(&self, short: bool) -> bool {
        let few_errors = self.errors == 0 || (!short && self.errors.saturating_mul(20) <= self.st.chars);
        match self.cand {
            Cand::Utf8 => few_errors && self.st.chars > 0,
            Cand::Sjis | Cand::Euc => few_errors && self.st.plausible() && self.st.good + self.st.neutral > 0,
        }
    }
}

fn evaluate(bytes: &[u8], cand: Cand) -> Eval {
    match cand {
        Cand::Utf8 => scan_utf8(bytes),
        Cand::Sjis => scan_sjis(bytes),
        Cand::Euc => scan_euc(bytes),
    }
}

/// Fewest errors, then best score, then the order UTF-8, Shift_JIS, EUC-JP.
fn pick_best(evals: &[Eval]) -> Option<&Eval> {
    evals.iter().min_by_key(|e| (e.errors, std::cmp::Reverse(e.st.score())))
}

/// Valid UTF-8 first, then the best acceptable candidate, then the best one.
fn best_candidate(bytes: &[u8], short: bool) -> Eval {
    let evals = Cand::ALL.map(|c| evaluate(bytes, c));
    let utf8 = evals[0];
    if utf8.acceptable(short) && utf8.errors == 0 {
        return utf8;
    }
    let acceptable: Vec<Eval> = evals.iter().copied().filter(|e| e.acceptable(short)).collect();
    // evals is never empty, so the final fallback is unreachable
    pick_best(&acceptable).or_else(|| pick_best(&evals)).copied().unwrap_or(utf8)
}

fn scan_utf8(bytes: &[u8]) -> Eval {
    let mut st = Stats::default();
    let mut errors = 0usize;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars().filter(|c| !c.is_ascii()) {
            st.add_char(c);
        }
        errors += usize::from(!chunk.invalid().is_empty());
    }
    Eval { cand: Cand::Utf8, errors, st }
}

/// WHATWG Shift_JIS structure: single bytes 00–80 and A1–DF, lead 81–9F/E0–FC
/// with trail 40–7E/80–FC; an invalid ASCII trail is read again.
fn scan_sjis(bytes: &[u8]) -> Eval {
    let mut st = Stats::default();
    let mut errors = 0usize;
    let mut i = 0usize;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            0x00..=0x7F => {}
            0x80 => {
                st.chars += 1;
                st.bad += 1;
            }
            0xA1..=0xDF => {
                st.chars += 1;
                st.halfwidth += 1;
            }
            _ => {
                let Some((li, t)) = sjis_lead_index(b).zip(bytes.get(i).copied()) else {
                    errors += 1;
                    continue;
                };
                match sjis_lookup(b, t) {
                    Some(_) => {
                        i += 1;
                        st.add_row(li * 2 + 1 + usize::from(t >= 0x9F));
                    }
                    None => {
                        errors += 1;
                        i += usize::from(t >= 0x80);
                    }
                }
            }
        }
    }
    Eval { cand: Cand::Sjis, errors, st }
}

/// WHATWG EUC-JP structure: 8E + A1–DF kana, 8F + two A1–FE (JIS X 0212),
/// A1–FE + A1–FE (JIS X 0208).
fn scan_euc(bytes: &[u8]) -> Eval {
    let mut st = Stats::default();
    let mut errors = 0usize;
    let mut i = 0usize;
    let hi = |x: Option<&u8>| x.copied().filter(|t| (0xA1..=0xFE).contains(t));
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            0x00..=0x7F => {}
            0x8E => match bytes.get(i) {
                Some(0xA1..=0xDF) => {
                    i += 1;
                    st.chars += 1;
                    st.halfwidth += 1;
                }
                Some(&t) => {
                    errors += 1;
                    i += usize::from(t >= 0x80);
                }
                None => errors += 1,
            },
            0x8F => match (hi(bytes.get(i)), hi(bytes.get(i + 1))) {
                (Some(a), Some(c)) if table94(&JIS0212_TABLE, a & 0x7F, c & 0x7F).is_some() => {
                    i += 2;
                    st.chars += 1;
                    st.rare += 1;
                }
                _ => errors += 1,
            },
            0xA1..=0xFE => match hi(bytes.get(i)) {
                Some(t) if jis0208(b & 0x7F, t & 0x7F).is_some() => {
                    i += 1;
                    st.add_row(usize::from(b - 0xA0));
                }
                Some(_) => {
                    i += 1;
                    errors += 1;
                }
                None => errors += 1,
            },
            _ => errors += 1,
        }
    }
    Eval { cand: Cand::Euc, errors, st }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(e: &'static Encoding, s: &str) -> Vec<u8> {
        let (b, _, had_errors) = e.encode(s);
        assert!(!had_errors, "{} cannot encode {s:?}", e.name());
        b.into_owned()
    }

    fn text(bytes: &[u8], label: Option<&str>) -> String {
        decode_text(bytes, label).text
    }

    const JP: &str = "こんにちは、世界。日本語のメールです。\r\nよろしくお願いします。\r\n";

    // --- encoding_rs claims the design relies on ---------------------------------

    #[test]
    fn encoding_rs_shift_jis_is_cp932() {
        let (s, _, err) = SHIFT_JIS.decode(b"\x87\x40\x87\x8A\x87\x58\x87\x7E\xFB\xFC\xFA\xB1\xEE\xE0\xED\x95");
        assert!(!err);
        assert_eq!(s, "①㈱Ⅴ㍻髙﨑髙﨑");
    }

    #[test]
    fn encoding_rs_euc_jp_has_jis0212_and_extensions() {
        let (s, _, err) = EUC_JP.decode(b"\x8F\xB0\xA1\x8F\xA2\xB7\xAD\xA1\xAD\xEA\xFC\xE2\xF9\xF5");
        assert!(!err);
        assert_eq!(s, "丂～①㈱髙﨑");
    }

    #[test]
    fn encoding_rs_iso_2022_jp_has_nec_row13() {
        let (s, _, err) = encoding_rs::ISO_2022_JP.decode(b"\x1b$B\x2d\x21\x2d\x6a\x7c\x62\x1b(B");
        assert!(!err);
        assert_eq!(s, "①㈱髙");
    }

    // --- ISO-2022-JP ------------------------------------------------------------

    #[test]
    fn iso2022jp_basic_and_label_name() {
        let bytes = enc(encoding_rs::ISO_2022_JP, JP);
        let d = decode_text(&bytes, Some("ISO-2022-JP"));
        assert_eq!(d.text, JP);
        assert_eq!(d.charset, "ISO-2022-JP");
        assert!(!d.mislabeled && !d.undeclared && !d.unknown_label);
        assert_eq!(d.replacements, 0);
    }

    #[test]
    fn iso2022jp_nec_and_ibm_extensions() {
        let b = b"\x1b$B\x2d\x21\x2d\x6a\x2d\x39\x2d\x5f\x7c\x62\x79\x75\x1b(B";
        let d = decode_text(b, Some("iso-2022-jp"));
        assert_eq!(d.text, "①㈱Ⅴ㍻髙﨑");
        assert_eq!(d.replacements, 0);
    }

    #[test]
    fn iso2022jp_escape_variants() {
        // ESC $ @, ESC & @ ESC $ B, ESC ( J, ESC $ ( B, ESC $ ( Q (0213 plane 1)
        let b = b"\x1b$@$\"\x1b(J!\x1b&@\x1b$B$$\x1b(B-\x1b$(B$&\x1b$(Q$\"\x1b$(O$$\x1b(H.";
        assert_eq!(text(b, Some("iso-2022-jp")), "あ!い-うあい.");
    }

    #[test]
    fn iso2022jp_jis0212() {
        let b = b"\x1b$(D\x22\x37\x30\x21\x1b(B";
        let d = decode_text(b, Some("ISO-2022-JP-1"));
        assert_eq!(d.text, "～丂");
        assert_eq!(d.replacements, 0);
    }

    #[test]
    fn iso2022jp_halfwidth_kana() {
        assert_eq!(text(b"\x1b(I123\x1b(B", Some("iso-2022-jp")), "ｱｲｳ");
        assert_eq!(text(b"a\x0e123\x0fb", Some("iso-2022-jp")), "aｱｲｳb");
        // SO kana does not survive the end of the line
        assert_eq!(text(b"\x0e12\r\n12", Some("iso-2022-jp")), "ｱｲ\r\n12");
    }

    #[test]
    fn iso2022jp_missing_return_to_ascii() {
        let d = decode_text(b"\x1b$B$\"\r\nHello world\r\n", Some("iso-2022-jp"));
        assert_eq!(d.text, "あ\r\nHello world\r\n");
        assert_eq!(d.replacements, 0);
        // ASCII-looking line without spaces still returns to ASCII
        assert_eq!(text(b"\x1b$B$\"\nRegards,\n", Some("iso-2022-jp")), "あ\nRegards,\n");
        // a re-wrapped line that is clearly JIS continues in JIS
        assert_eq!(text(b"\x1b$B$\"\r\n$\"$$$&\x1b(B ok", Some("iso-2022-jp")), "あ\r\nあいう ok");
        // missing ESC ( B at the very end
        assert_eq!(text(b"\x1b$B$\"$$", Some("iso-2022-jp")), "あい");
    }

    #[test]
    fn iso2022jp_microsoft_mapping() {
        // 〜 ‖ − ¢ £ ¬ in JIS X 0208
        let b = b"\x1b$B\x21\x41\x21\x42\x21\x5d\x21\x71\x21\x72\x22\x4c\x1b(B";
        assert_eq!(text(b, Some("iso-2022-jp")), "～∥－￠￡￢");
        assert_eq!(text(b"\x81\x60\x81\x61\x81\x7c", Some("shift_jis")), "～∥－");
        assert_eq!(text(b"\xa1\xc1\xa1\xc2\xa1\xdd", Some("euc-jp")), "～∥－");
        assert_eq!(ms_map_char('\u{301C}', false), '\u{FF5E}');
        assert_eq!(ms_map_char('\u{00A2}', false), '\u{00A2}');
        assert_eq!(ms_map_char('\u{00A2}', true), '\u{FFE0}');
        assert_eq!(ms_map_string("a〜b".to_string(), false), "a～b");
    }

    #[test]
    fn iso2022jp_invalid_sequences_are_replaced() {
        let d = decode_text(b"a\x1b$B\x2d\x7e\x1b(Bb\x1bzc", Some("iso-2022-jp"));
        assert_eq!(d.text, "a\u{FFFD}b\u{FFFD}zc");
        assert_eq!(d.replacements, 2);
        // truncated pair, escape at end
        let d = decode_text(b"\x1b$B$", Some("iso-2022-jp"));
        assert_eq!(d.text, "\u{FFFD}");
        let d = decode_text(b"x\x1b$", Some("iso-2022-jp"));
        assert_eq!(d.text, "x\u{FFFD}$");
    }

    #[test]
    fn iso2022_jp2_and_kr() {
        // GB2312 中 = D6D0 -> 56 50; Latin-1 via G2
        assert_eq!(text(b"\x1b$A\x56\x50\x1b(B \x1b.A\x1bNi", Some("iso-2022-jp-2")), "中 é");
        // ISO-2022-KR 한 = EUC-KR C7D1
        let d = decode_text(b"\x1b$)C\x0e\x47\x51\x0f!", Some("iso-2022-kr"));
        assert_eq!(d.text, "한!");
        assert_eq!(d.charset, "ISO-2022-KR");
        let d = decode_text(b"\x1b$)C\x0e\x47\x51\x0f!", None);
        assert_eq!((d.text.as_str(), d.charset), ("한!", "ISO-2022-KR"));
    }

    // --- Shift_JIS and EUC-JP ------------------------------------------------------

    #[test]
    fn shift_jis_with_extensions() {
        let d = decode_text(b"\x87\x40\x87\x8A\x87\x58\x87\x7E\xFB\xFC\xFA\xB1", Some("Shift_JIS"));
        assert_eq!(d.text, "①㈱Ⅴ㍻髙﨑");
        assert_eq!((d.charset, d.mislabeled, d.replacements), ("Shift_JIS", false, 0));
        assert_eq!(text(&enc(SHIFT_JIS, JP), Some("windows-31j")), JP);
        assert_eq!(text(&enc(SHIFT_JIS, JP), Some("\"CP932\"")), JP);
    }

    #[test]
    fn euc_jp_with_extensions() {
        let d = decode_text(b"\xAD\xA1\xAD\xEA\xAD\xB9\xAD\xDF\xFC\xE2\xF9\xF5\x8F\xB0\xA1", Some("euc-jp"));
        assert_eq!(d.text, "①㈱Ⅴ㍻髙﨑丂");
        assert_eq!((d.charset, d.mislabeled, d.replacements), ("EUC-JP", false, 0));
        assert_eq!(text(&enc(EUC_JP, JP), Some("EUC-JP")), JP);
    }

    #[test]
    fn legit_halfwidth_shift_jis_keeps_label() {
        let b = enc(SHIFT_JIS, "ｺﾝﾆﾁﾊ ｹﾞﾝｷﾃﾞｽｶ\r\n");
        let d = decode_text(&b, Some("shift_jis"));
        assert_eq!((d.charset, d.mislabeled), ("Shift_JIS", false));
        assert_eq!(d.text, "ｺﾝﾆﾁﾊ ｹﾞﾝｷﾃﾞｽｶ\r\n");
    }

    // --- mislabels ---------------------------------------------------------------

    #[test]
    fn iso2022jp_label_on_shift_jis() {
        let d = decode_text(&enc(SHIFT_JIS, JP), Some("iso-2022-jp"));
        assert_eq!(d.text, JP);
        assert_eq!((d.charset, d.mislabeled, d.replacements), ("Shift_JIS", true, 0));
    }

    #[test]
    fn iso2022jp_label_on_euc_jp_and_utf8() {
        let d = decode_text(&enc(EUC_JP, JP), Some("iso-2022-jp"));
        assert_eq!(d.text, JP);
        assert_eq!((d.charset, d.mislabeled), ("EUC-JP", true));
        let d = decode_text(JP.as_bytes(), Some("iso-2022-jp"));
        assert_eq!((d.text.as_str(), d.charset, d.mislabeled), (JP, "UTF-8", true));
    }

    #[test]
    fn iso2022jp_with_8bit_segments() {
        let mut b = b"\x1b$B$\"\x1b(B ".to_vec();
        b.extend(enc(SHIFT_JIS, "日本語のテスト"));
        let d = decode_text(&b, Some("iso-2022-jp"));
        assert_eq!(d.text, "あ 日本語のテスト");
        assert_eq!((d.charset, d.mislabeled, d.replacements), ("ISO-2022-JP", true, 0));
    }

    #[test]
    fn declared_japanese_charset_wrong() {
        let d = decode_text(&enc(SHIFT_JIS, JP), Some("euc-jp"));
        assert_eq!((d.text.as_str(), d.charset, d.mislabeled), (JP, "Shift_JIS", true));
        // EUC-JP bytes decode "cleanly" as Shift_JIS (half-width garbage): implausible
        let d = decode_text(&enc(EUC_JP, JP), Some("shift_jis"));
        assert_eq!((d.text.as_str(), d.charset, d.mislabeled), (JP, "EUC-JP", true));
        let d = decode_text(&enc(SHIFT_JIS, JP), Some("utf-8"));
        assert_eq!((d.text.as_str(), d.charset, d.mislabeled), (JP, "Shift_JIS", true));
        let d = decode_text(JP.as_bytes(), Some("shift_jis"));
        assert_eq!((d.text.as_str(), d.charset, d.mislabeled), (JP, "UTF-8", true));
    }

    #[test]
    fn single_byte_labels_on_japanese_or_utf8() {
        let d = decode_text("Grüße aus München".as_bytes(), Some("iso-8859-1"));
        assert_eq!((d.text.as_str(), d.charset, d.mislabeled), ("Grüße aus München", "UTF-8", true));
        let d = decode_text(&enc(SHIFT_JIS, JP), Some("iso-8859-1"));
        assert_eq!((d.text.as_str(), d.charset, d.mislabeled), (JP, "Shift_JIS", true));
        // a real Latin-1 text stays
        let b = enc(WINDOWS_1252, "café crème, né à Paris — Grüße");
        let d = decode_text(&b, Some("iso-8859-1"));
        assert_eq!(
            (d.text.as_str(), d.charset, d.mislabeled),
            ("café crème, né à Paris — Grüße", "windows-1252", false)
        );
        // fragments keep a clean label
        let d = decode_fragment("Grüße".as_bytes(), Some("iso-8859-1"));
        assert_eq!((d.charset, d.mislabeled), ("windows-1252", false));
    }

    #[test]
    fn escapes_under_other_labels() {
        let b = enc(encoding_rs::ISO_2022_JP, JP);
        for label in ["shift_jis", "utf-8", "euc-jp", "us-ascii", "utf-7"] {
            let d = decode_text(&b, Some(label));
            assert_eq!((d.text.as_str(), d.charset), (JP, "ISO-2022-JP"), "{label}");
            assert_eq!(d.mislabeled, label != "us-ascii", "{label}");
            assert_eq!(d.undeclared, label == "us-ascii", "{label}");
        }
        let d = decode_text(&b, None);
        assert_eq!((d.text.as_str(), d.charset, d.undeclared), (JP, "ISO-2022-JP", true));
    }

    // --- no label / unknown label -------------------------------------------------

    #[test]
    fn undeclared_8bit() {
        for (bytes, cs) in
            [(JP.as_bytes().to_vec(), "UTF-8"), (enc(SHIFT_JIS, JP), "Shift_JIS"), (enc(EUC_JP, JP), "EUC-JP")]
        {
            for label in [None, Some("us-ascii"), Some("ascii")] {
                let d = decode_text(&bytes, label);
                assert_eq!((d.text.as_str(), d.charset), (JP, cs));
                assert!(d.undeclared && !d.mislabeled && !d.unknown_label);
            }
        }
        let b = enc(WINDOWS_1252, "café crème");
        let d = decode_text(&b, None);
        assert_eq!((d.text.as_str(), d.charset, d.undeclared), ("café crème", "windows-1252", true));
        let d = decode_text(b"plain ascii\r\n", None);
        assert_eq!((d.text.as_str(), d.charset, d.undeclared), ("plain ascii\r\n", "US-ASCII", false));
    }

    #[test]
    fn unknown_labels_detect() {
        for label in ["x-unknown", "uft-8", "unknown-8bit", "x-user-defined", "hz-gb-2312"] {
            let d = decode_text(JP.as_bytes(), Some(label));
            assert_eq!((d.text.as_str(), d.charset), (JP, "UTF-8"), "{label}");
            assert!(d.unknown_label && !d.mislabeled && !d.undeclared, "{label}");
            assert!(!is_known_label(label), "{label}");
        }
        let d = decode_text(&enc(SHIFT_JIS, JP), Some("x-bogus"));
        assert_eq!((d.text.as_str(), d.charset, d.unknown_label), (JP, "Shift_JIS", true));
    }

    #[test]
    fn known_labels() {
        for label in [
            "ISO-2022-JP",
            "\"iso-2022-jp\"",
            " Shift_JIS ",
            "sjis",
            "cp932",
            "MS932",
            "windows-31j",
            "EUC-JP",
            "eucjp-ms",
            "utf-8",
            "UTF8",
            "utf-7",
            "unicode-1-1-utf-7",
            "utf-16",
            "UTF-16LE",
            "iso-8859-1",
            "ISO-8859-15",
            "windows-1252",
            "koi8-r",
            "gb2312",
            "GB18030",
            "big5",
            "euc-kr",
            "ks_c_5601-1987",
            "us-ascii",
            "cp50220",
            "iso-2022-kr",
            "utf-8*ja",
            "utf-8; x",
        ] {
            assert!(is_known_label(label), "{label}");
        }
        for label in ["", "bogus", "utf-9", "iso-2022-cn", "replacement"] {
            assert!(!is_known_label(label), "{label}");
        }
    }

    // --- other charsets --------------------------------------------------------------

    #[test]
    fn other_encodings_by_label() {
        let cases: [(&str, &str, &'static Encoding); 9] = [
            ("iso-8859-2", "Zażółć gęślą jaźń", encoding_rs::ISO_8859_2),
            ("ISO-8859-15", "Prix: 5 € œuvre", encoding_rs::ISO_8859_15),
            ("windows-1251", "Привет, мир", encoding_rs::WINDOWS_1251),
            ("koi8-r", "Привет, мир", encoding_rs::KOI8_R),
            ("gb18030", "中文邮件测试", encoding_rs::GB18030),
            ("gbk", "中文邮件测试", GBK),
            ("big5", "中文郵件測試", encoding_rs::BIG5),
            ("euc-kr", "한국어 메일", EUC_KR),
            ("windows-1250", "Příliš žluťoučký kůň", encoding_rs::WINDOWS_1250),
        ];
        for (label, s, e) in cases {
            let d = decode_text(&enc(e, s), Some(label));
            assert_eq!(d.text, s, "{label}");
            assert_eq!((d.charset, d.mislabeled, d.replacements), (e.name(), false, 0), "{label}");
        }
    }

    #[test]
    fn utf8_with_and_without_bom() {
        let mut b = UTF8_BOM.to_vec();
        b.extend_from_slice(JP.as_bytes());
        for label in [Some("utf-8"), None] {
            let d = decode_text(&b, label);
            assert_eq!((d.text.as_str(), d.charset), (JP, "UTF-8"));
            let d = decode_text(JP.as_bytes(), label);
            assert_eq!((d.text.as_str(), d.charset), (JP, "UTF-8"));
        }
        let d = decode_text(&b, Some("shift_jis"));
        assert_eq!((d.text.as_str(), d.charset, d.mislabeled), (JP, "UTF-8", true));
        let d = decode_text(b"ok \xff\xfe end", Some("utf-8"));
        assert_eq!(d.replacements, 2);
        assert!(d.text.starts_with("ok ") && d.text.ends_with(" end"));
    }

    #[test]
    fn utf16_only_when_labelled() {
        let s = "日本語 text\r\n";
        let le: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = s.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let mut le_bom = vec![0xFF, 0xFE];
        le_bom.extend(&le);
        assert_eq!(text(&le_bom, Some("utf-16")), s);
        assert_eq!(text(&be, Some("utf-16")), s);
        assert_eq!(text(&le, Some("utf-16")), s); // zero bytes say little-endian
        assert_eq!(text(&le, Some("UTF-16LE")), s);
        assert_eq!(text(&be, Some("utf-16be")), s);
        // odd length: one replacement
        let d = decode_text(&be[..be.len() - 1], Some("utf-16be"));
        assert_eq!(d.replacements, 1);
        // without a label UTF-16 is not guessed (NULs dropped, no panic)
        let d = decode_text(&le, None);
        assert_ne!(d.charset, "UTF-16LE");
        assert!(!d.text.contains('\0'));
        // labelled UTF-16 but really ASCII-compatible text
        let d = decode_text(JP.as_bytes(), Some("utf-16"));
        assert_eq!((d.text.as_str(), d.charset, d.mislabeled), (JP, "UTF-8", true));
    }

    #[test]
    fn utf7() {
        let d = decode_text(b"+MEIwpDBG-", Some("utf-7"));
        assert_eq!((d.text.as_str(), d.charset, d.replacements), ("あイう", "UTF-7", 0));
        assert_eq!(text(b"Hi Mom -+Jjo--!", Some("UNICODE-1-1-UTF-7")), "Hi Mom -☺-!");
        assert_eq!(text(b"+ZeVnLIqe-", Some("utf-7")), "日本語");
        assert_eq!(text(b"1 +- 1 = 2", Some("utf-7")), "1 + 1 = 2");
        assert_eq!(text(b"+2D3eAA-", Some("utf-7")), "😀");
        assert_eq!(text(b"a+ZeV.", Some("utf-7")), "a日.");
        assert_eq!(text(b"+/v8-abc", Some("utf-7")), "abc"); // BOM stripped
        assert_eq!(text(b"x+ y+", Some("utf-7")), "x+ y+");
        let d = decode_text(b"+2D0-", Some("utf-7")); // lone high surrogate
        assert_eq!((d.text.as_str(), d.replacements), ("\u{FFFD}", 1));
        // 8-bit bytes under a UTF-7 label are detected
        let d = decode_text(&enc(SHIFT_JIS, JP), Some("utf-7"));
        assert_eq!((d.text.as_str(), d.charset, d.mislabeled), (JP, "Shift_JIS", true));
    }

    // --- fragments ---------------------------------------------------------------

    #[test]
    fn fragments() {
        let sjis = enc(SHIFT_JIS, "見積書.pdf");
        let d = decode_fragment(&sjis, None);
        assert_eq!((d.text.as_str(), d.charset, d.undeclared), ("見積書.pdf", "Shift_JIS", true));
        let d = decode_fragment(&sjis, Some("shift_jis"));
        assert_eq!((d.text.as_str(), d.mislabeled), ("見積書.pdf", false));
        let d = decode_fragment(&sjis, Some("iso-2022-jp"));
        assert_eq!((d.text.as_str(), d.charset, d.mislabeled), ("見積書.pdf", "Shift_JIS", true));
        let d = decode_fragment(&sjis, Some("utf-8"));
        assert_eq!((d.text.as_str(), d.charset, d.mislabeled), ("見積書.pdf", "Shift_JIS", true));
        let d = decode_fragment("見積書.pdf".as_bytes(), None);
        assert_eq!((d.text.as_str(), d.charset), ("見積書.pdf", "UTF-8"));
        let d = decode_fragment(&enc(EUC_JP, "山田太郎"), None);
        assert_eq!((d.text.as_str(), d.charset), ("山田太郎", "EUC-JP"));
        let d = decode_fragment(&enc(SHIFT_JIS, "山田"), None);
        assert_eq!((d.text.as_str(), d.charset), ("山田", "Shift_JIS"));
        // NEC row 13 only (raw CP932 subject)
        let d = decode_fragment(b"\x87\x40\x87\x41\x87\x42", None);
        assert_eq!((d.text.as_str(), d.charset), ("①②③", "Shift_JIS"));
        let d = decode_fragment(b"\x1b$B;3ED\x1b(B", Some("ISO-2022-JP"));
        assert_eq!(d.text, "山田");
        // encoded-word payload that never returns to ASCII
        assert_eq!(decode_fragment(b"\x1b$B;3ED", Some("iso-2022-jp")).text, "山田");
    }

    // --- output hygiene and hostile input --------------------------------------

    #[test]
    fn nul_removed_bom_stripped_controls_kept() {
        let d = decode_text(b"a\0b\x07c\x1b", None);
        assert_eq!(d.text, "ab\x07c\x1b");
        let d = decode_text(b"a\0b", Some("utf-8"));
        assert_eq!(d.text, "ab");
        assert_eq!(text(b"\x00\x41\x00\x00", Some("utf-16be")), "A");
        assert_eq!(text(b"\x1b$B\x00$\"\x1b(B", Some("iso-2022-jp")), "あ");
    }

    struct XorShift(u64);
    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_bytes_never_panic_nor_nul() {
        const ALPHABET: &[u8] =
            b"\x1b$B(@DIQJ)C&.AFN\x0e\x0f+-/Az09\r\n \x00\x80\x82\x8e\x8f\xa4\xa1\xe3\xed\xfc\xfe\xff";
        let labels = [
            None,
            Some("iso-2022-jp"),
            Some("shift_jis"),
            Some("euc-jp"),
            Some("utf-8"),
            Some("utf-7"),
            Some("utf-16"),
            Some("utf-16le"),
            Some("iso-8859-1"),
            Some("gb2312"),
            Some("big5"),
            Some("euc-kr"),
            Some("iso-2022-kr"),
            Some("bogus"),
            Some("us-ascii"),
        ];
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        for round in 0..400 {
            let len = usize::try_from(rng.next() % 96).unwrap_or(0);
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = rng.next();
                    if round % 2 == 0 {
                        ALPHABET[usize::try_from(r % ALPHABET.len() as u64).unwrap_or(0)]
                    } else {
                        r as u8
                    }
                })
                .collect();
            for label in labels {
                for d in [decode_text(&bytes, label), decode_fragment(&bytes, label)] {
                    assert!(!d.text.contains('\0'), "{bytes:?} {label:?}");
                    assert!(d.replacements <= bytes.len() + 1, "{bytes:?} {label:?}");
                }
            }
        }
    }

    #[test]
    fn hostile_edges() {
        for b in [
            &b"\x1b"[..],
            b"\x1b$",
            b"\x1b$(",
            b"\x1bN",
            b"\x1b.A\x1bN",
            b"\x1b$B\n\n\n",
            b"\x0e",
            b"+",
            b"+A",
            b"+AAA",
            b"\x8f",
            b"\x8f\xa2",
            b"\x8e",
            b"\x81",
            b"\xef\xbb\xbf",
            b"",
        ] {
            for label in [None, Some("iso-2022-jp"), Some("utf-7"), Some("euc-jp"), Some("shift_jis")] {
                let d = decode_text(b, label);
                assert!(!d.text.contains('\0'));
                let d = decode_fragment(b, label);
                assert!(!d.text.contains('\0'));
            }
        }
        assert_eq!(decode_text(b"", None).text, "");
        assert_eq!(decode_text(b"", Some("iso-2022-jp")).charset, "ISO-2022-JP");
    }

    #[test]
    fn one_megabyte_inputs() {
        let line = "日本語のテキスト、テスト。①髙\r\n";
        let n = 1_048_576 / enc(SHIFT_JIS, line).len() + 1;
        let big: String = line.repeat(n);
        let chars = big.chars().count();
        let sjis = enc(SHIFT_JIS, &big);
        assert!(sjis.len() >= 1_000_000);
        let d = decode_text(&sjis, None);
        assert_eq!((d.text.chars().count(), d.charset), (chars, "Shift_JIS"));
        let d = decode_text(&sjis, Some("iso-2022-jp"));
        assert_eq!((d.text.chars().count(), d.charset), (chars, "Shift_JIS"));
        let jis = enc(encoding_rs::ISO_2022_JP, &big.replace("①髙", "①"));
        let d = decode_text(&jis, Some("iso-2022-jp"));
        assert_eq!(d.text.chars().count(), chars - n);
        assert_eq!(d.replacements, 0);
        // a megabyte of unterminated JIS lines
        let hostile = b"\x1b$B$\"\n".repeat(200_000);
        let d = decode_text(&hostile, Some("iso-2022-jp"));
        assert_eq!(d.text.chars().count(), 400_000);
    }
}
