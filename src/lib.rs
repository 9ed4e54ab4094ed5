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
//! | [`cli`] | `mugaika sanitize`, `mugaika check-config` |
//! | [`inbound`] | the SMTP server side (sans-IO session so far) |
//! | [`spool`], [`store`] | the durable spool (fsync before 250) and the SQLite index of kept originals |
//!
//! Still to come (see the issues): `inbound` (SMTP server), `spool`,
//! `outbound`, `quarantine`, `admin`.

pub mod cli;
pub mod config;
pub mod inbound;
pub mod policy;
pub mod spool;
pub mod store;
