//! Content-Transfer-Encoding on the input side: which encoding a part declares,
//! and lenient, linear-time decoders for base64 and quoted-printable.
//!
//! The decoders are lenient the way mail clients are (they skip what does not
//! belong to the alphabet and keep going) but they *count* what they skipped,
//! so the pipeline can record `mime.bad_encoding`: what a client shows and
//! what we show must not differ silently.

/// The transfer encoding a part declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    /// 7bit, 8bit, binary or absent: the body is the content.
    Identity,
    Base64,
    QuotedPrintable,
    /// Anything else (x-uuencode, x-gzip, garbage): content unknown.
    Unknown,
}

impl TransferEncoding {
    /// Interprets a Content-Transfer-Encoding value (case-insensitive, trimmed).
    pub fn from_header(value: Option<&str>) -> Self {
        let Some(v) = value else { return TransferEncoding::Identity };
        let v = v.trim().trim_matches('"').trim();
        if v.is_empty()
            || v.eq_ignore_ascii_case("7bit")
            || v.eq_ignore_ascii_case("8bit")
            || v.eq_ignore_ascii_case("binary")
        {
            TransferEncoding::Identity
        } else if v.eq_ignore_ascii_case("base64") {
            TransferEncoding::Base64
        } else if v.eq_ignore_ascii_case("quoted-printable") {
            TransferEncoding::QuotedPrintable
        } else {
            TransferEncoding::Unknown
        }
    }
}

/// Result of decoding: the bytes and how many input bytes were not valid.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DecodedBody {
    pub bytes: Vec<u8>,
    /// Count of bytes skipped or kept literally because they were invalid.
    pub invalid: usize,
}

/// Decodes a transfer-encoded body. Identity and Unknown return the bytes as they are.
pub fn decode(encoding: TransferEncoding, body: &[u8]) -> DecodedBody {
    match encoding {
        TransferEncoding::Base64 => decode_base64(body),
        TransferEncoding::QuotedPrintable => decode_quoted_printable(body),
        TransferEncoding::Identity | TransferEncoding::Unknown => DecodedBody { bytes: body.to_vec(), invalid: 0 },
    }
}

/// Base64 alphabet values; 0xFF for bytes outside it.
const BASE64_VALUES: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < 64 {
        t[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    t
};

fn base64_value(c: u8) -> Option<u32> {
    match BASE64_VALUES[c as usize] {
        0xFF => None,
        v => Some(v as u32),
    }
}

/// Lenient base64: whitespace ignored; other bytes outside the alphabet are
/// skipped and counted; decoding stops at the first `=` padding (what follows
/// padding is counted as invalid unless it is whitespace or more padding).
pub fn decode_base64(body: &[u8]) -> DecodedBody {
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 3);
    let mut invalid = 0usize;
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut padded = false;
    for &c in body {
        if c.is_ascii_whitespace() {
            continue;
        }
        if padded {
            if c != b'=' {
                invalid += 1;
            }
            continue;
        }
        if c == b'=' {
            padded = true;
            continue;
        }
        match base64_value(c) {
            Some(v) => {
                acc = (acc << 6) | v;
                bits += 6;
                if bits >= 8 {
                    bits -= 8;
                    out.push((acc >> bits) as u8);
                    acc &= (1 << bits) - 1;
                }
            }
            None => invalid += 1,
        }
    }
    DecodedBody { bytes: out, invalid }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'F' => Some(c - b'A' + 10),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Lenient quoted-printable: `=XX` decoded (lower-case hex accepted), soft line
/// breaks (`=` before CRLF/LF, with optional trailing whitespace) removed, an
/// invalid `=` kept literally and counted. Line endings are kept as they are.
pub fn decode_quoted_printable(body: &[u8]) -> DecodedBody {
    let mut out = Vec::with_capacity(body.len());
    let mut invalid = 0usize;
    let mut i = 0usize;
    while i < body.len() {
        let c = body[i];
        if c != b'=' {
            out.push(c);
            i += 1;
            continue;
        }
        // Soft line break: "=" [spaces/tabs] (CRLF | LF | end).
        let mut j = i + 1;
        while j < body.len() && (body[j] == b' ' || body[j] == b'\t') {
            j += 1;
        }
        if j >= body.len() {
            i = j;
            continue;
        }
        if body[j] == b'\n' {
            i = j + 1;
            continue;
        }
        if body[j] == b'\r' && body.get(j + 1) == Some(&b'\n') {
            i = j + 2;
            continue;
        }
        match (body.get(i + 1).and_then(|&h| hex_value(h)), body.get(i + 2).and_then(|&l| hex_value(l))) {
            (Some(h), Some(l)) => {
                out.push(h << 4 | l);
                i += 3;
            }
            _ => {
                out.push(b'=');
                invalid += 1;
                i += 1;
            }
        }
    }
    DecodedBody { bytes: out, invalid }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_garbage() {
        let d = decode_base64(b"5pel5pys6Kqe\r\n");
        assert_eq!(String::from_utf8(d.bytes).unwrap(), "日本語");
        assert_eq!(d.invalid, 0);
        let d = decode_base64(b"SGVs*bG8=");
        assert_eq!(d.bytes, b"Hello");
        assert_eq!(d.invalid, 1);
        let d = decode_base64(b"SGk=garbage");
        assert_eq!(d.bytes, b"Hi");
        assert!(d.invalid > 0);
    }

    #[test]
    fn quoted_printable_soft_breaks_and_bad_escapes() {
        let d = decode_quoted_printable(b"caf=C3=A9 =\r\nsoft=  \nx=ZZ=4");
        assert_eq!(d.bytes, "café softx=ZZ=4".as_bytes());
        assert_eq!(d.invalid, 2);
        let d = decode_quoted_printable(b"a=3d=3D");
        assert_eq!(d.bytes, b"a==");
    }

    #[test]
    fn header_values() {
        assert_eq!(TransferEncoding::from_header(Some(" Base64 ")), TransferEncoding::Base64);
        assert_eq!(TransferEncoding::from_header(Some("x-uuencode")), TransferEncoding::Unknown);
        assert_eq!(TransferEncoding::from_header(None), TransferEncoding::Identity);
        assert_eq!(TransferEncoding::from_header(Some("8BIT")), TransferEncoding::Identity);
    }
}
