//! Inbound (Internet side): the SMTP server.
//!
//! [`session`] is the sans-IO ESMTP state machine (bytes in, replies and
//! complete messages out); [`server`] is the socket/TLS driver around it.

pub mod server;
pub mod session;
