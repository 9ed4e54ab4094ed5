//! ZIP reading with limits: list the members of one archive and inflate them
//! under a byte budget, without trusting anything the archive declares.
//!
//! What it does: [`read_zip`] parses the central directory itself (end record,
//! ZIP64 end record, per-entry ZIP64 / AES / Unicode-path extra fields),
//! decodes member names (UTF-8 when flagged or valid, else CP932), checks each
//! entry's local header, and reads every member that is neither a directory
//! nor encrypted. Inflation (stored, deflate, deflate64) is done by the `zip`
//! crate's streaming reader over a slice that ends where the central directory
//! says the member's compressed data ends, so a lying local header cannot make
//! it read further. [`is_encrypted_zip`] is a cheap header-only check.
//!
//! Limits ([`ZipLimits`]): at most `max_entries` entries are listed (then
//! `limit_hit` is set and the listing stops); each member's output is read in
//! 16 KiB steps and stopped as soon as it passes `max_member_bytes`
//! ([`MemberError::TooLarge`]), `max_ratio` × its compressed size + 64 KiB
//! ([`MemberError::RatioExceeded`]) or its declared size
//! ([`MemberError::Corrupt`]). Every byte inflated — kept or not — counts
//! against `max_total_bytes`; once that budget is spent `limit_hit` is set and
//! the remaining members are still listed (names, sizes, flags) but carry
//! [`MemberError::NotRead`]. So a zip bomb, overlapping entries or thousands of
//! entries pointing at one local header cost at most `max_total_bytes` of
//! inflation, and memory stays below the kept data plus one member's cap.
//!
//! Design: no recursion (nested archives are the caller's business), no
//! slicing without `get`, no arithmetic on declared values without
//! checked/saturating operations. Ambiguities another reader could resolve
//! differently (duplicate names, overlapping data, local header disagreeing
//! with the central directory, Unicode-path extra field disagreeing with the
//! name, more central entries than declared, data before the archive) are
//! listed in [`ZipListing::anomalies`] for the caller to judge.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;

use encoding_rs::SHIFT_JIS;

/// Limits applied while reading one archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    /// Entries listed at most; the listing stops past it (`limit_hit`).
    pub max_entries: usize,
    /// Uncompressed bytes of one member at most.
    pub max_member_bytes: u64,
    /// Uncompressed bytes inflated over the whole archive at most.
    pub max_total_bytes: u64,
    /// A member may produce at most `max_ratio` × its compressed size + [`RATIO_SLACK`].
    pub max_ratio: u64,
}

/// Allowance added to the ratio limit so small, highly compressible members pass.
pub const RATIO_SLACK: u64 = 64 * 1024;

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_entries: 1000,
            max_member_bytes: 32 * 1024 * 1024,
            max_total_bytes: 128 * 1024 * 1024,
            max_ratio: 100,
        }
    }
}

/// Why a member's data is not available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberError {
    /// Encrypted (ZipCrypto, strong encryption or AES): never decrypted.
    Encrypted,
    /// A compression method other than stored / deflate / deflate64.
    UnsupportedMethod(String),
    /// Declared or actual size above `max_member_bytes`.
    TooLarge,
    /// Output above `max_ratio` × compressed size + 64 KiB.
    RatioExceeded,
    /// The member's headers or data are broken (bad local header, CRC mismatch,
    /// output longer than declared, inflate error…).
    Corrupt(String),
    /// Not read because a limit of the archive (`max_total_bytes`) was hit.
    NotRead,
    /// Not read because the caller did not ask for it ([`read_zip_filtered`]).
    NotRequested,
}

impl fmt::Display for MemberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MemberError::Encrypted => f.write_str("encrypted"),
            MemberError::UnsupportedMethod(m) => write!(f, "unsupported compression method {m}"),
            MemberError::TooLarge => f.write_str("member too large"),
            MemberError::RatioExceeded => f.write_str("compression ratio exceeded (zip bomb?)"),
            MemberError::Corrupt(d) => write!(f, "corrupt member: {d}"),
            MemberError::NotRead => f.write_str("not read: archive limit reached"),
            MemberError::NotRequested => f.write_str("not read: not requested"),
        }
    }
}

/// One entry of the central directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipMember {
    /// Decoded name: UTF-8 when flagged or valid, else CP932. Control
    /// characters are kept as they are: the caller escapes.
    pub path: String,
    /// Declared uncompressed size (central directory, ZIP64-aware).
    pub size: u64,
    /// Declared compressed size.
    pub compressed: u64,
    /// Name ends in `/` and the entry holds no data.
    pub is_dir: bool,
    /// Encryption flag (bit 0 or bit 6) in the central or local header, or AES.
    pub encrypted: bool,
    /// Compression method, e.g. "stored", "deflate", "bzip2", "method-77".
    pub method: String,
    /// The uncompressed bytes (empty for a directory) or why they are absent.
    pub data: Result<Vec<u8>, MemberError>,
    /// The Info-ZIP Unicode Path extra field (0x7075), when present and
    /// different from `path` (another reader may show this name instead).
    pub unicode_path: Option<String>,
}

/// What [`read_zip`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ZipListing {
    pub members: Vec<ZipMember>,
    pub any_encrypted: bool,
    /// Set when `max_entries` (the listing stops there) or `max_total_bytes`
    /// (later members are `NotRead`) was reached.
    pub limit_hit: Option<String>,
    /// Ambiguities and oddities another reader might resolve differently.
    pub anomalies: Vec<String>,
}

/// The archive as a whole cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveError {
    /// No end-of-central-directory record.
    NotZip,
    /// The end record or the central directory is broken.
    Corrupt(String),
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveError::NotZip => f.write_str("not a ZIP archive"),
            ArchiveError::Corrupt(d) => write!(f, "corrupt ZIP archive: {d}"),
        }
    }
}

impl std::error::Error for ArchiveError {}

const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_EOCD: u32 = 0x0605_4b50;
const SIG_EOCD64: u32 = 0x0606_4b50;
const SIG_EOCD64_LOC: u32 = 0x0706_4b50;
const EOCD_LEN: usize = 22;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;
const FLAG_ENCRYPTED: u16 = 0x0001;
const FLAG_STRONG_ENCRYPTION: u16 = 0x0040;
const FLAG_UTF8: u16 = 0x0800;
const STEP: usize = 16 * 1024;

fn le16(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn le32(d: &[u8], at: usize) -> Option<u32> {
    let b = d.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn le64(d: &[u8], at: usize) -> Option<u64> {
    let b = d.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

fn to_usize(v: u64) -> Option<usize> {
    usize::try_from(v).ok()
}

/// Where the central directory is, from the end record(s).
#[derive(Debug, Clone, Copy)]
struct Directory {
    entries: u64,
    /// Absolute position of the first central header.
    start: usize,
    /// Absolute position just past the central directory.
    end: usize,
    /// Added to every local-header offset (data prepended to the archive).
    shift: u64,
}

fn find_directory(data: &[u8]) -> Result<Directory, ArchiveError> {
    if data.len() < EOCD_LEN {
        return Err(ArchiveError::NotZip);
    }
    let last = data.len() - EOCD_LEN;
    let first = last.saturating_sub(0xFFFF);
    let mut fallback: Option<usize> = None;
    let mut chosen: Option<usize> = None;
    let mut pos = last;
    loop {
        if le32(data, pos) == Some(SIG_EOCD) {
            let comment = le16(data, pos + 20).map_or(usize::MAX, usize::from);
            if pos + EOCD_LEN + comment == data.len() {
                chosen = Some(pos);
                break;
            }
            if fallback.is_none() {
                fallback = Some(pos);
            }
        }
        if pos == first {
            break;
        }
        pos -= 1;
    }
    let eocd = chosen.or(fallback).ok_or(ArchiveError::NotZip)?;
    let bad = |what: &str| ArchiveError::Corrupt(what.to_string());
    let disk = le16(data, eocd + 4).ok_or_else(|| bad("end record"))?;
    let cd_disk = le16(data, eocd + 6).ok_or_else(|| bad("end record"))?;
    let mut entries = u64::from(le16(data, eocd + 10).ok_or_else(|| bad("end record"))?);
    let mut cd_size = u64::from(le32(data, eocd + 12).ok_or_else(|| bad("end record"))?);
    let mut cd_offset = u64::from(le32(data, eocd + 16).ok_or_else(|| bad("end record"))?);
    let mut record_start = eocd;
    if (disk != 0 || cd_disk != 0) && disk != 0xFFFF && cd_disk != 0xFFFF {
        return Err(bad("multi-disk archives are not supported"));
    }
    let needs64 = entries == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF;
    if let Some(loc) = eocd.checked_sub(20)
        && le32(data, loc) == Some(SIG_EOCD64_LOC)
    {
        let declared = le64(data, loc + 8).and_then(to_usize);
        let at = match declared {
            Some(p) if le32(data, p) == Some(SIG_EOCD64) => Some(p),
            _ => loc.checked_sub(56).filter(|&p| le32(data, p) == Some(SIG_EOCD64)),
        };
        match at {
            Some(p) => {
                entries = le64(data, p + 32).ok_or_else(|| bad("ZIP64 end record"))?;
                cd_size = le64(data, p + 40).ok_or_else(|| bad("ZIP64 end record"))?;
                cd_offset = le64(data, p + 48).ok_or_else(|| bad("ZIP64 end record"))?;
                record_start = p;
            }
            None if needs64 => return Err(bad("ZIP64 end record missing")),
            None => {}
        }
    } else if needs64 && entries != 0xFFFF {
        return Err(bad("ZIP64 end record missing"));
    }
    // Where the directory really is: just before the end record.
    let actual = to_usize(cd_size).and_then(|s| record_start.checked_sub(s));
    let stated = to_usize(cd_offset);
    let (start, shift) = match (stated, actual) {
        (Some(s), _) if le32(data, s) == Some(SIG_CENTRAL) => (s, 0u64),
        (_, Some(a)) if le32(data, a) == Some(SIG_CENTRAL) && a as u64 > cd_offset => (a, a as u64 - cd_offset),
        _ if entries == 0 => (record_start, 0),
        _ => return Err(bad("central directory not found where the end record says")),
    };
    let end = start.saturating_add(to_usize(cd_size).unwrap_or(usize::MAX)).min(record_start);
    Ok(Directory { entries, start, end, shift })
}

/// One parsed central header.
struct Central<'a> {
    flags: u16,
    method: u16,
    crc: u32,
    csize: u64,
    usize_: u64,
    name: &'a [u8],
    local: u64,
    aes_method: Option<u16>,
    unicode_path: Option<&'a [u8]>,
    next: usize,
}

fn parse_central(data: &[u8], pos: usize) -> Option<Central<'_>> {
    if le32(data, pos)? != SIG_CENTRAL {
        return None;
    }
    let flags = le16(data, pos + 8)?;
    let method = le16(data, pos + 10)?;
    let crc = le32(data, pos + 16)?;
    let mut csize = u64::from(le32(data, pos + 20)?);
    let mut usize_ = u64::from(le32(data, pos + 24)?);
    let name_len = usize::from(le16(data, pos + 28)?);
    let extra_len = usize::from(le16(data, pos + 30)?);
    let comment_len = usize::from(le16(data, pos + 32)?);
    let mut local = u64::from(le32(data, pos + 42)?);
    let name_at = pos + CENTRAL_LEN;
    let name = data.get(name_at..name_at + name_len)?;
    let extra = data.get(name_at + name_len..name_at + name_len + extra_len)?;
    let next = name_at + name_len + extra_len + comment_len;
    if next > data.len() {
        return None;
    }
    let mut aes_method = None;
    let mut unicode_path = None;
    let mut at = 0usize;
    while let (Some(id), Some(len)) = (le16(extra, at), le16(extra, at + 2)) {
        let body = extra.get(at + 4..at + 4 + usize::from(len)).unwrap_or(&[]);
        match id {
            0x0001 => {
                let mut p = 0;
                if usize_ == 0xFFFF_FFFF
                    && let Some(v) = le64(body, p)
                {
                    usize_ = v;
                    p += 8;
                }
                if csize == 0xFFFF_FFFF
                    && let Some(v) = le64(body, p)
                {
                    csize = v;
                    p += 8;
                }
                if local == 0xFFFF_FFFF
                    && let Some(v) = le64(body, p)
                {
                    local = v;
                }
            }
            0x9901 => aes_method = le16(body, 5).or(Some(0)),
            0x7075 if body.first() == Some(&1) => unicode_path = body.get(5..),
            _ => {}
        }
        at += 4 + usize::from(len);
    }
    Some(Central { flags, method, crc, csize, usize_, name, local, aes_method, unicode_path, next })
}

/// Decodes a member name: UTF-8 when flagged or valid, else CP932.
pub fn decode_name(raw: &[u8], utf8_flag: bool) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_string(),
        Err(_) if utf8_flag => String::from_utf8_lossy(raw).into_owned(),
        Err(_) => SHIFT_JIS.decode_without_bom_handling(raw).0.into_owned(),
    }
}

fn method_name(m: u16) -> String {
    match m {
        0 => "stored".into(),
        1 => "shrink".into(),
        6 => "implode".into(),
        8 => "deflate".into(),
        9 => "deflate64".into(),
        12 => "bzip2".into(),
        14 => "lzma".into(),
        93 => "zstd".into(),
        95 => "xz".into(),
        98 => "ppmd".into(),
        99 => "aes".into(),
        other => format!("method-{other}"),
    }
}

/// Reads one archive (one level; nested archives are returned as bytes).
pub fn read_zip(data: &[u8], limits: &ZipLimits) -> Result<ZipListing, ArchiveError> {
    read_zip_filtered(data, limits, &|_| true)
}

/// Like [`read_zip`], but inflates only the members whose decoded path
/// `want` accepts; the others are listed with [`MemberError::NotRequested`]
/// and cost nothing against `max_total_bytes`.
pub fn read_zip_filtered(
    data: &[u8],
    limits: &ZipLimits,
    want: &dyn Fn(&str) -> bool,
) -> Result<ZipListing, ArchiveError> {
    let dir = find_directory(data)?;
    let mut listing = ZipListing::default();
    if dir.shift > 0 {
        listing.anomalies.push(format!("{} bytes of data before the archive", dir.shift));
    }
    let mut spent: u64 = 0;
    let mut names: HashSet<Vec<u8>> = HashSet::new();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut pos = dir.start;
    let mut index: u64 = 0;
    while index < dir.entries {
        if listing.members.len() >= limits.max_entries {
            listing.limit_hit = Some(format!("more than {} entries", limits.max_entries));
            break;
        }
        let c = parse_central(data, pos).ok_or_else(|| {
            ArchiveError::Corrupt(format!("central directory entry {index} at offset {pos} is broken"))
        })?;
        pos = c.next;
        index += 1;
        let member = read_member(data, &dir, &c, limits, want, &mut spent, &mut listing, &mut ranges);
        if !names.insert(c.name.to_vec()) {
            listing.anomalies.push(format!("duplicate member name {:?}", member.path));
        }
        listing.any_encrypted |= member.encrypted;
        listing.members.push(member);
    }
    if listing.limit_hit.is_none() && pos < dir.end && le32(data, pos) == Some(SIG_CENTRAL) {
        listing.anomalies.push("central directory holds more entries than the end record declares".into());
    }
    ranges.sort_unstable();
    if ranges.windows(2).any(|w| w[1].0 < w[0].1) {
        listing.anomalies.push("members overlap (shared or overlapping data: possible zip bomb)".into());
    }
    Ok(listing)
}

#[allow(clippy::too_many_arguments)]
fn read_member(
    data: &[u8],
    dir: &Directory,
    c: &Central<'_>,
    limits: &ZipLimits,
    want: &dyn Fn(&str) -> bool,
    spent: &mut u64,
    listing: &mut ZipListing,
    ranges: &mut Vec<(usize, usize)>,
) -> ZipMember {
    let path = decode_name(c.name, c.flags & FLAG_UTF8 != 0);
    let unicode_path = c.unicode_path.map(|u| String::from_utf8_lossy(u).into_owned()).filter(|u| *u != path);
    if let Some(u) = &unicode_path {
        listing.anomalies.push(format!("member {path:?}: Unicode path extra field says {u:?}"));
    }
    let actual_method = match c.aes_method {
        Some(m) if c.method == 99 => m,
        _ => c.method,
    };
    let mut member = ZipMember {
        is_dir: (path.ends_with('/') || path.ends_with('\\')) && c.usize_ == 0 && c.csize <= 2,
        encrypted: c.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 || c.method == 99 || c.aes_method.is_some(),
        method: method_name(actual_method),
        size: c.usize_,
        compressed: c.csize,
        data: Err(MemberError::NotRead),
        unicode_path,
        path,
    };
    // Local header: where the data really starts.
    let local = c.local.checked_add(dir.shift).and_then(to_usize).filter(|&l| le32(data, l) == Some(SIG_LOCAL));
    let Some(local) = local else {
        member.data = Err(MemberError::Corrupt("no local header at the recorded offset".into()));
        return member;
    };
    let (Some(lflags), Some(lmethod), Some(lname), Some(lextra)) =
        (le16(data, local + 6), le16(data, local + 8), le16(data, local + 26), le16(data, local + 28))
    else {
        member.data = Err(MemberError::Corrupt("truncated local header".into()));
        return member;
    };
    if lflags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 {
        member.encrypted = true;
    }
    let name_at = local + LOCAL_LEN;
    let data_start = name_at + usize::from(lname) + usize::from(lextra);
    if data.get(name_at..name_at + usize::from(lname)) != Some(c.name) {
        listing.anomalies.push(format!("member {:?}: local header names it differently", member.path));
    }
    let data_end = to_usize(c.csize).and_then(|s| data_start.checked_add(s)).filter(|&e| e <= data.len());
    let Some(data_end) = data_end else {
        member.data = Err(MemberError::Corrupt("data extends past the end of the archive".into()));
        return member;
    };
    ranges.push((local, data_end));
    if member.encrypted {
        member.data = Err(MemberError::Encrypted);
        return member;
    }
    if member.is_dir {
        member.data = Ok(Vec::new());
        return member;
    }
    if lmethod != c.method {
        member.data = Err(MemberError::Corrupt("local header disagrees on the compression method".into()));
        return member;
    }
    if !matches!(c.method, 0 | 8 | 9) {
        member.data = Err(MemberError::UnsupportedMethod(member.method.clone()));
        return member;
    }
    if !want(&member.path) {
        member.data = Err(MemberError::NotRequested);
        return member;
    }
    if listing.limit_hit.is_some() {
        return member; // NotRead
    }
    let ratio_cap = limits.max_ratio.saturating_mul(c.csize).saturating_add(RATIO_SLACK);
    if c.usize_ > ratio_cap {
        member.data = Err(MemberError::RatioExceeded);
        return member;
    }
    if c.usize_ > limits.max_member_bytes {
        member.data = Err(MemberError::TooLarge);
        return member;
    }
    let remaining = limits.max_total_bytes.saturating_sub(*spent);
    let cap = limits.max_member_bytes.min(ratio_cap).min(remaining);
    let slice = data.get(local..data_end).unwrap_or(&[]);
    let (result, produced) = inflate(slice, c, cap);
    *spent = spent.saturating_add(produced);
    member.data = match result {
        Inflated::Done(v) => Ok(v),
        Inflated::Error(e) => Err(MemberError::Corrupt(e)),
        Inflated::OverCap if cap == ratio_cap => Err(MemberError::RatioExceeded),
        Inflated::OverCap if cap == limits.max_member_bytes => Err(MemberError::TooLarge),
        Inflated::OverCap => Err(MemberError::NotRead),
    };
    if *spent >= limits.max_total_bytes && listing.limit_hit.is_none() {
        listing.limit_hit = Some(format!("more than {} bytes inflated over the archive", limits.max_total_bytes));
    }
    member
}

enum Inflated {
    Done(Vec<u8>),
    OverCap,
    Error(String),
}

/// Inflates one member from `slice` (its local header up to the end of its
/// data), producing at most `cap` bytes. Returns the bytes produced too.
fn inflate(slice: &[u8], c: &Central<'_>, cap: u64) -> (Inflated, u64) {
    let mut reader: &[u8] = slice;
    let options = zip::ZipReadOptions::new()
        .override_compressed_size(c.csize)
        .override_uncompressed_size(c.usize_)
        .override_crc(c.crc);
    let mut file = match zip::read::read_zipfile_from_stream_with_options(&mut reader, options) {
        Ok(Some(f)) => f,
        Ok(None) => return (Inflated::Error("no local header".into()), 0),
        Err(e) => return (Inflated::Error(e.to_string()), 0),
    };
    let initial = c.usize_.min(cap).min(4 * 1024 * 1024);
    let mut out: Vec<u8> = Vec::with_capacity(to_usize(initial).unwrap_or(0));
    let mut buf = vec![0u8; STEP];
    let mut produced: u64 = 0;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return (Inflated::Error(e.to_string()), produced),
        };
        produced = produced.saturating_add(n as u64);
        if produced > cap {
            return (Inflated::OverCap, produced);
        }
        out.extend_from_slice(buf.get(..n).unwrap_or(&[]));
    }
    out.shrink_to_fit();
    (Inflated::Done(out), produced)
}

/// Whether the archive has an encrypted member, from the central and local
/// headers only (flag bit 0 or 6, method 99, AES extra field 0x9901). Cheap:
/// no inflation; falls back to walking local headers when there is no usable
/// central directory.
pub fn is_encrypted_zip(data: &[u8]) -> bool {
    const MAX_HEADERS: usize = 100_000;
    if let Ok(dir) = find_directory(data) {
        let mut pos = dir.start;
        let mut n = 0usize;
        while (n as u64) < dir.entries && n < MAX_HEADERS {
            let Some(c) = parse_central(data, pos) else { break };
            if c.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 || c.method == 99 || c.aes_method.is_some() {
                return true;
            }
            let local = c.local.checked_add(dir.shift).and_then(to_usize);
            if let Some(l) = local
                && le32(data, l) == Some(SIG_LOCAL)
                && le16(data, l + 6).is_some_and(|f| f & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0)
            {
                return true;
            }
            pos = c.next;
            n += 1;
        }
    }
    // Walk local headers from the start (also covers archives without a
    // central directory, e.g. truncated ones).
    let mut pos = 0usize;
    for _ in 0..MAX_HEADERS {
        if le32(data, pos) != Some(SIG_LOCAL) {
            break;
        }
        let (Some(flags), Some(method), Some(csize), Some(nl), Some(xl)) = (
            le16(data, pos + 6),
            le16(data, pos + 8),
            le32(data, pos + 18),
            le16(data, pos + 26),
            le16(data, pos + 28),
        ) else {
            break;
        };
        if flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION) != 0 || method == 99 {
            return true;
        }
        let extra_at = pos + LOCAL_LEN + usize::from(nl);
        let extra = data.get(extra_at..extra_at + usize::from(xl)).unwrap_or(&[]);
        let mut at = 0;
        while let (Some(id), Some(len)) = (le16(extra, at), le16(extra, at + 2)) {
            if id == 0x9901 {
                return true;
            }
            at += 4 + usize::from(len);
        }
        if flags & 0x0008 != 0 || csize == 0xFFFF_FFFF {
            break; // size unknown here: stop rather than guess
        }
        pos = extra_at.saturating_add(usize::from(xl)).saturating_add(to_usize(u64::from(csize)).unwrap_or(usize::MAX));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn build(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, body) in files {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(body).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// A hand-made stored (or declared-deflate) archive with raw name bytes and flags.
    fn raw_zip(entries: &[(&[u8], u16, u16, &[u8])]) -> Vec<u8> {
        // (name bytes, flags, method, stored data)
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, flags, method, body) in entries {
            let off = out.len() as u32;
            let crc = crate::verify::crc32(&[body]);
            let mut h = Vec::new();
            h.extend_from_slice(&SIG_LOCAL.to_le_bytes());
            h.extend_from_slice(&20u16.to_le_bytes());
            h.extend_from_slice(&flags.to_le_bytes());
            h.extend_from_slice(&method.to_le_bytes());
            h.extend_from_slice(&[0; 4]);
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&(body.len() as u32).to_le_bytes());
            h.extend_from_slice(&(body.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&h);
            out.extend_from_slice(name);
            out.extend_from_slice(body);
            central.extend_from_slice(&SIG_CENTRAL.to_le_bytes());
            central.extend_from_slice(&20u16.to_le_bytes());
            central.extend_from_slice(&h[4..]);
            central.extend_from_slice(&[0; 2 + 2 + 2 + 4]);
            central.extend_from_slice(&off.to_le_bytes());
            central.extend_from_slice(name);
        }
        let cd_off = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&SIG_EOCD.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_off.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    #[test]
    fn reads_members() {
        let z = build(&[("a.txt", b"hello"), ("dir/b.exe", b"MZ\x90\x00rest")]);
        let l = read_zip(&z, &ZipLimits::default()).unwrap();
        assert_eq!(l.members.len(), 2);
        assert_eq!(l.members[0].path, "a.txt");
        assert_eq!(l.members[0].data.as_deref(), Ok(&b"hello"[..]));
        assert!(l.members[1].data.as_ref().unwrap().starts_with(b"MZ"));
        assert!(!l.any_encrypted && l.limit_hit.is_none() && l.anomalies.is_empty());
        assert!(!is_encrypted_zip(&z));
    }

    #[test]
    fn names_cp932_and_utf8() {
        let sjis = SHIFT_JIS.encode("見積書.xlsx").0.into_owned();
        let z = raw_zip(&[(&sjis, 0, 0, b"x"), ("見積書.xlsx".as_bytes(), FLAG_UTF8, 0, b"y")]);
        let l = read_zip(&z, &ZipLimits::default()).unwrap();
        assert_eq!(l.members[0].path, "見積書.xlsx");
        assert_eq!(l.members[1].path, "見積書.xlsx");
        assert_eq!(l.members[0].data.as_deref(), Ok(&b"x"[..]));
        assert!(!l.anomalies.iter().any(|a| a.contains("duplicate")));
    }

    #[test]
    fn encrypted_flag() {
        let z = raw_zip(&[(b"secret.txt", FLAG_ENCRYPTED, 0, b"xxxxxxxxxxxxxxxxxxxx")]);
        assert!(is_encrypted_zip(&z));
        let l = read_zip(&z, &ZipLimits::default()).unwrap();
        assert!(l.any_encrypted);
        assert_eq!(l.members[0].data, Err(MemberError::Encrypted));
        // Without a central directory, the local headers still tell.
        assert!(is_encrypted_zip(&z[..60]));
        assert!(!is_encrypted_zip(&raw_zip(&[(b"plain.txt", 0, 0, b"x")])[..40]));
    }

    #[test]
    fn ratio_bomb_stops_fast() {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("zeros.bin", SimpleFileOptions::default()).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..16 {
            w.write_all(&chunk).unwrap();
        }
        let mut z = w.finish().unwrap().into_inner();
        assert!(z.len() < 200_000, "{}", z.len());
        let start = std::time::Instant::now();
        let l = read_zip(&z, &ZipLimits::default()).unwrap();
        assert_eq!(l.members[0].data, Err(MemberError::RatioExceeded));
        // Lie about the size in both headers: the output is still capped.
        let small = 1000u32.to_le_bytes();
        let cd = find_directory(&z).unwrap().start;
        z[cd + 24..cd + 28].copy_from_slice(&small);
        z[22..26].copy_from_slice(&small);
        let l = read_zip(&z, &ZipLimits::default()).unwrap();
        assert!(matches!(l.members[0].data, Err(MemberError::Corrupt(_))), "{:?}", l.members[0].data);
        let generous = ZipLimits { max_ratio: 1_000_000, max_member_bytes: 8 << 20, ..ZipLimits::default() };
        z[cd + 24..cd + 28].copy_from_slice(&(16u32 << 20).to_le_bytes());
        z[22..26].copy_from_slice(&(16u32 << 20).to_le_bytes());
        let l = read_zip(&z, &generous).unwrap();
        assert_eq!(l.members[0].data, Err(MemberError::TooLarge));
        assert!(start.elapsed().as_secs() < 20);
    }

    #[test]
    fn many_entries_one_header_respects_total_budget() {
        // One 64 MiB-of-zeros member, then 50 central entries all pointing at it.
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file("z", SimpleFileOptions::default()).unwrap();
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..8 {
            w.write_all(&chunk).unwrap();
        }
        let z = w.finish().unwrap().into_inner();
        let dir = find_directory(&z).unwrap();
        let one = z[dir.start..dir.end].to_vec();
        let mut out = z[..dir.start].to_vec();
        let n = 50u16;
        for _ in 0..n {
            out.extend_from_slice(&one);
        }
        out.extend_from_slice(&SIG_EOCD.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&((one.len() * n as usize) as u32).to_le_bytes());
        out.extend_from_slice(&(dir.start as u32).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        let limits = ZipLimits { max_ratio: 1_000_000, max_total_bytes: 20 << 20, ..ZipLimits::default() };
        let l = read_zip(&out, &limits).unwrap();
        assert_eq!(l.members.len(), 50);
        assert!(l.limit_hit.is_some());
        let read = l.members.iter().filter(|m| m.data.is_ok()).count();
        assert_eq!(read, 2, "20 MiB budget holds two 8 MiB copies");
        assert!(l.members.last().unwrap().data == Err(MemberError::NotRead));
        assert!(l.anomalies.iter().any(|a| a.contains("overlap")));
        assert!(l.anomalies.iter().any(|a| a.contains("duplicate")));
    }

    #[test]
    fn entry_limit() {
        let names: Vec<String> = (0..30).map(|i| format!("f{i}")).collect();
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
        let z = build(&files);
        let l = read_zip(&z, &ZipLimits { max_entries: 10, ..ZipLimits::default() }).unwrap();
        assert_eq!(l.members.len(), 10);
        assert!(l.limit_hit.as_deref().unwrap().contains("entries"));
    }

    #[test]
    fn garbage_and_truncation_never_panic() {
        assert_eq!(read_zip(b"", &ZipLimits::default()), Err(ArchiveError::NotZip));
        assert_eq!(read_zip(b"not a zip at all, just text........", &ZipLimits::default()), Err(ArchiveError::NotZip));
        let z = build(&[("a.txt", b"hello hello hello hello"), ("b.txt", b"world")]);
        for cut in 0..z.len() {
            let _ = read_zip(&z[..cut], &ZipLimits::default());
            let _ = is_encrypted_zip(&z[..cut]);
        }
        // Flip every byte in turn: errors, never panics.
        let mut m = z.clone();
        for i in 0..m.len() {
            let old = m[i];
            m[i] ^= 0xFF;
            let _ = read_zip(&m, &ZipLimits::default());
            let _ = is_encrypted_zip(&m);
            m[i] = old;
        }
        // Corrupt deflate data: a per-member error.
        let mut bad = z.clone();
        let d = find_directory(&bad).unwrap();
        assert!(d.start > 40);
        for b in &mut bad[35..d.start.min(50)] {
            *b = 0xAA;
        }
        let l = read_zip(&bad, &ZipLimits::default());
        if let Ok(l) = l {
            assert!(l.members.iter().any(|m| m.data.is_err()));
        }
    }

    fn fixture(name: &str) -> Vec<u8> {
        let p = format!("{}/tests/fixtures/office/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e} (run make_office_fixtures.py)"))
    }

    #[test]
    fn fixture_ratio_bomb() {
        let z = fixture("ratio_bomb.zip");
        assert!(z.len() < 300_000);
        let start = std::time::Instant::now();
        let l = read_zip(&z, &ZipLimits::default()).unwrap();
        assert_eq!(l.members[0].size, 200 << 20);
        assert_eq!(l.members[0].data, Err(MemberError::RatioExceeded));
        // With the declared-size pre-check out of the way (a liar says 1 KiB
        // in the central directory), inflation itself stops at the ratio cap.
        let mut lying = z.clone();
        let cd = find_directory(&lying).unwrap().start;
        lying[cd + 24..cd + 28].copy_from_slice(&(100u32 << 20).to_le_bytes());
        let l = read_zip(&lying, &ZipLimits { max_member_bytes: 1 << 30, ..ZipLimits::default() }).unwrap();
        assert_eq!(l.members[0].data, Err(MemberError::RatioExceeded));
        let l = read_zip(&lying, &ZipLimits { max_ratio: 1 << 20, max_member_bytes: 4 << 20, ..ZipLimits::default() })
            .unwrap();
        assert_eq!(l.members[0].data, Err(MemberError::TooLarge));
        assert!(start.elapsed().as_secs() < 30, "{:?}", start.elapsed());
    }

    #[test]
    fn fixture_names_and_members() {
        for f in ["names_cp932.zip", "names_utf8.zip"] {
            let l = read_zip(&fixture(f), &ZipLimits::default()).unwrap();
            assert_eq!(l.members[0].path, "見積書.xlsx", "{f}");
        }
        let enc = fixture("encrypted.zip");
        assert!(is_encrypted_zip(&enc));
        assert!(read_zip(&enc, &ZipLimits::default()).unwrap().any_encrypted);
        assert!(!is_encrypted_zip(&fixture("names_utf8.zip")));
        let l = read_zip(&fixture("exe_member.zip"), &ZipLimits::default()).unwrap();
        assert_eq!(l.members[0].path, "請求書.pdf.exe");
        assert!(l.members[0].data.as_ref().unwrap().starts_with(b"MZ"));
        let l = read_zip(&fixture("nested.zip"), &ZipLimits::default()).unwrap();
        let inner = l.members[0].data.as_ref().unwrap();
        let l2 = read_zip(inner, &ZipLimits::default()).unwrap();
        assert_eq!(l2.members[0].data.as_deref(), Ok(&b"nested content"[..]));
    }

    #[test]
    fn eocd_only_is_empty() {
        let mut z = SIG_EOCD.to_le_bytes().to_vec();
        z.extend_from_slice(&[0; 18]);
        let l = read_zip(&z, &ZipLimits::default()).unwrap();
        assert!(l.members.is_empty());
    }
}
