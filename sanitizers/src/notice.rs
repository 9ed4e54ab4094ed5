//! The notice block at the top of every sanitised body, Japanese first, then
//! English: that the mail was sanitised, one line per object removed or
//! rendered, and the retrieval id to quote when asking for the original.
//!
//! The block ends with [`NOTICE_END`] on a line of its own; tools that compare
//! the content of two sanitisations (the idempotence tests) cut the text there.

use std::fmt::Write;

/// Last line of the notice block.
pub const NOTICE_END: &str = "------------------------------------------------------------";

/// First line of the notice block.
pub const NOTICE_START: &str = "【無害化通知 / mugaika notice】";

/// One object the reader should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeItem {
    pub kind: ItemKind,
    /// Display-safe name (already passed through `text::display_name`).
    pub name: String,
    /// Type, size and hash, or what the renderer says.
    pub detail: String,
    /// Further lines shown indented under the item: photo metadata, active
    /// content found in a PDF, the members of an archive and what became of
    /// each. Display-safe, one line each.
    pub extra: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// An attachment that was removed.
    RemovedAttachment,
    /// An inline (cid) image that was removed.
    RemovedInlineImage,
    /// A file listed inside a TNEF winmail.dat.
    TnefMember,
    /// A uuencoded block removed from the text.
    Uuencoded,
    /// A signature that was removed.
    Signature,
    /// An attachment replaced by a safe rendition.
    Rendered,
}

impl ItemKind {
    fn label(self) -> &'static str {
        match self {
            ItemKind::RemovedAttachment => "添付ファイルを削除 / attachment removed",
            ItemKind::RemovedInlineImage => "埋め込み画像を削除 / inline image removed",
            ItemKind::TnefMember => "winmail.dat 内のファイルを削除 / file inside winmail.dat removed",
            ItemKind::Uuencoded => "本文中の uuencode ファイルを削除 / uuencoded file removed from the text",
            ItemKind::Signature => "電子署名を削除 / signature removed",
            ItemKind::Rendered => "安全な形式に変換 / converted to a safe rendition",
        }
    }
}

/// Writes the notice block (ending with a newline).
pub fn write_notice(items: &[NoticeItem], html_converted: bool, retrieval_id: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{NOTICE_START}");
    if html_converted {
        s.push_str("このメールは無害化されました（HTML はテキストに変換済み）。\n");
    } else {
        s.push_str("このメールは無害化されました。\n");
    }
    if items.is_empty() {
        s.push_str("削除されたものはありません。\n");
    } else {
        let _ = writeln!(
            s,
            "次の {} 件を削除または変換しました / {} item(s) removed or converted:",
            items.len(),
            items.len()
        );
        for item in items {
            let _ = writeln!(s, "・{}: 「{}」 {}", item.kind.label(), item.name, item.detail);
            for line in &item.extra {
                let _ = writeln!(s, "    {line}");
            }
        }
    }
    let _ = writeln!(s, "原本が必要な場合は、取得番号 {retrieval_id} を添えてシステム管理者にお問い合わせください。");
    if html_converted {
        s.push_str("This message was sanitised by mugaika (HTML converted to plain text).\n");
    } else {
        s.push_str("This message was sanitised by mugaika.\n");
    }
    if items.is_empty() {
        s.push_str("Nothing was removed.\n");
    }
    let _ = writeln!(s, "To obtain the original, quote retrieval id {retrieval_id} to your administrator.");
    let _ = writeln!(s, "{NOTICE_END}");
    s
}

/// The text after any leading notice blocks: the content of a sanitised body.
/// Sanitising a sanitised message adds a second notice on top of the first;
/// comparing contents (the idempotence tests) strips both.
pub fn strip_notices(text: &str) -> &str {
    let mut rest = text.trim_start_matches(['\r', '\n']);
    while rest.starts_with(NOTICE_START) {
        let Some(end) = rest.find(NOTICE_END) else { break };
        rest = rest[end + NOTICE_END.len()..].trim_start_matches(['\r', '\n']);
    }
    rest
}

/// Human size: "1,234 バイト / bytes".
pub fn format_size(bytes: u64) -> String {
    let digits = bytes.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{grouped} バイト/bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_lists_items_in_both_languages() {
        let items = vec![NoticeItem {
            kind: ItemKind::RemovedAttachment,
            name: "見積書.pdf".into(),
            detail: "(PDF document)".into(),
            extra: vec!["3 / 12 pages".into()],
        }];
        let n = write_notice(&items, true, "MGK-ABCD");
        assert!(n.starts_with(NOTICE_START));
        assert!(n.contains("無害化"));
        assert!(n.contains("sanitised"));
        assert!(n.contains("「見積書.pdf」"));
        assert!(n.contains("\n    3 / 12 pages\n"));
        assert_eq!(n.matches("MGK-ABCD").count(), 2);
        assert!(n.ends_with(&format!("{NOTICE_END}\n")));
    }

    #[test]
    fn notices_are_stripped_repeatedly() {
        let once = format!("{}\nbody\n", write_notice(&[], false, "MGK-1"));
        let twice = format!("{}\n{once}", write_notice(&[], false, "MGK-2"));
        assert_eq!(strip_notices(&once), "body\n");
        assert_eq!(strip_notices(&twice), "body\n");
        assert_eq!(strip_notices("plain"), "plain");
    }

    #[test]
    fn sizes_are_grouped() {
        assert_eq!(format_size(0), "0 バイト/bytes");
        assert_eq!(format_size(1234567), "1,234,567 バイト/bytes");
    }
}
