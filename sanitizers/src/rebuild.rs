//! The rebuild writer: a new message written from scratch.
//!
//! Nothing of the original's bytes is copied: header fields are given to the
//! writer already decoded and re-encoded by [`crate::headers`], and bodies as
//! Unicode text or as renditions made by a renderer. The writer guarantees the
//! output's transport shape:
//!
//! - CRLF line endings only, no NUL, no bare CR or LF, every line ≤ 78 octets
//!   in bodies (quoted-printable or base64 at 76) and ≤ 998 everywhere;
//! - header fields 7-bit;
//! - `text/plain; charset=UTF-8` text (quoted-printable when mostly ASCII,
//!   base64 otherwise), `image/png` or `text/plain` renditions as attachments;
//! - a single text/plain part when there are no renditions, otherwise
//!   `multipart/mixed` with the text first. The boundary is derived from the
//!   retrieval id and starts with `=_`, which neither quoted-printable nor
//!   base64 output can contain at the start of a line.

use crate::headers;

/// A safe attachment produced by a renderer (issue "Attachment rendering").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// File name shown to the reader; ends in `.png` or `.txt`.
    pub filename: String,
    pub content: RenditionContent,
}

/// The only leaf kinds the output may contain besides the body text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenditionContent {
    /// PNG bytes written by us from decoded pixels.
    Png(Vec<u8>),
    /// Unicode text (written as UTF-8 text/plain).
    Text(String),
}

/// Everything the writer needs.
#[derive(Debug, Clone, Default)]
pub struct OutputMessage {
    /// Complete header fields, each ending in CRLF, 7-bit (from `crate::headers`).
    pub header_fields: Vec<String>,
    /// The body text, `\n` line endings, already cleaned.
    pub text: String,
    pub renditions: Vec<Rendition>,
    /// Used to derive the multipart boundary.
    pub boundary_seed: String,
}

impl OutputMessage {
    /// Serialises the message.
    pub fn write(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() * 2 + 1024);
        for field in &self.header_fields {
            out.extend_from_slice(field.as_bytes());
        }
        out.extend_from_slice(b"MIME-Version: 1.0\r\n");
        if self.renditions.is_empty() {
            write_text_part(&mut out, &self.text, None);
            return out;
        }
        let boundary = format!("=_mugaika_{}", self.boundary_seed.replace(|c: char| !c.is_ascii_alphanumeric(), ""));
        out.extend_from_slice(format!("Content-Type: multipart/mixed;\r\n boundary=\"{boundary}\"\r\n\r\n").as_bytes());
        out.extend_from_slice(b"This is a MIME message sanitised by mugaika.\r\n");
        out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
        write_text_part(&mut out, &self.text, None);
        for r in &self.renditions {
            out.extend_from_slice(format!("\r\n--{boundary}\r\n").as_bytes());
            match &r.content {
                RenditionContent::Text(t) => write_text_part(&mut out, t, Some(&r.filename)),
                RenditionContent::Png(png) => write_png_part(&mut out, png, &r.filename),
            }
        }
        out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        out
    }
}

fn write_text_part(out: &mut Vec<u8>, text: &str, filename: Option<&str>) {
    let use_base64 = mostly_non_ascii(text);
    match filename {
        Some(name) => {
            let (ct_param, cd_param) = headers::encode_filename_params(name);
            out.extend_from_slice(format!("Content-Type: text/plain; charset=UTF-8{ct_param}\r\n").as_bytes());
            out.extend_from_slice(format!("Content-Disposition: attachment{cd_param}\r\n").as_bytes());
        }
        None => out.extend_from_slice(b"Content-Type: text/plain; charset=UTF-8\r\n"),
    }
    if use_base64 {
        out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
        encode_base64_lines(out, crlf_text(text).as_bytes());
    } else {
        out.extend_from_slice(b"Content-Transfer-Encoding: quoted-printable\r\n\r\n");
        encode_quoted_printable(out, text);
    }
}

fn write_png_part(out: &mut Vec<u8>, png: &[u8], filename: &str) {
    let (ct_param, cd_param) = headers::encode_filename_params(filename);
    out.extend_from_slice(format!("Content-Type: image/png{ct_param}\r\n").as_bytes());
    out.extend_from_slice(format!("Content-Disposition: attachment{cd_param}\r\n").as_bytes());
    out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n\r\n");
    encode_base64_lines(out, png);
}

/// True when base64 is the more compact transfer encoding (Japanese text).
fn mostly_non_ascii(text: &str) -> bool {
    let non_ascii = text.bytes().filter(|b| !b.is_ascii()).count();
    non_ascii * 4 > text.len()
}

/// `\n` → CRLF; any stray CR or NUL dropped (the text is already clean; this
/// keeps the writer's guarantee independent of its callers).
fn crlf_text(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + text.len() / 16);
    for c in text.chars() {
        match c {
            '\n' => s.push_str("\r\n"),
            '\r' | '\0' => {}
            c => s.push(c),
        }
    }
    if !s.ends_with("\r\n") {
        s.push_str("\r\n");
    }
    s
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Base64 in lines of 76 characters, each ending in CRLF.
pub fn encode_base64_lines(out: &mut Vec<u8>, data: &[u8]) {
    for line in data.chunks(57) {
        for chunk in line.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            out.push(B64[(n >> 18) as usize & 63]);
            out.push(B64[(n >> 12) as usize & 63]);
            out.push(if chunk.len() > 1 { B64[(n >> 6) as usize & 63] } else { b'=' });
            out.push(if chunk.len() > 2 { B64[n as usize & 63] } else { b'=' });
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Quoted-printable (RFC 2045) of UTF-8 text with `\n` line endings: hard line
/// breaks become CRLF, soft breaks keep lines ≤ 76 octets, trailing white
/// space, `=`, control bytes and 8-bit bytes are escaped, and a line start of
/// `From ` or `.` is escaped so no transport can alter it. The first letter of
/// `Content-Type` is escaped wherever it appears in the text (a bounce quoting
/// headers), so no byte-level scanner mistakes body text for a MIME header.
pub fn encode_quoted_printable(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(text.len() + text.len() / 8 + 16);
    // Every line ends in CRLF; a final `\n` ends the last line (it does not
    // start an empty one), as in the base64 path.
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        let bytes = line.as_bytes();
        let mut col = 0usize;
        let mut i = 0usize;
        while i < bytes.len() {
            // Fast path: a run of plain printable ASCII in the middle of a line.
            if col > 0 {
                let room = 75 - col;
                let run = bytes[i..]
                    .iter()
                    .take(room)
                    .take_while(|&&b| (33..=126).contains(&b) && b != b'=' && b != b'C' && b != b'c')
                    .count();
                // Keep the last byte of the line for the slow path (trailing space rules).
                let run = if i + run == bytes.len() { run.saturating_sub(1) } else { run };
                if run > 0 {
                    out.extend_from_slice(&bytes[i..i + run]);
                    col += run;
                    i += run;
                    continue;
                }
            }
            let b = bytes[i];
            let last = i + 1 == bytes.len();
            let at_start = col == 0;
            let header_like = (b == b'C' || b == b'c')
                && bytes.get(i..i + 12).is_some_and(|w| w.eq_ignore_ascii_case(b"content-type"));
            let literal = !header_like
                && match b {
                    b'=' => false,
                    b' ' | b'\t' => !last,
                    b'.' if at_start => false,
                    b'F' if at_start && bytes[i..].starts_with(b"From ") => false,
                    33..=126 => true,
                    _ => false,
                };
            let width = if literal { 1 } else { 3 };
            // Leave room for the soft-break "=" (76 = 75 + "=").
            if col + width > 75 {
                out.extend_from_slice(b"=\r\n");
                col = 0;
                continue;
            }
            if literal {
                out.push(b);
            } else {
                out.extend_from_slice(&[b'=', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            }
            col += width;
            i += 1;
        }
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer;

    #[test]
    fn quoted_printable_round_trips_and_stays_short() {
        let text = "From here.\n.dot\nこんにちは=世界 \nquoted Content-Type: text/html\n".to_string()
            + &"x".repeat(300)
            + "\ntrailing\t";
        let mut out = Vec::new();
        encode_quoted_printable(&mut out, &text);
        for line in out.split(|&b| b == b'\n') {
            assert!(line.len() <= 77, "line too long: {}", line.len());
            assert!(line.iter().all(|b| b.is_ascii()));
        }
        assert!(!out.windows(5).any(|w| w == b"\nFrom"));
        assert!(!out.windows(12).any(|w| w.eq_ignore_ascii_case(b"content-type")));
        let decoded = transfer::decode_quoted_printable(&out);
        assert_eq!(decoded.invalid, 0);
        assert_eq!(String::from_utf8(decoded.bytes).unwrap(), text.replace('\n', "\r\n") + "\r\n");
    }

    #[test]
    fn base64_round_trips() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut out = Vec::new();
        encode_base64_lines(&mut out, &data);
        assert!(out.split(|&b| b == b'\n').all(|l| l.len() <= 77));
        let d = transfer::decode_base64(&out);
        assert_eq!(d.invalid, 0);
        assert_eq!(d.bytes, data);
    }

    #[test]
    fn single_part_and_multipart_shapes() {
        let msg = OutputMessage {
            header_fields: vec!["Subject: hi\r\n".into()],
            text: "本文です。".into(),
            renditions: vec![],
            boundary_seed: "MGK-1".into(),
        };
        let out = String::from_utf8(msg.write()).unwrap();
        assert!(out.contains("Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64"));
        let msg = OutputMessage {
            renditions: vec![Rendition { filename: "a.txt".into(), content: RenditionContent::Text("x".into()) }],
            ..msg
        };
        let out = String::from_utf8(msg.write()).unwrap();
        assert!(out.contains("multipart/mixed"));
        assert!(out.contains("--=_mugaika_MGK1--\r\n"));
    }
}
