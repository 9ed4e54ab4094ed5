//! The configuration file (`config/mugaika.toml` is the commented reference).
//!
//! Parsed with serde into [`Config`] (unknown keys are errors, so a typo never
//! silently falls back to a default), then [`Config::validate`] checks
//! everything that serde cannot and reports every problem at once.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use mugaika_sanitizers::Limits;
use mugaika_sanitizers::render::RenderConfig;

use crate::delivery::BounceConfig;
use crate::inbound::server::ServerConfig;
use crate::outbound::OutboundConfig;
use crate::policy::PolicyConfig;
use crate::spool::SpoolConfig;
use crate::telemetry::TelemetryConfig;
use crate::worker::WorkerConfig;

/// The whole configuration. Every section has embedded defaults, so an empty
/// file is a valid configuration (the relay then listens on 127.0.0.1:2525,
/// delivers to 127.0.0.1:2526 and keeps its data in `./mugaika-data`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the spool, the store and the index live.
    pub data_dir: PathBuf,
    /// Days an accepted original is kept (quarantine review, retrieval).
    pub retention_days: u64,
    pub policy: PolicyConfig,
    pub limits: Limits,
    /// Attachment renderers: the per-type policy and their limits.
    pub render: RenderConfig,
    pub server: ServerConfig,
    pub spool: SpoolConfig,
    pub workers: WorkerConfig,
    pub outbound: OutboundConfig,
    pub bounce: BounceConfig,
    pub telemetry: TelemetryConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./mugaika-data"),
            retention_days: 30,
            policy: PolicyConfig::default(),
            limits: Limits::default(),
            render: RenderConfig::default(),
            server: ServerConfig::default(),
            spool: SpoolConfig::default(),
            workers: WorkerConfig::default(),
            outbound: OutboundConfig::default(),
            bounce: BounceConfig::default(),
            telemetry: TelemetryConfig::default(),
        }
    }
}

/// Why a configuration could not be used: each problem on its own line.
#[derive(Debug, thiserror::Error)]
#[error("{}", problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl Config {
    /// Reads, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError { problems: vec![format!("cannot read {}: {e}", path.display())] })?;
        Config::parse(&text).map_err(|mut e| {
            for p in &mut e.problems {
                *p = format!("{}: {p}", path.display());
            }
            e
        })
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text)
            .map_err(|e| ConfigError { problems: vec![e.message().to_string() + &location(text, e.span())] })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot; collects every problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = self.policy.problems();
        problems.extend(self.server.problems());
        if self.server.max_message_bytes > self.limits.max_message_bytes {
            problems.push(
                "server.max_message_bytes exceeds limits.max_message_bytes: accepted mail would be quarantined".into(),
            );
        }
        if self.retention_days == 0 {
            problems.push("retention_days must be at least 1".into());
        }
        problems.extend(self.outbound.validate());
        problems.extend(self.render.validate());
        if !matches!(self.telemetry.log_format.as_str(), "text" | "json") {
            problems.push(format!("telemetry.log_format {:?} is not \"text\" or \"json\"", self.telemetry.log_format));
        }
        let l = &self.limits;
        for (name, value) in [
            ("limits.max_message_bytes", l.max_message_bytes),
            ("limits.max_depth", l.max_depth),
            ("limits.max_parts", l.max_parts),
            ("limits.max_header_bytes", l.max_header_bytes),
            ("limits.max_decoded_bytes", l.max_decoded_bytes),
            ("limits.max_text_bytes", l.max_text_bytes),
        ] {
            if value == 0 {
                problems.push(format!("{name} must be greater than 0"));
            }
        }
        if l.max_depth > 100 {
            problems.push("limits.max_depth must be at most 100".to_string());
        }
        if l.work_per_byte == 0 {
            problems.push("limits.work_per_byte must be greater than 0".to_string());
        }
        if problems.is_empty() { Ok(()) } else { Err(ConfigError { problems }) }
    }
}

fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let line = text.get(..span.start).map(|s| s.matches('\n').count() + 1).unwrap_or(0);
            format!(" (line {line})")
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_uses_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.server.listen, "127.0.0.1:2525");
        assert_eq!(c.outbound.next_hops, vec!["127.0.0.1:2526".to_string()]);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_all_reported() {
        let e = Config::parse("[limits]\nmax_dept = 3\n").unwrap_err();
        assert!(e.problems[0].contains("max_dept"), "{e}");
        let e = Config::parse("[limits]\nmax_depth = 0\nmax_parts = 0\n").unwrap_err();
        assert_eq!(e.problems.len(), 2, "{e}");
    }
}
