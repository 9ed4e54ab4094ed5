//! The policy: what a report means for the message, deliver or quarantine.
//!
//! The policy never looks at bytes, only at the report's findings (and, in the
//! relay, the envelope). Each finding's severity, as judged by the sanitiser,
//! is compared with `quarantine_at`; per-code overrides (exact codes such as
//! `"mime.missing_close_boundary"` or families such as `"html.*"`) say
//! `"quarantine"` or `"record"` instead. A run without output is quarantined
//! whatever the policy says: the pipeline could not vouch for any rendition.

use std::collections::BTreeMap;

use serde::Deserialize;

use mugaika_sanitizers::report::codes;
use mugaika_sanitizers::{Report, Severity, Verdict};

/// What to do with a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingAction {
    Quarantine,
    Record,
}

/// The `[policy]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Findings of this severity or above quarantine the message.
    pub quarantine_at: SeverityName,
    /// Per-code overrides: code or `family.*` → action.
    pub findings: BTreeMap<String, FindingAction>,
}

/// Severity as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeverityName {
    Info,
    Warning,
    Danger,
}

impl From<SeverityName> for Severity {
    fn from(s: SeverityName) -> Severity {
        match s {
            SeverityName::Info => Severity::Info,
            SeverityName::Warning => Severity::Warning,
            SeverityName::Danger => Severity::Danger,
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig { quarantine_at: SeverityName::Danger, findings: BTreeMap::new() }
    }
}

/// Codes whose quarantine cannot be overridden: the pipeline produced no
/// output it can vouch for.
const ALWAYS_QUARANTINE: &[&str] = &["limit.", "internal.", codes::MIME_UNPARSABLE, codes::MIME_EMPTY_MESSAGE];

impl PolicyConfig {
    /// Problems in the overrides: unknown codes or families.
    pub fn problems(&self) -> Vec<String> {
        let known = known_codes();
        let mut problems = Vec::new();
        for key in self.findings.keys() {
            let ok = match key.strip_suffix(".*") {
                Some(family) => known.iter().any(|c| c.split('.').next() == Some(family)),
                None => known.contains(&key.as_str()),
            };
            if !ok {
                problems.push(format!("policy.findings: unknown finding code {key:?}"));
            }
        }
        problems
    }

    fn action_for(&self, code: &str, severity: Severity) -> FindingAction {
        if ALWAYS_QUARANTINE.iter().any(|p| code.starts_with(p)) {
            return FindingAction::Quarantine;
        }
        if let Some(a) = self.findings.get(code) {
            return *a;
        }
        let family = code.split('.').next().unwrap_or("");
        if let Some(a) = self.findings.get(&format!("{family}.*")) {
            return *a;
        }
        if severity >= Severity::from(self.quarantine_at) { FindingAction::Quarantine } else { FindingAction::Record }
    }

    /// Decides: the verdict and the codes that caused a quarantine.
    pub fn decide(&self, report: &Report, has_output: bool) -> (Verdict, Vec<String>) {
        let mut reasons: Vec<String> = Vec::new();
        for f in &report.findings {
            if self.action_for(f.code, f.severity) == FindingAction::Quarantine && !reasons.iter().any(|r| r == f.code)
            {
                reasons.push(f.code.to_string());
            }
        }
        if !has_output && reasons.is_empty() {
            reasons.push(codes::INTERNAL_ERROR.to_string());
        }
        if reasons.is_empty() { (Verdict::Deliver, reasons) } else { (Verdict::Quarantine, reasons) }
    }
}

impl mugaika_sanitizers::Decide for PolicyConfig {
    fn decide(&self, report: &Report, has_output: bool) -> (Verdict, Vec<String>) {
        PolicyConfig::decide(self, report, has_output)
    }
}

/// Every code the sanitiser can emit (for validating overrides).
pub fn known_codes() -> Vec<&'static str> {
    mugaika_sanitizers::report::ALL_CODES.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mugaika_sanitizers::Pipeline;

    fn report_with(code: &'static str, severity: Severity) -> Report {
        let mut r = Pipeline::default().run(b"From: a@example.jp\r\n\r\nhi\r\n").report;
        r.findings.push(mugaika_sanitizers::Finding::new(code, severity, "1", "test"));
        r
    }

    #[test]
    fn danger_quarantines_by_default_and_overrides_apply() {
        let r = report_with(codes::MIME_BOUNDARY_IN_BODY, Severity::Danger);
        let p = PolicyConfig::default();
        assert_eq!(p.decide(&r, true).0, Verdict::Quarantine);
        let mut p = PolicyConfig::default();
        p.findings.insert("mime.*".into(), FindingAction::Record);
        assert_eq!(p.decide(&r, true).0, Verdict::Deliver);
    }

    #[test]
    fn limits_and_missing_output_always_quarantine() {
        let r = report_with(codes::LIMIT_DEPTH, Severity::Danger);
        let mut p = PolicyConfig::default();
        p.findings.insert("limit.*".into(), FindingAction::Record);
        assert_eq!(p.decide(&r, true).0, Verdict::Quarantine);
        let r = report_with(codes::HTML_SCRIPT, Severity::Warning);
        assert_eq!(PolicyConfig::default().decide(&r, true).0, Verdict::Deliver);
        assert_eq!(PolicyConfig::default().decide(&r, false).0, Verdict::Quarantine);
    }

    #[test]
    fn warning_threshold_and_unknown_codes() {
        let r = report_with(codes::HTML_SCRIPT, Severity::Warning);
        let p = PolicyConfig { quarantine_at: SeverityName::Warning, ..PolicyConfig::default() };
        assert_eq!(p.decide(&r, true).1, vec!["html.script".to_string()]);
        let mut p = PolicyConfig::default();
        p.findings.insert("html.scirpt".into(), FindingAction::Record);
        assert_eq!(p.problems().len(), 1);
    }
}
