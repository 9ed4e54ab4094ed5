//! The `mugaika sanitize` CLI contract, run as a real process.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

fn mugaika() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mugaika"))
}

fn run_stdin(args: &[&str], input: &[u8]) -> std::process::Output {
    let mut child =
        mugaika().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    // A usage error exits before reading stdin: a broken pipe is expected then.
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
}

const PLAIN: &[u8] = b"From: a@example.jp\r\nTo: b@example.jp\r\nSubject: test\r\n\r\nhello\r\n";

#[test]
fn delivered_exits_0_with_the_message_on_stdout() {
    let out = run_stdin(&["sanitize"], PLAIN);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("X-Mugaika-Retrieval-Id: MGK-"));
    assert!(text.contains("Subject: test\r\n"));
}

#[test]
fn quarantined_exits_3_with_nothing_on_stdout_and_a_report() {
    let dir = std::env::temp_dir().join(format!("mugaika-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("r.json");
    let out = run_stdin(&["sanitize", "--report", report.to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["verdict"], "quarantine");
    assert_eq!(json["reasons"][0], "mime.empty_message");
    assert_eq!(json["schema"], "mugaika.report/1");
}

#[test]
fn input_file_and_report_of_a_delivered_message() {
    let dir = std::env::temp_dir().join(format!("mugaika-cli2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.eml");
    std::fs::write(&input, PLAIN).unwrap();
    let report = dir.join("r.json");
    let out =
        mugaika().args(["sanitize", "--report", report.to_str().unwrap(), input.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["verdict"], "deliver");
    assert_eq!(json["input"]["subject"], "test");
    assert_eq!(json["parts"][0]["action"], "kept_as_text");
    assert!(json["timings"]["total_us"].is_u64());
}

#[test]
fn usage_and_config_errors_exit_2_with_one_line() {
    for args in [&["sanitize", "--bogus"][..], &["sanitize", "--config", "/nonexistent/mugaika.toml"], &["frobnicate"]]
    {
        let out = run_stdin(args, PLAIN);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
    let dir = std::env::temp_dir().join(format!("mugaika-cli3-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[limits]\nmax_depth = 0\nmax_parts = 0\n").unwrap();
    let out = run_stdin(&["sanitize", "--config", bad.to_str().unwrap()], PLAIN);
    assert_eq!(out.status.code(), Some(2));
    let out = mugaika().args(["check-config", bad.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(String::from_utf8(out.stderr).unwrap().lines().count(), 2, "every problem on its own line");
    let out = mugaika()
        .args(["check-config", common::root().join("config/mugaika.toml").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn missing_input_file_is_a_usage_error() {
    let out = mugaika().args(["sanitize", "/nonexistent/message.eml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}
