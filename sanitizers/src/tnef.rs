//! STUB (replaced by the sniff helper's module).
pub struct TnefAttachment { pub name: Option<String>, pub size: u64 }
pub struct TnefListing { pub attachments: Vec<TnefAttachment>, pub body_text: Option<String>, pub truncated: bool, pub malformed: bool }
pub fn list_tnef(_bytes: &[u8], _max: usize) -> TnefListing { TnefListing { attachments: vec![], body_text: None, truncated: false, malformed: true } }
