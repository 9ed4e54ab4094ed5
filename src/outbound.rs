//! STUB (replaced by the outbound helper's module).
use serde::Deserialize;
use crate::spool::RcptResult;
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundConfig { pub next_hops: Vec<String>, pub first_retry_secs: u64, pub max_retry_secs: u64, pub lifetime_secs: u64 }
impl Default for OutboundConfig { fn default() -> Self { OutboundConfig { next_hops: vec!["127.0.0.1:2526".into()], first_retry_secs: 60, max_retry_secs: 900, lifetime_secs: 5 * 86400 } } }
pub struct Deliverer;
impl Deliverer {
    pub fn new(_c: &OutboundConfig) -> Self { Deliverer }
    pub async fn deliver(&self, _from: &str, rcpts: &[String], _body: &[u8], _qid: &str) -> Vec<(String, RcptResult)> { rcpts.iter().map(|r| (r.clone(), RcptResult::Deferred { reply: "stub".into() })).collect() }
}
pub fn next_retry_delay(c: &OutboundConfig, attempts: u32) -> u64 { (c.first_retry_secs << attempts.saturating_sub(1).min(20)).min(c.max_retry_secs) }
