//! STUB (replaced by the charset helper's module).
pub struct Decoded { pub text: String, pub charset: &'static str, pub mislabeled: bool, pub unknown_label: bool, pub undeclared: bool, pub replacements: usize }
pub fn decode_text(bytes: &[u8], _declared: Option<&str>) -> Decoded {
    let text = String::from_utf8_lossy(bytes).replace('\0', "");
    Decoded { text, charset: "UTF-8", mislabeled: false, unknown_label: false, undeclared: false, replacements: 0 }
}
pub fn decode_fragment(bytes: &[u8], declared: Option<&str>) -> Decoded { decode_text(bytes, declared) }
pub fn is_known_label(_label: &str) -> bool { true }
