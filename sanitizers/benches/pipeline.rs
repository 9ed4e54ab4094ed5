//! The whole pipeline vs mail-parser parse-only on the same bytes, side by
//! side in one run: every message of `../shared/corpus-real` (mbox files
//! split). Target: sanitise ≥ 0.5× parse-only throughput.
//!
//! `cargo bench -p mugaika-sanitizers --bench pipeline`
//! (MUGAIKA_SHARED overrides the location of ../shared)

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mail_parser::{MessageParser, PartType};
use mugaika_sanitizers::Pipeline;

fn shared() -> PathBuf {
    std::env::var_os("MUGAIKA_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if !p.extension().is_some_and(|e| e == "md" || e == "sha256") {
            out.push(p);
        }
    }
}

/// The messages of the real corpus; mbox files cut at postmark lines.
fn corpus() -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    files(&shared().join("corpus-real"), &mut paths);
    paths.sort();
    let mut msgs = Vec::new();
    for p in paths {
        let Ok(data) = std::fs::read(&p) else { continue };
        if !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.contains("mbox")) {
            msgs.push(data);
            continue;
        }
        let mut cur: Option<Vec<u8>> = None;
        for line in data.split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b"From ") {
                msgs.extend(cur.take());
                cur = Some(Vec::new());
            } else if let Some(c) = cur.as_mut() {
                c.extend_from_slice(line);
            }
        }
        msgs.extend(cur);
    }
    assert!(msgs.len() > 400, "real corpus not found under {}", shared().display());
    msgs
}

/// The baseline: parse, then touch every part's decoded content.
fn parse_only(raw: &[u8]) -> usize {
    let Some(msg) = MessageParser::default().parse(raw) else { return 0 };
    msg.parts
        .iter()
        .map(|p| match &p.body {
            PartType::Text(t) | PartType::Html(t) => t.len(),
            PartType::Binary(b) | PartType::InlineBinary(b) => b.len(),
            PartType::Message(m) => m.raw_message.len(),
            PartType::Multipart(c) => c.len(),
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let msgs = corpus();
    let bytes: usize = msgs.iter().map(Vec::len).sum();
    let pipeline = Pipeline::default();
    let mut group = c.benchmark_group("real_corpus");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(20);
    group.bench_function("mail_parser_parse_only", |b| {
        b.iter(|| msgs.iter().map(|m| parse_only(black_box(m))).sum::<usize>())
    });
    group.bench_function("mugaika_sanitize", |b| {
        b.iter(|| msgs.iter().map(|m| pipeline.run(black_box(m)).output.map_or(0, |o| o.len())).sum::<usize>())
    });
    group.finish();
    eprintln!("real corpus: {} messages, {} bytes", msgs.len(), bytes);
}

/// Hostile shapes at two sizes: linear cost shows as equal MiB/s for 1× and 4×.
fn hostile(scale: usize) -> Vec<(&'static str, Vec<u8>)> {
    let head = "From: a@example.jp\r\nTo: b@example.lg.jp\r\nSubject: x\r\nMIME-Version: 1.0\r\n";
    let mut cases = Vec::new();
    // Many boundary-like lines inside a body, with hundreds of boundaries declared.
    let mut m = format!("{head}Content-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n");
    for i in 0..200 {
        m.push_str(&format!(
            "--b0\r\nContent-Type: multipart/mixed; boundary=\"b{}x\"\r\n\r\n--b{}x--\r\n",
            i + 1,
            i + 1
        ));
    }
    m.push_str("--b0\r\nContent-Type: text/plain\r\n\r\n");
    for _ in 0..scale * 20_000 {
        m.push_str("--b1\r\n");
    }
    m.push_str("--b0--\r\n");
    cases.push(("boundary_lines", m.into_bytes()));
    // HTML of unclosed nested elements and attributes.
    let mut m = format!("{head}Content-Type: text/html\r\n\r\n");
    for i in 0..scale * 20_000 {
        m.push_str(&format!("<div style=\"color:#{:06x}\"><a href=\"x{i}\">t", i % 0xffffff));
    }
    cases.push(("html_unclosed", m.into_bytes()));
    // A long folded Subject of encoded words (under the 64 KiB header limit at 4×).
    let mut m = "From: a@example.jp\r\nContent-Type: text/plain\r\nSubject:".to_string();
    for _ in 0..scale * 400 {
        m.push_str(" =?ISO-2022-JP?B?GyRCJCIbKEI=?=\r\n");
    }
    m.push_str("\r\nbody\r\n");
    cases.push(("encoded_words", m.into_bytes()));
    cases
}

fn bench_hostile(c: &mut Criterion) {
    let pipeline = Pipeline::default();
    let mut group = c.benchmark_group("hostile_scaling");
    group.sample_size(10);
    for scale in [1usize, 4] {
        for (name, msg) in hostile(scale) {
            group.throughput(Throughput::Bytes(msg.len() as u64));
            group.bench_function(format!("{name}_x{scale}"), |b| {
                b.iter(|| pipeline.run(black_box(&msg)).report.findings.len())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench, bench_hostile);
criterion_main!(benches);
