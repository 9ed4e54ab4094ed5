//! The golden corpus: every `corpus/**/<name>.eml` runs through the pipeline
//! with the default config and is checked against
//!
//! 1. its sidecar `<name>.toml` (hand-written expectations: verdict, subject,
//!    strings that must and must not appear in the text, finding codes), and
//! 2. its snapshot `<name>.golden.json` (verdict, reasons, codes, subject and
//!    the whole text of the last reviewed run).
//!
//! Every delivered output must also pass the output verifier. On a mismatch
//! the actual snapshot is written to `<name>.failed` (diff it against the
//! `.golden.json`) and the sanitised message to `<name>.output.failed`; all cases
//! run and every failure is listed. `MUGAIKA_BLESS=1` rewrites the snapshots.
//! An empty corpus is a failure, not a pass.

mod common;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use mugaika_sanitizers::Verdict;
use mugaika_sanitizers::verify::{VerifyConfig, output_text, verify_output};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    description: String,
    verdict: String,
    subject: Option<String>,
    #[serde(default)]
    contains: Vec<String>,
    #[serde(default)]
    not_contains: Vec<String>,
    #[serde(default)]
    findings: Vec<String>,
    /// The verdict once an MTA has put the message on the wire (bare CR and
    /// LF turned into CRLF), where that changes it; checked by
    /// `tests/relay.rs`, only validated here.
    smtp_verdict: Option<String>,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Snapshot {
    verdict: String,
    reasons: Vec<String>,
    codes: Vec<String>,
    subject: Option<String>,
    text: Option<String>,
}

fn cases() -> Vec<PathBuf> {
    common::files_below(&common::root().join("corpus"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect()
}

fn subject_of(output: &[u8]) -> Option<String> {
    mail_parser::MessageParser::default().parse(output)?.subject().map(str::to_string)
}

/// Runs one case; returns its problems (empty = pass).
fn check_case(eml: &Path, bless: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let sidecar = eml.with_extension("toml");
    let expect: Expect = match std::fs::read_to_string(&sidecar)
        .map_err(|e| e.to_string())
        .and_then(|t| toml::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(e) => e,
        Err(e) => return vec![format!("sidecar {}: {e}", sidecar.display())],
    };
    assert!(!expect.description.is_empty());
    let raw = std::fs::read(eml).unwrap();
    let result = common::sanitize(&raw);
    let report = &result.report;
    let verdict = match report.verdict {
        Verdict::Deliver => "deliver",
        Verdict::Quarantine => "quarantine",
    };
    if let Some(v) = expect.smtp_verdict.as_deref().filter(|v| !matches!(*v, "deliver" | "quarantine")) {
        problems.push(format!("smtp_verdict {v:?} is neither deliver nor quarantine"));
    }
    if verdict != expect.verdict {
        problems.push(format!("verdict {verdict} (reasons {:?}), expected {}", report.reasons, expect.verdict));
    }
    let codes: Vec<String> = report.codes().iter().map(|c| c.to_string()).collect();
    for f in &expect.findings {
        if !codes.contains(f) {
            problems.push(format!("finding {f} missing (have {codes:?})"));
        }
    }
    if report.findings.iter().any(|f| f.code.starts_with("internal.")) {
        problems.push(format!("internal error: {:?}", report.findings));
    }
    let (text, subject) = match &result.output {
        Some(out) => {
            for v in verify_output(out, &VerifyConfig::default()) {
                problems.push(format!("output verifier: [{}] {}", v.kind, v.detail));
            }
            (output_text(out), subject_of(out))
        }
        None => (None, None),
    };
    if verdict == "deliver" {
        let t = text.clone().unwrap_or_default();
        for s in &expect.contains {
            if !t.contains(s.as_str()) {
                problems.push(format!("text lacks {s:?}"));
            }
        }
        for s in &expect.not_contains {
            if t.contains(s.as_str()) {
                problems.push(format!("text contains {s:?}"));
            }
        }
        if let Some(want) = &expect.subject
            && subject.as_deref() != Some(want.as_str())
        {
            problems.push(format!("subject {subject:?}, expected {want:?}"));
        }
    }
    let snapshot = Snapshot { verdict: verdict.to_string(), reasons: report.reasons.clone(), codes, subject, text };
    let golden = eml.with_extension("golden.json");
    let actual = serde_json::to_string_pretty(&snapshot).unwrap() + "\n";
    let failed = eml.with_extension("failed");
    if bless {
        std::fs::write(&golden, &actual).unwrap();
        let _ = std::fs::remove_file(&failed);
    } else {
        match std::fs::read_to_string(&golden).ok().and_then(|g| serde_json::from_str::<Snapshot>(&g).ok()) {
            Some(g) if g == snapshot => {
                let _ = std::fs::remove_file(&failed);
            }
            Some(_) => {
                std::fs::write(&failed, &actual).unwrap();
                problems.push(format!("differs from {} (actual in {})", golden.display(), failed.display()));
            }
            None => {
                std::fs::write(&failed, &actual).unwrap();
                problems.push(format!("no snapshot {} (run with MUGAIKA_BLESS=1 after review)", golden.display()));
            }
        }
    }
    let output_failed = eml.with_extension("output.failed");
    if problems.is_empty() {
        let _ = std::fs::remove_file(&output_failed);
    } else {
        let _ = std::fs::write(&failed, &actual);
        if let Some(out) = &result.output {
            let _ = std::fs::write(&output_failed, out);
        }
    }
    problems
}

#[test]
fn golden_corpus() {
    let cases = cases();
    assert!(cases.len() >= 60, "corpus/ holds {} cases; at least 60 expected", cases.len());
    let bless = std::env::var_os("MUGAIKA_BLESS").is_some();
    let mut failures = Vec::new();
    for case in &cases {
        let problems = check_case(case, bless);
        if !problems.is_empty() {
            failures.push(format!("{}:\n  {}", case.display(), problems.join("\n  ")));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
