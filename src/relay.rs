//! `mugaika serve`: the relay, wired together.
//!
//! ```text
//! inbound::server ──accept (fsync)──► spool incoming/ ──► worker (sanitise + policy)
//!                                                          ├─ deliver ──► spool outbound/ ──► delivery ──► LGWAN MTA
//!                                                          └─ quarantine ──► spool store/ (original + report)
//! ```
//!
//! [`Relay`] is the shared state the tasks hold: the immutable config, the
//! reloadable policy (SIGHUP), the spool, the counters and the two queues'
//! wake-ups. [`run`] opens the spool (recovering whatever a crash left),
//! starts the listener, the workers, the delivery manager, the retention
//! purge and the metrics endpoint, and drains on SIGTERM/SIGINT: the listener
//! stops, open sessions may finish their transaction (30 s), and everything
//! not finished stays in the spool for the next start.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::config::Config;
use crate::policy::PolicyConfig;
use crate::spool::{QueueId, Spool};
use crate::telemetry::{self, Metrics};

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// State shared by the relay's tasks.
pub struct Relay {
    pub config: Config,
    policy: RwLock<Arc<PolicyConfig>>,
    pub spool: Arc<Spool>,
    pub metrics: Arc<Metrics>,
    sanitise_tx: tokio::sync::mpsc::UnboundedSender<QueueId>,
    backlog: AtomicU64,
    pub delivery_wakeup: tokio::sync::Notify,
}

impl Relay {
    /// The current policy (reloaded on SIGHUP).
    pub fn policy(&self) -> Arc<PolicyConfig> {
        self.policy.read().map(|p| p.clone()).unwrap_or_else(|p| p.into_inner().clone())
    }

    fn set_policy(&self, policy: PolicyConfig) {
        if let Ok(mut p) = self.policy.write() {
            *p = Arc::new(policy);
        }
    }

    /// Hands an accepted message to the workers.
    pub fn enqueue_sanitise(&self, id: QueueId) {
        let n = self.backlog.fetch_add(1, Ordering::SeqCst) + 1;
        self.metrics.backlog.store(n, Ordering::Relaxed);
        if self.sanitise_tx.send(id).is_err() {
            tracing::error!("worker queue closed; the message stays in the spool for the next start");
        }
    }

    /// A worker finished a message.
    pub fn sanitise_done(&self) {
        let n = self.backlog.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        self.metrics.backlog.store(n, Ordering::Relaxed);
    }

    /// More accepted messages wait than `max_backlog`: new mail gets 451 4.3.2.
    pub fn backlog_full(&self) -> bool {
        self.backlog.load(Ordering::SeqCst) as usize >= self.config.workers.max_backlog
    }

    pub fn wake_delivery(&self) {
        self.delivery_wakeup.notify_one();
    }
}

/// Runs the relay until SIGTERM or SIGINT. `config_path` is re-read on SIGHUP
/// (policy only).
pub async fn run(config: Config, config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let spool_config = config.spool.clone();
    let (spool, recovery) = tokio::task::spawn_blocking(move || Spool::open(&data_dir, spool_config)).await??;
    tracing::info!(
        to_sanitise = recovery.to_sanitise.len(),
        queued = recovery.queued,
        discarded_tmp = recovery.discarded_tmp,
        index_rebuilt = recovery.index_rebuilt,
        "spool opened"
    );
    let listener = tokio::net::TcpListener::bind(&config.server.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, "listening");
    let tls = crate::inbound::server::tls_acceptor(&config.server)?;
    let (sanitise_tx, sanitise_rx) = tokio::sync::mpsc::unbounded_channel();
    let pipeline = Arc::new(crate::rendering::pipeline_for(&config));
    let relay = Arc::new(Relay {
        policy: RwLock::new(Arc::new(config.policy.clone())),
        spool: Arc::new(spool),
        metrics: Arc::new(Metrics::default()),
        sanitise_tx,
        backlog: AtomicU64::new(0),
        delivery_wakeup: tokio::sync::Notify::new(),
        config,
    });
    for id in recovery.to_sanitise {
        relay.enqueue_sanitise(id);
    }
    if !relay.config.telemetry.listen.is_empty() {
        let l = tokio::net::TcpListener::bind(&relay.config.telemetry.listen).await?;
        tracing::info!(listen = %l.local_addr()?, "metrics endpoint");
        tokio::spawn(telemetry::serve_http(l, relay.metrics.clone()));
    }
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(crate::worker::run(relay.clone(), sanitise_rx, pipeline));
    let delivery = tokio::spawn(crate::delivery::run(relay.clone(), shutdown_rx.clone()));
    tokio::spawn(purge_loop(relay.clone(), shutdown_rx.clone()));
    let server = tokio::spawn(crate::inbound::server::run(listener, relay.clone(), tls, shutdown_rx));

    wait_for_signals(&relay, config_path).await;
    tracing::info!("shutting down: no new connections; open sessions may finish");
    let _ = shutdown_tx.send(true);
    let _ = server.await;
    let _ = delivery.await;
    // Workers still running finish on their blocking threads or are cut off
    // with the process; their messages stay in incoming/ and are sanitised
    // again at the next start.
    tokio::time::sleep(Duration::from_millis(100)).await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signals(relay: &Arc<Relay>, config_path: Option<PathBuf>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) =
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup()))
    else {
        tracing::error!("cannot install signal handlers");
        return std::future::pending().await;
    };
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hup.recv() => reload_policy(relay, config_path.as_deref()),
        }
    }
}

/// SIGHUP: re-read the config file and swap in its policy (other sections
/// need a restart). A bad file keeps the current policy.
fn reload_policy(relay: &Arc<Relay>, path: Option<&std::path::Path>) {
    let Some(path) = path else {
        tracing::info!("SIGHUP: no config file to reload (embedded defaults)");
        return;
    };
    match Config::load(path) {
        Ok(c) => {
            relay.set_policy(c.policy);
            tracing::info!(path = %path.display(), "SIGHUP: policy reloaded");
        }
        Err(e) => tracing::error!(path = %path.display(), error = %e, "SIGHUP: config invalid; policy kept"),
    }
}

/// Enforces the retention of kept originals, hourly.
async fn purge_loop(relay: Arc<Relay>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        let retention = relay.config.retention_days * 86_400;
        let spool = relay.spool.clone();
        match tokio::task::spawn_blocking(move || spool.purge(unix_now(), retention)).await {
            Ok(Ok(n)) if n > 0 => tracing::info!(purged = n, "retention purge"),
            Ok(Err(e)) => tracing::error!(error = %e, "retention purge failed"),
            _ => {}
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = shutdown.changed() => return,
        }
    }
}
