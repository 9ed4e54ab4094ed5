//! Telemetry: structured logs, counters and the `/metrics` + `/healthz`
//! endpoint.
//!
//! Counters are plain atomics (no registry): the relay is one process and the
//! set is fixed. `/metrics` writes them in the Prometheus text format;
//! `/healthz` answers `ok` while the relay accepts mail. The endpoint is a
//! deliberately tiny HTTP/1.0 responder on its own listener (GET only, one
//! request per connection, bounded request size), so it adds no dependency
//! and no attack surface worth the name.

use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// `[telemetry]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Listener for `/metrics` and `/healthz`; empty disables it.
    pub listen: String,
    /// Log format on stderr: "text" or "json".
    pub log_format: String,
    /// Default log filter (overridden by the MUGAIKA_LOG environment variable).
    pub log_level: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig { listen: "127.0.0.1:9925".into(), log_format: "text".into(), log_level: "info".into() }
    }
}

/// Upper bounds (seconds) of the sanitise latency histogram buckets.
const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0, 30.0];

/// The relay's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub accepted: AtomicU64,
    pub rejected: AtomicU64,
    pub delivered: AtomicU64,
    pub deferred: AtomicU64,
    pub quarantined: AtomicU64,
    pub bounced: AtomicU64,
    pub sanitise_errors: AtomicU64,
    pub queue_depth: AtomicU64,
    pub backlog: AtomicU64,
    pub connections: AtomicU64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records one sanitisation's duration.
    pub fn observe_sanitise(&self, seconds: f64) {
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let counters: [(&str, &str, &AtomicU64); 7] = [
            ("mugaika_accepted_total", "messages accepted (250 after fsync)", &self.accepted),
            ("mugaika_rejected_total", "messages refused with a 4xx/5xx at end of data", &self.rejected),
            ("mugaika_delivered_total", "messages delivered to every recipient", &self.delivered),
            ("mugaika_deferred_total", "delivery attempts deferred", &self.deferred),
            ("mugaika_quarantined_total", "messages quarantined", &self.quarantined),
            ("mugaika_bounced_total", "messages bounced (permanent failure or expiry)", &self.bounced),
            ("mugaika_sanitise_errors_total", "sanitiser runs that failed (quarantined)", &self.sanitise_errors),
        ];
        for (name, help, value) in counters {
            let _ =
                writeln!(s, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", value.load(Ordering::Relaxed));
        }
        let gauges: [(&str, &str, &AtomicU64); 3] = [
            ("mugaika_queue_depth", "messages in the outbound queue", &self.queue_depth),
            ("mugaika_sanitise_backlog", "accepted messages waiting for the sanitiser", &self.backlog),
            ("mugaika_connections", "open SMTP connections", &self.connections),
        ];
        for (name, help, value) in gauges {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {}", value.load(Ordering::Relaxed));
        }
        let name = "mugaika_sanitise_seconds";
        let _ = writeln!(s, "# HELP {name} time to sanitise one message\n# TYPE {name} histogram");
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(s, "{name}_bucket{{le=\"{bound}\"}} {}", self.latency_buckets[i].load(Ordering::Relaxed));
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(s, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(s, "{name}_sum {}", self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(s, "{name}_count {count}");
        s
    }
}

/// Serves `/metrics` and `/healthz` until the process ends.
pub async fn serve_http(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 2048];
            let mut len = 0;
            // Read the request head (bounded), with a short timeout.
            let read = tokio::time::timeout(std::time::Duration::from_secs(5), async {
                while len < buf.len() {
                    let n = stream.read(&mut buf[len..]).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    len += n;
                    if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") || buf[..len].windows(2).any(|w| w == b"\n\n") {
                        break;
                    }
                }
            })
            .await;
            if read.is_err() {
                return;
            }
            let head = String::from_utf8_lossy(&buf[..len]);
            let path = head.lines().next().and_then(|l| l.strip_prefix("GET ")).and_then(|l| l.split(' ').next());
            let (status, content_type, body) = match path {
                Some("/metrics") => ("200 OK", "text/plain; version=0.0.4", metrics.render()),
                Some("/healthz") => ("200 OK", "text/plain", "ok\n".to_string()),
                Some(_) => ("404 Not Found", "text/plain", "not found\n".to_string()),
                None => ("405 Method Not Allowed", "text/plain", "GET only\n".to_string()),
            };
            let response = format!(
                "HTTP/1.0 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}

/// Installs the global tracing subscriber (stderr, text or JSON).
pub fn init_logging(config: &TelemetryConfig) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MUGAIKA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_level));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if config.log_format == "json" { builder.json().try_init() } else { builder.try_init() };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_has_counters_and_histogram() {
        let m = Metrics::default();
        Metrics::inc(&m.accepted);
        m.observe_sanitise(0.003);
        m.observe_sanitise(2.0);
        let text = m.render();
        assert!(text.contains("mugaika_accepted_total 1\n"));
        assert!(text.contains("mugaika_sanitise_seconds_bucket{le=\"0.005\"} 1\n"));
        assert!(text.contains("mugaika_sanitise_seconds_bucket{le=\"5\"} 2\n"));
        assert!(text.contains("mugaika_sanitise_seconds_count 2\n"));
    }
}
