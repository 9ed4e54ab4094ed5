//! The message index: one SQLite table describing every message the spool
//! holds, for the quarantine review, the retention purge and the
//! administrator's CLI.
//!
//! The index is **not** the truth: the files of the spool are (see
//! [`crate::spool`]). Every row can be recomputed from them, and
//! [`crate::spool::Spool::rebuild_index`] does exactly that; the spool also
//! rebuilds it on open when `index.sqlite` is missing, unreadable or of another
//! schema version. Because of that the index is written without waiting for
//! the disk (`synchronous = NORMAL` in WAL mode: a crash may lose the last
//! few row updates, never corrupt the file), and the spool repairs the rows of
//! in-flight messages on every open.
//!
//! ## Schema (`PRAGMA user_version = 1`)
//!
//! ```sql
//! messages(
//!   retrieval_id TEXT PRIMARY KEY,   -- the caller's retrieval id; names the files in store/
//!   queue_id     TEXT NOT NULL UNIQUE,
//!   message_id   TEXT,               -- Message-ID header, known once sanitised
//!   sender       TEXT NOT NULL,      -- envelope MAIL FROM ('' = null sender)
//!   recipients   TEXT NOT NULL,      -- envelope RCPT TO, JSON array
//!   received_at  INTEGER NOT NULL,   -- unix seconds: the "date" of the message
//!   subject      TEXT,               -- decoded Subject, known once sanitised
//!   state        TEXT NOT NULL,      -- accepted | queued | delivered | bounced | quarantined
//!   reasons      TEXT NOT NULL,      -- reason codes, space separated ('' if none)
//!   report_path  TEXT                -- report JSON, relative to the data dir (quarantined only)
//! )
//! recipients(retrieval_id, rcpt)     -- one row per envelope recipient, to search by recipient
//! ```
//!
//! Indexes on `message_id`, `sender`, `received_at`, `state` and
//! `recipients.rcpt`.
//!
//! ## Concurrency
//!
//! The relay holds one read-write connection (behind a mutex in the spool).
//! WAL mode lets readers — `mugaika quarantine list`, opened with
//! [`Index::open_reader`] — run while the relay writes; a busy timeout covers
//! the short moments (checkpoints) where SQLite needs a lock anyway.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// Schema version stored in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;
/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages(
  retrieval_id TEXT PRIMARY KEY,
  queue_id     TEXT NOT NULL UNIQUE,
  message_id   TEXT,
  sender       TEXT NOT NULL,
  recipients   TEXT NOT NULL,
  received_at  INTEGER NOT NULL,
  subject      TEXT,
  state        TEXT NOT NULL,
  reasons      TEXT NOT NULL,
  report_path  TEXT
);
CREATE INDEX IF NOT EXISTS messages_message_id ON messages(message_id);
CREATE INDEX IF NOT EXISTS messages_sender ON messages(sender);
CREATE INDEX IF NOT EXISTS messages_received_at ON messages(received_at);
CREATE INDEX IF NOT EXISTS messages_state ON messages(state);
CREATE TABLE IF NOT EXISTS recipients(
  retrieval_id TEXT NOT NULL,
  rcpt         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS recipients_rcpt ON recipients(rcpt);
CREATE INDEX IF NOT EXISTS recipients_retrieval_id ON recipients(retrieval_id);
";

/// Where a message is in its life. The spool's files say it (see
/// [`crate::spool`]); the index mirrors it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageState {
    /// Durable, acknowledged with 250, not yet sanitised (`incoming/`).
    Accepted,
    /// Sanitised; the safe rendition waits for delivery (`outbound/`).
    Queued,
    /// Every recipient accepted the safe rendition (final).
    Delivered,
    /// At least one recipient failed permanently or the message expired (final).
    Bounced,
    /// Held with its report for an administrator (final until released).
    Quarantined,
}

impl MessageState {
    /// The name used in the index and in the files.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Accepted => "accepted",
            MessageState::Queued => "queued",
            MessageState::Delivered => "delivered",
            MessageState::Bounced => "bounced",
            MessageState::Quarantined => "quarantined",
        }
    }

    /// Parses [`MessageState::as_str`]'s names.
    pub fn parse(s: &str) -> Option<MessageState> {
        Some(match s {
            "accepted" => MessageState::Accepted,
            "queued" => MessageState::Queued,
            "delivered" => MessageState::Delivered,
            "bounced" => MessageState::Bounced,
            "quarantined" => MessageState::Quarantined,
            _ => return None,
        })
    }

    /// Final states: the message left the queue; only the purge removes it.
    pub fn is_final(self) -> bool {
        matches!(self, MessageState::Delivered | MessageState::Bounced | MessageState::Quarantined)
    }
}

/// One row of the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexRow {
    pub retrieval_id: String,
    pub queue_id: String,
    pub message_id: Option<String>,
    pub sender: String,
    pub recipients: Vec<String>,
    /// Unix seconds.
    pub received_at: u64,
    pub subject: Option<String>,
    pub state: MessageState,
    pub reasons: Vec<String>,
    /// Relative to the data dir.
    pub report_path: Option<String>,
}

/// Why the index could not be used.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("index has schema version {found}, expected {SCHEMA_VERSION}")]
    Version { found: i64 },
    #[error("retrieval id or queue id already in the index")]
    Duplicate,
    #[error("index row is malformed: {0}")]
    Malformed(String),
}

impl IndexError {
    /// The disk is full or failing (not a bug, not a duplicate).
    pub fn is_storage(&self) -> bool {
        match self {
            IndexError::Sqlite(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure)
            ),
            _ => false,
        }
    }
}

/// A connection to `index.sqlite`.
pub struct Index {
    conn: Connection,
}

const COLUMNS: &str =
    "retrieval_id, queue_id, message_id, sender, recipients, received_at, subject, state, reasons, report_path";

impl Index {
    /// Opens (creating if needed) the index read-write, for the relay.
    /// Fails with [`IndexError::Version`] on another schema version: the
    /// caller then rebuilds it from the files.
    pub fn open_writer(path: &Path) -> Result<Index, IndexError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(IndexError::Malformed(format!("journal_mode is {mode}, not wal")));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
        if version == 0 && tables == 0 {
            conn.execute_batch(SCHEMA)?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        } else if version != SCHEMA_VERSION {
            return Err(IndexError::Version { found: version });
        }
        // A cheap check that the file is a usable database.
        conn.query_row("SELECT count(*) FROM messages", [], |r| r.get::<_, i64>(0))?;
        Ok(Index { conn })
    }

    /// Opens an existing index for reading while the relay runs (the CLI).
    /// Never creates the file.
    pub fn open_reader(path: &Path) -> Result<Index, IndexError> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .or_else(|_| {
                    Connection::open_with_flags(
                        path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )
                })?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version != SCHEMA_VERSION {
            return Err(IndexError::Version { found: version });
        }
        Ok(Index { conn })
    }

    /// Inserts the row of a newly accepted message. Fails with
    /// [`IndexError::Duplicate`] if its retrieval id or queue id is known.
    pub fn insert(&self, row: &IndexRow) -> Result<(), IndexError> {
        let tx = self.conn.unchecked_transaction()?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM messages WHERE retrieval_id = ?1 OR queue_id = ?2",
                params![row.retrieval_id, row.queue_id],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Err(IndexError::Duplicate);
        }
        insert_row(&tx, row)?;
        tx.commit()?;
        Ok(())
    }

    /// Inserts or replaces a row (recovery and rebuild).
    pub fn upsert(&self, row: &IndexRow) -> Result<(), IndexError> {
        let tx = self.conn.unchecked_transaction()?;
        delete_rows(&tx, &row.retrieval_id, &row.queue_id)?;
        insert_row(&tx, row)?;
        tx.commit()?;
        Ok(())
    }

    /// Removes the row of a retrieval id (and any row holding that queue id).
    pub fn delete(&self, retrieval_id: &str, queue_id: &str) -> Result<(), IndexError> {
        let tx = self.conn.unchecked_transaction()?;
        delete_rows(&tx, retrieval_id, queue_id)?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces every row (the rebuild from files) in one transaction.
    pub fn replace_all(&self, rows: &[IndexRow]) -> Result<(), IndexError> {
        let tx = self.conn.unchecked_transaction()?;
        tx.execute("DELETE FROM messages", [])?;
        tx.execute("DELETE FROM recipients", [])?;
        for row in rows {
            delete_rows(&tx, &row.retrieval_id, &row.queue_id)?;
            insert_row(&tx, row)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The row of a retrieval id.
    pub fn get(&self, retrieval_id: &str) -> Result<Option<IndexRow>, IndexError> {
        let sql = format!("SELECT {COLUMNS} FROM messages WHERE retrieval_id = ?1");
        let raw = self.conn.query_row(&sql, params![retrieval_id], read_raw).optional()?;
        raw.map(RawRow::into_row).transpose()
    }

    /// The row of a queue id.
    pub fn get_by_queue_id(&self, queue_id: &str) -> Result<Option<IndexRow>, IndexError> {
        let sql = format!("SELECT {COLUMNS} FROM messages WHERE queue_id = ?1");
        let raw = self.conn.query_row(&sql, params![queue_id], read_raw).optional()?;
        raw.map(RawRow::into_row).transpose()
    }

    /// Rows in a state, oldest first.
    pub fn in_state(&self, state: MessageState) -> Result<Vec<IndexRow>, IndexError> {
        self.select(
            &format!("SELECT {COLUMNS} FROM messages WHERE state = ?1 ORDER BY received_at, queue_id"),
            params![state.as_str()],
        )
    }

    /// Quarantined messages, oldest first (`mugaika quarantine list`).
    pub fn list_quarantined(&self) -> Result<Vec<IndexRow>, IndexError> {
        self.in_state(MessageState::Quarantined)
    }

    /// Rows in a final state received at or before `cutoff` (unix seconds).
    pub fn final_received_before(&self, cutoff: u64) -> Result<Vec<IndexRow>, IndexError> {
        self.select(
            &format!(
                "SELECT {COLUMNS} FROM messages WHERE received_at <= ?1 \
                 AND state IN ('delivered', 'bounced', 'quarantined') ORDER BY received_at"
            ),
            params![to_i64(cutoff)],
        )
    }

    /// Retrieval ids of the messages sent to a recipient.
    pub fn by_recipient(&self, rcpt: &str) -> Result<Vec<String>, IndexError> {
        let mut stmt = self.conn.prepare("SELECT retrieval_id FROM recipients WHERE rcpt = ?1 ORDER BY rowid")?;
        let ids = stmt.query_map(params![rcpt], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    /// The highest queue id in the index (queue ids sort as strings).
    pub fn max_queue_id(&self) -> Result<Option<String>, IndexError> {
        Ok(self.conn.query_row("SELECT max(queue_id) FROM messages", [], |r| r.get(0))?)
    }

    /// Number of rows.
    pub fn len(&self) -> Result<u64, IndexError> {
        let n: i64 = self.conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Whether the index has no row.
    pub fn is_empty(&self) -> Result<bool, IndexError> {
        Ok(self.len()? == 0)
    }

    fn select(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<IndexRow>, IndexError> {
        let mut stmt = self.conn.prepare(sql)?;
        let raws = stmt.query_map(params, read_raw)?.collect::<Result<Vec<RawRow>, _>>()?;
        raws.into_iter().map(RawRow::into_row).collect()
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn insert_row(conn: &Connection, row: &IndexRow) -> Result<(), IndexError> {
    let recipients = serde_json::to_string(&row.recipients).map_err(|e| IndexError::Malformed(e.to_string()))?;
    let inserted = conn.execute(
        &format!("INSERT OR IGNORE INTO messages({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        params![
            row.retrieval_id,
            row.queue_id,
            row.message_id,
            row.sender,
            recipients,
            to_i64(row.received_at),
            row.subject,
            row.state.as_str(),
            row.reasons.join(" "),
            row.report_path,
        ],
    )?;
    if inserted == 0 {
        return Err(IndexError::Duplicate);
    }
    let mut stmt = conn.prepare_cached("INSERT INTO recipients(retrieval_id, rcpt) VALUES (?1, ?2)")?;
    for rcpt in &row.recipients {
        stmt.execute(params![row.retrieval_id, rcpt])?;
    }
    Ok(())
}

fn delete_rows(conn: &Connection, retrieval_id: &str, queue_id: &str) -> Result<(), IndexError> {
    conn.execute(
        "DELETE FROM recipients WHERE retrieval_id IN \
         (SELECT retrieval_id FROM messages WHERE retrieval_id = ?1 OR queue_id = ?2) OR retrieval_id = ?1",
        params![retrieval_id, queue_id],
    )?;
    conn.execute("DELETE FROM messages WHERE retrieval_id = ?1 OR queue_id = ?2", params![retrieval_id, queue_id])?;
    Ok(())
}

/// A row as SQLite returns it, before the typed fields are checked.
struct RawRow {
    retrieval_id: String,
    queue_id: String,
    message_id: Option<String>,
    sender: String,
    recipients: String,
    received_at: i64,
    subject: Option<String>,
    state: String,
    reasons: String,
    report_path: Option<String>,
}

fn read_raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        retrieval_id: r.get(0)?,
        queue_id: r.get(1)?,
        message_id: r.get(2)?,
        sender: r.get(3)?,
        recipients: r.get(4)?,
        received_at: r.get(5)?,
        subject: r.get(6)?,
        state: r.get(7)?,
        reasons: r.get(8)?,
        report_path: r.get(9)?,
    })
}

impl RawRow {
    fn into_row(self) -> Result<IndexRow, IndexError> {
        let state = MessageState::parse(&self.state)
            .ok_or_else(|| IndexError::Malformed(format!("unknown state {:?}", self.state)))?;
        let recipients: Vec<String> =
            serde_json::from_str(&self.recipients).map_err(|e| IndexError::Malformed(e.to_string()))?;
        Ok(IndexRow {
            retrieval_id: self.retrieval_id,
            queue_id: self.queue_id,
            message_id: self.message_id,
            sender: self.sender,
            recipients,
            received_at: u64::try_from(self.received_at).unwrap_or(0),
            subject: self.subject,
            state,
            reasons: self.reasons.split_whitespace().map(str::to_string).collect(),
            report_path: self.report_path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(rid: &str, qid: &str, state: MessageState, at: u64) -> IndexRow {
        IndexRow {
            retrieval_id: rid.into(),
            queue_id: qid.into(),
            message_id: Some("<m@x>".into()),
            sender: "a@example.com".into(),
            recipients: vec!["b@example.jp".into(), "c@example.jp".into()],
            received_at: at,
            subject: Some("件名".into()),
            state,
            reasons: vec!["html.script".into(), "limit.depth".into()],
            report_path: None,
        }
    }

    fn tempdir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("mugaika-index-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn insert_get_duplicate_and_reader() {
        let d = tempdir("basic");
        let path = d.join("index.sqlite");
        let ix = Index::open_writer(&path).unwrap();
        ix.insert(&row("r1", "Q1", MessageState::Accepted, 10)).unwrap();
        assert!(matches!(ix.insert(&row("r1", "Q2", MessageState::Accepted, 10)), Err(IndexError::Duplicate)));
        assert!(matches!(ix.insert(&row("r2", "Q1", MessageState::Accepted, 10)), Err(IndexError::Duplicate)));
        ix.upsert(&row("r1", "Q1", MessageState::Quarantined, 10)).unwrap();
        ix.insert(&row("r3", "Q3", MessageState::Delivered, 20)).unwrap();
        let got = ix.get("r1").unwrap().unwrap();
        assert_eq!(got, row("r1", "Q1", MessageState::Quarantined, 10));
        assert_eq!(ix.get_by_queue_id("Q3").unwrap().unwrap().retrieval_id, "r3");
        assert_eq!(ix.by_recipient("c@example.jp").unwrap(), vec!["r1".to_string(), "r3".to_string()]);
        assert_eq!(ix.max_queue_id().unwrap().as_deref(), Some("Q3"));
        assert_eq!(ix.final_received_before(15).unwrap().len(), 1);
        // A reader sees the writer's rows while the writer is open.
        let reader = Index::open_reader(&path).unwrap();
        assert_eq!(reader.list_quarantined().unwrap().len(), 1);
        ix.delete("r1", "Q1").unwrap();
        assert_eq!(reader.list_quarantined().unwrap().len(), 0);
        assert_eq!(ix.by_recipient("b@example.jp").unwrap(), vec!["r3".to_string()]);
        ix.replace_all(&[row("r9", "Q9", MessageState::Bounced, 1)]).unwrap();
        assert_eq!(ix.len().unwrap(), 1);
        drop(reader);
        drop(ix);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn garbage_file_and_missing_file_are_errors() {
        let d = tempdir("garbage");
        let path = d.join("index.sqlite");
        assert!(Index::open_reader(&path).is_err(), "the reader never creates the index");
        assert!(!path.exists());
        std::fs::write(&path, b"this is not a database at all, just some bytes to look like a file header").unwrap();
        assert!(Index::open_writer(&path).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
