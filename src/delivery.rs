//! The delivery manager: the one way out of the outbound queue.
//!
//! One scheduler task asks the spool for due entries, delivers each (at most
//! [`MAX_PARALLEL_DELIVERIES`] at a time, never the same entry twice at once) through
//! [`crate::outbound::Deliverer`], records every recipient's result durably,
//! and ends the entry: delivered when every recipient accepted, bounced when
//! a recipient failed permanently or the message outlived its lifetime.
//! Otherwise the next attempt follows the backoff schedule.
//!
//! A bounce sends a DSN (RFC 3464, [`crate::dsn`]) to the envelope sender
//! through the configured bounce route — never to the null sender and never
//! for a bounce — and optionally a notice to an administrator. DSNs are sent
//! once, best effort, and logged; the bounced message itself stays in the
//! store for the administrator.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use crate::dsn::{DsnInput, build_dsn, status_from_reply};
use crate::outbound::{Deliverer, OutboundConfig, next_retry_delay};
use crate::relay::{Relay, unix_now};
use crate::spool::{FinalState, OutboundEntry, QueueId, RcptResult, RcptState, SpoolError};
use crate::telemetry::Metrics;

/// Queue entries delivered at the same time.
const MAX_PARALLEL_DELIVERIES: usize = 16;

/// `[bounce]` settings: where DSNs go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BounceConfig {
    /// Next hops (Internet-side MTA) for DSNs, in failover order; empty: DSNs are only logged.
    pub route: Vec<String>,
    /// Also send each DSN to this address (optional).
    pub admin_address: Option<String>,
    /// Name in Reporting-MTA and the DSN's From.
    pub reporting_mta: String,
}

impl Default for BounceConfig {
    fn default() -> Self {
        BounceConfig { route: Vec::new(), admin_address: None, reporting_mta: "mugaika.localdomain".into() }
    }
}

/// Runs the scheduler until `shutdown` flips.
pub async fn run(relay: Arc<Relay>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let deliverer = Arc::new(Deliverer::new(&relay.config.outbound));
    let bounce = (!relay.config.bounce.route.is_empty()).then(|| {
        let cfg = OutboundConfig { next_hops: relay.config.bounce.route.clone(), ..relay.config.outbound.clone() };
        Arc::new(Deliverer::new(&cfg))
    });
    let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
    // Entries whose last attempt could not be recorded (or whose body could
    // not be read), held back until the time given: without this, a full
    // disk would make the same entry go out again and again at once.
    let held: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_PARALLEL_DELIVERIES));
    loop {
        let now = unix_now();
        relay.metrics.queue_depth.store(relay.spool.queue_len() as u64, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut h) = held.lock() {
            h.retain(|_, until| *until > now);
        }
        for entry in relay.spool.due(now) {
            let key = entry.queue_id().to_string();
            if held.lock().map(|h| h.contains_key(&key)).unwrap_or(true) {
                continue;
            }
            if !in_flight.lock().map(|mut s| s.insert(key.clone())).unwrap_or(false) {
                continue;
            }
            let Ok(permit) = slots.clone().acquire_owned().await else { return };
            // The list was taken before waiting for a slot: an attempt that
            // ended meanwhile may have finished or rescheduled this entry.
            let entry = match relay.spool.entry(entry.queue_id()) {
                Some(current) if current.is_done() || current.next_attempt <= unix_now() => current,
                _ => {
                    if let Ok(mut s) = in_flight.lock() {
                        s.remove(&key);
                    }
                    continue;
                }
            };
            let (relay, deliverer, bounce, in_flight, held) =
                (relay.clone(), deliverer.clone(), bounce.clone(), in_flight.clone(), held.clone());
            tokio::spawn(async move {
                let _permit = permit;
                if attempt(&relay, &deliverer, bounce.as_deref(), entry).await.is_err() {
                    let until = unix_now() + relay.config.outbound.first_retry_secs.max(1);
                    if let Ok(mut h) = held.lock() {
                        h.insert(key.clone(), until);
                    }
                }
                if let Ok(mut s) = in_flight.lock() {
                    s.remove(&key);
                }
                relay.wake_delivery();
            });
        }
        // Sleep until the next due entry, a wake-up (new mail, finished attempt) or shutdown.
        let next_held = held.lock().ok().and_then(|h| h.values().min().copied());
        let next = match (relay.spool.next_due(), next_held) {
            (Some(a), Some(b)) => Some(a.max(now).min(b)),
            (a, b) => a.or(b),
        };
        let wait = next.map(|t| t.saturating_sub(unix_now())).unwrap_or(60).clamp(1, 60);
        tokio::select! {
            _ = relay.delivery_wakeup.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(wait)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One delivery attempt of one queue entry, and its bookkeeping. `Err` when
/// the outcome could not be made durable: the caller holds the entry back.
async fn attempt(
    relay: &Arc<Relay>,
    deliverer: &Deliverer,
    bounce: Option<&Deliverer>,
    entry: OutboundEntry,
) -> Result<(), ()> {
    let id = entry.queue_id().clone();
    let now = unix_now();
    let pending: Vec<String> = entry.pending().map(str::to_string).collect();
    let mut entry = entry;
    if !pending.is_empty() && now < entry.expires_at {
        let spool = relay.spool.clone();
        let body_id = id.clone();
        let body = match tokio::task::spawn_blocking(move || spool.outbound_body(&body_id)).await {
            Ok(Ok(b)) => b,
            other => {
                tracing::error!(queue_id = %id, "cannot read the sanitised body: {other:?}");
                return Err(());
            }
        };
        let results = deliverer.deliver(&entry.envelope.mail_from, &pending, &body, id.as_str()).await;
        let deferred = results.iter().any(|(_, r)| matches!(r, RcptResult::Deferred { .. }));
        if deferred {
            Metrics::inc(&relay.metrics.deferred);
        }
        let next = now + next_retry_delay(&relay.config.outbound, entry.attempts + 1);
        entry = record_attempt(relay, &id, results, next).await?;
        tracing::info!(queue_id = %id, attempt = entry.attempts, pending = entry.pending().count(), "delivery attempt");
    }
    let expired = unix_now() >= entry.expires_at && !entry.is_done();
    let failed: Vec<_> = entry.recipients.iter().filter(|r| r.state == RcptState::Failed).cloned().collect();
    if !entry.is_done() && !expired {
        return Ok(());
    }
    let final_state = if failed.is_empty() && !expired { FinalState::Delivered } else { FinalState::Bounced };
    let spool = relay.spool.clone();
    let fin_id = id.clone();
    if let Err(e) = tokio::task::spawn_blocking(move || spool.finish(&fin_id, final_state))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()))
    {
        tracing::error!(queue_id = %id, error = %e, "cannot finish the entry");
        return Err(());
    }
    match final_state {
        FinalState::Delivered => {
            Metrics::inc(&relay.metrics.delivered);
            tracing::info!(queue_id = %id, "delivered");
        }
        FinalState::Bounced => {
            Metrics::inc(&relay.metrics.bounced);
            tracing::warn!(queue_id = %id, expired, failed = failed.len(), "bounced");
            send_dsn(relay, bounce, &entry, expired).await;
        }
    }
    Ok(())
}

/// Records an attempt's results durably. `Busy` (another call is committing
/// the entry) is waited out briefly: a delivery that happened must not be
/// forgotten because of a race.
async fn record_attempt(
    relay: &Arc<Relay>,
    id: &QueueId,
    results: Vec<(String, RcptResult)>,
    next: u64,
) -> Result<OutboundEntry, ()> {
    for round in 0..20 {
        let spool = relay.spool.clone();
        let (rec_id, rec) = (id.clone(), results.clone());
        match tokio::task::spawn_blocking(move || spool.record_attempt(&rec_id, &rec, next)).await {
            Ok(Ok(updated)) => return Ok(updated),
            Ok(Err(SpoolError::Busy(_))) if round < 19 => tokio::time::sleep(Duration::from_millis(25)).await,
            other => {
                tracing::error!(queue_id = %id, "cannot record the attempt: {other:?}");
                return Err(());
            }
        }
    }
    Err(())
}

/// Sends the DSN for a bounced entry (best effort, logged).
async fn send_dsn(relay: &Arc<Relay>, bounce: Option<&Deliverer>, entry: &OutboundEntry, expired: bool) {
    let failed: Vec<(String, String, String)> = entry
        .recipients
        .iter()
        .filter(|r| r.state != RcptState::Delivered)
        .map(|r| {
            let reply = r.reply.clone().unwrap_or_default();
            let status = if expired && r.state == RcptState::Pending {
                "4.4.7".to_string()
            } else {
                status_from_reply(&reply, r.state == RcptState::Failed)
            };
            (r.rcpt.clone(), status, reply)
        })
        .collect();
    let spool = relay.spool.clone();
    let qid = entry.queue_id().clone();
    let headers =
        tokio::task::spawn_blocking(move || spool.read_original(&qid).map(|(_, raw)| header_section(&raw).to_vec()))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
    let input = DsnInput {
        reporting_mta: &relay.config.bounce.reporting_mta,
        original_envelope_id: None,
        queue_id: entry.queue_id().as_str(),
        retrieval_id: &entry.envelope.retrieval_id,
        mail_from: &entry.envelope.mail_from,
        arrival_date: entry.envelope.received_at,
        now: unix_now(),
        failed: &failed,
        original_headers: &headers,
        expired,
    };
    let Some(dsn) = build_dsn(&input) else {
        tracing::info!(queue_id = %entry.queue_id(), "no DSN (null sender or a bounce)");
        return;
    };
    let Some(bounce) = bounce else {
        tracing::warn!(queue_id = %entry.queue_id(), "no bounce route configured; DSN not sent");
        return;
    };
    let mut rcpts = vec![entry.envelope.mail_from.clone()];
    rcpts.extend(relay.config.bounce.admin_address.clone());
    let results = bounce.deliver("", &rcpts, &dsn, entry.queue_id().as_str()).await;
    tracing::info!(queue_id = %entry.queue_id(), ?results, "DSN sent");
}

/// The header section of a raw message (up to the first empty line).
fn header_section(raw: &[u8]) -> &[u8] {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|p| p + 1))
        .unwrap_or(raw.len());
    &raw[..end.min(64 << 10)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_section_ends_at_the_blank_line() {
        assert_eq!(header_section(b"A: b\r\n\r\nbody"), b"A: b\r\n");
        assert_eq!(header_section(b"A: b\n\nbody"), b"A: b\n");
    }
}
