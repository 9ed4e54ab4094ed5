//! STUB (replaced by the headers helper's module).
pub struct DecodedHeader { pub text: String, pub raw_8bit: bool, pub had_encoded_words: bool, pub charset_problems: bool }
pub fn decode_unstructured(raw: &[u8]) -> DecodedHeader {
    DecodedHeader { text: String::from_utf8_lossy(raw).trim().to_string(), raw_8bit: false, had_encoded_words: false, charset_problems: false }
}
pub struct ContentParams { pub value: String, pub params: Vec<(String, String)>, pub conflicts: Vec<(String, String, String)> }
impl ContentParams { pub fn get(&self, name: &str) -> Option<&str> { self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()) } }
pub fn parse_content_params(raw: &[u8]) -> ContentParams {
    let s = String::from_utf8_lossy(raw);
    let mut it = s.split(';');
    let value = it.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = it.filter_map(|p| { let (a, b) = p.split_once('=')?; Some((a.trim().to_ascii_lowercase(), b.trim().trim_matches('"').to_string())) }).collect();
    ContentParams { value, params, conflicts: vec![] }
}
pub fn encode_unstructured_field(name: &str, text: &str) -> String { format!("{name}: {}\r\n", text.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()).collect::<String>()) }
pub fn encode_address_field(name: &str, addrs: &[(Option<String>, String)]) -> (String, Vec<String>) {
    (format!("{name}: {}\r\n", addrs.iter().map(|(_, a)| a.clone()).collect::<Vec<_>>().join(", ")), vec![])
}
pub fn encode_filename_params(filename: &str) -> (String, String) { (format!("; name=\"{filename}\""), format!("; filename=\"{filename}\"")) }
