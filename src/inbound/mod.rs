//! Inbound (Internet side): the SMTP server.
//!
//! [`session`] is the sans-IO ESMTP state machine (bytes in, replies and
//! complete messages out); the socket/TLS driver around it comes with
//! `mugaika serve`.

pub mod session;
