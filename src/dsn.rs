//! STUB (replaced by the outbound helper's module).
pub struct DsnInput<'a> { pub reporting_mta: &'a str, pub original_envelope_id: Option<&'a str>, pub queue_id: &'a str,
    pub retrieval_id: &'a str, pub mail_from: &'a str, pub arrival_date: u64, pub now: u64,
    pub failed: &'a [(String, String, String)], pub original_headers: &'a [u8], pub expired: bool }
pub fn build_dsn(input: &DsnInput) -> Option<Vec<u8>> { if input.mail_from.is_empty() { None } else { Some(b"stub".to_vec()) } }
