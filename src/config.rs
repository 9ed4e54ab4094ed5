//! The configuration file (`config/mugaika.toml` is the commented reference).
//!
//! Parsed with serde into [`Config`] (unknown keys are errors, so a typo never
//! silently falls back to a default), then [`Config::validate`] checks
//! everything that serde cannot and reports every problem at once.

use std::path::Path;

use serde::Deserialize;

use mugaika_sanitizers::Limits;

use crate::policy::PolicyConfig;

/// The whole configuration. Every section has embedded defaults, so an empty
/// file is a valid configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub policy: PolicyConfig,
    pub limits: Limits,
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
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            problems: vec![format!("cannot read {}: {e}", path.display())],
        })?;
        Config::parse(&text).map_err(|mut e| {
            for p in &mut e.problems {
                *p = format!("{}: {p}", path.display());
            }
            e
        })
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError {
            problems: vec![e.message().to_string() + &location(text, e.span())],
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot; collects every problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = self.policy.problems();
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
    }

    #[test]
    fn unknown_keys_and_bad_values_are_all_reported() {
        let e = Config::parse("[limits]\nmax_dept = 3\n").unwrap_err();
        assert!(e.problems[0].contains("max_dept"), "{e}");
        let e = Config::parse("[limits]\nmax_depth = 0\nmax_parts = 0\n").unwrap_err();
        assert_eq!(e.problems.len(), 2, "{e}");
    }
}
