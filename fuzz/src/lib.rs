//! mugaika's fuzz oracles, shared by the libFuzzer targets in `fuzz_targets/`.
//!
//! Each `fuzz_*` function is one target: it runs its checks on the input as
//! given, then a second time on the input mapped onto the target's grammar
//! alphabet ([`grammar::map`]: every byte below the table's length becomes a
//! token such as `=?`, `boundary=`, `<script>` or `DATA\r\n`, other bytes stay
//! as they are), so that libFuzzer reaches structure (multiparts, encoded
//! words, tags, SMTP transactions) much faster than with raw bytes alone.
//!
//! The checks are oracles, not only "no panic": a violated invariant panics
//! with a message that says which one, and libFuzzer saves the input as a
//! crash. libFuzzer's panic hook aborts on any panic, including panics the
//! pipeline would catch with `catch_unwind` (a caught panic is still a bug).
//!
//! | target | oracles |
//! |---|---|
//! | `sanitize` | see [`sanitize::check`] |
//! | `html_to_text` | see [`html::check`] |
//! | `charset_decode` | see [`charset::check`] |
//! | `headers` | see [`headers::check`] |
//! | `smtp_session` | see [`smtp::check`] |
//! | `image`, `pdf`, `office_text`, `zip` | see [`render`] (second pass: the input wrapped in a container skeleton) |

pub mod grammar;
pub mod known;

pub mod charset;
pub mod headers;
pub mod html;
pub mod render;
pub mod sanitize;
pub mod smtp;

/// The `sanitize` target.
pub fn fuzz_sanitize(data: &[u8]) {
    sanitize::check(data);
    sanitize::check(&grammar::map(data, grammar::MIME));
}

/// The `html_to_text` target.
pub fn fuzz_html_to_text(data: &[u8]) {
    html::check(data);
    html::check(&grammar::map(data, grammar::HTML));
}

/// The `charset_decode` target.
pub fn fuzz_charset_decode(data: &[u8]) {
    charset::check(data);
    charset::check(&grammar::map(data, grammar::CHARSET));
}

/// The `headers` target.
pub fn fuzz_headers(data: &[u8]) {
    headers::check(data);
    headers::check(&grammar::map(data, grammar::HEADER));
}

/// The `smtp_session` target.
pub fn fuzz_smtp_session(data: &[u8]) {
    smtp::check(data, false);
    smtp::check(data, true);
}

/// The `image` target.
pub fn fuzz_image(data: &[u8]) {
    render::check_image(data);
    render::check_image(&render::wrap::image(data));
}

/// The `pdf` target (inspection and rendering).
pub fn fuzz_pdf(data: &[u8]) {
    render::check_pdf(data);
    render::check_pdf(&render::wrap::pdf(data));
}

/// The `office_text` target.
pub fn fuzz_office_text(data: &[u8]) {
    render::check_office(data);
    render::check_office(&render::wrap::office(data));
}

/// The `zip` target.
pub fn fuzz_zip(data: &[u8]) {
    render::check_zip(data);
    render::check_zip(&render::wrap::stored_zip(&[("a", data), ("b/c.txt", data)]));
}

/// Lossy, bounded rendering of bytes for a panic message.
pub fn show(bytes: &[u8]) -> String {
    let cut = bytes.len().min(4000);
    let mut s = format!("{:?}", String::from_utf8_lossy(bytes.get(..cut).unwrap_or(bytes)));
    if cut < bytes.len() {
        s.push_str(&format!(" … ({} bytes in all)", bytes.len()));
    }
    s
}
