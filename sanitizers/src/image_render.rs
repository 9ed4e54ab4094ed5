//! Raster image re-encoding: untrusted PNG/JPEG/GIF/WebP/BMP/TIFF → one clean PNG.
//!
//! An image attachment from the Internet is never forwarded as received. It is
//! decoded (by the `image` crate, with limits), reduced to 8-bit RGB or RGBA
//! pixels, downscaled to fit [`ImageOptions::max_width`]×[`ImageOptions::max_height`],
//! and written out again by [`encode_png_rgb`] / [`encode_png_rgba`] — the one PNG
//! writer every renderer uses — which emits only `IHDR`, `IDAT` and `IEND`.
//! Nothing of the original file survives except the pixels: no ancillary chunks,
//! no EXIF/XMP/ICC, no comments, no trailing bytes, no further frames.
//!
//! Photo metadata that a recipient may legitimately want to know (date taken,
//! camera, GPS position — the latter is also a privacy warning) is read by a
//! small bounded TIFF/EXIF reader in this module and returned as *text* in
//! [`ImageRendition::metadata`], for the caller to show in the notice. The EXIF
//! orientation tag is applied to the pixels so phone photos appear upright.
//!
//! Design and limits:
//! - The format is detected from magic bytes only ([`sniff_format`]); the file
//!   name and declared type are not consulted.
//! - Decompression bombs: the decoder is constructed first (it only parses
//!   headers), its width×height is checked against
//!   [`ImageOptions::max_source_pixels`] and the output buffer size against
//!   [`ImageOptions::max_alloc_bytes`] before any pixel buffer is allocated.
//!   `image::Limits` (width, height, allocation) are also handed to the
//!   decoder. Peak memory is roughly the decoded buffer plus one 8-bit
//!   RGB(A) copy plus the (small) output.
//! - Time is linear in the *declared* pixel count, which is bounded by
//!   `max_source_pixels` and, above [`PIXEL_FLOOR`] (4 MP), by
//!   [`PIXELS_PER_BYTE`] (2048) per input byte: a 20-byte file cannot ask
//!   for 50 megapixels of decoding (fuzzing found such 0.3 s inputs).
//! - Animations (GIF, APNG, animated WebP) and multi-page TIFF: only the first
//!   frame/page is kept; [`ImageRendition::animated`] says whether more existed.
//!   Frames are counted by a cheap, bounded walk of the container structure.
//! - Downscaling uses `image::imageops::thumbnail` (area averaging, integer,
//!   no large intermediate buffer), keeping the aspect ratio.
//! - The EXIF reader visits at most [`MAX_IFDS`] IFDs (each offset once, so
//!   pointer cycles terminate), at most [`MAX_IFD_ENTRIES`] entries per IFD,
//!   checks every offset against the buffer, and only looks at IFD0
//!   Make/Model/Orientation, the Exif IFD's DateTimeOriginal and the GPS IFD's
//!   latitude/longitude. Text values are decoded lossily as UTF-8, cut at NUL,
//!   stripped of control and bidi-formatting characters and length-capped.
//! - A panic inside a third-party decoder is caught and reported as
//!   [`ImageError::Malformed`] (defence in depth; only effective with
//!   `panic = "unwind"`).

use std::fmt;
use std::io::Cursor;

use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits};

/// Most IFDs the EXIF reader visits in one file (IFD0, Exif, GPS, + slack).
pub const MAX_IFDS: usize = 8;
/// Most entries read from one IFD.
pub const MAX_IFD_ENTRIES: usize = 512;
/// Longest metadata text value kept (in characters).
const MAX_TEXT_CHARS: usize = 128;
/// Most container chunks/blocks walked when looking for EXIF or counting frames.
const MAX_WALK_STEPS: usize = 100_000;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Metadata label: date the photo was taken.
pub const LABEL_DATE_TAKEN: &str = "撮影日時 Date taken";
/// Metadata label: camera make and model.
pub const LABEL_CAMERA: &str = "カメラ Camera";
/// Metadata label: GPS position in decimal degrees.
pub const LABEL_GPS: &str = "位置情報 GPS";

/// Images up to this many pixels are decoded whatever their file size.
pub const PIXEL_FLOOR: u64 = 4_000_000;
/// Above [`PIXEL_FLOOR`], at most this many pixels per byte of input.
pub const PIXELS_PER_BYTE: u64 = 2048;

/// Limits and output size for [`render_image`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOptions {
    /// Refuse (before decoding) when the header's width×height exceeds this.
    pub max_source_pixels: u64,
    /// Allocation limit handed to `image::Limits`; also the cap on the decoded buffer.
    pub max_alloc_bytes: u64,
    /// Downscale (keeping the aspect ratio) when wider than this.
    pub max_width: u32,
    /// Downscale (keeping the aspect ratio) when taller than this.
    pub max_height: u32,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            max_source_pixels: 50_000_000,
            max_alloc_bytes: 256 * 1024 * 1024,
            max_width: 2000,
            max_height: 2000,
        }
    }
}

/// A clean PNG made from an untrusted image, plus what was observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRendition {
    /// The PNG: IHDR, IDAT…, IEND only; 8-bit RGB or RGBA.
    pub png: Vec<u8>,
    /// Width of `png`.
    pub width: u32,
    /// Height of `png`.
    pub height: u32,
    /// Width declared by the source header (before orientation and scaling).
    pub source_width: u32,
    /// Height declared by the source header (before orientation and scaling).
    pub source_height: u32,
    /// Detected source format: "PNG", "JPEG", "GIF", "WebP", "BMP" or "TIFF".
    pub format: &'static str,
    /// The source had more than one frame (or TIFF page); only the first is kept.
    pub animated: bool,
    /// Photo metadata as (label, value) text, e.g. `("カメラ Camera", "Canon EOS R5")`.
    pub metadata: Vec<(String, String)>,
    /// The output has an alpha channel (RGBA); otherwise RGB.
    pub has_alpha: bool,
    /// The image was downscaled to fit `max_width`×`max_height`.
    pub downscaled: bool,
}

/// Why an image could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageError {
    /// Dimensions or memory over the limit (a decompression bomb or simply too big).
    TooLarge(String),
    /// Not a recognised raster format, or a feature the decoder does not support.
    Unsupported(String),
    /// The file is damaged or hostile.
    Malformed(String),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::TooLarge(s) => write!(f, "image too large: {s}"),
            ImageError::Unsupported(s) => write!(f, "unsupported image: {s}"),
            ImageError::Malformed(s) => write!(f, "malformed image: {s}"),
        }
    }
}

impl std::error::Error for ImageError {}

fn map_image_error(e: image::ImageError) -> ImageError {
    use image::ImageError as E;
    match e {
        E::Limits(l) => ImageError::TooLarge(l.to_string()),
        E::Unsupported(u) => ImageError::Unsupported(u.to_string()),
        E::Decoding(d) => ImageError::Malformed(d.to_string()),
        E::Parameter(p) => ImageError::Malformed(p.to_string()),
        E::IoError(io) => ImageError::Malformed(io.to_string()),
        E::Encoding(en) => ImageError::Malformed(en.to_string()),
    }
}

/// The raster formats accepted, detected from magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    Png,
    Jpeg,
    Gif,
    WebP,
    Bmp,
    Tiff,
}

impl SourceFormat {
    /// Display name ("PNG", "JPEG", …).
    pub fn name(self) -> &'static str {
        match self {
            SourceFormat::Png => "PNG",
            SourceFormat::Jpeg => "JPEG",
            SourceFormat::Gif => "GIF",
            SourceFormat::WebP => "WebP",
            SourceFormat::Bmp => "BMP",
            SourceFormat::Tiff => "TIFF",
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            SourceFormat::Png => ImageFormat::Png,
            SourceFormat::Jpeg => ImageFormat::Jpeg,
            SourceFormat::Gif => ImageFormat::Gif,
            SourceFormat::WebP => ImageFormat::WebP,
            SourceFormat::Bmp => ImageFormat::Bmp,
            SourceFormat::Tiff => ImageFormat::Tiff,
        }
    }
}

/// Detect the raster format from the first bytes (never from a name).
pub fn sniff_format(data: &[u8]) -> Option<SourceFormat> {
    if data.starts_with(&PNG_SIGNATURE) {
        Some(SourceFormat::Png)
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(SourceFormat::Jpeg)
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some(SourceFormat::Gif)
    } else if data.starts_with(b"RIFF") && data.get(8..12) == Some(b"WEBP".as_slice()) {
        Some(SourceFormat::WebP)
    } else if data.starts_with(b"II*\0") || data.starts_with(b"MM\0*") {
        Some(SourceFormat::Tiff)
    } else if data.starts_with(b"BM") && data.len() >= 26 {
        Some(SourceFormat::Bmp)
    } else {
        None
    }
}

/// Re-encode an untrusted raster image as a clean PNG and read its photo metadata.
pub fn render_image(data: &[u8], opts: &ImageOptions) -> Result<ImageRendition, ImageError> {
    let fmt = sniff_format(data)
        .ok_or_else(|| ImageError::Unsupported("not a PNG, JPEG, GIF, WebP, BMP or TIFF file".into()))?;
    let exif = find_exif(fmt, data).map(parse_exif).unwrap_or_default();
    let animated = has_more_frames(fmt, data);

    let decoded = std::panic::catch_unwind(|| decode_first_frame(fmt, data, opts))
        .map_err(|_| ImageError::Malformed("the decoder failed unexpectedly".into()))?;
    let (img, source_width, source_height) = decoded?;

    finish(img, fmt, source_width, source_height, animated, exif, opts)
}

/// Header check, limits, then decode (first frame only for animations).
fn decode_first_frame(
    fmt: SourceFormat,
    data: &[u8],
    opts: &ImageOptions,
) -> Result<(DynamicImage, u32, u32), ImageError> {
    let side = u32::try_from(opts.max_source_pixels).unwrap_or(u32::MAX).max(1);
    let mut limits = Limits::default();
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(opts.max_alloc_bytes);

    let mut reader = ImageReader::with_format(Cursor::new(data), fmt.image_format());
    reader.limits(limits.clone());
    // Constructing the decoder parses headers only; no pixel buffer yet.
    let mut decoder = reader.into_decoder().map_err(map_image_error)?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels > opts.max_source_pixels {
        return Err(ImageError::TooLarge(format!(
            "{w}×{h} = {pixels} pixels exceeds the limit of {}",
            opts.max_source_pixels
        )));
    }
    if w == 0 || h == 0 {
        return Err(ImageError::Malformed(format!("empty image {w}×{h}")));
    }
    // A tiny file claiming millions of pixels costs decode time out of all
    // proportion to its size: above a floor, at most PIXELS_PER_BYTE pixels
    // per input byte (a flat-colour PNG screenshot compresses to ~100).
    let ratio_cap = (data.len() as u64).saturating_mul(PIXELS_PER_BYTE).max(PIXEL_FLOOR);
    if pixels > ratio_cap {
        return Err(ImageError::TooLarge(format!(
            "{w}×{h} = {pixels} pixels from {} bytes (more than {PIXELS_PER_BYTE} pixels per byte)",
            data.len()
        )));
    }
    let total = decoder.total_bytes();
    if total > opts.max_alloc_bytes {
        return Err(ImageError::TooLarge(format!(
            "decoded size {total} bytes exceeds the limit of {}",
            opts.max_alloc_bytes
        )));
    }
    // Like ImageReader::decode: the output buffer counts against the allocation limit.
    limits.reserve(total).map_err(map_image_error)?;
    decoder.set_limits(limits).map_err(map_image_error)?;
    let img = DynamicImage::from_decoder(decoder).map_err(map_image_error)?;
    Ok((img, w, h))
}

fn finish(
    img: DynamicImage,
    fmt: SourceFormat,
    source_width: u32,
    source_height: u32,
    animated: bool,
    exif: ExifInfo,
    opts: &ImageOptions,
) -> Result<ImageRendition, ImageError> {
    let has_alpha = img.color().has_alpha();
    let orientation = exif.orientation.and_then(Orientation::from_exif);
    let metadata = exif.into_metadata();

    let mut buf = if has_alpha {
        let rgba = img.to_rgba8();
        drop(img);
        if rgba.pixels().all(|p| p.0[3] == u8::MAX) {
            DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).to_rgb8())
        } else {
            DynamicImage::ImageRgba8(rgba)
        }
    } else {
        let rgb = img.to_rgb8();
        drop(img);
        DynamicImage::ImageRgb8(rgb)
    };
    if let Some(o) = orientation {
        buf.apply_orientation(o);
    }

    let (w, h) = (buf.width(), buf.height());
    let (nw, nh) = fit_within(w, h, opts.max_width.max(1), opts.max_height.max(1));
    let downscaled = (nw, nh) != (w, h);

    let (png, has_alpha) = match buf {
        DynamicImage::ImageRgba8(rgba) => {
            let rgba = if downscaled { image::imageops::thumbnail(&rgba, nw, nh) } else { rgba };
            (encode_png_rgba(nw, nh, rgba.as_raw()), true)
        }
        other => {
            let rgb = other.to_rgb8();
            let rgb = if downscaled { image::imageops::thumbnail(&rgb, nw, nh) } else { rgb };
            (encode_png_rgb(nw, nh, rgb.as_raw()), false)
        }
    };

    Ok(ImageRendition {
        png,
        width: nw,
        height: nh,
        source_width,
        source_height,
        format: fmt.name(),
        animated,
        metadata,
        has_alpha,
        downscaled,
    })
}

/// Largest size ≤ (max_w, max_h) with the aspect ratio of (w, h); each side ≥ 1.
fn fit_within(w: u32, h: u32, max_w: u32, max_h: u32) -> (u32, u32) {
    if w <= max_w && h <= max_h {
        return (w, h);
    }
    let (w64, h64) = (u64::from(w.max(1)), u64::from(h.max(1)));
    // Scale factor = min(max_w / w, max_h / h), compared without floats.
    let (nw, nh) = if u64::from(max_w) * h64 <= u64::from(max_h) * w64 {
        (u64::from(max_w), (h64 * u64::from(max_w) + w64 / 2) / w64)
    } else {
        ((w64 * u64::from(max_h) + h64 / 2) / h64, u64::from(max_h))
    };
    let clamp = |v: u64, m: u32| u32::try_from(v).unwrap_or(m).clamp(1, m);
    (clamp(nw, max_w), clamp(nh, max_h))
}

// ---------------------------------------------------------------------------
// PNG writer and chunk lister
// ---------------------------------------------------------------------------

/// The one PNG writer every renderer uses: IHDR, IDAT, IEND only (no ancillary
/// chunks), 8-bit RGB. `rgb` should hold `width*height*3` bytes; a shorter buffer
/// is padded with black, a longer one truncated. A zero dimension yields 1×1.
pub fn encode_png_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    encode_png(width, height, rgb, 3)
}

/// As [`encode_png_rgb`], for 8-bit RGBA (`width*height*4` bytes; padding is transparent).
pub fn encode_png_rgba(width: u32, height: u32, rgba: &[u8]) -> Vec<u8> {
    encode_png(width, height, rgba, 4)
}

fn encode_png(width: u32, height: u32, pixels: &[u8], channels: usize) -> Vec<u8> {
    let (width, height) = if width == 0 || height == 0 { (1, 1) } else { (width, height) };
    let expected = usize::try_from(width)
        .ok()
        .and_then(|w| w.checked_mul(usize::try_from(height).ok()?))
        .and_then(|n| n.checked_mul(channels));
    let (width, height, expected) = match expected {
        Some(n) => (width, height, n),
        None => (1, 1, channels),
    };
    let owned;
    let data: &[u8] = match pixels.get(..expected) {
        Some(exact) => exact,
        None => {
            let mut v = pixels.to_vec();
            v.resize(expected, 0);
            owned = v;
            &owned
        }
    };
    let color = if channels == 4 { image::ExtendedColorType::Rgba8 } else { image::ExtendedColorType::Rgb8 };
    let mut out = Vec::new();
    let encoder = PngEncoder::new_with_quality(&mut out, CompressionType::Level(1), PngFilter::Adaptive);
    if encoder.write_image(data, width, height, color).is_err() {
        // Cannot happen for a consistent buffer; fall back to a 1×1 image.
        out.clear();
        let enc = PngEncoder::new(&mut out);
        let px = vec![0u8; channels];
        if enc.write_image(&px, 1, 1, color).is_err() {
            out.clear();
        }
    }
    critical_chunks_only(&out)
}

/// Copy a PNG keeping the signature and only its IHDR, IDAT and IEND chunks,
/// dropping anything after IEND.
fn critical_chunks_only(png: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(png.len());
    out.extend_from_slice(&PNG_SIGNATURE);
    for (ty, start, end) in png_chunks(png).0 {
        if matches!(&ty, b"IHDR" | b"IDAT" | b"IEND")
            && let Some(bytes) = png.get(start..end)
        {
            out.extend_from_slice(bytes);
        }
    }
    out
}

/// Walk PNG chunks: (type, start of chunk, end of chunk incl. CRC); stops at
/// IEND or at the first incomplete chunk. Second value: offset where the walk stopped.
fn png_chunks(png: &[u8]) -> (Vec<([u8; 4], usize, usize)>, usize) {
    let mut chunks = Vec::new();
    if !png.starts_with(&PNG_SIGNATURE) {
        return (chunks, 0);
    }
    let mut pos = PNG_SIGNATURE.len();
    while let (Some(len), Some(ty)) = (read_u32_be(png, pos), png.get(pos + 4..pos + 8)) {
        let end = usize::try_from(len).ok().and_then(|l| l.checked_add(12)).and_then(|l| l.checked_add(pos));
        let Some(end) = end.filter(|&e| e <= png.len()) else { break };
        let mut t = [0u8; 4];
        t.copy_from_slice(ty);
        chunks.push((t, pos, end));
        pos = end;
        if &t == b"IEND" {
            break;
        }
    }
    (chunks, pos)
}

/// Chunk types of a PNG in order, for tests and the output verifier. Stops at
/// IEND (included) or at the first truncated chunk; the second value is the
/// number of bytes after the last complete chunk read (after IEND for a
/// well-formed file: should be 0). Without a PNG signature: `(vec![], len)`.
pub fn png_chunk_types(png: &[u8]) -> (Vec<[u8; 4]>, usize) {
    let (chunks, stop) = png_chunks(png);
    (chunks.into_iter().map(|(t, _, _)| t).collect(), png.len().saturating_sub(stop))
}

// ---------------------------------------------------------------------------
// Frame counting (cheap, bounded walks)
// ---------------------------------------------------------------------------

fn has_more_frames(fmt: SourceFormat, data: &[u8]) -> bool {
    match fmt {
        SourceFormat::Gif => gif_frame_count(data, 2) >= 2,
        SourceFormat::Png => png_chunks(data)
            .0
            .iter()
            .find(|(t, _, _)| t == b"acTL")
            .and_then(|&(_, start, _)| read_u32_be(data, start + 8))
            .is_some_and(|n| n > 1),
        SourceFormat::WebP => {
            let mut frames = 0usize;
            for (ty, _) in riff_chunks(data) {
                if &ty == b"ANMF" {
                    frames += 1;
                    if frames >= 2 {
                        return true;
                    }
                }
            }
            false
        }
        SourceFormat::Tiff => {
            // A non-zero "next IFD" offset after IFD0 means a second page.
            let Some(t) = Tiff::new(data) else { return false };
            let Some(ifd0) = t.u32(4) else { return false };
            let Some(n) = t.u16(ifd0 as usize) else { return false };
            let next_at = (ifd0 as usize).saturating_add(2).saturating_add(usize::from(n) * 12);
            t.u32(next_at).is_some_and(|next| next != 0 && (next as usize) < data.len())
        }
        SourceFormat::Jpeg | SourceFormat::Bmp => false,
    }
}

/// Count GIF image descriptors, stopping at `stop_at`. Linear in the input.
fn gif_frame_count(data: &[u8], stop_at: usize) -> usize {
    let Some(&flags) = data.get(10) else { return 0 };
    let mut pos = 13usize;
    if flags & 0x80 != 0 {
        pos += 3 << ((flags & 7) + 1);
    }
    let mut frames = 0;
    for _ in 0..MAX_WALK_STEPS {
        match data.get(pos) {
            Some(0x2C) => {
                frames += 1;
                if frames >= stop_at {
                    return frames;
                }
                let Some(&f) = data.get(pos + 9) else { return frames };
                pos += 10;
                if f & 0x80 != 0 {
                    pos += 3 << ((f & 7) + 1);
                }
                pos += 1; // LZW minimum code size
                match skip_gif_sub_blocks(data, pos) {
                    Some(p) => pos = p,
                    None => return frames,
                }
            }
            Some(0x21) => match skip_gif_sub_blocks(data, pos + 2) {
                Some(p) => pos = p,
                None => return frames,
            },
            _ => return frames,
        }
    }
    frames
}

/// Skip a GIF sub-block sequence starting at `pos`; returns the position after the terminator.
fn skip_gif_sub_blocks(data: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = usize::from(*data.get(pos)?);
        pos += 1;
        if len == 0 {
            return Some(pos);
        }
        pos = pos.checked_add(len)?;
        if pos > data.len() {
            return None;
        }
    }
}

/// Top-level RIFF chunks of a WebP file: (fourcc, payload range), bounded.
fn riff_chunks(data: &[u8]) -> Vec<([u8; 4], std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut pos = 12usize;
    for _ in 0..MAX_WALK_STEPS {
        let (Some(ty), Some(len)) = (data.get(pos..pos + 4), read_u32_le(data, pos + 4)) else { break };
        let start = pos + 8;
        let Some(end) = usize::try_from(len).ok().and_then(|l| start.checked_add(l)) else { break };
        let end_clamped = end.min(data.len());
        let mut t = [0u8; 4];
        t.copy_from_slice(ty);
        out.push((t, start..end_clamped));
        if end >= data.len() {
            break;
        }
        pos = end + (end & 1);
    }
    out
}

// ---------------------------------------------------------------------------
// EXIF: locating it in each container
// ---------------------------------------------------------------------------

/// The TIFF-structured EXIF block of a file, if any.
fn find_exif(fmt: SourceFormat, data: &[u8]) -> Option<&[u8]> {
    match fmt {
        SourceFormat::Tiff => Some(data),
        SourceFormat::Jpeg => jpeg_exif(data),
        SourceFormat::Png => png_chunks(data)
            .0
            .iter()
            .find(|(t, _, _)| t == b"eXIf")
            .and_then(|&(_, start, end)| data.get(start + 8..end.saturating_sub(4))),
        SourceFormat::WebP => riff_chunks(data)
            .into_iter()
            .find(|(t, _)| t == b"EXIF")
            .and_then(|(_, r)| data.get(r))
            .map(|b| b.strip_prefix(b"Exif\0\0").unwrap_or(b)),
        SourceFormat::Gif | SourceFormat::Bmp => None,
    }
}

/// The payload of the first `Exif\0\0` APP1 segment before the scan data.
fn jpeg_exif(data: &[u8]) -> Option<&[u8]> {
    let mut pos = 2usize; // after SOI
    for _ in 0..MAX_WALK_STEPS {
        if *data.get(pos)? != 0xFF {
            return None;
        }
        let mut marker = *data.get(pos + 1)?;
        while marker == 0xFF {
            pos += 1; // fill bytes
            marker = *data.get(pos + 1)?;
        }
        pos += 2;
        match marker {
            0xD8 | 0x01 | 0xD0..=0xD7 => continue,
            0xD9 | 0xDA => return None,
            _ => {}
        }
        let len = usize::from(read_u16_be(data, pos)?);
        if len < 2 {
            return None;
        }
        let seg = data.get(pos + 2..pos + len)?;
        if marker == 0xE1
            && let Some(tiff) = seg.strip_prefix(b"Exif\0\0")
        {
            return Some(tiff);
        }
        pos += len;
    }
    None
}

// ---------------------------------------------------------------------------
// EXIF: a small, bounded TIFF IFD reader
// ---------------------------------------------------------------------------

/// What was read from EXIF.
#[derive(Debug, Clone, Default, PartialEq)]
struct ExifInfo {
    make: Option<String>,
    model: Option<String>,
    date_original: Option<String>,
    date_modified: Option<String>,
    gps: Option<(f64, f64)>,
    orientation: Option<u8>,
}

impl ExifInfo {
    fn into_metadata(self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(d) = self.date_original.or(self.date_modified) {
            out.push((LABEL_DATE_TAKEN.to_string(), d));
        }
        let camera = match (self.make, self.model) {
            (Some(make), Some(model)) if model.to_lowercase().starts_with(&make.to_lowercase()) => Some(model),
            (Some(make), Some(model)) => Some(format!("{make} {model}")),
            (one, other) => one.or(other),
        };
        if let Some(c) = camera {
            out.push((LABEL_CAMERA.to_string(), c));
        }
        if let Some((lat, lon)) = self.gps {
            out.push((LABEL_GPS.to_string(), format!("{lat:.6}, {lon:.6}")));
        }
        out
    }
}

/// Byte-order-aware bounded reads over a TIFF block.
struct Tiff<'a> {
    data: &'a [u8],
    little: bool,
}

impl<'a> Tiff<'a> {
    fn new(data: &'a [u8]) -> Option<Self> {
        let little = match data.get(0..4)? {
            b"II*\0" => true,
            b"MM\0*" => false,
            _ => return None,
        };
        Some(Tiff { data, little })
    }

    fn u16(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.data.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.little { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }
}

/// One IFD entry: tag, type, count and where its value bytes are.
struct Entry {
    tag: u16,
    typ: u16,
    count: u32,
    value_at: usize,
}

impl Entry {
    fn byte_len(&self) -> Option<usize> {
        let unit: usize = match self.typ {
            1 | 2 | 6 | 7 => 1,
            3 | 8 => 2,
            4 | 9 | 11 => 4,
            5 | 10 | 12 => 8,
            _ => return None,
        };
        unit.checked_mul(usize::try_from(self.count).ok()?)
    }

    /// The value bytes (inline when ≤ 4 bytes, else at the offset), bounds-checked.
    fn bytes<'a>(&self, t: &Tiff<'a>) -> Option<&'a [u8]> {
        let len = self.byte_len()?;
        let start = if len <= 4 { self.value_at } else { usize::try_from(t.u32(self.value_at)?).ok()? };
        t.data.get(start..start.checked_add(len)?)
    }

    fn text(&self, t: &Tiff<'_>) -> Option<String> {
        if self.typ != 2 && self.typ != 7 && self.typ != 1 {
            return None;
        }
        clean_text(self.bytes(t)?)
    }

    fn first_uint(&self, t: &Tiff<'_>) -> Option<u32> {
        if self.count == 0 {
            return None;
        }
        match self.typ {
            3 => t.u16(self.value_at).map(u32::from),
            4 => t.u32(self.value_at),
            _ => None,
        }
    }

    /// Three unsigned RATIONALs (degrees, minutes, seconds) → degrees.
    fn dms(&self, t: &Tiff<'_>) -> Option<f64> {
        if self.typ != 5 || self.count < 3 {
            return None;
        }
        let start = usize::try_from(t.u32(self.value_at)?).ok()?;
        let mut parts = [0f64; 3];
        for (i, p) in parts.iter_mut().enumerate() {
            let at = start.checked_add(i * 8)?;
            let (num, den) = (t.u32(at)?, t.u32(at.checked_add(4)?)?);
            if den == 0 {
                return None;
            }
            *p = f64::from(num) / f64::from(den);
        }
        let v = parts[0] + parts[1] / 60.0 + parts[2] / 3600.0;
        v.is_finite().then_some(v)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum IfdKind {
    Zero,
    Exif,
    Gps,
}

/// Read the entries of the IFD at `offset` (at most [`MAX_IFD_ENTRIES`]).
fn read_ifd(t: &Tiff<'_>, offset: usize) -> Vec<Entry> {
    let Some(n) = t.u16(offset) else { return Vec::new() };
    let n = usize::from(n).min(MAX_IFD_ENTRIES);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let at = offset + 2 + i * 12;
        let (Some(tag), Some(typ), Some(count)) = (t.u16(at), t.u16(at + 2), t.u32(at + 4)) else { break };
        if at + 12 > t.data.len() {
            break;
        }
        out.push(Entry { tag, typ, count, value_at: at + 8 });
    }
    out
}

/// Parse the TIFF/EXIF block: IFD0 (Make, Model, Orientation, DateTime), the
/// Exif IFD (DateTimeOriginal) and the GPS IFD. Each IFD offset is visited at
/// most once and at most [`MAX_IFDS`] are visited.
fn parse_exif(tiff: &[u8]) -> ExifInfo {
    let mut info = ExifInfo::default();
    let Some(t) = Tiff::new(tiff) else { return info };
    let Some(ifd0) = t.u32(4) else { return info };
    let mut queue: Vec<(usize, IfdKind)> = vec![(ifd0 as usize, IfdKind::Zero)];
    let mut visited: Vec<usize> = Vec::new();
    let mut next = 0usize;
    while let Some(&(offset, kind)) = queue.get(next) {
        next += 1;
        if visited.len() >= MAX_IFDS || visited.contains(&offset) {
            continue;
        }
        visited.push(offset);
        let entries = read_ifd(&t, offset);
        let mut lat: (Option<f64>, bool) = (None, false);
        let mut lon: (Option<f64>, bool) = (None, false);
        for e in &entries {
            match (kind, e.tag) {
                (IfdKind::Zero, 0x010F) => info.make = info.make.take().or_else(|| e.text(&t)),
                (IfdKind::Zero, 0x0110) => info.model = info.model.take().or_else(|| e.text(&t)),
                (IfdKind::Zero, 0x0132) => info.date_modified = info.date_modified.take().or_else(|| e.text(&t)),
                (IfdKind::Zero, 0x0112) => {
                    info.orientation = e.first_uint(&t).and_then(|v| u8::try_from(v).ok());
                }
                (IfdKind::Zero, 0x8769) => {
                    if let Some(o) = e.first_uint(&t) {
                        queue.push((o as usize, IfdKind::Exif));
                    }
                }
                (IfdKind::Zero, 0x8825) => {
                    if let Some(o) = e.first_uint(&t) {
                        queue.push((o as usize, IfdKind::Gps));
                    }
                }
                (IfdKind::Exif, 0x9003) => {
                    info.date_original = info.date_original.take().or_else(|| e.text(&t));
                }
                (IfdKind::Gps, 1) => lat.1 = e.text(&t).is_some_and(|s| s.starts_with('S')),
                (IfdKind::Gps, 2) => lat.0 = e.dms(&t),
                (IfdKind::Gps, 3) => lon.1 = e.text(&t).is_some_and(|s| s.starts_with('W')),
                (IfdKind::Gps, 4) => lon.0 = e.dms(&t),
                _ => {}
            }
        }
        if kind == IfdKind::Gps
            && info.gps.is_none()
            && let (Some(la), Some(lo)) = (lat.0, lon.0)
            && la <= 90.0
            && lo <= 180.0
        {
            let la = if lat.1 { -la } else { la };
            let lo = if lon.1 { -lo } else { lo };
            info.gps = Some((la, lo));
        }
    }
    info
}

/// EXIF text → display text: cut at NUL, lossy UTF-8, no control or bidi
/// formatting characters, whitespace collapsed, at most [`MAX_TEXT_CHARS`].
fn clean_text(bytes: &[u8]) -> Option<String> {
    let bytes = bytes.split(|&b| b == 0).next().unwrap_or(&[]);
    let s = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    let mut count = 0usize;
    let mut pending_space = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            pending_space = !out.is_empty();
            continue;
        }
        if is_invisible_format(c) {
            continue;
        }
        if count >= MAX_TEXT_CHARS {
            break;
        }
        if pending_space {
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        out.push(c);
        count += 1;
    }
    (!out.is_empty()).then_some(out)
}

/// Bidi controls, zero-width and other invisible formatting characters.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

fn read_u16_be(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn read_u32_be(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn read_u32_le(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tiny_file_may_not_claim_many_megapixels() {
        // A 3000×3000 PNG header (9 MP, over the 4 MP floor) in well under
        // 9 MP / 2048 = 4395 bytes.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend_from_slice(&3000u32.to_be_bytes());
        ihdr.extend_from_slice(&3000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crate::verify::crc32(&[&ihdr]).to_be_bytes());
        let idat = b"IDAT\x78\x9c";
        png.extend_from_slice(&2u32.to_be_bytes());
        png.extend_from_slice(idat);
        png.extend_from_slice(&crate::verify::crc32(&[idat]).to_be_bytes());
        png.extend_from_slice(b"\0\0\0\0IEND\xaeB`\x82");
        match render_image(&png, &ImageOptions::default()) {
            Err(ImageError::TooLarge(why)) => assert!(why.contains("per byte"), "{why}"),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }

    use image::codecs::bmp::BmpEncoder;
    use image::codecs::gif::GifEncoder;
    use image::codecs::jpeg::JpegEncoder;
    use image::codecs::tiff::TiffEncoder;
    use image::codecs::webp::WebPEncoder;
    use image::{ExtendedColorType, Frame, RgbImage, Rgba, RgbaImage};

    fn png_chunk(ty: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut v = (data.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(ty);
        v.extend_from_slice(data);
        let mut c = ty.to_vec();
        c.extend_from_slice(data);
        v.extend_from_slice(&crate::verify::crc32(&[&c]).to_be_bytes());
        v
    }

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 13) as u8, ((x + y) * 3) as u8]))
    }

    fn png_of(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        PngEncoder::new_with_quality(&mut out, CompressionType::Fast, PngFilter::Adaptive)
            .write_image(img.as_raw(), img.width(), img.height(), ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn jpeg_of(img: &RgbImage) -> Vec<u8> {
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 95).encode_image(img).unwrap();
        out
    }

    fn types(png: &[u8]) -> Vec<String> {
        let (t, trailing) = png_chunk_types(png);
        assert_eq!(trailing, 0, "bytes after IEND");
        t.iter().map(|t| String::from_utf8_lossy(t).into_owned()).collect()
    }

    fn assert_clean(png: &[u8]) {
        let t = types(png);
        assert_eq!(t.first().map(String::as_str), Some("IHDR"));
        assert_eq!(t.last().map(String::as_str), Some("IEND"));
        assert!(t.iter().all(|c| c == "IHDR" || c == "IDAT" || c == "IEND"), "{t:?}");
        // 8-bit, colour type 2 (RGB) or 6 (RGBA).
        assert_eq!(png.get(24), Some(&8));
        assert!(matches!(png.get(25), Some(2 | 6)));
    }

    // --- hand-built TIFF/EXIF -------------------------------------------------

    enum V {
        Ascii(&'static str),
        Short(u16),
        Long(u32),
        Rationals(Vec<(u32, u32)>),
        Ptr(usize), // offset of IFD number n
    }

    /// Lay out IFDs (in order) then their out-of-line values. Big- or little-endian.
    fn build_tiff(little: bool, ifds: &[Vec<(u16, V)>]) -> Vec<u8> {
        let w16 = |v: u16| if little { v.to_le_bytes() } else { v.to_be_bytes() };
        let w32 = |v: u32| if little { v.to_le_bytes() } else { v.to_be_bytes() };
        let mut offsets = Vec::new();
        let mut pos = 8usize;
        for ifd in ifds {
            offsets.push(pos);
            pos += 2 + 12 * ifd.len() + 4;
        }
        let mut data_area: Vec<u8> = Vec::new();
        let data_start = pos;
        let mut out = if little { b"II*\0".to_vec() } else { b"MM\0*".to_vec() };
        out.extend_from_slice(&w32(8));
        for ifd in ifds {
            out.extend_from_slice(&w16(ifd.len() as u16));
            for (tag, v) in ifd {
                out.extend_from_slice(&w16(*tag));
                let (typ, count, bytes): (u16, u32, Vec<u8>) = match v {
                    V::Ascii(s) => {
                        let mut b = s.as_bytes().to_vec();
                        b.push(0);
                        (2, b.len() as u32, b)
                    }
                    V::Short(s) => (3, 1, w16(*s).to_vec()),
                    V::Long(l) => (4, 1, w32(*l).to_vec()),
                    V::Ptr(n) => (4, 1, w32(offsets[*n] as u32).to_vec()),
                    V::Rationals(r) => {
                        let mut b = Vec::new();
                        for (n, d) in r {
                            b.extend_from_slice(&w32(*n));
                            b.extend_from_slice(&w32(*d));
                        }
                        (5, r.len() as u32, b)
                    }
                };
                out.extend_from_slice(&w16(typ));
                out.extend_from_slice(&w32(count));
                if bytes.len() <= 4 {
                    let mut b = bytes.clone();
                    b.resize(4, 0);
                    out.extend_from_slice(&b);
                } else {
                    out.extend_from_slice(&w32((data_start + data_area.len()) as u32));
                    data_area.extend_from_slice(&bytes);
                }
            }
            out.extend_from_slice(&w32(0));
        }
        assert_eq!(out.len(), data_start);
        out.extend_from_slice(&data_area);
        out
    }

    fn photo_exif(little: bool, orientation: u16) -> Vec<u8> {
        build_tiff(
            little,
            &[
                vec![
                    (0x010F, V::Ascii("Canon")),
                    (0x0110, V::Ascii("Canon EOS R5")),
                    (0x0112, V::Short(orientation)),
                    (0x8769, V::Ptr(1)),
                    (0x8825, V::Ptr(2)),
                ],
                vec![(0x9003, V::Ascii("2024:05:01 10:00:00"))],
                vec![
                    (1, V::Ascii("N")),
                    (2, V::Rationals(vec![(35, 1), (40, 1), (5232, 100)])),
                    (3, V::Ascii("E")),
                    (4, V::Rationals(vec![(139, 1), (46, 1), (156, 100)])),
                ],
            ],
        )
    }

    fn splice_app1(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
        out.extend_from_slice(b"Exif\0\0");
        out.extend_from_slice(tiff);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    fn meta<'a>(r: &'a ImageRendition, label: &str) -> Option<&'a str> {
        r.metadata.iter().find(|(l, _)| l == label).map(|(_, v)| v.as_str())
    }

    // --- tests ------------------------------------------------------------------

    #[test]
    fn png_ancillary_chunks_and_trailing_junk_are_dropped_pixels_kept() {
        let img = gradient(9, 7);
        let src = png_of(&img);
        let (chunks, _) = png_chunks(&src);
        let ihdr_end = chunks[0].2;
        let mut dirty = src[..ihdr_end].to_vec();
        dirty.extend_from_slice(&png_chunk(b"tEXt", b"Comment\0<script>alert(1)</script>"));
        dirty.extend_from_slice(&src[ihdr_end..]);
        dirty.extend_from_slice(b"PK\x03\x04 hidden zip after IEND");
        let (t, trailing) = png_chunk_types(&dirty);
        assert!(t.contains(b"tEXt") && trailing > 0, "test input is not dirty");

        let r = render_image(&dirty, &ImageOptions::default()).unwrap();
        assert_eq!(r.format, "PNG");
        assert_eq!((r.width, r.height, r.source_width, r.source_height), (9, 7, 9, 7));
        assert!(!r.animated && !r.downscaled && !r.has_alpha);
        assert_clean(&r.png);
        assert!(!r.png.windows(8).any(|w| w == b"<script>"));
        let back = image::load_from_memory(&r.png).unwrap().to_rgb8();
        assert_eq!(back.as_raw(), img.as_raw());
    }

    #[test]
    fn jpeg_exif_becomes_text_and_is_not_kept() {
        let img = RgbImage::from_pixel(16, 8, image::Rgb([200, 30, 30]));
        let jpeg = splice_app1(&jpeg_of(&img), &photo_exif(false, 1));
        let r = render_image(&jpeg, &ImageOptions::default()).unwrap();
        assert_eq!(r.format, "JPEG");
        assert_eq!(meta(&r, LABEL_DATE_TAKEN), Some("2024:05:01 10:00:00"));
        assert_eq!(meta(&r, LABEL_CAMERA), Some("Canon EOS R5"));
        assert_eq!(meta(&r, LABEL_GPS), Some("35.681200, 139.767100"));
        assert_clean(&r.png);
        assert!(!r.png.windows(4).any(|w| w == b"Exif" || w == b"eXIf" || w == b"tEXt"));
        assert!(!r.png.windows(5).any(|w| w == b"Canon"));
        assert_eq!((r.width, r.height), (16, 8));
    }

    #[test]
    fn little_endian_exif_south_west_and_orientation_applied() {
        let tiff = build_tiff(
            true,
            &[
                vec![(0x0110, V::Ascii("Pixel\u{202E}8\n")), (0x0112, V::Short(6)), (0x8825, V::Ptr(1))],
                vec![
                    (1, V::Ascii("S")),
                    (2, V::Rationals(vec![(33, 1), (52, 1), (0, 1)])),
                    (3, V::Ascii("W")),
                    (4, V::Rationals(vec![(70, 1), (30, 1), (0, 1)])),
                ],
            ],
        );
        let img = RgbImage::from_pixel(16, 8, image::Rgb([10, 200, 10]));
        let jpeg = splice_app1(&jpeg_of(&img), &tiff);
        let r = render_image(&jpeg, &ImageOptions::default()).unwrap();
        assert_eq!(meta(&r, LABEL_CAMERA), Some("Pixel8"));
        assert_eq!(meta(&r, LABEL_GPS), Some("-33.866667, -70.500000"));
        assert_eq!(meta(&r, LABEL_DATE_TAKEN), None);
        // Orientation 6 (rotate 90° clockwise): 16×8 becomes 8×16.
        assert_eq!((r.width, r.height), (8, 16));
        assert_eq!((r.source_width, r.source_height), (16, 8));
    }

    #[test]
    fn hostile_exif_with_looping_ifds_terminates() {
        // IFD0 points to itself as Exif and GPS IFD, and the GPS IFD (=IFD0) entries are junk.
        let looping = build_tiff(true, &[vec![(0x8769, V::Ptr(0)), (0x8825, V::Ptr(0)), (0x010F, V::Ascii("Loop"))]]);
        let info = parse_exif(&looping);
        assert_eq!(info.make.as_deref(), Some("Loop"));
        // Exif IFD pointing back to IFD0, GPS pointing into the Exif IFD.
        let cyc = build_tiff(false, &[vec![(0x8769, V::Ptr(1)), (0x8825, V::Ptr(1))], vec![(0x8769, V::Ptr(0))]]);
        assert_eq!(parse_exif(&cyc), ExifInfo::default());
        // Absurd entry counts and offsets.
        let mut huge = b"MM\0*\0\0\0\x08\xFF\xFF".to_vec();
        huge.extend_from_slice(&[0x01, 0x0F, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0]);
        huge.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(parse_exif(&huge), ExifInfo::default());
        assert_eq!(parse_exif(b"MM\0*\xFF\xFF\xFF\xFF"), ExifInfo::default());
        assert_eq!(parse_exif(b"II*\0"), ExifInfo::default());
        // Through the whole pipeline.
        let jpeg = splice_app1(&jpeg_of(&gradient(8, 8)), &looping);
        let r = render_image(&jpeg, &ImageOptions::default()).unwrap();
        assert_eq!(meta(&r, LABEL_CAMERA), Some("Loop"));
        assert_eq!(meta(&r, LABEL_GPS), None);
    }

    #[test]
    fn png_header_claiming_huge_dimensions_is_refused_quickly() {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
        let mut bomb = PNG_SIGNATURE.to_vec();
        bomb.extend_from_slice(&png_chunk(b"IHDR", &ihdr));
        bomb.extend_from_slice(&png_chunk(b"IDAT", b"\x78\x9c not really deflate"));
        bomb.extend_from_slice(&png_chunk(b"IEND", b""));
        let t0 = std::time::Instant::now();
        let e = render_image(&bomb, &ImageOptions::default()).unwrap_err();
        assert!(matches!(e, ImageError::TooLarge(_)), "{e}");
        assert!(t0.elapsed() < std::time::Duration::from_secs(2));
        // A small real image over a small pixel limit is refused the same way.
        let opts = ImageOptions { max_source_pixels: 50, ..ImageOptions::default() };
        let e = render_image(&png_of(&gradient(10, 10)), &opts).unwrap_err();
        assert!(matches!(e, ImageError::TooLarge(_)), "{e}");
        // And over the allocation limit.
        let opts = ImageOptions { max_alloc_bytes: 100, ..ImageOptions::default() };
        let e = render_image(&png_of(&gradient(10, 10)), &opts).unwrap_err();
        assert!(matches!(e, ImageError::TooLarge(_)), "{e}");
    }

    #[test]
    fn animated_gif_keeps_first_frame() {
        let mut gif = Vec::new();
        {
            let mut enc = GifEncoder::new(&mut gif);
            for c in [[255, 0, 0, 255], [0, 255, 0, 255], [0, 0, 255, 255]] {
                enc.encode_frame(Frame::new(RgbaImage::from_pixel(6, 5, Rgba(c)))).unwrap();
            }
        }
        assert_eq!(gif_frame_count(&gif, usize::MAX), 3);
        let r = render_image(&gif, &ImageOptions::default()).unwrap();
        assert_eq!(r.format, "GIF");
        assert!(r.animated);
        assert_eq!((r.width, r.height), (6, 5));
        assert_clean(&r.png);
        let back = image::load_from_memory(&r.png).unwrap().to_rgba8();
        assert!(back.pixels().all(|p| p.0 == [255, 0, 0, 255]), "{:?}", back.get_pixel(0, 0));

        let mut still = Vec::new();
        GifEncoder::new(&mut still)
            .encode_frame(Frame::new(RgbaImage::from_pixel(3, 3, Rgba([0, 0, 255, 255]))))
            .unwrap();
        let r = render_image(&still, &ImageOptions::default()).unwrap();
        assert!(!r.animated);
    }

    #[test]
    fn large_image_is_downscaled_keeping_aspect() {
        let img =
            RgbImage::from_fn(
                4000,
                1000,
                |x, _| if x < 2000 { image::Rgb([255, 0, 0]) } else { image::Rgb([0, 0, 255]) },
            );
        let mut bmp = Vec::new();
        BmpEncoder::new(&mut bmp).encode(img.as_raw(), 4000, 1000, ExtendedColorType::Rgb8).unwrap();
        let r = render_image(&bmp, &ImageOptions::default()).unwrap();
        assert_eq!(r.format, "BMP");
        assert_eq!((r.width, r.height), (2000, 500));
        assert_eq!((r.source_width, r.source_height), (4000, 1000));
        assert!(r.downscaled);
        assert_clean(&r.png);
        let back = image::load_from_memory(&r.png).unwrap().to_rgb8();
        assert_eq!(back.get_pixel(10, 10).0, [255, 0, 0]);
        assert_eq!(back.get_pixel(1990, 490).0, [0, 0, 255]);
        assert_eq!(fit_within(1000, 4000, 2000, 2000), (500, 2000));
        assert_eq!(fit_within(3, 100_000, 2000, 2000), (1, 2000));
        assert_eq!(fit_within(2000, 2000, 2000, 2000), (2000, 2000));
    }

    #[test]
    fn bmp_tiff_webp_decode() {
        let img = gradient(12, 10);
        let mut bmp = Vec::new();
        BmpEncoder::new(&mut bmp).encode(img.as_raw(), 12, 10, ExtendedColorType::Rgb8).unwrap();
        let mut tiff = Cursor::new(Vec::new());
        TiffEncoder::new(&mut tiff).write_image(img.as_raw(), 12, 10, ExtendedColorType::Rgb8).unwrap();
        let mut webp = Vec::new();
        WebPEncoder::new_lossless(&mut webp).encode(img.as_raw(), 12, 10, ExtendedColorType::Rgb8).unwrap();
        for (data, name) in [(bmp, "BMP"), (tiff.into_inner(), "TIFF"), (webp, "WebP")] {
            let r = render_image(&data, &ImageOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(r.format, name);
            assert!(!r.animated);
            assert_clean(&r.png);
            let back = image::load_from_memory(&r.png).unwrap().to_rgb8();
            assert_eq!(back.as_raw(), img.as_raw(), "{name}");
        }
    }

    #[test]
    fn rgba_with_transparency_stays_rgba_opaque_alpha_is_dropped() {
        let img = RgbaImage::from_fn(4, 4, |x, _| Rgba([1, 2, 3, if x == 0 { 0 } else { 255 }]));
        let mut png = Vec::new();
        PngEncoder::new(&mut png).write_image(img.as_raw(), 4, 4, ExtendedColorType::Rgba8).unwrap();
        let r = render_image(&png, &ImageOptions::default()).unwrap();
        assert!(r.has_alpha);
        assert_eq!(r.png.get(25), Some(&6));
        assert_eq!(image::load_from_memory(&r.png).unwrap().to_rgba8().as_raw(), img.as_raw());

        let opaque = RgbaImage::from_pixel(4, 4, Rgba([9, 8, 7, 255]));
        let mut png = Vec::new();
        PngEncoder::new(&mut png).write_image(opaque.as_raw(), 4, 4, ExtendedColorType::Rgba8).unwrap();
        let r = render_image(&png, &ImageOptions::default()).unwrap();
        assert!(!r.has_alpha);
        assert_eq!(r.png.get(25), Some(&2));
    }

    #[test]
    fn png_exif_and_webp_exif_are_read() {
        let exif = photo_exif(true, 1);
        let src = png_of(&gradient(4, 4));
        let (chunks, _) = png_chunks(&src);
        let ihdr_end = chunks[0].2;
        let mut png = src[..ihdr_end].to_vec();
        png.extend_from_slice(&png_chunk(b"eXIf", &exif));
        png.extend_from_slice(&src[ihdr_end..]);
        let r = render_image(&png, &ImageOptions::default()).unwrap();
        assert_eq!(meta(&r, LABEL_CAMERA), Some("Canon EOS R5"));
        assert_clean(&r.png);

        // A TIFF is its own EXIF block: IFD0 Make/Model read from the image file itself.
        let mut tiff = Cursor::new(Vec::new());
        TiffEncoder::new(&mut tiff).write_image(gradient(4, 4).as_raw(), 4, 4, ExtendedColorType::Rgb8).unwrap();
        let info = parse_exif(&tiff.into_inner());
        assert_eq!(info.make, None);

        // WebP: add an EXIF chunk to a simple lossless file (without VP8X; found anyway).
        let mut webp = Vec::new();
        WebPEncoder::new_lossless(&mut webp).encode(gradient(4, 4).as_raw(), 4, 4, ExtendedColorType::Rgb8).unwrap();
        let mut ex = b"EXIF".to_vec();
        ex.extend_from_slice(&(exif.len() as u32).to_le_bytes());
        ex.extend_from_slice(&exif);
        if exif.len() % 2 == 1 {
            ex.push(0);
        }
        let mut with = webp.clone();
        with.extend_from_slice(&ex);
        let riff_len = (with.len() - 8) as u32;
        with[4..8].copy_from_slice(&riff_len.to_le_bytes());
        assert_eq!(find_exif(SourceFormat::WebP, &with), Some(exif.as_slice()));
        assert_eq!(parse_exif(find_exif(SourceFormat::WebP, &with).unwrap()).model.as_deref(), Some("Canon EOS R5"));
    }

    #[test]
    fn garbage_and_truncated_inputs_are_errors_not_panics() {
        let opts = ImageOptions::default();
        for junk in [
            &b""[..],
            b"hello world",
            b"\x89PNG\r\n\x1a\n",
            b"\xFF\xD8\xFF",
            b"GIF89a",
            b"RIFF\0\0\0\0WEBP",
            b"II*\0",
            b"MM\0*\0\0\0\x08",
            b"BM",
        ] {
            assert!(render_image(junk, &opts).is_err(), "{junk:?}");
        }
        let noise: Vec<u8> = (0u32..4096).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert!(matches!(render_image(&noise, &opts), Err(ImageError::Unsupported(_))));

        let img = gradient(20, 20);
        let mut bmp = Vec::new();
        BmpEncoder::new(&mut bmp).encode(img.as_raw(), 20, 20, ExtendedColorType::Rgb8).unwrap();
        let mut tiff = Cursor::new(Vec::new());
        TiffEncoder::new(&mut tiff).write_image(img.as_raw(), 20, 20, ExtendedColorType::Rgb8).unwrap();
        let mut webp = Vec::new();
        WebPEncoder::new_lossless(&mut webp).encode(img.as_raw(), 20, 20, ExtendedColorType::Rgb8).unwrap();
        let mut gif = Vec::new();
        GifEncoder::new(&mut gif)
            .encode_frame(Frame::new(RgbaImage::from_pixel(20, 20, Rgba([5, 5, 5, 255]))))
            .unwrap();
        let jpeg = splice_app1(&jpeg_of(&img), &photo_exif(false, 1));
        for (name, full) in [
            ("png", png_of(&img)),
            ("jpeg", jpeg),
            ("gif", gif),
            ("webp", webp),
            ("bmp", bmp),
            ("tiff", tiff.into_inner()),
        ] {
            for cut in [1, 8, 16, 30, full.len() / 2, full.len() - 1] {
                let part = &full[..cut.min(full.len())];
                match render_image(part, &opts) {
                    Err(_) => {}
                    // Some decoders accept a truncated tail (missing IEND, last scan
                    // lines); the result must still be a clean PNG.
                    Ok(r) => {
                        assert!(cut >= full.len() / 2, "{name} cut at {cut} accepted");
                        assert_clean(&r.png);
                    }
                }
            }
            // Corrupt bytes in the middle.
            let mut bad = full.clone();
            for i in (20..bad.len()).step_by(7) {
                bad[i] ^= 0x5A;
            }
            if let Ok(r) = render_image(&bad, &opts) {
                assert_clean(&r.png);
            }
        }
    }

    #[test]
    fn chunk_lister_and_writer_are_bounded() {
        let png = encode_png_rgb(2, 2, &[255; 12]);
        assert_eq!(types(&png), ["IHDR", "IDAT", "IEND"]);
        // Wrong buffer sizes and zero dimensions still give a valid image.
        let short = encode_png_rgba(3, 3, &[1, 2, 3]);
        assert_eq!(image::load_from_memory(&short).unwrap().to_rgba8().dimensions(), (3, 3));
        let zero = encode_png_rgb(0, 5, &[]);
        assert_eq!(image::load_from_memory(&zero).unwrap().to_rgb8().dimensions(), (1, 1));
        // Lister: no signature, truncated chunk, huge length, trailing bytes.
        assert_eq!(png_chunk_types(b"nope"), (vec![], 4));
        let mut trunc = png.clone();
        trunc.truncate(png.len() - 3);
        let (t, rest) = png_chunk_types(&trunc);
        assert_eq!(t.len(), 2);
        assert_eq!(rest, 9);
        let mut huge = PNG_SIGNATURE.to_vec();
        huge.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF, b'I', b'D', b'A', b'T', 0, 0]);
        assert_eq!(png_chunk_types(&huge), (vec![], 10));
        let mut tail = png.clone();
        tail.extend_from_slice(b"xyz");
        assert_eq!(png_chunk_types(&tail).1, 3);
    }

    #[test]
    fn text_cleaning() {
        assert_eq!(clean_text(b"  Canon\x1b[31m\r\n EOS\0junk").as_deref(), Some("Canon [31m EOS"));
        assert_eq!(clean_text("a\u{202E}b\u{200B}c".as_bytes()).as_deref(), Some("abc"));
        assert_eq!(clean_text(b"\0Canon"), None);
        assert_eq!(clean_text(&[b'x'; 1000]).map(|s| s.chars().count()), Some(MAX_TEXT_CHARS));
        assert_eq!(clean_text(b"\xE3\x81\x82\xFF").as_deref(), Some("あ\u{FFFD}"));
    }

    #[test]
    fn sniffing_uses_magic_not_names() {
        assert_eq!(sniff_format(&png_of(&gradient(1, 1))), Some(SourceFormat::Png));
        assert_eq!(sniff_format(b"<svg xmlns=..."), None);
        assert_eq!(sniff_format(b"RIFF\0\0\0\0WAVEfmt "), None);
    }

    #[test]
    fn apng_and_multipage_tiff_are_flagged() {
        let src = png_of(&gradient(4, 4));
        let (chunks, _) = png_chunks(&src);
        let ihdr_end = chunks[0].2;
        let mut apng = src[..ihdr_end].to_vec();
        let mut actl = 3u32.to_be_bytes().to_vec();
        actl.extend_from_slice(&0u32.to_be_bytes());
        apng.extend_from_slice(&png_chunk(b"acTL", &actl));
        apng.extend_from_slice(&src[ihdr_end..]);
        assert!(has_more_frames(SourceFormat::Png, &apng));
        assert!(!has_more_frames(SourceFormat::Png, &src));

        let mut tiff = build_tiff(true, &[vec![(0x0100, V::Long(1))], vec![(0x0100, V::Long(1))]]);
        assert!(!has_more_frames(SourceFormat::Tiff, &tiff));
        tiff[22..26].copy_from_slice(&26u32.to_le_bytes()); // IFD0's next-IFD pointer → IFD1
        assert!(has_more_frames(SourceFormat::Tiff, &tiff));
        tiff[22..26].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(!has_more_frames(SourceFormat::Tiff, &tiff));
    }

    #[test]
    fn hostile_jpeg_segments_and_gif_blocks_terminate() {
        assert_eq!(jpeg_exif(b"\xFF\xD8\xFF\xE1\x00\x00Exif\0\0MM"), None);
        assert_eq!(jpeg_exif(b"\xFF\xD8\xFF\xE1\xFF\xFFExif\0\0MM"), None);
        let mut fill = b"\xFF\xD8".to_vec();
        fill.extend(std::iter::repeat_n(0xFF, 10_000));
        assert_eq!(jpeg_exif(&fill), None);
        let mut ok = b"\xFF\xD8\xFF\xFF\xFF\xE1\x00\x0AExif\0\0MM".to_vec();
        ok.extend_from_slice(b"\xFF\xD9");
        assert_eq!(jpeg_exif(&ok), Some(&b"MM"[..]));
        // GIF: descriptors with sub-blocks running past the end.
        let mut gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
        gif.extend_from_slice(&[0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 0xFF, 1]);
        assert_eq!(gif_frame_count(&gif, usize::MAX), 1);
        assert!(render_image(&gif, &ImageOptions::default()).is_err());
    }
}
