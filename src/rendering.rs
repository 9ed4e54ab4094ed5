//! Renderers in a child process: the time and memory guard around
//! third-party decoders (hayro, image, zip, quick-xml).
//!
//! The renderers of `mugaika_sanitizers::render` are bounded by pixel, page,
//! entry and byte limits, but a decoder can still loop or allocate inside one
//! page. With `render.isolation = "subprocess"` (the default) each attachment
//! is rendered by `mugaika render-worker`, a child of the current executable
//! started with:
//! - `RLIMIT_AS` = `render.memory_mb` (allocation beyond it fails: the child
//!   aborts), `RLIMIT_CPU` = `render.timeout_secs` + 1, `RLIMIT_CORE` = 0,
//!   `RLIMIT_FSIZE` = 0 (it writes no file), `RLIMIT_NOFILE` = 32;
//! - a wall-clock timeout of `render.timeout_secs`, after which it is killed;
//! - an empty environment and `/` as working directory. It opens no socket:
//!   the renderers are pure functions of their input.
//!
//! A child that times out, dies or answers garbage is a `limit.render`
//! finding (Danger): the message is quarantined, never passed through.
//!
//! # Wire format (stdin → child → stdout)
//!
//! Request: the line `MUGAIKA-RENDER/1`, one line of JSON ([`Request`]), then
//! exactly `data_len` bytes of attachment content.
//!
//! Response: the line `MUGAIKA-RENDERED/1`, one line of JSON ([`Response`]),
//! then the renditions' bytes back to back, each `len` long, in the order
//! listed (PNG bytes, or UTF-8 text).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mugaika_sanitizers::attachment::{Attachment, AttachmentAction, AttachmentSanitizer};
use mugaika_sanitizers::limits::{Budget, LimitExceeded, Limits};
use mugaika_sanitizers::pipeline::Pipeline;
use mugaika_sanitizers::rebuild::{Rendition, RenditionContent};
use mugaika_sanitizers::render::{Isolation, RenderConfig, Renderers};
use mugaika_sanitizers::report::{ALL_CODES, Finding, Severity, codes};
use mugaika_sanitizers::sniff::{self, Kind};
use serde::{Deserialize, Serialize};

use crate::config::Config;

const REQUEST_MAGIC: &str = "MUGAIKA-RENDER/1";
const RESPONSE_MAGIC: &str = "MUGAIKA-RENDERED/1";
/// Largest response the parent reads (renditions are bounded well below).
const MAX_RESPONSE: u64 = 1 << 30;

/// The sanitiser pipeline for a configuration: limits plus the renderers,
/// in a child process or in process as `render.isolation` says.
pub fn pipeline_for(config: &Config) -> Pipeline {
    let pipeline = Pipeline::new(config.limits.clone());
    match config.render.isolation {
        Isolation::InProcess => {
            let font = load_font(&config.render.cjk_font);
            pipeline.with_sanitizer(Box::new(Renderers::new(config.render.clone(), font, &config.limits)))
        }
        Isolation::Subprocess => {
            let exe = worker_exe();
            pipeline.with_sanitizer(Box::new(IsolatedRenderers {
                exe,
                config: config.render.clone(),
                limits: config.limits.clone(),
            }))
        }
    }
}

/// The executable that answers `render-worker`: `MUGAIKA_WORKER_EXE` if set,
/// else this program when it is `mugaika`, else a `mugaika` next to it or one
/// directory up (a test binary in `target/*/deps/`).
pub fn worker_exe() -> PathBuf {
    if let Some(p) = std::env::var_os("MUGAIKA_WORKER_EXE") {
        return PathBuf::from(p);
    }
    let current = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("mugaika"));
    if current.file_name().is_some_and(|n| n == "mugaika") {
        return current;
    }
    let dir = current.parent().map(Path::to_path_buf).unwrap_or_default();
    for candidate in [dir.join("mugaika"), dir.join("../mugaika")] {
        if candidate.is_file() {
            return candidate;
        }
    }
    current
}

/// Reads the CJK fallback font; a missing font is logged once and Japanese
/// text in PDFs without embedded fonts then renders blank.
pub fn load_font(path: &str) -> Option<Arc<Vec<u8>>> {
    if path.is_empty() {
        return None;
    }
    match std::fs::read(path) {
        Ok(bytes) => Some(Arc::new(bytes)),
        Err(e) => {
            tracing::warn!(font = path, error = %e, "CJK fallback font not readable; PDFs without embedded Japanese fonts will render without those glyphs");
            None
        }
    }
}

/// What the parent sends.
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub config: RenderConfig,
    pub limits: Limits,
    pub path: String,
    pub filename: Option<String>,
    pub declared_type: String,
    pub sha256: String,
    pub data_len: u64,
}

/// What the child answers.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Response {
    /// `render`, `remove` or `quarantine`.
    pub action: String,
    pub note: String,
    pub extra: Vec<String>,
    /// For `quarantine`.
    pub code: String,
    pub detail: String,
    pub findings: Vec<WireFinding>,
    pub renditions: Vec<WireRendition>,
    /// A limit of the budget hit in the child (`limit.*` code), if any.
    pub limit: Option<WireFinding>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct WireFinding {
    pub code: String,
    pub severity: String,
    pub part: String,
    pub detail: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct WireRendition {
    pub filename: String,
    /// `png` or `text`.
    pub kind: String,
    pub len: u64,
}

/// The renderers behind a process boundary.
pub struct IsolatedRenderers {
    exe: PathBuf,
    config: RenderConfig,
    limits: Limits,
}

impl AttachmentSanitizer for IsolatedRenderers {
    fn name(&self) -> &'static str {
        "renderers (subprocess)"
    }

    fn accepts(&self, _attachment: &Attachment<'_>) -> bool {
        true
    }

    fn sanitize(
        &self,
        a: &Attachment<'_>,
        budget: &mut Budget,
        findings: &mut Vec<Finding>,
    ) -> Result<AttachmentAction, LimitExceeded> {
        budget.charge(a.data.len())?;
        let request = Request {
            config: self.config.clone(),
            limits: self.limits.clone(),
            path: a.path.to_string(),
            filename: a.filename.map(str::to_string),
            declared_type: a.declared_type.to_string(),
            sha256: a.sha256.to_string(),
            data_len: a.data.len() as u64,
        };
        // The message's own deadline (the worker's time budget) caps the child's.
        let mut timeout = Duration::from_secs(self.config.timeout_secs);
        if let Some(left) = budget.time_left() {
            timeout = timeout.min(left.max(Duration::from_millis(100)));
        }
        match run_child(&self.exe, &request, a.data, timeout, self.config.memory_mb) {
            Ok((response, blobs)) => from_wire(response, blobs, findings),
            Err(why) => {
                let detail = format!("renderer subprocess: {why}");
                findings.push(Finding::new(codes::LIMIT_RENDER, Severity::Danger, a.path, detail.clone()));
                Ok(AttachmentAction::Quarantine { code: codes::LIMIT_RENDER, detail })
            }
        }
    }
}

/// Runs one child to completion or to the timeout.
fn run_child(
    exe: &Path,
    request: &Request,
    data: &[u8],
    timeout: Duration,
    memory_mb: u64,
) -> Result<(Response, Vec<u8>), String> {
    let mut cmd = Command::new(exe);
    cmd.arg("render-worker")
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let cpu_secs = timeout.as_secs().saturating_add(1);
    let memory = memory_mb.saturating_mul(1 << 20);
    // SAFETY: only async-signal-safe calls (setrlimit) between fork and exec.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            // Never above what this process may have (a caller's `ulimit -v`).
            let set = |res, v: u64| {
                let mut cur = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                if libc::getrlimit(res, &mut cur) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let v = (v as libc::rlim_t).min(cur.rlim_max);
                let lim = libc::rlimit { rlim_cur: v, rlim_max: v };
                if libc::setrlimit(res, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            };
            set(libc::RLIMIT_AS, memory)?;
            set(libc::RLIMIT_CPU, cpu_secs)?;
            set(libc::RLIMIT_CORE, 0)?;
            set(libc::RLIMIT_FSIZE, 0)?;
            set(libc::RLIMIT_NOFILE, 32)?;
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let header = serde_json::to_string(request).map_err(|e| e.to_string())?;
    let body = data.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(format!("{REQUEST_MAGIC}\n{header}\n").as_bytes());
        let _ = stdin.write_all(&body);
    });
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let r = (&mut stdout).take(MAX_RESPONSE).read_to_end(&mut buf);
        r.map(|_| buf)
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = (&mut stderr).take(64 << 10).read_to_end(&mut buf);
        buf
    });
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = writer.join();
                let _ = reader.join();
                let _ = err_reader.join();
                return Err(format!("no answer within {:.1} s; killed", timeout.as_secs_f64()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(format!("wait: {e}")),
        }
    };
    let _ = writer.join();
    let out = reader.join().map_err(|_| "reader thread panicked".to_string())?.map_err(|e| e.to_string())?;
    let err = err_reader.join().unwrap_or_default();
    if !status.success() {
        let tail = String::from_utf8_lossy(&err);
        let tail: String = tail.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
        return Err(format!(
            "exited with {status} (memory limit {memory_mb} MiB){}",
            if tail.is_empty() { String::new() } else { format!(": {}", tail.chars().take(300).collect::<String>()) }
        ));
    }
    parse_response(&out)
}

fn parse_response(out: &[u8]) -> Result<(Response, Vec<u8>), String> {
    let mut r = BufReader::new(out);
    let mut magic = String::new();
    r.read_line(&mut magic).map_err(|e| e.to_string())?;
    if magic.trim_end() != RESPONSE_MAGIC {
        return Err("answer does not start with the response line".into());
    }
    let mut json = String::new();
    r.read_line(&mut json).map_err(|e| e.to_string())?;
    let response: Response = serde_json::from_str(&json).map_err(|e| format!("bad answer: {e}"))?;
    let mut blobs = Vec::new();
    r.read_to_end(&mut blobs).map_err(|e| e.to_string())?;
    let want = response.renditions.iter().try_fold(0u64, |sum, x| sum.checked_add(x.len));
    if want != Some(blobs.len() as u64) {
        return Err(format!("answer has {} bytes of renditions, {want:?} announced", blobs.len()));
    }
    Ok((response, blobs))
}

fn static_code(code: &str) -> &'static str {
    ALL_CODES.iter().copied().find(|c| *c == code).unwrap_or(codes::INTERNAL_ERROR)
}

fn severity_of(s: &str) -> Severity {
    match s {
        "info" => Severity::Info,
        "warning" => Severity::Warning,
        _ => Severity::Danger,
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Danger => "danger",
    }
}

fn from_wire(
    response: Response,
    blobs: Vec<u8>,
    findings: &mut Vec<Finding>,
) -> Result<AttachmentAction, LimitExceeded> {
    for f in &response.findings {
        findings.push(Finding::new(static_code(&f.code), severity_of(&f.severity), &f.part, f.detail.clone()));
    }
    if let Some(l) = response.limit {
        return Err(LimitExceeded::new(static_code(&l.code), l.detail));
    }
    let mut renditions = Vec::new();
    let mut at = 0usize;
    for r in &response.renditions {
        // The lengths were checked against the blobs in `parse_response`.
        let end = at.saturating_add(usize::try_from(r.len).unwrap_or(usize::MAX));
        let bytes = blobs.get(at..end).unwrap_or_default().to_vec();
        at = end;
        let content = match r.kind.as_str() {
            "png" => RenditionContent::Png(bytes),
            _ => RenditionContent::Text(String::from_utf8_lossy(&bytes).into_owned()),
        };
        renditions.push(Rendition { filename: r.filename.clone(), content });
    }
    Ok(match response.action.as_str() {
        "render" => AttachmentAction::Render { renditions, note: response.note, extra: response.extra },
        "remove" => AttachmentAction::Remove { note: response.note, extra: response.extra },
        _ => AttachmentAction::Quarantine { code: static_code(&response.code), detail: response.detail },
    })
}

/// `mugaika render-worker`: one request on stdin, one response on stdout.
pub fn worker_main() -> Result<(), String> {
    let stdin = std::io::stdin();
    let mut input = BufReader::new(stdin.lock());
    let mut magic = String::new();
    input.read_line(&mut magic).map_err(|e| e.to_string())?;
    if magic.trim_end() != REQUEST_MAGIC {
        return Err("not a render request".into());
    }
    let mut json = String::new();
    input.read_line(&mut json).map_err(|e| e.to_string())?;
    let request: Request = serde_json::from_str(&json).map_err(|e| format!("bad request: {e}"))?;
    let mut data = Vec::new();
    (&mut input).take(request.data_len).read_to_end(&mut data).map_err(|e| e.to_string())?;
    if data.len() as u64 != request.data_len {
        return Err("short request".into());
    }
    let (response, blobs) = render_request(&request, &data);
    let mut out = std::io::stdout().lock();
    let json = serde_json::to_string(&response).map_err(|e| e.to_string())?;
    out.write_all(format!("{RESPONSE_MAGIC}\n{json}\n").as_bytes()).map_err(|e| e.to_string())?;
    out.write_all(&blobs).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())
}

/// The in-process renderers on one request (the child's work).
pub fn render_request(request: &Request, data: &[u8]) -> (Response, Vec<u8>) {
    let mut config = request.config.clone();
    config.isolation = Isolation::InProcess;
    let detected = sniff::detect(data, request.filename.as_deref());
    // The 6 MB font is read only when a PDF may be rendered (itself or inside an archive).
    let font = if matches!(detected.kind, Kind::Pdf | Kind::Archive) { load_font(&config.cjk_font) } else { None };
    let renderers = Renderers::new(config, font, &request.limits);
    let attachment = Attachment {
        path: &request.path,
        filename: request.filename.as_deref(),
        declared_type: &request.declared_type,
        detected,
        data,
        sha256: &request.sha256,
    };
    let mut budget = Budget::new(&request.limits, data.len(), None);
    let mut findings = Vec::new();
    let result = renderers.sanitize(&attachment, &mut budget, &mut findings);
    let wire = |f: &Finding| WireFinding {
        code: f.code.to_string(),
        severity: severity_name(f.severity).to_string(),
        part: f.part.clone(),
        detail: f.detail.clone(),
    };
    let mut response = Response { findings: findings.iter().map(wire).collect(), ..Response::default() };
    let mut blobs = Vec::new();
    match result {
        Err(limit) => {
            response.action = "quarantine".into();
            response.limit = Some(WireFinding {
                code: limit.code.to_string(),
                severity: "danger".into(),
                part: request.path.clone(),
                detail: limit.detail,
            });
        }
        Ok(AttachmentAction::Render { renditions, note, extra }) => {
            response.action = "render".into();
            response.note = note;
            response.extra = extra;
            for r in renditions {
                let (kind, bytes) = match r.content {
                    RenditionContent::Png(b) => ("png", b),
                    RenditionContent::Text(t) => ("text", t.into_bytes()),
                };
                response.renditions.push(WireRendition {
                    filename: r.filename,
                    kind: kind.into(),
                    len: bytes.len() as u64,
                });
                blobs.extend_from_slice(&bytes);
            }
        }
        Ok(AttachmentAction::Remove { note, extra }) => {
            response.action = "remove".into();
            response.note = note;
            response.extra = extra;
        }
        Ok(AttachmentAction::Quarantine { code, detail }) => {
            response.action = "quarantine".into();
            response.code = code.to_string();
            response.detail = detail;
        }
    }
    (response, blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_round_trips_through_the_wire_format() {
        let request = Request {
            config: RenderConfig { cjk_font: String::new(), ..RenderConfig::default() },
            limits: Limits::default(),
            path: "1.2".into(),
            filename: Some("メモ.txt".into()),
            declared_type: "text/plain".into(),
            sha256: "00".into(),
            data_len: 0,
        };
        let (response, blobs) = render_request(&request, "こんにちは\r\n".as_bytes());
        let json = serde_json::to_string(&response).unwrap();
        let mut wire = format!("{RESPONSE_MAGIC}\n{json}\n").into_bytes();
        wire.extend_from_slice(&blobs);
        let (back, blobs) = parse_response(&wire).unwrap();
        let mut findings = Vec::new();
        let action = from_wire(back, blobs, &mut findings).unwrap();
        let AttachmentAction::Render { renditions, .. } = action else { panic!("{action:?}") };
        assert_eq!(renditions.len(), 1);
        assert_eq!(renditions[0].filename, "メモ.txt");
        assert_eq!(renditions[0].content, RenditionContent::Text("こんにちは\n".into()));
    }

    #[test]
    fn garbage_answers_are_refused() {
        assert!(parse_response(b"").is_err());
        assert!(parse_response(b"MUGAIKA-RENDERED/1\n{not json}\n").is_err());
        let short = format!(
            "{RESPONSE_MAGIC}\n{}\nab",
            r#"{"action":"render","note":"","extra":[],"code":"","detail":"","findings":[],"renditions":[{"filename":"a.png","kind":"png","len":5}],"limit":null}"#
        );
        assert!(parse_response(short.as_bytes()).unwrap_err().contains("announced"));
    }
}
