//! STUB (replaced by the verify helper's module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation { pub kind: &'static str, pub detail: String }
#[derive(Default)]
pub struct VerifyConfig;
pub fn verify_output(_output: &[u8], _config: &VerifyConfig) -> Vec<Violation> { vec![] }
pub fn output_text(output: &[u8]) -> Option<String> { Some(String::from_utf8_lossy(output).into_owned()) }
