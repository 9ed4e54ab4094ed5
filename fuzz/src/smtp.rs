//! The `smtp_session` target: the inbound SMTP state machine fed arbitrary
//! client bytes.
//!
//! Input layout: byte 0 chooses the session configuration (STARTTLS offered /
//! required, message size limit, recipient and bad-command limits, line
//! limit), byte 1 seeds the split of the rest into feeds, the rest is what
//! the client sends (mapped onto [`crate::grammar::SMTP`] in the second pass).
//!
//! The input is driven twice, as a caller would: every `Message` is answered
//! with `message_stored(Accepted)`, every `StartTls` with `tls_started`,
//! feeding stops at `Close`.
//!
//! 1. **One byte per feed**, so each event is tied to the input byte that
//!    caused it. After each `354` reply, an independent reference model of the
//!    DATA receiver ([`reference_data`]: lines end only at CR LF, the end is
//!    the first line that is exactly `.` CR LF, a leading dot is removed, any
//!    other CR or LF is bare) predicts where DATA ends and how: the next event
//!    must come exactly at that byte (none if the input has no end marker) and
//!    be the `Message` with exactly the unstuffed data, or `550` (bare CR/LF),
//!    or `552` (too big). This is the SMTP-smuggling oracle: DATA ends only on
//!    `<CRLF>.<CRLF>`, and one DATA yields at most one message.
//! 2. **Random splits** (1–64 bytes, from the seed): the sequence of events
//!    must be the same as with one byte per feed (unless STARTTLS happened,
//!    whose rest-of-feed is discarded by design).
//!
//! In both runs: every reply is well formed (`ddd` + space or hyphen, the
//! same code on every line, hyphen on all lines but the last, printable
//! ASCII, CRLF-terminated lines of at most 512 bytes); every message's data
//! has no bare CR or LF, is empty or ends in CR LF, and fits the size limit;
//! its recipients are relay domains; messages not produced by a DATA (BDAT)
//! are at most as many as `LAST` occurrences in the input; nothing follows
//! `Close`.

use mugaika::inbound::session::{Event, Session, SessionConfig, StoreOutcome};

use crate::{grammar, show};

/// One recorded event, in a comparable form.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Reply(Vec<u8>),
    StartTls,
    Message { rcpt: Vec<String>, from: String, data: Vec<u8> },
    Close,
}

fn config(byte: u8) -> SessionConfig {
    SessionConfig {
        hostname: "mx.example.lg.jp".to_string(),
        max_message_bytes: [64, 1000, 100_000, 10_000_000][usize::from((byte >> 2) & 3)],
        max_recipients: if byte & 0x10 != 0 { 1 } else { 3 },
        max_line_bytes: if byte & 0x40 != 0 { 512 } else { 1000 },
        max_bad_commands: if byte & 0x20 != 0 { 3 } else { 50 },
        relay_domains: vec!["b".to_string(), ".example.jp".to_string()],
        starttls_available: byte & 1 != 0,
        require_tls: byte & 2 != 0,
    }
}

/// The checks of the module doc; `mapped`: map the client bytes onto the
/// SMTP alphabet first.
pub fn check(data: &[u8], mapped: bool) {
    let (cfg, seed, client) = match data {
        [c, s, rest @ ..] => (*c, *s, rest),
        _ => return,
    };
    let input = if mapped { grammar::map(client, grammar::SMTP) } else { client.to_vec() };
    let bytewise = drive(&config(cfg), &input, None);
    let split = drive(&config(cfg), &input, Some(seed));
    if !bytewise.contains(&Ev::StartTls) && !split.contains(&Ev::StartTls) && bytewise != split {
        let at = bytewise.iter().zip(&split).position(|(a, b)| a != b).unwrap_or(bytewise.len().min(split.len()));
        panic!(
            "smtp: events depend on how the input is split (first difference at event {at}: {:?} vs {:?})\nconfig {cfg:#04x} seed {seed}\ninput {}",
            bytewise.get(at).map(shorten),
            split.get(at).map(shorten),
            show(&input)
        );
    }
}

fn shorten(e: &Ev) -> String {
    match e {
        Ev::Reply(r) => format!("Reply({})", show(r)),
        Ev::Message { rcpt, data, .. } => format!("Message(rcpt {rcpt:?}, data {})", show(data)),
        other => format!("{other:?}"),
    }
}

/// What the reference DATA receiver predicts after a 354.
#[derive(Debug, PartialEq, Eq)]
enum DataEnd {
    /// The index (in the data) of the LF that ends `.` CR LF, and the outcome.
    At(usize, Outcome),
    /// No end marker in the input.
    Never,
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Message(Vec<u8>),
    Bare,
    TooBig,
    /// Bare CR/LF and too big: the session may say either.
    BareOrTooBig,
}

/// Reference DATA receiver (see the module doc), independent of the
/// session's byte state machine: whole lines at a time.
fn reference_data(data: &[u8], limit: usize) -> DataEnd {
    let mut i = 0;
    let mut body = Vec::new();
    let mut bare = false;
    let mut too_big = false;
    loop {
        let rest = data.get(i..).unwrap_or_default();
        if rest.starts_with(b".\r\n") {
            let outcome = match (bare, too_big) {
                (false, false) => Outcome::Message(body),
                (true, false) => Outcome::Bare,
                (false, true) => Outcome::TooBig,
                (true, true) => Outcome::BareOrTooBig,
            };
            return DataEnd::At(i + 2, outcome);
        }
        let Some(crlf) = rest.windows(2).position(|w| w == b"\r\n") else {
            return DataEnd::Never;
        };
        let line = rest.get(..crlf + 2).unwrap_or_default();
        let content = line.get(..line.len() - 2).unwrap_or_default();
        if content.iter().any(|&b| b == b'\r' || b == b'\n') {
            bare = true;
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(line);
        if body.len() + unstuffed.len() > limit {
            too_big = true;
        }
        if !too_big {
            body.extend_from_slice(unstuffed);
        }
        i += crlf + 2;
    }
}

struct Driver<'a> {
    session: Session,
    config: &'a SessionConfig,
    input: &'a [u8],
    events: Vec<Ev>,
    closed: bool,
    /// Byte index of the last feed (one-byte mode only).
    pos: Option<usize>,
    /// After a 354 in one-byte mode: where DATA started and its predicted end.
    in_data: Option<(usize, DataEnd)>,
    /// The last event was a 354 reply (both modes).
    after_354: bool,
    other_messages: usize,
    queue: u32,
}

fn drive(config: &SessionConfig, input: &[u8], split_seed: Option<u8>) -> Vec<Ev> {
    let (session, greeting) = Session::new(config.clone(), true);
    let mut d = Driver {
        session,
        config,
        input,
        events: Vec::new(),
        closed: false,
        pos: None,
        in_data: None,
        after_354: false,
        other_messages: 0,
        queue: 0,
    };
    d.handle(greeting);
    let mut at = 0;
    let mut rng = u32::from(split_seed.unwrap_or(0)).wrapping_mul(2_654_435_761).wrapping_add(12345);
    while at < input.len() && !d.closed {
        let n = match split_seed {
            None => 1,
            Some(_) => {
                rng ^= rng << 13;
                rng ^= rng >> 17;
                rng ^= rng << 5;
                1 + (rng % 64) as usize
            }
        };
        let end = (at + n).min(input.len());
        let chunk = input.get(at..end).unwrap_or_default();
        if split_seed.is_none() {
            d.pos = Some(at);
        }
        let evs = d.session.feed(chunk);
        d.handle(evs);
        at = end;
    }
    if let Some((start, DataEnd::At(end, _))) = &d.in_data {
        panic!(
            "smtp: DATA from byte {start} should have ended at byte {} but did not\ninput {}",
            start + end,
            show(input)
        );
    }
    let lasts = input.windows(4).filter(|w| w.eq_ignore_ascii_case(b"LAST")).count();
    if d.other_messages > lasts {
        panic!(
            "smtp: {} messages not from DATA but only {lasts} LAST in the input\ninput {}",
            d.other_messages,
            show(input)
        );
    }
    d.events
}

impl Driver<'_> {
    fn handle(&mut self, events: Vec<Event>) {
        for e in events {
            if self.closed {
                panic!("smtp: event {e:?} after Close\ninput {}", show(self.input));
            }
            self.check_data_end(&e);
            match e {
                Event::Reply(r) => {
                    check_reply(&r, self.input);
                    if r.starts_with(b"354") {
                        self.after_354 = true;
                        self.start_data();
                    }
                    self.events.push(Ev::Reply(r));
                }
                Event::StartTls => {
                    self.events.push(Ev::StartTls);
                    self.session.tls_started();
                }
                Event::Message { envelope, data } => {
                    self.check_message(&envelope.rcpt_to, &data);
                    self.events.push(Ev::Message { rcpt: envelope.rcpt_to, from: envelope.mail_from, data });
                    self.queue += 1;
                    let more =
                        self.session.message_stored(StoreOutcome::Accepted { queue_id: format!("Q{}", self.queue) });
                    self.handle(more);
                }
                Event::Close => {
                    self.events.push(Ev::Close);
                    self.closed = true;
                }
            }
        }
    }

    /// A 354 in one-byte mode: DATA starts after the current byte.
    fn start_data(&mut self) {
        if let Some(p) = self.pos {
            let start = p + 1;
            let predicted = reference_data(self.input.get(start..).unwrap_or_default(), self.config.max_message_bytes);
            self.in_data = Some((start, predicted));
        }
    }

    /// The first event after a 354 (one-byte mode) must be the predicted end.
    fn check_data_end(&mut self, e: &Event) {
        let after_354 = std::mem::replace(&mut self.after_354, false);
        if matches!(e, Event::Message { .. }) && !after_354 {
            self.other_messages += 1;
        }
        let Some((start, predicted)) = self.in_data.take() else { return };
        let pos = self.pos.unwrap_or(0);
        let fail = |why: &str| -> ! {
            panic!(
                "smtp: DATA starting at byte {start}: {why}; event {e:?} at byte {pos}, reference {predicted:?}\ninput {}",
                show(self.input)
            )
        };
        let DataEnd::At(end, outcome) = &predicted else { fail("an event although DATA has no end marker") };
        if start + end != pos {
            fail("DATA did not end at the first <CRLF>.<CRLF>");
        }
        match (e, outcome) {
            (Event::Message { data, .. }, Outcome::Message(want)) => {
                if data != want {
                    fail("message data differ from the reference unstuffing");
                }
            }
            (Event::Reply(r), Outcome::Bare) if r.starts_with(b"550 ") => {}
            (Event::Reply(r), Outcome::TooBig) if r.starts_with(b"552 ") => {}
            (Event::Reply(r), Outcome::BareOrTooBig) if r.starts_with(b"550 ") || r.starts_with(b"552 ") => {}
            _ => fail("wrong outcome"),
        }
    }

    fn check_message(&self, rcpt: &[String], data: &[u8]) {
        let input = self.input;
        for (i, &b) in data.iter().enumerate() {
            let bare = match b {
                b'\r' => data.get(i + 1) != Some(&b'\n'),
                b'\n' => i == 0 || data.get(i - 1) != Some(&b'\r'),
                _ => false,
            };
            if bare {
                panic!("smtp: message data has a bare CR/LF at {i}: {}\ninput {}", show(data), show(input));
            }
        }
        if !data.is_empty() && !data.ends_with(b"\r\n") {
            panic!("smtp: message data does not end in CRLF: {}\ninput {}", show(data), show(input));
        }
        if data.len() > self.config.max_message_bytes + 2 {
            panic!("smtp: message of {} bytes over the limit\ninput {}", data.len(), show(input));
        }
        if rcpt.is_empty() || rcpt.len() > self.config.max_recipients {
            panic!("smtp: message with {} recipients\ninput {}", rcpt.len(), show(input));
        }
        for r in rcpt {
            let domain = r.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
            if domain != "b" && !domain.ends_with(".example.jp") {
                panic!("smtp: recipient {r:?} outside the relay domains\ninput {}", show(input));
            }
        }
    }
}

/// A reply: `ddd` + `-`/space + printable ASCII, CRLF-terminated lines of at
/// most 512 bytes, one code, hyphens on all lines but the last.
fn check_reply(r: &[u8], input: &[u8]) {
    let fail = |why: &str| -> ! { panic!("smtp: malformed reply ({why}): {}\ninput {}", show(r), show(input)) };
    if r.is_empty() || !r.ends_with(b"\r\n") {
        fail("not CRLF-terminated");
    }
    let body = r.get(..r.len() - 2).unwrap_or_default();
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    let code = r.get(..3).unwrap_or_default();
    if !code.iter().all(u8::is_ascii_digit) || !matches!(code.first(), Some(b'2'..=b'5')) {
        fail("bad code");
    }
    for (i, line) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        let line = if last { *line } else { line.strip_suffix(b"\r").unwrap_or_else(|| fail("bare LF")) };
        if line.len() + 2 > 512 {
            fail("line over 512 bytes");
        }
        if line.get(..3) != Some(code) {
            fail("code differs between lines");
        }
        match (line.get(3), last) {
            (Some(b' '), true) | (Some(b'-'), false) => {}
            (None, true) => {}
            _ => fail("bad separator"),
        }
        if !line.iter().all(|&b| (0x20..0x7f).contains(&b)) {
            fail("non-printable byte");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference() {
        assert_eq!(reference_data(b".\r\n", 10), DataEnd::At(2, Outcome::Message(vec![])));
        assert_eq!(
            reference_data(b"a\r\n..b\r\n.\r\nX", 100),
            DataEnd::At(10, Outcome::Message(b"a\r\n.b\r\n".to_vec()))
        );
        assert_eq!(reference_data(b"a\n.\r\n", 100), DataEnd::Never);
        assert_eq!(reference_data(b"a\n\r\n.\r\n", 100), DataEnd::At(6, Outcome::Bare));
        assert_eq!(reference_data(b"abcdef\r\n.\r\n", 4), DataEnd::At(10, Outcome::TooBig));
    }

    #[test]
    fn a_transaction() {
        let input = b"EHLO a\r\nMAIL FROM:<a@b>\r\nRCPT TO:<x@b>\r\nDATA\r\nhi\r\n..\r\n.\r\nQUIT\r\n";
        let mut data = vec![0u8, 7];
        data.extend_from_slice(input);
        check(&data, false);
        let evs = drive(&config(0), input, None);
        assert!(evs.iter().any(|e| matches!(e, Ev::Message { data, .. } if data == b"hi\r\n.\r\n")));
    }
}
