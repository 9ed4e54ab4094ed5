//! Content type detection by magic bytes, and dangerous-filename checks.
//!
//! [`detect`] says what a decoded part *is*, from its bytes alone: the declared
//! Content-Type and the filename are attacker-controlled and never override a
//! magic number. The filename is used only as a tie-breaker where the bytes
//! cannot tell (an OLE2 file named `.jtd` is 一太郎; a plain-text file named
//! `.vbs` is a script, not text).
//!
//! # Design
//!
//! Detection runs in fixed stages, most dangerous and most specific first, and
//! the first stage that recognises the bytes wins:
//!
//! 1. **Magic at offset 0** (executables, archives, images, media, office
//!    containers). ZIP is looked into (central directory, else the local
//!    headers) to tell OOXML, ODF, EPUB, JAR, APK and MSIX from a plain archive;
//!    OLE2/CFB has its directory walked to tell Word, Excel, PowerPoint,
//!    Outlook `.msg`, encrypted OOXML and Windows Installer apart. A PE is
//!    only called PE when `PE\0\0` sits at a bounds-checked `e_lfanew`.
//! 2. **Magic at fixed offsets** (ISO 9660 / UDF at 0x8001, tar checksum and
//!    `ustar` at 257, FAT/NTFS boot sectors, VHD/DMG footers): disk images are
//!    used to smuggle executables past Mark-of-the-Web.
//! 3. **`%PDF-` anywhere in the first 1024 bytes**, as PDF readers accept it.
//!
//!    Steps 2 and 3 skip content that is clean UTF-8 text throughout (no
//!    BOM, no control byte): no real disk image or PDF is, and every text
//!    rendition mugaika writes is, so a .txt that mentions `%PDF-` stays
//!    text when sanitised again.
//! 4. **Text structure** on an ASCII-compatible view of the first 8 KiB (UTF-8
//!    BOM skipped, UTF-16 with BOM transcoded): HTML (the WHATWG sniffing tag
//!    list, case-insensitive, after leading whitespace), XML / SVG / XHTML (root
//!    element after the prolog), mail headers, `#!` scripts, Windows
//!    shortcut/registry/ini-style command files, vCard/iCalendar.
//! 5. **Plain text** (no NUL, at most 1 % control bytes; UTF-8, ISO-2022-JP,
//!    Shift_JIS, EUC-JP or unlabelled 8-bit), turned into [`Kind::Script`] when
//!    the name has a script extension.
//! 6. A ZIP whose end-of-central-directory record is found at the tail even
//!    though something was prepended (Explorer and 7-Zip open those), else
//!    `application/octet-stream` / [`Kind::Other`].
//!
//! # Limits
//!
//! * It is a classifier, not a validator: a file that *starts* like a PNG is
//!   called PNG; the image sanitiser must still decode it defensively.
//! * Only the first 8 KiB are examined for text, and a ZIP/CFB directory is
//!   read only up to 10 000 entries; descriptions (e.g. "with macros") come
//!   from entry names, not from parsing the parts.
//! * Polyglots are classified by their first matching stage; because
//!   executables and disk images are checked first, the answer leans to the
//!   more dangerous reading.
//! * SVG is reported as [`Kind::Image`] but is XML that may carry scripts.
//!
//! Every read is bounds-checked (`get`), loops are bounded by the input length
//! or a fixed cap, and nothing recurses: time is linear in the input.

use encoding_rs::{EUC_JP, Encoding, SHIFT_JIS, UTF_16BE, UTF_16LE};

/// Broad family of a detected type, for choosing a sanitiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Raster images, and SVG (which is XML and may carry scripts).
    Image,
    Pdf,
    /// Word processor / spreadsheet / presentation files: OOXML, ODF, OLE2
    /// (doc/xls/ppt/msg/一太郎), RTF, OneNote.
    Office,
    /// Containers of other files: ZIP, 7z, RAR, LZH, CAB, tar, compressed
    /// streams, disk images (ISO/UDF/VHD/IMG), TNEF.
    Archive,
    /// Native or managed code and installers: PE, ELF, Mach-O, Java, APK,
    /// MSI, MSIX, `.lnk`, CHM.
    Executable,
    /// Text that a script host or the shell would run (by `#!` line, by
    /// content such as `[InternetShortcut]`, or by a script extension on
    /// text content).
    Script,
    /// Plain text, XML, vCard, iCalendar.
    Text,
    Html,
    /// An RFC 5322 message (`message/rfc822`).
    Mail,
    /// Audio and video.
    Media,
    /// Anything else, including unrecognised binary data and encrypted
    /// containers (PGP, PKCS#7).
    Other,
}

/// What [`detect`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    /// Lower-case MIME type, e.g. `"application/pdf"`.
    pub mime: &'static str,
    pub kind: Kind,
    /// Short English name, e.g. `"PDF document"`.
    pub description: &'static str,
}

const fn det(mime: &'static str, kind: Kind, description: &'static str) -> Detected {
    Detected { mime, kind, description }
}

/// How many leading bytes the text heuristics look at.
const TEXT_SAMPLE: usize = 8 * 1024;
/// PDF readers accept `%PDF-` anywhere in this many leading bytes.
const PDF_WINDOW: usize = 1024;
/// Cap on ZIP / CFB directory entries examined.
const MAX_ENTRIES: usize = 10_000;
/// The end-of-central-directory record lies within this many bytes of the end.
const ZIP_EOCD_WINDOW: usize = 22 + 0xFFFF;

// ---------------------------------------------------------------------------
// The answers
// ---------------------------------------------------------------------------

use Kind::*;

const OCTET: Detected = det("application/octet-stream", Other, "binary data");
const EMPTY: Detected = det("application/x-empty", Other, "empty file");

const PNG: Detected = det("image/png", Image, "PNG image");
const JPEG: Detected = det("image/jpeg", Image, "JPEG image");
const GIF: Detected = det("image/gif", Image, "GIF image");
const WEBP: Detected = det("image/webp", Image, "WebP image");
const BMP: Detected = det("image/bmp", Image, "BMP image");
const TIFF: Detected = det("image/tiff", Image, "TIFF image");
const ICO: Detected = det("image/vnd.microsoft.icon", Image, "Windows icon");
const CUR: Detected = det("image/vnd.microsoft.icon", Image, "Windows cursor");
const SVG: Detected = det("image/svg+xml", Image, "SVG image");
const HEIC: Detected = det("image/heic", Image, "HEIC image");
const AVIF: Detected = det("image/avif", Image, "AVIF image");
const PSD: Detected = det("image/vnd.adobe.photoshop", Image, "Photoshop image");
const JP2: Detected = det("image/jp2", Image, "JPEG 2000 image");
const JXL: Detected = det("image/jxl", Image, "JPEG XL image");
const WMF: Detected = det("image/wmf", Image, "Windows metafile");
const EMF: Detected = det("image/emf", Image, "Windows enhanced metafile");

const PDF: Detected = det("application/pdf", Pdf, "PDF document");
const POSTSCRIPT: Detected = det("application/postscript", Other, "PostScript document");

const RTF: Detected = det("application/rtf", Office, "RTF document");
const ONENOTE: Detected = det("application/onenote", Office, "OneNote document");
const DOCX: Detected =
    det("application/vnd.openxmlformats-officedocument.wordprocessingml.document", Office, "Word document (OOXML)");
const DOCM: Detected =
    det("application/vnd.ms-word.document.macroenabled.12", Office, "Word document with macros (OOXML)");
const XLSX: Detected =
    det("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", Office, "Excel workbook (OOXML)");
const XLSM: Detected =
    det("application/vnd.ms-excel.sheet.macroenabled.12", Office, "Excel workbook with macros (OOXML)");
const XLSB: Detected =
    det("application/vnd.ms-excel.sheet.binary.macroenabled.12", Office, "Excel binary workbook (OOXML)");
const PPTX: Detected = det(
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    Office,
    "PowerPoint presentation (OOXML)",
);
const PPTM: Detected = det(
    "application/vnd.ms-powerpoint.presentation.macroenabled.12",
    Office,
    "PowerPoint presentation with macros (OOXML)",
);
const ODT: Detected = det("application/vnd.oasis.opendocument.text", Office, "OpenDocument text");
const ODS: Detected = det("application/vnd.oasis.opendocument.spreadsheet", Office, "OpenDocument spreadsheet");
const ODP: Detected = det("application/vnd.oasis.opendocument.presentation", Office, "OpenDocument presentation");
const ODG: Detected = det("application/vnd.oasis.opendocument.graphics", Office, "OpenDocument drawing");
const ODF_OTHER: Detected = det("application/vnd.oasis.opendocument", Office, "OpenDocument document");
const ODF_MACROS: Detected = det("application/vnd.oasis.opendocument", Office, "OpenDocument document with macros");

const OLE2: Detected = det("application/x-ole-storage", Office, "OLE2 compound document");
const DOC: Detected = det("application/msword", Office, "Word 97-2003 document (OLE2 compound document)");
const DOC_MACROS: Detected =
    det("application/msword", Office, "Word 97-2003 document with macros (OLE2 compound document)");
const XLS: Detected = det("application/vnd.ms-excel", Office, "Excel 97-2003 workbook (OLE2 compound document)");
const XLS_MACROS: Detected =
    det("application/vnd.ms-excel", Office, "Excel 97-2003 workbook with macros (OLE2 compound document)");
const PPT: Detected =
    det("application/vnd.ms-powerpoint", Office, "PowerPoint 97-2003 presentation (OLE2 compound document)");
const MSG: Detected = det("application/vnd.ms-outlook", Office, "Outlook message (OLE2 compound document)");
const OFFICE_ENCRYPTED: Detected =
    det("application/x-ole-storage", Office, "encrypted Office document (OLE2 compound document)");
const JTD: Detected = det("application/x-js-taro", Office, "Ichitaro document (OLE2 compound document)");
const MSI: Detected = det("application/x-msi", Executable, "Windows Installer package (OLE2 compound document)");

const ZIP: Detected = det("application/zip", Archive, "ZIP archive");
const ZIP_ENCRYPTED: Detected = det("application/zip", Archive, "ZIP archive with encrypted entries");
const EPUB: Detected = det("application/epub+zip", Archive, "EPUB e-book");
const SEVEN_Z: Detected = det("application/x-7z-compressed", Archive, "7-Zip archive");
const RAR4: Detected = det("application/vnd.rar", Archive, "RAR archive (v4)");
const RAR5: Detected = det("application/vnd.rar", Archive, "RAR archive (v5)");
const GZIP: Detected = det("application/gzip", Archive, "gzip compressed data");
const BZIP2: Detected = det("application/x-bzip2", Archive, "bzip2 compressed data");
const XZ: Detected = det("application/x-xz", Archive, "xz compressed data");
const ZSTD: Detected = det("application/zstd", Archive, "Zstandard compressed data");
const LZH: Detected = det("application/x-lzh-compressed", Archive, "LZH archive");
const CAB: Detected = det("application/vnd.ms-cab-compressed", Archive, "Microsoft cabinet archive");
const TAR: Detected = det("application/x-tar", Archive, "tar archive");
const ISO: Detected = det("application/x-iso9660-image", Archive, "ISO 9660 disk image");
const UDF: Detected = det("application/x-iso9660-image", Archive, "UDF disk image");
const VHD: Detected = det("application/x-vhd", Archive, "VHD virtual disk image");
const VHDX: Detected = det("application/x-vhdx", Archive, "VHDX virtual disk image");
const VMDK: Detected = det("application/x-vmdk", Archive, "VMDK virtual disk image");
const QCOW: Detected = det("application/x-qemu-disk", Archive, "QCOW virtual disk image");
const DMG: Detected = det("application/x-apple-diskimage", Archive, "Apple disk image");
const WIM: Detected = det("application/x-ms-wim", Archive, "Windows imaging archive");
const RAW_DISK: Detected = det("application/x-raw-disk-image", Archive, "raw disk image (FAT/NTFS boot sector)");
const TNEF: Detected = det("application/vnd.ms-tnef", Archive, "TNEF (winmail.dat) container");

const PE_EXE: Detected = det("application/x-msdownload", Executable, "Windows executable (PE)");
const PE_DLL: Detected = det("application/x-msdownload", Executable, "Windows DLL (PE)");
const DOS_EXE: Detected = det("application/x-dosexec", Executable, "DOS executable (MZ)");
const ELF: Detected = det("application/x-executable", Executable, "ELF executable");
const MACHO: Detected = det("application/x-mach-binary", Executable, "Mach-O executable");
const JAVA_CLASS: Detected = det("application/java-vm", Executable, "Java class file");
const JAR: Detected = det("application/java-archive", Executable, "Java archive (JAR)");
const APK: Detected = det("application/vnd.android.package-archive", Executable, "Android package (APK)");
const MSIX: Detected = det("application/msix", Executable, "Windows app package (MSIX/APPX)");
const DEX: Detected = det("application/vnd.android.dex", Executable, "Android Dalvik executable");
const WASM: Detected = det("application/wasm", Executable, "WebAssembly module");
const LNK: Detected = det("application/x-ms-shortcut", Executable, "Windows shortcut (.lnk)");
const CHM: Detected = det("application/vnd.ms-htmlhelp", Executable, "Windows compiled HTML help");
const HLP: Detected = det("application/winhlp", Executable, "Windows help file");

const MP3: Detected = det("audio/mpeg", Media, "MP3 audio");
const AAC: Detected = det("audio/aac", Media, "AAC audio");
const OGG: Detected = det("audio/ogg", Media, "Ogg media");
const FLAC: Detected = det("audio/flac", Media, "FLAC audio");
const WAV: Detected = det("audio/wav", Media, "WAV audio");
const MIDI: Detected = det("audio/midi", Media, "MIDI audio");
const AU: Detected = det("audio/basic", Media, "Sun/NeXT audio");
const AIFF: Detected = det("audio/aiff", Media, "AIFF audio");
const AVI: Detected = det("video/x-msvideo", Media, "AVI video");
const MP4: Detected = det("video/mp4", Media, "MP4 media");
const M4A: Detected = det("audio/mp4", Media, "MPEG-4 audio");
const MOV: Detected = det("video/quicktime", Media, "QuickTime video");
const GPP: Detected = det("video/3gpp", Media, "3GPP video");
const MKV: Detected = det("video/x-matroska", Media, "Matroska video");
const WEBM: Detected = det("video/webm", Media, "WebM video");
const FLV: Detected = det("video/x-flv", Media, "Flash video");
const ASF: Detected = det("video/x-ms-asf", Media, "Windows Media (ASF)");
const MPEG: Detected = det("video/mpeg", Media, "MPEG video");
const RIFF_OTHER: Detected = det("application/octet-stream", Other, "RIFF data");
const ANI: Detected = det("application/x-navi-animation", Other, "Windows animated cursor");

const WOFF: Detected = det("font/woff", Other, "WOFF font");
const WOFF2: Detected = det("font/woff2", Other, "WOFF2 font");
const OTF: Detected = det("font/otf", Other, "OpenType font");
const SQLITE: Detected = det("application/vnd.sqlite3", Other, "SQLite database");
const PGP: Detected = det("application/pgp-encrypted", Other, "PGP encrypted message");
const PKCS7: Detected = det("application/pkcs7-mime", Other, "PKCS#7 / CMS data");

const HTML: Detected = det("text/html", Html, "HTML document");
const XHTML: Detected = det("application/xhtml+xml", Html, "XHTML document");
const XML: Detected = det("application/xml", Text, "XML document");
const MAIL: Detected = det("message/rfc822", Mail, "mail message");
const VCARD: Detected = det("text/vcard", Text, "vCard");
const ICAL: Detected = det("text/calendar", Text, "iCalendar");

const SHELL: Detected = det("text/x-shellscript", Script, "shell script");
const PYTHON: Detected = det("text/x-python", Script, "Python script");
const PERL: Detected = det("text/x-perl", Script, "Perl script");
const RUBY: Detected = det("text/x-ruby", Script, "Ruby script");
const JAVASCRIPT: Detected = det("text/javascript", Script, "JavaScript / JScript file");
const VBSCRIPT: Detected = det("text/vbscript", Script, "VBScript file");
const ENCODED_SCRIPT: Detected = det("text/plain", Script, "encoded Windows script (JScript.Encode / VBScript.Encode)");
const POWERSHELL: Detected = det("text/x-powershell", Script, "PowerShell script");
const BATCH: Detected = det("text/x-msdos-batch", Script, "Windows batch file");
const WSF: Detected = det("text/xml", Script, "Windows Script Host file");
const HTA: Detected = det("application/hta", Script, "HTML application");
const REGEDIT: Detected = det("text/x-ms-regedit", Script, "Windows registry file");
const URL_SHORTCUT: Detected = det("application/x-mswinurl", Script, "Internet shortcut (.url)");
const SCF: Detected = det("text/plain", Script, "Windows Explorer command file (.scf)");
const DESKTOP: Detected = det("application/x-desktop", Script, "desktop entry (.desktop)");
const INF: Detected = det("text/plain", Script, "setup information file (.inf)");
const IQY: Detected = det("text/x-ms-iqy", Script, "Excel web query (.iqy)");
const SLK: Detected = det("application/x-sylk", Script, "SYLK spreadsheet (.slk)");
const RDP: Detected = det("application/x-rdp", Script, "Remote Desktop connection file");
const CLICKONCE: Detected = det("application/x-ms-application", Script, "ClickOnce / shell XML file");

const TEXT_ASCII: Detected = det("text/plain", Text, "ASCII text");
const TEXT_UTF8: Detected = det("text/plain", Text, "UTF-8 text");
const TEXT_UTF16: Detected = det("text/plain", Text, "UTF-16 text");
const TEXT_ISO2022JP: Detected = det("text/plain", Text, "ISO-2022-JP text");
const TEXT_SJIS: Detected = det("text/plain", Text, "Shift_JIS text");
const TEXT_EUCJP: Detected = det("text/plain", Text, "EUC-JP text");
const TEXT_8BIT: Detected = det("text/plain", Text, "8-bit text");

// ---------------------------------------------------------------------------
// Entry point
// ---------------------------------------------------------------------------

/// Detects the type of `bytes` from its content. `filename` is only a hint
/// for cases the bytes cannot settle (see the module docs); it never
/// overrides a magic number.
pub fn detect(bytes: &[u8], filename: Option<&str>) -> Detected {
    if bytes.is_empty() {
        return EMPTY;
    }
    let ext = filename.map(extension).unwrap_or_default();
    if let Some(d) = detect_prefix(bytes, &ext) {
        return d;
    }
    // Signatures away from the start (a PDF header after a prefix, disk
    // image and tar magic, VHD/DMG trailers) do not make clean UTF-8 text a
    // container: no real one is, and every text rendition we write is, so
    // a rendition sanitised again stays text.
    if let Some(d) = detect_at_offsets(bytes)
        && !is_clean_utf8_text(bytes)
    {
        return d;
    }
    if find(head(bytes, PDF_WINDOW), b"%PDF-").is_some() && !is_clean_utf8_text(bytes) {
        return PDF;
    }
    if let Some(d) = detect_text(bytes, &ext) {
        return d;
    }
    if let Some(d) = zip_from_tail(bytes) {
        return d;
    }
    OCTET
}

// ---------------------------------------------------------------------------
// Byte helpers (all bounds-checked)
// ---------------------------------------------------------------------------

fn head(b: &[u8], n: usize) -> &[u8] {
    b.get(..n).unwrap_or(b)
}

fn at(b: &[u8], off: usize, magic: &[u8]) -> bool {
    b.get(off..).is_some_and(|t| t.starts_with(magic))
}

fn u16le(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes(s.try_into().ok()?))
}

fn u32le(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes(s.try_into().ok()?))
}

fn u32be(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_be_bytes(s.try_into().ok()?))
}

fn u64le(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    Some(u64::from_le_bytes(s.try_into().ok()?))
}

/// First position of `needle` in `hay` (naive; callers keep `hay` small or
/// `needle` short, so this stays linear in practice).
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

fn starts_with_ci(hay: &[u8], prefix: &[u8]) -> bool {
    hay.get(..prefix.len()).is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}

// ---------------------------------------------------------------------------
// Stage 1: magic at offset 0
// ---------------------------------------------------------------------------

/// Plain prefix magics, checked in order.
const PREFIXES: &[(&[u8], Detected)] = &[
    (b"\x7fELF", ELF),
    (b"\xfe\xed\xfa\xce", MACHO),
    (b"\xfe\xed\xfa\xcf", MACHO),
    (b"\xce\xfa\xed\xfe", MACHO),
    (b"\xcf\xfa\xed\xfe", MACHO),
    (b"\xca\xfe\xba\xbf", MACHO),
    (b"\x4c\x00\x00\x00\x01\x14\x02\x00", LNK),
    (b"dex\n", DEX),
    (b"\x00asm", WASM),
    (b"ITSF\x03\x00\x00\x00", CHM),
    (b"\x3f\x5f\x03\x00", HLP),
    (b"\x78\x9f\x3e\x22", TNEF),
    (b"vhdxfile", VHDX),
    (b"conectix", VHD),
    (b"KDMV", VMDK),
    (b"QFI\xfb", QCOW),
    (b"MSWIM\x00\x00\x00", WIM),
    (b"7z\xbc\xaf\x27\x1c", SEVEN_Z),
    (b"Rar!\x1a\x07\x01\x00", RAR5),
    (b"Rar!\x1a\x07\x00", RAR4),
    (b"\x1f\x8b\x08", GZIP),
    (b"\xfd7zXZ\x00", XZ),
    (b"\x28\xb5\x2f\xfd", ZSTD),
    (b"MSCF\x00\x00\x00\x00", CAB),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
    (b"II+\x00", TIFF),
    (b"MM\x00+", TIFF),
    (b"8BPS", PSD),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", JP2),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", JXL),
    (b"\xff\x0a", JXL),
    (b"\xd7\xcd\xc6\x9a", WMF),
    (b"%PDF-", PDF),
    (b"{\\rt", RTF),
    (b"\xe4\x52\x5c\x7b\x8c\xd8\xa7\x4d\xae\xb1\x53\x78\xd0\x29\x96\xd3", ONENOTE),
    (b"OggS", OGG),
    (b"fLaC", FLAC),
    (b"ID3", MP3),
    (b"MThd", MIDI),
    (b".snd", AU),
    (b"FLV\x01", FLV),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c", ASF),
    (b"\x00\x00\x01\xba", MPEG),
    (b"\x00\x00\x01\xb3", MPEG),
    (b"wOFF", WOFF),
    (b"wOF2", WOFF2),
    (b"OTTO", OTF),
    (b"SQLite format 3\x00", SQLITE),
    (b"\xc5\xd0\xd3\xc6", POSTSCRIPT),
    (b"%!PS", POSTSCRIPT),
    (b"#@~^", ENCODED_SCRIPT),
    (b"-----BEGIN PGP MESSAGE-----", PGP),
];

fn detect_prefix(b: &[u8], ext: &str) -> Option<Detected> {
    // Executables first: a polyglot is treated as its most dangerous reading.
    if b.starts_with(b"MZ")
        && let Some(d) = pe_or_dos(b)
    {
        return Some(d);
    }
    if b.starts_with(b"\xca\xfe\xba\xbe") {
        return Some(java_or_fat_macho(b));
    }
    if b.starts_with(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") {
        return Some(cfb::classify(b, ext));
    }
    if b.starts_with(b"PK\x03\x04") || b.starts_with(b"PK\x05\x06") || b.starts_with(b"PK\x07\x08") {
        return Some(zip::classify(b, 0).unwrap_or(ZIP));
    }
    if let Some(&(_, d)) = PREFIXES.iter().find(|(m, _)| b.starts_with(m)) {
        return Some(d);
    }
    if b.starts_with(b"BZh") && b.get(3).is_some_and(|c| (b'1'..=b'9').contains(c)) {
        return Some(BZIP2);
    }
    if is_lzh(b) {
        return Some(LZH);
    }
    if b.starts_with(b"RIFF") {
        return Some(riff(b));
    }
    if b.starts_with(b"FORM") && (at(b, 8, b"AIFF") || at(b, 8, b"AIFC")) {
        return Some(AIFF);
    }
    if at(b, 4, b"ftyp") {
        return Some(iso_bmff(b));
    }
    if b.starts_with(b"\x1a\x45\xdf\xa3") {
        return Some(if find(head(b, 64), b"webm").is_some() { WEBM } else { MKV });
    }
    if is_bmp(b) {
        return Some(BMP);
    }
    if let Some(d) = ico_or_cur(b) {
        return Some(d);
    }
    if u32le(b, 0) == Some(1) && at(b, 40, b" EMF") {
        return Some(EMF);
    }
    if is_pkcs7(b) {
        return Some(PKCS7);
    }
    mpeg_audio(b)
}

/// `MZ`: a PE if `PE\0\0` sits at `e_lfanew`; a DOS executable if the header
/// is binary; `None` (not an executable) for text that happens to start "MZ".
fn pe_or_dos(b: &[u8]) -> Option<Detected> {
    if let Some(pe) = u32le(b, 0x3c).and_then(|o| usize::try_from(o).ok())
        && at(b, pe, b"PE\x00\x00")
    {
        // IMAGE_FILE_HEADER.Characteristics is 18 bytes into the file header.
        let dll = pe.checked_add(4 + 18).and_then(|o| u16le(b, o)).is_some_and(|c| c & 0x2000 != 0);
        return Some(if dll { PE_DLL } else { PE_EXE });
    }
    let binary_header = head(b, 64).iter().any(|&c| c < 0x09);
    (b.len() >= 28 && binary_header).then_some(DOS_EXE)
}

/// `CA FE BA BE` is both a Java class (major version >= 45 at offset 6) and a
/// Mach-O universal binary (small architecture count at offset 4).
fn java_or_fat_macho(b: &[u8]) -> Detected {
    match u32be(b, 4) {
        Some(n) if n < 45 => MACHO,
        _ => JAVA_CLASS,
    }
}

fn is_lzh(b: &[u8]) -> bool {
    let Some(m) = b.get(2..7) else { return false };
    b.first().is_some_and(|&c| c != 0)
        && m.starts_with(b"-l")
        && m.get(4) == Some(&b'-')
        && matches!(
            m.get(2..4),
            Some(b"h0" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6" | b"h7" | b"hd" | b"zs" | b"z4" | b"z5")
        )
}

fn riff(b: &[u8]) -> Detected {
    match b.get(8..12) {
        Some(b"WEBP") => WEBP,
        Some(b"WAVE") => WAV,
        Some(b"AVI ") => AVI,
        Some(b"ACON") => ANI,
        _ => RIFF_OTHER,
    }
}

/// ISO base media file (`ftyp` box): HEIF/AVIF images, MP4/QuickTime/3GP.
fn iso_bmff(b: &[u8]) -> Detected {
    let major = b.get(8..12).unwrap_or_default();
    // Compatible brands follow the minor version, up to the box size.
    let box_len = u32be(b, 0).and_then(|n| usize::try_from(n).ok()).unwrap_or(0).min(256);
    let brands = b.get(16..box_len).unwrap_or_default();
    let has = |brand: &[u8]| major == brand || brands.chunks_exact(4).any(|c| c == brand);
    if major == b"avif" || major == b"avis" || ((major == b"mif1" || major == b"msf1") && has(b"avif")) {
        return AVIF;
    }
    if matches!(
        major,
        b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"hevm" | b"hevs" | b"mif1" | b"msf1"
    ) {
        return HEIC;
    }
    match major {
        b"qt  " => MOV,
        b"M4A " | b"M4B " => M4A,
        m if m.starts_with(b"3g") => GPP,
        _ => MP4,
    }
}

fn is_bmp(b: &[u8]) -> bool {
    b.starts_with(b"BM") && u32le(b, 6) == Some(0) && matches!(u32le(b, 14), Some(12 | 40 | 52 | 56 | 64 | 108 | 124))
}

fn ico_or_cur(b: &[u8]) -> Option<Detected> {
    let kind = match b.get(..4)? {
        [0, 0, 1, 0] => ICO,
        [0, 0, 2, 0] => CUR,
        _ => return None,
    };
    let count = u16le(b, 4)?;
    // First directory entry: reserved byte must be 0, the data offset must
    // point past the directory.
    let reserved = *b.get(9)?;
    let offset = u32le(b, 18)?;
    let dir_end = 6 + 16 * u32::from(count);
    (count > 0 && reserved == 0 && offset >= dir_end).then_some(kind)
}

/// DER `SEQUENCE` holding the PKCS#7 content-type OID 1.2.840.113549.1.7.x.
fn is_pkcs7(b: &[u8]) -> bool {
    b.first() == Some(&0x30) && find(head(b, 32), b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07").is_some()
}

/// MPEG audio frame sync (`FF Ex`); `FF FE`/`FF FF` are left alone (UTF-16
/// BOM, padding).
fn mpeg_audio(b: &[u8]) -> Option<Detected> {
    let (b0, b1, b2) = (*b.first()?, *b.get(1)?, *b.get(2)?);
    if b0 != 0xff || b1 & 0xe0 != 0xe0 || b1 >= 0xfe {
        return None;
    }
    if b1 & 0xf6 == 0xf0 {
        return Some(AAC);
    }
    let layer = (b1 >> 1) & 3;
    let version = (b1 >> 3) & 3;
    let bitrate = b2 >> 4;
    let rate = (b2 >> 2) & 3;
    (layer != 0 && version != 1 && bitrate != 0xf && rate != 3).then_some(MP3)
}

// ---------------------------------------------------------------------------
// ZIP and its families
// ---------------------------------------------------------------------------

mod zip {
    use super::*;

    /// What the entry names say.
    #[derive(Default)]
    struct Signals {
        any: bool,
        content_types: bool,
        word: bool,
        xl: bool,
        xlsb: bool,
        ppt: bool,
        vba: bool,
        jar_manifest: bool,
        class_file: bool,
        android_manifest: bool,
        dex: bool,
        appx_manifest: bool,
        odf_macros: bool,
        encrypted: bool,
    }

    impl Signals {
        fn observe(&mut self, name: &[u8], flags: u16) {
            self.any = true;
            if flags & 1 != 0 {
                self.encrypted = true;
            }
            let ends_ci = |suffix: &[u8]| {
                name.len() >= suffix.len()
                    && name.get(name.len() - suffix.len()..).is_some_and(|t| t.eq_ignore_ascii_case(suffix))
            };
            match name {
                b"[Content_Types].xml" => self.content_types = true,
                b"META-INF/MANIFEST.MF" => self.jar_manifest = true,
                b"AndroidManifest.xml" => self.android_manifest = true,
                b"classes.dex" => self.dex = true,
                b"AppxManifest.xml" | b"AppxMetadata/AppxBundleManifest.xml" => self.appx_manifest = true,
                b"xl/workbook.bin" => self.xlsb = true,
                _ => {}
            }
            if name.starts_with(b"word/") {
                self.word = true;
            } else if name.starts_with(b"xl/") {
                self.xl = true;
            } else if name.starts_with(b"ppt/") {
                self.ppt = true;
            } else if name.starts_with(b"Basic/") || name.starts_with(b"Scripts/") {
                self.odf_macros = true;
            }
            if ends_ci(b"vbaProject.bin") {
                self.vba = true;
            }
            if ends_ci(b".class") {
                self.class_file = true;
            }
        }

        fn verdict(&self, odf: Option<Detected>) -> Option<Detected> {
            if !self.any {
                return None;
            }
            if self.android_manifest && self.dex {
                return Some(APK);
            }
            if self.appx_manifest {
                return Some(MSIX);
            }
            if self.jar_manifest || self.class_file {
                return Some(JAR);
            }
            if self.content_types {
                match (self.word, self.xl, self.ppt) {
                    (true, _, _) => return Some(if self.vba { DOCM } else { DOCX }),
                    (_, true, _) if self.xlsb => return Some(XLSB),
                    (_, true, _) => return Some(if self.vba { XLSM } else { XLSX }),
                    (_, _, true) => return Some(if self.vba { PPTM } else { PPTX }),
                    _ => {}
                }
            }
            if let Some(d) = odf {
                return Some(if self.odf_macros && d.kind == Office { ODF_MACROS } else { d });
            }
            Some(if self.encrypted { ZIP_ENCRYPTED } else { ZIP })
        }
    }

    /// Classifies a ZIP whose local headers start at `base` (0 unless data
    /// was prepended). `None` when no entry could be read at all.
    pub(super) fn classify(b: &[u8], base: usize) -> Option<Detected> {
        let mut sig = Signals::default();
        if !central_directory(b, &mut sig) {
            local_headers(b, base, &mut sig);
        }
        let odf = odf_mimetype(b, base);
        if !sig.any && odf.is_some() {
            sig.any = true;
        }
        sig.verdict(odf)
    }

    /// A ZIP with something prepended, found by its end record and a
    /// readable central directory.
    pub(super) fn from_tail(b: &[u8]) -> Option<Detected> {
        let mut sig = Signals::default();
        if !central_directory(b, &mut sig) {
            return None;
        }
        sig.verdict(None)
    }

    fn find_eocd(b: &[u8]) -> Option<usize> {
        let last = b.len().checked_sub(22)?;
        let first = last.saturating_sub(ZIP_EOCD_WINDOW - 22);
        (first..=last).rev().find(|&i| at(b, i, b"PK\x05\x06"))
    }

    /// (start of central directory, its size, entry count), corrected for
    /// prepended data and ZIP64.
    fn cd_location(b: &[u8], eocd: usize) -> Option<(usize, u64, u64)> {
        let mut entries = u64::from(u16le(b, eocd + 10)?);
        let mut size = u64::from(u32le(b, eocd + 12)?);
        let mut offset = u64::from(u32le(b, eocd + 16)?);
        let mut record = eocd;
        if (offset == 0xffff_ffff || size == 0xffff_ffff || entries == 0xffff)
            && let Some(loc) = eocd.checked_sub(20)
            && at(b, loc, b"PK\x06\x07")
        {
            let z64 = usize::try_from(u64le(b, loc + 8)?).ok()?;
            if at(b, z64, b"PK\x06\x06") {
                entries = u64le(b, z64 + 32)?;
                size = u64le(b, z64 + 40)?;
                offset = u64le(b, z64 + 48)?;
                record = loc.min(z64);
            }
        }
        // Normally the directory ends where the end record begins; if data was
        // prepended, the recorded offset is short by that much.
        let by_position = u64::try_from(record).ok()?.checked_sub(size);
        let start = match by_position {
            Some(p) if at(b, usize::try_from(p).ok()?, b"PK\x01\x02") => p,
            _ => offset,
        };
        Some((usize::try_from(start).ok()?, size, entries))
    }

    /// Walks the central directory; false when there is none to walk.
    fn central_directory(b: &[u8], sig: &mut Signals) -> bool {
        let Some(eocd) = find_eocd(b) else { return false };
        let Some((mut pos, _, entries)) = cd_location(b, eocd) else { return false };
        let mut seen = 0usize;
        while seen < MAX_ENTRIES && (seen as u64) < entries && at(b, pos, b"PK\x01\x02") {
            let (Some(flags), Some(n), Some(e), Some(c)) =
                (u16le(b, pos + 8), u16le(b, pos + 28), u16le(b, pos + 30), u16le(b, pos + 32))
            else {
                break;
            };
            let name_start = pos + 46;
            let Some(name) = b.get(name_start..name_start + usize::from(n)) else { break };
            sig.observe(name, flags);
            seen += 1;
            pos = name_start + usize::from(n) + usize::from(e) + usize::from(c);
        }
        seen > 0
    }

    /// Walks local headers from `base` while their sizes are known.
    fn local_headers(b: &[u8], base: usize, sig: &mut Signals) {
        let mut pos = base;
        for _ in 0..MAX_ENTRIES {
            if !at(b, pos, b"PK\x03\x04") {
                return;
            }
            let (Some(flags), Some(csize), Some(n), Some(e)) =
                (u16le(b, pos + 6), u32le(b, pos + 18), u16le(b, pos + 26), u16le(b, pos + 28))
            else {
                return;
            };
            let name_start = pos + 30;
            let Some(name) = b.get(name_start..name_start + usize::from(n)) else { return };
            sig.observe(name, flags);
            if flags & 8 != 0 && csize == 0 {
                return; // size only in a trailing data descriptor
            }
            let Ok(csize) = usize::try_from(csize) else { return };
            let Some(next) = (name_start + usize::from(n) + usize::from(e)).checked_add(csize) else {
                return;
            };
            pos = next;
        }
    }

    /// ODF/EPUB: a first entry named `mimetype`, stored, holding the type.
    fn odf_mimetype(b: &[u8], base: usize) -> Option<Detected> {
        if !at(b, base, b"PK\x03\x04") || u16le(b, base + 8)? != 0 {
            return None;
        }
        let n = usize::from(u16le(b, base + 26)?);
        let e = usize::from(u16le(b, base + 28)?);
        if b.get(base + 30..base + 30 + n)? != b"mimetype" {
            return None;
        }
        let size = usize::try_from(u32le(b, base + 18)?).ok()?.min(128);
        let start = base + 30 + n + e;
        let value = b.get(start..start + size)?;
        Some(match value {
            b"application/vnd.oasis.opendocument.text" => ODT,
            b"application/vnd.oasis.opendocument.spreadsheet" => ODS,
            b"application/vnd.oasis.opendocument.presentation" => ODP,
            b"application/vnd.oasis.opendocument.graphics" => ODG,
            b"application/epub+zip" => EPUB,
            v if v.starts_with(b"application/vnd.oasis.opendocument.") => ODF_OTHER,
            _ => return None,
        })
    }
}

fn zip_from_tail(b: &[u8]) -> Option<Detected> {
    zip::from_tail(b)
}

// ---------------------------------------------------------------------------
// OLE2 / Compound File Binary
// ---------------------------------------------------------------------------

mod cfb {
    use super::*;

    const ENDOFCHAIN_MIN: u32 = 0xffff_fffa; // values >= this are markers
    /// Windows Installer root CLSIDs {000C10xx-0000-0000-C000-000000000046}
    /// for .msi (84), .msp (86) and .mst (82), in on-disk byte order.
    const MSI_CLSID_TAIL: [u8; 14] = [0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0, 0, 0, 0, 0, 0, 0x46];

    #[derive(Default)]
    struct Signals {
        word: bool,
        workbook: bool,
        powerpoint: bool,
        msg: bool,
        encrypted: bool,
        macros: bool,
        msi: bool,
    }

    pub(super) fn classify(b: &[u8], ext: &str) -> Detected {
        let mut s = Signals::default();
        walk_directory(b, &mut s);
        if s.encrypted {
            OFFICE_ENCRYPTED
        } else if s.msi {
            MSI
        } else if s.msg {
            MSG
        } else if s.word {
            if s.macros { DOC_MACROS } else { DOC }
        } else if s.workbook {
            if s.macros { XLS_MACROS } else { XLS }
        } else if s.powerpoint {
            PPT
        } else if matches!(ext, "jtd" | "jtdc" | "jtt" | "jttc") {
            JTD
        } else {
            OLE2
        }
    }

    /// Reads the directory stream through the FAT, bounded by the number of
    /// sectors in the file (so chains that loop stop).
    fn walk_directory(b: &[u8], s: &mut Signals) {
        let Some(shift) = u16le(b, 0x1e) else { return };
        if shift != 9 && shift != 12 {
            return;
        }
        let ssz = 1usize << shift;
        let sectors = b.len() / ssz; // upper bound on any chain length
        let fat = fat_sectors(b, ssz, sectors);
        let Some(mut sector) = u32le(b, 0x30) else { return };
        let mut entries = 0usize;
        let mut steps = 0usize;
        while sector < ENDOFCHAIN_MIN && steps <= sectors && entries < MAX_ENTRIES {
            steps += 1;
            let Some(off) = sector_offset(sector, ssz) else { return };
            let Some(data) = b.get(off..off.saturating_add(ssz)) else { return };
            for entry in data.chunks_exact(128) {
                observe_entry(entry, entries == 0, s);
                entries += 1;
            }
            sector = match next_sector(b, &fat, sector, ssz) {
                Some(n) => n,
                None => return,
            };
        }
    }

    fn sector_offset(sector: u32, ssz: usize) -> Option<usize> {
        usize::try_from(sector).ok()?.checked_add(1)?.checked_mul(ssz)
    }

    /// The FAT sector list: 109 entries in the header, then the DIFAT chain.
    fn fat_sectors(b: &[u8], ssz: usize, sectors: usize) -> Vec<u32> {
        let mut fat = Vec::new();
        for i in 0..109 {
            match u32le(b, 0x4c + 4 * i) {
                Some(v) if v < ENDOFCHAIN_MIN => fat.push(v),
                _ => return fat,
            }
        }
        let per = ssz / 4 - 1;
        let mut next = u32le(b, 0x44).unwrap_or(u32::MAX);
        let mut steps = 0usize;
        while next < ENDOFCHAIN_MIN && steps <= sectors && fat.len() <= sectors {
            steps += 1;
            let Some(off) = sector_offset(next, ssz) else { break };
            for i in 0..per {
                match u32le(b, off + 4 * i) {
                    Some(v) if v < ENDOFCHAIN_MIN => fat.push(v),
                    _ => return fat,
                }
            }
            next = u32le(b, off + 4 * per).unwrap_or(u32::MAX);
        }
        fat
    }

    fn next_sector(b: &[u8], fat: &[u32], sector: u32, ssz: usize) -> Option<u32> {
        let per = ssz / 4;
        let index = usize::try_from(sector).ok()?;
        let fat_sector = *fat.get(index / per)?;
        let off = sector_offset(fat_sector, ssz)?.checked_add(4 * (index % per))?;
        u32le(b, off)
    }

    fn observe_entry(entry: &[u8], first: bool, s: &mut Signals) {
        let kind = entry.get(0x42).copied().unwrap_or(0);
        if kind == 0 {
            return; // unused slot
        }
        if first && kind == 5 {
            if let Some(clsid) = entry.get(0x50..0x60)
                && matches!(clsid.first(), Some(0x82 | 0x84 | 0x86))
                && clsid.get(1) == Some(&0x10)
                && clsid.get(2..) == Some(&MSI_CLSID_TAIL[..])
            {
                s.msi = true;
            }
            return;
        }
        let name_len = usize::from(u16le(entry, 0x40).unwrap_or(0)).min(64);
        let raw = entry.get(..name_len).unwrap_or_default();
        // Names are UTF-16LE; only ASCII names matter here.
        let mut name = [0u8; 32];
        let mut n = 0;
        for unit in raw.chunks_exact(2) {
            let c = u16::from_le_bytes([unit[0], unit[1]]);
            if c == 0 || n == name.len() {
                break;
            }
            name[n] = if c < 0x80 { c as u8 } else { b'?' };
            n += 1;
        }
        let name = &name[..n];
        match name {
            b"WordDocument" => s.word = true,
            b"Workbook" | b"Book" => s.workbook = true,
            b"PowerPoint Document" => s.powerpoint = true,
            b"EncryptedPackage" => s.encrypted = true,
            b"Macros" | b"_VBA_PROJECT_CUR" | b"VBA" | b"_VBA_PROJECT" => s.macros = true,
            _ if name.starts_with(b"__substg1.0_") || name == b"__properties_version1.0" => s.msg = true,
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Stage 2: magic at fixed offsets
// ---------------------------------------------------------------------------

fn detect_at_offsets(b: &[u8]) -> Option<Detected> {
    if [0x8001, 0x8801, 0x9001].iter().any(|&o| at(b, o, b"CD001")) {
        return Some(ISO);
    }
    if at(b, 0x8001, b"BEA01") {
        return Some(UDF);
    }
    if is_tar(b) {
        return Some(TAR);
    }
    if is_boot_sector(b) {
        return Some(RAW_DISK);
    }
    let tail = b.len().checked_sub(512)?;
    if at(b, tail, b"conectix") {
        return Some(VHD);
    }
    if at(b, tail, b"koly") {
        return Some(DMG);
    }
    None
}

/// ustar magic, or a valid v7 header checksum.
fn is_tar(b: &[u8]) -> bool {
    let Some(h) = b.get(..512) else { return false };
    if at(h, 257, b"ustar") {
        return true;
    }
    if h.first().is_none_or(|&c| c == 0) {
        return false;
    }
    let Some(field) = h.get(148..156) else { return false };
    let mut stored: u32 = 0;
    let mut digits = 0;
    for &c in field {
        match c {
            b'0'..=b'7' => {
                stored = stored * 8 + u32::from(c - b'0');
                digits += 1;
            }
            b' ' | 0 if digits == 0 => {}
            b' ' | 0 => break,
            _ => return false,
        }
    }
    let sum: u32 = h.iter().enumerate().map(|(i, &c)| if (148..156).contains(&i) { 0x20 } else { u32::from(c) }).sum();
    digits > 0 && stored == sum
}

fn is_boot_sector(b: &[u8]) -> bool {
    at(b, 510, b"\x55\xaa")
        && (at(b, 3, b"NTFS    ")
            || at(b, 3, b"EXFAT   ")
            || at(b, 0x36, b"FAT12")
            || at(b, 0x36, b"FAT16")
            || at(b, 0x52, b"FAT32"))
}

// ---------------------------------------------------------------------------
// Stages 4 and 5: text
// ---------------------------------------------------------------------------

fn detect_text(b: &[u8], ext: &str) -> Option<Detected> {
    let sample = head(b, TEXT_SAMPLE);
    let truncated = sample.len() < b.len();
    // An ASCII-compatible view of the sample.
    let (view, utf16): (std::borrow::Cow<'_, [u8]>, bool) = if let Some(rest) = sample.strip_prefix(b"\xff\xfe") {
        (utf16_view(UTF_16LE, rest), true)
    } else if let Some(rest) = sample.strip_prefix(b"\xfe\xff") {
        (utf16_view(UTF_16BE, rest), true)
    } else {
        (sample.strip_prefix(b"\xef\xbb\xbf").unwrap_or(sample).into(), false)
    };
    let view = &*view;

    if let Some(d) = structured_text(view, ext) {
        return Some(d);
    }
    let encoding = if utf16 { looks_textual(view).then_some(TEXT_UTF16) } else { text_encoding(view, truncated) };
    encoding.map(|e| script_by_name(ext).unwrap_or(e))
}

fn utf16_view(enc: &'static Encoding, rest: &[u8]) -> std::borrow::Cow<'static, [u8]> {
    let even = rest.get(..rest.len() & !1).unwrap_or_default();
    let (text, _) = enc.decode_without_bom_handling(even);
    text.into_owned().into_bytes().into()
}

fn trim_ascii_ws(v: &[u8]) -> &[u8] {
    let start = v.iter().position(|c| !matches!(c, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c')).unwrap_or(v.len());
    v.get(start..).unwrap_or_default()
}

/// Formats recognisable from the structure of the leading text.
fn structured_text(view: &[u8], ext: &str) -> Option<Detected> {
    if view.starts_with(b"#!") {
        return Some(shebang(view));
    }
    let t = trim_ascii_ws(view);
    if let Some(d) = markup(t, ext) {
        return Some(d);
    }
    if is_mail(view) {
        return Some(MAIL);
    }
    const SIGNS: &[(&[u8], Detected)] = &[
        (b"[InternetShortcut]", URL_SHORTCUT),
        (b"[Shell]", SCF),
        (b"[Desktop Entry]", DESKTOP),
        (b"REGEDIT4", REGEDIT),
        (b"Windows Registry Editor Version", REGEDIT),
        (b"BEGIN:VCARD", VCARD),
        (b"BEGIN:VCALENDAR", ICAL),
    ];
    SIGNS.iter().find(|(m, _)| starts_with_ci(t, m)).map(|&(_, d)| d)
}

fn shebang(view: &[u8]) -> Detected {
    let line_end = view.iter().position(|&c| c == b'\n').unwrap_or(view.len());
    let line = view.get(..line_end).unwrap_or_default();
    let has = |w: &[u8]| find(line, w).is_some();
    if has(b"python") {
        PYTHON
    } else if has(b"perl") {
        PERL
    } else if has(b"ruby") {
        RUBY
    } else if has(b"node") || has(b"deno") {
        JAVASCRIPT
    } else if has(b"pwsh") || has(b"powershell") {
        POWERSHELL
    } else {
        SHELL
    }
}

/// Tags whose presence at the start makes a browser treat the bytes as HTML
/// (the WHATWG MIME sniffing list, plus a few common openers).
#[rustfmt::skip]
const HTML_TAGS: &[&[u8]] = &[
    b"html", b"head", b"body", b"script", b"iframe", b"h1", b"div", b"font", b"table", b"a", b"style",
    b"title", b"b", b"br", b"p", b"meta", b"link", b"base", b"form", b"img", b"frameset", b"object",
    b"embed", b"center", b"span",
];

fn markup(t: &[u8], ext: &str) -> Option<Detected> {
    if !t.starts_with(b"<") {
        return None;
    }
    if starts_with_ci(t, b"<!doctype html") {
        return Some(HTML);
    }
    let root = root_element(t);
    if let Some(name) = root {
        // Namespace prefixes ("svg:svg") do not change the element.
        let local = name.rsplit(|&c| c == b':').next().unwrap_or(name);
        if local.eq_ignore_ascii_case(b"svg") {
            return Some(SVG);
        }
        if local.eq_ignore_ascii_case(b"html") {
            return Some(if t.starts_with(b"<?xml") { XHTML } else { HTML });
        }
        if !t.starts_with(b"<?xml") && HTML_TAGS.iter().any(|tag| name.eq_ignore_ascii_case(tag)) {
            return Some(HTML);
        }
    }
    if t.starts_with(b"<!--") && root.is_none_or(|n| HTML_TAGS.iter().any(|tag| n.eq_ignore_ascii_case(tag))) {
        return Some(HTML);
    }
    if t.starts_with(b"<?xml") || (root.is_some() && t.starts_with(b"<!")) {
        return Some(match script_by_name(ext) {
            Some(d) => d,
            None if matches!(
                ext,
                "application"
                    | "manifest"
                    | "settingcontent-ms"
                    | "library-ms"
                    | "searchconnector-ms"
                    | "jnlp"
                    | "xbap"
                    | "vsto"
            ) =>
            {
                CLICKONCE
            }
            None => XML,
        });
    }
    None
}

/// Name of the first element after an XML/HTML prolog (declarations,
/// processing instructions, comments, doctype), within the sample.
fn root_element(t: &[u8]) -> Option<&[u8]> {
    let mut rest = t;
    loop {
        rest = trim_ascii_ws(rest);
        if rest.starts_with(b"<?") {
            rest = rest.get(find(rest, b"?>")? + 2..)?;
        } else if rest.starts_with(b"<!--") {
            rest = rest.get(4..)?;
            rest = rest.get(find(rest, b"-->")? + 3..)?;
        } else if rest.starts_with(b"<!") {
            // A doctype, possibly with an internal subset in brackets.
            let gt = rest.iter().position(|&c| c == b'>')?;
            let close = match rest.iter().position(|&c| c == b'[') {
                Some(open) if open < gt => find(rest, b"]>")? + 2,
                _ => gt + 1,
            };
            rest = rest.get(close..)?;
        } else if let Some(after) = rest.strip_prefix(b"<") {
            let end = after
                .iter()
                .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b':' | b'-' | b'_' | b'.')))
                .unwrap_or(after.len());
            let name = after.get(..end)?;
            let terminated = matches!(after.get(end), Some(b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'>' | b'/'));
            return (!name.is_empty() && terminated).then_some(name);
        } else {
            return None;
        }
    }
}

/// Mail headers at the start: every line up to the first blank one (or the
/// sample end) is a header or a continuation, there are at least two, the
/// first is a mail header or an mbox `From ` line, and one is distinctively
/// mail.
fn is_mail(view: &[u8]) -> bool {
    #[rustfmt::skip]
    const FIRST: &[&[u8]] = &[
        b"received", b"return-path", b"from", b"delivered-to", b"message-id", b"date", b"subject", b"to",
        b"mime-version", b"x-mailer", b"dkim-signature", b"arc-seal", b"authentication-results", b"reply-to",
        b"x-original-to", b"envelope-to", b"x-received", b"x-sender", b"sender", b"cc",
    ];
    const STRONG: &[&[u8]] =
        &[b"received", b"return-path", b"from", b"delivered-to", b"message-id", b"mime-version", b"dkim-signature"];
    // Judged on the text as a text rendition would show it (bare CR a line
    // end, controls dropped): text that would turn into mail once cleaned
    // is mail already, so a rendition sanitised again stays text.
    let cleaned;
    let view = if view.iter().any(|&c| (c < 0x20 && !matches!(c, b'\t' | b'\n')) || c >= 0x7f) {
        cleaned = crate::text::clean_text(&String::from_utf8_lossy(view)).0;
        cleaned.as_bytes()
    } else {
        view
    };
    let mut headers = 0usize;
    let mut strong = false;
    for (i, line) in view.split(|&c| c == b'\n').take(64).enumerate() {
        if line.is_empty() {
            break;
        }
        if i == 0 && line.starts_with(b"From ") {
            continue;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if headers == 0 {
                return false;
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&c| c == b':') else { return false };
        let name = line.get(..colon).unwrap_or_default();
        if name.is_empty() || !name.iter().all(|&c| (0x21..=0x7e).contains(&c)) {
            return false;
        }
        let known = |list: &[&[u8]]| list.iter().any(|h| name.eq_ignore_ascii_case(h));
        if headers == 0 && !known(FIRST) {
            return false;
        }
        strong |= known(STRONG);
        headers += 1;
    }
    headers >= 2 && strong
}

/// Valid UTF-8 throughout, without a BOM, NUL, escape or other control
/// byte (tab, line ends and form feed allowed): what `text::clean_text`
/// writes. A BOM is excluded because the rendition drops it, which could
/// bring a signature to the start.
fn is_clean_utf8_text(b: &[u8]) -> bool {
    !b.starts_with(b"\xef\xbb\xbf") && !b.iter().any(|&c| is_control(c) || c == 0x1b) && std::str::from_utf8(b).is_ok()
}

fn is_control(c: u8) -> bool {
    matches!(c, 0x00..=0x08 | 0x0e..=0x1a | 0x1c..=0x1f | 0x7f)
}

/// No NUL and at most 1 % other control bytes.
fn looks_textual(v: &[u8]) -> bool {
    if v.contains(&0) {
        return false;
    }
    let controls = v.iter().filter(|&&c| is_control(c)).count();
    controls * 100 <= v.len()
}

fn text_encoding(v: &[u8], truncated: bool) -> Option<Detected> {
    if !looks_textual(v) {
        return None;
    }
    if v.is_ascii() {
        let iso2022 = [&b"\x1b$B"[..], b"\x1b$@", b"\x1b(J", b"\x1b$(D"].iter().any(|e| find(v, e).is_some());
        return Some(if iso2022 { TEXT_ISO2022JP } else { TEXT_ASCII });
    }
    let utf8_ok = match std::str::from_utf8(v) {
        Ok(_) => true,
        // A sample cut inside a character is still UTF-8.
        Err(e) => truncated && e.error_len().is_none(),
    };
    if utf8_ok {
        return Some(TEXT_UTF8);
    }
    // EUC-JP first: EUC-JP bytes usually also decode as Shift_JIS (as
    // half-width katakana), while Shift_JIS kana/kanji lead bytes 0x81-0x9f
    // are invalid in EUC-JP.
    if decodes_cleanly(EUC_JP, v, truncated) {
        return Some(TEXT_EUCJP);
    }
    if decodes_cleanly(SHIFT_JIS, v, truncated) {
        return Some(TEXT_SJIS);
    }
    Some(TEXT_8BIT)
}

/// True if `v` decodes without errors (allowing a character cut at the
/// sample end, up to 2 trailing bytes).
fn decodes_cleanly(enc: &'static Encoding, v: &[u8], truncated: bool) -> bool {
    let cuts = if truncated { 0..=2 } else { 0..=0 };
    cuts.into_iter().any(|cut| {
        v.get(..v.len().saturating_sub(cut))
            .is_some_and(|s| enc.decode_without_bom_handling_and_without_replacement(s).is_some())
    })
}

fn script_by_name(ext: &str) -> Option<Detected> {
    Some(match ext {
        "js" | "jse" | "mjs" => JAVASCRIPT,
        "vbs" | "vbe" | "vb" | "vba" => VBSCRIPT,
        "ps1" | "psm1" | "psd1" | "ps1xml" => POWERSHELL,
        "bat" | "cmd" => BATCH,
        "wsf" | "wsh" | "wsc" | "sct" => WSF,
        "hta" => HTA,
        "sh" | "bash" | "zsh" | "ksh" | "csh" | "command" => SHELL,
        "py" | "pyw" => PYTHON,
        "pl" => PERL,
        "rb" => RUBY,
        "reg" => REGEDIT,
        "url" | "website" => URL_SHORTCUT,
        "scf" => SCF,
        "desktop" => DESKTOP,
        "inf" => INF,
        "iqy" => IQY,
        "slk" => SLK,
        "rdp" => RDP,
        "appref-ms" | "application" | "settingcontent-ms" | "library-ms" | "searchconnector-ms" | "jnlp" => CLICKONCE,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Filenames
// ---------------------------------------------------------------------------

/// Extensions Windows (or a common script host / installer / mounter) acts on
/// when the file is opened.
const DANGEROUS: &str = concat!(
    "exe com scr pif bat cmd vbs vbe vb vba js jse mjs wsf wsh wsc ws sct hta ps1 ps1xml ps2 ps2xml psc1 ",
    "psc2 psm1 psd1 msh msh1 msh2 mshxml msh1xml msh2xml msi msp mst msu msix msixbundle appx appxbundle ",
    "appinstaller lnk jar jnlp reg cpl dll ocx sys drv iso img vhd vhdx udf dmg wim one onepkg chm hlp ",
    "url website scf appref-ms application gadget msc inf ins isp its job sh bash csh ksh command apk ",
    "xapk app py pyw pyc pyo pl rb shs shb xbap vsto vsix xll xlam ppam settingcontent-ms search-ms ",
    "searchconnector-ms library-ms diagcab ppkg mde mda mdb accdb accde ade adp mau mad maf mag mam maq ",
    "mar mas mat mav maw mcf prf desktop deb rpm pkg mpkg rdp iqy slk theme themepack crx xpi ",
);

/// Extensions that look harmless to a recipient (the decoy in a double
/// extension).
const DECOY: &str = concat!(
    "pdf doc docx xls xlsx ppt pptx rtf txt csv jpg jpeg png gif bmp tif tiff heic webp svg mp3 mp4 wav ",
    "avi mov wmv mpg mpeg zip lzh rar 7z htm html xml json odt ods odp jtd hwp eml msg log ics vcf ",
);

/// The name as Windows would store it: cut at a NUL, last path component,
/// `::$DATA` stream suffix removed, trailing dots and spaces removed.
fn normalised_name(filename: &str) -> &str {
    let name = filename.split('\0').next().unwrap_or_default();
    let name = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let name = match name.len().checked_sub(7) {
        Some(i) if name.get(i..).is_some_and(|s| s.eq_ignore_ascii_case("::$DATA")) => name.get(..i).unwrap_or(name),
        _ => name,
    };
    name.trim_end_matches(['.', ' '])
}

/// Lower-case extension of the normalised name (empty if none).
fn extension(filename: &str) -> String {
    let name = normalised_name(filename);
    match name.rfind('.') {
        Some(i) => name.get(i + 1..).unwrap_or_default().to_ascii_lowercase(),
        None => String::new(),
    }
}

/// True for names whose extension Windows would execute, or a script host,
/// installer or disk-image mounter would act on (case-insensitive; trailing
/// dots and spaces are stripped as Windows does, the name is cut at a NUL and
/// only the last path component counts).
pub fn is_dangerous_name(filename: &str) -> bool {
    let ext = extension(filename);
    DANGEROUS.split_ascii_whitespace().any(|e| e == ext)
}

/// True for names like `invoice.pdf.exe` or `photo.jpg      .scr`: a
/// harmless-looking extension (whitespace and invisible characters around it
/// ignored) directly before a dangerous one. A dangerous extension preceded
/// by a run of five or more spaces (`Document          .exe`, padding that
/// pushes the real extension out of view) counts too.
pub fn has_double_extension(filename: &str) -> bool {
    if !is_dangerous_name(filename) {
        return false;
    }
    let name = normalised_name(filename);
    let Some(last_dot) = name.rfind('.') else { return false };
    let stem = name.get(..last_dot).unwrap_or_default();
    let padding = stem.chars().rev().take_while(|c| c.is_whitespace() || is_invisible(*c)).count();
    if padding >= 5 {
        return true;
    }
    let Some(prev_dot) = stem.rfind('.') else { return false };
    let decoy = stem.get(prev_dot + 1..).unwrap_or_default();
    let decoy = decoy.trim_matches(|c: char| c.is_whitespace() || is_invisible(c)).to_ascii_lowercase();
    DECOY.split_ascii_whitespace().any(|e| e == decoy)
}

/// Zero-width and bidi formatting characters.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn d(bytes: &[u8]) -> Detected {
        detect(bytes, None)
    }

    fn padded(prefix: &[u8], len: usize) -> Vec<u8> {
        let mut v = prefix.to_vec();
        v.resize(len.max(prefix.len()), 0);
        v
    }

    #[test]
    fn images() {
        assert_eq!(d(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), PNG);
        assert_eq!(d(b"\xff\xd8\xff\xe0\0\x10JFIF"), JPEG);
        assert_eq!(d(b"GIF89a\x01\0\x01\0"), GIF);
        assert_eq!(d(b"RIFF\x24\0\0\0WEBPVP8 "), WEBP);
        assert_eq!(d(b"II*\0\x08\0\0\0"), TIFF);
        assert_eq!(d(b"MM\0*\0\0\0\x08"), TIFF);
        let mut bmp = padded(b"BM", 64);
        bmp[14] = 40;
        assert_eq!(d(&bmp), BMP);
        // "BM" followed by text is not a bitmap.
        assert_eq!(d(b"BM is the abbreviation").kind, Text);
        let mut ico = padded(&[0, 0, 1, 0, 1, 0, 16, 16, 0, 0, 1, 0, 32, 0], 40);
        ico[18] = 22;
        assert_eq!(d(&ico), ICO);
        assert_eq!(d(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"), HEIC);
        assert_eq!(d(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"), AVIF);
        assert_eq!(d(b"\0\0\0\x18ftypmif1\0\0\0\0mif1avif"), AVIF);
        assert_eq!(d(b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2"), MP4);
        assert_eq!(d(b"\0\0\0\x14ftypqt  \0\0\0\0qt  "), MOV);
    }

    #[test]
    fn svg_and_markup() {
        assert_eq!(d(b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script/></svg>"), SVG);
        assert_eq!(
            d(b"\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- hi -->\n<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" [ <!ENTITY x \"y\"> ]>\n<svg:svg xmlns:svg=\"http://www.w3.org/2000/svg\"/>"),
            SVG
        );
        assert_eq!(d(b"<?xml version=\"1.0\"?><root><svg/></root>"), XML);
        assert_eq!(d(b"<?xml version=\"1.0\"?><html xmlns=\"http://www.w3.org/1999/xhtml\"></html>"), XHTML);
        assert_eq!(d(b"  \r\n\t<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\">"), HTML);
        assert_eq!(d(b"<HtMl><body>x"), HTML);
        assert_eq!(d(b"\n\n<head><title>x</title>"), HTML);
        assert_eq!(d(b"<BODY onload=x()>"), HTML);
        assert_eq!(d(b"<script>alert(1)</script>"), HTML);
        assert_eq!(d(b"<!-- comment --><p>hi"), HTML);
        assert_eq!(d(b"<table><tr><td>1"), HTML);
        // Not HTML: "<html" must be followed by a tag terminator.
        assert_eq!(d(b"<htmlfoo> is a made-up tag").kind, Text);
        // UTF-16 with BOM is transcoded before sniffing.
        let mut u16le = vec![0xff, 0xfe];
        for c in "<html><script>x</script>".encode_utf16() {
            u16le.extend_from_slice(&c.to_le_bytes());
        }
        assert_eq!(d(&u16le), HTML);
        let mut u16be = vec![0xfe, 0xff];
        for c in "こんにちは\r\n".encode_utf16() {
            u16be.extend_from_slice(&c.to_be_bytes());
        }
        assert_eq!(d(&u16be), TEXT_UTF16);
        // WSF is XML; with its name it is a script.
        assert_eq!(detect(b"<?xml version=\"1.0\"?><job><script language=\"VBScript\"/></job>", Some("a.wsf")), WSF);
    }

    #[test]
    fn pdf_within_first_kilobyte() {
        assert_eq!(d(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), PDF);
        // A prefix before a real PDF: its binary comment line is no UTF-8.
        let mut junk = vec![b'x'; 1000];
        junk.extend_from_slice(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
        assert_eq!(d(&junk), PDF);
        let mut far = vec![b'x'; 1030];
        far.extend_from_slice(b"%PDF-1.4\n");
        assert_eq!(d(&far).kind, Text);
        // Clean UTF-8 text that mentions %PDF- is text (a text rendition
        // sanitised again stays text); after a BOM it is still a PDF.
        let prose = "請求書の %PDF-1.4 ヘッダについて\r\n".as_bytes();
        assert_eq!(d(prose).kind, Text);
        assert_eq!(d(&[b"\xef\xbb\xbf", &b"%PDF-1.4\n"[..]].concat()), PDF);
    }

    #[test]
    fn offset_signatures_do_not_make_clean_text_a_container() {
        let mut text = vec![b'x'; 0x8800];
        text[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(d(&text).kind, Text);
        let mut text = vec![b'y'; 1024];
        text[257..262].copy_from_slice(b"ustar");
        assert_eq!(d(&text).kind, Text);
    }

    /// A minimal ZIP writer (stored entries, local headers + central
    /// directory + end record).
    fn zip(entries: &[(&str, &[u8])], flags: u16) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data) in entries {
            let offset = out.len() as u32;
            out.extend_from_slice(b"PK\x03\x04\x14\0");
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // method, time, date, crc
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(data.len() as u32).to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            central.extend_from_slice(b"PK\x01\x02\x14\0\x14\0");
            central.extend_from_slice(&flags.to_le_bytes());
            central.extend_from_slice(&[0; 10]);
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(data.len() as u32).to_le_bytes());
            central.extend_from_slice(&(name.len() as u16).to_le_bytes());
            central.extend_from_slice(&[0; 12]); // extra, comment, disk, attrs
            central.extend_from_slice(&offset.to_le_bytes());
            central.extend_from_slice(name.as_bytes());
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out
    }

    #[test]
    fn zip_family() {
        assert_eq!(d(&zip(&[("a.txt", b"hello")], 0)), ZIP);
        assert_eq!(d(&zip(&[("a.txt", b"hello")], 1)), ZIP_ENCRYPTED);
        let docx = zip(&[("[Content_Types].xml", b"<Types/>"), ("_rels/.rels", b""), ("word/document.xml", b"")], 0);
        assert_eq!(d(&docx), DOCX);
        let docm = zip(&[("[Content_Types].xml", b""), ("word/document.xml", b""), ("word/vbaProject.bin", b"")], 0);
        assert_eq!(d(&docm), DOCM);
        assert_eq!(d(&zip(&[("[Content_Types].xml", b""), ("xl/workbook.xml", b"")], 0)), XLSX);
        assert_eq!(d(&zip(&[("[Content_Types].xml", b""), ("xl/workbook.bin", b"")], 0)), XLSB);
        assert_eq!(d(&zip(&[("[Content_Types].xml", b""), ("xl/vbaProject.bin", b"")], 0)), XLSM);
        assert_eq!(d(&zip(&[("[Content_Types].xml", b""), ("ppt/presentation.xml", b"")], 0)), PPTX);
        let odt = zip(&[("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", b"")], 0);
        assert_eq!(d(&odt), ODT);
        let ods_macros = zip(
            &[("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"), ("Basic/Standard/Module1.xml", b"")],
            0,
        );
        assert_eq!(d(&ods_macros), ODF_MACROS);
        assert_eq!(d(&zip(&[("mimetype", b"application/epub+zip")], 0)), EPUB);
        assert_eq!(d(&zip(&[("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0")], 0)), JAR);
        assert_eq!(d(&zip(&[("AndroidManifest.xml", b""), ("classes.dex", b"")], 0)), APK);
        assert_eq!(d(&zip(&[("[Content_Types].xml", b""), ("AppxManifest.xml", b"")], 0)), MSIX);
        // Without a central directory, the local headers are walked.
        let mut cut = docx.clone();
        let cd = find(&cut, b"PK\x01\x02").unwrap();
        cut.truncate(cd);
        assert_eq!(d(&cut), DOCX);
        // Something prepended: found by the end record.
        let mut prefixed = b"\x00\x01garbage\x00".to_vec();
        prefixed.extend_from_slice(&docx);
        assert_eq!(d(&prefixed), DOCX);
    }

    /// A minimal CFB writer: header, one FAT sector, one directory sector.
    fn cfb(names: &[&str], root_clsid: [u8; 16]) -> Vec<u8> {
        let mut out = vec![0u8; 512 * 3];
        out[..8].copy_from_slice(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1");
        out[0x1a] = 3;
        out[0x1c] = 0xfe;
        out[0x1d] = 0xff;
        out[0x1e] = 9;
        out[0x20] = 6;
        out[0x2c] = 1; // one FAT sector
        out[0x30..0x34].copy_from_slice(&1u32.to_le_bytes()); // directory at sector 1
        out[0x44..0x48].copy_from_slice(&0xffff_fffeu32.to_le_bytes());
        for i in 0..109 {
            out[0x4c + 4 * i..0x50 + 4 * i].copy_from_slice(&0xffff_ffffu32.to_le_bytes());
        }
        out[0x4c..0x50].copy_from_slice(&0u32.to_le_bytes()); // FAT in sector 0
        // FAT (sector 0 at offset 512): sector 0 = FATSECT, sector 1 = ENDOFCHAIN.
        out[512..516].copy_from_slice(&0xffff_fffdu32.to_le_bytes());
        out[516..520].copy_from_slice(&0xffff_fffeu32.to_le_bytes());
        for i in 2..128 {
            out[512 + 4 * i..516 + 4 * i].copy_from_slice(&0xffff_ffffu32.to_le_bytes());
        }
        let dir = 1024;
        let mut write_entry = |slot: usize, name: &str, kind: u8| {
            let e = dir + 128 * slot;
            let units: Vec<u16> = name.encode_utf16().collect();
            for (i, u) in units.iter().enumerate() {
                out[e + 2 * i..e + 2 * i + 2].copy_from_slice(&u.to_le_bytes());
            }
            out[e + 0x40..e + 0x42].copy_from_slice(&((units.len() as u16 + 1) * 2).to_le_bytes());
            out[e + 0x42] = kind;
        };
        write_entry(0, "Root Entry", 5);
        for (i, n) in names.iter().enumerate().take(3) {
            write_entry(i + 1, n, 2);
        }
        out[dir + 0x50..dir + 0x60].copy_from_slice(&root_clsid);
        out
    }

    #[test]
    fn ole2_family() {
        let none = [0u8; 16];
        assert_eq!(d(&cfb(&["WordDocument", "1Table"], none)), DOC);
        assert_eq!(d(&cfb(&["WordDocument", "Macros"], none)), DOC_MACROS);
        assert_eq!(d(&cfb(&["Workbook"], none)), XLS);
        assert_eq!(d(&cfb(&["Workbook", "_VBA_PROJECT_CUR"], none)), XLS_MACROS);
        assert_eq!(d(&cfb(&["PowerPoint Document"], none)), PPT);
        assert_eq!(d(&cfb(&["__substg1.0_0037001F", "__properties_version1.0"], none)), MSG);
        assert_eq!(d(&cfb(&["EncryptionInfo", "EncryptedPackage"], none)), OFFICE_ENCRYPTED);
        let msi_clsid = [0x84, 0x10, 0x0c, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46];
        assert_eq!(d(&cfb(&["\u{4840}x"], msi_clsid)), MSI);
        assert_eq!(detect(&cfb(&["Something"], none), Some("文書.JTD")), JTD);
        assert_eq!(d(&cfb(&["Something"], none)), OLE2);
        // Header only, directory out of range: still OLE2.
        assert_eq!(d(&cfb(&["WordDocument"], none)[..512]), OLE2);
        // A FAT chain that loops onto itself terminates.
        let mut looped = cfb(&["Workbook"], none);
        looped[516..520].copy_from_slice(&1u32.to_le_bytes());
        assert_eq!(d(&looped), XLS);
        // Absurd sector shift.
        let mut bad = cfb(&["Workbook"], none);
        bad[0x1e] = 30;
        assert_eq!(d(&bad), OLE2);
    }

    #[test]
    fn archives_and_images_of_disks() {
        assert_eq!(d(b"7z\xbc\xaf\x27\x1c\0\x04"), SEVEN_Z);
        assert_eq!(d(b"Rar!\x1a\x07\x00\xcf\x90"), RAR4);
        assert_eq!(d(b"Rar!\x1a\x07\x01\x00\x33\x92"), RAR5);
        assert_eq!(d(b"\x1f\x8b\x08\0\0\0\0\0"), GZIP);
        assert_eq!(d(b"BZh91AY&SY"), BZIP2);
        assert_eq!(d(b"\xfd7zXZ\0\0\x04"), XZ);
        assert_eq!(d(b"\x28\xb5\x2f\xfd\x24\x00"), ZSTD);
        assert_eq!(d(b"\x25\x8b-lh5-\x10\x00\x00\x00"), LZH);
        assert_eq!(d(b"\x25\x8b-lhx-\x10\x00\x00\x00"), OCTET);
        assert_eq!(d(b"MSCF\0\0\0\0\x50\x02"), CAB);
        let mut iso = vec![0u8; 0x8800];
        iso[0x8000] = 1;
        iso[0x8001..0x8006].copy_from_slice(b"CD001");
        assert_eq!(d(&iso), ISO);
        let mut udf = vec![0u8; 0x8800];
        udf[0x8001..0x8006].copy_from_slice(b"BEA01");
        assert_eq!(d(&udf), UDF);
        // ustar and a v7 header with a valid checksum.
        let mut tar = vec![0u8; 1024];
        tar[..5].copy_from_slice(b"a.txt");
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(d(&tar), TAR);
        let mut v7 = vec![0u8; 1024];
        v7[..5].copy_from_slice(b"a.txt");
        v7[100..107].copy_from_slice(b"0000644");
        let sum: u32 = v7[..512].iter().map(|&c| u32::from(c)).sum::<u32>() + 8 * 0x20;
        let field = format!("{sum:06o}\0 ");
        v7[148..156].copy_from_slice(field.as_bytes());
        assert_eq!(d(&v7), TAR);
        v7[0] = b'b';
        assert_ne!(d(&v7), TAR);
        let mut fat = vec![0u8; 1024];
        fat[..3].copy_from_slice(b"\xeb\x3c\x90");
        fat[0x36..0x3b].copy_from_slice(b"FAT12");
        fat[510] = 0x55;
        fat[511] = 0xaa;
        assert_eq!(d(&fat), RAW_DISK);
        let mut vhd = vec![0u8; 2048];
        vhd[1536..1544].copy_from_slice(b"conectix");
        assert_eq!(d(&vhd), VHD);
        assert_eq!(d(b"vhdxfile\0\0"), VHDX);
        assert_eq!(d(b"\x78\x9f\x3e\x22\x01\x00"), TNEF);
    }

    #[test]
    fn executables() {
        let mut pe = padded(b"MZ\x90\0\x03\0\0\0\x04\0", 0x100);
        pe[0x3c] = 0x80;
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        assert_eq!(d(&pe), PE_EXE);
        pe[0x80 + 22 + 1] = 0x20; // IMAGE_FILE_DLL
        assert_eq!(d(&pe), PE_DLL);
        // e_lfanew pointing outside the file: a DOS executable, no panic.
        let mut bad = padded(b"MZ\x90\0\x03\0", 0x40);
        bad[0x3c..0x40].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert_eq!(d(&bad), DOS_EXE);
        assert_eq!(d(b"MZ"), TEXT_ASCII);
        assert_eq!(d(b"MZ is a prefix; this is just text.").kind, Text);
        assert_eq!(d(b"\x7fELF\x02\x01\x01\0"), ELF);
        assert_eq!(d(b"\xcf\xfa\xed\xfe\x07\0\0\x01"), MACHO);
        assert_eq!(d(b"\xca\xfe\xba\xbe\0\0\0\x02"), MACHO);
        assert_eq!(d(b"\xca\xfe\xba\xbe\0\0\0\x34"), JAVA_CLASS);
        assert_eq!(d(b"\x4c\0\0\0\x01\x14\x02\0\0\0\0\0\xc0\0\0\0"), LNK);
        assert_eq!(d(b"dex\n035\0"), DEX);
        assert_eq!(d(b"#@~^XAAAAA==abc"), ENCODED_SCRIPT);
    }

    #[test]
    fn scripts_and_text() {
        assert_eq!(d(b"#!/bin/sh\necho hi\n"), SHELL);
        assert_eq!(d(b"#!/usr/bin/env python3\nprint(1)\n"), PYTHON);
        assert_eq!(detect(b"WScript.Echo \"hi\"\r\n", Some("a.VBS")), VBSCRIPT);
        assert_eq!(detect(b"var x = 1;\n", Some("invoice.pdf.js")), JAVASCRIPT);
        assert_eq!(detect(b"@echo off\r\n", Some("run.bat ")), BATCH);
        assert_eq!(detect(b"Write-Host hi\n", Some("x.ps1")), POWERSHELL);
        // A script name on binary content does not make it text.
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n", Some("x.js")), PNG);
        assert_eq!(d(b"[InternetShortcut]\r\nURL=file://evil/x\r\n"), URL_SHORTCUT);
        assert_eq!(d(b"Windows Registry Editor Version 5.00\r\n"), REGEDIT);
        assert_eq!(d(b"Hello, world.\n"), TEXT_ASCII);
        assert_eq!(d("こんにちは、世界。\n".as_bytes()), TEXT_UTF8);
        let (sjis, _, _) = SHIFT_JIS.encode("お世話になっております。請求書を送付します。\r\n");
        assert_eq!(d(&sjis), TEXT_SJIS);
        let (euc, _, _) = EUC_JP.encode("お世話になっております。\n");
        assert_eq!(d(&euc), TEXT_EUCJP);
        assert_eq!(d(b"\x1b$B$3$s$K$A$O\x1b(B\n"), TEXT_ISO2022JP);
        assert_eq!(d(b"caf\xe9 cr\xe8me br\xfbl\xe9e\n"), TEXT_8BIT);
        assert_eq!(d(b"text\0with nul"), OCTET);
        // UTF-8 cut in the middle of a character at the sample boundary.
        let mut long = "あ".repeat(TEXT_SAMPLE).into_bytes();
        long.truncate(TEXT_SAMPLE + 1);
        assert_eq!(d(&long), TEXT_UTF8);
        let many = "請".repeat(TEXT_SAMPLE);
        let (sjis_long, _, _) = SHIFT_JIS.encode(&many);
        let mut sjis_long = sjis_long.into_owned();
        sjis_long.insert(0, b'x'); // shift so the sample ends mid-character
        assert_eq!(d(&sjis_long), TEXT_SJIS);
        assert_eq!(d(b""), EMPTY);
    }

    #[test]
    fn mail() {
        assert_eq!(
            d(b"Received: from a by b; Mon, 1 Jan 2024 00:00:00 +0900\r\n\tcontinued\r\nFrom: a@b\r\nSubject: x\r\n\r\nbody"),
            MAIL
        );
        assert_eq!(d(b"From sender@example.com Mon Jan  1 00:00:00 2024\nReturn-Path: <a@b>\nTo: c@d\n\nhi"), MAIL);
        assert_eq!(d(b"Return-Path: <>\nX-Whatever: 1\n"), MAIL);
        // CR-only line ends (old Mac, or a mangled relay) are line ends too.
        assert_eq!(d(b"Received: by a;\r\tMon, 1 Jan 2024\rFrom: a@b\r\rbody"), MAIL);
        assert_eq!(d(b"Received: by a;\n\tMon, 1 Jan 2024\r\nFrom: a@b\r\rbody"), MAIL);
        // A control character in a name, which the text rendition drops.
        assert_eq!(d(b"Received: by a;\n\tMon\nMIME-Versi\x18on: 1.0\n\nbody"), MAIL);
        // Headers that are not mail-like, or prose with a colon.
        assert_eq!(d(b"Subject: hello\nDate: today\n\nno strong header").kind, Text);
        assert_eq!(d(b"Note: this is prose.\nAnd more prose.\n").kind, Text);
        assert_eq!(d(b"HTTP/1.1 200 OK\r\nServer: x\r\n").kind, Text);
    }

    #[test]
    fn media() {
        assert_eq!(d(b"ID3\x04\0\0\0\0\0\0"), MP3);
        assert_eq!(d(b"\xff\xfb\x90\x64\0\0"), MP3);
        assert_eq!(d(b"\xff\xf1\x50\x80\0\0"), AAC);
        assert_eq!(d(b"OggS\0\x02"), OGG);
        assert_eq!(d(b".snd\0\0\0\x20\0\0\x59\x94"), AU);
        assert_eq!(d(b"FORM\0\0\x10\0AIFFCOMM"), AIFF);
        assert_eq!(d(b"RIFF\x24\0\0\0WAVEfmt "), WAV);
        assert_eq!(d(b"RIFF\x24\0\0\0AVI LIST"), AVI);
        assert_eq!(d(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm"), WEBM);
    }

    #[test]
    fn dangerous_names() {
        for n in [
            "a.exe",
            "A.EXE",
            "a.exe.",
            "a.exe . .",
            "x.Scr",
            "setup.msi",
            "x.lnk",
            "x.js",
            "x.hta",
            "x.iso",
            "x.img",
            "x.vhdx",
            "x.one",
            "x.appref-ms",
            "x.ps1",
            "x.application",
            "x.inf",
            "dir/sub\\x.com",
            "x.exe\0.txt",
            "x.exe::$DATA",
            "x.settingcontent-ms",
            "x.url",
            "x.chm",
            "x.cpl",
        ] {
            assert!(is_dangerous_name(n), "{n}");
        }
        for n in ["a.pdf", "a.txt", "exe", "a.exe.txt", "a.docx", "readme", "", ".", "a.exe\u{200b}", "a.jpg"] {
            assert!(!is_dangerous_name(n), "{n}");
        }
    }

    #[test]
    fn double_extensions() {
        for n in [
            "invoice.pdf.exe",
            "photo.jpg      .scr",
            "請求書.PDF.js",
            "a.doc .exe.",
            "a.jpg\u{200b}.scr",
            "Document                .exe",
        ] {
            assert!(has_double_extension(n), "{n}");
        }
        for n in ["setup.exe", "report.pdf", "archive.tar.gz", "a.pdf.txt", "my.program.exe", "v1.2.exe", ""] {
            assert!(!has_double_extension(n), "{n}");
        }
    }

    #[test]
    fn hostile_inputs_do_not_panic() {
        // Every prefix of every interesting signature, and some noise.
        let samples: Vec<Vec<u8>> = vec![
            zip(&[("[Content_Types].xml", b""), ("word/x", b"")], 0),
            cfb(&["WordDocument"], [0; 16]),
            b"MZ\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\xff\xff\xff\xff".to_vec(),
            b"<?xml <!-- <!DOCTYPE [ <svg".to_vec(),
            b"\0\0\0\xffftyp".to_vec(),
            b"PK\x05\x06\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff".to_vec(),
        ];
        for s in &samples {
            for cut in 0..=s.len() {
                let _ = detect(&s[..cut], Some("x.jtd"));
            }
        }
        // Every byte of the container samples overwritten with extremes.
        for s in samples.iter().take(2) {
            for i in 0..s.len() {
                for v in [0x00, 0xff, 0x7f] {
                    let mut m = s.clone();
                    m[i] = v;
                    let _ = detect(&m, None);
                }
            }
        }
        // ZIP64 locator pointing nowhere, central directory pointing past the end.
        let mut z = b"PK\x03\x04".to_vec();
        z.extend_from_slice(&[0; 40]);
        z.extend_from_slice(b"PK\x06\x07\0\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff\x01\0\0\0");
        z.extend_from_slice(b"PK\x05\x06\0\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\0\0");
        assert_eq!(d(&z), ZIP);
        // Pseudo-random bytes.
        let mut x: u32 = 0x1234_5678;
        let noise: Vec<u8> = (0..70_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let _ = d(&noise);
        let mut ole_noise = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1".to_vec();
        ole_noise.extend_from_slice(&noise);
        assert_eq!(d(&ole_noise).kind, Office);
        let mut zip_noise = b"PK\x03\x04".to_vec();
        zip_noise.extend_from_slice(&noise);
        assert_eq!(d(&zip_noise).kind, Archive);
    }
}
