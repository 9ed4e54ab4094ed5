//! HTML → text throughput: mugaika's `html_to_text` against `html2text`
//! (html5ever DOM + layout) on the same ~100 KB table-heavy Japanese
//! newsletter, in one criterion group so the two figures sit side by side.
//!
//! Run: `cargo bench -p mugaika-sanitizers --bench html`

use std::fmt::Write as _;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mugaika_sanitizers::html::html_to_text;

const DISTRICTS: &[&str] = &["中央", "北", "南", "東", "西", "港", "緑", "青葉", "旭", "若葉"];
const KINDS: &[&str] = &["図書館", "公民館", "体育館", "保育園", "市民センター", "児童館", "郵便局", "診療所"];
const NOTES: &[&str] =
    &["", "月曜休館", "駐車場あり（30台）", "改修工事のため3月末まで休館", "車いす対応トイレあり", "土日祝は17時まで"];
const SENTENCES: &[&str] = &[
    "市では、安全で安心なまちづくりを進めるため、地域の皆さまと協力して防災訓練を実施します。",
    "参加を希望される方は、各地区の市民センター窓口または電子申請でお申し込みください。",
    "なお、当日は公共交通機関をご利用いただきますよう、ご協力をお願いいたします。",
    "詳しい日程や会場については、下記の一覧表および市ホームページをご確認ください。",
    "新型感染症対策として、マスクの着用と手指の消毒にご協力をお願いします。",
    "ごみの出し方が一部変わります。分別ルールを守って、決められた日の朝8時までに出してください。",
];

/// A deterministic municipal newsletter of about `target` bytes: a header
/// table, then per district a heading, paragraphs, a facility table
/// (施設名/住所/電話/備考), a list and links.
fn newsletter(target: usize) -> String {
    let mut h = String::with_capacity(target + 8192);
    h.push_str(
        "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\">\
         <title>広報みなと 第128号</title>\
         <style>td{padding:4px}.note{color:#666}</style></head>\
         <body bgcolor=\"#ffffff\"><table width=\"640\" cellpadding=\"0\" cellspacing=\"0\" align=\"center\">\
         <tr><td><table width=\"100%\"><tr><td><img src=\"cid:logo@city\" alt=\"みなと市ロゴ\" width=\"120\" height=\"40\"></td>\
         <td align=\"right\"><font size=\"2\">令和7年4月1日発行<br>発行：みなと市 市長公室 広報課</font></td></tr></table>\n",
    );
    let mut n = 0usize;
    while h.len() < target {
        let d = DISTRICTS[n % DISTRICTS.len()];
        let _ = write!(h, "<h2 style=\"border-bottom:2px solid #336\">{d}地区のお知らせ（{}）</h2>\n<p>", n + 1);
        for k in 0..3 {
            h.push_str(SENTENCES[(n + k) % SENTENCES.len()]);
            if k == 1 {
                h.push_str("<br>\n");
            }
        }
        h.push_str("</p>\n<table border=\"1\" cellspacing=\"0\" style=\"border-collapse:collapse\">\n");
        h.push_str("<tr bgcolor=\"#dde\"><th>施設名</th><th>住所</th><th>電話</th><th>備考</th></tr>\n");
        for r in 0..12 {
            let kind = KINDS[(n + r) % KINDS.len()];
            let note = NOTES[(n * 7 + r) % NOTES.len()];
            let _ = writeln!(
                h,
                "<tr><td><a href=\"https://www.city.minato.example.lg.jp/shisetsu/{n}/{r}.html\">{d}{kind}</a></td>\
                 <td>みなと市{d}町{}丁目{}番{}号</td><td>045-{:03}-{:04}</td><td class=\"note\">{note}</td></tr>",
                r % 5 + 1,
                (r * 3) % 20 + 1,
                (n + r) % 9 + 1,
                (n * 13 + r) % 1000,
                (n * 7919 + r * 104_729) % 10_000,
            );
        }
        h.push_str("</table>\n<ul>\n");
        for k in 0..4 {
            let _ = writeln!(
                h,
                "<li>受付期間：{}月{}日～{}月{}日（土日祝を除く）&nbsp;<b>先着順</b></li>",
                k + 4,
                k * 3 + 1,
                k + 5,
                k * 2 + 10
            );
        }
        h.push_str("</ul>\n");
        let _ = write!(
            h,
            "<p>お問い合わせ：{d}地区市民センター（<a href=\"mailto:{}@city.minato.example.lg.jp\">{}@city.minato.example.lg.jp</a>）<br>\
             詳しくは<a href=\"https://www.city.minato.example.lg.jp/kurashi/{n}/\">市ホームページ</a>をご覧ください。</p>\n<hr>\n",
            n % 10,
            n % 10,
        );
        n += 1;
    }
    h.push_str(
        "<p style=\"font-size:12px;color:#666\">このメールは送信専用です。配信停止は\
         <a href=\"https://www.city.minato.example.lg.jp/mail/stop\">こちら</a>から。</p>\
         <img src=\"https://track.example.com/o.gif?id=1\" width=\"1\" height=\"1\">\
         </td></tr></table></body></html>\n",
    );
    h
}

fn bench(c: &mut Criterion) {
    let doc = newsletter(100 * 1024);
    let mut g = c.benchmark_group("html_to_text");
    g.throughput(Throughput::Bytes(doc.len() as u64));
    g.bench_function("mugaika", |b| {
        b.iter(|| html_to_text(black_box(&doc), "1", 16 << 20));
    });
    g.bench_function("html2text", |b| {
        b.iter(|| html2text::from_read(black_box(doc.as_bytes()), 100));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
