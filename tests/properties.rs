//! Properties over arbitrary and mutated input: the pipeline never panics,
//! any output passes the verifier, and sanitising an output again is
//! delivered with the same content (idempotence).

mod common;

use proptest::prelude::*;

use mugaika_sanitizers::Verdict;
use mugaika_sanitizers::notice::strip_notices;
use mugaika_sanitizers::verify::{VerifyConfig, output_text, verify_output};

fn check(raw: &[u8]) -> Result<(), TestCaseError> {
    let r = common::sanitize(raw);
    prop_assert!(
        !r.report.findings.iter().any(|f| f.code.starts_with("internal.")),
        "internal error: {:?}",
        r.report.findings
    );
    if let Some(out) = &r.output {
        let v = verify_output(out, &VerifyConfig::default());
        prop_assert!(v.is_empty(), "verifier: {v:?}");
        let again = common::sanitize(out);
        prop_assert_eq!(again.report.verdict, Verdict::Deliver, "{:?}", again.report.reasons);
        let a = output_text(out).unwrap_or_default();
        let b = again.output.as_deref().and_then(output_text).unwrap_or_default();
        prop_assert_eq!(strip_notices(&a).trim_end(), strip_notices(&b).trim_end());
    } else {
        prop_assert_eq!(r.report.verdict, Verdict::Quarantine);
    }
    Ok(())
}

/// The inputs fuzzing found (`fuzz/regressions/sanitize/`, and the
/// minimised cases of `corpus/regressions/`) hold the same properties under
/// the default policy, so they stay fixed without cargo-fuzz.
#[test]
fn fuzz_regressions_keep_their_properties() {
    let mut files = common::files_below(&common::root().join("fuzz/regressions/sanitize"));
    assert!(files.len() >= 9, "fuzz regressions missing: {files:?}");
    let minimised = common::files_below(&common::root().join("corpus/regressions"));
    files.extend(minimised.into_iter().filter(|p| p.extension().is_some_and(|e| e == "eml")));
    for f in files {
        let raw = std::fs::read(&f).unwrap();
        if let Err(e) = check(&raw) {
            panic!("{}: {e}", f.display());
        }
    }
}

/// Seeds: the hand-written corpus (small files only, to keep cases fast).
fn seeds() -> Vec<Vec<u8>> {
    let seeds: Vec<Vec<u8>> = common::files_below(&common::root().join("corpus"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|d| d.len() < 64 * 1024)
        .collect();
    assert!(!seeds.is_empty(), "no corpus seeds");
    seeds
}

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let token = prop::sample::select(vec![
        &b"\r\n"[..],
        b"\n",
        b"\r",
        b"--",
        b"=?",
        b"?=",
        b"boundary=",
        b"Content-Type: ",
        b"multipart/mixed",
        b"text/html",
        b"base64",
        b"=\r\n",
        b"<script>",
        b"\x1b$B",
        b"\x1b(B",
        b"\0",
        b";",
        b"\"",
        b"charset=",
    ]);
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), token).prop_map(|(i, t)| Edit::Insert(i, t.to_vec())),
        (any::<usize>(), 0usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<usize>(), 0usize..256).prop_map(|(i, n)| Edit::Duplicate(i, n)),
    ]
}

fn apply(mut data: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let len = data.len().max(1);
        match e {
            Edit::Flip(i, b) if !data.is_empty() => data[i % len] = *b,
            Edit::Insert(i, t) => {
                let at = i % (data.len() + 1);
                data.splice(at..at, t.iter().copied());
            }
            Edit::Delete(i, n) if !data.is_empty() => {
                let at = i % len;
                let end = (at + n).min(data.len());
                data.drain(at..end);
            }
            Edit::Duplicate(i, n) if !data.is_empty() => {
                let at = i % len;
                let end = (at + n).min(data.len());
                let chunk = data[at..end].to_vec();
                data.splice(end..end, chunk);
            }
            _ => {}
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_break_the_pipeline(raw in prop::collection::vec(any::<u8>(), 0..4096)) {
        check(&raw)?;
    }

    #[test]
    fn header_like_garbage_never_breaks_the_pipeline(
        lines in prop::collection::vec("[A-Za-z-]{1,12}: [ -~\\t]{0,60}", 1..20),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut raw = lines.join("\r\n").into_bytes();
        raw.extend_from_slice(b"\r\n\r\n");
        raw.extend_from_slice(&body);
        check(&raw)?;
    }

    #[test]
    fn mutated_corpus_messages_never_break_the_pipeline(
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let seeds = seeds();
        let seed = pick.get(&seeds).clone();
        check(&apply(seed, &edits))?;
    }
}
