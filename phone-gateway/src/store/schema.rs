//! The tables, and the migrations that bring an older database up to them (`PRAGMA user_version`).

use rusqlite::{params, Connection};
use sha2::{Digest, Sha256};

/// Version 1: a finished message keeps neither its text nor its number, only the number's hash.
/// Version 2: SIM budgets (sends per day, recipients per plan period, rests) and a failed
/// message's class.
/// Version 3: the inbox of received SMS waiting to be forwarded (`inbox`).
const VERSION: i64 = 3;

const MESSAGES: &str = "
CREATE TABLE IF NOT EXISTS messages(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  priority INTEGER NOT NULL,
  to_number TEXT,
  to_sha256 TEXT NOT NULL,
  body TEXT,
  expires_at INTEGER NOT NULL,
  sim_slot INTEGER,
  tenant_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  sim_used INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  fail_class TEXT,
  may_have_sent INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages(state, priority, seq);
CREATE INDEX IF NOT EXISTS messages_expiry ON messages(state, expires_at);
";

const OTHERS: &str = "
CREATE TABLE IF NOT EXISTS nonces(nonce TEXT PRIMARY KEY, ts INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_ts ON nonces(ts);
CREATE TABLE IF NOT EXISTS outbox(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  report TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS send_log(sim INTEGER NOT NULL, at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS send_log_at ON send_log(at_ms);
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

/// SIM budgets (version 2). Recipients are keyed hashes (`budget::recipient_tag`), never numbers.
const SIMS: &str = "
CREATE TABLE IF NOT EXISTS sim_days(sim INTEGER NOT NULL, day INTEGER NOT NULL, sends INTEGER NOT NULL,
  PRIMARY KEY(sim, day)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sim_recipients(sim INTEGER NOT NULL, period INTEGER NOT NULL,
  recipient TEXT NOT NULL, first_ms INTEGER NOT NULL, PRIMARY KEY(sim, period, recipient)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sim_rests(sim INTEGER PRIMARY KEY, until_ms INTEGER NOT NULL,
  reason TEXT, generic_run INTEGER NOT NULL DEFAULT 0);
";

/// Received SMS (version 3): `seq` is what the edge knows one by (it never repeats), `sms_id` the phone's own
/// row id; the sender and text are dropped once the edge has them (the sender's hash stays).
const INBOX: &str = "
CREATE TABLE IF NOT EXISTS inbox(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  sms_id INTEGER NOT NULL UNIQUE,
  from_number TEXT,
  from_sha256 TEXT NOT NULL,
  body TEXT,
  received_at INTEGER NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_ms INTEGER NOT NULL DEFAULT 0,
  forwarded_at INTEGER
);
CREATE INDEX IF NOT EXISTS inbox_pending ON inbox(state, seq);
";

/// The SQL the finished states are matched with.
pub const FINISHED: &str = "('sent','failed','expired')";

/// Lowercase hex SHA-256 of a number: what is kept of it once its message is finished.
pub fn number_hash(number: &str) -> String {
    hex::encode(Sha256::digest(number.as_bytes()))
}

pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version >= VERSION {
        return Ok(());
    }
    let had_messages: bool = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'messages'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    let rebuilt = had_messages && version < 1;
    let tx = conn.transaction()?;
    if rebuilt {
        from_v0(&tx)?;
    } else if had_messages && version == 1 {
        tx.execute_batch(
            "ALTER TABLE messages ADD COLUMN fail_class TEXT;
             ALTER TABLE messages ADD COLUMN may_have_sent INTEGER NOT NULL DEFAULT 0;",
        )?;
    }
    tx.execute_batch(MESSAGES)?;
    tx.execute_batch(OTHERS)?;
    tx.execute_batch(SIMS)?;
    tx.execute_batch(INBOX)?;
    tx.pragma_update(None, "user_version", VERSION)?;
    tx.commit()?;
    if rebuilt {
        // The old table's pages held texts and numbers: rewrite the file without them.
        conn.execute_batch("VACUUM")?;
    }
    Ok(())
}

/// Version 0 kept the number and text of every message until it was deleted: rebuild the table
/// with a number hash, and scrub the messages already finished.
fn from_v0(tx: &rusqlite::Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE messages RENAME TO messages_v0;
         DROP INDEX IF EXISTS messages_ready;
         DROP INDEX IF EXISTS messages_expiry;",
    )?;
    tx.execute_batch(MESSAGES)?;
    let rows: Vec<(i64, String)> = tx
        .prepare("SELECT seq, to_number FROM messages_v0")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    tx.execute(
        "INSERT INTO messages(seq, id, kind, priority, to_number, to_sha256, body, expires_at, sim_slot,
           tenant_id, request_id, state, attempts, next_attempt_ms, last_error, sim_used, created_at,
           updated_at)
         SELECT seq, id, kind, priority, to_number, '', body, expires_at, sim_slot, tenant_id,
           request_id, state, attempts, next_attempt_ms, last_error, sim_used, created_at, updated_at
         FROM messages_v0",
        [],
    )?;
    let mut set_hash = tx.prepare("UPDATE messages SET to_sha256 = ?2 WHERE seq = ?1")?;
    for (seq, number) in rows {
        set_hash.execute(params![seq, number_hash(&number)])?;
    }
    tx.execute(
        &format!("UPDATE messages SET to_number = NULL, body = NULL WHERE state IN {FINISHED}"),
        [],
    )?;
    tx.execute_batch("DROP TABLE messages_v0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::*;
    use crate::store::Store;

    /// The table as version 0 made it, with one sent and one queued message.
    fn version_0(path: &std::path::Path) {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "CREATE TABLE messages(seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
               kind TEXT NOT NULL, priority INTEGER NOT NULL, to_number TEXT NOT NULL, body TEXT NOT NULL,
               expires_at INTEGER NOT NULL, sim_slot INTEGER, tenant_id TEXT NOT NULL,
               request_id TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
               next_attempt_ms INTEGER NOT NULL DEFAULT 0, last_error TEXT, sim_used INTEGER,
               created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
             CREATE INDEX messages_ready ON messages(state, priority, seq);
             CREATE INDEX messages_expiry ON messages(state, expires_at);
             INSERT INTO messages(id, kind, priority, to_number, body, expires_at, tenant_id,
               request_id, state, created_at, updated_at)
             VALUES ('old', 'otp', 0, '+14155550001', 'secret text 111111', 9999999999, 't', 'r',
                     'sent', 1, 1),
                    ('live', 'otp', 0, '+14155550002', 'pending text 222222', 9999999999, 't', 'r',
                     'queued', 1, 1);",
        )
        .unwrap();
    }

    #[test]
    fn a_version_0_database_is_rebuilt_and_scrubbed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        version_0(&path);
        let s = Store::open(&path, options(true, 100)).unwrap();
        assert_eq!(s.depth(), 1);
        let row = |id: &str| {
            s.conn
                .query_row(
                    "SELECT to_number, to_sha256, body FROM messages WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap()
        };
        let (number, hash, body): (Option<String>, String, Option<String>) = row("old");
        assert_eq!((number, body), (None, None));
        assert_eq!(hash, number_hash("+14155550001"));
        let (number, hash, body): (Option<String>, String, Option<String>) = row("live");
        assert_eq!(number.as_deref(), Some("+14155550002"));
        assert_eq!(body.as_deref(), Some("pending text 222222"));
        assert_eq!(hash, number_hash("+14155550002"));
        let ready = s.ready(i64::MAX, 10).unwrap();
        assert_eq!((ready.len(), ready[0].to.as_str()), (1, "+14155550002"));
        drop(s);
        let raw = std::fs::read(&path).unwrap();
        let found = |needle: &str| raw.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(
            !found("secret text 111111"),
            "the old text is still in the file"
        );
        assert!(
            !found("+14155550001"),
            "the old number is still in the file"
        );
    }

    #[test]
    fn a_version_1_database_gains_the_budget_tables_and_keeps_its_queue() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        {
            let conn = Connection::open(&path).unwrap();
            let v1 = MESSAGES.replace(
                ",\n  fail_class TEXT,\n  may_have_sent INTEGER NOT NULL DEFAULT 0",
                "",
            );
            conn.execute_batch(&v1).unwrap();
            conn.execute_batch(OTHERS).unwrap();
            conn.execute_batch(
                "INSERT INTO messages(id, kind, priority, to_number, to_sha256, body, expires_at,
                   tenant_id, request_id, state, created_at, updated_at)
                 VALUES ('q', 'otp', 0, '+14155550002', 'h', 'text', 9999999999, 't', 'r', 'queued', 1, 1);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let mut s = Store::open(&path, options(true, 100)).unwrap();
        assert_eq!(s.depth(), 1);
        s.mark_failed_as(
            "q",
            "generic_failure",
            otp_shared::wire::FailureClass::GenericFailure,
            5,
        )
        .unwrap();
        let st = s.status("q", 5).unwrap().unwrap();
        assert_eq!(
            st.class,
            Some(otp_shared::wire::FailureClass::GenericFailure)
        );
        let n: i64 = s
            .conn
            .query_row("SELECT count(*) FROM sim_days", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }

    #[test]
    fn a_current_database_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        drop(store_in(&dir));
        let mut conn = Connection::open(dir.path().join("q.db")).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, VERSION);
    }
}
