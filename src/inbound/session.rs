//! The inbound ESMTP server session: a sans-IO state machine.
//!
//! No sockets, no async, no clock. The caller owns the connection: it writes
//! the greeting returned by [`Session::new`], feeds every byte it reads to
//! [`Session::feed`] and acts on the returned [`Event`]s **in order**:
//!
//! | event | the caller… |
//! |---|---|
//! | [`Event::Reply`] | writes the bytes to the client |
//! | [`Event::StartTls`] | flushes the replies, runs the TLS handshake, calls [`Session::tls_started`], then feeds decrypted bytes |
//! | [`Event::Message`] | stores the message durably, then calls [`Session::message_stored`] and handles the events it returns |
//! | [`Event::Close`] | flushes the replies and closes the connection |
//!
//! Timers belong to the caller: on an idle timeout it writes
//! [`Session::timeout_reply`] and closes. The `Received:` header is the
//! caller's too (it knows the peer address and the time); [`Envelope`] carries
//! what it needs (`helo`, [`Envelope::protocol`]).
//!
//! ```text
//! let (mut s, greeting) = Session::new(config, peer_allowed);   // [Reply(220…)] or [Reply(554…), Close]
//! loop { let n = read(buf)?; for ev in s.feed(&buf[..n]) { … } }
//! ```
//!
//! # Protocol
//! EHLO/HELO, MAIL, RCPT, DATA, BDAT (CHUNKING), RSET, NOOP, QUIT (221 then
//! Close), VRFY (252 2.5.0), HELP (214), STARTTLS. EHLO advertises
//! `SIZE <max_message_bytes>`, 8BITMIME, SMTPUTF8, PIPELINING,
//! ENHANCEDSTATUSCODES, CHUNKING and STARTTLS (when available and not yet
//! active). Every 2xx/4xx/5xx reply carries an enhanced status code except the
//! 220 greeting and the EHLO/HELO 250, as RFC 2034 specifies; 354 is 3xx and
//! has none.
//! Replies never echo client bytes (no injection, bounded length); every line
//! is `ddd[ -]text\r\n` and at most 512 bytes.
//!
//! Commands:
//! - A command line must end in CRLF and is at most `max_line_bytes` bytes
//!   including the CRLF (at least 512 is enforced). Longer: `500 5.5.2` as
//!   soon as the limit is crossed, and the rest of that line is discarded.
//!   A line ending in a bare LF, or holding any control character (CR, NUL,
//!   TAB, …) or invalid UTF-8, is refused with `500 5.5.2`.
//! - Sequencing errors `503 5.5.1`; argument syntax `501 5.5.4`; unknown
//!   verbs `500 5.5.2`; known but unsupported verbs (AUTH, EXPN, ETRN, …)
//!   `502 5.5.1`. `GET`/`POST`/`CONNECT`/`PUT`/`HEAD` (a web client or proxy
//!   abuse) end the session at once with `421 4.7.0`.
//! - Bad commands: every 500, 501, 502, 503, 530, 550, 553 and 555 reply to a
//!   command counts (so do over-long lines). The reply that would push the
//!   count over `max_bad_commands` is replaced by `421 4.7.0 … too many
//!   errors`, then Close. Size (552), recipient-count (452) and
//!   no-valid-recipient (554) replies do not count.
//!
//! MAIL FROM and RCPT TO are parsed here (strictly): `FROM:`/`TO:` (any case,
//! spaces after the colon tolerated), a path in angle brackets, parameters
//! `KEY[=VALUE]` separated by spaces. MAIL takes `SIZE=n` (over the limit:
//! `552 5.3.4` at once), `BODY=7BIT|8BITMIME` and `SMTPUTF8`; anything else
//! (BODY=BINARYMIME, DSN's RET/ENVID, …) and any RCPT parameter is
//! `555 5.5.4`. Addresses:
//! - dot-atom local part (≤ 64 bytes) `@` domain, whole path ≤ 254 bytes, no
//!   spaces or controls. Quoted local parts are refused (`501`): they are
//!   vanishingly rare and every downstream hop would have to re-quote them.
//! - the domain is LDH labels (≤ 63 bytes each, no leading/trailing hyphen)
//!   or an address literal `[…]`; no trailing dot.
//! - non-ASCII (UTF-8) in an address only when MAIL carried SMTPUTF8, else
//!   `553 5.6.7`.
//! - the null sender `<>` is accepted for MAIL only. `<postmaster>` without
//!   a domain is refused (there is no local delivery here).
//! - RCPT: source routes (`<@a,@b:u@d>`), `%` or `!` in the local part are
//!   open-relay tricks: `550 5.7.1`. (MAIL: a source route is `501 5.1.7`.)
//! - relay check (`550 5.7.1` otherwise): the domain, ASCII-lowercased, must
//!   equal an entry of `relay_domains` (also lowercased, a trailing dot
//!   ignored); an entry written with a leading dot (`.example.lg.jp`) matches
//!   every subdomain of it but not the domain itself (list both if both are
//!   wanted). No IDNA mapping: a U-label domain matches only an identical
//!   entry.
//! - recipients beyond `max_recipients`: `452 4.5.3`; a repeated recipient is
//!   acknowledged but kept once.
//!
//! # Message data and SMTP smuggling (CVE-2023-51764 class)
//! DATA ends **only** on `<CRLF>.<CRLF>`. The receiver is our own byte state
//! machine (line start / in line / after CR / after a leading dot / after
//! ".CR"); it dot-unstuffs (a leading `.` of a line is removed) and flags any
//! bare CR or bare LF. A bare LF never starts a line, so `\n.\r\n`,
//! `\n.\n`, `\r.\r`, `\r\n.\r\r\n` and friends are message text, never the
//! end of DATA, and the bytes after them are never commands. A message with a
//! bare CR or LF anywhere is refused at its real end with
//! `550 5.5.2 … bare <CR> or <LF> received` (Postfix, with
//! `smtpd_forbid_bare_newline`, says `521 5.5.2` and hangs up; we keep the
//! session, which is in sync since the real end was found). BDAT chunks are
//! checked the same way (CRs and LFs must pair up across chunk boundaries),
//! because the message will be relayed with DATA. Message data handed out
//! is the unstuffed text including the CRLF before the final dot (empty if
//! the client sent `.` at once); a BDAT message that does not end in CRLF
//! gets one appended.
//!
//! Size: data beyond `max_message_bytes` (counted after unstuffing) is read
//! to the real end and discarded, then `552 5.3.4`; for BDAT the chunk that
//! crosses the limit and every later chunk of the transaction get `552 5.3.4`.
//! One DATA (or one BDAT … LAST sequence) yields at most one message.
//!
//! BDAT: the chunk is always consumed, even when the command is refused
//! (no MAIL: `503 5.5.1`, no recipients: `554 5.5.1`), so chunk bytes are
//! never read as commands. DATA after BDAT in one transaction is `503`.
//!
//! # Pipelining and the store hand-off
//! Commands in one feed are handled in order. After [`Event::Message`] the
//! session is paused: further input is buffered untouched (up to 256 KiB
//! beyond what was already in the feed; more than that earns `421 4.7.0`
//! after the message's own reply) until [`Session::message_stored`], whose
//! outcome becomes the reply (`250 2.0.0 … queued as <id>`, `451 4.3.2`,
//! `452 4.3.1`, `451 4.3.0`); then the buffered input is processed. A caller
//! should simply not read while [`Session::wants_input`] is false.
//!
//! # STARTTLS (CVE-2011-0411 class)
//! `220 2.0.0` then [`Event::StartTls`]; everything after the STARTTLS line
//! in the same feed, and anything fed before [`Session::tls_started`], is
//! discarded. `tls_started` resets the session to the post-greeting state
//! (EHLO needed again, transaction gone) with `tls` set.
//! With `require_tls`, MAIL before TLS is `530 5.7.0`.
//!
//! # Limits and costs
//! Memory: the command line buffer ≤ `max_line_bytes`; message data ≤
//! `max_message_bytes` (+2 for a CRLF appended to a BDAT message); the paused
//! input buffer ≤ one feed + 256 KiB. Time: every input byte is examined a
//! constant number of times (no rescans; the pause buffer is consumed by
//! offset, not by shifting). No panics: no indexing, no unwrap on input.

#![warn(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;

/// Input accepted while paused (waiting for [`Session::message_stored`]),
/// beyond the rest of the feed that carried the end of the message.
const PENDING_CAP: usize = 256 * 1024;
/// RFC 5321 §4.5.3.1.1 / .3: local part and path limits (the path limit is
/// the usual 254 for a forward-path without brackets).
const MAX_LOCAL_PART: usize = 64;
const MAX_PATH: usize = 254;
const MAX_DOMAIN: usize = 253;
const MAX_LABEL: usize = 63;
/// The smallest command line limit we accept (RFC 5321 §4.5.3.1.4).
const MIN_LINE: usize = 512;

/// Per-listener settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our name in the greeting and EHLO reply (characters outside
    /// `[A-Za-z0-9.-]` are dropped; at most 253 kept; empty → `localhost`).
    pub hostname: String,
    /// Advertised with SIZE; larger messages get `552 5.3.4` (at least 1).
    pub max_message_bytes: usize,
    /// Accepted recipients per transaction; beyond: `452 4.5.3` (at least 1).
    pub max_recipients: usize,
    /// Command line limit including CRLF (raised to 512 if lower).
    pub max_line_bytes: usize,
    /// Bad commands tolerated; the next one gets `421 4.7.0` and Close.
    pub max_bad_commands: usize,
    /// Recipient domains we relay to (see the module doc for the matching rule).
    pub relay_domains: Vec<String>,
    /// Offer STARTTLS (the caller has a certificate).
    pub starttls_available: bool,
    /// Refuse MAIL with `530 5.7.0` until TLS is active.
    pub require_tls: bool,
}

/// The envelope of one received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The EHLO/HELO argument (validated: `[A-Za-z0-9._:-]`, brackets for a literal).
    pub helo: String,
    /// EHLO (true) or HELO (false).
    pub esmtp: bool,
    /// The reverse-path without brackets; `""` for the null sender.
    pub mail_from: String,
    /// Accepted forward-paths without brackets, in order, without repeats.
    pub rcpt_to: Vec<String>,
    /// MAIL carried BODY=8BITMIME.
    pub body_8bit: bool,
    /// MAIL carried SMTPUTF8.
    pub smtputf8: bool,
    /// The message arrived over TLS (STARTTLS done).
    pub tls: bool,
}

impl Envelope {
    /// The RFC 3848 `with` keyword for the `Received:` header.
    pub fn protocol(&self) -> &'static str {
        match (self.smtputf8, self.esmtp, self.tls) {
            (true, _, true) => "UTF8SMTPS",
            (true, _, false) => "UTF8SMTP",
            (false, true, true) => "ESMTPS",
            (false, true, false) => "ESMTP",
            (false, false, true) => "SMTPS",
            (false, false, false) => "SMTP",
        }
    }
}

/// What the caller must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Bytes to write to the client (one complete, possibly multi-line, reply).
    Reply(Vec<u8>),
    /// Switch the connection to TLS now (after writing the preceding replies),
    /// then call [`Session::tls_started`] and keep feeding decrypted bytes.
    StartTls,
    /// A complete message: store it durably, then call
    /// [`Session::message_stored`]. No further input is processed until then.
    Message { envelope: Envelope, data: Vec<u8> },
    /// Close the connection after writing the preceding replies.
    Close,
}

/// The caller's verdict on a [`Event::Message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOutcome {
    /// On disk (fsynced): `250 2.0.0 Ok: queued as <queue_id>`. The id is
    /// shown only with characters outside `[A-Za-z0-9._-]` removed (≤ 64).
    Accepted { queue_id: String },
    /// Backlog too long: `451 4.3.2`.
    Busy,
    /// Disk under the reserve or a write failed: `452 4.3.1`.
    NoSpace,
    /// Any other failure: `451 4.3.0`.
    Failed,
}

/// Body accumulator with the size limit and the bare CR/LF flag.
#[derive(Debug)]
struct Body {
    data: Vec<u8>,
    /// Bytes offered so far, counted even after a refusal is certain, so
    /// that `oversize` does not depend on how the client's bytes arrive.
    received: usize,
    limit: usize,
    oversize: bool,
    bare_newline: bool,
}

impl Body {
    fn new(limit: usize) -> Body {
        Body { data: Vec::new(), received: 0, limit, oversize: false, bare_newline: false }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.received = self.received.saturating_add(bytes.len());
        if !self.oversize && self.received > self.limit {
            self.oversize = true;
            self.data = Vec::new();
        }
        if self.oversize || self.bare_newline {
            return;
        }
        self.data.extend_from_slice(bytes);
    }

    fn bare(&mut self) {
        self.bare_newline = true;
        self.data = Vec::new();
    }
}

/// Where the DATA receiver is within the current line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataState {
    /// Just after a CRLF (or right after the 354).
    LineStart,
    /// Inside a line.
    InLine,
    /// After a CR (not yet known whether a LF follows).
    Cr,
    /// After a `.` at the start of a line.
    Dot,
    /// After `.` CR at the start of a line.
    DotCr,
}

impl DataState {
    /// Consumes bytes of DATA into `body` until the end marker. Returns the
    /// number of bytes consumed and whether `<CRLF>.<CRLF>` was reached (the
    /// marker's bytes are consumed, not stored).
    fn ingest(&mut self, input: &[u8], body: &mut Body) -> (usize, bool) {
        let mut rest = input;
        loop {
            if *self == DataState::InLine {
                // Bulk: copy up to the next CR or LF.
                match rest.iter().position(|&b| b == b'\r' || b == b'\n') {
                    None => {
                        body.push(rest);
                        return (input.len(), false);
                    }
                    Some(p) => {
                        let (run, tail) = rest.split_at(p);
                        body.push(run);
                        rest = tail;
                    }
                }
            }
            let Some((&b, tail)) = rest.split_first() else {
                return (input.len(), false);
            };
            rest = tail;
            *self = match (*self, b) {
                (DataState::LineStart, b'.') => DataState::Dot,
                (DataState::Dot, b'\r') => DataState::DotCr,
                (DataState::DotCr, b'\n') => {
                    return (input.len() - rest.len(), true);
                }
                (DataState::Cr, b'\n') => {
                    body.push(b"\r\n");
                    DataState::LineStart
                }
                // A CR not followed by LF: push it, then handle `b` as if in a line.
                (DataState::Cr | DataState::DotCr, _) => {
                    body.bare();
                    match b {
                        b'\r' => DataState::Cr,
                        _ => DataState::InLine,
                    }
                }
                (_, b'\r') => DataState::Cr,
                // A bare LF. It never starts a line: `\n.\r\n` is not the end.
                (_, b'\n') => {
                    body.bare();
                    DataState::InLine
                }
                // Any other byte (after a leading dot: the dot was removed).
                (_, other) => {
                    body.push(&[other]);
                    DataState::InLine
                }
            };
        }
    }
}

/// One BDAT chunk being read.
#[derive(Debug)]
struct Chunk {
    remaining: usize,
    size: usize,
    last: bool,
    /// Set when the command was refused: the chunk is consumed and dropped,
    /// then this reply is sent.
    refused: Option<Vec<u8>>,
}

/// An open mail transaction (after a successful MAIL).
#[derive(Debug)]
struct Transaction {
    mail_from: String,
    rcpt_to: Vec<String>,
    body_8bit: bool,
    smtputf8: bool,
    body: Body,
    /// A BDAT was received in this transaction (DATA is then refused).
    bdat: bool,
    /// The last BDAT byte so far was a CR.
    bdat_cr: bool,
}

#[derive(Debug)]
enum Mode {
    Command,
    Data(DataState),
    Bdat(Chunk),
    /// [`Event::Message`] emitted, waiting for [`Session::message_stored`].
    AwaitStore,
    /// [`Event::StartTls`] emitted, waiting for [`Session::tls_started`].
    AwaitTls,
    Closed,
}

/// One SMTP server connection. See the module doc.
#[derive(Debug)]
pub struct Session {
    hostname: String,
    max_message_bytes: usize,
    max_recipients: usize,
    max_line_bytes: usize,
    max_bad_commands: usize,
    relay_domains: Vec<String>,
    starttls_available: bool,
    require_tls: bool,

    mode: Mode,
    tls: bool,
    /// `(helo argument, esmtp)` once EHLO/HELO succeeded.
    helo: Option<(String, bool)>,
    tx: Option<Transaction>,
    bad_commands: usize,
    /// A partial command line (without its LF yet).
    line: Vec<u8>,
    /// The current line went over the limit: drop bytes until its LF.
    line_overflow: bool,
    /// Input not yet processed while paused; `pending[pending_pos..]` is live.
    pending: Vec<u8>,
    pending_pos: usize,
    /// Bytes appended while paused (against [`PENDING_CAP`]).
    pending_added: usize,
    pending_overflow: bool,
}

/// One reply line with an enhanced status code.
fn reply(code: u16, esc: &str, text: &str) -> Vec<u8> {
    format!("{code} {esc} {text}\r\n").into_bytes()
}

fn keep_chars(s: &str, max: usize, ok: impl Fn(char) -> bool) -> String {
    s.chars().filter(|&c| ok(c)).take(max).collect()
}

impl Session {
    /// A new session and its first events: `[Reply(220 …)]`, or when the
    /// client is not allowed, `[Reply(554 5.7.1 …), Close]` (the session is
    /// then closed and ignores input).
    pub fn new(config: SessionConfig, client_allowed: bool) -> (Session, Vec<Event>) {
        let mut hostname =
            keep_chars(&config.hostname, MAX_DOMAIN, |c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if hostname.is_empty() {
            hostname = "localhost".to_string();
        }
        let relay_domains = config
            .relay_domains
            .iter()
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| !d.is_empty() && d != ".")
            .collect();
        let mut session = Session {
            hostname,
            max_message_bytes: config.max_message_bytes.max(1),
            max_recipients: config.max_recipients.max(1),
            max_line_bytes: config.max_line_bytes.max(MIN_LINE),
            max_bad_commands: config.max_bad_commands,
            relay_domains,
            starttls_available: config.starttls_available,
            require_tls: config.require_tls,
            mode: Mode::Command,
            tls: false,
            helo: None,
            tx: None,
            bad_commands: 0,
            line: Vec::new(),
            line_overflow: false,
            pending: Vec::new(),
            pending_pos: 0,
            pending_added: 0,
            pending_overflow: false,
        };
        let events = if client_allowed {
            vec![Event::Reply(format!("220 {} ESMTP mugaika\r\n", session.hostname).into_bytes())]
        } else {
            session.mode = Mode::Closed;
            vec![Event::Reply(reply(554, "5.7.1", &format!("{} Access denied", session.hostname))), Event::Close]
        };
        (session, events)
    }

    /// Feeds bytes read from the client (decrypted, after STARTTLS).
    pub fn feed(&mut self, input: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        match self.mode {
            Mode::Closed | Mode::AwaitTls => {}
            Mode::AwaitStore => self.buffer_while_paused(input),
            Mode::Command | Mode::Data(_) | Mode::Bdat(_) => {
                let used = self.run(input, &mut events);
                if matches!(self.mode, Mode::AwaitStore) {
                    // Rest of this feed: kept whole (bounded by the feed size).
                    self.pending.extend_from_slice(input.get(used..).unwrap_or_default());
                }
            }
        }
        events
    }

    /// The outcome of storing the message of the last [`Event::Message`]:
    /// its reply, then the events of any input buffered meanwhile. Ignored
    /// (no events) when no message is pending.
    pub fn message_stored(&mut self, outcome: StoreOutcome) -> Vec<Event> {
        let mut events = Vec::new();
        if !matches!(self.mode, Mode::AwaitStore) {
            return events;
        }
        self.mode = Mode::Command;
        events.push(Event::Reply(match outcome {
            StoreOutcome::Accepted { queue_id } => {
                let id = keep_chars(&queue_id, 64, |c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-');
                reply(250, "2.0.0", &format!("Ok: queued as {id}"))
            }
            StoreOutcome::Busy => reply(451, "4.3.2", "System busy, try again later"),
            StoreOutcome::NoSpace => reply(452, "4.3.1", "Insufficient system storage"),
            StoreOutcome::Failed => reply(451, "4.3.0", "Local error in processing, try again later"),
        }));
        if self.pending_overflow {
            self.pending_overflow = false;
            self.close_with(&mut events, reply(421, "4.7.0", &format!("{} Too much pipelined input", self.hostname)));
        }
        let buf = std::mem::take(&mut self.pending);
        let pos = std::mem::take(&mut self.pending_pos);
        self.pending_added = 0;
        let live = buf.get(pos..).unwrap_or_default();
        if !matches!(self.mode, Mode::Closed) && !live.is_empty() {
            let used = self.run(live, &mut events);
            if matches!(self.mode, Mode::AwaitStore) {
                // Paused again: keep the same buffer, consumed by offset.
                self.pending = buf;
                self.pending_pos = pos.saturating_add(used);
            }
        }
        events
    }

    /// The TLS handshake after [`Event::StartTls`] succeeded: back to the
    /// post-greeting state, with TLS active. Anything buffered is dropped.
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.helo = None;
        self.tx = None;
        self.line.clear();
        self.line_overflow = false;
        self.pending = Vec::new();
        self.pending_pos = 0;
        self.pending_added = 0;
        self.pending_overflow = false;
        if !matches!(self.mode, Mode::Closed) {
            self.mode = Mode::Command;
        }
    }

    /// The reply to write before closing on the caller's idle timeout.
    pub fn timeout_reply(&self) -> Vec<u8> {
        reply(421, "4.4.2", &format!("{} Error: timeout exceeded", self.hostname))
    }

    /// Whether the caller should read more input now (false while a message
    /// or the TLS handshake is pending, and after Close).
    pub fn wants_input(&self) -> bool {
        matches!(self.mode, Mode::Command | Mode::Data(_) | Mode::Bdat(_))
    }

    /// Whether [`Event::Close`] was emitted.
    pub fn is_closed(&self) -> bool {
        matches!(self.mode, Mode::Closed)
    }

    /// Whether STARTTLS has completed.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    fn buffer_while_paused(&mut self, input: &[u8]) {
        if self.pending_overflow {
            return;
        }
        if self.pending_added.saturating_add(input.len()) > PENDING_CAP {
            self.pending_overflow = true;
            return;
        }
        self.pending_added += input.len();
        // Compact the consumed prefix when it dominates (amortised linear).
        if self.pending_pos > 0 && self.pending_pos >= self.pending.len() / 2 {
            self.pending.drain(..self.pending_pos.min(self.pending.len()));
            self.pending_pos = 0;
        }
        self.pending.extend_from_slice(input);
    }

    /// Processes input until it is used up or the session pauses or closes.
    /// Returns the number of bytes consumed.
    fn run(&mut self, input: &[u8], events: &mut Vec<Event>) -> usize {
        let mut rest = input;
        while !rest.is_empty() {
            match &mut self.mode {
                Mode::AwaitStore | Mode::AwaitTls | Mode::Closed => break,
                Mode::Command => match rest.iter().position(|&b| b == b'\n') {
                    None => {
                        self.partial_line(rest, events);
                        rest = &[];
                    }
                    Some(p) => {
                        let (seg, tail) = rest.split_at(p.saturating_add(1).min(rest.len()));
                        rest = tail;
                        self.complete_line(seg, events);
                    }
                },
                Mode::Data(state) => {
                    let (used, end) = match self.tx.as_mut() {
                        Some(tx) => state.ingest(rest, &mut tx.body),
                        // Cannot happen (DATA needs a transaction); stay safe.
                        None => state.ingest(rest, &mut Body::new(0)),
                    };
                    rest = rest.get(used..).unwrap_or_default();
                    if end {
                        self.mode = Mode::Command;
                        self.finish_message(events);
                    }
                }
                Mode::Bdat(chunk) => {
                    let take = chunk.remaining.min(rest.len());
                    let (bytes, tail) = rest.split_at(take);
                    rest = tail;
                    chunk.remaining -= take;
                    if chunk.refused.is_none()
                        && let Some(tx) = self.tx.as_mut()
                    {
                        bdat_bytes(tx, bytes);
                    }
                    if chunk.remaining == 0 {
                        self.end_chunk(events);
                    }
                }
            }
        }
        input.len() - rest.len()
    }

    fn partial_line(&mut self, bytes: &[u8], events: &mut Vec<Event>) {
        if self.line_overflow {
            return;
        }
        if self.line.len().saturating_add(bytes.len()) > self.max_line_bytes {
            self.line.clear();
            self.line_overflow = true;
            self.bad(events, reply(500, "5.5.2", "Error: line too long"));
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn complete_line(&mut self, seg: &[u8], events: &mut Vec<Event>) {
        if self.line_overflow {
            // The end of a line already refused as too long.
            self.line_overflow = false;
            self.line.clear();
            return;
        }
        if self.line.len().saturating_add(seg.len()) > self.max_line_bytes {
            self.line.clear();
            self.bad(events, reply(500, "5.5.2", "Error: line too long"));
            return;
        }
        if self.line.is_empty() {
            self.command(seg, events);
        } else {
            let mut line = std::mem::take(&mut self.line);
            line.extend_from_slice(seg);
            self.command(&line, events);
            line.clear();
            self.line = line;
        }
    }

    /// Counts a bad command and sends its reply, or 421 and Close when over
    /// the limit.
    fn bad(&mut self, events: &mut Vec<Event>, r: Vec<u8>) {
        self.bad_commands = self.bad_commands.saturating_add(1);
        if self.bad_commands > self.max_bad_commands {
            let text = format!("{} Error: too many errors", self.hostname);
            self.close_with(events, reply(421, "4.7.0", &text));
        } else {
            events.push(Event::Reply(r));
        }
    }

    fn close_with(&mut self, events: &mut Vec<Event>, r: Vec<u8>) {
        events.push(Event::Reply(r));
        events.push(Event::Close);
        self.mode = Mode::Closed;
        self.tx = None;
        self.pending = Vec::new();
        self.pending_pos = 0;
    }

    fn ok(events: &mut Vec<Event>, r: Vec<u8>) {
        events.push(Event::Reply(r));
    }

    /// One complete command line, LF included.
    fn command(&mut self, line: &[u8], events: &mut Vec<Event>) {
        let Some(body) = line.strip_suffix(b"\r\n") else {
            return self.bad(events, reply(500, "5.5.2", "Error: bare <LF> received, commands must end with <CR><LF>"));
        };
        if body.iter().any(|&b| b < 0x20 || b == 0x7f) {
            return self.bad(events, reply(500, "5.5.2", "Error: control character in command"));
        }
        let Ok(text) = std::str::from_utf8(body) else {
            return self.bad(events, reply(500, "5.5.2", "Error: invalid UTF-8 in command"));
        };
        let (verb, args) = text.split_once(' ').unwrap_or((text, ""));
        let verb = if verb.len() <= 8 { verb.to_ascii_uppercase() } else { String::new() };
        let no_args = args.trim_matches(' ').is_empty();
        match verb.as_str() {
            "EHLO" | "HELO" => self.helo_cmd(verb == "EHLO", args, events),
            "MAIL" => self.mail_cmd(args, events),
            "RCPT" => self.rcpt_cmd(args, events),
            "DATA" if no_args => self.data_cmd(events),
            "BDAT" => self.bdat_cmd(args, events),
            "RSET" if no_args => {
                self.tx = None;
                Self::ok(events, reply(250, "2.0.0", "Ok"));
            }
            "NOOP" => Self::ok(events, reply(250, "2.0.0", "Ok")),
            "QUIT" if no_args => {
                let text = format!("{} closing connection", self.hostname);
                self.close_with(events, reply(221, "2.0.0", &text));
            }
            "VRFY" if !no_args => {
                Self::ok(events, reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery"))
            }
            "HELP" => Self::ok(
                events,
                reply(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS"),
            ),
            "STARTTLS" if no_args => self.starttls_cmd(events),
            "DATA" | "RSET" | "QUIT" | "VRFY" | "STARTTLS" => {
                self.bad(events, reply(501, "5.5.4", "Syntax error in parameters or arguments"))
            }
            "GET" | "POST" | "CONNECT" | "PUT" | "HEAD" => {
                let text = format!("{} Error: this is an SMTP server", self.hostname);
                self.close_with(events, reply(421, "4.7.0", &text));
            }
            "AUTH" | "EXPN" | "ETRN" | "ATRN" | "BURL" | "TURN" | "LHLO" | "VERB" | "XCLIENT" | "XFORWARD" | "SEND"
            | "SOML" | "SAML" => self.bad(events, reply(502, "5.5.1", "Error: command not implemented")),
            _ => self.bad(events, reply(500, "5.5.2", "Error: command not recognized")),
        }
    }

    fn helo_cmd(&mut self, esmtp: bool, args: &str, events: &mut Vec<Event>) {
        let host = args.trim_matches(' ');
        let host = host.split(' ').next().unwrap_or_default();
        if !valid_helo(host) {
            let syntax = if esmtp { "Syntax: EHLO hostname" } else { "Syntax: HELO hostname" };
            return self.bad(events, reply(501, "5.5.4", syntax));
        }
        self.tx = None;
        self.helo = Some((host.to_string(), esmtp));
        if !esmtp {
            return Self::ok(events, format!("250 {}\r\n", self.hostname).into_bytes());
        }
        let mut lines = vec![
            self.hostname.clone(),
            format!("SIZE {}", self.max_message_bytes),
            "8BITMIME".to_string(),
            "SMTPUTF8".to_string(),
            "PIPELINING".to_string(),
            "ENHANCEDSTATUSCODES".to_string(),
            "CHUNKING".to_string(),
        ];
        if self.starttls_available && !self.tls {
            lines.push("STARTTLS".to_string());
        }
        let mut out = String::new();
        let n = lines.len();
        for (i, l) in lines.iter().enumerate() {
            let sep = if i + 1 == n { ' ' } else { '-' };
            let _ = write!(out, "250{sep}{l}\r\n");
        }
        Self::ok(events, out.into_bytes());
    }

    fn mail_cmd(&mut self, args: &str, events: &mut Vec<Event>) {
        if self.helo.is_none() {
            return self.bad(events, reply(503, "5.5.1", "Error: send HELO/EHLO first"));
        }
        if self.require_tls && !self.tls {
            return self.bad(events, reply(530, "5.7.0", "Must issue a STARTTLS command first"));
        }
        if self.tx.is_some() {
            return self.bad(events, reply(503, "5.5.1", "Error: nested MAIL command"));
        }
        let Some((path, params)) = split_path_command(args, "FROM:") else {
            return self.bad(events, reply(501, "5.5.4", "Syntax: MAIL FROM:<address>"));
        };
        let mut size: Option<u64> = None;
        let mut body: Option<bool> = None;
        let mut smtputf8 = false;
        for (key, value) in params {
            let dup;
            match (key.to_ascii_uppercase().as_str(), value) {
                ("SIZE", Some(v)) => {
                    dup = size.is_some();
                    match parse_number(v) {
                        Some(n) => size = Some(n),
                        None => {
                            return self.bad(events, reply(501, "5.5.4", "Bad SIZE parameter"));
                        }
                    }
                }
                ("BODY", Some(v)) if v.eq_ignore_ascii_case("8BITMIME") => {
                    dup = body.is_some();
                    body = Some(true);
                }
                ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") => {
                    dup = body.is_some();
                    body = Some(false);
                }
                ("SMTPUTF8", None) => {
                    dup = smtputf8;
                    smtputf8 = true;
                }
                _ => {
                    return self.bad(events, reply(555, "5.5.4", "Unsupported MAIL parameter"));
                }
            }
            if dup {
                return self.bad(events, reply(501, "5.5.4", "Duplicate MAIL parameter"));
            }
        }
        if let Err(e) = check_path(path, smtputf8, false) {
            return match e {
                PathError::NonAscii => {
                    self.bad(events, reply(553, "5.6.7", "Non-ASCII sender address requires SMTPUTF8"))
                }
                _ => self.bad(events, reply(501, "5.1.7", "Bad sender address syntax")),
            };
        }
        if size.is_some_and(|s| s > self.max_message_bytes as u64) {
            return Self::ok(events, reply(552, "5.3.4", "Message size exceeds fixed maximum message size"));
        }
        self.tx = Some(Transaction {
            mail_from: path.to_string(),
            rcpt_to: Vec::new(),
            body_8bit: body.unwrap_or(false),
            smtputf8,
            body: Body::new(self.max_message_bytes),
            bdat: false,
            bdat_cr: false,
        });
        Self::ok(events, reply(250, "2.1.0", "Ok"));
    }

    fn rcpt_cmd(&mut self, args: &str, events: &mut Vec<Event>) {
        if self.helo.is_none() {
            return self.bad(events, reply(503, "5.5.1", "Error: send HELO/EHLO first"));
        }
        let Some(tx) = self.tx.as_ref() else {
            return self.bad(events, reply(503, "5.5.1", "Error: need MAIL command"));
        };
        let smtputf8 = tx.smtputf8;
        let count = tx.rcpt_to.len();
        let Some((path, params)) = split_path_command(args, "TO:") else {
            return self.bad(events, reply(501, "5.5.4", "Syntax: RCPT TO:<address>"));
        };
        if !params.is_empty() {
            return self.bad(events, reply(555, "5.5.4", "Unsupported RCPT parameter"));
        }
        let domain = match check_path(path, smtputf8, true) {
            Ok(d) => d,
            Err(PathError::Route) => {
                return self.bad(events, reply(550, "5.7.1", "Relay access denied: routing syntax not allowed"));
            }
            Err(PathError::NonAscii) => {
                return self.bad(events, reply(553, "5.6.7", "Non-ASCII recipient address requires SMTPUTF8"));
            }
            Err(PathError::Syntax) => {
                return self.bad(events, reply(501, "5.1.3", "Bad recipient address syntax"));
            }
        };
        if !self.relay_allowed(domain) {
            return self.bad(events, reply(550, "5.7.1", "Relay access denied"));
        }
        let Some(tx) = self.tx.as_mut() else { return };
        if tx.rcpt_to.iter().any(|r| r == path) {
            return Self::ok(events, reply(250, "2.1.5", "Ok"));
        }
        if count >= self.max_recipients {
            return Self::ok(events, reply(452, "4.5.3", "Error: too many recipients"));
        }
        tx.rcpt_to.push(path.to_string());
        Self::ok(events, reply(250, "2.1.5", "Ok"));
    }

    fn relay_allowed(&self, domain: &str) -> bool {
        let d = domain.to_ascii_lowercase();
        self.relay_domains
            .iter()
            .any(|r| if r.starts_with('.') { d.len() > r.len() && d.ends_with(r.as_str()) } else { d == *r })
    }

    /// The refusal for DATA/BDAT when the transaction is not ready, if any.
    fn transfer_refusal(&self) -> Option<(Vec<u8>, bool)> {
        if self.helo.is_none() {
            return Some((reply(503, "5.5.1", "Error: send HELO/EHLO first"), true));
        }
        match &self.tx {
            None => Some((reply(503, "5.5.1", "Error: need MAIL command"), true)),
            Some(tx) if tx.rcpt_to.is_empty() => Some((reply(554, "5.5.1", "Error: no valid recipients"), false)),
            Some(_) => None,
        }
    }

    fn data_cmd(&mut self, events: &mut Vec<Event>) {
        if let Some((r, counts)) = self.transfer_refusal() {
            return if counts { self.bad(events, r) } else { Self::ok(events, r) };
        }
        if self.tx.as_ref().is_some_and(|tx| tx.bdat) {
            return self.bad(events, reply(503, "5.5.1", "Error: DATA after BDAT"));
        }
        Self::ok(events, b"354 End data with <CR><LF>.<CR><LF>\r\n".to_vec());
        self.mode = Mode::Data(DataState::LineStart);
    }

    fn bdat_cmd(&mut self, args: &str, events: &mut Vec<Event>) {
        let mut words = args.split(' ').filter(|w| !w.is_empty());
        let size = words.next().and_then(parse_number);
        let last = match words.next() {
            None => Some(false),
            Some(w) if w.eq_ignore_ascii_case("LAST") => Some(true),
            Some(_) => None,
        };
        let (Some(size), Some(last), None) = (size, last, words.next()) else {
            return self.bad(events, reply(501, "5.5.4", "Syntax: BDAT chunk-size [LAST]"));
        };
        // A size beyond usize cannot be stored anyway: consume as much as we can count.
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        // Refusals do not count as bad commands: a pipelining client may have
        // sent several chunks after a failure.
        let refused = self.transfer_refusal().map(|(r, _)| r);
        self.mode = Mode::Bdat(Chunk { remaining: size, size, last, refused });
        if size == 0 {
            self.end_chunk(events);
        }
    }

    fn end_chunk(&mut self, events: &mut Vec<Event>) {
        let Mode::Bdat(chunk) = std::mem::replace(&mut self.mode, Mode::Command) else {
            return;
        };
        if let Some(r) = chunk.refused {
            if chunk.last && self.tx.as_ref().is_some_and(|tx| tx.rcpt_to.is_empty()) {
                self.tx = None;
            }
            return Self::ok(events, r);
        }
        let Some(tx) = self.tx.as_mut() else { return };
        tx.bdat = true;
        if tx.body.oversize {
            if chunk.last {
                self.tx = None;
            }
            return Self::ok(events, reply(552, "5.3.4", "Message size exceeds fixed maximum message size"));
        }
        if !chunk.last {
            let text = format!("{} octets received", chunk.size);
            return Self::ok(events, reply(250, "2.0.0", &text));
        }
        if tx.bdat_cr {
            tx.body.bare();
        }
        if !tx.body.bare_newline && !tx.body.data.is_empty() && !tx.body.data.ends_with(b"\r\n") {
            tx.body.data.extend_from_slice(b"\r\n");
        }
        self.finish_message(events);
    }

    /// The end of DATA or of BDAT LAST: refuse, or hand the message out and pause.
    fn finish_message(&mut self, events: &mut Vec<Event>) {
        let Some(tx) = self.tx.take() else { return };
        if tx.body.bare_newline {
            return Self::ok(
                events,
                reply(550, "5.5.2", "Message refused: bare <CR> or <LF> received (lines must end with <CR><LF>)"),
            );
        }
        if tx.body.oversize {
            return Self::ok(events, reply(552, "5.3.4", "Message size exceeds fixed maximum message size"));
        }
        let (helo, esmtp) = self.helo.clone().unwrap_or_default();
        events.push(Event::Message {
            envelope: Envelope {
                helo,
                esmtp,
                mail_from: tx.mail_from,
                rcpt_to: tx.rcpt_to,
                body_8bit: tx.body_8bit,
                smtputf8: tx.smtputf8,
                tls: self.tls,
            },
            data: tx.body.data,
        });
        self.mode = Mode::AwaitStore;
        self.pending_added = 0;
        self.pending_overflow = false;
    }

    fn starttls_cmd(&mut self, events: &mut Vec<Event>) {
        if self.tls {
            return self.bad(events, reply(503, "5.5.1", "Error: TLS already active"));
        }
        if !self.starttls_available {
            return self.bad(events, reply(502, "5.5.1", "Error: command not implemented"));
        }
        Self::ok(events, reply(220, "2.0.0", "Ready to start TLS"));
        events.push(Event::StartTls);
        self.mode = Mode::AwaitTls;
        self.tx = None;
        self.helo = None;
        self.line.clear();
    }
}

/// BDAT bytes: bare CR/LF detection across chunk boundaries, then storage.
fn bdat_bytes(tx: &mut Transaction, bytes: &[u8]) {
    if !tx.body.bare_newline {
        let mut cr = tx.bdat_cr;
        for &b in bytes {
            if (b == b'\n') != cr {
                // LF without CR, or CR without LF.
                tx.body.bare();
                break;
            }
            cr = b == b'\r';
        }
        tx.bdat_cr = cr;
    }
    tx.body.push(bytes);
}

/// Digits only, at most 20 of them, no overflow (wrapping here would let a
/// client and us disagree on a BDAT chunk's end).
fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn valid_helo(host: &str) -> bool {
    (1..=MAX_DOMAIN + 2).contains(&host.len())
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']'))
}

/// An ESMTP parameter: `KEY` or `KEY=VALUE`.
type Param<'a> = (&'a str, Option<&'a str>);

/// `FROM:<path> params` / `TO:<path> params` → the path (between the
/// brackets) and the parameters.
fn split_path_command<'a>(args: &'a str, keyword: &str) -> Option<(&'a str, Vec<Param<'a>>)> {
    let head = args.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = args.get(keyword.len()..)?.trim_start_matches(' ');
    let rest = rest.strip_prefix('<')?;
    let (path, after) = rest.split_once('>')?;
    if !(after.is_empty() || after.starts_with(' ')) {
        return None;
    }
    let mut params = Vec::new();
    for p in after.split(' ').filter(|p| !p.is_empty()) {
        let (key, value) = match p.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (p, None),
        };
        let key_ok = key.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let value_ok = value.is_none_or(|v| !v.is_empty() && v.bytes().all(|b| (33..=126).contains(&b) && b != b'='));
        if !key_ok || !value_ok {
            return None;
        }
        params.push((key, value));
    }
    Some((path, params))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathError {
    Syntax,
    /// Source route, `%` or `!` (recipients only).
    Route,
    NonAscii,
}

/// Validates a path (without brackets). Returns the domain (`""` for the
/// null reverse-path, allowed only when `!rcpt`).
fn check_path(path: &str, utf8_ok: bool, rcpt: bool) -> Result<&str, PathError> {
    if path.is_empty() {
        return if rcpt { Err(PathError::Syntax) } else { Ok("") };
    }
    if path.starts_with('@') {
        return Err(if rcpt { PathError::Route } else { PathError::Syntax });
    }
    if path.len() > MAX_PATH || path.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(PathError::Syntax);
    }
    if !path.is_ascii() && !utf8_ok {
        return Err(PathError::NonAscii);
    }
    let Some((local, domain)) = path.split_once('@') else {
        return Err(PathError::Syntax);
    };
    if rcpt && (local.contains('%') || local.contains('!') || domain.contains('@')) {
        return Err(PathError::Route);
    }
    if !valid_local_part(local) || !valid_domain(domain) {
        return Err(PathError::Syntax);
    }
    Ok(domain)
}

/// Dot-atom local part (RFC 5321 `Dot-string`; UTF-8 allowed, see RFC 6531).
fn valid_local_part(local: &str) -> bool {
    local.len() <= MAX_LOCAL_PART
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom.chars().all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c))
        })
}

fn valid_domain(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > MAX_DOMAIN {
        return false;
    }
    if let Some(inner) = domain.strip_prefix('[') {
        let Some(inner) = inner.strip_suffix(']') else {
            return false;
        };
        return !inner.is_empty()
            && inner.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'-'));
    }
    domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= MAX_LABEL
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || c == '-')
    })
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn config() -> SessionConfig {
        SessionConfig {
            hostname: "mx.example.jp".to_string(),
            max_message_bytes: 1000,
            max_recipients: 3,
            max_line_bytes: 512,
            max_bad_commands: 5,
            relay_domains: vec!["Example.LG.jp".to_string(), ".sub.lg.jp.".to_string()],
            starttls_available: true,
            require_tls: false,
        }
    }

    fn session() -> Session {
        Session::new(config(), true).0
    }

    /// Feeds `chunks` one after another, answering each Message with
    /// `outcome` and each StartTls with `tls_started`; returns all events.
    fn drive(s: &mut Session, chunks: &[&[u8]], outcome: &StoreOutcome) -> Vec<Event> {
        let mut all = Vec::new();
        for c in chunks {
            let mut evs = s.feed(c);
            loop {
                let msg = evs.iter().any(|e| matches!(e, Event::Message { .. }));
                let tls = evs.iter().any(|e| matches!(e, Event::StartTls));
                all.extend(evs);
                if msg {
                    evs = s.message_stored(outcome.clone());
                } else {
                    if tls {
                        s.tls_started();
                    }
                    break;
                }
            }
        }
        all
    }

    fn accepted() -> StoreOutcome {
        StoreOutcome::Accepted { queue_id: "Q1".to_string() }
    }

    fn codes(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                Event::Reply(r) => {
                    let s = String::from_utf8_lossy(r);
                    let last = s.trim_end().lines().last().unwrap_or_default().to_string();
                    let mut w = last.split(' ');
                    let code = w.next().unwrap_or_default();
                    let is_esc = |e: &str| {
                        let p: Vec<&str> = e.split('.').collect();
                        p.len() == 3 && p.iter().all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()))
                    };
                    match w.next() {
                        Some(esc) if is_esc(esc) => format!("{code} {esc}"),
                        _ => code.to_string(),
                    }
                }
                Event::StartTls => "TLS".to_string(),
                Event::Message { .. } => "MSG".to_string(),
                Event::Close => "CLOSE".to_string(),
            })
            .collect()
    }

    fn messages(events: &[Event]) -> Vec<(Envelope, Vec<u8>)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Message { envelope, data } => Some((envelope.clone(), data.clone())),
                _ => None,
            })
            .collect()
    }

    /// Reply syntax: lines `ddd[ -]…\r\n`, ≤ 512 bytes, the last with a space,
    /// the same code on every line, no bare CR/LF.
    fn assert_well_formed(r: &[u8]) {
        assert!(r.ends_with(b"\r\n"), "{r:?}");
        let lines: Vec<&[u8]> = r.split_inclusive(|&b| b == b'\n').collect();
        for (i, line) in lines.iter().enumerate() {
            assert!(line.len() <= 512, "{line:?}");
            assert!(line.len() >= 6 && line.ends_with(b"\r\n"), "{line:?}");
            assert!(line[..3].iter().all(u8::is_ascii_digit), "{line:?}");
            assert_eq!(line[..3], lines[0][..3]);
            let sep = if i + 1 == lines.len() { b' ' } else { b'-' };
            assert_eq!(line[3], sep, "{line:?}");
            let body = &line[..line.len() - 2];
            assert!(!body.contains(&b'\r') && !body.contains(&b'\n'), "{line:?}");
            assert!(body.iter().all(|&b| (0x20..0x7f).contains(&b)), "{line:?}");
        }
        // Enhanced status code on 2xx/4xx/5xx except EHLO/HELO 250 and 220 greetings.
        let first = String::from_utf8_lossy(lines[0]);
        let code = &first[..3];
        let helo_like = code == "250" && !first[4..].starts_with("2.");
        if matches!(&code[..1], "2" | "4" | "5") && code != "220" && !helo_like {
            let esc = first[4..].split(' ').next().unwrap_or_default();
            let parts: Vec<&str> = esc.split('.').collect();
            assert_eq!(parts.len(), 3, "{first}");
            assert_eq!(parts[0], &code[..1], "{first}");
        }
    }

    fn no_bare_newline(data: &[u8]) -> bool {
        let mut prev = 0u8;
        for (i, &b) in data.iter().enumerate() {
            if b == b'\n' && prev != b'\r' {
                return false;
            }
            if prev == b'\r' && b != b'\n' {
                return false;
            }
            prev = b;
            if i + 1 == data.len() && b == b'\r' {
                return false;
            }
        }
        true
    }

    const TX: &[u8] = b"EHLO client.example.net\r\nMAIL FROM:<a@example.net> SIZE=100 BODY=8BITMIME\r\n\
RCPT TO:<u1@example.lg.jp>\r\nRCPT TO:<u2@x.sub.lg.jp>\r\nDATA\r\n";

    #[test]
    fn greeting_and_denied_client() {
        let (_, ev) = Session::new(config(), true);
        assert_eq!(ev, vec![Event::Reply(b"220 mx.example.jp ESMTP mugaika\r\n".to_vec())]);
        let (mut s, ev) = Session::new(config(), false);
        assert_eq!(codes(&ev), ["554 5.7.1", "CLOSE"]);
        assert!(s.is_closed());
        assert!(s.feed(b"EHLO x\r\n").is_empty());
        // A hostile hostname cannot break the reply syntax.
        let mut c = config();
        c.hostname = "evil\r\n250 injected".to_string();
        let (s, ev) = Session::new(c, true);
        assert_eq!(ev, vec![Event::Reply(b"220 evil250injected ESMTP mugaika\r\n".to_vec())]);
        assert_well_formed(&s.timeout_reply());
    }

    #[test]
    fn full_pipelined_transaction_equals_byte_by_byte() {
        let mut input = TX.to_vec();
        input.extend_from_slice(b"Subject: hi\r\n\r\n..dot\r\nbody\r\n.\r\nQUIT\r\n");
        let mut s1 = session();
        let e1 = drive(&mut s1, &[&input], &accepted());
        assert_eq!(
            codes(&e1),
            ["250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "354", "MSG", "250 2.0.0", "221 2.0.0", "CLOSE"]
        );
        let msgs = messages(&e1);
        assert_eq!(msgs.len(), 1);
        let (env, data) = &msgs[0];
        assert_eq!(data, b"Subject: hi\r\n\r\n.dot\r\nbody\r\n");
        assert_eq!(env.helo, "client.example.net");
        assert_eq!(env.mail_from, "a@example.net");
        assert_eq!(env.rcpt_to, ["u1@example.lg.jp", "u2@x.sub.lg.jp"]);
        assert!(env.body_8bit && env.esmtp && !env.smtputf8 && !env.tls);
        assert_eq!(env.protocol(), "ESMTP");
        let queued = e1.iter().find_map(|e| match e {
            Event::Reply(r) if r.starts_with(b"250 2.0.0") => Some(r.clone()),
            _ => None,
        });
        assert_eq!(queued.unwrap(), b"250 2.0.0 Ok: queued as Q1\r\n");

        let mut s2 = session();
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let e2 = drive(&mut s2, &bytes, &accepted());
        assert_eq!(e1, e2);
        for e in &e1 {
            if let Event::Reply(r) = e {
                assert_well_formed(r);
            }
        }
    }

    #[test]
    fn ehlo_advertises_extensions() {
        let mut s = session();
        let ev = s.feed(b"EHLO c.example\r\n");
        let Event::Reply(r) = &ev[0] else { panic!() };
        assert_well_formed(r);
        let text = String::from_utf8_lossy(r);
        for ext in ["SIZE 1000", "8BITMIME", "SMTPUTF8", "PIPELINING", "ENHANCEDSTATUSCODES", "CHUNKING", "STARTTLS"] {
            assert!(
                text.contains(&format!("250-{ext}\r\n")) || text.contains(&format!("250 {ext}\r\n")),
                "{ext}: {text}"
            );
        }
        let mut c = config();
        c.starttls_available = false;
        let (mut s, _) = Session::new(c, true);
        let ev = s.feed(b"ehlo c.example\r\nHELO c.example\r\nSTARTTLS\r\n");
        assert!(
            !String::from_utf8_lossy(match &ev[0] {
                Event::Reply(r) => r,
                _ => panic!(),
            })
            .contains("STARTTLS")
        );
        assert_eq!(codes(&ev), ["250", "250", "502 5.5.1"]);
    }

    #[test]
    fn dot_unstuffing_and_empty_message() {
        let mut s = session();
        let mut input = TX.to_vec();
        input.extend_from_slice(b"..\r\n...x\r\n.y\r\na.b\r\n\r\n.\r\n");
        let ev = drive(&mut s, &[&input], &accepted());
        assert_eq!(messages(&ev)[0].1, b".\r\n..x\r\ny\r\na.b\r\n\r\n");
        let ev = drive(&mut s, &[b"MAIL FROM:<>\r\nRCPT TO:<u@example.lg.jp>\r\nDATA\r\n.\r\n"], &accepted());
        let m = messages(&ev);
        assert_eq!(m.len(), 1);
        assert!(m[0].1.is_empty());
        assert_eq!(m[0].0.mail_from, "");
    }

    /// Each smuggling sequence: the smuggled MAIL/RCPT/DATA never become
    /// commands and never yield a second message.
    #[test]
    fn smuggling_sequences() {
        for seq in [
            &b"\n.\r\n"[..],
            b"\n.\n",
            b"\r.\r",
            b"\r.\r\n",
            b"\r\n.\n",
            b"\r\n.\r",
            b"\r\n.\r\r\n",
            b"\r\n\x00.\r\n",
            b"\n\n.\n\n",
        ] {
            let mut input = TX.to_vec();
            input.extend_from_slice(b"Subject: one\r\n\r\nhello");
            input.extend_from_slice(seq);
            input.extend_from_slice(
                b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<victim@example.lg.jp>\r\nDATA\r\nSubject: smuggled\r\n",
            );
            input.extend_from_slice(b"\r\n.\r\nNOOP\r\n");
            for split in [input.len(), 1, 7] {
                let mut s = session();
                let chunks: Vec<&[u8]> = input.chunks(split).collect();
                let ev = drive(&mut s, &chunks, &accepted());
                let msgs = messages(&ev);
                assert!(msgs.len() <= 1, "{seq:?}");
                let c = codes(&ev);
                // Only the 5 commands before the DATA text and the final NOOP are answered.
                assert_eq!(c.len(), 7 + msgs.len(), "{seq:?}: {c:?}");
                assert_eq!(c.last().unwrap(), "250 2.0.0", "{seq:?}");
                if seq == b"\r\n\x00.\r\n" {
                    // Legitimate: NUL is just a byte; the end comes later.
                    assert_eq!(msgs.len(), 1);
                    let d = &msgs[0].1;
                    assert!(d.windows(17).any(|w| w == b"Subject: smuggled"), "{seq:?}");
                    assert!(d.ends_with(b"Subject: smuggled\r\n\r\n"));
                } else {
                    assert!(msgs.is_empty(), "{seq:?}");
                    assert_eq!(c[c.len() - 2], "550 5.5.2", "{seq:?}");
                }
            }
        }
    }

    #[test]
    fn bdat_chunks() {
        let mut s = session();
        // Chunk contents that look like commands (and like a DATA end) are data.
        let ev = drive(
            &mut s,
            &[b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.lg.jp>\r\nBDAT 12\r\nQUIT\r\nRSET\r\nBDAT 9 LAST\r\nDATA\r\n.\r\nQUIT\r\n"],
            &accepted(),
        );
        assert_eq!(
            codes(&ev),
            ["250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "MSG", "250 2.0.0", "221 2.0.0", "CLOSE"]
        );
        assert_eq!(messages(&ev)[0].1, b"QUIT\r\nRSET\r\nDATA\r\n.\r\n");

        // Exact chunking, a chunk ending in CR completed by the next one.
        let mut s = session();
        let ev = drive(
            &mut s,
            &[b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.lg.jp>\r\nBDAT 7\r\nab\r\ncd\rBDAT 3 LAST\r\n\nef"],
            &accepted(),
        );
        assert_eq!(codes(&ev), ["250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "MSG", "250 2.0.0"]);
        assert_eq!(messages(&ev)[0].1, b"ab\r\ncd\r\nef\r\n");
        // DATA after BDAT refused; BDAT without MAIL consumed and refused.
        let ev = drive(
            &mut s,
            &[b"BDAT 6\r\nDATA\r\nBDAT 0 LAST\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.lg.jp>\r\nBDAT 2\r\nabDATA\r\nBDAT 0 LAST\r\n"],
            &accepted(),
        );
        assert_eq!(
            codes(&ev),
            ["503 5.5.1", "503 5.5.1", "250 2.1.0", "250 2.1.5", "250 2.0.0", "503 5.5.1", "MSG", "250 2.0.0"]
        );
        // BDAT with a bare LF is refused at LAST; a lone trailing CR too.
        for body in [&b"a\nb"[..], b"ab\r"] {
            let mut input = b"MAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.lg.jp>\r\n".to_vec();
            input.extend_from_slice(format!("BDAT {} LAST\r\n", body.len()).as_bytes());
            input.extend_from_slice(body);
            let ev = drive(&mut s, &[&input], &accepted());
            assert_eq!(codes(&ev), ["250 2.1.0", "250 2.1.5", "550 5.5.2"]);
        }
        // Overflowing sizes are syntax errors, not wrapped numbers.
        let ev = s.feed(b"BDAT 99999999999999999999999999\r\nBDAT -1\r\nBDAT 1 LAST x\r\n");
        assert_eq!(codes(&ev), ["501 5.5.4", "501 5.5.4", "501 5.5.4"]);
    }

    #[test]
    fn size_limits() {
        // Declared SIZE over the limit.
        let mut s = session();
        let ev = s.feed(b"EHLO c\r\nMAIL FROM:<a@b.example> SIZE=1001\r\nMAIL FROM:<a@b.example> SIZE=1000\r\n");
        assert_eq!(codes(&ev), ["250", "552 5.3.4", "250 2.1.0"]);
        // Data over the limit: read to the end, discarded, one 552, in sync afterwards.
        let mut s = session();
        let mut input = TX.to_vec();
        for _ in 0..100 {
            input.extend_from_slice(b"0123456789abcdefghij\r\n");
        }
        input.extend_from_slice(b".\r\nNOOP\r\n");
        let ev = drive(&mut s, &[&input], &accepted());
        assert_eq!(codes(&ev)[5..], ["552 5.3.4", "250 2.0.0"]);
        assert!(s.tx.is_none());
        // Exactly at the limit is fine.
        let mut input = b"MAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.lg.jp>\r\nDATA\r\n".to_vec();
        input.extend_from_slice(&[b'x'; 998]);
        input.extend_from_slice(b"\r\n.\r\n");
        let ev = drive(&mut s, &[&input], &accepted());
        assert_eq!(messages(&ev)[0].1.len(), 1000);
        // BDAT: the crossing chunk and the later ones get 552, then sync.
        let mut input = b"MAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.lg.jp>\r\nBDAT 600\r\n".to_vec();
        input.extend_from_slice(&[b'x'; 600]);
        input.extend_from_slice(b"BDAT 600\r\n");
        input.extend_from_slice(&[b'x'; 600]);
        input.extend_from_slice(b"BDAT 10 LAST\r\n0123456789NOOP\r\n");
        let ev = drive(&mut s, &[&input], &accepted());
        assert_eq!(codes(&ev), ["250 2.1.0", "250 2.1.5", "250 2.0.0", "552 5.3.4", "552 5.3.4", "250 2.0.0"]);
        assert!(s.tx.is_none());
    }

    /// Fuzz regression (fuzz/regressions/smtp_session/bdat_bare_and_oversize_split):
    /// a BDAT body with a bare LF *and* over the size limit got 550 or 552
    /// depending on how its bytes arrived; the size is now counted after the
    /// bare newline too, so every split gives the same replies.
    #[test]
    fn bdat_bare_newline_and_oversize_replies_do_not_depend_on_the_split() {
        let mut input =
            b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.lg.jp>\r\nBDAT 1200 LAST\r\n".to_vec();
        // Over the limit (1000) well before the bare LF at the very end.
        input.extend_from_slice(&[b'x'; 1198]);
        input.extend_from_slice(b"a\nNOOP\r\n");
        let whole = codes(&drive(&mut session(), &[&input], &accepted()));
        assert_eq!(whole, ["250", "250 2.1.0", "250 2.1.5", "552 5.3.4", "250 2.0.0"]);
        for split in [1, 3, 5, 64, 700, 1100] {
            let chunks: Vec<&[u8]> = input.chunks(split).collect();
            assert_eq!(codes(&drive(&mut session(), &chunks, &accepted())), whole, "split {split}");
        }
    }

    #[test]
    fn recipients_limit_and_relay() {
        let mut s = session();
        let ev = s.feed(
            b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n\
RCPT TO:<1@example.lg.jp>\r\nRCPT TO:<1@example.lg.jp>\r\nRCPT TO:<2@EXAMPLE.lg.JP>\r\nRCPT TO:<3@a.b.sub.lg.jp>\r\n\
RCPT TO:<4@example.lg.jp>\r\n",
        );
        assert_eq!(codes(&ev), ["250", "250 2.1.0", "250 2.1.5", "250 2.1.5", "250 2.1.5", "250 2.1.5", "452 4.5.3"]);
        assert_eq!(s.tx.as_ref().unwrap().rcpt_to.len(), 3);

        let mut c = config();
        c.max_bad_commands = 100;
        let (mut s, _) = Session::new(c, true);
        s.feed(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n");
        for (rcpt, code) in [
            ("<u@example.com>", "550 5.7.1"),
            ("<u@sub.lg.jp>", "550 5.7.1"), // ".sub.lg.jp" does not match the apex
            ("<u@xexample.lg.jp>", "550 5.7.1"),
            ("<u@example.lg.jp.evil.com>", "550 5.7.1"),
            ("<u@x.example.lg.jp>", "550 5.7.1"), // exact entry: no subdomains
            ("<@relay.example.lg.jp:u@evil.com>", "550 5.7.1"),
            ("<@a,@b:u@example.lg.jp>", "550 5.7.1"),
            ("<u%evil.com@example.lg.jp>", "550 5.7.1"),
            ("<evil.com!u@example.lg.jp>", "550 5.7.1"),
            ("<u@evil.com@example.lg.jp>", "550 5.7.1"),
            ("<u@[192.0.2.1]>", "550 5.7.1"),
            ("<postmaster>", "501 5.1.3"),
            ("<>", "501 5.1.3"),
            ("<\"a b\"@example.lg.jp>", "501 5.1.3"),
            ("<a..b@example.lg.jp>", "501 5.1.3"),
            ("<u@example.lg.jp.>", "501 5.1.3"),
            ("<u@-x.example.lg.jp>", "501 5.1.3"),
            ("<ユーザ@example.lg.jp>", "553 5.6.7"),
            ("u@example.lg.jp", "501 5.5.4"),
            ("<u@example.lg.jp> NOTIFY=NEVER", "555 5.5.4"),
            ("<u@example.lg.jp>x", "501 5.5.4"),
        ] {
            let ev = s.feed(format!("RCPT TO:{rcpt}\r\n").as_bytes());
            assert_eq!(codes(&ev), [code], "{rcpt}");
        }
        let long = format!("RCPT TO:<{}@example.lg.jp>\r\n", "a".repeat(65));
        assert_eq!(codes(&s.feed(long.as_bytes())), ["501 5.1.3"]);
        // SMTPUTF8 recipient allowed once MAIL said SMTPUTF8.
        let ev =
            s.feed("RSET\r\nMAIL FROM:<送信@example.net> SMTPUTF8\r\nRCPT TO:<ユーザ@example.lg.jp>\r\n".as_bytes());
        assert_eq!(codes(&ev), ["250 2.0.0", "250 2.1.0", "250 2.1.5"]);
    }

    #[test]
    fn mail_syntax_and_sequence() {
        let mut c = config();
        c.max_bad_commands = 100;
        let (mut s, _) = Session::new(c, true);
        let ev = s.feed(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.lg.jp>\r\nDATA\r\nBDAT 3\r\nabcEHLO c\r\nRCPT TO:<u@example.lg.jp>\r\nDATA\r\n");
        assert_eq!(codes(&ev), ["503 5.5.1", "503 5.5.1", "503 5.5.1", "503 5.5.1", "250", "503 5.5.1", "503 5.5.1"]);
        for (mail, code) in [
            ("MAIL FROM:<a@b.example> BODY=BINARYMIME", "555 5.5.4"),
            ("MAIL FROM:<a@b.example> RET=FULL", "555 5.5.4"),
            ("MAIL FROM:<a@b.example> SIZE=x", "501 5.5.4"),
            ("MAIL FROM:<a@b.example> SIZE=1 SIZE=2", "501 5.5.4"),
            ("MAIL FROM:<ü@b.example>", "553 5.6.7"),
            ("MAIL FROM:<@x:a@b.example>", "501 5.1.7"),
            ("MAIL FROM:a@b.example", "501 5.5.4"),
            ("MAIL TO:<a@b.example>", "501 5.5.4"),
            ("MAIL FROM:<a@b.example> SIZE=99999999999999999999999", "501 5.5.4"),
            ("mail from: <a@b.example> body=7bit smtputf8", "250 2.1.0"),
            ("MAIL FROM:<x@y.example>", "503 5.5.1"),
        ] {
            let ev = s.feed(format!("{mail}\r\n").as_bytes());
            assert_eq!(codes(&ev), [code], "{mail}");
        }
        let ev = s.feed(b"RCPT TO:<u@example.lg.jp>\r\nDATA extra\r\nVRFY\r\nVRFY x\r\nHELP\r\nNOOP hi\r\nEXPN x\r\nXYZZY\r\n\r\nRSET\r\nRCPT TO:<u@example.lg.jp>\r\n");
        assert_eq!(
            codes(&ev),
            [
                "250 2.1.5",
                "501 5.5.4",
                "501 5.5.4",
                "252 2.5.0",
                "214 2.0.0",
                "250 2.0.0",
                "502 5.5.1",
                "500 5.5.2",
                "500 5.5.2",
                "250 2.0.0",
                "503 5.5.1"
            ]
        );
        // No valid recipients: 554 (not counted).
        let ev = s.feed(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<u@evil.example>\r\nDATA\r\n");
        assert_eq!(codes(&ev), ["250 2.1.0", "550 5.7.1", "554 5.5.1"]);
        // require_tls
        let mut c = config();
        c.require_tls = true;
        let (mut s, _) = Session::new(c, true);
        assert_eq!(codes(&s.feed(b"EHLO c\r\nMAIL FROM:<a@b.example>\r\n")), ["250", "530 5.7.0"]);
        // Web clients are hung up on.
        let (mut s, _) = Session::new(config(), true);
        assert_eq!(codes(&s.feed(b"GET / HTTP/1.1\r\nHost: x\r\n")), ["421 4.7.0", "CLOSE"]);
    }

    #[test]
    fn bad_command_limit() {
        let mut s = session();
        let ev = s.feed(b"FOO\r\nBAR\r\nBAZ\r\nMAIL FROM:<a@b>\r\nQ\r\nX\r\nNOOP\r\n");
        assert_eq!(codes(&ev), ["500 5.5.2", "500 5.5.2", "500 5.5.2", "503 5.5.1", "500 5.5.2", "421 4.7.0", "CLOSE"]);
        assert!(s.is_closed());
        assert!(s.feed(b"NOOP\r\n").is_empty());
        // Bare LF and control characters in commands count too.
        let mut s = session();
        let ev = s.feed(b"NOOP\nNOOP\r\r\nNO\0OP\r\nNOOP\r\n");
        assert_eq!(codes(&ev), ["500 5.5.2", "500 5.5.2", "500 5.5.2", "250 2.0.0"]);
    }

    #[test]
    fn line_too_long() {
        let mut s = session();
        let mut long = b"NOOP ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 600));
        long.extend_from_slice(b"\r\nNOOP\r\n");
        // One reply for the long line, the rest of it discarded, then in sync.
        let e1 = s.feed(&long);
        assert_eq!(codes(&e1), ["500 5.5.2", "250 2.0.0"]);
        let mut s = session();
        let chunks: Vec<&[u8]> = long.chunks(3).collect();
        assert_eq!(drive(&mut s, &chunks, &accepted()), e1);
        // Exactly 512 with CRLF is fine.
        let mut line = b"NOOP ".to_vec();
        line.extend(std::iter::repeat_n(b'a', 505));
        line.extend_from_slice(b"\r\n");
        assert_eq!(line.len(), 512);
        assert_eq!(codes(&s.feed(&line)), ["250 2.0.0"]);
        // An endless line: memory stays bounded, a single reply.
        let mut s = session();
        let mut n = 0;
        for _ in 0..1000 {
            n += s.feed(&[b'x'; 1000]).len();
            assert!(s.line.len() <= 512);
        }
        assert_eq!(n, 1);
    }

    #[test]
    fn starttls_discards_injected_plaintext() {
        let mut s = session();
        let ev = s.feed(b"EHLO c\r\nSTARTTLS\r\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<u@example.lg.jp>\r\n");
        assert_eq!(codes(&ev), ["250", "220 2.0.0", "TLS"]);
        assert!(!s.wants_input());
        // Plaintext arriving before the handshake is over: dropped.
        assert!(s.feed(b"DATA\r\n").is_empty());
        s.tls_started();
        assert!(s.is_tls());
        // The injected MAIL did not survive; EHLO is needed again.
        let ev = s.feed(b"RCPT TO:<u@example.lg.jp>\r\nMAIL FROM:<a@b.example>\r\nEHLO c\r\nSTARTTLS\r\n");
        assert_eq!(codes(&ev), ["503 5.5.1", "503 5.5.1", "250", "503 5.5.1"]);
        let Event::Reply(r) = &ev[2] else { panic!() };
        assert!(!String::from_utf8_lossy(r).contains("STARTTLS"));
        let ev = drive(
            &mut s,
            &[b"MAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.lg.jp>\r\nDATA\r\nx\r\n.\r\n"],
            &accepted(),
        );
        let m = messages(&ev);
        assert!(m[0].0.tls);
        assert_eq!(m[0].0.protocol(), "ESMTPS");
    }

    #[test]
    fn message_stored_outcomes_and_pause() {
        for (outcome, expect) in [
            (
                StoreOutcome::Accepted { queue_id: "AB12\r\n250 x".to_string() },
                &b"250 2.0.0 Ok: queued as AB12250x\r\n"[..],
            ),
            (StoreOutcome::Busy, b"451 4.3.2 System busy, try again later\r\n"),
            (StoreOutcome::NoSpace, b"452 4.3.1 Insufficient system storage\r\n"),
            (StoreOutcome::Failed, b"451 4.3.0 Local error in processing, try again later\r\n"),
        ] {
            let mut s = session();
            let mut input = TX.to_vec();
            input.extend_from_slice(b"x\r\n.\r\nMAIL FROM:<a@b.example>\r\n");
            let ev = s.feed(&input);
            assert!(matches!(ev.last(), Some(Event::Message { .. })));
            assert!(!s.wants_input());
            // Nothing is processed while paused.
            assert!(s.feed(b"RCPT TO:<u@example.lg.jp>\r\n").is_empty());
            let ev = s.message_stored(outcome);
            assert_eq!(ev[0], Event::Reply(expect.to_vec()));
            assert_eq!(codes(&ev[1..]), ["250 2.1.0", "250 2.1.5"]);
            assert!(s.message_stored(StoreOutcome::Busy).is_empty());
        }
        // Flooding while paused: 421 after the message's reply.
        let mut s = session();
        let mut input = TX.to_vec();
        input.extend_from_slice(b"x\r\n.\r\n");
        s.feed(&input);
        for _ in 0..300 {
            s.feed(&[b'N'; 1024]);
        }
        assert!(s.pending.len() <= PENDING_CAP);
        assert_eq!(codes(&s.message_stored(accepted())), ["250 2.0.0", "421 4.7.0", "CLOSE"]);
    }

    #[test]
    fn many_pipelined_bdat_messages_in_one_feed() {
        let mut input = b"EHLO c\r\n".to_vec();
        for _ in 0..2000 {
            input.extend_from_slice(b"MAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.lg.jp>\r\nBDAT 3 LAST\r\nab\n");
        }
        // The bare LF makes each one refused, never paused: and with valid text…
        let mut s = session();
        let ev = drive(&mut s, &[&input], &accepted());
        assert_eq!(messages(&ev).len(), 0);
        let input = String::from_utf8(input).unwrap().replace("ab\n", "a\r\n").into_bytes();
        let mut s = session();
        let ev = drive(&mut s, &[&input], &accepted());
        assert_eq!(messages(&ev).len(), 2000);
    }

    /// xorshift64*: deterministic, no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const PIECES: &[&[u8]] = &[
        b"EHLO c\r\n",
        b"HELO c\r\n",
        b"MAIL FROM:<a@b.example>\r\n",
        b"MAIL FROM:<> SIZE=10\r\n",
        b"RCPT TO:<u@example.lg.jp>\r\n",
        b"RCPT TO:<v@x.sub.lg.jp>\r\n",
        b"RCPT TO:<u@evil.example>\r\n",
        b"DATA\r\n",
        b"BDAT 4\r\n",
        b"BDAT 3 LAST\r\n",
        b"BDAT 0 LAST\r\n",
        b"RSET\r\n",
        b"NOOP\r\n",
        b"\r\n.\r\n",
        b"\r\n",
        b"\n",
        b"\r",
        b".",
        b"..",
        b"\n.\r\n",
        b"\r.\r",
        b"\n.\n",
        b"x",
        b"hello world",
        b"\0",
        b"\xff",
        b"\xe3\x81\x82",
        b" ",
        b"QUIT\r\n",
        b"VRFY x\r\n",
        b"STARTTLS\r\n",
        b"SIZE=99999",
    ];

    const BODY_PIECES: &[&[u8]] = &[
        b"Subject: x\r\n",
        b"text ",
        b"\r\n",
        b"\r\n",
        b"\r\n.",
        b"\r\n..",
        b"\r\n.x",
        b".",
        b"\xe3\x81\x82",
        b"\r\nDATA\r\n",
        b"\r\nQUIT\r\n",
        b"\r\nMAIL FROM:<e@x.example>\r\n",
        b"\n",
        b"\r",
        b"\n.\r\n",
        b"\r.\r",
        b"\n.\n",
        b"\r\n.\r\r\n",
    ];

    /// A random body: mostly clean CRLF text, sometimes with bare CR/LF.
    fn random_body(rng: &mut Rng) -> Vec<u8> {
        let mut v = Vec::new();
        let dirty = rng.below(3) == 0;
        let pieces = if dirty { BODY_PIECES } else { &BODY_PIECES[..12] };
        for _ in 0..rng.below(30) {
            v.extend_from_slice(pieces[rng.below(pieces.len())]);
        }
        v
    }

    fn random_stream(rng: &mut Rng) -> Vec<u8> {
        let mut v = Vec::new();
        if rng.below(4) != 0 {
            v.extend_from_slice(b"EHLO c\r\n");
        }
        for _ in 0..rng.below(12) {
            match rng.below(4) {
                // A whole transaction, DATA or BDAT.
                0 | 1 => {
                    v.extend_from_slice(PIECES[2 + rng.below(2)]);
                    for _ in 0..1 + rng.below(3) {
                        v.extend_from_slice(PIECES[4 + rng.below(3)]);
                    }
                    let body = random_body(rng);
                    if rng.below(2) == 0 {
                        v.extend_from_slice(b"DATA\r\n");
                        v.extend_from_slice(&body);
                        v.extend_from_slice(b"\r\n.\r\n");
                    } else {
                        let cut = rng.below(body.len() + 1);
                        let (a, b) = body.split_at(cut);
                        v.extend_from_slice(format!("BDAT {}\r\n", a.len()).as_bytes());
                        v.extend_from_slice(a);
                        v.extend_from_slice(format!("BDAT {} LAST\r\n", b.len()).as_bytes());
                        v.extend_from_slice(b);
                    }
                }
                // Random protocol pieces.
                2 => {
                    for _ in 0..rng.below(15) {
                        v.extend_from_slice(PIECES[rng.below(PIECES.len())]);
                    }
                }
                // Raw noise.
                _ => {
                    for _ in 0..rng.below(30) {
                        v.push(rng.next() as u8);
                    }
                }
            }
        }
        v
    }

    fn check_events(events: &[Event]) {
        let mut closed = false;
        for e in events {
            assert!(!closed, "event after Close: {e:?}");
            match e {
                Event::Reply(r) => assert_well_formed(r),
                Event::Message { data, envelope } => {
                    assert!(no_bare_newline(data), "{data:?}");
                    assert!(data.len() <= 1002);
                    assert!(!envelope.rcpt_to.is_empty());
                }
                Event::Close => closed = true,
                Event::StartTls => {}
            }
        }
    }

    #[test]
    fn random_streams_never_panic_nor_leak_bare_newlines() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut c = config();
        c.max_bad_commands = 1000;
        let (mut total_msgs, mut total_replies) = (0, 0);
        for round in 0..400 {
            let input = random_stream(&mut rng);
            let outcome = match round % 4 {
                0 => accepted(),
                1 => StoreOutcome::Busy,
                2 => StoreOutcome::NoSpace,
                _ => StoreOutcome::Failed,
            };
            // Whole, byte by byte, and in random splits.
            let (mut s1, _) = Session::new(c.clone(), true);
            let e1 = drive(&mut s1, &[&input], &outcome);
            check_events(&e1);
            total_msgs += messages(&e1).len();
            total_replies += e1.len();
            let (mut s2, _) = Session::new(c.clone(), true);
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            let e2 = drive(&mut s2, &bytes, &outcome);
            check_events(&e2);
            let mut chunks = Vec::new();
            let mut rest = &input[..];
            while !rest.is_empty() {
                let n = 1 + rng.below(rest.len().min(40));
                chunks.push(&rest[..n]);
                rest = &rest[n..];
            }
            let (mut s3, _) = Session::new(c.clone(), true);
            let e3 = drive(&mut s3, &chunks, &outcome);
            check_events(&e3);
            // Without STARTTLS (whose discard depends on feed boundaries by
            // design) every split gives the same events.
            if !input.windows(8).any(|w| w == b"STARTTLS") {
                assert_eq!(e1, e2, "round {round}");
                assert_eq!(e1, e3, "round {round}");
            }
        }
        eprintln!("random streams: {total_msgs} messages, {total_replies} events");
        assert!(total_msgs >= 100 && total_replies >= 4000);
    }

    #[test]
    fn random_raw_bytes_with_tight_limits() {
        let mut rng = Rng(42);
        let mut c = config();
        c.max_message_bytes = 50;
        c.max_bad_commands = 3;
        for _ in 0..300 {
            let mut input = b"EHLO c\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.lg.jp>\r\n".to_vec();
            input.extend_from_slice(if rng.below(2) == 0 { b"DATA\r\n" } else { b"BDAT 40\r\n" });
            for _ in 0..rng.below(300) {
                input.push(match rng.below(6) {
                    0 => b'\r',
                    1 => b'\n',
                    2 => b'.',
                    _ => rng.next() as u8,
                });
            }
            let (mut s, _) = Session::new(c.clone(), true);
            let ev = drive(&mut s, &[&input], &accepted());
            check_events(&ev);
            assert!(messages(&ev).iter().all(|(_, d)| d.len() <= 52));
        }
    }

    #[test]
    fn large_message_is_linear() {
        // 20 MB of DATA through a 30 MB limit in 4 KiB feeds: must not be quadratic
        // (this takes well under a second in a debug build when linear).
        let mut c = config();
        c.max_message_bytes = 30 << 20;
        let (mut s, _) = Session::new(c, true);
        s.feed(TX);
        let line = b"0123456789012345678901234567890123456789012345678901234567890123456789\r\n";
        let block: Vec<u8> = line.iter().copied().cycle().take(4096).collect();
        for _ in 0..5000 {
            assert!(s.feed(&block).is_empty());
        }
        let ev = s.feed(b"\r\n.\r\n");
        assert_eq!(messages(&ev)[0].1.len(), 5000 * 4096 + 2);
    }
}
