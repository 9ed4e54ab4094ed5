//! The harness of the relay tests with real peers (`tests/relay.rs`,
//! `tests/relay_crash.rs`).
//!
//! * [`Sink`]: the LGWAN-side MTA, `tests/support/smtp_sink.py` (Python
//!   aiosmtpd) recording each message to a folder; can answer 451/550 for
//!   chosen recipients, and be stopped and started again on the same port.
//! * [`send_jobs`] / `smtp_send.py stream`: the Internet-side sender
//!   (Python smtplib), printing each reply so a test knows what got 250.
//! * [`Relay`]: `mugaika serve` (the binary cargo built for the tests) with a
//!   config file written into a temp dir; its stderr (JSON logs) is read by a
//!   thread and kept with the instant each line arrived.
//! * [`Smtp`]: a raw TCP SMTP client for byte-exact protocol tests.
//!
//! Every process is killed (SIGKILL) and waited for by a `Drop` guard; temp
//! dirs are removed at the end, kept (and their path printed) when the test
//! failed. Python and aiosmtpd are required: when they are missing the test
//! fails with the command that installs them, never skips.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

pub const MUGAIKA: &str = env!("CARGO_BIN_EXE_mugaika");
pub const SUPPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support");
pub const RELAY_DOMAIN: &str = "example.lg.jp";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------
// Temp dirs, ports, waiting

/// A fresh directory under the system temp dir; removed on drop unless the
/// test is failing (then its path is printed) or MUGAIKA_KEEP_TEST_DIRS is set.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "mugaika-{name}-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("MUGAIKA_KEEP_TEST_DIRS").is_some() {
            eprintln!("(test files kept in {})", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A port that was free a moment ago (bind 0, read it, close).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Polls `f` every 50 ms until it returns Some, or panics after `timeout`
/// with `what` and the output of `context()`.
pub fn wait_for<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>, context: impl Fn() -> String) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}\n{}", context());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for a child with a deadline; kills it when over.
pub fn wait_child(child: &mut Child, timeout: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not finish within {timeout:?}");
            }
        }
    }
}

/// A child process killed (SIGKILL) and reaped on drop.
pub struct Guard(pub Option<Child>);

impl Guard {
    pub fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Python 3 with aiosmtpd, or a failure that says how to get it.
pub fn require_python() {
    let out = Command::new("python3").args(["-c", "import aiosmtpd, smtplib, ssl"]).output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "the relay tests need Python's aiosmtpd (the LGWAN-side test MTA): install it with \
             `python3 -m pip install aiosmtpd` (or Debian's python3-aiosmtpd).\n{}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("the relay tests need python3 on PATH (with aiosmtpd): {e}"),
    }
}

// ---------------------------------------------------------------------------
// The sink (LGWAN-side MTA)

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct SinkMsg {
    pub name: String,
    /// The reverse path without brackets; "" for the null sender.
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub data: Vec<u8>,
    pub time: f64,
}

impl SinkMsg {
    /// The first value of a header field (unfolded, trimmed).
    pub fn header(&self, name: &str) -> Option<String> {
        header_value(&self.data, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }
}

/// One RCPT or DATA seen by the sink.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct SinkEvent {
    pub t: f64,
    pub event: String,
    #[serde(default)]
    pub addr: Option<String>,
    #[serde(default)]
    pub code: Option<u16>,
}

pub struct Sink {
    pub dir: PathBuf,
    pub port: u16,
    tempfail: Vec<String>,
    permfail: Vec<String>,
    guard: Guard,
}

impl Sink {
    pub fn start(dir: &Path) -> Sink {
        Sink::start_with(dir, None, &[], &[])
    }

    /// Starts the sink on `port` (None: a free one) recording into `dir`.
    pub fn start_with(dir: &Path, port: Option<u16>, tempfail: &[&str], permfail: &[&str]) -> Sink {
        require_python();
        std::fs::create_dir_all(dir).expect("sink dir");
        let mut sink = Sink {
            dir: dir.to_path_buf(),
            port: port.unwrap_or(0),
            tempfail: tempfail.iter().map(|s| s.to_string()).collect(),
            permfail: permfail.iter().map(|s| s.to_string()).collect(),
            guard: Guard(None),
        };
        sink.spawn();
        sink
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("python3");
        cmd.arg(format!("{SUPPORT}/smtp_sink.py")).arg("--dir").arg(&self.dir).arg("--port").arg(self.port.to_string());
        for a in &self.tempfail {
            cmd.args(["--tempfail", a]);
        }
        for a in &self.permfail {
            cmd.args(["--permfail", a]);
        }
        // The sink's own tracebacks go to a file beside its messages.
        let err = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("sink.stderr"))
            .expect("sink stderr file");
        let mut child =
            cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(err).spawn().expect("start python3 smtp_sink.py");
        let stdout = child.stdout.take().expect("sink stdout");
        self.guard = Guard(Some(child));
        let line = read_line_timeout(stdout, Duration::from_secs(20));
        match line.as_deref().and_then(|l| l.strip_prefix("READY ")) {
            Some(p) => self.port = p.trim().parse().expect("sink port"),
            None => {
                self.guard.kill();
                let err = std::fs::read_to_string(self.dir.join("sink.stderr")).unwrap_or_default();
                if line.as_deref().is_some_and(|l| l.contains("aiosmtpd missing")) {
                    panic!("the relay tests need Python's aiosmtpd: `python3 -m pip install aiosmtpd`");
                }
                panic!("the test sink did not start (first line {line:?}; port {}):\n{err}", self.port);
            }
        }
    }

    /// Next hop down: the sink process is killed (connections refused).
    pub fn stop(&mut self) {
        self.guard.kill();
    }

    /// Starts again on the same port and folder, optionally with other failure lists.
    pub fn restart_with(&mut self, tempfail: &[&str], permfail: &[&str]) {
        self.guard.kill();
        self.tempfail = tempfail.iter().map(|s| s.to_string()).collect();
        self.permfail = permfail.iter().map(|s| s.to_string()).collect();
        // The port was ours a moment ago; retry briefly if the bind races.
        let mut tries = 0;
        loop {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.spawn()));
            match r {
                Ok(()) => return,
                Err(e) if tries >= 20 => std::panic::resume_unwind(e),
                Err(_) => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Every message recorded so far, oldest first.
    pub fn messages(&self) -> Vec<SinkMsg> {
        let dir = self.dir.join("msgs");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "json")).collect())
            .unwrap_or_default();
        names.sort();
        let mut out = Vec::new();
        for json in names {
            let Ok(text) = std::fs::read_to_string(&json) else { continue };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
            let eml = json.with_extension("eml");
            let data = std::fs::read(&eml).unwrap_or_default();
            out.push(SinkMsg {
                name: eml.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                // aiosmtpd keeps the null sender as "<>": "" here.
                mail_from: v["mail_from"]
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string(),
                rcpt_tos: v["rcpt_tos"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
                data,
                time: v["time"].as_f64().unwrap_or(0.0),
            });
        }
        out
    }

    pub fn count(&self) -> usize {
        std::fs::read_dir(self.dir.join("msgs"))
            .map(|rd| rd.flatten().filter(|e| e.path().extension().is_some_and(|x| x == "json")).count())
            .unwrap_or(0)
    }

    pub fn events(&self) -> Vec<SinkEvent> {
        std::fs::read_to_string(self.dir.join("events.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Messages whose data contains `needle`.
    pub fn containing(&self, needle: &str) -> Vec<SinkMsg> {
        self.messages().into_iter().filter(|m| contains(&m.data, needle.as_bytes())).collect()
    }
}

/// The first line a child prints, or None after `timeout` / at EOF.
fn read_line_timeout(stdout: ChildStdout, timeout: Duration) -> Option<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        let _ = r.read_line(&mut line);
        let _ = tx.send(line);
        // Keep draining so the child never blocks on a full pipe.
        let mut sink = Vec::new();
        let _ = r.read_to_end(&mut sink);
    });
    rx.recv_timeout(timeout).ok().filter(|l| !l.is_empty()).map(|l| l.trim_end().to_string())
}

// ---------------------------------------------------------------------------
// The relay

/// The config file of a test relay: a TOML table the test can adjust
/// before [`Relay::start`].
#[derive(Clone)]
pub struct RelayConfig {
    pub table: toml::Table,
}

impl RelayConfig {
    /// Listen/metrics on free ports, the sink as next hop, the short retry
    /// schedule (1 s, cap 2 s), JSON logs at info, a 1 MiB space reserve.
    pub fn new(data_dir: &Path, next_hop: &str) -> RelayConfig {
        let text = format!(
            r#"
data_dir = {data_dir:?}
[server]
listen = "127.0.0.1:{listen}"
hostname = "relay.test"
relay_domains = ["{RELAY_DOMAIN}"]
idle_timeout_secs = 30
[spool]
reserve_bytes = 1048576
[outbound]
next_hops = ["{next_hop}"]
first_retry_secs = 1
max_retry_secs = 2
[telemetry]
listen = "127.0.0.1:{metrics}"
log_format = "json"
log_level = "info"
"#,
            data_dir = data_dir.display().to_string(),
            listen = free_port(),
            metrics = free_port(),
        );
        RelayConfig { table: toml::from_str(&text).expect("base config") }
    }

    /// Sets `section.key` (or a top-level `key`).
    pub fn set(&mut self, path: &str, value: impl Into<toml::Value>) -> &mut Self {
        let (section, key) = match path.split_once('.') {
            Some((s, k)) => (Some(s), k),
            None => (None, path),
        };
        let table = match section {
            Some(s) => self
                .table
                .entry(s.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()))
                .as_table_mut()
                .expect("section is a table"),
            None => &mut self.table,
        };
        table.insert(key.to_string(), value.into());
        self
    }

    pub fn get_str(&self, section: &str, key: &str) -> String {
        self.table[section][key].as_str().expect("string setting").to_string()
    }

    pub fn port_of(&self, section: &str, key: &str) -> u16 {
        let s = self.get_str(section, key);
        s.rsplit(':').next().and_then(|p| p.parse().ok()).expect("ADDR:PORT")
    }

    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(self.table["data_dir"].as_str().expect("data_dir"))
    }
}

/// One relay log line and the instant the harness read it.
#[derive(Debug, Clone)]
pub struct LogLine {
    pub at: Instant,
    pub text: String,
}

impl LogLine {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.text).ok()
    }

    /// `fields.message` of a JSON log line.
    pub fn message(&self) -> Option<String> {
        self.json().and_then(|v| v["fields"]["message"].as_str().map(str::to_string))
    }

    pub fn field(&self, name: &str) -> Option<serde_json::Value> {
        self.json().map(|v| v["fields"][name].clone()).filter(|v| !v.is_null())
    }
}

/// A running `mugaika serve`.
pub struct Relay {
    pub config: RelayConfig,
    pub config_path: PathBuf,
    pub smtp_port: u16,
    pub metrics_port: u16,
    pub log: Arc<Mutex<Vec<LogLine>>>,
    log_file: PathBuf,
    guard: Guard,
    pub starts: usize,
}

impl Relay {
    /// Writes the config (and later the relay's log) into `work` and starts
    /// the relay; returns once it answers SMTP.
    pub fn start(config: RelayConfig, work: &Path) -> Relay {
        static N: AtomicU64 = AtomicU64::new(0);
        let config_path = work.join(format!("relay-{}.toml", N.fetch_add(1, Ordering::SeqCst)));
        std::fs::write(&config_path, toml::to_string(&config.table).expect("serialise config")).expect("write config");
        let mut relay = Relay {
            smtp_port: config.port_of("server", "listen"),
            metrics_port: config.port_of("telemetry", "listen"),
            log_file: config_path.with_extension("log"),
            config,
            config_path,
            log: Arc::default(),
            guard: Guard(None),
            starts: 0,
        };
        relay.spawn_and_wait();
        relay
    }

    fn spawn_and_wait(&mut self) {
        let mut child = Command::new(MUGAIKA)
            .arg("serve")
            .arg("--config")
            .arg(&self.config_path)
            .env_remove("MUGAIKA_LOG")
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mugaika serve");
        let stderr = child.stderr.take().expect("relay stderr");
        self.starts += 1;
        let log = self.log.clone();
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).open(&self.log_file).expect("relay log file");
        let _ = writeln!(file, "=== start {}", self.starts);
        std::thread::spawn(move || {
            let mut r = BufReader::new(stderr);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let text = String::from_utf8_lossy(&buf).trim_end().to_string();
                        let _ = writeln!(file, "{text}");
                        if let Ok(mut l) = log.lock() {
                            l.push(LogLine { at: Instant::now(), text });
                        }
                    }
                }
            }
        });
        self.guard = Guard(Some(child));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(Ok(Some(status))) = self.guard.0.as_mut().map(|c| c.try_wait()) {
                std::thread::sleep(Duration::from_millis(100));
                panic!("mugaika serve exited at start ({status}):\n{}", self.log_tail(40));
            }
            if let Ok(mut s) =
                TcpStream::connect_timeout(&([127, 0, 0, 1], self.smtp_port).into(), Duration::from_secs(1))
            {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut b = [0u8; 3];
                if s.read_exact(&mut b).is_ok() && b.iter().all(u8::is_ascii_digit) {
                    let _ = s.write_all(b"QUIT\r\n");
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!("mugaika serve did not answer on port {} within 60 s:\n{}", self.smtp_port, self.log_tail(40));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// SIGKILL, no warning; the data dir stays as the crash left it.
    pub fn kill(&mut self) {
        self.guard.kill();
    }

    /// Sends SIGTERM and waits for the process to exit (at most `timeout`);
    /// returns its exit status.
    pub fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let mut child = self.guard.0.take().expect("relay running");
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        wait_child(&mut child, timeout, "relay exit after SIGTERM")
    }

    /// Starts again on the same config (and ports, and data dir).
    pub fn restart(&mut self) {
        self.guard.kill();
        self.spawn_and_wait();
    }

    pub fn pid(&self) -> Option<u32> {
        self.guard.0.as_ref().map(|c| c.id())
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.guard.0.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir()
    }

    pub fn log_lines(&self) -> Vec<LogLine> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn log_tail(&self, n: usize) -> String {
        let lines = self.log_lines();
        let start = lines.len().saturating_sub(n);
        lines[start..].iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n")
    }

    /// Log lines whose message is `message`.
    pub fn log_events(&self, message: &str) -> Vec<LogLine> {
        self.log_lines().into_iter().filter(|l| l.message().as_deref() == Some(message)).collect()
    }

    /// GET `path` on the telemetry listener: (status line, body).
    pub fn http_get(&self, path: &str) -> (String, String) {
        http_get(self.metrics_port, path)
    }

    /// The `/metrics` samples (name with labels → value).
    pub fn metrics(&self) -> BTreeMap<String, f64> {
        let (status, body) = self.http_get("/metrics");
        assert!(status.contains("200"), "/metrics answered {status}");
        parse_metrics(&body)
    }

    pub fn metric(&self, name: &str) -> f64 {
        *self.metrics().get(name).unwrap_or_else(|| panic!("metric {name} missing from /metrics"))
    }

    /// `mugaika quarantine list` on this relay's config and data dir.
    pub fn quarantine_list(&self) -> Vec<QuarantineRow> {
        let out = Command::new(MUGAIKA)
            .args(["quarantine", "list", "--config"])
            .arg(&self.config_path)
            .arg("--data-dir")
            .arg(self.data_dir())
            .output()
            .expect("run mugaika quarantine list");
        assert!(
            out.status.success(),
            "quarantine list failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let cols: Vec<&str> = l.split('\t').collect();
                QuarantineRow {
                    line: l.to_string(),
                    retrieval_id: cols.first().unwrap_or(&"").to_string(),
                    sender: cols.get(2).unwrap_or(&"").to_string(),
                    subject: cols.get(3).unwrap_or(&"").to_string(),
                    reasons: cols
                        .get(4)
                        .unwrap_or(&"")
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                }
            })
            .collect()
    }

    /// Files in a spool directory (`incoming`, `outbound`, `store`).
    pub fn spool_files(&self, dir: &str) -> Vec<PathBuf> {
        std::fs::read_dir(self.data_dir().join(dir))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }

    /// Nothing accepted-but-unsanitised and nothing queued.
    pub fn spool_idle(&self) -> bool {
        self.spool_files("incoming").is_empty() && self.spool_files("outbound").is_empty()
    }

    pub fn smtp(&self) -> Smtp {
        Smtp::connect(self.smtp_port)
    }
}

#[derive(Debug, Clone)]
pub struct QuarantineRow {
    pub line: String,
    pub retrieval_id: String,
    pub sender: String,
    pub subject: String,
    pub reasons: Vec<String>,
}

pub fn http_get(port: u16, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the telemetry listener");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes()).expect("send request");
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.lines().next().unwrap_or("").to_string(), body.to_string())
}

pub fn parse_metrics(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The spool as the tests read it

/// The envelope line of a message file (`store/<rid>.eml`, `incoming/<qid>.msg`)
/// and the raw message after it.
pub fn read_message_file(path: &Path) -> (serde_json::Value, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap_or_else(|| panic!("{}: no envelope line", path.display()));
    let head: serde_json::Value =
        serde_json::from_slice(&bytes[..nl]).unwrap_or_else(|e| panic!("{}: envelope line: {e}", path.display()));
    let raw = bytes[nl + 1..].to_vec();
    if let Some(len) = head["raw_len"].as_u64() {
        assert_eq!(raw.len() as u64, len, "{}: raw_len does not match", path.display());
    }
    (head, raw)
}

/// queue id → retrieval id, from the envelope lines of `store/*.eml`.
pub fn store_index(data_dir: &Path) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    let Ok(rd) = std::fs::read_dir(data_dir.join("store")) else { return map };
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "eml") {
            continue;
        }
        let Ok(f) = std::fs::File::open(&p) else { continue };
        let mut line = String::new();
        if BufReader::new(f).read_line(&mut line).is_err() {
            continue;
        }
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && let (Some(q), Some(r)) = (v["envelope"]["queue_id"].as_str(), v["envelope"]["retrieval_id"].as_str())
        {
            map.insert(q.to_string(), r.to_string());
        }
    }
    map
}

// ---------------------------------------------------------------------------
// The sender

/// One message for `smtp_send.py jobs`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Job {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    pub normalize: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_options: Option<Vec<String>>,
}

impl Job {
    pub fn file(id: &str, path: &Path, from: &str, to: &[&str]) -> Job {
        Job {
            id: id.into(),
            file: Some(path.display().to_string()),
            hex: None,
            from: from.into(),
            to: to.iter().map(|s| s.to_string()).collect(),
            normalize: true,
            mail_options: None,
        }
    }

    pub fn data(id: &str, data: &[u8], from: &str, to: &[&str]) -> Job {
        Job {
            id: id.into(),
            file: None,
            hex: Some(data.iter().map(|b| format!("{b:02x}")).collect()),
            from: from.into(),
            to: to.iter().map(|s| s.to_string()).collect(),
            normalize: true,
            mail_options: None,
        }
    }
}

/// What the sender saw for one job.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Sent {
    pub id: String,
    pub mail: Option<(u16, String)>,
    #[serde(default)]
    pub rcpt: Vec<(u16, String)>,
    pub data: Option<(u16, String)>,
    pub error: Option<String>,
    pub tls: Option<String>,
}

impl Sent {
    /// The reply code to the end of DATA (0 when there was none).
    pub fn data_code(&self) -> u16 {
        self.data.as_ref().map(|d| d.0).unwrap_or(0)
    }

    /// The queue id of a 250 (`250 2.0.0 Ok: queued as <qid>`).
    pub fn queue_id(&self) -> Option<String> {
        match &self.data {
            Some((250, text)) => text.split_whitespace().last().map(str::to_string),
            _ => None,
        }
    }
}

/// Sends the jobs over SMTP with Python's smtplib; returns one result per job.
pub fn send_jobs(dir: &Path, port: u16, starttls: bool, jobs: &[Job]) -> Vec<Sent> {
    require_python();
    static N: AtomicU64 = AtomicU64::new(0);
    let path = dir.join(format!("jobs-{}.json", N.fetch_add(1, Ordering::SeqCst)));
    let spec = serde_json::json!({"host": "127.0.0.1", "port": port, "starttls": starttls, "helo": "sender.test", "messages": jobs});
    std::fs::write(&path, serde_json::to_vec(&spec).expect("jobs json")).expect("write jobs");
    let child = Command::new("python3")
        .arg(format!("{SUPPORT}/smtp_send.py"))
        .arg("jobs")
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python3 smtp_send.py");
    let mut guard = Guard(Some(child));
    let timeout = Duration::from_secs(60 + jobs.len() as u64);
    let mut stdout = guard.0.as_mut().and_then(|c| c.stdout.take()).expect("stdout");
    let mut stderr = guard.0.as_mut().and_then(|c| c.stderr.take()).expect("stderr");
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let status = wait_child(guard.0.as_mut().expect("child"), timeout, "smtp_send.py jobs");
    let out = out_thread.join().unwrap_or_default();
    let err = err_thread.join().unwrap_or_default();
    assert!(status.success(), "smtp_send.py failed ({status}):\n{err}");
    let results: Vec<Sent> =
        out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("sender output {l:?}: {e}"))).collect();
    assert_eq!(results.len(), jobs.len(), "the sender reported {} of {} messages:\n{err}", results.len(), jobs.len());
    results
}

/// A plain test message: From/To/Subject/Message-ID and a body line.
pub fn simple_message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.com>\r\nTo: <user@{RELAY_DOMAIN}>\r\nSubject: {subject}\r\n\
         Message-ID: <{}@sender.test>\r\nDate: Mon, 1 Jan 2024 09:00:00 +0900\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\r\n{body}\r\n",
        subject.replace(' ', "-")
    )
    .into_bytes()
}

// ---------------------------------------------------------------------------
// A raw SMTP client

/// A byte-exact SMTP client over TCP (for protocol tests).
pub struct Smtp {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    pub greeting: (u16, String),
}

impl Smtp {
    pub fn connect(port: u16) -> Smtp {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the relay");
        stream.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut s = Smtp { stream, reader, greeting: (0, String::new()) };
        s.greeting = s.reply();
        s
    }

    /// Reads one (possibly multi-line) reply: (code, all lines joined). Code 0: connection closed.
    pub fn reply(&mut self) -> (u16, String) {
        let mut text = String::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => return (0, text),
                Ok(_) => {}
            }
            text.push_str(&line);
            let bytes = line.as_bytes();
            if bytes.len() < 4 || bytes[3] != b'-' {
                let code = line.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0);
                return (code, text);
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the relay");
    }

    /// Sends one command line (CRLF added) and reads the reply.
    pub fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(format!("{line}\r\n").as_bytes());
        self.reply()
    }

    /// Whether the peer closed the connection (EOF within the timeout).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.reader.read(&mut b), Ok(0))
    }
}

// ---------------------------------------------------------------------------
// Message helpers

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The header section (up to and excluding the empty line) and the body.
pub fn split_message(data: &[u8]) -> (&[u8], &[u8]) {
    if let Some(p) = data.windows(4).position(|w| w == b"\r\n\r\n") {
        return (&data[..p + 2], &data[p + 4..]);
    }
    if let Some(p) = data.windows(2).position(|w| w == b"\n\n") {
        return (&data[..p + 1], &data[p + 2..]);
    }
    (data, &[])
}

/// The header fields, each with its continuation lines (raw bytes, line ends kept).
pub fn header_fields(head: &[u8]) -> Vec<&[u8]> {
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    for line in head.split_inclusive(|&b| b == b'\n') {
        let cont = matches!(line.first(), Some(b' ') | Some(b'\t'));
        if !cont {
            if let Some(s) = start {
                fields.push(&head[s..pos]);
            }
            start = Some(pos);
        }
        pos += line.len();
    }
    if let Some(s) = start {
        fields.push(&head[s..pos]);
    }
    fields
}

fn field_name(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == b':').unwrap_or(0);
    String::from_utf8_lossy(&field[..end]).trim().to_ascii_lowercase()
}

pub fn header_value(data: &[u8], name: &str) -> Option<String> {
    let (head, _) = split_message(data);
    header_fields(head).into_iter().find(|f| field_name(f) == name.to_ascii_lowercase()).map(|f| {
        let colon = f.iter().position(|&b| b == b':').unwrap_or(0);
        String::from_utf8_lossy(&f[colon + 1..]).split_whitespace().collect::<Vec<_>>().join(" ")
    })
}

/// The message without its trace fields (Received, Return-Path,
/// Delivered-To, X-Peer, X-MailFrom, X-RcptTo): what a hop may add.
pub fn strip_trace(data: &[u8]) -> Vec<u8> {
    const TRACE: [&str; 6] = ["received", "return-path", "delivered-to", "x-peer", "x-mailfrom", "x-rcptto"];
    let (head, body) = split_message(data);
    let sep: &[u8] =
        if head.len() + 2 <= data.len() && data[head.len()..].starts_with(b"\r\n") { b"\r\n" } else { b"\n" };
    let mut out = Vec::with_capacity(data.len());
    for f in header_fields(head) {
        if !TRACE.contains(&field_name(f).as_str()) {
            out.extend_from_slice(f);
        }
    }
    if head.len() < data.len() {
        out.extend_from_slice(sep);
        out.extend_from_slice(body);
    }
    out
}

/// Where two byte strings first differ, as a readable excerpt of each.
pub fn first_difference(a: &[u8], b: &[u8]) -> String {
    let i = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let from = i.saturating_sub(80);
    let excerpt = |s: &[u8]| String::from_utf8_lossy(&s[from.min(s.len())..(i + 80).min(s.len())]).into_owned();
    format!(
        "lengths {} vs {}, first difference at byte {i}:\n  delivered: {:?}\n  expected:  {:?}",
        a.len(),
        b.len(),
        excerpt(a),
        excerpt(b)
    )
}

/// `mugaika sanitize --config CFG` on `raw`: (exit code, stdout).
pub fn run_sanitize(config: &Path, raw: &[u8], scratch: &Path) -> (i32, Vec<u8>) {
    static N: AtomicU64 = AtomicU64::new(0);
    let input = scratch.join(format!("sanitize-input-{}.eml", N.fetch_add(1, Ordering::SeqCst)));
    std::fs::write(&input, raw).expect("write sanitize input");
    let out = Command::new(MUGAIKA)
        .arg("sanitize")
        .arg("--config")
        .arg(config)
        .arg(&input)
        .output()
        .expect("run mugaika sanitize");
    let _ = std::fs::remove_file(&input);
    (out.status.code().unwrap_or(-1), out.stdout)
}

/// A tiny deterministic PRNG (xorshift64*), so a failing run can be replayed by its seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn from_env_or_clock(var: &str) -> Rng {
        let seed = std::env::var(var).ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1) | 1
        });
        eprintln!("{var}={seed}");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}
