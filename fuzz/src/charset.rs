//! The `charset_decode` target: `decode_text` and `decode_fragment` under
//! every label of [`LABELS`] (the Japanese decoders, UTF-7/8/16, a few other
//! families, an unknown label and no label, which runs detection).
//!
//! Oracles, per label and per function:
//! * no panic;
//! * no NUL in the text (NUL is removed; a leading U+FEFF is stripped too,
//!   but only one, so a second BOM may start the text: not checked);
//! * at most one character per input byte (no decoder invents text);
//! * `replacements` ≤ number of U+FFFD in the text when the input had none;
//! * deterministic (a second decode gives the same result).

use mugaika_sanitizers::charset::{Decoded, decode_fragment, decode_text};

use crate::show;

/// Labels every input is decoded under.
pub const LABELS: &[Option<&str>] = &[
    None,
    Some("iso-2022-jp"),
    Some("ISO-2022-JP-2"),
    Some("cp50220"),
    Some("shift_jis"),
    Some("cp932"),
    Some("euc-jp"),
    Some("utf-7"),
    Some("utf-8"),
    Some("us-ascii"),
    Some("utf-16"),
    Some("utf-16le"),
    Some("iso-2022-kr"),
    Some("gb18030"),
    Some("big5"),
    Some("euc-kr"),
    Some("windows-1252"),
    Some("iso-8859-1"),
    Some("x-no-such-charset"),
    Some("\"Shift_JIS\"*ja"),
];

/// The checks of the module doc.
pub fn check(data: &[u8]) {
    for &label in LABELS {
        let d = decode_text(data, label);
        check_one(data, label, "decode_text", &d);
        assert!(d == decode_text(data, label), "decode_text not deterministic under {label:?}: {}", show(data));
        let f = decode_fragment(data, label);
        check_one(data, label, "decode_fragment", &f);
    }
}

fn check_one(data: &[u8], label: Option<&str>, what: &str, d: &Decoded) {
    if d.text.contains('\0') {
        panic!("{what}({label:?}): NUL in the text (charset {})\ninput {}", d.charset, show(data));
    }
    let chars = d.text.chars().count();
    if chars > data.len() {
        panic!(
            "{what}({label:?}): {chars} characters from {} bytes (charset {})\ninput {}\ntext {:?}",
            data.len(),
            d.charset,
            show(data),
            d.text
        );
    }
    let fffd = d.text.chars().filter(|&c| c == '\u{fffd}').count();
    let source_fffd = data.windows(3).filter(|w| w == b"\xef\xbf\xbd").count();
    if source_fffd == 0 && d.replacements > fffd {
        panic!(
            "{what}({label:?}): replacements = {} but {fffd} U+FFFD in the text (charset {})\ninput {}",
            d.replacements,
            d.charset,
            show(data)
        );
    }
}
