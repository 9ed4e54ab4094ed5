//! Where the time of a PDF rendition goes: hayro rendering vs PNG encoding.
//!
//!     cargo run --release -p mugaika-sanitizers --example render_pdf -- FILE.pdf...
use std::time::Instant;

use mugaika_sanitizers::image_render::encode_png_rgb;
use mugaika_sanitizers::pdf::{PdfOptions, render_pdf};

fn main() {
    for path in std::env::args().skip(1) {
        let data = std::fs::read(&path).expect("read");
        let opts = PdfOptions { max_pages: 1000, max_total_pixels: u64::MAX, ..PdfOptions::default() };
        let t = Instant::now();
        let r = render_pdf(&data, &opts).expect("render");
        let render = t.elapsed();
        let t = Instant::now();
        let mut bytes = 0;
        for p in &r.pages {
            bytes += encode_png_rgb(p.width, p.height, &p.rgb).len();
        }
        let encode = t.elapsed();
        println!(
            "{path}: {} pages; render {:.1} ms/page, PNG encode {:.1} ms/page, {} KiB/page",
            r.pages.len(),
            render.as_secs_f64() * 1e3 / r.pages.len() as f64,
            encode.as_secs_f64() * 1e3 / r.pages.len() as f64,
            bytes / 1024 / r.pages.len().max(1)
        );
    }
}
