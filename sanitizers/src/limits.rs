//! Limits and the work budget: every input is bounded before it is trusted.
//!
//! [`Limits`] is the configuration (the `[limits]` table of the config file);
//! [`Budget`] is the per-run meter. Every stage charges the budget for the bytes
//! it touches, so the total work of a run is bounded by a multiple of the input
//! size no matter how the input is shaped (a deterministic "CPU budget": the
//! same input always stops at the same place). An optional wall-clock deadline,
//! set by the caller, is checked at the same points; it is the only use of the
//! clock in this crate and it can only turn a result into a quarantine.
//!
//! Exceeding any limit is a `limit.*` finding of severity Danger: the message is
//! quarantined (fail closed), never passed through and never truncated into a
//! misleading rendition.

use serde::{Deserialize, Serialize};
use std::time::Instant;

use crate::report::codes;

/// Hard limits of one sanitisation run.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest raw message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Deepest nesting of multiparts and message/rfc822 parts.
    pub max_depth: usize,
    /// Most MIME parts in the whole message, nested messages included.
    pub max_parts: usize,
    /// Largest header section of the message or of any part, in bytes.
    pub max_header_bytes: usize,
    /// Most bytes decoded (base64/QP/charset) over the whole message.
    pub max_decoded_bytes: usize,
    /// Largest text produced for the body, in bytes.
    pub max_text_bytes: usize,
    /// Work units allowed per input byte (plus [`Limits::work_base`]). One unit
    /// is roughly one byte touched by one stage.
    pub work_per_byte: u64,
    /// Work units allowed regardless of input size.
    pub work_base: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 64 << 20,
            max_depth: 20,
            max_parts: 1000,
            max_header_bytes: 64 << 10,
            max_decoded_bytes: 256 << 20,
            max_text_bytes: 16 << 20,
            work_per_byte: 64,
            work_base: 64 << 20,
        }
    }
}

/// A limit was exceeded; carries the `limit.*` code and a detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitExceeded {
    pub code: &'static str,
    pub detail: String,
}

impl LimitExceeded {
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        LimitExceeded { code, detail: detail.into() }
    }
}

/// The per-run meter: work units, decoded bytes and the optional deadline.
#[derive(Debug)]
pub struct Budget {
    work_left: u64,
    decoded_left: usize,
    deadline: Option<Instant>,
}

impl Budget {
    pub fn new(limits: &Limits, input_len: usize, deadline: Option<Instant>) -> Self {
        let work = limits.work_base.saturating_add(limits.work_per_byte.saturating_mul(input_len as u64));
        Budget { work_left: work, decoded_left: limits.max_decoded_bytes, deadline }
    }

    /// Charge `units` of work; checks the deadline too.
    pub fn charge(&mut self, units: usize) -> Result<(), LimitExceeded> {
        let units = units as u64;
        if units > self.work_left {
            self.work_left = 0;
            return Err(LimitExceeded::new(codes::LIMIT_WORK, "work budget exhausted"));
        }
        self.work_left -= units;
        self.check_deadline()
    }

    /// Account for `bytes` of newly decoded data.
    pub fn decoded(&mut self, bytes: usize) -> Result<(), LimitExceeded> {
        if bytes > self.decoded_left {
            self.decoded_left = 0;
            return Err(LimitExceeded::new(codes::LIMIT_DECODED_BYTES, "decoded data exceeds max_decoded_bytes"));
        }
        self.decoded_left -= bytes;
        self.charge(bytes)
    }

    /// Time left before the deadline (`None`: no deadline).
    pub fn time_left(&self) -> Option<std::time::Duration> {
        self.deadline.map(|d| d.saturating_duration_since(Instant::now()))
    }

    pub fn check_deadline(&self) -> Result<(), LimitExceeded> {
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(LimitExceeded::new(codes::LIMIT_TIME, "time budget exhausted")),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_budget_is_proportional_to_input() {
        let limits = Limits { work_base: 10, work_per_byte: 2, ..Limits::default() };
        let mut b = Budget::new(&limits, 5, None);
        assert!(b.charge(20).is_ok());
        let err = b.charge(1).unwrap_err();
        assert_eq!(err.code, codes::LIMIT_WORK);
    }

    #[test]
    fn decoded_bytes_are_capped() {
        let limits = Limits { max_decoded_bytes: 100, ..Limits::default() };
        let mut b = Budget::new(&limits, 1000, None);
        assert!(b.decoded(60).is_ok());
        assert_eq!(b.decoded(41).unwrap_err().code, codes::LIMIT_DECODED_BYTES);
    }

    #[test]
    fn past_deadline_fails() {
        let b = Budget::new(&Limits::default(), 1, Some(Instant::now()));
        assert_eq!(b.check_deadline().unwrap_err().code, codes::LIMIT_TIME);
    }
}
