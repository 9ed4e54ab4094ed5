//! mugaika's sanitiser core: the bytes of a hostile Internet message in, a
//! safe, faithful message (or a quarantine verdict) and a report out.
//!
//! Pure, synchronous, deterministic and bounded: no I/O, no network, no
//! threads. The only use of the clock is an optional deadline and the
//! informational timings of the report.
//!
//! Layout, in pipeline order:
//!
//! | module | stage |
//! |---|---|
//! | [`pipeline`] | entry point: pre-checks, parse, walk, rebuild, fail closed |
//! | [`limits`] | limits and the per-run work budget |
//! | [`ambiguity`] | parser-differential checks (duplicate headers, boundaries) |
//! | [`walk`] | the MIME tree walk: body text vs attachments, containers |
//! | [`identity`] | From/To/Subject/Date/Message-ID… read and re-encoded |
//! | [`headers`] | RFC 2047/2231 decoding, header encoding for the output |
//! | [`transfer`], [`charset`] | transfer decoding; Japanese-aware charset decoding |
//! | [`html`] | HTML → plain text (streaming tokenizer) |
//! | [`text`], [`uuencode`] | text hygiene; uuencoded blocks |
//! | [`attachment`], [`sniff`], [`tnef`] | attachment step, content sniffing, winmail.dat |
//! | [`render`] | the renderers and their policy table: attachments into PNG pages or text |
//! | [`image_render`], [`pdf`], [`office`], [`archive`] | images → PNG (EXIF as text); PDF inspection and pages; Office text and macros; ZIP with limits |
//! | [`notice`], [`rebuild`] | the notice block; the output writer |
//! | [`report`] | findings, codes, the report |
//! | [`verify`] | the output verifier used by tests and fuzzing |

pub mod ambiguity;
pub mod archive;
pub mod attachment;
pub mod charset;
pub mod headers;
pub mod html;
pub mod identity;
pub mod image_render;
pub mod limits;
pub mod notice;
pub mod office;
pub mod pdf;
pub mod pipeline;
pub mod rebuild;
pub mod render;
pub mod report;
pub mod sniff;
pub mod text;
pub mod tnef;
pub mod transfer;
pub mod uuencode;
pub mod verify;
pub mod walk;

pub use limits::Limits;
pub use pipeline::{Decide, DefaultDecision, Pipeline, Sanitized};
pub use report::{Finding, Report, Severity, Verdict};
