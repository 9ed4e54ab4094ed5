//! Sanitising workers: accepted messages in, delivery or quarantine out.
//!
//! A bounded pool (`[workers] count`, default: the number of cores) runs the
//! sanitiser pipeline on blocking threads, off the async runtime. Reading the
//! accepted message and recording the outcome (file writes and fsyncs) happen
//! outside that pool, up to [`MAX_IN_PROGRESS`] messages at once, so the cores
//! never wait on the disk and the spool's group commit can share fsyncs. Each run
//! has a wall-clock budget (`message_time_budget_secs`) on top of the
//! pipeline's own work budget. Whatever goes wrong — over budget, a parse
//! failure, a panic (caught inside the pipeline), a worker thread that dies —
//! the message is quarantined: the original is never forwarded.
//!
//! Every decision is logged with the queue id and retrieval id.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use mugaika_sanitizers::{Pipeline, Sanitized, Verdict};

use crate::relay::{Relay, unix_now};
use crate::spool::{MessageInfo, QueueId, SanitisedOutcome};
use crate::telemetry::Metrics;

/// `[workers]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Concurrent sanitisations; 0 means the number of cores.
    pub count: usize,
    /// Wall-clock budget per message; over it the message is quarantined.
    pub message_time_budget_secs: u64,
    /// Accepted messages waiting for a worker beyond which new mail gets 451 4.3.2.
    pub max_backlog: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig { count: 0, message_time_budget_secs: 60, max_backlog: 1000 }
    }
}

impl WorkerConfig {
    pub fn threads(&self) -> usize {
        if self.count > 0 { self.count } else { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) }
    }
}

/// Messages being read, sanitised or recorded at once. Reading and recording
/// wait on the disk (fsync), so they overlap freely; only the sanitiser
/// itself is limited to [`WorkerConfig::threads`] (the CPU-bound part).
const MAX_IN_PROGRESS: usize = 64;

/// Takes queue ids from the channel and sanitises them.
pub async fn run(relay: Arc<Relay>, mut queue: tokio::sync::mpsc::UnboundedReceiver<QueueId>, pipeline: Arc<Pipeline>) {
    let in_progress = Arc::new(tokio::sync::Semaphore::new(MAX_IN_PROGRESS));
    let cpu = Arc::new(tokio::sync::Semaphore::new(relay.config.workers.threads()));
    while let Some(id) = queue.recv().await {
        let Ok(permit) = in_progress.clone().acquire_owned().await else { break };
        let (relay, pipeline, cpu) = (relay.clone(), pipeline.clone(), cpu.clone());
        tokio::spawn(async move {
            let _permit = permit;
            sanitise_one(&relay, &pipeline, &cpu, id).await;
            relay.sanitise_done();
        });
    }
}

/// Sanitises one accepted message and records the outcome in the spool.
async fn sanitise_one(relay: &Arc<Relay>, pipeline: &Arc<Pipeline>, cpu: &tokio::sync::Semaphore, id: QueueId) {
    let spool = relay.spool.clone();
    let read_id = id.clone();
    let original = match tokio::task::spawn_blocking(move || spool.read_original(&read_id)).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => {
            // The message stays in incoming/ and is retried at the next start.
            tracing::error!(queue_id = %id, error = %e, "cannot read accepted message");
            return;
        }
        Err(e) => {
            tracing::error!(queue_id = %id, error = %e, "read task failed");
            return;
        }
    };
    let (envelope, raw) = original;
    let budget = Duration::from_secs(relay.config.workers.message_time_budget_secs.max(1));
    let policy = relay.policy();
    let Ok(cpu_slot) = cpu.acquire().await else { return };
    let started = Instant::now();
    let p = pipeline.clone();
    let run = tokio::task::spawn_blocking(move || p.run_with(&raw, Some(Instant::now() + budget), policy.as_ref()));
    let sanitized: Option<Sanitized> = match tokio::time::timeout(budget + Duration::from_secs(5), run).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::error!(queue_id = %id, error = %e, "sanitiser thread failed; quarantining");
            None
        }
        Err(_) => {
            tracing::error!(queue_id = %id, "sanitiser over its wall-clock budget; quarantining");
            None
        }
    };
    drop(cpu_slot);
    relay.metrics.observe_sanitise(started.elapsed().as_secs_f64());
    let now = unix_now();
    let spool = relay.spool.clone();
    let relay2 = relay.clone();
    let id2 = id.clone();
    let recorded = tokio::task::spawn_blocking(move || {
        let relay = relay2;
        let id = id2;
        match sanitized {
            Some(s) if s.report.verdict == Verdict::Deliver && s.output.is_some() => {
                let info = MessageInfo { message_id: s.report.input.message_id.clone(), subject: Some(s.report.input.subject.clone()) };
                let out = s.output.as_deref().unwrap_or_default();
                let outcome = SanitisedOutcome::Deliver {
                    sanitised: out,
                    next_attempt: now,
                    expires_at: envelope.received_at + relay.config.outbound.lifetime_secs,
                };
                tracing::info!(queue_id = %id, retrieval_id = %s.report.retrieval_id, "sanitised; queued for delivery");
                spool.mark_sanitised(&id, &info, outcome).map(|_| Verdict::Deliver)
            }
            Some(s) => {
                let info = MessageInfo { message_id: s.report.input.message_id.clone(), subject: Some(s.report.input.subject.clone()) };
                let report = serde_json::to_vec_pretty(&s.report).unwrap_or_default();
                tracing::warn!(queue_id = %id, retrieval_id = %s.report.retrieval_id, reasons = ?s.report.reasons, "quarantined");
                spool
                    .mark_sanitised(&id, &info, SanitisedOutcome::Quarantine { report_json: &report, reasons: &s.report.reasons })
                    .map(|_| Verdict::Quarantine)
            }
            None => {
                Metrics::inc(&relay.metrics.sanitise_errors);
                let reasons = vec!["internal.error".to_string()];
                let report = br#"{"schema":"mugaika.report/1","verdict":"quarantine","reasons":["internal.error"]}"#;
                spool
                    .mark_sanitised(&id, &MessageInfo::default(), SanitisedOutcome::Quarantine { report_json: report, reasons: &reasons })
                    .map(|_| Verdict::Quarantine)
            }
        }
    })
    .await;
    match recorded {
        Ok(Ok(Verdict::Deliver)) => relay.wake_delivery(),
        Ok(Ok(Verdict::Quarantine)) => Metrics::inc(&relay.metrics.quarantined),
        Ok(Err(e)) => {
            tracing::error!(queue_id = %id, error = %e, "cannot record the sanitiser's outcome; retried at next start")
        }
        Err(e) => tracing::error!(queue_id = %id, error = %e, "record task failed"),
    }
}
