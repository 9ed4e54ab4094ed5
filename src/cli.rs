//! The command line: `mugaika sanitize`, `serve`, `check-config` and
//! `quarantine list`.
//!
//! `mugaika sanitize [--config FILE] [--report FILE] [INPUT]` is a contract
//! other tools depend on (see README "CLI contract"):
//!
//! | exit | meaning |
//! |---|---|
//! | 0 | delivered: the sanitised message is on stdout |
//! | 3 | quarantined: nothing on stdout; the report says why |
//! | 2 | usage or config error: one line on stderr |
//! | 1 | internal error (must not happen; treated as quarantine) |

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use mugaika_sanitizers::Verdict;

use crate::config::Config;

pub const EXIT_DELIVERED: u8 = 0;
pub const EXIT_INTERNAL: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_QUARANTINED: u8 = 3;

#[derive(Debug, Parser)]
#[command(name = "mugaika", version, about = "無害化 mail sanitisation relay")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sanitise one message: exit 0 delivered (message on stdout), 3 quarantined, 2 usage/config error, 1 internal error.
    Sanitize {
        /// Config file (defaults are embedded).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write the JSON report here (schema: docs/report.md).
        #[arg(long)]
        report: Option<PathBuf>,
        /// The message (default: stdin).
        input: Option<PathBuf>,
    },
    /// Run the relay (SMTP in, sanitise, deliver to the LGWAN side).
    Serve {
        /// Config file (defaults are embedded; re-read on SIGHUP for the policy).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override server.listen.
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<String>,
        /// Override outbound.next_hops (repeatable: failover order).
        #[arg(long = "next-hop", value_name = "HOST:PORT")]
        next_hop: Vec<String>,
        /// Override data_dir.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Override server.relay_domains (repeatable).
        #[arg(long = "relay-domain", value_name = "DOMAIN")]
        relay_domain: Vec<String>,
    },
    /// Internal: render one attachment (request on stdin, answer on stdout);
    /// started by the relay and `sanitize` with rlimits and a timeout.
    #[command(hide = true)]
    RenderWorker,
    /// Check a config file: print every problem, exit 2 on error.
    CheckConfig { file: PathBuf },
    /// Quarantined messages.
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// One line per held message: retrieval id, date, sender, subject, reason codes. Works while the relay runs.
    List {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override data_dir.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::from(if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    EXIT_USAGE
                } else {
                    0
                });
            }
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("usage error").trim_start_matches("error: ");
            eprintln!("mugaika: {first} (see mugaika --help)");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match cli.command {
        Command::Sanitize { config, report, input } => {
            init_logging();
            ExitCode::from(sanitize(config, report, input))
        }
        Command::Serve { config, listen, next_hop, data_dir, relay_domain } => {
            let mut cfg = match load_or_default(config.as_ref()) {
                Ok(c) => c,
                Err(code) => return ExitCode::from(code),
            };
            if let Some(l) = listen {
                cfg.server.listen = l;
            }
            if !next_hop.is_empty() {
                cfg.outbound.next_hops = next_hop;
            }
            if let Some(d) = data_dir {
                cfg.data_dir = d;
            }
            if !relay_domain.is_empty() {
                cfg.server.relay_domains = relay_domain;
            }
            if let Err(e) = cfg.validate() {
                eprintln!("mugaika: config error: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
            crate::telemetry::init_logging(&cfg.telemetry);
            // 8 MiB per thread: the sanitiser runs on the blocking threads, and
            // the parse tree of a deeply nested message is dropped recursively
            // (sanitizers/examples/stack_probe.rs shows 2 MiB is enough in
            // release for the deepest input the pre-checks let through).
            let runtime =
                match tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 << 20).build() {
                    Ok(r) => r,
                    Err(e) => {
                        eprintln!("mugaika: cannot start the runtime: {e}");
                        return ExitCode::from(EXIT_INTERNAL);
                    }
                };
            match runtime.block_on(crate::relay::run(cfg, config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("mugaika: {e:#}");
                    ExitCode::from(EXIT_INTERNAL)
                }
            }
        }
        Command::Quarantine { command: QuarantineCommand::List { config, data_dir } } => {
            let cfg = match load_or_default(config.as_ref()) {
                Ok(c) => c,
                Err(code) => return ExitCode::from(code),
            };
            let dir = data_dir.unwrap_or(cfg.data_dir);
            match crate::spool::list_quarantined(&dir) {
                Ok(rows) => {
                    let mut out = std::io::stdout().lock();
                    for r in rows {
                        let date = mail_parser::DateTime::from_timestamp(r.received_at as i64).to_rfc3339();
                        let subject = mugaika_sanitizers::text::display_name(r.subject.as_deref().unwrap_or(""), 80);
                        let _ = writeln!(
                            out,
                            "{}\t{}\t{}\t{}\t{}",
                            r.retrieval_id,
                            date,
                            if r.sender.is_empty() { "<>" } else { &r.sender },
                            subject,
                            r.reasons.join(",")
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("mugaika: cannot read the quarantine in {}: {e}", dir.display());
                    ExitCode::from(EXIT_USAGE)
                }
            }
        }
        Command::RenderWorker => match crate::rendering::worker_main() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mugaika render-worker: {e}");
                ExitCode::from(1)
            }
        },
        Command::CheckConfig { file } => match Config::load(&file) {
            Ok(_) => {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                for p in &e.problems {
                    eprintln!("{p}");
                }
                ExitCode::from(EXIT_USAGE)
            }
        },
    }
}

/// The config file, or the embedded defaults; a bad file is a usage error.
fn load_or_default(path: Option<&PathBuf>) -> Result<Config, u8> {
    match path {
        Some(p) => Config::load(p).map_err(|e| {
            eprintln!("mugaika: config error: {e}");
            EXIT_USAGE
        }),
        None => Ok(Config::default()),
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MUGAIKA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

fn sanitize(config: Option<PathBuf>, report_path: Option<PathBuf>, input: Option<PathBuf>) -> u8 {
    let config = match config {
        Some(path) => match Config::load(&path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("mugaika: config error: {e}");
                return EXIT_USAGE;
            }
        },
        None => Config::default(),
    };
    let limit = config.limits.max_message_bytes;
    let raw = match read_input(input.as_ref(), limit) {
        Ok(raw) => raw,
        Err(e) => {
            eprintln!(
                "mugaika: cannot read {}: {e}",
                input.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "stdin".into())
            );
            return EXIT_USAGE;
        }
    };
    let pipeline = crate::rendering::pipeline_for(&config);
    let policy = config.policy.clone();
    // A large stack: the pipeline is bounded in depth, but the parse tree of a
    // hostile message is dropped recursively.
    let run = std::thread::Builder::new()
        .name("sanitize".into())
        .stack_size(256 << 20)
        .spawn(move || pipeline.run_with(&raw, None, &policy))
        .and_then(|h| h.join().map_err(|_| std::io::Error::other("sanitiser thread panicked")));
    let sanitized = match run {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mugaika: internal error: {e}");
            return EXIT_INTERNAL;
        }
    };
    let verdict = sanitized.report.verdict;
    tracing::info!(
        retrieval_id = %sanitized.report.retrieval_id,
        verdict = ?verdict,
        reasons = ?sanitized.report.reasons,
        "sanitised"
    );
    if let Some(path) = report_path {
        let json = match serde_json::to_vec_pretty(&sanitized.report) {
            Ok(j) => j,
            Err(e) => {
                eprintln!("mugaika: internal error: cannot serialise report: {e}");
                return EXIT_INTERNAL;
            }
        };
        if let Err(e) = std::fs::write(&path, json) {
            eprintln!("mugaika: cannot write report {}: {e}", path.display());
            return EXIT_INTERNAL;
        }
    }
    match (verdict, sanitized.output) {
        (Verdict::Deliver, Some(out)) => {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(&out).and_then(|_| stdout.flush()) {
                eprintln!("mugaika: cannot write output: {e}");
                return EXIT_INTERNAL;
            }
            EXIT_DELIVERED
        }
        _ => EXIT_QUARANTINED,
    }
}

/// Reads at most `limit + 1` bytes, so an oversized input is seen as such
/// (and quarantined by the size limit) without reading it all into memory.
fn read_input(input: Option<&PathBuf>, limit: usize) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let take = (limit as u64).saturating_add(1);
    match input {
        Some(path) => std::fs::File::open(path)?.take(take).read_to_end(&mut raw)?,
        None => std::io::stdin().lock().take(take).read_to_end(&mut raw)?,
    };
    Ok(raw)
}
