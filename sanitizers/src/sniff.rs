//! STUB (replaced by the sniff helper's module).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind { Image, Pdf, Office, Archive, Executable, Script, Text, Html, Mail, Media, Other }
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected { pub mime: &'static str, pub kind: Kind, pub description: &'static str }
pub fn detect(bytes: &[u8], _filename: Option<&str>) -> Detected {
    if bytes.starts_with(b"MZ") { return Detected { mime: "application/x-msdownload", kind: Kind::Executable, description: "Windows executable" } }
    Detected { mime: "application/octet-stream", kind: Kind::Other, description: "binary data" }
}
pub fn is_dangerous_name(f: &str) -> bool { f.to_ascii_lowercase().ends_with(".exe") }
pub fn has_double_extension(_f: &str) -> bool { false }
