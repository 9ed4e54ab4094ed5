//! Differential check of mugaika's MIME reading against a second,
//! independent parser: Python's `email` package (policy.default).
//!
//! `tests/support_differential/differential.py` runs `mugaika sanitize
//! --report` (the binary built for this test) on every message of `corpus/`
//! and `../shared/corpus-real/` (mbox files split as `common::messages_of`
//! does) and compares the report's parts (MIME path, declared type, filename,
//! size and SHA-256 of the transfer-decoded body) and, for delivered
//! messages, the text of text/plain parts with what Python reads. A
//! disagreement on a delivered message fails the test unless
//! `tests/support_differential/explained.toml` lists it with a one-line
//! reason; structural disagreements (a part one parser sees and the other
//! does not, another boundary) are expected to be quarantined. See the
//! script's doc for the exact rules; `fuzz/differential.sh` runs the same
//! check over the fuzz corpora.
//!
//! Needs `python3` (3.11+, for `tomllib`) on the PATH, like test.sh's corpus
//! check.

mod common;

use std::process::Command;

#[test]
fn mime_reading_agrees_with_python_email() {
    let root = common::root();
    let script = root.join("tests/support_differential/differential.py");
    let explained = root.join("tests/support_differential/explained.toml");
    let real = common::shared().join("corpus-real");
    assert!(real.is_dir(), "expected the shared real corpus at {}", real.display());
    let out = Command::new("python3")
        .arg(&script)
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_mugaika"))
        .arg("--explained")
        .arg(&explained)
        .arg("-j")
        .arg("2")
        .arg(root.join("corpus"))
        .arg(&real)
        .output()
        .expect("python3 must be installed to run the differential check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    let summary = stdout.lines().last().unwrap_or("");
    assert!(summary.starts_with("differential: "), "no summary from {}: {stderr}", script.display());
    assert!(
        out.status.success(),
        "unexplained disagreements with Python's email package (or a crash): see the UNEXPLAINED lines above; \
         quarantine such messages or add a reasoned entry to {}",
        explained.display()
    );
}
