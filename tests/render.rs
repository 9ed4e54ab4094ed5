//! Attachment rendering end to end: mails with attachments through the real
//! `mugaika sanitize` process, whose renderers run in `render-worker` child
//! processes (the default isolation). Assertions are on the delivered
//! message: its leaves, the PNG renditions (chunks, dimensions, dark pixels),
//! the `.txt` renditions, the notice and the report.
//!
//! Fixtures: `sanitizers/tests/fixtures/{pdf,office}/` (made by the scripts
//! there); images are generated here.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use mail_parser::MimeHeaders;
use mugaika_sanitizers::image_render::png_chunk_types;
use mugaika_sanitizers::rebuild::encode_base64_lines;
use mugaika_sanitizers::verify::{VerifyConfig, crc32, verify_output};

fn fixture(rel: &str) -> Vec<u8> {
    let p = common::root().join("sanitizers/tests/fixtures").join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn b64(data: &[u8]) -> String {
    let mut out = Vec::new();
    encode_base64_lines(&mut out, data);
    String::from_utf8(out).expect("base64 is ASCII")
}

/// A mail with a short Japanese text body and the given attachments
/// (filename, declared type, bytes). Names are sent as RFC 2231 UTF-8.
fn mail(attachments: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut m = String::from(
        "From: sender@example.com\r\nTo: staff@city.example.lg.jp\r\nSubject: attachments\r\n\
         Date: Fri, 27 Nov 2026 10:00:00 +0900\r\nMessage-ID: <render-test@example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"BOUNDARY\"\r\n\r\n--BOUNDARY\r\n\
         Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n添付をご確認ください。\r\n",
    );
    for (name, ty, data) in attachments {
        let encoded: String = name
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b == b'.' { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect();
        m.push_str(&format!(
            "--BOUNDARY\r\nContent-Type: {ty}\r\nContent-Disposition: attachment; filename*=UTF-8''{encoded}\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            b64(data)
        ));
    }
    m.push_str("--BOUNDARY--\r\n");
    m.into_bytes()
}

struct Run {
    code: Option<i32>,
    output: Vec<u8>,
    report: serde_json::Value,
    stderr: String,
}

impl Run {
    fn codes(&self) -> Vec<String> {
        self.report["findings"]
            .as_array()
            .map(|f| f.iter().filter_map(|x| x["code"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    fn delivered(&self) -> &Self {
        assert_eq!(self.code, Some(0), "not delivered: reasons {} stderr {}", self.report["reasons"], self.stderr);
        let problems = verify_output(&self.output, &VerifyConfig::default());
        assert!(problems.is_empty(), "output fails verify_output: {problems:?}");
        self
    }

    fn quarantined(&self, reason: &str) {
        assert_eq!(self.code, Some(3), "not quarantined; codes {:?}", self.codes());
        assert!(self.output.is_empty());
        let reasons = self.report["reasons"].to_string();
        assert!(reasons.contains(reason), "reasons {reasons}, expected {reason}");
    }

    /// Leaves of the output as (content type line, filename, decoded body).
    fn leaves(&self) -> Vec<(String, Option<String>, Vec<u8>)> {
        let msg = mail_parser::MessageParser::new().parse(&self.output).expect("output parses");
        msg.parts
            .iter()
            .filter(|p| !matches!(p.body, mail_parser::PartType::Multipart(_)))
            .map(|p| {
                let ct = p
                    .content_type()
                    .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
                    .unwrap_or_default();
                let name = p.attachment_name().map(str::to_string);
                (ct, name, p.contents().to_vec())
            })
            .collect()
    }

    fn pngs(&self) -> Vec<(String, Vec<u8>)> {
        self.leaves().into_iter().filter(|l| l.0 == "image/png").map(|(_, n, b)| (n.unwrap_or_default(), b)).collect()
    }

    fn texts(&self) -> Vec<(Option<String>, String)> {
        self.leaves()
            .into_iter()
            .filter(|l| l.0 == "text/plain")
            .map(|(_, n, b)| (n, String::from_utf8(b).expect("UTF-8 text")))
            .collect()
    }

    /// The body text (with the notice).
    fn body(&self) -> String {
        self.texts().into_iter().find(|t| t.0.is_none()).map(|t| t.1).unwrap_or_default()
    }
}

fn sanitize_with(raw: &[u8], config: Option<&str>, env: &[(&str, &str)]) -> Run {
    let dir = std::env::temp_dir().join(format!("mugaika-render-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("report.json");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mugaika"));
    cmd.arg("sanitize").arg("--report").arg(&report);
    if let Some(c) = config {
        let path = dir.join("mugaika.toml");
        std::fs::write(&path, c).unwrap();
        cmd.arg("--config").arg(path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = std::fs::read(&report).map(|r| serde_json::from_slice(&r).unwrap()).unwrap_or(serde_json::Value::Null);
    let _ = std::fs::remove_dir_all(&dir);
    Run { code: out.status.code(), output: out.stdout, report, stderr: String::from_utf8_lossy(&out.stderr).into() }
}

fn sanitize(raw: &[u8]) -> Run {
    sanitize_with(raw, None, &[])
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn decode_png(png: &[u8]) -> image::RgbImage {
    image::load_from_memory_with_format(png, image::ImageFormat::Png).expect("PNG decodes").to_rgb8()
}

fn dark_pixels(img: &image::RgbImage) -> usize {
    img.pixels().filter(|p| p.0.iter().map(|&c| u32::from(c)).sum::<u32>() < 3 * 128).count()
}

/// Only the chunks we write, nothing after IEND.
fn assert_clean_png(png: &[u8]) {
    let (types, trailing) = png_chunk_types(png);
    assert_eq!(trailing, 0, "bytes after IEND");
    for t in &types {
        assert!([*b"IHDR", *b"PLTE", *b"IDAT", *b"IEND"].contains(t), "chunk {:?}", String::from_utf8_lossy(t));
    }
}

#[test]
fn a_text_pdf_becomes_png_pages_with_a_japanese_name() {
    let pdf = fixture("pdf/text_1page.pdf");
    let run = sanitize(&mail(&[("見積書.pdf", "application/pdf", &pdf)]));
    run.delivered();
    let pngs = run.pngs();
    assert_eq!(pngs.len(), 1, "{:?}", pngs.iter().map(|p| &p.0).collect::<Vec<_>>());
    assert_eq!(pngs[0].0, "見積書.pdf-p1.png");
    assert_clean_png(&pngs[0].1);
    let img = decode_png(&pngs[0].1);
    assert!(
        (826..=828).contains(&img.width()) && (1168..=1170).contains(&img.height()),
        "{}×{}",
        img.width(),
        img.height()
    );
    assert!(dark_pixels(&img) > 500, "page looks blank: {} dark pixels", dark_pixels(&img));
    let body = run.body();
    assert!(body.contains("見積書.pdf") && body.contains("1 of 1 pages rendered"), "{body}");
    // Outlook reads name= (RFC 2047), others filename*= (RFC 2231): both present.
    let raw = String::from_utf8_lossy(&run.output);
    assert!(raw.contains("filename*=") || raw.contains("filename*0*="), "no RFC 2231 filename");
    assert!(raw.contains("name=\"=?UTF-8?"), "no RFC 2047 name");
    assert!(run.codes().contains(&"attachment.rendered".to_string()));
    // The forensic report lists the rendition with its hash.
    let parts = run.report["parts"].as_array().unwrap();
    let rendered = parts.iter().find(|p| p["action"] == "rendered").expect("a rendered part");
    assert_eq!(rendered["renditions"][0]["filename"], "見積書.pdf-p1.png");
    assert_eq!(rendered["renditions"][0]["content_type"], "image/png");
    assert_eq!(rendered["renditions"][0]["size"], pngs[0].1.len());
    assert_eq!(rendered["renditions"][0]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn pdf_pages_beyond_the_limit_are_counted_in_the_notice() {
    let pdf = fixture("pdf/text_3pages.pdf");
    let config = "[render]\npdf_max_pages = 2\n";
    let run = sanitize_with(&mail(&[("report.pdf", "application/pdf", &pdf)]), Some(config), &[]);
    run.delivered();
    let names: Vec<String> = run.pngs().into_iter().map(|p| p.0).collect();
    assert_eq!(names, ["report.pdf-p1.png", "report.pdf-p2.png"]);
    assert!(run.body().contains("pages 3–3 omitted"), "{}", run.body());
    assert!(run.codes().contains(&"pdf.pages_omitted".to_string()));
}

#[test]
fn active_pdf_content_is_reported_and_rendered_flat() {
    for (file, kind) in [
        ("pdf/js_openaction.pdf", "JavaScript"),
        ("pdf/launch.pdf", "Launch"),
        ("pdf/embedded_file.pdf", "EmbeddedFile"),
    ] {
        let run = sanitize(&mail(&[("x.pdf", "application/pdf", &fixture(file))]));
        run.delivered();
        let findings = run.report["findings"].to_string();
        assert!(findings.contains("pdf.active_content") && findings.contains(kind), "{file}: {findings}");
        assert_eq!(run.pngs().len(), 1, "{file}");
    }
}

#[test]
fn an_encrypted_pdf_is_quarantined_by_default_and_removed_by_policy() {
    let pdf = fixture("pdf/encrypted.pdf");
    sanitize(&mail(&[("secret.pdf", "application/pdf", &pdf)])).quarantined("pdf.encrypted");
    let run = sanitize_with(
        &mail(&[("secret.pdf", "application/pdf", &pdf)]),
        Some("[render.policy]\npdf_encrypted = \"remove\"\n"),
        &[],
    );
    run.delivered();
    assert!(run.pngs().is_empty());
    assert!(run.body().contains("password-protected PDF"), "{}", run.body());
}

#[test]
fn japanese_pdf_without_embedded_fonts_shows_glyphs_with_the_cjk_font() {
    let font = mugaika_sanitizers::render::DEFAULT_CJK_FONT;
    assert!(std::path::Path::new(font).is_file(), "{font} missing: install fonts-ipaexfont (.ci/run does)");
    let pdf = fixture("pdf/japanese_nonembedded.pdf");
    let with_font = sanitize(&mail(&[("日本語.pdf", "application/pdf", &pdf)]));
    with_font.delivered();
    let without_font =
        sanitize_with(&mail(&[("日本語.pdf", "application/pdf", &pdf)]), Some("[render]\ncjk_font = \"\"\n"), &[]);
    without_font.delivered();
    let a = dark_pixels(&decode_png(&with_font.pngs()[0].1));
    let b = dark_pixels(&decode_png(&without_font.pngs()[0].1));
    assert!(a > 200 && a > b * 2, "with the CJK font {a} dark pixels, without {b}");
}

#[test]
fn images_are_reencoded_without_metadata_or_trailing_data() {
    // A PNG with a tEXt chunk and junk after IEND.
    let mut img = image::RgbImage::new(40, 30);
    for (x, _, p) in img.enumerate_pixels_mut() {
        *p = image::Rgb([if x < 20 { 200 } else { 10 }, 50, 90]);
    }
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let text_chunk = {
        let body = b"Comment\0<script>alert(1)</script>";
        let mut c = (body.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(b"tEXt");
        c.extend_from_slice(body);
        c.extend_from_slice(&[0, 0, 0, 0]);
        c
    };
    png.splice(33..33, text_chunk);
    png.extend_from_slice(b"PK\x03\x04 hidden zip after IEND");
    let run = sanitize(&mail(&[("photo.png", "image/png", &png)]));
    run.delivered();
    let pngs = run.pngs();
    assert_eq!(pngs.len(), 1);
    assert_clean_png(&pngs[0].1);
    assert!(!String::from_utf8_lossy(&run.output).contains("PK\u{3}\u{4}"));
    assert_eq!(decode_png(&pngs[0].1), img, "pixels changed");
}

#[test]
fn a_decompression_bomb_header_is_refused_before_decoding() {
    // IHDR claiming 100000 × 100000, then a tiny IDAT.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let chunk = |png: &mut Vec<u8>, ty: &[u8; 4], body: &[u8]| {
        png.extend_from_slice(&(body.len() as u32).to_be_bytes());
        png.extend_from_slice(ty);
        png.extend_from_slice(body);
        png.extend_from_slice(&crc32(&[&ty[..], body]).to_be_bytes());
    };
    let mut ihdr = 100_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut png, b"IEND", &[]);
    let started = std::time::Instant::now();
    let run = sanitize(&mail(&[("bomb.png", "image/png", &png)]));
    run.quarantined("limit.image_pixels");
    assert!(started.elapsed().as_secs() < 20);
}

#[test]
fn office_documents_become_text_and_macros_are_reported() {
    let docx = fixture("office/sample.docx");
    let run = sanitize(&mail(&[("議事録.docx", "application/octet-stream", &docx)]));
    run.delivered();
    let texts = run.texts();
    let txt = texts.iter().find(|t| t.0.as_deref() == Some("議事録.docx.txt")).unwrap_or_else(|| panic!("{texts:?}"));
    assert!(txt.1.contains("会議"), "{}", txt.1);

    let xlsm = fixture("office/sample.xlsm");
    let run = sanitize(&mail(&[("集計.xlsm", "application/vnd.ms-excel.sheet.macroEnabled.12", &xlsm)]));
    run.delivered();
    assert!(run.codes().contains(&"office.macro".to_string()), "{:?}", run.codes());
    assert!(run.body().contains("macros removed"), "{}", run.body());
}

#[test]
fn text_like_attachments_become_utf8_txt() {
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("氏名,住所\r\n山田太郎,東京都\r\n");
    let run = sanitize(&mail(&[("名簿.csv", "text/csv", &sjis)]));
    run.delivered();
    let texts = run.texts();
    let csv = texts.iter().find(|t| t.0.as_deref() == Some("名簿.csv.txt")).unwrap_or_else(|| panic!("{texts:?}"));
    assert!(csv.1.contains("山田太郎,東京都"), "{}", csv.1);
}

#[test]
fn zip_members_are_each_treated_and_named_with_their_path() {
    let zip = fixture("office/exe_member.zip");
    let run = sanitize(&mail(&[("files.zip", "application/zip", &zip)]));
    run.delivered();
    let body = run.body();
    assert!(body.contains(".exe"), "the executable member is not named: {body}");
    assert!(run.codes().contains(&"attachment.executable".to_string()), "{:?}", run.codes());
    let raw = String::from_utf8_lossy(&run.output);
    assert!(!raw.contains("TVqQ") && !raw.contains("TVpQ"), "an MZ header reached the output");
}

#[test]
fn an_encrypted_zip_is_quarantined_and_a_zip_bomb_stops_early() {
    sanitize(&mail(&[("ppap.zip", "application/zip", &fixture("office/encrypted.zip"))]))
        .quarantined("archive.encrypted");
    let started = std::time::Instant::now();
    sanitize(&mail(&[("bomb.zip", "application/zip", &fixture("office/ratio_bomb.zip"))])).quarantined("limit.archive");
    assert!(started.elapsed().as_secs() < 30);
}

#[test]
fn executables_shortcuts_disk_images_and_svg_are_removed() {
    let mut lnk = vec![0x4C, 0, 0, 0, 0x01, 0x14, 0x02, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46];
    lnk.resize(200, 0);
    let mut iso = vec![0u8; 0x8001 + 16];
    iso[0x8001..0x8006].copy_from_slice(b"CD001");
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let run = sanitize(&mail(&[
        ("請求書.lnk", "application/octet-stream", &lnk),
        ("disk.iso", "application/octet-stream", &iso),
        ("logo.svg", "image/svg+xml", svg),
    ]));
    run.delivered();
    assert!(run.pngs().is_empty());
    assert_eq!(run.texts().len(), 1, "only the body");
    let body = run.body();
    for name in ["請求書.lnk", "disk.iso", "logo.svg"] {
        assert!(body.contains(name), "{name} not named: {body}");
    }
}

/// A stand-in worker that hangs or answers garbage: the guard must kill it
/// and quarantine, never deliver.
#[test]
fn a_hanging_or_broken_renderer_child_quarantines() {
    let dir = std::env::temp_dir().join(format!("mugaika-fake-worker-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hang = write_script(&dir.join("hang.sh"), "#!/bin/sh\nexec sleep 30\n");
    let garbage = write_script(&dir.join("garbage.sh"), "#!/bin/sh\ncat >/dev/null\necho hello\n");
    let raw = mail(&[("a.pdf", "application/pdf", &fixture("pdf/text_1page.pdf"))]);
    let started = std::time::Instant::now();
    let run =
        sanitize_with(&raw, Some("[render]\ntimeout_secs = 2\n"), &[("MUGAIKA_WORKER_EXE", hang.to_str().unwrap())]);
    run.quarantined("limit.render");
    assert!(started.elapsed().as_secs() < 15, "the hanging child was not killed in time");
    assert!(run.report["findings"].to_string().contains("killed"));
    let run = sanitize_with(&raw, None, &[("MUGAIKA_WORKER_EXE", garbage.to_str().unwrap())]);
    run.quarantined("limit.render");
    let _ = std::fs::remove_dir_all(&dir);
}

fn write_script(path: &std::path::Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

#[test]
fn zip_names_in_cp932_and_nesting_up_to_the_depth_limit() {
    let run = sanitize(&mail(&[("名前.zip", "application/zip", &fixture("office/names_cp932.zip"))]));
    run.delivered();
    assert!(run.body().contains("見積書.xlsx"), "CP932 member name not decoded: {}", run.body());

    let nested = fixture("office/nested.zip");
    let run = sanitize(&mail(&[("nested.zip", "application/zip", &nested)]));
    run.delivered();
    assert!(run.body().contains("nested.zip/inner.zip/inner.txt"), "{}", run.body());
    assert!(run.texts().iter().any(|t| t.1.contains("nested content")), "{:?}", run.texts());
    // One level only: the inner archive is over the depth limit.
    sanitize_with(&mail(&[("nested.zip", "application/zip", &nested)]), Some("[render]\narchive_depth = 1\n"), &[])
        .quarantined("limit.archive_depth");
}

#[test]
fn an_attached_message_goes_through_the_whole_pipeline() {
    let inner = "From: x@example.com\r\nTo: y@example.jp\r\nSubject: inner\r\nMIME-Version: 1.0\r\n\
                 Content-Type: text/html; charset=UTF-8\r\n\r\n<p>内側の<b>本文</b><script>alert(1)</script></p>\r\n";
    let run = sanitize(&mail(&[("転送.eml", "application/octet-stream", inner.as_bytes())]));
    run.delivered();
    let texts = run.texts();
    let eml = texts.iter().find(|t| t.0.as_deref() == Some("転送.eml.txt")).unwrap_or_else(|| panic!("{texts:?}"));
    assert!(eml.1.contains("内側の本文"), "{}", eml.1);
    assert!(!eml.1.contains("alert(1)"), "{}", eml.1);
    assert!(run.codes().contains(&"html.script".to_string()), "{:?}", run.codes());

    let encrypted = "From: x@example.com\r\nSubject: secret\r\n\r\n-----BEGIN PGP MESSAGE-----\r\nhQEMA\r\n-----END PGP MESSAGE-----\r\n";
    sanitize(&mail(&[("secret.eml", "application/octet-stream", encrypted.as_bytes())]))
        .quarantined("attachment.nested_message");
}
