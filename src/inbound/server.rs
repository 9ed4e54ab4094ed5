//! The SMTP listener: accepts connections from the Internet-side MTA and
//! drives one [`Session`] per connection over TCP or TLS.
//!
//! The driver owns everything the sans-IO session does not: sockets, the
//! STARTTLS handshake (rustls), the idle timeout, the client-network check,
//! the connection limit, the `Received:` header, and the hand-off of a
//! complete message to the spool. A message is answered 250 only after
//! [`crate::spool::Spool::accept`] returned, that is after the file and its
//! directory were fsynced; a storage failure answers `452 4.3.1` and a
//! sanitiser backlog over its limit answers `451 4.3.2`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::session::{Event, Session, SessionConfig, StoreOutcome};
use crate::relay::Relay;
use crate::spool;
use crate::telemetry::Metrics;

/// `[server]` settings: the SMTP listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: String,
    /// Our host name (greeting, Received:).
    pub hostname: String,
    /// Client networks allowed to send (CIDR); others get 554.
    pub allowed_networks: Vec<String>,
    /// Recipient domains we relay to; `.example.lg.jp` means every subdomain.
    pub relay_domains: Vec<String>,
    pub max_message_bytes: usize,
    pub max_recipients: usize,
    pub max_connections: usize,
    pub max_line_bytes: usize,
    pub max_bad_commands: usize,
    pub idle_timeout_secs: u64,
    /// PEM certificate chain and key for STARTTLS; both or neither.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub require_tls: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: "127.0.0.1:2525".into(),
            hostname: "mugaika.localdomain".into(),
            allowed_networks: vec!["127.0.0.0/8".into(), "::1/128".into()],
            relay_domains: vec![".lg.jp".into()],
            max_message_bytes: 50 << 20,
            max_recipients: 100,
            max_connections: 100,
            max_line_bytes: 2048,
            max_bad_commands: 10,
            idle_timeout_secs: 300,
            tls_cert: None,
            tls_key: None,
            require_tls: false,
        }
    }
}

/// A parsed CIDR network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(s: &str) -> Option<Network> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let a = s.parse::<IpAddr>().ok()?;
                (a, if a.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Network { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 { 0 } else { u32::MAX << (32 - self.prefix) };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - self.prefix) };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl ServerConfig {
    /// Problems serde cannot see.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.listen.parse::<SocketAddr>().is_err() {
            p.push(format!("server.listen {:?} is not ADDR:PORT", self.listen));
        }
        for n in &self.allowed_networks {
            if Network::parse(n).is_none() {
                p.push(format!("server.allowed_networks: {n:?} is not a CIDR network"));
            }
        }
        if self.relay_domains.is_empty() {
            p.push("server.relay_domains is empty: every recipient would be refused".into());
        }
        if self.max_message_bytes == 0 || self.max_recipients == 0 || self.max_connections == 0 {
            p.push("server.max_message_bytes, max_recipients and max_connections must be > 0".into());
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            p.push("server.tls_cert and server.tls_key go together".into());
        }
        if self.require_tls && self.tls_cert.is_none() {
            p.push("server.require_tls needs tls_cert and tls_key".into());
        }
        p
    }

    fn session_config(&self, tls: bool) -> SessionConfig {
        SessionConfig {
            hostname: self.hostname.clone(),
            max_message_bytes: self.max_message_bytes,
            max_recipients: self.max_recipients,
            max_line_bytes: self.max_line_bytes,
            max_bad_commands: self.max_bad_commands,
            relay_domains: self.relay_domains.clone(),
            starttls_available: tls,
            require_tls: self.require_tls,
        }
    }
}

/// Loads the STARTTLS certificate and key (PEM).
pub fn tls_acceptor(config: &ServerConfig) -> anyhow::Result<Option<TlsAcceptor>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) else { return Ok(None) };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| anyhow::anyhow!("{}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{}: {e}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(Some(TlsAcceptor::from(Arc::new(tls))))
}

/// Accepts connections until `shutdown` flips; each runs in its own task.
pub async fn run(
    listener: TcpListener,
    relay: Arc<Relay>,
    tls: Option<TlsAcceptor>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let networks: Vec<Network> =
        relay.config.server.allowed_networks.iter().filter_map(|n| Network::parse(n)).collect();
    let limit = Arc::new(tokio::sync::Semaphore::new(relay.config.server.max_connections));
    let tasks = tokio_util_tasks::Tasks::default();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let Ok((stream, peer)) = accepted else { continue };
        let allowed = networks.iter().any(|n| n.contains(peer.ip()));
        let relay = relay.clone();
        let tls = tls.clone();
        match limit.clone().try_acquire_owned() {
            Ok(permit) => tasks.spawn(async move {
                let _permit = permit;
                Metrics::inc(&relay.metrics.connections);
                handle(stream, peer, allowed, relay.clone(), tls).await;
                relay.metrics.connections.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }),
            Err(_) => {
                tasks.spawn(async move {
                    let mut stream = stream;
                    let _ = stream.write_all(b"421 4.7.0 Too many connections, try again later\r\n").await;
                });
            }
        }
    }
    // Drain: sessions in progress may finish their transaction.
    let grace = Duration::from_secs(30);
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!("sessions still open after {grace:?}; leaving them (nothing acknowledged is lost)");
    }
}

/// Tracks spawned connection tasks so shutdown can wait for them.
mod tokio_util_tasks {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::Notify;

    #[derive(Default, Clone)]
    pub struct Tasks {
        open: Arc<AtomicUsize>,
        done: Arc<Notify>,
    }

    impl Tasks {
        pub fn spawn<F: std::future::Future<Output = ()> + Send + 'static>(&self, f: F) {
            self.open.fetch_add(1, Ordering::SeqCst);
            let me = self.clone();
            tokio::spawn(async move {
                f.await;
                me.open.fetch_sub(1, Ordering::SeqCst);
                me.done.notify_waiters();
            });
        }

        pub async fn wait(&self) {
            loop {
                let notified = self.done.notified();
                if self.open.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        }
    }
}

/// A connection before or after STARTTLS.
enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Gone,
}

impl Conn {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf).await,
            Conn::Tls(s) => s.read(buf).await,
            Conn::Gone => Ok(0),
        }
    }

    async fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => write_flush(s, data).await,
            Conn::Tls(s) => write_flush(s.as_mut(), data).await,
            Conn::Gone => Ok(()),
        }
    }
}

async fn write_flush<S: AsyncWrite + Unpin>(s: &mut S, data: &[u8]) -> std::io::Result<()> {
    s.write_all(data).await?;
    s.flush().await
}

/// Drives one SMTP session to its end.
async fn handle(stream: TcpStream, peer: SocketAddr, allowed: bool, relay: Arc<Relay>, tls: Option<TlsAcceptor>) {
    let _ = stream.set_nodelay(true);
    let cfg = &relay.config.server;
    let (mut session, events) = Session::new(cfg.session_config(tls.is_some()), allowed);
    let mut conn = Conn::Plain(stream);
    let idle = Duration::from_secs(cfg.idle_timeout_secs.max(1));
    let mut pending = events;
    let mut buf = vec![0u8; 64 * 1024];
    let mut tls_active = false;
    loop {
        // Act on events in order; a stored message produces more events.
        let mut out: Vec<u8> = Vec::new();
        let mut i = 0;
        while i < pending.len() {
            match std::mem::replace(&mut pending[i], Event::Close) {
                Event::Reply(r) => out.extend_from_slice(&r),
                Event::Close => {
                    let _ = conn.write_all(&out).await;
                    return;
                }
                Event::StartTls => {
                    if conn.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                    let Some(acceptor) = &tls else { return };
                    let Conn::Plain(plain) = std::mem::replace(&mut conn, Conn::Gone) else { return };
                    match tokio::time::timeout(idle, acceptor.accept(plain)).await {
                        Ok(Ok(s)) => {
                            conn = Conn::Tls(Box::new(s));
                            tls_active = true;
                            session.tls_started();
                        }
                        _ => return,
                    }
                }
                Event::Message { envelope, data } => {
                    // Replies so far go out first (pipelined clients wait for them in order).
                    if !out.is_empty() {
                        if conn.write_all(&out).await.is_err() {
                            return;
                        }
                        out.clear();
                    }
                    let outcome = store(&relay, &envelope, data, peer, tls_active).await;
                    let more = session.message_stored(outcome);
                    pending.splice(i + 1..i + 1, more);
                }
            }
            i += 1;
        }
        pending.clear();
        if !out.is_empty() && conn.write_all(&out).await.is_err() {
            return;
        }
        if session.is_closed() {
            return;
        }
        let n = match tokio::time::timeout(idle, conn.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => n,
            Err(_) => {
                let _ = conn.write_all(&session.timeout_reply()).await;
                return;
            }
        };
        pending = session.feed(&buf[..n]);
    }
}

/// Stores one received message durably and hands it to the sanitisers.
async fn store(
    relay: &Arc<Relay>,
    env: &super::session::Envelope,
    data: Vec<u8>,
    peer: SocketAddr,
    tls: bool,
) -> StoreOutcome {
    if relay.backlog_full() {
        tracing::warn!(peer = %peer, "sanitiser backlog full; deferring new mail");
        Metrics::inc(&relay.metrics.rejected);
        return StoreOutcome::Busy;
    }
    let now = crate::relay::unix_now();
    let queue_id = relay.spool.new_queue_id();
    let received = received_header(&relay.config.server.hostname, env, peer, tls, queue_id.as_str(), now);
    let mut whole = Vec::with_capacity(received.len() + data.len());
    whole.extend_from_slice(received.as_bytes());
    whole.extend_from_slice(&data);
    let retrieval_id = mugaika_sanitizers::pipeline::retrieval_id(&whole);
    let envelope = spool::Envelope {
        queue_id: queue_id.clone(),
        retrieval_id: retrieval_id.clone(),
        mail_from: env.mail_from.clone(),
        rcpt_to: env.rcpt_to.clone(),
        helo: env.helo.clone(),
        peer: peer.to_string(),
        received_at: now,
        smtputf8: env.smtputf8,
    };
    let spool = relay.spool.clone();
    let result = tokio::task::spawn_blocking(move || spool.accept(&envelope, &[&whole])).await;
    match result {
        Ok(Ok(())) => {
            Metrics::inc(&relay.metrics.accepted);
            tracing::info!(queue_id = %queue_id, retrieval_id = %retrieval_id, from = %env.mail_from, rcpts = env.rcpt_to.len(), "accepted");
            relay.enqueue_sanitise(queue_id.clone());
            StoreOutcome::Accepted { queue_id: queue_id.to_string() }
        }
        Ok(Err(e)) => {
            Metrics::inc(&relay.metrics.rejected);
            tracing::error!(queue_id = %queue_id, error = %e, "spool refused the message");
            if e.is_storage() { StoreOutcome::NoSpace } else { StoreOutcome::Failed }
        }
        Err(e) => {
            Metrics::inc(&relay.metrics.rejected);
            tracing::error!(queue_id = %queue_id, error = %e, "spool task failed");
            StoreOutcome::Failed
        }
    }
}

/// `Received:` for our hop (RFC 5321 §4.4), folded, 7-bit.
fn received_header(
    hostname: &str,
    env: &super::session::Envelope,
    peer: SocketAddr,
    tls: bool,
    queue_id: &str,
    now: u64,
) -> String {
    let protocol = if tls && !env.protocol().contains('S') { "ESMTPS" } else { env.protocol() };
    let date = mail_parser::DateTime::from_timestamp(now as i64).to_rfc822();
    let helo: String = env.helo.chars().filter(|c| c.is_ascii_graphic()).take(255).collect();
    let host: String = hostname.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-').collect();
    let mut s =
        format!("Received: from {helo} ([{}])\r\n\tby {host} (mugaika) with {protocol} id {queue_id}", peer.ip());
    if let [one] = env.rcpt_to.as_slice()
        && one.is_ascii()
    {
        s.push_str(&format!("\r\n\tfor <{one}>"));
    }
    s.push_str(&format!(";\r\n\t{date}\r\n"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let n = Network::parse("192.0.2.0/24").unwrap();
        assert!(n.contains("192.0.2.9".parse().unwrap()));
        assert!(!n.contains("192.0.3.9".parse().unwrap()));
        assert!(n.contains("::ffff:192.0.2.1".parse().unwrap()));
        assert!(Network::parse("::1/128").unwrap().contains("::1".parse().unwrap()));
        assert!(Network::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        assert!(Network::parse("10.0.0.0/33").is_none());
        assert!(Network::parse("nonsense").is_none());
    }
}
