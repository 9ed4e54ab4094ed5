//! The renderer front-ends: `image`, `pdf`, `office_text` and `zip`.
//!
//! Binary formats have no token alphabet, so the second pass of each target
//! wraps the input in the container's skeleton instead ([`wrap`]): a format
//! signature in front (image), a one-page PDF whose content stream is the
//! input (pdf), a ZIP whose `word/document.xml` / `xl/sharedStrings.xml` /
//! `content.xml` is the input (office_text), a ZIP holding the input as a
//! stored and as a member (zip). libFuzzer then reaches the decoders' inner
//! parts without first guessing valid containers.
//!
//! Oracles (besides no panic, ≤ 1 s, ≤ 256 MB):
//! * image: the PNG has only IHDR/PLTE/IDAT/IEND and nothing after IEND, its
//!   IHDR is the reported size, within the configured maximum; metadata
//!   values carry no control character;
//! * pdf: at most `max_pages` pages, each `rgb.len() == w × h × 3` and within
//!   `max_page_pixels`; `total_pages ≥ pages`; text ≤ `max_text_chars`
//!   characters; active-content list bounded;
//! * office_text: text ≤ `max_text_chars` characters;
//! * zip: members ≤ `max_entries`, each read member ≤ `max_member_bytes`, all
//!   read members together ≤ `max_total_bytes`.

use mugaika_sanitizers::archive::{self, ZipLimits};
use mugaika_sanitizers::image_render::{self, ImageOptions};
use mugaika_sanitizers::office::{self, OfficeLimits};
use mugaika_sanitizers::pdf::{self, PdfOptions};

use crate::show;

fn image_options() -> ImageOptions {
    ImageOptions { max_source_pixels: 4_000_000, max_alloc_bytes: 64 << 20, max_width: 256, max_height: 256 }
}

/// The `image` checks.
pub fn check_image(data: &[u8]) {
    let opts = image_options();
    let Ok(r) = image_render::render_image(data, &opts) else { return };
    let (types, trailing) = image_render::png_chunk_types(&r.png);
    if trailing != 0 || types.iter().any(|t| ![*b"IHDR", *b"PLTE", *b"IDAT", *b"IEND"].contains(t)) {
        panic!("image: PNG chunks {types:?}, {trailing} bytes after IEND\ninput {}", show(data));
    }
    let ihdr = r
        .png
        .get(16..24)
        .map(|b| (u32::from_be_bytes([b[0], b[1], b[2], b[3]]), u32::from_be_bytes([b[4], b[5], b[6], b[7]])));
    if ihdr != Some((r.width, r.height)) || r.width > opts.max_width || r.height > opts.max_height || r.width == 0 {
        panic!("image: IHDR {ihdr:?}, reported {}×{}\ninput {}", r.width, r.height, show(data));
    }
    for (k, v) in &r.metadata {
        if k.chars().chain(v.chars()).any(char::is_control) {
            panic!("image: control character in metadata {k:?} = {v:?}\ninput {}", show(data));
        }
    }
}

fn pdf_options() -> PdfOptions {
    PdfOptions {
        dpi: 36,
        max_pages: 2,
        max_page_pixels: 300_000,
        max_text_chars: 200,
        max_objects: 20_000,
        fallback_font: None,
        ..PdfOptions::default()
    }
}

/// The `pdf` checks.
pub fn check_pdf(data: &[u8]) {
    let opts = pdf_options();
    if let Ok(i) = pdf::inspect_pdf(data, &opts)
        && (i.active.len() > 1000 || i.uris.len() > 1000)
    {
        panic!("pdf: unbounded inspection ({} active, {} uris)\ninput {}", i.active.len(), i.uris.len(), show(data));
    }
    let Ok(r) = pdf::render_pdf(data, &opts) else { return };
    if r.pages.len() > opts.max_pages || r.total_pages < r.pages.len() {
        panic!(
            "pdf: {} pages rendered of {} (max {})\ninput {}",
            r.pages.len(),
            r.total_pages,
            opts.max_pages,
            show(data)
        );
    }
    for p in &r.pages {
        let px = u64::from(p.width) * u64::from(p.height);
        if p.rgb.len() as u64 != px * 3 || px > opts.max_page_pixels || px == 0 {
            panic!("pdf: page {}×{} with {} bytes\ninput {}", p.width, p.height, p.rgb.len(), show(data));
        }
    }
    if r.text.chars().count() > opts.max_text_chars {
        panic!(
            "pdf: {} characters of text (max {})\ninput {}",
            r.text.chars().count(),
            opts.max_text_chars,
            show(data)
        );
    }
}

fn zip_limits() -> ZipLimits {
    ZipLimits { max_entries: 64, max_member_bytes: 1 << 20, max_total_bytes: 4 << 20, max_ratio: 100 }
}

/// The `office_text` checks.
pub fn check_office(data: &[u8]) {
    let limits = OfficeLimits { max_text_chars: 10_000, zip: zip_limits() };
    let _ = office::ole2_has_macros(data);
    let Ok(doc) = office::extract_office_text(data, &limits) else { return };
    if doc.text.chars().count() > limits.max_text_chars + 64 {
        panic!(
            "office_text: {} characters (max {})\ninput {}",
            doc.text.chars().count(),
            limits.max_text_chars,
            show(data)
        );
    }
}

/// The `zip` checks.
pub fn check_zip(data: &[u8]) {
    let limits = zip_limits();
    let _ = archive::is_encrypted_zip(data);
    let Ok(listing) = archive::read_zip(data, &limits) else { return };
    if listing.members.len() > limits.max_entries {
        panic!("zip: {} members (max {})\ninput {}", listing.members.len(), limits.max_entries, show(data));
    }
    let mut total = 0u64;
    for m in &listing.members {
        if let Ok(d) = &m.data {
            if d.len() as u64 > limits.max_member_bytes {
                panic!("zip: member {:?} of {} bytes\ninput {}", m.path, d.len(), show(data));
            }
            total += d.len() as u64;
        }
    }
    if total > limits.max_total_bytes {
        panic!("zip: {total} bytes read in all (max {})\ninput {}", limits.max_total_bytes, show(data));
    }
}

/// Skeletons for the second pass.
pub mod wrap {
    /// A format signature chosen by the first byte, then the rest.
    pub fn image(data: &[u8]) -> Vec<u8> {
        const SIGS: [&[u8]; 7] = [
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
            b"\xff\xd8\xff\xe1",
            b"GIF89a",
            b"RIFF\0\0\0\0WEBPVP8L",
            b"BM",
            b"II*\0",
            b"MM\0*",
        ];
        let Some((&first, rest)) = data.split_first() else { return Vec::new() };
        let mut v = SIGS[usize::from(first) % SIGS.len()].to_vec();
        v.extend_from_slice(rest);
        v
    }

    /// A one-page PDF whose content stream is `data` (xref offsets correct).
    pub fn pdf(data: &[u8]) -> Vec<u8> {
        let mut v = b"%PDF-1.7\n".to_vec();
        let mut offsets = Vec::new();
        let objects: [Vec<u8>; 5] = [
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
                .to_vec(),
            {
                let mut s = format!("<< /Length {} >>\nstream\n", data.len()).into_bytes();
                s.extend_from_slice(data);
                s.extend_from_slice(b"\nendstream");
                s
            },
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
        ];
        for (i, o) in objects.iter().enumerate() {
            offsets.push(v.len());
            v.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            v.extend_from_slice(o);
            v.extend_from_slice(b"\nendobj\n");
        }
        let xref = v.len();
        v.extend_from_slice(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
        for o in offsets {
            v.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        v.extend_from_slice(
            format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes(),
        );
        v
    }

    /// A ZIP of stored members.
    pub fn stored_zip(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut v = Vec::new();
        let mut central = Vec::new();
        for (name, data) in members {
            let offset = v.len() as u32;
            let crc = mugaika_sanitizers::verify::crc32(&[data]);
            let local = |sig: &[u8], v: &mut Vec<u8>, central: bool| {
                v.extend_from_slice(sig);
                if central {
                    v.extend_from_slice(&20u16.to_le_bytes());
                }
                v.extend_from_slice(&20u16.to_le_bytes()); // version needed
                v.extend_from_slice(&0u16.to_le_bytes()); // flags
                v.extend_from_slice(&0u16.to_le_bytes()); // stored
                v.extend_from_slice(&0u32.to_le_bytes()); // time, date
                v.extend_from_slice(&crc.to_le_bytes());
                v.extend_from_slice(&(data.len() as u32).to_le_bytes());
                v.extend_from_slice(&(data.len() as u32).to_le_bytes());
                v.extend_from_slice(&(name.len() as u16).to_le_bytes());
                v.extend_from_slice(&0u16.to_le_bytes()); // extra
                if central {
                    v.extend_from_slice(&[0; 6]); // comment len, disk start, internal attrs
                    v.extend_from_slice(&0u32.to_le_bytes()); // external attrs
                    v.extend_from_slice(&offset.to_le_bytes());
                }
                v.extend_from_slice(name.as_bytes());
            };
            local(b"PK\x03\x04", &mut v, false);
            v.extend_from_slice(data);
            local(b"PK\x01\x02", &mut central, true);
        }
        let cd_offset = v.len() as u32;
        v.extend_from_slice(&central);
        v.extend_from_slice(b"PK\x05\x06\0\0\0\0");
        v.extend_from_slice(&(members.len() as u16).to_le_bytes());
        v.extend_from_slice(&(members.len() as u16).to_le_bytes());
        v.extend_from_slice(&(central.len() as u32).to_le_bytes());
        v.extend_from_slice(&cd_offset.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v
    }

    /// An Office document skeleton chosen by the first byte, with the rest
    /// as its main XML part.
    pub fn office(data: &[u8]) -> Vec<u8> {
        let Some((&first, rest)) = data.split_first() else { return Vec::new() };
        match first % 4 {
            0 => stored_zip(&[
                ("[Content_Types].xml", b"<Types><Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/></Types>"),
                ("word/document.xml", rest),
            ]),
            1 => stored_zip(&[
                ("[Content_Types].xml", b"<Types><Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/></Types>"),
                ("xl/workbook.xml", b"<workbook><sheets><sheet name=\"S\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"),
                ("xl/sharedStrings.xml", rest),
                ("xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row><c t=\"s\"><v>0</v></c></row></sheetData></worksheet>"),
            ]),
            2 => stored_zip(&[
                ("[Content_Types].xml", b"<Types><Override PartName=\"/ppt/presentation.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml\"/></Types>"),
                ("ppt/slides/slide1.xml", rest),
            ]),
            _ => stored_zip(&[("mimetype", b"application/vnd.oasis.opendocument.text"), ("content.xml", rest)]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skeletons_are_valid_containers() {
        let zip = wrap::stored_zip(&[("a.txt", b"hello"), ("b/c.txt", b"world")]);
        let listing = archive::read_zip(&zip, &zip_limits()).expect("skeleton ZIP reads");
        let names: Vec<&str> = listing.members.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(names, ["a.txt", "b/c.txt"]);
        assert_eq!(listing.members[1].data.as_deref().ok(), Some(&b"world"[..]));

        let doc =
            wrap::office(b"\0<w:document><w:body><w:p><w:r><w:t>skeleton text</w:t></w:r></w:p></w:body></w:document>");
        let text = office::extract_office_text(&doc, &OfficeLimits::default()).expect("skeleton docx reads");
        assert!(text.text.contains("skeleton text"), "{:?}", text.text);

        let pdf = wrap::pdf(b"BT /F1 12 Tf 10 10 Td (Hi) Tj ET");
        let r = pdf::render_pdf(&pdf, &pdf_options()).expect("skeleton PDF renders");
        assert_eq!(r.total_pages, 1);

        let png = wrap::image(&[0, 0, 0, 0, 1]);
        assert!(png.starts_with(b"\x89PNG"));
    }
}
