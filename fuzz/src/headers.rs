//! The `headers` target: header decoding (RFC 2047, raw 8-bit, RFC 2231
//! parameters) and the output-side encoders fed with what was decoded.
//!
//! Oracles:
//! * `decode_unstructured`: at most `MAX_DECODED_LEN` bytes, no C0/C1
//!   control or DEL, no leading/trailing space or tab;
//! * `encode_unstructured_field("Subject", text)`: 7-bit, CRLF-terminated
//!   lines of at most 998 octets, continuation lines start with white space,
//!   and decoding the field again gives the same text (round trip);
//! * `parse_content_params`: at most `MAX_PARAMS` parameters and
//!   `MAX_CONFLICTS` conflicts, values within `MAX_DECODED_LEN`, the main
//!   value lower-case and trimmed;
//! * `encode_filename_params(v)` for every parameter value `v` (up to 4 KB):
//!   7-bit, line limits, and `filename` / `name` read back as `v`;
//! * `encode_address_field("To", …)` with the decoded text as display name:
//!   7-bit, line limits, and mail-parser reads back exactly the addresses
//!   given (a display name can never inject or hide an address).

use mail_parser::{Address, MessageParser};
use mugaika_sanitizers::headers::{
    MAX_CONFLICTS, MAX_DECODED_LEN, MAX_PARAMS, decode_unstructured, encode_address_field, encode_filename_params,
    encode_unstructured_field, parse_content_params,
};

use crate::show;

/// Longest parameter value given to the filename round trip (names of more
/// than `MAX_SECTIONS` sections cannot read back; callers cap well below).
const MAX_ROUND_TRIP_NAME: usize = 4096;

/// The checks of the module doc.
pub fn check(data: &[u8]) {
    let d = decode_unstructured(data);
    let text = &d.text;
    if text.len() > MAX_DECODED_LEN {
        panic!("decode_unstructured: {} bytes\ninput {}", text.len(), show(data));
    }
    if let Some(c) = text.chars().find(|&c| c.is_control()) {
        panic!("decode_unstructured: control U+{:04X} in {text:?}\ninput {}", c as u32, show(data));
    }
    if text.starts_with([' ', '\t']) || text.ends_with([' ', '\t']) {
        panic!("decode_unstructured: text not trimmed {text:?}\ninput {}", show(data));
    }

    let field = encode_unstructured_field("Subject", text);
    check_field(&field, data);
    let value = field.strip_prefix("Subject:").unwrap_or_else(|| panic!("field without its name: {field:?}"));
    let back = decode_unstructured(value.as_bytes());
    if !d.truncated && back.text != *text {
        panic!(
            "encode_unstructured_field does not round-trip:\ntext {text:?}\nback {:?}\nfield {field:?}\ninput {}",
            back.text,
            show(data)
        );
    }

    let p = parse_content_params(data);
    if p.params.len() > MAX_PARAMS || p.conflicts.len() > MAX_CONFLICTS {
        panic!(
            "parse_content_params: {} params, {} conflicts\ninput {}",
            p.params.len(),
            p.conflicts.len(),
            show(data)
        );
    }
    if p.value != p.value.to_ascii_lowercase() || p.value != p.value.trim() {
        panic!("parse_content_params: main value {:?} not lower-case/trimmed\ninput {}", p.value, show(data));
    }
    for (name, v) in &p.params {
        if v.len() > MAX_DECODED_LEN || name.len() > MAX_DECODED_LEN {
            panic!("parse_content_params: {} byte value\ninput {}", v.len(), show(data));
        }
        if !v.is_empty() && v.len() <= MAX_ROUND_TRIP_NAME {
            round_trip_filename(v, data);
        }
    }

    check_address(text, data);
}

/// A header field we wrote: 7-bit, CRLF lines ≤ 998, folded with white space.
fn check_field(field: &str, data: &[u8]) {
    if !field.is_ascii() {
        panic!("encoded field is not 7-bit: {field:?}\ninput {}", show(data));
    }
    let Some(body) = field.strip_suffix("\r\n") else {
        panic!("encoded field does not end in CRLF: {field:?}\ninput {}", show(data));
    };
    for (i, line) in body.split("\r\n").enumerate() {
        if line.len() > 998 {
            panic!("encoded field has a {}-octet line\ninput {}", line.len(), show(data));
        }
        if line.contains(['\r', '\n', '\0']) {
            panic!("encoded field has a bare CR/LF or NUL: {field:?}\ninput {}", show(data));
        }
        if i > 0 && !line.starts_with([' ', '\t']) {
            panic!("encoded field has a continuation line without white space: {field:?}\ninput {}", show(data));
        }
        if i > 0 && line.trim().is_empty() {
            panic!("encoded field has a white-space-only continuation line: {field:?}\ninput {}", show(data));
        }
    }
}

/// Parameters written for the output, each starting with `;`, folded.
fn check_params(params: &str, data: &[u8]) {
    check_field(&format!("X:{params}\r\n"), data);
}

fn round_trip_filename(v: &str, data: &[u8]) {
    let (ct, cd) = encode_filename_params(v);
    check_params(&ct, data);
    check_params(&cd, data);
    let disp = parse_content_params(format!("attachment{cd}").as_bytes());
    if disp.get("filename") != Some(v) {
        panic!(
            "encode_filename_params: filename does not round-trip:\nvalue {v:?}\nback  {:?}\nparams {cd:?}\ninput {}",
            disp.get("filename"),
            show(data)
        );
    }
    let ctype = parse_content_params(format!("application/octet-stream{ct}").as_bytes());
    if ctype.get("name") != Some(v) {
        panic!(
            "encode_filename_params: name does not round-trip:\nvalue {v:?}\nback  {:?}\nparams {ct:?}\ninput {}",
            ctype.get("name"),
            show(data)
        );
    }
}

/// The decoded text as a display name between two plain addresses.
fn check_address(display: &str, data: &[u8]) {
    let addrs = vec![
        (Some(display.to_string()), "a@b.example".to_string()),
        (None, "c@d.example".to_string()),
        (Some(display.to_string()), "e@f.example".to_string()),
    ];
    let (field, skipped) = encode_address_field("To", &addrs);
    if !skipped.is_empty() {
        panic!("encode_address_field skipped {skipped:?}\ninput {}", show(data));
    }
    check_field(&field, data);
    let message = format!("{field}From: x@y.example\r\n\r\nbody\r\n");
    let Some(msg) = MessageParser::default().parse(message.as_bytes()) else {
        panic!("mail-parser cannot read the To field {field:?}\ninput {}", show(data));
    };
    let got: Vec<String> = match msg.to() {
        Some(Address::List(list)) => list.iter().map(|a| a.address().unwrap_or("").to_string()).collect(),
        Some(Address::Group(groups)) => {
            groups.iter().flat_map(|g| g.addresses.iter()).map(|a| a.address().unwrap_or("").to_string()).collect()
        }
        None => Vec::new(),
    };
    let want = ["a@b.example", "c@d.example", "e@f.example"];
    if got != want {
        panic!(
            "encode_address_field: mail-parser reads the addresses {got:?}, written {want:?}\ndisplay {display:?}\nfield {field:?}\ninput {}",
            show(data)
        );
    }
}
