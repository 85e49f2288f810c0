//! Durable state in SQLite (WAL): the message queue ([`queue`]), the delivery-report outbox
//! ([`outbox`]), seen nonces and settings such as the kill switch ([`meta`]). One thread owns the
//! connection and commits in groups ([`writer`]).

mod fair;
mod inbox;
mod meta;
mod outbox;
mod queue;
mod schema;
mod sims;
mod writer;

pub use inbox::{InboxItem, NewSms};
pub use outbox::OutboxItem;
pub use queue::{sim_key, Enqueued, Queued, ERR_FENCED, ERR_HOLD_LAPSED, ERR_SEND_UNCERTAIN, HELD};
pub use schema::number_hash;
pub use sims::{StoredRest, StoredUsage};
pub use writer::StoreHandle;

use crate::config::Synchronous;
use rusqlite::Connection;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("store thread stopped")]
    Closed,
}

/// How the store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub synchronous: Synchronous,
    /// Put into every status report.
    pub gateway_id: String,
    /// Whether state changes are written to the outbox (there is an edge to report to).
    pub reports: bool,
    /// Unfinished messages allowed before `queue_full`.
    pub max_depth: u64,
}

pub struct Store {
    conn: Connection,
    /// Unfinished messages (queued or sending), kept in memory so no enqueue has to count them.
    depth: u64,
    /// Hand-offs of an id already known, since the store opened (each a second send refused).
    duplicates: u64,
    opts: StoreOptions,
}

impl Store {
    pub fn open(path: &Path, opts: StoreOptions) -> Result<Store, StoreError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Deleted and overwritten content (a sent message's text and number) is zeroed in the file,
        // not left in free space for anyone who copies it.
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL fsyncs the WAL on every commit, so an acknowledged message survives power loss, not only a
        // process crash (NORMAL would). Group commit keeps this cheap.
        let sync = match opts.synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        schema::migrate(&mut conn)?;
        conn.execute_batch(fair::INDEX)?;
        let mut store = Store {
            conn,
            depth: 0,
            duplicates: 0,
            opts,
        };
        store.depth = store.count_unfinished()?;
        Ok(store)
    }

    /// Messages not yet finished (queued or sending).
    pub fn depth(&self) -> u64 {
        self.depth
    }

    /// Copies the WAL into the database and truncates it, so pages written before a message was
    /// scrubbed (its text, its number) do not linger in the WAL. Outside any transaction.
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Err(StoreError::Commit("checkpoint could not finish".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    pub const NOW: u64 = 1_764_000_000;

    pub fn options(reports: bool, max_depth: u64) -> StoreOptions {
        StoreOptions {
            synchronous: Synchronous::Full,
            gateway_id: "phone-1".into(),
            reports,
            max_depth,
        }
    }

    pub fn store_in(dir: &tempfile::TempDir) -> Store {
        Store::open(&dir.path().join("q.db"), options(true, 100)).unwrap()
    }

    pub fn req(id: &str, kind: otp_shared::wire::MessageKind) -> otp_shared::wire::SendRequest {
        otp_shared::wire::SendRequest {
            id: id.into(),
            kind,
            to: "+14155550123".into(),
            text: format!("text {id}"),
            expires_at: NOW + 300,
            sim_slot: None,
            tenant_id: "t".into(),
            request_id: format!("req_{id}"),
            share_weight: None,
        }
    }
}
