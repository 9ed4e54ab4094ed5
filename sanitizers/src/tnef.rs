//! Lists what a TNEF (`winmail.dat`, `application/vnd.ms-tnef`) blob carries,
//! without extracting anything.
//!
//! TNEF is Outlook's container for a message's MAPI properties and its
//! attachments. The sanitiser never delivers it; it only needs to *name* the
//! attachments inside in the removal notice (and let the policy look at
//! those names), so [`list_tnef`] returns names and sizes, never contents.
//!
//! # Format (from [MS-OXTNEF])
//!
//! ```text
//! stream    = signature:u32le(0x223E9F78) legacy-key:u16le *attribute
//! attribute = level:u8 (1 message, 2 attachment) id:u32le length:u32le
//!             data[length] checksum:u16le (sum of data bytes mod 2^16)
//! ```
//!
//! Attributes used here:
//!
//! | id           | name                 | use                                   |
//! |--------------|----------------------|---------------------------------------|
//! | `0x00069002` | attAttachRenddata    | starts an attachment                  |
//! | `0x00018010` | attAttachTitle       | 8.3 (or short) filename, 8-bit        |
//! | `0x0006800F` | attAttachData        | the content; its length is the size   |
//! | `0x00069005` | attAttachment        | MAPI property list of the attachment  |
//! | `0x0001800C` | attBody              | plain-text body, 8-bit                |
//! | `0x00069003` | attMsgProps          | MAPI property list of the message     |
//! | `0x00069007` | attOemCodepage       | code page of the 8-bit strings        |
//!
//! A MAPI property list (attAttachment, attMsgProps):
//!
//! ```text
//! list     = count:u32 *property
//! property = tag:u32 (type in the low 16 bits, id in the high)
//!            [name, when id >= 0x8000] value
//! name     = guid[16] kind:u32 (0: id:u32 | 1: length:u32 utf16le[length] pad4)
//! value    = fixed                                  ; single-valued fixed-size type,
//!                                                   ; size rounded up to 4 bytes
//!          | count:u32 count*(length:u32 data pad4) ; PT_STRING8, PT_UNICODE,
//!                                                   ; PT_BINARY, PT_OBJECT, and their
//!                                                   ; multi-valued forms
//!          | count:u32 count*fixed                  ; multi-valued fixed-size types
//! ```
//!
//! The attachment's name is, in order of preference: `PR_ATTACH_LONG_FILENAME`
//! (0x3707), attAttachTitle, `PR_ATTACH_FILENAME` (0x3704),
//! `PR_DISPLAY_NAME` (0x3001) — Outlook saves under the long filename. The
//! size is the attAttachData length, else the length of `PR_ATTACH_DATA_BIN` /
//! `PR_ATTACH_DATA_OBJ` (0x3701, less the 16-byte interface id for objects).
//! The body is attBody, else `PR_BODY` (0x1000) from attMsgProps.
//!
//! 8-bit strings are decoded as UTF-8 when valid, else in the code page named
//! by attOemCodepage when `encoding_rs` knows it, else as Shift_JIS (CP932,
//! the usual case in Japan). `PT_UNICODE` is UTF-16LE. Strings end at the
//! first NUL; names are cut to [`MAX_NAME_CHARS`].
//!
//! # Robustness
//!
//! Every length and count is checked against the bytes that remain before
//! anything is read or allocated; counts cannot drive a loop further than the
//! data (each iteration consumes at least four bytes). On anything
//! inconsistent (short attribute, unknown level, property type that cannot be
//! skipped, overrunning value) parsing stops with `malformed = true` and what
//! was found so far is returned. A checksum mismatch sets `malformed` but
//! parsing continues, since the framing is still consistent. Bytes left over
//! inside a property-list attribute after its last property are ignored.
//! Nothing recurses, so time is linear in the input and memory is bounded by
//! the input plus `max_attachments` entries.
//!
//! # Limits
//!
//! * Embedded messages (`PR_ATTACH_DATA_OBJ` holding a nested TNEF stream) are
//!   listed as one attachment; their own attachments are not listed.
//! * The compressed RTF body (`PR_RTF_COMPRESSED`) is not decompressed, so a
//!   message whose only body is RTF has `body_text = None`.
//! * Names are returned as found (after decoding); checking them for control
//!   or bidi characters and dangerous extensions is the caller's job.

use encoding_rs::{Encoding, SHIFT_JIS, UTF_16LE};

/// One attachment inside the TNEF blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TnefAttachment {
    /// Best available filename (see the module docs), decoded.
    pub name: Option<String>,
    /// Size of the attachment data in bytes (0 if the blob did not say).
    pub size: u64,
}

/// What [`list_tnef`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TnefListing {
    /// At most `max_attachments` entries, in stream order.
    pub attachments: Vec<TnefAttachment>,
    /// The plain-text body, if the blob carried one.
    pub body_text: Option<String>,
    /// More attachments existed than `max_attachments`.
    pub truncated: bool,
    /// The blob is not TNEF or is inconsistent; the listing is what was read
    /// before the problem (it may be incomplete).
    pub malformed: bool,
}

/// Names longer than this many characters are cut.
pub const MAX_NAME_CHARS: usize = 512;

const SIGNATURE: u32 = 0x223E_9F78;

const LVL_MESSAGE: u8 = 1;
const LVL_ATTACHMENT: u8 = 2;

const ATT_BODY: u32 = 0x0001_800C;
const ATT_ATTACH_DATA: u32 = 0x0006_800F;
const ATT_ATTACH_TITLE: u32 = 0x0001_8010;
const ATT_ATTACH_RENDDATA: u32 = 0x0006_9002;
const ATT_MSG_PROPS: u32 = 0x0006_9003;
const ATT_ATTACHMENT: u32 = 0x0006_9005;
const ATT_OEM_CODEPAGE: u32 = 0x0006_9007;

const PR_BODY: u16 = 0x1000;
const PR_DISPLAY_NAME: u16 = 0x3001;
const PR_ATTACH_DATA: u16 = 0x3701;
const PR_ATTACH_FILENAME: u16 = 0x3704;
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;

const PT_OBJECT: u16 = 0x000D;
const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_BINARY: u16 = 0x0102;
const MV_FLAG: u16 = 0x1000;

/// Lists the attachments of a TNEF blob (at most `max_attachments`), its
/// plain-text body if present, and whether the blob was malformed.
pub fn list_tnef(bytes: &[u8], max_attachments: usize) -> TnefListing {
    let mut parser = Parser {
        listing: TnefListing::default(),
        max_attachments,
        current: None,
        codepage: None,
        body: None,
        props_body: None,
    };
    let mut r = Reader::new(bytes);
    let ok = match (r.u32(), r.u16()) {
        (Some(SIGNATURE), Some(_key)) => parser.attributes(&mut r),
        _ => false,
    };
    parser.listing.malformed |= !ok;
    parser.finish()
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// A bounds-checked cursor.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { rest: b }
    }

    fn remaining(&self) -> usize {
        self.rest.len()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    /// A length field followed by that many bytes.
    fn counted(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u32()?).ok()?;
        self.take(n)
    }

    /// Skips the padding after `len` bytes of value data; padding missing at
    /// the very end of the data is tolerated.
    fn pad(&mut self, len: usize) {
        let pad = (4 - len % 4) % 4;
        let n = pad.min(self.rest.len());
        self.rest = self.rest.get(n..).unwrap_or_default();
    }
}

// ---------------------------------------------------------------------------
// Attributes
// ---------------------------------------------------------------------------

/// Raw strings, decoded once the code page is known.
#[derive(Clone, Copy)]
enum RawStr<'a> {
    Eight(&'a [u8]),
    Utf16(&'a [u8]),
}

#[derive(Default)]
struct Pending<'a> {
    long_name: Option<RawStr<'a>>,
    title: Option<RawStr<'a>>,
    filename: Option<RawStr<'a>>,
    display_name: Option<RawStr<'a>>,
    data_len: Option<u64>,
    prop_data_len: Option<u64>,
}

struct Parser<'a> {
    listing: TnefListing,
    max_attachments: usize,
    current: Option<Pending<'a>>,
    codepage: Option<&'static Encoding>,
    /// attBody.
    body: Option<RawStr<'a>>,
    /// PR_BODY from attMsgProps.
    props_body: Option<RawStr<'a>>,
}

impl<'a> Parser<'a> {
    /// Reads attributes to the end; false when the stream is inconsistent.
    fn attributes(&mut self, r: &mut Reader<'a>) -> bool {
        while r.remaining() > 0 {
            let (Some(level), Some(id), Some(data), Some(checksum)) = (r.u8(), r.u32(), r.counted(), r.u16()) else {
                return false;
            };
            if level != LVL_MESSAGE && level != LVL_ATTACHMENT {
                return false;
            }
            let sum = data.iter().fold(0u16, |s, &b| s.wrapping_add(u16::from(b)));
            if sum != checksum {
                self.listing.malformed = true;
            }
            if !self.attribute(level, id, data) {
                return false;
            }
        }
        true
    }

    /// Takes in one attribute; false when its content is inconsistent.
    fn attribute(&mut self, level: u8, id: u32, data: &'a [u8]) -> bool {
        match (level, id) {
            (_, ATT_ATTACH_RENDDATA) => {
                self.finish_attachment();
                self.current = Some(Pending::default());
            }
            (_, ATT_OEM_CODEPAGE) => {
                self.codepage = data
                    .get(..4)
                    .and_then(|c| c.try_into().ok())
                    .map(u32::from_le_bytes)
                    .and_then(encoding_for_codepage);
            }
            (LVL_MESSAGE, ATT_BODY) => self.body = Some(RawStr::Eight(data)),
            (LVL_MESSAGE, ATT_MSG_PROPS) => {
                let mut found = None;
                let ok = properties(data, |tag, value| {
                    if tag == PR_BODY
                        && let Value::Str(s) = value
                    {
                        found.get_or_insert(s);
                    }
                });
                self.props_body = self.props_body.or(found);
                return ok;
            }
            (LVL_ATTACHMENT, ATT_ATTACH_TITLE) => self.pending().title = Some(RawStr::Eight(data)),
            (LVL_ATTACHMENT, ATT_ATTACH_DATA) => self.pending().data_len = Some(data.len() as u64),
            (LVL_ATTACHMENT, ATT_ATTACHMENT) => {
                let pending = self.pending();
                return properties(data, |tag, value| match (tag, value) {
                    (PR_ATTACH_LONG_FILENAME, Value::Str(s)) => pending.long_name = Some(s),
                    (PR_ATTACH_FILENAME, Value::Str(s)) => pending.filename = Some(s),
                    (PR_DISPLAY_NAME, Value::Str(s)) => pending.display_name = Some(s),
                    (PR_ATTACH_DATA, Value::Data(n)) => pending.prop_data_len = Some(n),
                    _ => {}
                });
            }
            _ => {}
        }
        true
    }

    /// Closes the listing: the last attachment, the body.
    fn finish(mut self) -> TnefListing {
        self.finish_attachment();
        if let Some(text) = self.body.or(self.props_body) {
            self.listing.body_text = Some(decode(text, self.codepage, usize::MAX));
        }
        self.listing
    }

    fn pending(&mut self) -> &mut Pending<'a> {
        self.current.get_or_insert_with(Pending::default)
    }

    fn finish_attachment(&mut self) {
        let Some(p) = self.current.take() else { return };
        if self.listing.attachments.len() >= self.max_attachments {
            self.listing.truncated = true;
            return;
        }
        let name = p
            .long_name
            .or(p.title)
            .or(p.filename)
            .or(p.display_name)
            .map(|s| decode(s, self.codepage, MAX_NAME_CHARS))
            .filter(|s| !s.is_empty());
        let size = p.data_len.or(p.prop_data_len).unwrap_or(0);
        self.listing.attachments.push(TnefAttachment { name, size });
    }
}

// ---------------------------------------------------------------------------
// MAPI property lists
// ---------------------------------------------------------------------------

/// The values the listing cares about.
enum Value<'a> {
    Str(RawStr<'a>),
    /// Length of a binary or object value (object interface id excluded).
    Data(u64),
    Other,
}

/// Walks a property list, calling `visit(property id, value)` for each
/// single-valued property (named properties are skipped); false when the
/// list is inconsistent.
fn properties<'a>(data: &'a [u8], mut visit: impl FnMut(u16, Value<'a>)) -> bool {
    let mut r = Reader::new(data);
    let Some(count) = r.u32() else { return false };
    for _ in 0..count {
        // Each property takes at least its 4-byte tag, so this loop ends
        // within data.len() / 4 iterations.
        let Some(tag) = r.u32() else { return false };
        let ptype = (tag & 0xffff) as u16;
        let id = (tag >> 16) as u16;
        if id >= 0x8000 && !skip_name(&mut r) {
            return false;
        }
        let Some(value) = property_value(&mut r, ptype) else { return false };
        if id < 0x8000 {
            visit(id, value);
        }
    }
    true
}

/// Skips a named property's name: GUID, kind, then a number or a string.
fn skip_name(r: &mut Reader<'_>) -> bool {
    if r.take(16).is_none() {
        return false;
    }
    match r.u32() {
        Some(0) => r.u32().is_some(),
        Some(1) => match r.counted() {
            Some(name) => {
                r.pad(name.len());
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// Size in the stream of one fixed-size value (rounded up to 4), or `None`
/// for a type that is not fixed-size.
fn fixed_size(base: u16) -> Option<usize> {
    match base {
        0x0002 | 0x0003 | 0x0004 | 0x000A | 0x000B => Some(4),
        0x0005 | 0x0006 | 0x0007 | 0x0014 | 0x0040 => Some(8),
        0x0048 => Some(16),
        _ => None,
    }
}

fn is_variable(base: u16) -> bool {
    matches!(base, PT_STRING8 | PT_UNICODE | PT_BINARY | PT_OBJECT | 0x00FB)
}

/// Reads one property value of type `ptype`; `None` when it overruns or the
/// type cannot be skipped.
fn property_value<'a>(r: &mut Reader<'a>, ptype: u16) -> Option<Value<'a>> {
    let multi = ptype & MV_FLAG != 0;
    let base = ptype & !MV_FLAG;
    if !multi && let Some(size) = fixed_size(base) {
        r.take(size)?;
        return Some(Value::Other);
    }
    if !multi && !is_variable(base) {
        return None;
    }
    // Counted values: variable-size (single or multi) and multi-valued fixed.
    let count = usize::try_from(r.u32()?).ok()?;
    if count > r.remaining() / 4 {
        return None; // each value takes at least four bytes
    }
    if let Some(size) = fixed_size(base) {
        r.take(count.checked_mul(size)?)?;
        return Some(Value::Other);
    }
    if !is_variable(base) {
        return None;
    }
    let mut first = None;
    for _ in 0..count {
        let value = r.counted()?;
        r.pad(value.len());
        first.get_or_insert(value);
    }
    if multi {
        return Some(Value::Other);
    }
    let Some(value) = first else { return Some(Value::Other) };
    Some(match base {
        PT_STRING8 => Value::Str(RawStr::Eight(value)),
        PT_UNICODE => Value::Str(RawStr::Utf16(value)),
        PT_BINARY => Value::Data(value.len() as u64),
        PT_OBJECT => Value::Data(value.len().saturating_sub(16) as u64),
        _ => Value::Other,
    })
}

// ---------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------

/// Decodes a raw string up to its first NUL, keeping at most `max_chars`.
fn decode(s: RawStr<'_>, codepage: Option<&'static Encoding>, max_chars: usize) -> String {
    let text = match s {
        RawStr::Eight(b) => {
            let b = b.split(|&c| c == 0).next().unwrap_or_default();
            match std::str::from_utf8(b) {
                Ok(t) => t.to_owned(),
                Err(_) => codepage.unwrap_or(SHIFT_JIS).decode_without_bom_handling(b).0.into_owned(),
            }
        }
        RawStr::Utf16(b) => {
            let end = b.chunks_exact(2).position(|u| u == [0, 0]).map_or(b.len() & !1, |i| 2 * i);
            UTF_16LE.decode_without_bom_handling(b.get(..end).unwrap_or_default()).0.into_owned()
        }
    };
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => text.get(..cut).unwrap_or_default().to_owned(),
        None => text,
    }
}

/// The `encoding_rs` encoding for a Windows code page, where it has one.
/// UTF-8 (65001) needs no entry: valid UTF-8 is always taken as UTF-8.
fn encoding_for_codepage(cp: u32) -> Option<&'static Encoding> {
    use encoding_rs::*;
    Some(match cp {
        932 => SHIFT_JIS,
        20932 | 51932 => EUC_JP,
        50220..=50222 => ISO_2022_JP,
        936 => GBK,
        54936 => GB18030,
        949 => EUC_KR,
        950 => BIG5,
        866 => IBM866,
        874 => WINDOWS_874,
        1250 => WINDOWS_1250,
        1251 => WINDOWS_1251,
        1252 | 28591 => WINDOWS_1252,
        1253 => WINDOWS_1253,
        1254 => WINDOWS_1254,
        1255 => WINDOWS_1255,
        1256 => WINDOWS_1256,
        1257 => WINDOWS_1257,
        1258 => WINDOWS_1258,
        20866 => KOI8_R,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// A small TNEF writer for building test blobs.
    struct Tnef(Vec<u8>);

    impl Tnef {
        fn new() -> Self {
            let mut v = SIGNATURE.to_le_bytes().to_vec();
            v.extend_from_slice(&0x1234u16.to_le_bytes());
            Tnef(v)
        }

        fn attr(mut self, level: u8, id: u32, data: &[u8]) -> Self {
            let sum = data.iter().fold(0u16, |s, &b| s.wrapping_add(u16::from(b)));
            self.0.push(level);
            self.0.extend_from_slice(&id.to_le_bytes());
            self.0.extend_from_slice(&(data.len() as u32).to_le_bytes());
            self.0.extend_from_slice(data);
            self.0.extend_from_slice(&sum.to_le_bytes());
            self
        }

        fn attachment(self, title: &[u8], content: &[u8], props: Option<Vec<u8>>) -> Self {
            let mut t = self
                .attr(2, ATT_ATTACH_RENDDATA, &[1, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0])
                .attr(2, ATT_ATTACH_TITLE, title)
                .attr(2, ATT_ATTACH_DATA, content);
            if let Some(p) = props {
                t = t.attr(2, ATT_ATTACHMENT, &p);
            }
            t
        }
    }

    /// A property-list writer.
    #[derive(Default)]
    struct Props {
        count: u32,
        out: Vec<u8>,
    }

    impl Props {
        fn tag(&mut self, id: u16, ptype: u16) -> &mut Self {
            self.count += 1;
            self.out.extend_from_slice(&((u32::from(id) << 16) | u32::from(ptype)).to_le_bytes());
            self
        }
        fn raw(&mut self, b: &[u8]) -> &mut Self {
            self.out.extend_from_slice(b);
            self
        }
        fn u32(&mut self, v: u32) -> &mut Self {
            self.raw(&v.to_le_bytes())
        }
        fn value(&mut self, data: &[u8]) -> &mut Self {
            self.u32(data.len() as u32).raw(data);
            let pad = (4 - data.len() % 4) % 4;
            self.raw(&[0; 3][..pad])
        }
        fn string8(&mut self, id: u16, s: &[u8]) -> &mut Self {
            let mut v = s.to_vec();
            v.push(0);
            self.tag(id, PT_STRING8).u32(1).value(&v)
        }
        fn unicode(&mut self, id: u16, s: &str) -> &mut Self {
            let mut v: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
            v.extend_from_slice(&[0, 0]);
            self.tag(id, PT_UNICODE).u32(1).value(&v)
        }
        fn long(&mut self, id: u16, v: u32) -> &mut Self {
            self.tag(id, 0x0003).u32(v)
        }
        fn build(&self) -> Vec<u8> {
            let mut v = self.count.to_le_bytes().to_vec();
            v.extend_from_slice(&self.out);
            v
        }
    }

    /// Properties of every shape that must be skipped correctly before the
    /// long filename is reached.
    fn busy_props(long_name: &str) -> Vec<u8> {
        let mut p = Props::default();
        p.long(0x0E20, 1234) // PR_ATTACH_SIZE
            .tag(0x0FFF, 0x000B)
            .raw(&[1, 0, 0, 0]) // boolean, padded
            .tag(0x0E21, 0x0002)
            .raw(&[7, 0, 0, 0]) // int16, padded
            .tag(0x3007, 0x0040)
            .raw(&[0; 8]) // time
            .tag(0x0FF9, 0x0048)
            .raw(&[0xab; 16]) // clsid
            .tag(0x8005, 0x001F) // named (numeric id) unicode
            .raw(&[0x11; 16])
            .u32(0)
            .u32(0x8233)
            .u32(1)
            .value(&[b'x', 0, 0, 0])
            .tag(0x8006, 0x0003) // named (string) long
            .raw(&[0x22; 16])
            .u32(1)
            .value(&"Keywords\0".encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<_>>())
            .u32(42)
            .tag(0x3A01, 0x101E) // multi-valued string8
            .u32(3)
            .value(b"a\0")
            .value(b"bcde\0")
            .value(b"\0")
            .tag(0x3A02, 0x1003) // multi-valued long
            .u32(2)
            .u32(1)
            .u32(2)
            .tag(0x3A03, 0x1014) // multi-valued int64
            .u32(1)
            .raw(&[0; 8])
            .tag(0x3701, PT_BINARY) // PR_ATTACH_DATA_BIN
            .u32(1)
            .value(&[9; 5])
            .string8(PR_ATTACH_FILENAME, b"SHORT.PDF")
            .unicode(PR_ATTACH_LONG_FILENAME, long_name)
            .string8(PR_DISPLAY_NAME, b"display");
        p.build()
    }

    fn two_attachments() -> Vec<u8> {
        Tnef::new()
            .attr(1, 0x0008_9006, &[0, 0, 1, 0]) // attTnefVersion
            .attr(1, ATT_OEM_CODEPAGE, &[0xa4, 0x03, 0, 0, 0, 0, 0, 0]) // 932
            .attr(1, ATT_BODY, b"Hello from Outlook\r\n\0")
            .attachment(b"REPORT~1.PDF\0", &[0x25; 1234], None)
            .attachment(b"LONGNA~1.EXE\0", &[0x4d; 77], Some(busy_props("長い名前の請求書.pdf.exe")))
            .0
    }

    #[test]
    fn lists_names_sizes_and_body() {
        let l = list_tnef(&two_attachments(), 10);
        assert!(!l.malformed && !l.truncated, "{l:?}");
        assert_eq!(
            l.attachments,
            vec![
                TnefAttachment { name: Some("REPORT~1.PDF".into()), size: 1234 },
                TnefAttachment { name: Some("長い名前の請求書.pdf.exe".into()), size: 77 },
            ]
        );
        assert_eq!(l.body_text.as_deref(), Some("Hello from Outlook\r\n"));
    }

    #[test]
    fn cp932_names_and_fallbacks() {
        let (sjis, _, _) = SHIFT_JIS.encode("見積書.xlsx");
        let mut p = Props::default();
        p.string8(PR_ATTACH_LONG_FILENAME, &sjis);
        let blob = Tnef::new().attachment(b"MITSUM~1.XLS\0", b"abc", Some(p.build())).0;
        let l = list_tnef(&blob, 10);
        assert_eq!(l.attachments[0].name.as_deref(), Some("見積書.xlsx"));
        assert!(!l.malformed);

        // Title in CP932 without a code page attribute: Shift_JIS fallback.
        let (title, _, _) = SHIFT_JIS.encode("資料.doc");
        let mut title = title.into_owned();
        title.push(0);
        let l = list_tnef(&Tnef::new().attachment(&title, b"", None).0, 10);
        assert_eq!(l.attachments[0].name.as_deref(), Some("資料.doc"));

        // Code page 1252 declared: 8-bit names follow it.
        let blob =
            Tnef::new().attr(1, ATT_OEM_CODEPAGE, &1252u32.to_le_bytes()).attachment(b"caf\xe9.txt\0", b"", None).0;
        assert_eq!(list_tnef(&blob, 10).attachments[0].name.as_deref(), Some("café.txt"));

        // Only a display name and an object (embedded message) for the size.
        let mut p = Props::default();
        p.string8(PR_DISPLAY_NAME, b"Fwd: meeting").tag(PR_ATTACH_DATA, PT_OBJECT).u32(1).value(&[0u8; 16 + 40]);
        let blob = Tnef::new().attr(2, ATT_ATTACH_RENDDATA, &[5; 14]).attr(2, ATT_ATTACHMENT, &p.build()).0;
        let l = list_tnef(&blob, 10);
        assert_eq!(l.attachments, vec![TnefAttachment { name: Some("Fwd: meeting".into()), size: 40 }]);

        // No name at all.
        let l = list_tnef(&Tnef::new().attr(2, ATT_ATTACH_RENDDATA, &[1; 14]).attr(2, ATT_ATTACH_DATA, b"xy").0, 10);
        assert_eq!(l.attachments, vec![TnefAttachment { name: None, size: 2 }]);
    }

    #[test]
    fn body_from_message_properties() {
        let mut p = Props::default();
        p.unicode(0x0037, "subject").unicode(PR_BODY, "本文です");
        let blob = Tnef::new().attr(1, ATT_MSG_PROPS, &p.build()).0;
        let l = list_tnef(&blob, 10);
        assert_eq!(l.body_text.as_deref(), Some("本文です"));
        assert!(!l.malformed && l.attachments.is_empty());
    }

    #[test]
    fn max_attachments_truncates() {
        let l = list_tnef(&two_attachments(), 1);
        assert_eq!(l.attachments.len(), 1);
        assert!(l.truncated && !l.malformed);
        let l = list_tnef(&two_attachments(), 0);
        assert!(l.attachments.is_empty() && l.truncated);
    }

    #[test]
    fn every_truncation_is_handled() {
        let blob = two_attachments();
        // Attribute boundaries: cutting exactly there is a shorter valid stream.
        let mut boundaries = vec![6];
        let mut pos = 6;
        while pos < blob.len() {
            let len = u32::from_le_bytes(blob[pos + 5..pos + 9].try_into().unwrap()) as usize;
            pos += 1 + 4 + 4 + len + 2;
            boundaries.push(pos);
        }
        assert_eq!(pos, blob.len());
        for cut in 0..blob.len() {
            let l = list_tnef(&blob[..cut], 10);
            assert_eq!(l.malformed, !boundaries.contains(&cut), "cut {cut}");
            assert!(l.attachments.len() <= 2);
        }
        let l = list_tnef(&blob[..6], 10);
        assert!(!l.malformed && l.attachments.is_empty() && l.body_text.is_none());
        // Cut inside the second attachment's property list: the first is
        // listed, the second keeps its title.
        let l = list_tnef(&blob[..blob.len() - 20], 10);
        assert!(l.malformed);
        assert_eq!(l.attachments.len(), 2);
        assert_eq!(l.attachments[1].name.as_deref(), Some("LONGNA~1.EXE"));
        assert_eq!(l.body_text.as_deref(), Some("Hello from Outlook\r\n"));
    }

    #[test]
    fn garbage_and_bad_framing() {
        assert!(list_tnef(b"", 10).malformed);
        assert!(list_tnef(b"PK\x03\x04 not tnef at all", 10).malformed);
        let mut x: u32 = 0x9e37_79b9;
        let noise: Vec<u8> = (0..50_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let mut blob = Tnef::new().0;
        blob.extend_from_slice(&noise);
        let l = list_tnef(&blob, 10);
        assert!(l.malformed);

        // Attribute length far beyond the data.
        let mut blob = Tnef::new().0;
        blob.push(2);
        blob.extend_from_slice(&ATT_ATTACH_DATA.to_le_bytes());
        blob.extend_from_slice(&u32::MAX.to_le_bytes());
        blob.extend_from_slice(b"short");
        assert!(list_tnef(&blob, 10).malformed);

        // Unknown level.
        assert!(list_tnef(&Tnef::new().attr(7, ATT_BODY, b"x").0, 10).malformed);
    }

    #[test]
    fn checksum_mismatch_is_malformed_but_listed() {
        let mut blob = Tnef::new().attachment(b"A.TXT\0", b"abc", None).0;
        let last = blob.len() - 1;
        blob[last] ^= 0xff;
        let l = list_tnef(&blob, 10);
        assert!(l.malformed);
        assert_eq!(l.attachments.len(), 1);
        assert_eq!(l.attachments[0].name.as_deref(), Some("A.TXT"));
    }

    #[test]
    fn hostile_property_lists() {
        // Huge property count with no data: no allocation, malformed.
        let blob = Tnef::new().attachment(b"X.DOC\0", b"", Some(u32::MAX.to_le_bytes().to_vec())).0;
        let l = list_tnef(&blob, 10);
        assert!(l.malformed);
        assert_eq!(l.attachments[0].name.as_deref(), Some("X.DOC"));

        // Huge value count.
        let mut p = Props::default();
        p.tag(PR_ATTACH_LONG_FILENAME, PT_UNICODE).u32(u32::MAX);
        assert!(list_tnef(&Tnef::new().attachment(b"X\0", b"", Some(p.build())).0, 10).malformed);

        // Huge multi-valued fixed count (count * size would overflow).
        let mut p = Props::default();
        p.tag(0x3A00, 0x1048).u32(0x4000_0000).raw(&[0; 64]);
        assert!(list_tnef(&Tnef::new().attachment(b"X\0", b"", Some(p.build())).0, 10).malformed);

        // Value length beyond the list.
        let mut p = Props::default();
        p.tag(PR_ATTACH_LONG_FILENAME, PT_STRING8).u32(1).u32(1000).raw(b"abc");
        assert!(list_tnef(&Tnef::new().attachment(b"X\0", b"", Some(p.build())).0, 10).malformed);

        // A type that cannot be skipped stops the list; what came before stays.
        let mut p = Props::default();
        p.string8(PR_ATTACH_LONG_FILENAME, b"first.txt").tag(0x1234, 0x0001).u32(0);
        let l = list_tnef(&Tnef::new().attachment(b"X\0", b"", Some(p.build())).0, 10);
        assert!(l.malformed);
        assert_eq!(l.attachments[0].name.as_deref(), Some("first.txt"));

        // Named property with a bad kind.
        let mut p = Props::default();
        p.tag(0x8001, 0x0003).raw(&[0; 16]).u32(9).u32(0);
        assert!(list_tnef(&Tnef::new().attachment(b"X\0", b"", Some(p.build())).0, 10).malformed);

        // Over-long name is cut; unterminated UTF-16 with an odd byte.
        let long = "a".repeat(5000);
        let mut p = Props::default();
        p.unicode(PR_ATTACH_LONG_FILENAME, &long);
        let l = list_tnef(&Tnef::new().attachment(b"X\0", b"", Some(p.build())).0, 10);
        assert_eq!(l.attachments[0].name.as_ref().map(|n| n.chars().count()), Some(MAX_NAME_CHARS));
        let mut p = Props::default();
        p.tag(PR_ATTACH_LONG_FILENAME, PT_UNICODE).u32(1).value(&[b'a', 0, b'b']);
        let l = list_tnef(&Tnef::new().attachment(b"X\0", b"", Some(p.build())).0, 10);
        assert_eq!(l.attachments[0].name.as_deref(), Some("a"));
        assert!(!l.malformed);
    }

    #[test]
    fn every_byte_mutated() {
        let blob = two_attachments();
        for i in 0..blob.len() {
            for v in [0x00, 0xff, 0x80] {
                let mut m = blob.clone();
                m[i] = v;
                let l = list_tnef(&m, 10);
                assert!(l.attachments.len() <= 10);
            }
        }
    }

    #[test]
    fn many_attachments_stay_bounded() {
        let mut t = Tnef::new();
        for i in 0..2000 {
            t = t.attachment(format!("F{i}.TXT\0").as_bytes(), b"z", None);
        }
        let l = list_tnef(&t.0, 100);
        assert_eq!(l.attachments.len(), 100);
        assert!(l.truncated && !l.malformed);
        assert_eq!(l.attachments[99].name.as_deref(), Some("F99.TXT"));
    }
}
