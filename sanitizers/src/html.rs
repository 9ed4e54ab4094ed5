//! STUB (replaced by the html helper's module).
pub struct HtmlText { pub text: String, pub findings: Vec<crate::report::Finding>, pub truncated: bool }
pub fn html_to_text(html: &str, _part: &str, _max_output: usize) -> HtmlText {
    let mut text = String::new(); let mut in_tag = false;
    for c in html.chars() { match c { '<' => in_tag = true, '>' => in_tag = false, c if !in_tag => text.push(c), _ => {} } }
    HtmlText { text, findings: vec![], truncated: false }
}
pub fn sniff_meta_charset(_raw: &[u8]) -> Option<String> { None }
