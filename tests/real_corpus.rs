//! Every message of `../shared/corpus-real` (real-world mail no one here
//! wrote; mbox files split) goes through the pipeline: no panic, a verdict,
//! every delivered output passes the output verifier, and sanitising the
//! output again is delivered with the same content (idempotence).

mod common;

use mugaika_sanitizers::Verdict;
use mugaika_sanitizers::notice::strip_notices;
use mugaika_sanitizers::verify::{VerifyConfig, output_text, verify_output};

#[test]
fn real_corpus_is_sanitised_safely() {
    let dir = common::shared().join("corpus-real");
    let files: Vec<_> = common::files_below(&dir)
        .into_iter()
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !(n.ends_with(".md") || n.ends_with(".sha256") || n.starts_with("LICENSE") || n.starts_with("SOURCES"))
        })
        .collect();
    assert!(files.len() >= 400, "expected the shared real corpus at {} (found {} files)", dir.display(), files.len());
    let (mut total, mut delivered) = (0usize, 0usize);
    let mut failures = Vec::new();
    let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
    for file in &files {
        for (name, raw) in common::messages_of(file) {
            total += 1;
            let r = common::sanitize(&raw);
            if r.report.findings.iter().any(|f| f.code.starts_with("internal.")) {
                failures.push(format!("{name}: internal error {:?}", r.report.findings));
                continue;
            }
            let Some(out) = r.output else {
                for reason in &r.report.reasons {
                    *reasons.entry(reason.clone()).or_default() += 1;
                }
                continue;
            };
            delivered += 1;
            let violations = verify_output(&out, &VerifyConfig::default());
            if !violations.is_empty() {
                failures.push(format!("{name}: {violations:?}"));
                continue;
            }
            let again = common::sanitize(&out);
            if again.report.verdict != Verdict::Deliver {
                failures.push(format!("{name}: sanitised output is quarantined: {:?}", again.report.reasons));
                continue;
            }
            let first = output_text(&out).unwrap_or_default();
            let second = again.output.as_deref().and_then(output_text).unwrap_or_default();
            if strip_notices(&first).trim_end() != strip_notices(&second).trim_end() {
                failures.push(format!("{name}: not idempotent"));
            }
        }
    }
    eprintln!("real corpus: {total} messages, {delivered} delivered, quarantine reasons {reasons:?}");
    assert!(total >= 480, "expected at least 480 messages, found {total}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    // Most real mail is ordinary; a sanitiser that quarantines it is useless.
    // 462 of 483 are delivered today; the 21 quarantined are encrypted mail
    // and parser-ambiguity cases (see the closing note of issue 2).
    assert!(delivered >= 455, "only {delivered} of {total} delivered: {reasons:?}");
}
