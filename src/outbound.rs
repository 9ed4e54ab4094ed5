//! Outbound delivery: one attempt to hand a sanitised message to the
//! LGWAN-side MTA, with a per-recipient result for each envelope recipient.
//!
//! The delivery manager (the scheduler) owns the queue ([`crate::spool`]): it
//! picks a due entry, calls [`Deliverer::deliver`] with the recipients still
//! pending, records the results with `Spool::record_attempt`, and schedules
//! the next attempt with [`next_retry_delay`]. This module does no queueing,
//! keeps no state about messages and never reads the spool.
//!
//! # One attempt
//!
//! ```text
//! for each next hop, in order (hops recently unreachable last):
//!     take an idle connection (RSET must answer 2xx) or connect (+ EHLO, STARTTLS per TlsMode)
//!         unreachable / timeout / greeting or EHLO refused  → next hop
//!     MAIL FROM:<sender as given>          4xx / broken → next hop;  5xx → every recipient Failed
//!     RCPT TO:<r> for each pending r        2xx → accepted; 4xx → Deferred; 5xx → Failed (own reply each)
//!     DATA (only if a RCPT was accepted)    4xx → accepted Deferred; 5xx → accepted Failed
//!     message + final reply                 2xx → accepted Delivered; 4xx Deferred; 5xx Failed
//! every hop failed → every recipient Deferred with the last hop's reason
//! ```
//!
//! A connection that breaks or times out after MAIL was accepted makes every
//! recipient not yet settled `Deferred` (no failover inside a transaction: the
//! message may have reached the hop, and the queue retries it). A timeout or
//! break during the final reply to the message content can therefore deliver
//! twice — the usual SMTP duplicate window; never a loss.
//!
//! Replies are recorded as `"<code> <text>"` (multi-line replies joined with
//! spaces), controls replaced, at most 512 bytes. Problems found locally carry
//! an enhanced status code and no SMTP code, e.g.
//! `4.4.1 connect to 127.0.0.1:2526: Connection refused`; the code or status
//! always comes first, so that `dsn::status_from_reply` finds it in every
//! reply.
//!
//! Recipients are deduplicated (one RCPT per distinct string, one result per
//! distinct string, in first-seen order), so that the results map one to one
//! onto the queue entry's recipients.
//!
//! # Connections
//!
//! Each hop has a bounded pool: at most `max_connections_per_hop`
//! connections in use at once (a semaphore; a delivery waits for a slot), and
//! at most as many idle ones kept after use. An idle connection is reused
//! (last in, first out) if it has been idle less than `idle_timeout_secs`
//! and answers `RSET` with 2xx within the command timeout — RSET both clears
//! any transaction state left by the previous message and proves the peer is
//! still there. A connection that saw a network error or a timeout is
//! dropped, never pooled. [`Deliverer::close_idle`] sends QUIT to the idle
//! connections (for a graceful shutdown).
//!
//! A hop that could not be reached is remembered as down for
//! [`HOP_DOWN_SECS`]: during that time it is tried after the other hops, so a
//! black-holed first hop does not cost every delivery a connect timeout. It
//! is still tried when every hop is down.
//!
//! # Timeouts
//!
//! `connect_timeout_secs` bounds the TCP connect (name resolution and every
//! resolved address included); then the greeting with EHLO, and STARTTLS
//! with the second EHLO, get `2 × command_timeout_secs` each. Every command (RSET, MAIL, RCPT, DATA) gets
//! `command_timeout_secs`; the message content and its final reply get
//! `command_timeout_secs` plus one second per 64 KiB of message.
//!
//! # TLS
//!
//! STARTTLS only (no implicit TLS). `none`: never. `opportunistic`: when the
//! hop advertises STARTTLS, plaintext otherwise; a failed handshake (for
//! example a certificate that does not verify) is a hop failure, not a
//! fallback to plaintext. `required`: a hop that does not advertise STARTTLS
//! or fails the handshake is a hop failure (→ next hop, else Deferred). The
//! certificate is always verified (rustls on `ring`; roots: the Mozilla set
//! from `webpki-roots`, plus the PEM certificates in `ca_file`) against the
//! host part of the hop, which may be a name or an IP address (then the
//! certificate needs an IP SAN).
//!
//! # 8BITMIME and SMTPUTF8
//!
//! The sanitised output is 7-bit, so normally no body parameter is sent. If
//! the body does contain 8-bit bytes, `BODY=8BITMIME` is sent when the hop
//! advertises it; when it does not, the hop is skipped (capability failure)
//! and, if no hop can take it, every recipient fails with `5.6.3`.
//!
//! lettre's `Address` (validated by `email_address`: RFC 5321/6531 syntax,
//! local part ≤ 64 bytes, IDNA-checked domain) accepts UTF-8 local parts and
//! domains and writes them as given (no punycode conversion). When the sender
//! or a pending recipient is not ASCII, `SMTPUTF8` is added to MAIL FROM if
//! the hop advertises it; otherwise the hop is skipped as above and, if no
//! hop can take it, every recipient fails with `5.6.7` (RFC 6531: no
//! downgrade). An address lettre refuses fails locally with `5.1.3`
//! (recipient) or `5.1.7` (sender: then every recipient) without a
//! connection. The null sender `""` is sent as `MAIL FROM:<>`.
//!
//! The body is sent with CRLF line ends: a bare CR or LF is turned into CRLF
//! (defence in depth against SMTP smuggling towards the next hop; the
//! sanitiser already emits CRLF only); lettre dot-stuffs and appends the
//! terminating `CRLF.CRLF` (a final CRLF of the body is not doubled).
//!
//! # Limits
//!
//! - No SIZE parameter (lettre's `ServerInfo` does not record SIZE), no
//!   DSN parameters (NOTIFY/RET/ENVID) towards the hop, no AUTH.
//! - lettre sends EHLO only (no fallback to HELO for a very old peer: such a
//!   hop is a hop failure).
//! - Hops are `host:port` (`[v6]:port` for IPv6); a name is resolved with the
//!   system resolver at each connect; no MX lookup.

use std::collections::HashSet;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use lettre::Address;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters, TlsParametersBuilder};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use serde::Deserialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::timeout;

use crate::spool::RcptResult;

/// How long a hop that could not be reached is tried after the others.
pub const HOP_DOWN_SECS: u64 = 30;
/// Longest reply text recorded.
const MAX_REPLY_BYTES: usize = 512;

/// STARTTLS policy towards the next hops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Never STARTTLS.
    #[default]
    None,
    /// STARTTLS when the hop advertises it (a failed handshake is a hop failure).
    Opportunistic,
    /// STARTTLS or no delivery through that hop.
    Required,
}

/// `[outbound]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundConfig {
    /// `host:port` (`[v6]:port`), failover in order.
    pub next_hops: Vec<String>,
    pub tls: TlsMode,
    /// PEM file of extra trusted CA certificates (for a private LGWAN CA, or tests).
    pub ca_file: Option<String>,
    /// The EHLO name.
    pub helo_name: String,
    pub connect_timeout_secs: u64,
    pub command_timeout_secs: u64,
    /// First retry after this many seconds, then doubling…
    pub first_retry_secs: u64,
    /// …up to this.
    pub max_retry_secs: u64,
    /// After this long in the queue a message is bounced (4.4.7).
    pub lifetime_secs: u64,
    /// Connections per hop, in use at once and kept idle.
    pub max_connections_per_hop: u32,
    /// Idle connections older than this are closed instead of reused.
    pub idle_timeout_secs: u64,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            next_hops: vec!["127.0.0.1:2526".to_string()],
            tls: TlsMode::None,
            ca_file: None,
            helo_name: "mugaika.localdomain".to_string(),
            connect_timeout_secs: 30,
            command_timeout_secs: 120,
            first_retry_secs: 60,
            max_retry_secs: 900,
            lifetime_secs: 5 * 24 * 3600,
            max_connections_per_hop: 4,
            idle_timeout_secs: 30,
        }
    }
}

impl OutboundConfig {
    /// Every problem of the settings, one message each (empty: valid).
    /// Reads nothing from disk except checking that `ca_file` is a file.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.next_hops.is_empty() {
            problems.push("outbound.next_hops: at least one next hop is needed".to_string());
        }
        for hop in &self.next_hops {
            if let Err(e) = parse_hop(hop) {
                problems.push(format!("outbound.next_hops: {hop:?}: {e}"));
            }
        }
        if !valid_helo(&self.helo_name) {
            problems.push(format!(
                "outbound.helo_name: {:?} is not a host name (letters, digits, '-', '.')",
                self.helo_name
            ));
        }
        for (name, value) in [
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("command_timeout_secs", self.command_timeout_secs),
            ("first_retry_secs", self.first_retry_secs),
            ("lifetime_secs", self.lifetime_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
        ] {
            if value == 0 {
                problems.push(format!("outbound.{name}: must be at least 1"));
            }
            if name.ends_with("timeout_secs") && value > 86_400 {
                problems.push(format!("outbound.{name}: at most 86400 (one day)"));
            }
        }
        if self.max_retry_secs < self.first_retry_secs {
            problems.push(format!(
                "outbound.max_retry_secs ({}) is below first_retry_secs ({})",
                self.max_retry_secs, self.first_retry_secs
            ));
        }
        if self.max_connections_per_hop == 0 {
            problems.push("outbound.max_connections_per_hop: must be at least 1".to_string());
        }
        if let Some(path) = &self.ca_file
            && !std::path::Path::new(path).is_file()
        {
            problems.push(format!("outbound.ca_file: {path:?} is not a readable file"));
        }
        problems
    }
}

/// Exponential backoff: the delay in seconds before the next attempt, given
/// the number of attempts made so far (counting the one that just failed).
/// Attempts 0 and 1 → `first_retry_secs`, then doubling, capped at
/// `max_retry_secs`. Never 0.
pub fn next_retry_delay(config: &OutboundConfig, attempts: u32) -> u64 {
    let first = config.first_retry_secs.max(1);
    let cap = config.max_retry_secs.max(1);
    let doublings = attempts.saturating_sub(1).min(63);
    let delay = 1u64.checked_shl(doublings).and_then(|factor| first.checked_mul(factor)).unwrap_or(u64::MAX);
    delay.min(cap)
}

/// Why a [`Deliverer`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("invalid outbound settings: {}", .0.join("; "))]
    Config(Vec<String>),
    #[error("outbound.ca_file {path:?}: {source}")]
    CaFile { path: String, source: std::io::Error },
    #[error("TLS setup for next hop {hop:?}: {message}")]
    Tls { hop: String, message: String },
}

/// Delivers to the configured next hops, keeping a connection pool per hop.
/// Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Deliverer {
    /// Set by [`Deliverer::new`] when the settings could not be used: every delivery is deferred.
    unusable: Option<String>,
    hops: Vec<Hop>,
    client_id: ClientId,
    tls: TlsMode,
    connect_timeout: Duration,
    command_timeout: Duration,
    idle_timeout: Duration,
    max_idle: usize,
}

struct Hop {
    /// As configured, for logs and replies.
    name: String,
    host: String,
    port: u16,
    tls: Option<TlsParameters>,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<IdleConn>>,
    down_until: Mutex<Option<Instant>>,
}

struct IdleConn {
    conn: AsyncSmtpConnection,
    since: Instant,
}

/// A connection in use, holding its slot of the hop.
struct Conn {
    conn: AsyncSmtpConnection,
    _slot: OwnedSemaphorePermit,
}

/// Why a hop could not take the message (→ the next hop).
struct HopFailure {
    reply: String,
    /// The hop lacks SMTPUTF8 / 8BITMIME (permanent if every hop lacks it).
    capability: bool,
}

impl HopFailure {
    fn transient(reply: String) -> Self {
        HopFailure { reply, capability: false }
    }
}

/// One message, prepared once for all hops.
struct Transaction<'a> {
    queue_id: &'a str,
    sender: Option<Address>,
    /// Distinct recipients (input string, parsed address), in order.
    rcpts: Vec<(String, Address)>,
    body: Vec<u8>,
    needs_smtputf8: bool,
    needs_8bitmime: bool,
}

impl Deliverer {
    /// Like [`Deliverer::try_new`], but never fails: with unusable settings
    /// (which `OutboundConfig::validate` reports up front) the error is logged
    /// and every delivery is deferred with `4.3.5` and the reason, so that no
    /// mail is lost or bounced while the configuration is fixed.
    pub fn new(config: &OutboundConfig) -> Self {
        match Deliverer::try_new(config) {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "outbound: unusable settings; every delivery will be deferred");
                let mut fallback = Deliverer::empty(config);
                fallback.unusable = Some(e.to_string());
                fallback
            }
        }
    }

    fn empty(config: &OutboundConfig) -> Self {
        Deliverer {
            unusable: None,
            hops: Vec::new(),
            client_id: ClientId::Domain(config.helo_name.clone()),
            tls: config.tls,
            connect_timeout: Duration::from_secs(config.connect_timeout_secs.max(1)),
            command_timeout: Duration::from_secs(config.command_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(config.idle_timeout_secs.max(1)),
            max_idle: 1,
        }
    }

    /// Checks the settings, reads `ca_file` and prepares the TLS parameters of each hop.
    pub fn try_new(config: &OutboundConfig) -> Result<Self, OutboundError> {
        let problems = config.validate();
        if !problems.is_empty() {
            return Err(OutboundError::Config(problems));
        }
        let ca = match &config.ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|source| OutboundError::CaFile { path: path.clone(), source })?;
                // lettre accepts a file without any certificate; that is a mistake here.
                if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
                    let source = std::io::Error::new(std::io::ErrorKind::InvalidData, "no PEM certificate in the file");
                    return Err(OutboundError::CaFile { path: path.clone(), source });
                }
                Some(pem)
            }
            None => None,
        };
        let max_conns =
            usize::try_from(config.max_connections_per_hop).unwrap_or(usize::MAX).clamp(1, Semaphore::MAX_PERMITS);
        let mut hops = Vec::with_capacity(config.next_hops.len());
        for name in &config.next_hops {
            let (host, port) = parse_hop(name).map_err(|e| OutboundError::Config(vec![e]))?;
            let tls = if config.tls == TlsMode::None {
                None
            } else {
                let tls_err = |message: String| OutboundError::Tls { hop: name.clone(), message };
                let mut builder = TlsParametersBuilder::new(host.clone());
                if let Some(pem) = &ca {
                    let cert = Certificate::from_pem(pem).map_err(|e| tls_err(format!("ca_file: {e}")))?;
                    builder = builder.add_root_certificate(cert);
                }
                Some(builder.build().map_err(|e| tls_err(e.to_string()))?)
            };
            hops.push(Hop {
                name: name.clone(),
                host,
                port,
                tls,
                slots: Arc::new(Semaphore::new(max_conns)),
                idle: Mutex::new(Vec::new()),
                down_until: Mutex::new(None),
            });
        }
        Ok(Deliverer {
            unusable: None,
            hops,
            client_id: ClientId::Domain(config.helo_name.clone()),
            tls: config.tls,
            connect_timeout: Duration::from_secs(config.connect_timeout_secs),
            command_timeout: Duration::from_secs(config.command_timeout_secs),
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
            max_idle: max_conns,
        })
    }

    /// One attempt: MAIL FROM (the envelope sender as given, `""` for the null
    /// sender), RCPT TO for each recipient, each recipient's own reply
    /// recorded, then DATA with `body` if at least one RCPT was accepted.
    /// Returns one result per distinct recipient, in first-seen order. See the
    /// module doc for the mapping of replies and the failover rules.
    /// `queue_id` is only for the logs.
    pub async fn deliver(
        &self,
        mail_from: &str,
        rcpts: &[String],
        body: &[u8],
        queue_id: &str,
    ) -> Vec<(String, RcptResult)> {
        let mut seen = HashSet::new();
        let distinct: Vec<&String> = rcpts.iter().filter(|r| seen.insert(r.as_str())).collect();
        let mut results: Vec<(String, Option<RcptResult>)> = distinct.iter().map(|r| ((*r).clone(), None)).collect();

        let sender = if mail_from.is_empty() {
            None
        } else {
            match parse_address(mail_from) {
                Some(a) => Some(a),
                None => {
                    let reply = format!("5.1.7 invalid sender address {}", clean_reply(mail_from));
                    tracing::warn!(queue_id, mail_from, "outbound: sender address refused locally");
                    return finish(results, &RcptResult::Failed { reply });
                }
            }
        };
        let mut tx_rcpts = Vec::with_capacity(distinct.len());
        for (slot, rcpt) in results.iter_mut().zip(&distinct) {
            match parse_address(rcpt) {
                Some(a) => tx_rcpts.push(((*rcpt).clone(), a)),
                None => {
                    let reply = format!("5.1.3 invalid recipient address {}", clean_reply(rcpt));
                    tracing::warn!(queue_id, rcpt = rcpt.as_str(), "outbound: recipient address refused locally");
                    slot.1 = Some(RcptResult::Failed { reply });
                }
            }
        }
        if tx_rcpts.is_empty() {
            return finish(results, &RcptResult::Failed { reply: "5.1.3 no valid recipient".to_string() });
        }
        if let Some(problem) = &self.unusable {
            let result = RcptResult::Deferred { reply: format!("4.3.5 outbound settings unusable: {problem}") };
            tracing::error!(queue_id, problem = problem.as_str(), "outbound: not delivering");
            return finish(results, &result);
        }
        let needs_smtputf8 = !mail_from.is_ascii() || tx_rcpts.iter().any(|(r, _)| !r.is_ascii());
        let body = prepare_body(body);
        let tx =
            Transaction { queue_id, sender, needs_8bitmime: !body.is_ascii(), body, rcpts: tx_rcpts, needs_smtputf8 };

        let mut last_failure: Option<HopFailure> = None;
        let mut every_failure_capability = true;
        for hop in self.hop_order() {
            match self.try_hop(hop, &tx).await {
                Ok(done) => {
                    for (rcpt, result) in done {
                        if let Some(slot) = results.iter_mut().find(|(r, res)| *r == rcpt && res.is_none()) {
                            slot.1 = Some(result);
                        }
                    }
                    return finish(results, &RcptResult::Deferred { reply: "4.3.0 no result recorded".to_string() });
                }
                Err(failure) => {
                    tracing::warn!(
                        queue_id,
                        hop = hop.name.as_str(),
                        reply = failure.reply.as_str(),
                        "outbound: hop failed, trying the next one"
                    );
                    every_failure_capability &= failure.capability;
                    last_failure = Some(failure);
                }
            }
        }
        let reply = last_failure.map(|f| f.reply).unwrap_or_else(|| "4.4.1 no next hop configured".to_string());
        let result = if every_failure_capability && !self.hops.is_empty() {
            RcptResult::Failed { reply: clean_reply(&reply) }
        } else {
            let reply = if self.hops.len() > 1 { format!("{reply} (every next hop failed)") } else { reply };
            RcptResult::Deferred { reply: clean_reply(&reply) }
        };
        for (rcpt, res) in &results {
            if res.is_none() {
                log_result(queue_id, "-", rcpt, &result);
            }
        }
        finish(results, &result)
    }

    /// Sends QUIT on every idle connection and closes it.
    pub async fn close_idle(&self) {
        for hop in &self.hops {
            let idle = std::mem::take(&mut *lock(&hop.idle));
            for mut entry in idle {
                let _ = timeout(self.command_timeout, entry.conn.quit()).await;
            }
        }
    }

    /// Idle connections held for each hop (for metrics and tests).
    pub fn idle_connections(&self) -> Vec<(String, usize)> {
        self.hops.iter().map(|h| (h.name.clone(), lock(&h.idle).len())).collect()
    }

    /// Hops in config order, the ones marked down moved to the end.
    fn hop_order(&self) -> Vec<&Hop> {
        let now = Instant::now();
        let is_down = |h: &Hop| lock(&h.down_until).is_some_and(|until| until > now);
        let (up, down): (Vec<&Hop>, Vec<&Hop>) = self.hops.iter().partition(|h| !is_down(h));
        up.into_iter().chain(down).collect()
    }

    /// The whole transaction on one hop. `Err` means: try the next hop.
    async fn try_hop(&self, hop: &Hop, tx: &Transaction<'_>) -> Result<Vec<(String, RcptResult)>, HopFailure> {
        let queue_id = tx.queue_id;
        let mut conn = self.checkout(hop, queue_id).await?;

        let info = conn.conn.server_info();
        let mut params = Vec::new();
        if tx.needs_smtputf8 {
            if !info.supports_feature(Extension::SmtpUtfEight) {
                self.checkin(hop, conn);
                return Err(HopFailure {
                    reply: format!("5.6.7 {} does not support SMTPUTF8, needed for a non-ASCII address", hop.name),
                    capability: true,
                });
            }
            params.push(MailParameter::SmtpUtfEight);
        }
        if tx.needs_8bitmime {
            if !info.supports_feature(Extension::EightBitMime) {
                self.checkin(hop, conn);
                return Err(HopFailure {
                    reply: format!("5.6.3 {} does not support 8BITMIME, needed for an 8-bit body", hop.name),
                    capability: true,
                });
            }
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }

        // MAIL
        match timeout(self.command_timeout, conn.conn.command(Mail::new(tx.sender.clone(), params))).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.is_permanent() => {
                let result = RcptResult::Failed { reply: error_reply(&e) };
                self.checkin(hop, conn);
                return Ok(self.all(tx, &hop.name, &result));
            }
            Ok(Err(e)) => {
                return Err(HopFailure::transient(format!("{} (MAIL FROM at {})", error_reply(&e), hop.name)));
            }
            Err(_) => return Err(HopFailure::transient(format!("4.4.2 MAIL FROM at {}: timed out", hop.name))),
        }

        // RCPT, one reply each
        let mut results = Vec::with_capacity(tx.rcpts.len());
        let mut accepted = Vec::new();
        for (i, (rcpt, address)) in tx.rcpts.iter().enumerate() {
            let outcome =
                timeout(self.command_timeout, conn.conn.command(Rcpt::new(address.clone(), Vec::new()))).await;
            let result = match outcome {
                Ok(Ok(response)) => {
                    accepted.push(rcpt.clone());
                    RcptResult::Delivered { reply: response_reply(&response) }
                }
                Ok(Err(e)) if e.is_permanent() => RcptResult::Failed { reply: error_reply(&e) },
                Ok(Err(e)) if e.is_transient() => RcptResult::Deferred { reply: error_reply(&e) },
                broken => {
                    // The connection is gone: every recipient not yet settled is deferred.
                    let reason = broken_reason(&hop.name, "RCPT TO", &broken);
                    drop(conn);
                    let deferred = RcptResult::Deferred { reply: reason };
                    return Ok(self.settle(
                        tx,
                        &hop.name,
                        results,
                        &accepted,
                        tx.rcpts.get(i..).unwrap_or(&[]),
                        &deferred,
                    ));
                }
            };
            if !matches!(result, RcptResult::Delivered { .. }) {
                log_result(queue_id, &hop.name, rcpt, &result);
            }
            results.push((rcpt.clone(), result));
        }
        let results: Vec<(String, RcptResult)> = results.into_iter().filter(|(r, _)| !accepted.contains(r)).collect();
        if accepted.is_empty() {
            self.checkin(hop, conn);
            return Ok(results);
        }

        // DATA
        match timeout(self.command_timeout, conn.conn.command(Data)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.is_permanent() || e.is_transient() => {
                let result = if e.is_permanent() {
                    RcptResult::Failed { reply: error_reply(&e) }
                } else {
                    RcptResult::Deferred { reply: error_reply(&e) }
                };
                self.checkin(hop, conn);
                return Ok(self.settle(tx, &hop.name, results, &accepted, &[], &result));
            }
            broken => {
                let reason = broken_reason(&hop.name, "DATA", &broken);
                drop(conn);
                return Ok(self.settle(
                    tx,
                    &hop.name,
                    results,
                    &accepted,
                    &[],
                    &RcptResult::Deferred { reply: reason },
                ));
            }
        }

        // The content and the final reply
        let per_size = Duration::from_secs(u64::try_from(tx.body.len() / 65536).unwrap_or(u64::MAX));
        let data_timeout = self.command_timeout.saturating_add(per_size);
        let result = match timeout(data_timeout, conn.conn.message(&tx.body)).await {
            Ok(Ok(response)) => {
                self.checkin(hop, conn);
                RcptResult::Delivered { reply: response_reply(&response) }
            }
            Ok(Err(e)) if e.is_permanent() || e.is_transient() => {
                self.checkin(hop, conn);
                if e.is_permanent() {
                    RcptResult::Failed { reply: error_reply(&e) }
                } else {
                    RcptResult::Deferred { reply: error_reply(&e) }
                }
            }
            broken => {
                let reason = broken_reason(&hop.name, "end of data", &broken);
                drop(conn);
                RcptResult::Deferred { reply: reason }
            }
        };
        Ok(self.settle(tx, &hop.name, results, &accepted, &[], &result))
    }

    /// `results` plus `result` for every accepted and every remaining recipient, logged.
    fn settle(
        &self,
        tx: &Transaction<'_>,
        hop: &str,
        mut results: Vec<(String, RcptResult)>,
        accepted: &[String],
        remaining: &[(String, Address)],
        result: &RcptResult,
    ) -> Vec<(String, RcptResult)> {
        for rcpt in accepted.iter().chain(remaining.iter().map(|(r, _)| r)) {
            results.retain(|(r, _)| r != rcpt);
            log_result(tx.queue_id, hop, rcpt, result);
            results.push((rcpt.clone(), result.clone()));
        }
        results
    }

    fn all(&self, tx: &Transaction<'_>, hop: &str, result: &RcptResult) -> Vec<(String, RcptResult)> {
        self.settle(tx, hop, Vec::new(), &[], &tx.rcpts, result)
    }

    /// An idle connection that still answers RSET, or a new one.
    async fn checkout(&self, hop: &Hop, queue_id: &str) -> Result<Conn, HopFailure> {
        let slot = hop
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| HopFailure::transient(format!("4.3.0 {}: connection pool closed", hop.name)))?;
        loop {
            let Some(mut idle) = lock(&hop.idle).pop() else { break };
            if idle.since.elapsed() >= self.idle_timeout || idle.conn.has_broken() {
                tracing::debug!(queue_id, hop = hop.name.as_str(), "outbound: idle connection expired");
                continue;
            }
            match timeout(self.command_timeout, idle.conn.command(Rset)).await {
                Ok(Ok(_)) => {
                    tracing::debug!(queue_id, hop = hop.name.as_str(), "outbound: reusing connection");
                    return Ok(Conn { conn: idle.conn, _slot: slot });
                }
                _ => {
                    tracing::debug!(queue_id, hop = hop.name.as_str(), "outbound: idle connection failed RSET, dropped")
                }
            }
        }
        match self.connect(hop).await {
            Ok(conn) => {
                *lock(&hop.down_until) = None;
                tracing::debug!(
                    queue_id,
                    hop = hop.name.as_str(),
                    encrypted = conn.is_encrypted(),
                    "outbound: connected"
                );
                Ok(Conn { conn, _slot: slot })
            }
            Err(reply) => {
                *lock(&hop.down_until) = Some(Instant::now() + Duration::from_secs(HOP_DOWN_SECS));
                Err(HopFailure::transient(reply))
            }
        }
    }

    /// TCP connect (`connect_timeout`), then greeting + EHLO, then STARTTLS +
    /// EHLO (`2 × command_timeout` each).
    async fn connect(&self, hop: &Hop) -> Result<AsyncSmtpConnection, String> {
        let target = (hop.host.as_str(), hop.port);
        let stream = match timeout(self.connect_timeout, tokio::net::TcpStream::connect(target)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(clean_reply(&format!("4.4.1 connect to {}: {e}", hop.name))),
            Err(_) => return Err(format!("4.4.1 connect to {}: timed out", hop.name)),
        };
        let _ = stream.set_nodelay(true);
        let greeting = AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.client_id);
        let mut conn = match timeout(self.command_timeout.saturating_mul(2), greeting).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(connect_error_reply(&hop.name, &e)),
            Err(_) => return Err(format!("4.4.2 greeting/EHLO at {}: timed out", hop.name)),
        };
        let want_tls = match self.tls {
            TlsMode::None => false,
            TlsMode::Opportunistic => conn.can_starttls(),
            TlsMode::Required => {
                if !conn.can_starttls() {
                    let _ = timeout(self.command_timeout, conn.abort()).await;
                    return Err(format!("4.7.10 {} does not offer STARTTLS, which outbound.tls requires", hop.name));
                }
                true
            }
        };
        if want_tls && let Some(params) = &hop.tls {
            match timeout(self.command_timeout.saturating_mul(2), conn.starttls(params.clone(), &self.client_id)).await
            {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    return Err(format!("4.7.10 STARTTLS with {} failed: {}", hop.name, clean_reply(&error_chain(&e))));
                }
                Err(_) => return Err(format!("4.4.2 STARTTLS with {}: timed out", hop.name)),
            }
        }
        Ok(conn)
    }

    /// Back into the idle pool, unless broken or the pool is full.
    fn checkin(&self, hop: &Hop, conn: Conn) {
        if conn.conn.has_broken() {
            return;
        }
        let mut idle = lock(&hop.idle);
        if idle.len() < self.max_idle {
            idle.push(IdleConn { conn: conn.conn, since: Instant::now() });
        }
    }
}

fn finish(results: Vec<(String, Option<RcptResult>)>, default: &RcptResult) -> Vec<(String, RcptResult)> {
    results.into_iter().map(|(r, res)| (r, res.unwrap_or_else(|| default.clone()))).collect()
}

fn log_result(queue_id: &str, hop: &str, rcpt: &str, result: &RcptResult) {
    match result {
        RcptResult::Delivered { reply } => {
            tracing::info!(queue_id, hop, rcpt, reply = reply.as_str(), "outbound: delivered")
        }
        RcptResult::Deferred { reply } => {
            tracing::warn!(queue_id, hop, rcpt, reply = reply.as_str(), "outbound: deferred")
        }
        RcptResult::Failed { reply } => tracing::warn!(queue_id, hop, rcpt, reply = reply.as_str(), "outbound: failed"),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An address lettre will put in MAIL/RCPT: its own validation, plus no
/// character that could break the command line.
fn parse_address(s: &str) -> Option<Address> {
    if s.chars().any(|c| c.is_control() || c == '<' || c == '>') {
        return None;
    }
    Address::from_str(s).ok()
}

/// `host:port` or `[v6]:port` → (host for connect and TLS name, port).
fn parse_hop(hop: &str) -> Result<(String, u16), String> {
    let (host, port) = hop.rsplit_once(':').ok_or_else(|| "expected host:port".to_string())?;
    let port: u16 = port.parse().map_err(|_| format!("bad port {port:?}"))?;
    if port == 0 {
        return Err("port 0".to_string());
    }
    let host = if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or_else(|| "unbalanced '['".to_string())?;
        inner.parse::<IpAddr>().map_err(|_| format!("bad address literal {inner:?}"))?;
        inner
    } else {
        if host.contains(':') {
            return Err("an IPv6 address must be in brackets: [addr]:port".to_string());
        }
        if host.parse::<IpAddr>().is_err() && !valid_helo(host) {
            return Err(format!("bad host {host:?}"));
        }
        host
    };
    if host.is_empty() {
        return Err("empty host".to_string());
    }
    Ok((host.to_string(), port))
}

fn valid_helo(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        && !name.starts_with('.')
        && !name.starts_with('-')
}

/// CRLF line ends only (a bare CR or LF becomes CRLF); a final CRLF is
/// removed because lettre's terminator starts with one.
fn prepare_body(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 2);
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                if body.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            }
            b'\n' => out.extend_from_slice(b"\r\n"),
            _ => out.push(b),
        }
        i += 1;
    }
    if out.ends_with(b"\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// Printable, single line, at most [`MAX_REPLY_BYTES`] (cut on a char boundary).
fn clean_reply(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_REPLY_BYTES));
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > MAX_REPLY_BYTES {
            break;
        }
        out.push(c);
    }
    out.trim().to_string()
}

fn response_reply(r: &Response) -> String {
    let text: Vec<&str> = r.message().collect();
    clean_reply(&format!("{} {}", r.code(), text.join(" ")))
}

/// `"<code> <text>"` for a negative reply, else the error's description.
fn error_reply(e: &SmtpError) -> String {
    match e.status() {
        Some(code) => {
            let text = std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default();
            clean_reply(&format!("{code} {text}"))
        }
        None => clean_reply(&format!("4.4.2 {}", error_chain(e))),
    }
}

fn error_chain(e: &SmtpError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    let mut depth = 0;
    while let Some(s) = source {
        let piece = s.to_string();
        if !text.contains(&piece) {
            text.push_str(": ");
            text.push_str(&piece);
        }
        source = s.source();
        depth += 1;
        if depth > 8 {
            break;
        }
    }
    text
}

fn connect_error_reply(hop: &str, e: &SmtpError) -> String {
    match e.status() {
        // The greeting or EHLO was refused.
        Some(_) => format!("{} (greeting/EHLO at {hop})", error_reply(e)),
        None => clean_reply(&format!("4.4.2 greeting/EHLO at {hop}: {}", error_chain(e))),
    }
}

/// The reply for a command that timed out or broke the connection.
fn broken_reason(
    hop: &str,
    stage: &str,
    outcome: &Result<Result<Response, SmtpError>, tokio::time::error::Elapsed>,
) -> String {
    match outcome {
        Err(_) => clean_reply(&format!("4.4.2 {stage} at {hop}: timed out")),
        Ok(Err(e)) => clean_reply(&format!("4.4.2 {stage} at {hop}: connection broken: {}", error_chain(e))),
        Ok(Ok(r)) => clean_reply(&format!("4.4.2 {stage} at {hop}: unexpected reply {}", response_reply(r))),
    }
}

#[cfg(test)]
mod tests {
    //! The SMTP tests run against a real peer: Python's aiosmtpd on
    //! 127.0.0.1, port 0, started per test. They fail (never skip) when no
    //! Python with aiosmtpd is found: set MUGAIKA_PYTHON, or install
    //! `python3-aiosmtpd` (Debian) / `python3 -m pip install aiosmtpd`.

    use super::*;
    use std::io::{BufRead, BufReader};
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, Ordering};

    const SINK_PY: &str = r#"
import asyncio, os, ssl, sys
from aiosmtpd.smtp import SMTP

outdir = sys.argv[1]
defer_mail = '--defer-mail' in sys.argv
smtputf8 = '--no-smtputf8' not in sys.argv
tls_context = None
if '--tls' in sys.argv:
    certdir = sys.argv[sys.argv.index('--tls') + 1]
    tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_context.load_cert_chain(os.path.join(certdir, 'leaf.pem'), os.path.join(certdir, 'leaf.key'))
state = {'conns': 0, 'msgs': 0}

def write_atomic(name, data):
    tmp = os.path.join(outdir, '.' + name + '.tmp')
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, os.path.join(outdir, name))

class Handler:
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if defer_mail:
            return '451 4.3.0 sink busy'
        if address.startswith('mailreject'):
            return '550 5.7.1 sender refused'
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return '250 2.1.0 OK'

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split('@')[0]
        if local.startswith('reject'):
            return '550 5.1.1 no such user here'
        if local.startswith('defer'):
            return '451 4.2.1 mailbox busy, try later'
        envelope.rcpt_tos.append(address)
        return '250 2.1.5 OK'

    async def handle_DATA(self, server, session, envelope):
        state['msgs'] += 1
        n = state['msgs']
        lines = ['MAIL ' + envelope.mail_from] + ['OPT ' + o for o in envelope.mail_options]
        lines += ['RCPT ' + r for r in envelope.rcpt_tos]
        if session.ssl:
            lines.append('TLS')
        write_atomic('msg-%d.eml' % n, envelope.original_content)
        write_atomic('msg-%d.env' % n, ('\n'.join(lines) + '\n').encode('utf-8'))
        return '250 2.0.0 queued as %d' % n

class CountingSMTP(SMTP):
    def connection_made(self, transport):
        state['conns'] += 1
        write_atomic('connections', str(state['conns']).encode())
        super().connection_made(transport)

async def main():
    loop = asyncio.get_running_loop()
    handler = Handler()
    server = await loop.create_server(
        lambda: CountingSMTP(handler, enable_SMTPUTF8=smtputf8, decode_data=False, hostname='sink.test',
                             tls_context=tls_context, require_starttls=False),
        '127.0.0.1', 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    # Runs until the test closes our stdin (or dies).
    await loop.run_in_executor(None, sys.stdin.read)

asyncio.run(main())
"#;

    /// A Python with aiosmtpd, or a panic that says how to get one.
    fn python() -> &'static str {
        static PYTHON: OnceLock<Result<String, String>> = OnceLock::new();
        let found = PYTHON.get_or_init(|| {
            let mut candidates: Vec<String> = Vec::new();
            if let Ok(p) = std::env::var("MUGAIKA_PYTHON") {
                candidates.push(p);
            }
            candidates.extend(["python3".to_string(), "/usr/bin/python3".to_string()]);
            let mut tried = Vec::new();
            for c in &candidates {
                let ok = Command::new(c)
                    .args(["-c", "import aiosmtpd"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if ok {
                    return Ok(c.clone());
                }
                tried.push(c.clone());
            }
            Err(format!(
                "no Python with aiosmtpd found (tried {tried:?}); these tests need a real SMTP peer: \
                 install python3-aiosmtpd (Debian) or run `python3 -m pip install aiosmtpd`, \
                 or set MUGAIKA_PYTHON to an interpreter that has it"
            ))
        });
        match found {
            Ok(p) => p,
            Err(msg) => panic!("{msg}"),
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mugaika-outbound-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        dir
    }

    /// An aiosmtpd sink on 127.0.0.1 recording what arrives.
    struct Sink {
        child: Child,
        port: u16,
        dir: PathBuf,
    }

    impl Sink {
        fn start(args: &[&str]) -> Sink {
            let dir = temp_dir("sink");
            let script = dir.join("sink.py");
            std::fs::write(&script, SINK_PY).expect("write sink.py");
            let stderr = std::fs::File::create(dir.join("stderr.log")).expect("stderr log");
            let mut child = Command::new(python())
                .arg(&script)
                .arg(&dir)
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(stderr)
                .spawn()
                .expect("start the aiosmtpd sink");
            let mut line = String::new();
            if let Some(out) = child.stdout.take() {
                let _ = BufReader::new(out).read_line(&mut line);
            }
            let Ok(port) = line.trim().parse::<u16>() else {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default();
                panic!("the aiosmtpd sink did not start (printed {line:?}); stderr:\n{log}");
            };
            Sink { child, port, dir }
        }

        fn hop(&self) -> String {
            format!("127.0.0.1:{}", self.port)
        }

        fn connections(&self) -> u32 {
            std::fs::read_to_string(self.dir.join("connections")).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
        }

        /// (envelope lines, message bytes) of each message received, in order.
        fn messages(&self) -> Vec<(Vec<String>, Vec<u8>)> {
            let mut out = Vec::new();
            for n in 1.. {
                let Ok(env) = std::fs::read_to_string(self.dir.join(format!("msg-{n}.env"))) else { break };
                let body = std::fs::read(self.dir.join(format!("msg-{n}.eml"))).unwrap_or_default();
                out.push((env.lines().map(str::to_string).collect(), body));
            }
            out
        }
    }

    impl Drop for Sink {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A port on 127.0.0.1 where nothing listens.
    fn closed_port() -> u16 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        port
    }

    fn config(hops: Vec<String>) -> OutboundConfig {
        OutboundConfig {
            next_hops: hops,
            connect_timeout_secs: 2,
            command_timeout_secs: 2,
            ..OutboundConfig::default()
        }
    }

    fn rcpts(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const BODY: &[u8] = b"From: a@example.com\r\nTo: b@lg.example.jp\r\nSubject: test\r\n\r\nline one\r\n.leading dot\r\n..two dots\r\nlast\r\n";

    fn is_delivered(r: &RcptResult) -> bool {
        matches!(r, RcptResult::Delivered { .. })
    }

    #[tokio::test]
    async fn all_recipients_delivered() {
        let sink = Sink::start(&[]);
        let d = Deliverer::try_new(&config(vec![sink.hop()])).expect("deliverer");
        let to = rcpts(&["one@lg.example.jp", "two@lg.example.jp"]);
        let results = d.deliver("sender@example.com", &to, BODY, "Q1").await;
        assert_eq!(results.len(), 2);
        for ((rcpt, result), want) in results.iter().zip(&to) {
            assert_eq!(rcpt, want);
            assert!(matches!(result, RcptResult::Delivered { reply } if reply.starts_with("250 ")), "{result:?}");
        }
        let msgs = sink.messages();
        assert_eq!(msgs.len(), 1);
        let (env, body) = &msgs[0];
        assert_eq!(env, &["MAIL sender@example.com", "RCPT one@lg.example.jp", "RCPT two@lg.example.jp"]);
        // Dot-stuffing undone by the peer, CRLF kept, no extra blank line.
        assert_eq!(body.as_slice(), BODY);
    }

    #[tokio::test]
    async fn mixed_per_recipient_outcomes() {
        let sink = Sink::start(&[]);
        let d = Deliverer::try_new(&config(vec![sink.hop()])).expect("deliverer");
        let to = rcpts(&[
            "ok1@lg.example.jp",
            "reject@lg.example.jp",
            "defer@lg.example.jp",
            "ok2@lg.example.jp",
            "ok1@lg.example.jp",
            "not an address",
        ]);
        let results = d.deliver("sender@example.com", &to, BODY, "Q2").await;
        let got: Vec<&str> = results.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(
            got,
            ["ok1@lg.example.jp", "reject@lg.example.jp", "defer@lg.example.jp", "ok2@lg.example.jp", "not an address"]
        );
        assert!(is_delivered(&results[0].1), "{:?}", results[0]);
        assert!(
            matches!(&results[1].1, RcptResult::Failed { reply } if reply.starts_with("550 5.1.1")),
            "{:?}",
            results[1]
        );
        assert!(
            matches!(&results[2].1, RcptResult::Deferred { reply } if reply.starts_with("451 4.2.1")),
            "{:?}",
            results[2]
        );
        assert!(is_delivered(&results[3].1), "{:?}", results[3]);
        assert!(
            matches!(&results[4].1, RcptResult::Failed { reply } if reply.starts_with("5.1.3")),
            "{:?}",
            results[4]
        );
        let msgs = sink.messages();
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].0, ["MAIL sender@example.com", "RCPT ok1@lg.example.jp", "RCPT ok2@lg.example.jp"]);
    }

    #[tokio::test]
    async fn no_data_when_every_rcpt_refused_and_mail_5xx_fails_all() {
        let sink = Sink::start(&[]);
        let d = Deliverer::try_new(&config(vec![sink.hop()])).expect("deliverer");
        let results =
            d.deliver("sender@example.com", &rcpts(&["reject@lg.example.jp", "defer@lg.example.jp"]), BODY, "Q3").await;
        assert!(matches!(results[0].1, RcptResult::Failed { .. }));
        assert!(matches!(results[1].1, RcptResult::Deferred { .. }));
        let results =
            d.deliver("mailreject@example.com", &rcpts(&["a@lg.example.jp", "b@lg.example.jp"]), BODY, "Q4").await;
        for (_, r) in &results {
            assert!(matches!(r, RcptResult::Failed { reply } if reply.starts_with("550 5.7.1")), "{r:?}");
        }
        assert!(sink.messages().is_empty(), "no DATA may have been sent");
        // The connection survived both and was reused (RSET between).
        let results = d.deliver("", &rcpts(&["c@lg.example.jp"]), BODY, "Q5").await;
        assert!(is_delivered(&results[0].1), "{results:?}");
        assert_eq!(sink.messages()[0].0, ["MAIL <>", "RCPT c@lg.example.jp"]);
        assert_eq!(sink.connections(), 1);
    }

    #[tokio::test]
    async fn first_hop_down_second_used() {
        let sink = Sink::start(&[]);
        let down = format!("127.0.0.1:{}", closed_port());
        let d = Deliverer::try_new(&config(vec![down.clone(), sink.hop()])).expect("deliverer");
        let results = d.deliver("sender@example.com", &rcpts(&["a@lg.example.jp"]), BODY, "Q6").await;
        assert!(is_delivered(&results[0].1), "{results:?}");
        assert_eq!(sink.messages().len(), 1);
        // The dead hop is now tried last.
        let order: Vec<&str> = d.hop_order().iter().map(|h| h.name.as_str()).collect();
        assert_eq!(order, [sink.hop().as_str(), down.as_str()]);
    }

    #[tokio::test]
    async fn mail_4xx_fails_over_to_next_hop() {
        let busy = Sink::start(&["--defer-mail"]);
        let good = Sink::start(&[]);
        let d = Deliverer::try_new(&config(vec![busy.hop(), good.hop()])).expect("deliverer");
        let results = d.deliver("sender@example.com", &rcpts(&["a@lg.example.jp"]), BODY, "Q7").await;
        assert!(is_delivered(&results[0].1), "{results:?}");
        assert_eq!(busy.connections(), 1);
        assert!(busy.messages().is_empty());
        assert_eq!(good.messages().len(), 1);
    }

    #[tokio::test]
    async fn every_hop_down_defers_everyone() {
        let d = Deliverer::try_new(&config(vec![
            format!("127.0.0.1:{}", closed_port()),
            format!("127.0.0.1:{}", closed_port()),
        ]))
        .expect("deliverer");
        let results =
            d.deliver("sender@example.com", &rcpts(&["a@lg.example.jp", "b@lg.example.jp"]), BODY, "Q8").await;
        assert_eq!(results.len(), 2);
        for (_, r) in &results {
            assert!(
                matches!(r, RcptResult::Deferred { reply } if reply.starts_with("4.4.1 connect to") && reply.ends_with("(every next hop failed)")),
                "{r:?}"
            );
            let RcptResult::Deferred { reply } = r else { unreachable!() };
            assert_eq!(crate::dsn::status_from_reply(reply, false), "4.4.1");
        }
    }

    #[tokio::test]
    async fn silent_hop_times_out_into_deferred() {
        // Accepts TCP but never sends a greeting.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let hop = format!("127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = listener.accept().await {
                held.push(s);
            }
        });
        let cfg = OutboundConfig { connect_timeout_secs: 1, command_timeout_secs: 1, ..config(vec![hop]) };
        let d = Deliverer::try_new(&cfg).expect("deliverer");
        let started = Instant::now();
        let results = d.deliver("sender@example.com", &rcpts(&["a@lg.example.jp"]), BODY, "Q9").await;
        assert!(matches!(&results[0].1, RcptResult::Deferred { reply } if reply.contains("timed out")), "{results:?}");
        assert!(started.elapsed() < Duration::from_secs(6));
        hold.abort();
    }

    #[tokio::test]
    async fn connection_reused_across_deliveries() {
        let sink = Sink::start(&[]);
        let d = Arc::new(Deliverer::try_new(&config(vec![sink.hop()])).expect("deliverer"));
        for qid in ["QA", "QB"] {
            let results = d.deliver("sender@example.com", &rcpts(&["a@lg.example.jp"]), BODY, qid).await;
            assert!(is_delivered(&results[0].1), "{results:?}");
        }
        assert_eq!(sink.messages().len(), 2);
        assert_eq!(sink.connections(), 1, "the second delivery must reuse the first connection");
        assert_eq!(d.idle_connections(), [(sink.hop(), 1)]);
        d.close_idle().await;
        assert_eq!(d.idle_connections(), [(sink.hop(), 0)]);
        let results = d.deliver("sender@example.com", &rcpts(&["a@lg.example.jp"]), BODY, "QC").await;
        assert!(is_delivered(&results[0].1));
        assert_eq!(sink.connections(), 2);
    }

    #[tokio::test]
    async fn concurrent_deliveries_stay_within_the_pool_bound() {
        let sink = Sink::start(&[]);
        let cfg = OutboundConfig { max_connections_per_hop: 2, ..config(vec![sink.hop()]) };
        let d = Arc::new(Deliverer::try_new(&cfg).expect("deliverer"));
        let mut tasks = Vec::new();
        for i in 0..6 {
            let d = d.clone();
            tasks.push(tokio::spawn(async move {
                d.deliver("sender@example.com", &[format!("u{i}@lg.example.jp")], BODY, &format!("QP{i}")).await
            }));
        }
        for t in tasks {
            let results = t.await.expect("task");
            assert!(is_delivered(&results[0].1), "{results:?}");
        }
        assert_eq!(sink.messages().len(), 6);
        assert!(sink.connections() <= 2, "{} connections", sink.connections());
    }

    #[tokio::test]
    async fn utf8_address_uses_smtputf8_and_bare_lf_is_normalised() {
        let sink = Sink::start(&[]);
        let d = Deliverer::try_new(&config(vec![sink.hop()])).expect("deliverer");
        let body = b"Subject: x\n\nbare lf\n.\nbare cr\rend";
        let results = d.deliver("sender@example.com", &rcpts(&["たろう@lg.example.jp"]), body, "QU").await;
        assert!(is_delivered(&results[0].1), "{results:?}");
        let msgs = sink.messages();
        assert_eq!(msgs[0].0, ["MAIL sender@example.com", "OPT SMTPUTF8", "RCPT たろう@lg.example.jp"]);
        assert_eq!(msgs[0].1, b"Subject: x\r\n\r\nbare lf\r\n.\r\nbare cr\r\nend\r\n");
    }

    #[tokio::test]
    async fn utf8_address_without_smtputf8_fails() {
        let sink = Sink::start(&["--no-smtputf8"]);
        let d = Deliverer::try_new(&config(vec![sink.hop()])).expect("deliverer");
        let results =
            d.deliver("sender@example.com", &rcpts(&["たろう@lg.example.jp", "a@lg.example.jp"]), BODY, "QV").await;
        for (_, r) in &results {
            assert!(matches!(r, RcptResult::Failed { reply } if reply.starts_with("5.6.7")), "{r:?}");
        }
        assert!(sink.messages().is_empty());
    }

    #[tokio::test]
    async fn required_tls_without_starttls_defers() {
        let sink = Sink::start(&[]);
        let cfg = OutboundConfig { tls: TlsMode::Required, ..config(vec![sink.hop()]) };
        let d = Deliverer::try_new(&cfg).expect("deliverer");
        let results = d.deliver("sender@example.com", &rcpts(&["a@lg.example.jp"]), BODY, "QT").await;
        assert!(matches!(&results[0].1, RcptResult::Deferred { reply } if reply.contains("STARTTLS")), "{results:?}");
        assert!(sink.messages().is_empty());
    }

    #[tokio::test]
    async fn bad_sender_fails_everyone_without_connecting() {
        let d = Deliverer::try_new(&config(vec![format!("127.0.0.1:{}", closed_port())])).expect("deliverer");
        let results = d.deliver("bad sender\r\nRSET", &rcpts(&["a@lg.example.jp"]), BODY, "QS").await;
        assert!(
            matches!(&results[0].1, RcptResult::Failed { reply } if reply.starts_with("5.1.7") && !reply.contains('\r')),
            "{results:?}"
        );
    }

    /// A test CA and a leaf for 127.0.0.1 signed by it, made with the openssl CLI.
    fn make_test_pki(dir: &std::path::Path) {
        let run = |args: &[&str]| {
            let out = Command::new("openssl").args(args).current_dir(dir).output().unwrap_or_else(|e| {
                panic!("the STARTTLS test needs the openssl command line tool (Debian package openssl): {e}")
            });
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        run(&[
            &["req", "-x509"][..],
            &ec[..],
            &["-days", "2", "-subj", "/CN=mugaika test CA", "-keyout", "ca.key", "-out", "ca.pem"][..],
        ]
        .concat());
        run(&[&["req"][..], &ec[..], &["-subj", "/CN=127.0.0.1", "-keyout", "leaf.key", "-out", "leaf.csr"][..]]
            .concat());
        std::fs::write(
            dir.join("leaf.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .expect("ext");
        run(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ]);
    }

    #[tokio::test]
    async fn starttls_verifies_the_certificate() {
        let pki = temp_dir("pki");
        make_test_pki(&pki);
        let sink = Sink::start(&["--tls", pki.to_str().expect("utf-8 path")]);
        let ca_file = Some(pki.join("ca.pem").to_string_lossy().into_owned());
        let to = rcpts(&["a@lg.example.jp"]);

        let trusted = OutboundConfig { tls: TlsMode::Required, ca_file: ca_file.clone(), ..config(vec![sink.hop()]) };
        let d = Deliverer::try_new(&trusted).expect("deliverer");
        let results = d.deliver("sender@example.com", &to, BODY, "QT1").await;
        assert!(is_delivered(&results[0].1), "{results:?}");
        let msgs = sink.messages();
        assert_eq!(msgs[0].0.last().map(String::as_str), Some("TLS"), "{:?}", msgs[0].0);
        // Reuse keeps the encrypted connection (aiosmtpd counts the TLS upgrade as a connection too).
        let after_first = sink.connections();
        let results = d.deliver("sender@example.com", &to, BODY, "QT2").await;
        assert!(is_delivered(&results[0].1), "{results:?}");
        assert_eq!(sink.messages()[1].0.last().map(String::as_str), Some("TLS"));
        assert_eq!(sink.connections(), after_first);

        // Without the CA the certificate does not verify: no plaintext fallback, even when opportunistic.
        for tls in [TlsMode::Required, TlsMode::Opportunistic] {
            let d = Deliverer::try_new(&OutboundConfig { tls, ..config(vec![sink.hop()]) }).expect("deliverer");
            let results = d.deliver("sender@example.com", &to, BODY, "QT3").await;
            assert!(
                matches!(&results[0].1, RcptResult::Deferred { reply } if reply.contains("4.7.10")),
                "{tls:?} {results:?}"
            );
        }
        assert_eq!(sink.messages().len(), 2);

        // A ca_file that is not PEM is a setup error.
        std::fs::write(pki.join("junk.pem"), "not a certificate").expect("write");
        let junk = OutboundConfig {
            tls: TlsMode::Required,
            ca_file: Some(pki.join("junk.pem").to_string_lossy().into_owned()),
            ..config(vec![sink.hop()])
        };
        assert!(Deliverer::try_new(&junk).is_err());
        // new() never fails: it defers everything, with the reason.
        let d = Deliverer::new(&junk);
        let results = d.deliver("sender@example.com", &to, BODY, "QT4").await;
        assert!(
            matches!(&results[0].1, RcptResult::Deferred { reply } if reply.starts_with("4.3.5") && reply.contains("ca_file")),
            "{results:?}"
        );
        let _ = std::fs::remove_dir_all(&pki);
    }

    #[test]
    fn backoff_schedule() {
        let c = OutboundConfig::default();
        let got: Vec<u64> = (0..8).map(|n| next_retry_delay(&c, n)).collect();
        assert_eq!(got, [60, 60, 120, 240, 480, 900, 900, 900]);
        assert_eq!(next_retry_delay(&c, u32::MAX), 900);
        let short = OutboundConfig { first_retry_secs: 1, max_retry_secs: 4, ..c.clone() };
        let got: Vec<u64> = (1..6).map(|n| next_retry_delay(&short, n)).collect();
        assert_eq!(got, [1, 2, 4, 4, 4]);
        let zero = OutboundConfig { first_retry_secs: 0, max_retry_secs: 0, ..c };
        assert_eq!(next_retry_delay(&zero, 3), 1);
    }

    #[test]
    fn config_defaults_parse_and_validation() {
        let c: OutboundConfig = toml::from_str("").expect("empty");
        assert_eq!(c, OutboundConfig::default());
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        assert_eq!(c.lifetime_secs, 432_000);
        let c: OutboundConfig = toml::from_str(
            "next_hops = [\"mx1.lg.example.jp:25\", \"[::1]:2526\"]\ntls = \"opportunistic\"\nfirst_retry_secs = 5\nmax_retry_secs = 20\n",
        )
        .expect("parse");
        assert_eq!(c.tls, TlsMode::Opportunistic);
        assert!(c.validate().is_empty(), "{:?}", c.validate());
        assert!(toml::from_str::<OutboundConfig>("nexthops = []").is_err());
        assert!(toml::from_str::<OutboundConfig>("tls = \"maybe\"").is_err());
        let bad = OutboundConfig {
            next_hops: vec!["nohost".into(), "h:0".into(), "::1:25".into(), "bad host:25".into()],
            helo_name: "a b".into(),
            command_timeout_secs: 0,
            max_retry_secs: 1,
            max_connections_per_hop: 0,
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..OutboundConfig::default()
        };
        assert_eq!(bad.validate().len(), 9, "{:#?}", bad.validate());
        assert!(matches!(Deliverer::try_new(&bad), Err(OutboundError::Config(_))));
        assert_eq!(parse_hop("[::1]:25"), Ok(("::1".to_string(), 25)));
    }

    #[test]
    fn body_preparation() {
        assert_eq!(prepare_body(b"a\r\nb\r\n"), b"a\r\nb");
        assert_eq!(prepare_body(b"a\nb"), b"a\r\nb");
        assert_eq!(prepare_body(b"a\r\rb\n\r"), b"a\r\n\r\nb\r\n");
        assert_eq!(prepare_body(b""), b"");
        assert_eq!(prepare_body(b"\r\n"), b"");
    }

    #[test]
    fn replies_are_cleaned_and_bounded() {
        let long = "x".repeat(2000) + "é";
        assert_eq!(clean_reply(&long).len(), MAX_REPLY_BYTES);
        assert_eq!(clean_reply("550 a\r\nb\0c"), "550 a  b c");
        let multibyte = "あ".repeat(400);
        let cleaned = clean_reply(&multibyte);
        assert!(cleaned.len() <= MAX_REPLY_BYTES && cleaned.chars().all(|c| c == 'あ'));
    }
}
