//! Helpers shared by the integration tests: where the corpora are, how mbox
//! files are split, and the sanitise-with-default-config entry point.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use mugaika::config::Config;
use mugaika_sanitizers::Sanitized;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` (override with MUGAIKA_SHARED).
pub fn shared() -> PathBuf {
    std::env::var_os("MUGAIKA_SHARED").map(PathBuf::from).unwrap_or_else(|| root().join("../shared"))
}

/// Sanitises with the shipped defaults and the default policy; the
/// renderers run in process (the relay and the CLI put them in a child).
pub fn sanitize(raw: &[u8]) -> Sanitized {
    let mut config = Config::default();
    config.render.isolation = mugaika_sanitizers::render::Isolation::InProcess;
    mugaika::rendering::pipeline_for(&config).run_with(raw, None, &config.policy)
}

/// Every file below `dir`, sorted, skipping dot files.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')) {
                continue;
            }
            if p.is_dir() { stack.push(p) } else { out.push(p) }
        }
    }
    out.sort();
    out
}

/// Whether a line is an mbox postmark (`From addr [date]`), as the shared
/// checker reads them: "From " + a non-space token + nothing or a weekday.
fn is_postmark(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else { return false };
    let rest = String::from_utf8_lossy(rest);
    let mut words = rest.split_whitespace();
    let Some(_sender) = words.next() else { return false };
    let tail: Vec<&str> = words.collect();
    tail.is_empty()
        || tail
            .iter()
            .take(2)
            .any(|w| ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].iter().any(|d| w.starts_with(d)))
}

/// The messages of a corpus file: mbox files (name contains "mbox") are cut
/// at their postmark lines, the postmark dropped; other files are one message.
pub fn messages_of(path: &Path) -> Vec<(String, Vec<u8>)> {
    let data = std::fs::read(path).unwrap_or_default();
    let name = path.display().to_string();
    let is_mbox = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains("mbox"));
    if !is_mbox {
        return vec![(name, data)];
    }
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&data).to_vec();
    let mut msgs: Vec<Vec<u8>> = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut pre: Vec<u8> = Vec::new();
    for line in data.split_inclusive(|&b| b == b'\n') {
        if is_postmark(line) {
            if let Some(m) = current.take() {
                msgs.push(m);
            }
            current = Some(Vec::new());
        } else if let Some(m) = current.as_mut() {
            m.extend_from_slice(line);
        } else {
            pre.extend_from_slice(line);
        }
    }
    if let Some(m) = current {
        msgs.push(m);
    }
    if !pre.iter().all(|b| b.is_ascii_whitespace()) {
        msgs.insert(0, pre);
    }
    msgs.into_iter().enumerate().map(|(i, m)| (format!("{name}#{}", i + 1), m)).collect()
}
