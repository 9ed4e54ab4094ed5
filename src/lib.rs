//! mugaika: the 無害化 (mail sanitisation) relay between the Internet-side MTA
//! and the LGWAN-side MTA.
//!
//! This crate holds everything with I/O around the pure sanitiser core
//! (`mugaika-sanitizers`). Layout, in pipeline order:
//!
//! | module | what |
//! |---|---|
//! | [`config`] | the TOML config: parsed raw, validated once, every problem reported |
//! | [`policy`] | the decision from the report: deliver or quarantine |
//! | [`cli`] | `mugaika sanitize`, `serve`, `check-config`, `quarantine list` |
//! | [`relay`] | `mugaika serve`: the tasks wired together, signals, drain |
//! | [`inbound`] | the SMTP server: sans-IO session and its socket/TLS driver |
//! | [`spool`], [`store`] | the durable spool (fsync before 250) and the SQLite index of kept originals |
//! | [`worker`] | sanitising workers (bounded pool, wall-clock budget, fail closed) |
//! | [`rendering`] | the attachment renderers in a child process (rlimits, timeout) |
//! | [`delivery`], [`outbound`], [`dsn`] | the delivery manager, the SMTP client to the LGWAN side, bounces |
//! | [`telemetry`] | logs, counters, `/metrics` and `/healthz` |
//!
//! Still to come (see the issues): `admin` (quarantine review web UI).

pub mod cli;
pub mod config;
pub mod delivery;
pub mod dsn;
pub mod inbound;
pub mod outbound;
pub mod policy;
pub mod relay;
pub mod rendering;
pub mod spool;
pub mod store;
pub mod telemetry;
pub mod worker;
