//! Finds uuencoded (and `begin-base64`) blocks in text bodies and replaces
//! each with a one-line notice.
//!
//! Before MIME, files travelled inside plain-text bodies as uuencode:
//!
//! ```text
//! begin 644 invoice.exe
//! M35J0``,````$````__\``+@`````````0```````````````````````````
//! ...
//! `
//! end
//! ```
//!
//! Several mail clients still decode such blocks into attachments, so a
//! sanitised text body must not carry them: [`strip_uuencode`] cuts each block
//! out and puts `replacement(&block)` in its place, on one line.
//!
//! # What counts as a block
//!
//! * A header line, at the start of a line: `begin` (or `begin-base64`), one
//!   or more blanks, a mode of 1–6 octal digits, one or more blanks, a
//!   non-empty name (which may contain spaces; trailing blanks dropped).
//! * Then data lines, each of which must *look like* encoded data:
//!   - uuencode: every byte in the uuencode alphabet (0x20–0x60), and the
//!     line's length consistent with the byte count its first character
//!     declares (`1 + ceil(4n/3)` up to `1 + 4*ceil(n/3) + 2`, allowing
//!     encoders that pad groups or append a check character);
//!   - base64: only base64 characters, `=` only as trailing padding, length a
//!     multiple of 4.
//! * Then the terminator: `end` (uuencode; a blank line just before it stands
//!   for the zero-length line `" "` whose space was stripped in transit) or
//!   `====` (base64).
//! * A block is removed when it has its terminator and at least one data line
//!   (the zero-length uuencode line `` ` `` counts: an empty file), or no
//!   terminator but at least [`MIN_LINES_WITHOUT_END`] data lines (it then
//!   ends after its last data line).
//!
//! Prose is safe: uuencode data has no lower-case letters, so a sentence such
//! as "begin 644 meeting at noon" followed by ordinary text is left alone;
//! base64 prose lines rarely have a length that is a multiple of 4 and there
//! must be three of them (or a `====`).
//!
//! # Design and limits
//!
//! One pass over the lines. After a header the scan looks ahead over data
//! lines only; header lines are never data lines (they contain a lower-case
//! `b` and a space), so no line is looked at by more than one look-ahead and
//! the whole run is linear. Line ends (`\n` or `\r\n`) are kept as they were;
//! the notice takes the line end of the block's last line. Indexing is only
//! at `\n` positions, so multi-byte text is never split.
//!
//! Not detected: quoted blocks (`> begin 644 …`), blocks with non-data lines
//! interleaved, headerless runs of `M…` lines, yEnc, BinHex, or bare base64.

/// A uuencoded or `begin-base64` block that was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UuBlock {
    /// File name from the header (trailing blanks dropped).
    pub name: String,
    /// Mode digits from the header, as written (e.g. `"644"`).
    pub mode: String,
    /// Number of data lines (the zero-length uuencode end line excluded).
    pub encoded_lines: usize,
    /// Decoded size in bytes, from the data lines' declared lengths
    /// (uuencode) or their padding (base64).
    pub approx_size: u64,
}

/// Data lines needed for a block that lacks its terminator.
pub const MIN_LINES_WITHOUT_END: usize = 3;

/// Removes every `begin <mode> <name>` … `end` uuencoded block (and every
/// `begin-base64` … `====` block) from `text`, putting `replacement(block)`
/// on a line of its own where the block was. Returns the new text and the
/// blocks removed, in order. See the module docs for what counts as a block.
pub fn strip_uuencode(text: &str, replacement: impl Fn(&UuBlock) -> String) -> (String, Vec<UuBlock>) {
    let mut out = String::with_capacity(text.len());
    let mut blocks = Vec::new();
    let mut pos = 0;
    while pos < text.len() {
        let line = Line::at(text, pos);
        if let Some(header) = Header::parse(line.content)
            && let Some(found) = scan_block(text, line.end, &header)
        {
            out.push_str(&replacement(&found.block));
            out.push_str(found.line_end);
            blocks.push(found.block);
            pos = found.end;
            continue;
        }
        out.push_str(line.full);
        pos = line.end;
    }
    (out, blocks)
}

/// One line of the text.
struct Line<'a> {
    /// Without its line end.
    content: &'a str,
    /// With its line end.
    full: &'a str,
    /// `"\r\n"`, `"\n"` or `""` (last line).
    line_end: &'a str,
    /// Byte offset just past the line end.
    end: usize,
}

impl<'a> Line<'a> {
    /// The line starting at `pos` (a char boundary: 0 or just after `\n`).
    fn at(text: &'a str, pos: usize) -> Line<'a> {
        let rest = text.get(pos..).unwrap_or_default();
        let (full, without_lf, lf) = match rest.find('\n') {
            Some(i) => (rest.get(..=i).unwrap_or(rest), rest.get(..i).unwrap_or(rest), true),
            None => (rest, rest, false),
        };
        let (content, line_end) = match (without_lf.strip_suffix('\r'), lf) {
            (Some(c), true) => (c, "\r\n"),
            (_, true) => (without_lf, "\n"),
            (_, false) => (without_lf, ""),
        };
        Line { content, full, line_end, end: pos + full.len() }
    }
}

struct Header<'a> {
    base64: bool,
    mode: &'a str,
    name: &'a str,
}

impl<'a> Header<'a> {
    fn parse(line: &'a str) -> Option<Header<'a>> {
        let (base64, rest) = match line.strip_prefix("begin-base64") {
            Some(rest) => (true, rest),
            None => (false, line.strip_prefix("begin")?),
        };
        let rest = strip_blanks(rest)?;
        let mode_len = rest.bytes().take_while(|c| (b'0'..=b'7').contains(c)).count();
        if !(1..=6).contains(&mode_len) {
            return None;
        }
        let (mode, rest) = rest.split_at(mode_len);
        let name = strip_blanks(rest)?.trim_end_matches([' ', '\t']);
        (!name.is_empty()).then_some(Header { base64, mode, name })
    }
}

/// Strips one or more leading blanks; `None` if there were none.
fn strip_blanks(s: &str) -> Option<&str> {
    let t = s.trim_start_matches([' ', '\t']);
    (t.len() < s.len()).then_some(t)
}

struct Found<'a> {
    block: UuBlock,
    /// Byte offset just past the block.
    end: usize,
    /// Line end of the block's last line, reused for the notice.
    line_end: &'a str,
}

/// Looks at the lines from `start` (just after the header) for the block's
/// data and terminator.
fn scan_block<'a>(text: &'a str, start: usize, header: &Header<'_>) -> Option<Found<'a>> {
    let mut pos = start;
    let mut lines = 0usize;
    let mut any_line = false; // data lines plus the zero-length end line
    let mut size = 0u64;
    // End and line end of the last data line, for a block without terminator.
    let mut last: Option<(usize, &'a str)> = None;
    let terminator = if header.base64 { "====" } else { "end" };
    let make = |lines, size, end, line_end| Found {
        block: UuBlock {
            name: header.name.to_string(),
            mode: header.mode.to_string(),
            encoded_lines: lines,
            approx_size: size,
        },
        end,
        line_end,
    };
    while pos < text.len() {
        let line = Line::at(text, pos);
        if line.content.trim_end() == terminator {
            return any_line.then(|| make(lines, size, line.end, line.line_end));
        }
        let decoded = if header.base64 { base64_line(line.content) } else { uu_line(line.content) };
        match decoded {
            Some(n) => {
                if n > 0 || header.base64 {
                    lines += 1;
                }
                any_line = true;
                size += n;
                last = Some((line.end, line.line_end));
                pos = line.end;
            }
            None if !header.base64 && any_line && line.content.trim().is_empty() => {
                // A blank line right before "end": the zero-length line " "
                // with its space stripped in transit.
                let next = Line::at(text, line.end);
                if line.end < text.len() && next.content.trim_end() == terminator {
                    return Some(make(lines, size, next.end, next.line_end));
                }
                break;
            }
            None => break,
        }
    }
    let (end, line_end) = last?;
    (lines >= MIN_LINES_WITHOUT_END).then(|| make(lines, size, end, line_end))
}

/// Byte count of a uuencode data line, if the line is one.
fn uu_line(line: &str) -> Option<u64> {
    let bytes = line.as_bytes();
    let (&first, body) = bytes.split_first()?;
    if !bytes.iter().all(|c| (0x20..=0x60).contains(c)) {
        return None;
    }
    let n = usize::from((first - 0x20) & 0x3f);
    let minimal = (4 * n).div_ceil(3);
    let padded = 4 * n.div_ceil(3);
    (minimal..=padded + 2).contains(&body.len()).then_some(n as u64)
}

/// Byte count of a base64 data line, if the line is one.
fn base64_line(line: &str) -> Option<u64> {
    let bytes = line.trim_end().as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    let data_len = bytes.iter().rposition(|&c| c != b'=').map_or(0, |i| i + 1);
    let padding = bytes.len() - data_len;
    let data = bytes.get(..data_len)?;
    if padding > 2 || !data.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/') {
        return None;
    }
    Some((bytes.len() / 4 * 3 - padding) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny uuencoder (backtick for zero, as modern encoders do).
    fn uuencode(name: &str, data: &[u8], nl: &str) -> String {
        let ch = |v: u8| if v == 0 { '`' } else { char::from(v + 0x20) };
        let mut out = format!("begin 644 {name}{nl}");
        for chunk in data.chunks(45) {
            out.push(ch(chunk.len() as u8));
            for group in chunk.chunks(3) {
                let b = [group[0], *group.get(1).unwrap_or(&0), *group.get(2).unwrap_or(&0)];
                out.push(ch(b[0] >> 2));
                out.push(ch(((b[0] & 3) << 4) | (b[1] >> 4)));
                out.push(ch(((b[1] & 0xf) << 2) | (b[2] >> 6)));
                out.push(ch(b[2] & 0x3f));
            }
            out.push_str(nl);
        }
        out.push_str(&format!("`{nl}end{nl}"));
        out
    }

    fn notice(b: &UuBlock) -> String {
        format!("[removed: {}]", b.name)
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 7 + 3) as u8).collect()
    }

    #[test]
    fn removes_a_block_lf() {
        let text = format!("Hello,\nsee attached.\n{}Regards\n", uuencode("evil.exe", &payload(200), "\n"));
        let (out, blocks) = strip_uuencode(&text, notice);
        assert_eq!(out, "Hello,\nsee attached.\n[removed: evil.exe]\nRegards\n");
        assert_eq!(
            blocks,
            vec![UuBlock { name: "evil.exe".into(), mode: "644".into(), encoded_lines: 5, approx_size: 200 }]
        );
    }

    #[test]
    fn removes_a_block_crlf_and_keeps_line_ends() {
        let text = format!("上\r\n{}下\r\n", uuencode("請求書 2024.pdf", &payload(90), "\r\n"));
        let (out, blocks) = strip_uuencode(&text, notice);
        assert_eq!(out, "上\r\n[removed: 請求書 2024.pdf]\r\n下\r\n");
        assert_eq!(blocks[0].approx_size, 90);
        assert_eq!(blocks[0].encoded_lines, 2);
    }

    #[test]
    fn every_length_round_trips_through_the_detector() {
        for len in 0..=140 {
            let text = uuencode("f.bin", &payload(len), "\n");
            let (out, blocks) = strip_uuencode(&text, |_| "X".into());
            assert_eq!(out, "X\n", "{len}");
            assert_eq!(blocks[0].approx_size, len as u64);
        }
    }

    #[test]
    fn base64_blocks() {
        let text = "x\nbegin-base64 600 data.bin\nSGVsbG8sIHdvcmxkIQ==\n====\ny";
        let (out, blocks) = strip_uuencode(text, notice);
        assert_eq!(out, "x\n[removed: data.bin]\ny");
        assert_eq!(
            blocks,
            vec![UuBlock { name: "data.bin".into(), mode: "600".into(), encoded_lines: 1, approx_size: 13 }]
        );
        // Prose after a base64 header is not eaten.
        let prose = "begin-base64 644 notes\nThanks for the files,\nBest\nJohn\n";
        let (out, blocks) = strip_uuencode(prose, notice);
        assert_eq!(out, prose);
        assert!(blocks.is_empty());
        // Missing "====" but three good lines.
        let (out, blocks) = strip_uuencode("begin-base64 644 a\nQUJD\nREVG\nR0hJ\nand then prose.\n", notice);
        assert_eq!(out, "[removed: a]\nand then prose.\n");
        assert_eq!(blocks[0].approx_size, 9);
    }

    #[test]
    fn prose_is_not_eaten() {
        for text in [
            "begin 644 meeting at noon\nPlease be on time.\nend\n",
            "begin 755 NOTES\nAGENDA:\nITEM 1\nend\n",
            "begin the meeting at noon\nM\nend\n",
            "Let's begin 644 things.\n",
            "begin 644\nend\n",
            "begin 644 x\nend\n",
            "begin 99 bottles\n`\nend\n",
            "begin644 x\n`\nend\n",
            " begin 644 x\n`\nend\n",
            "begin 644 x\nOK\nend\n",
            "begin 644 x\nM\nend\n",
            "begin 644 file\n\nend\n",
        ] {
            let (out, blocks) = strip_uuencode(text, notice);
            assert_eq!(out, text);
            assert!(blocks.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn missing_end() {
        let full = uuencode("a.exe", &payload(200), "\n");
        let without_end = full.replace("`\nend\n", "");
        let text = format!("{without_end}Thanks,\nTaro\n");
        let (out, blocks) = strip_uuencode(&text, notice);
        assert_eq!(out, "[removed: a.exe]\nThanks,\nTaro\n");
        assert_eq!(blocks[0].encoded_lines, 5);
        // At end of text, without a final newline.
        let (out, blocks) = strip_uuencode(without_end.trim_end(), notice);
        assert_eq!(out, "[removed: a.exe]");
        assert_eq!(blocks.len(), 1);
        // Only two lines and no end: left alone.
        let short = uuencode("b.exe", &payload(60), "\n").replace("`\nend\n", "");
        let (out, blocks) = strip_uuencode(&short, notice);
        assert_eq!(out, short);
        assert!(blocks.is_empty());
    }

    #[test]
    fn variants_accepted() {
        // Blank line standing for a stripped " " before "end"; space for
        // zero in data; trailing blanks after "end"; mode with a leading 0;
        // several blanks in the header.
        let text = "begin  0644   name with spaces.txt  \n#0V%T\n\nend  \nafter";
        let (out, blocks) = strip_uuencode(text, notice);
        assert_eq!(out, "[removed: name with spaces.txt]\nafter");
        assert_eq!(blocks[0].mode, "0644");
        assert_eq!(blocks[0].approx_size, 3);
        // Two blocks back to back.
        let two = format!("{}{}", uuencode("one", b"abc", "\n"), uuencode("two", b"defg", "\n"));
        let (out, blocks) = strip_uuencode(&two, notice);
        assert_eq!(out, "[removed: one]\n[removed: two]\n");
        assert_eq!(blocks.len(), 2);
        // A data line with a trailing check character is still data.
        let (_, blocks) = strip_uuencode("begin 644 c\n#86)C9\n`\nend\n", notice);
        assert_eq!(blocks.len(), 1);
    }

    #[test]
    fn hostile_inputs_stay_linear_and_safe() {
        // Many headers with nothing after them.
        let text = "begin 644 x\n".repeat(50_000);
        let (out, blocks) = strip_uuencode(&text, notice);
        assert_eq!(out, text);
        assert!(blocks.is_empty());
        // Headers alternating with two data lines each (never enough).
        let two_lines = uuencode("x", &payload(90), "\n").replace("`\nend\n", "");
        assert_eq!(two_lines.lines().count(), 3);
        let text = two_lines.repeat(10_000);
        let (out, blocks) = strip_uuencode(&text, notice);
        assert_eq!(out, text);
        assert!(blocks.is_empty());
        // Odd bytes: CR alone, multi-byte characters, no newline at all.
        for text in ["\r", "\r\r\n", "begin 644 é\r", "begin 644 \u{202e}exe.pdf\n`\nend", "é\nbegin", "\n\n\n"] {
            let _ = strip_uuencode(text, notice);
        }
        // An empty file is still a block (the name alone is worth reporting).
        let (out, blocks) = strip_uuencode("begin 644 \u{202e}exe.pdf\n`\nend", notice);
        assert_eq!(out, "[removed: \u{202e}exe.pdf]");
        assert_eq!(blocks[0].approx_size, 0);
        assert_eq!(blocks[0].encoded_lines, 0);
    }
}
