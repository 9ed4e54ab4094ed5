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
    stats
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
    fn display_names_are_one_line_and_visible() {
        assert_eq!(display_name(" invoice\u{202E}fdp.exe ", 100), "invoice<U+202E>fdp.exe");
        assert_eq!(display_name("a\r\nb", 100), "a<U+000D><U+000A>b");
        assert_eq!(display_name("見積書見積書", 3), "見積書…");
    }
}
