//! Plain-text hygiene shared by every stage that produces text for the reader.
//!
//! Whatever the source (a text/plain body, HTML converted to text, a filename),
//! text that reaches the output goes through [`clean_text`] or
//! [`display_name`]: line endings become `\n`, control characters are removed,
//! and bidirectional-override characters (the "RTLO" trick that makes
//! `invoice<U+202E>fdp.exe` look like `invoiceexe.pdf`) are shown as a visible escape
//! such as `<U+202E>`, so what the reader sees is what is there.

/// What [`clean_text`] changed, for the report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cleaned {
    pub control_chars: usize,
    pub bidi_chars: usize,
}

/// True for the Unicode characters that reorder text (bidi embeddings,
/// overrides, isolates and marks).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Normalises line endings to `\n`, drops NUL, BOM and other control
/// characters (tab is kept: harmless and meaningful in plain text), escapes
/// bidi controls. Appends to `out`.
pub fn clean_text_into(input: &str, out: &mut String) -> Cleaned {
    let mut stats = Cleaned::default();
    out.reserve(input.len());
    // Fast path: copy runs of bytes that need no change (printable ASCII, LF,
    // tab, and multi-byte characters whose lead byte cannot start a control,
    // bidi, BOM or separator character); hand the rest to the careful loop.
    let bytes = input.as_bytes();
    let mut start = 0usize;
    while start < bytes.len() {
        let run = bytes[start..]
            .iter()
            .take_while(|&&b| matches!(b, b'\n' | b'\t' | 0x20..=0x7E | 0x80..=0xBF | 0xC3..=0xD7 | 0xD9..=0xE1 | 0xE3..=0xEE | 0xF0..=0xF4))
            .count();
        // Do not split a character: back off to a char boundary.
        let mut end = start + run;
        while end < bytes.len() && !input.is_char_boundary(end) {
            end -= 1;
        }
        out.push_str(&input[start..end]);
        if end >= bytes.len() {
            break;
        }
        // One character (or CRLF) through the careful path.
        let c = input[end..].chars().next().unwrap_or('\u{FFFD}');
        let mut next = end + c.len_utf8();
        if c == '\r' && bytes.get(next) == Some(&b'\n') {
            next += 1;
        }
        clean_chars(&input[end..next], out, &mut stats);
        start = next;
    }
    stats
}

/// The careful path of [`clean_text_into`], one character at a time.
fn clean_chars(input: &str, out: &mut String, stats: &mut Cleaned) {
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push('\n');
            }
            '\n' | '\t' => out.push(c),
            '\u{FEFF}' => {}
            c if is_bidi_control(c) => {
                stats.bidi_chars += 1;
                push_escape(out, c);
            }
            c if c.is_control() => stats.control_chars += 1,
            // Line and paragraph separators would be line breaks for some readers.
            '\u{2028}' | '\u{2029}' => out.push('\n'),
            c => out.push(c),
        }
    }
}

/// [`clean_text_into`] into a new string.
pub fn clean_text(input: &str) -> (String, Cleaned) {
    let mut out = String::with_capacity(input.len());
    let stats = clean_text_into(input, &mut out);
    (out, stats)
}

fn push_escape(out: &mut String, c: char) {
    use std::fmt::Write;
    let _ = write!(out, "<U+{:04X}>", c as u32);
}

/// A filename or other short label made safe to show on one line: control
/// characters (including CR/LF/tab) and bidi controls escaped as `<U+XXXX>`,
/// surrounding whitespace trimmed, at most `max_chars` characters (cut with `…`).
pub fn display_name(name: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(name.len().min(max_chars * 4));
    for (count, c) in name.trim().chars().enumerate() {
        if count >= max_chars {
            out.push('…');
            break;
        }
        if c.is_control() || is_bidi_control(c) || c == '\u{FEFF}' || c == '\u{2028}' || c == '\u{2029}' {
            push_escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_controls_and_bidi() {
        let (t, s) = clean_text("a\r\nb\rc\u{0}d\u{1b}[31m\u{202E}e\tf\u{FEFF}");
        assert_eq!(t, "a\nb\ncd[31m<U+202E>e\tf");
        assert_eq!(s.control_chars, 2);
        assert_eq!(s.bidi_chars, 1);
    }

    #[test]
    fn fast_path_equals_the_careful_path() {
        let alphabet = [
            'a', ' ', '\n', '\r', '\t', '\0', '\u{7f}', '\u{85}', 'é', '日', '…', '①', '\u{202E}', '\u{2066}',
            '\u{200F}', '\u{61C}', 'ب', '\u{FEFF}', '\u{FF5E}', '\u{2028}', '😀',
        ];
        let mut seed = 0x2545F4914F6CDD1Du64;
        for _ in 0..2000 {
            let mut s = String::new();
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let (fast, fast_stats) = clean_text(&s);
            let mut careful = String::new();
            let mut careful_stats = Cleaned::default();
            clean_chars(&s, &mut careful, &mut careful_stats);
            assert_eq!(fast, careful, "{s:?}");
            assert_eq!(fast_stats, careful_stats, "{s:?}");
        }
    }

    #[test]
    fn display_names_are_one_line_and_visible() {
        assert_eq!(display_name(" invoice\u{202E}fdp.exe ", 100), "invoice<U+202E>fdp.exe");
        assert_eq!(display_name("a\r\nb", 100), "a<U+000D><U+000A>b");
        assert_eq!(display_name("見積書見積書", 3), "見積書…");
    }
}
