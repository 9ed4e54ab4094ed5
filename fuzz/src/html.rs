//! The `html_to_text` target.
//!
//! The input (lossy UTF-8) is converted twice: as a document, and as the
//! `href` of a link (`<a href="…">t</a>`, with `"` removed from the input),
//! where the only thing that can produce `<` in the output is the URL shown
//! after the link text, so the scheme check is exact.
//!
//! Oracles:
//! * no `<script` (ASCII case-insensitive) in the text;
//! * no bidi control character (they must be written as `<U+202E>`), no C0
//!   control except LF, no DEL, no C1 control;
//! * the text is at most [`EXPANSION`] × input + [`SLACK`] bytes (the
//!   writer's markers, indentation and quote prefixes are bounded per tag);
//! * link pass: every shown URL `<…>` is relative or http/https/mailto/ftp/tel;
//! * document pass, when no `<` of the input can reach the text (no `&`, so
//!   no entity spells one; no `alt`, since alt texts are shown as written;
//!   every `<` followed by a letter, `/`, `!` or `?`, so none is literal
//!   text; no element whose content is raw text or RCDATA, such as `<xmp>`
//!   or `<textarea>`, and no `<![CDATA[`, since in those `<letter` is text
//!   too): no `<javascript:`, `<vbscript:`, `<livescript:`, `<data:`,
//!   `<file:` in the text.

use mugaika_sanitizers::html::html_to_text;
use mugaika_sanitizers::text::is_bidi_control;

use crate::show;

/// Output bytes allowed per input byte.
pub const EXPANSION: usize = 64;
/// Output bytes allowed on top.
pub const SLACK: usize = 1024;
/// `max_output` given to the converter: large, so the cap never hides a blow-up.
const MAX_OUTPUT: usize = 64 << 20;

const ALLOWED_SCHEMES: [&str; 5] = ["http", "https", "mailto", "ftp", "tel"];
/// Names whose content the HTML parser keeps as text, `<` and all: the
/// raw-text and RCDATA elements, `<plaintext>`, and CDATA sections of
/// SVG/MathML. Matched as substrings, so `<xmp` in any case is caught.
const LITERAL_TEXT_MARKUP: [&str; 11] = [
    "xmp", "plaintext", "textarea", "title", "style", "script", "iframe", "noembed", "noframes", "noscript", "[cdata[",
];
const DANGEROUS: [&str; 5] = ["<javascript:", "<vbscript:", "<livescript:", "<data:", "<file:"];

/// The checks of the module doc.
pub fn check(data: &[u8]) {
    let html = String::from_utf8_lossy(data);
    let text = check_document(&html);
    if !html.contains('&')
        && !contains_ci(&html, "alt")
        && every_lt_opens_markup(&html)
        && !LITERAL_TEXT_MARKUP.iter().any(|m| contains_ci(&html, m))
    {
        let lower = text.to_ascii_lowercase();
        if let Some(d) = DANGEROUS.iter().find(|d| lower.contains(*d)) {
            panic!("html_to_text: dangerous link {d} shown\ninput {}\ntext {:?}", show(data), text);
        }
    }
    let href: String = html.chars().filter(|&c| c != '"').take(4096).collect();
    let link = format!("<a href=\"{href}\">t</a>");
    let text = check_document(&link);
    for url in shown_urls(&text) {
        if let Some(scheme) = scheme_of(url)
            && !ALLOWED_SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(&scheme))
        {
            panic!("html_to_text: URL with scheme {scheme:?} shown: {url:?}\ninput {link:?}\ntext {text:?}");
        }
    }
}

/// Converts and checks the invariants that hold for any document.
fn check_document(html: &str) -> String {
    let r = html_to_text(html, "1", MAX_OUTPUT);
    let text = r.text;
    if contains_ci(&text, "<script") {
        panic!("html_to_text: <script in the text\ninput {}\ntext {text:?}", show(html.as_bytes()));
    }
    if let Some(c) = text.chars().find(|&c| is_bidi_control(c)) {
        panic!("html_to_text: bidi control U+{:04X} in the text\ninput {}", c as u32, show(html.as_bytes()));
    }
    if let Some(c) = text.chars().find(|&c| (c.is_control() && c != '\n') || c == '\u{7f}') {
        panic!("html_to_text: control U+{:04X} in the text\ninput {}", c as u32, show(html.as_bytes()));
    }
    let bound = html.len().saturating_mul(EXPANSION).saturating_add(SLACK);
    if text.len() > bound {
        panic!(
            "html_to_text: {} bytes of text from {} bytes of HTML (bound {bound})\ninput {}",
            text.len(),
            html.len(),
            show(html.as_bytes())
        );
    }
    text
}

/// Every `<` starts a tag, an end tag, a comment or a bogus comment.
fn every_lt_opens_markup(html: &str) -> bool {
    let b = html.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'<' || b.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic() || matches!(n, b'/' | b'!' | b'?'))
    })
}

/// ASCII case-insensitive substring search.
fn contains_ci(hay: &str, needle: &str) -> bool {
    let n = needle.as_bytes();
    hay.as_bytes().windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// Every `<…>` in the text.
fn shown_urls(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        let after = rest.get(open + 1..).unwrap_or("");
        match after.find('>') {
            Some(close) => {
                out.push(after.get(..close).unwrap_or(""));
                rest = after.get(close + 1..).unwrap_or("");
            }
            None => {
                out.push(after);
                break;
            }
        }
    }
    out
}

/// The scheme of a URL as a browser reads it: leading C0 controls and space
/// dropped, tab/LF/CR removed anywhere, then `ALPHA *(ALPHA / DIGIT / + - .)`
/// before a `:`. `None` for a relative URL.
fn scheme_of(url: &str) -> Option<String> {
    let cleaned: String =
        url.trim_start_matches(|c: char| c <= ' ').chars().filter(|c| !matches!(c, '\t' | '\n' | '\r')).collect();
    let (scheme, _) = cleaned.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| scheme.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(scheme_of("http://a").as_deref(), Some("http"));
        assert_eq!(scheme_of("/x:y"), None);
        assert_eq!(scheme_of(" javascript:x").as_deref(), Some("javascript"));
        assert_eq!(scheme_of("java\tscript:x").as_deref(), Some("javascript"));
        assert_eq!(shown_urls("t <a> b <c"), vec!["a", "c"]);
    }
}
