//! Parser-differential checks: places where two MIME parsers could read the
//! same bytes differently (the amavis CVE-2024-28054 class).
//!
//! mail-parser gives us one reading of the message. Where the bytes admit
//! another reading that a mail client might take, the reading we sanitised may
//! not be the one the reader sees, so each such place is a finding. Those that
//! can hide content (two boundaries, a boundary line inside a body, a bare CR
//! in a header) are Danger and quarantine by default; those that only make
//! parsers disagree on cosmetics are Warning.
//!
//! Every check here is linear in the bytes it looks at: header sections are
//! scanned once; body lines are matched against all the message's boundaries
//! at once through a byte trie, so a body costs at most its length times the
//! longest boundary length — bounded, since boundaries longer than
//! [`MAX_BOUNDARY_LEN`] are themselves a finding.

use crate::report::{Finding, Severity, codes};

/// RFC 2046 allows 70; longer boundaries are flagged and matched on their
/// first `MAX_BOUNDARY_LEN` bytes only.
pub const MAX_BOUNDARY_LEN: usize = 200;

/// NUL, bare CR and mixed line endings in a header section.
pub fn check_header_section(section: &[u8], path: &str, findings: &mut Vec<Finding>) {
    let mut nul = false;
    let mut bare_cr = false;
    let mut crlf = false;
    let mut lone_lf = false;
    let mut prev = 0u8;
    for (i, &b) in section.iter().enumerate() {
        match b {
            0 => nul = true,
            b'\r' if section.get(i + 1) != Some(&b'\n') => bare_cr = true,
            b'\n' if prev == b'\r' => crlf = true,
            b'\n' => lone_lf = true,
            _ => {}
        }
        prev = b;
    }
    if nul {
        findings.push(Finding::new(codes::MIME_HEADER_NUL, Severity::Danger, path, "NUL byte in the header section"));
    }
    if bare_cr {
        findings.push(Finding::new(
            codes::MIME_HEADER_BARE_CR,
            Severity::Danger,
            path,
            "bare CR in the header section (parsers disagree on where a field ends)",
        ));
    }
    if crlf && lone_lf {
        findings.push(Finding::new(
            codes::MIME_HEADER_BARE_LF,
            Severity::Warning,
            path,
            "header section mixes CRLF and bare LF line endings",
        ));
    }
}

/// Normalises a header value for comparison: unfolded, whitespace collapsed,
/// ASCII lower-case.
pub fn normalized_value(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut space = false;
    for &b in raw {
        if b.is_ascii_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(b' ');
            space = false;
        }
        out.push(b.to_ascii_lowercase());
    }
    out
}

/// All multipart boundaries of a message, for matching body lines against
/// every one of them in one pass.
#[derive(Debug, Default)]
pub struct BoundarySet {
    /// Byte trie; node 0 is the root. Each node: (children, is_end).
    nodes: Vec<(Vec<(u8, u32)>, bool)>,
    list: Vec<Vec<u8>>,
}

impl BoundarySet {
    pub fn new() -> Self {
        BoundarySet { nodes: vec![(Vec::new(), false)], list: Vec::new() }
    }

    /// Adds a boundary (cut to [`MAX_BOUNDARY_LEN`] bytes). Empty ones are ignored.
    pub fn insert(&mut self, boundary: &[u8]) {
        let b = &boundary[..boundary.len().min(MAX_BOUNDARY_LEN)];
        if b.is_empty() || self.list.iter().any(|x| x == b) {
            return;
        }
        self.list.push(b.to_vec());
        let mut node = 0usize;
        for &c in b {
            node = match self.nodes[node].0.binary_search_by_key(&c, |&(k, _)| k) {
                Ok(i) => self.nodes[node].0[i].1 as usize,
                Err(i) => {
                    self.nodes.push((Vec::new(), false));
                    let n = self.nodes.len() - 1;
                    self.nodes[node].0.insert(i, (c, n as u32));
                    n
                }
            };
        }
        self.nodes[node].1 = true;
    }

    /// Children are kept sorted, so a step costs O(log 256).
    fn child(&self, node: usize, c: u8) -> Option<usize> {
        let children = &self.nodes[node].0;
        children.binary_search_by_key(&c, |&(k, _)| k).ok().map(|i| children[i].1 as usize)
    }

    /// Whether `boundary` (cut to [`MAX_BOUNDARY_LEN`]) is in the set.
    pub fn contains(&self, boundary: &[u8]) -> bool {
        let b = &boundary[..boundary.len().min(MAX_BOUNDARY_LEN)];
        let mut node = 0usize;
        for &c in b {
            match self.child(node, c) {
                Some(n) => node = n,
                None => return false,
            }
        }
        !b.is_empty() && self.nodes[node].1
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The boundaries that are a proper prefix of another boundary: a parser
    /// matching delimiters by prefix would split the message differently.
    pub fn prefix_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for long in &self.list {
            let mut node = 0usize;
            for (i, &c) in long.iter().enumerate() {
                match self.child(node, c) {
                    Some(n) => node = n,
                    None => break,
                }
                if self.nodes[node].1 && i + 1 < long.len() {
                    pairs.push((
                        String::from_utf8_lossy(&long[..=i]).into_owned(),
                        String::from_utf8_lossy(long).into_owned(),
                    ));
                }
            }
        }
        pairs
    }

    /// Returns the first line of `body` that starts with `--` followed by any
    /// boundary of the set (prefix match, as the laxest parsers do), and
    /// whether anything but white space follows it in `body` (content a lax
    /// parser would read as another part).
    pub fn find_delimiter_line<'b>(&self, body: &'b [u8]) -> Option<(&'b [u8], bool)> {
        if self.list.is_empty() {
            return None;
        }
        for (line_start, line) in dash_lines_at(body) {
            let Some(rest) = line.strip_prefix(b"--") else { continue };
            let mut node = 0usize;
            for &c in rest.iter().take(MAX_BOUNDARY_LEN) {
                match self.child(node, c) {
                    Some(n) => node = n,
                    None => break,
                }
                if self.nodes[node].1 {
                    let after = body.get(line_start + line.len()..).unwrap_or(b"");
                    return Some((line, !after.iter().all(|b| b.is_ascii_whitespace())));
                }
            }
        }
        None
    }
}

/// What the lines of one multipart body (preamble to epilogue) say about its
/// own boundary.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MultipartScan {
    /// The closing delimiter `--boundary--` is present.
    pub has_close: bool,
    /// A line `--boundary<more>` that is a delimiter only for parsers that
    /// match boundaries as prefixes (and is not another boundary of the
    /// message).
    pub prefix_only_line: Option<String>,
    /// A delimiter line after the closing delimiter: a part in the epilogue.
    pub delimiter_after_close: bool,
    /// Delimiter lines before the closing one: the number of parts a
    /// strict reader sees.
    pub opening_delimiters: usize,
}

/// Scans the raw body of a multipart for its delimiter lines, once, linearly.
pub fn scan_multipart_body(body: &[u8], boundary: &[u8], all: &BoundarySet) -> MultipartScan {
    let mut scan = MultipartScan::default();
    for line in dash_lines(body) {
        let Some(rest) = line.strip_prefix(b"--").and_then(|r| r.strip_prefix(boundary)) else { continue };
        let rest = trim_end_ws(rest);
        if rest.is_empty() {
            if scan.has_close {
                scan.delimiter_after_close = true;
            } else {
                scan.opening_delimiters += 1;
            }
        } else if rest == b"--" {
            scan.has_close = true;
        } else if scan.prefix_only_line.is_none() {
            let token = trim_end_ws(&line[2..]);
            let token = token.strip_suffix(b"--").unwrap_or(token);
            if !all.contains(token) {
                scan.prefix_only_line = Some(String::from_utf8_lossy(trim_end_ws(line)).into_owned());
            }
        }
    }
    scan
}

/// The lines of `body` that start with `--` (without their `\n`), with
/// their offsets. Found with memchr: a body costs one fast pass however many
/// lines it has.
fn dash_lines_at(body: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', body).map(|i| i + 1));
    starts.filter(move |&s| body.get(s..s + 2) == Some(b"--")).map(move |s| {
        let end = memchr::memchr(b'\n', &body[s..]).map_or(body.len(), |e| s + e);
        (s, &body[s..end])
    })
}

fn dash_lines(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    dash_lines_at(body).map(|(_, l)| l)
}

fn trim_end_ws(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_section_checks() {
        let mut f = Vec::new();
        check_header_section(b"A: b\r\nC: d\r\n", "1", &mut f);
        assert!(f.is_empty());
        check_header_section(b"A: b\nC: d\n", "1", &mut f);
        assert!(f.is_empty(), "LF-only mail is normal Unix mail");
        check_header_section(b"A: b\r\nC: d\n", "1", &mut f);
        assert_eq!(f.pop().unwrap().code, codes::MIME_HEADER_BARE_LF);
        check_header_section(b"A: b\rContent-Type: text/html\r\n", "1", &mut f);
        assert_eq!(f.pop().unwrap().code, codes::MIME_HEADER_BARE_CR);
        check_header_section(b"A: b\0c\r\n", "1", &mut f);
        assert_eq!(f.pop().unwrap().code, codes::MIME_HEADER_NUL);
    }

    #[test]
    fn boundary_trie_finds_prefixes_and_lines() {
        let mut s = BoundarySet::new();
        s.insert(b"abc");
        s.insert(b"abcdef");
        s.insert(b"zzz");
        assert_eq!(s.prefix_pairs(), vec![("abc".to_string(), "abcdef".to_string())]);
        assert!(s.find_delimiter_line(b"hello\n-- \nsig").is_none());
        assert_eq!(s.find_delimiter_line(b"x\r\n--zzz--\r\n"), Some((&b"--zzz--\r"[..], false)));
        assert_eq!(s.find_delimiter_line(b"x\r\n--zzz\r\nmore\r\n"), Some((&b"--zzz\r"[..], true)));
        assert!(s.find_delimiter_line(b"x\n--zz\n").is_none());
    }

    #[test]
    fn multipart_scan() {
        let mut all = BoundarySet::new();
        all.insert(b"b");
        all.insert(b"b_alt");
        let s = scan_multipart_body(b"pre\r\n--b\r\nx\r\n--b--\r\n", b"b", &all);
        assert_eq!(s, MultipartScan { has_close: true, opening_delimiters: 1, ..Default::default() });
        let s = scan_multipart_body(b"pre\r\n--b \r\nx\r\n--b\r\n", b"b", &all);
        assert!(!s.has_close);
        let s = scan_multipart_body(b"--b\r\n--b_alt\r\n--b_alt--\r\n--bZZZ\r\n--b--\r\n--b\r\nmore", b"b", &all);
        assert_eq!(s.prefix_only_line.as_deref(), Some("--bZZZ"));
        assert!(s.has_close);
        assert!(s.delimiter_after_close);
        assert!(all.contains(b"b_alt") && !all.contains(b"b_al"));
    }

    #[test]
    fn normalization() {
        assert_eq!(normalized_value(b" Text/Plain;\r\n\tcharset=x "), b"text/plain; charset=x");
    }
}
