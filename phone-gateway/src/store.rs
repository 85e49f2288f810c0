//! Durable state in SQLite (WAL): the message queue, seen nonces, the report outbox, the send log used
//! for pacing, and the kill-switch flag.
//!
//! One thread owns the connection ([`StoreHandle`]). It takes every job waiting in its channel, runs them
//! in one transaction (each in its own savepoint, so one failing job does not undo the others), commits,
//! and only then answers the callers: group commit, so many acknowledgements share one fsync while no
//! caller hears "done" before its write is durable.

use crate::config::Synchronous;
use otp_shared::wire::{MessageKind, MessageState, SendRequest, StatusReport};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("store thread stopped")]
    Closed,
}

/// Error recorded when the gateway stopped while `termux-sms-send` was running: the SMS may have gone out.
pub const ERR_SEND_UNCERTAIN: &str = "send_uncertain";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  priority INTEGER NOT NULL,
  to_number TEXT NOT NULL,
  body TEXT NOT NULL,
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
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages(state, priority, seq);
CREATE INDEX IF NOT EXISTS messages_expiry ON messages(state, expires_at);
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

/// A queued message as the sender needs it. Holds the number and text: never log it whole.
#[derive(Clone)]
pub struct Queued {
    pub id: String,
    pub kind: MessageKind,
    pub to: String,
    pub text: String,
    pub expires_at: u64,
    pub sim_slot: Option<u8>,
    pub attempts: u32,
    pub request_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    Accepted {
        depth: u64,
    },
    Duplicate {
        state: MessageState,
        depth: u64,
    },
    Full,
    /// The pacing limits would hold it past its expiry: better another phone, or a clear no.
    NoCapacity,
}

#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub seq: i64,
    pub request_id: String,
    pub report: String,
    pub attempts: u32,
}

/// Sim key in the send log: the slot, or -1 for the phone's default SIM.
pub fn sim_key(slot: Option<u8>) -> i64 {
    slot.map(i64::from).unwrap_or(-1)
}

pub struct Store {
    conn: Connection,
    depth: u64,
    gateway_id: String,
    reports_enabled: bool,
    max_depth: u64,
}

impl Store {
    pub fn open(
        path: &Path,
        sync: Synchronous,
        gateway_id: &str,
        reports_enabled: bool,
        max_depth: u64,
    ) -> Result<Store, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL fsyncs the WAL on every commit, so an acknowledged message survives power loss, not only a
        // process crash (NORMAL would). Group commit keeps this cheap.
        let sync = match sync {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        let mut store = Store {
            conn,
            depth: 0,
            gateway_id: gateway_id.to_string(),
            reports_enabled,
            max_depth,
        };
        store.depth = store.count_unfinished()?;
        Ok(store)
    }

    fn count_unfinished(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM messages WHERE state IN ('queued','sending')",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Messages not yet finished (queued or sending).
    pub fn depth(&self) -> u64 {
        self.depth
    }

    /// Records a nonce; false if it was already seen.
    pub fn remember_nonce(&mut self, nonce: &str, ts: u64) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO nonces(nonce, ts) VALUES (?1, ?2)")?
            .execute(params![nonce, ts as i64])?;
        Ok(n == 1)
    }

    /// Queues a message unless its id is known (idempotent) or the queue is full.
    pub fn enqueue(&mut self, req: &SendRequest, now: u64) -> Result<Enqueued, StoreError> {
        self.enqueue_if(req, now, 0, |_| true)
    }

    /// [`Store::enqueue`], but only if `fits(n)` holds, where n is the number of queued messages that
    /// go before this one (same or higher priority), counted up to `count_up_to` (more cannot
    /// matter to the caller; 0 skips the count and the check).
    pub fn enqueue_if(
        &mut self,
        req: &SendRequest,
        now: u64,
        count_up_to: u64,
        fits: impl FnOnce(u64) -> bool,
    ) -> Result<Enqueued, StoreError> {
        let existing: Option<String> = self
            .conn
            .prepare_cached("SELECT state FROM messages WHERE id = ?1")?
            .query_row([&req.id], |r| r.get(0))
            .optional()?;
        if let Some(state) = existing {
            let state = MessageState::parse(&state).unwrap_or(MessageState::Failed);
            return Ok(Enqueued::Duplicate {
                state,
                depth: self.depth,
            });
        }
        if self.depth >= self.max_depth {
            return Ok(Enqueued::Full);
        }
        if count_up_to > 0 {
            let ahead: i64 = self
                .conn
                .prepare_cached(
                    "SELECT count(*) FROM (SELECT 1 FROM messages WHERE state = 'queued' AND priority <= ?1 LIMIT ?2)",
                )?
                .query_row(params![req.kind.priority(), count_up_to as i64], |r| r.get(0))?;
            if !fits(ahead as u64) {
                return Ok(Enqueued::NoCapacity);
            }
        }
        self.conn
            .prepare_cached(
                "INSERT INTO messages(id, kind, priority, to_number, body, expires_at, sim_slot, tenant_id,
                   request_id, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'queued', ?10, ?10)",
            )?
            .execute(params![
                req.id,
                req.kind.as_str(),
                req.kind.priority(),
                req.to,
                req.text,
                req.expires_at as i64,
                req.sim_slot,
                req.tenant_id,
                req.request_id,
                now as i64
            ])?;
        self.report(&req.id, &req.request_id, MessageState::Queued, 0, None, now)?;
        self.depth += 1;
        Ok(Enqueued::Accepted { depth: self.depth })
    }

    fn report(
        &mut self,
        id: &str,
        request_id: &str,
        state: MessageState,
        attempts: u32,
        error: Option<&str>,
        now: u64,
    ) -> Result<(), StoreError> {
        if !self.reports_enabled {
            return Ok(());
        }
        let report = StatusReport {
            id: id.to_string(),
            state,
            attempts,
            error: error.map(str::to_string),
            at: now,
            gateway_id: self.gateway_id.clone(),
        };
        let json = serde_json::to_string(&report).expect("report serialises");
        self.conn
            .prepare_cached(
                "INSERT INTO outbox(message_id, request_id, report) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id, request_id, json])?;
        Ok(())
    }

    pub fn status(&self, id: &str, now: u64) -> Result<Option<StatusReport>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT state, attempts, last_error, updated_at FROM messages WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .optional()?;
        Ok(row.map(|(state, attempts, error, at)| StatusReport {
            id: id.to_string(),
            state: MessageState::parse(&state).unwrap_or(MessageState::Failed),
            attempts,
            error,
            at: if at > 0 { at as u64 } else { now },
            gateway_id: self.gateway_id.clone(),
        }))
    }

    /// Ready messages in send order: priority, then arrival.
    pub fn ready(&self, now_ms: i64, limit: usize) -> Result<Vec<Queued>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, kind, to_number, body, expires_at, sim_slot, attempts, request_id FROM messages
             WHERE state = 'queued' AND next_attempt_ms <= ?1 ORDER BY priority, seq LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now_ms, limit as i64], |r| {
            Ok(Queued {
                id: r.get(0)?,
                kind: MessageKind::parse(&r.get::<_, String>(1)?)
                    .unwrap_or(MessageKind::Notification),
                to: r.get(2)?,
                text: r.get(3)?,
                expires_at: r.get::<_, i64>(4)? as u64,
                sim_slot: r.get(5)?,
                attempts: r.get(6)?,
                request_id: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The earliest retry time among queued messages waiting for backoff.
    pub fn next_retry_ms(&self, now_ms: i64) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT min(next_attempt_ms) FROM messages WHERE state = 'queued' AND next_attempt_ms > ?1")?
            .query_row([now_ms], |r| r.get(0))?)
    }

    /// Marks a message 'sending' and logs the attempt, durably, before the program runs.
    pub fn begin_send(
        &mut self,
        id: &str,
        sim: Option<u8>,
        now_ms: i64,
    ) -> Result<u32, StoreError> {
        let attempts: u32 = self
            .conn
            .prepare_cached(
                "UPDATE messages SET state = 'sending', attempts = attempts + 1, sim_used = ?2, updated_at = ?3
                 WHERE id = ?1 AND state = 'queued' RETURNING attempts",
            )?
            .query_row(params![id, sim, now_ms / 1000], |r| r.get(0))?;
        self.conn
            .prepare_cached("INSERT INTO send_log(sim, at_ms) VALUES (?1, ?2)")?
            .execute(params![sim_key(sim), now_ms])?;
        Ok(attempts)
    }

    fn finish(
        &mut self,
        id: &str,
        state: MessageState,
        error: Option<&str>,
        now: u64,
    ) -> Result<(), StoreError> {
        let (attempts, request_id): (u32, String) = self
            .conn
            .prepare_cached(
                "UPDATE messages SET state = ?2, last_error = ?3, updated_at = ?4
                 WHERE id = ?1 AND state IN ('queued','sending') RETURNING attempts, request_id",
            )?
            .query_row(params![id, state.as_str(), error, now as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        self.depth = self.depth.saturating_sub(1);
        self.report(id, &request_id, state, attempts, error, now)
    }

    pub fn mark_sent(&mut self, id: &str, now: u64) -> Result<(), StoreError> {
        self.finish(id, MessageState::Sent, None, now)
    }

    pub fn mark_failed(&mut self, id: &str, error: &str, now: u64) -> Result<(), StoreError> {
        self.finish(id, MessageState::Failed, Some(error), now)
    }

    pub fn mark_expired(&mut self, id: &str, now: u64) -> Result<(), StoreError> {
        self.finish(id, MessageState::Expired, Some("expired"), now)
    }

    /// Puts a failed attempt back in the queue for a later retry.
    pub fn retry_later(
        &mut self,
        id: &str,
        error: &str,
        next_ms: i64,
        now: u64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE messages SET state = 'queued', last_error = ?2, next_attempt_ms = ?3, updated_at = ?4
                 WHERE id = ?1 AND state = 'sending'",
            )?
            .execute(params![id, error, next_ms, now as i64])?;
        Ok(())
    }

    /// Marks every queued message whose TTL has passed as expired; returns how many.
    pub fn expire_due(&mut self, now: u64) -> Result<usize, StoreError> {
        let ids: Vec<String> = self
            .conn
            .prepare_cached("SELECT id FROM messages WHERE state = 'queued' AND expires_at <= ?1")?
            .query_map([now as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for id in &ids {
            self.mark_expired(id, now)?;
        }
        Ok(ids.len())
    }

    /// After a crash: a message left in 'sending' may or may not have gone out. It is never sent again
    /// (a duplicate OTP is worse than a missing one the user can re-request); it is failed as
    /// `send_uncertain` and reported so the edge can decide.
    pub fn recover_interrupted(&mut self, now: u64) -> Result<Vec<String>, StoreError> {
        let ids: Vec<String> = self
            .conn
            .prepare_cached("SELECT id FROM messages WHERE state = 'sending'")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for id in &ids {
            self.mark_failed(id, ERR_SEND_UNCERTAIN, now)?;
        }
        Ok(ids)
    }

    pub fn outbox_head(&self, limit: usize) -> Result<Vec<OutboxItem>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, request_id, report, attempts FROM outbox ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(OutboxItem {
                seq: r.get(0)?,
                request_id: r.get(1)?,
                report: r.get(2)?,
                attempts: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn outbox_delivered(&mut self, seq: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM outbox WHERE seq = ?1")?
            .execute([seq])?;
        Ok(())
    }

    pub fn outbox_failed(&mut self, seq: i64, next_ms: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?2 WHERE seq = ?1",
            )?
            .execute(params![seq, next_ms])?;
        Ok(())
    }

    /// (sim key, at_ms) of attempts since `since_ms`, oldest first.
    pub fn send_log_since(&self, since_ms: i64) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT sim, at_ms FROM send_log WHERE at_ms > ?1 ORDER BY at_ms")?;
        let rows = stmt.query_map([since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    pub fn set_meta(&mut self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        match value {
            Some(v) => self
                .conn
                .prepare_cached("INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2")?
                .execute(params![key, v])?,
            None => self.conn.prepare_cached("DELETE FROM meta WHERE key = ?1")?.execute([key])?,
        };
        Ok(())
    }

    /// Deletes finished messages older than `retention_secs`, nonces older than `nonce_keep_secs`, and
    /// send-log rows older than `log_keep_ms`. Returns deleted message count.
    pub fn cleanup(
        &mut self,
        now: u64,
        retention_secs: u64,
        nonce_keep_secs: u64,
        log_keep_ms: i64,
    ) -> Result<usize, StoreError> {
        let cutoff = now.saturating_sub(retention_secs) as i64;
        let n = self.conn.execute(
            "DELETE FROM messages WHERE state IN ('sent','failed','expired') AND updated_at < ?1",
            [cutoff],
        )?;
        self.conn.execute(
            "DELETE FROM nonces WHERE ts < ?1",
            [now.saturating_sub(nonce_keep_secs) as i64],
        )?;
        let now_ms = (now as i64) * 1000;
        self.conn.execute(
            "DELETE FROM send_log WHERE at_ms < ?1",
            [now_ms - log_keep_ms],
        )?;
        Ok(n)
    }
}

// ---------------------------------------------------------------------------------------------------------
// The writer thread

type Deliver = Box<dyn FnOnce(Option<String>) + Send>;
/// Runs against the store, or (None) only answers with an error when no transaction could start.
type Job = Box<dyn FnOnce(Option<&mut Store>) -> (bool, Deliver) + Send>;

/// Async handle to the store thread. Cheap to clone.
#[derive(Clone)]
pub struct StoreHandle {
    tx: mpsc::UnboundedSender<Job>,
}

/// Most jobs folded into one transaction.
const MAX_BATCH: usize = 2048;

impl StoreHandle {
    pub fn spawn(mut store: Store) -> StoreHandle {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        std::thread::Builder::new()
            .name("store".into())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut jobs = vec![first];
                    while jobs.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                    run_batch(&mut store, jobs);
                }
            })
            .expect("spawn store thread");
        StoreHandle { tx }
    }

    /// Runs `f` on the store thread; the result arrives only after its transaction committed.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |store| {
            let res = match store {
                Some(store) => f(store),
                None => Err(StoreError::Commit("could not begin a transaction".into())),
            };
            let ok = res.is_ok();
            let deliver: Deliver = Box::new(move |commit_err| {
                let _ = tx.send(match commit_err {
                    Some(e) => Err(StoreError::Commit(e)),
                    None => res,
                });
            });
            (ok, deliver)
        });
        self.tx.send(job).map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

fn run_batch(store: &mut Store, jobs: Vec<Job>) {
    let mut delivers = Vec::with_capacity(jobs.len());
    if let Err(e) = store.conn.execute_batch("BEGIN IMMEDIATE") {
        for job in jobs {
            let (_, d) = job(None);
            d(Some(e.to_string()));
        }
        return;
    }
    for job in jobs {
        let depth_before = store.depth;
        let _ = store.conn.execute_batch("SAVEPOINT job");
        let (ok, deliver) = job(Some(&mut *store));
        if ok {
            let _ = store.conn.execute_batch("RELEASE job");
        } else {
            let _ = store.conn.execute_batch("ROLLBACK TO job; RELEASE job");
            store.depth = depth_before;
        }
        delivers.push(deliver);
    }
    let commit = store
        .conn
        .execute_batch("COMMIT")
        .err()
        .map(|e| e.to_string());
    if commit.is_some() {
        let _ = store.conn.execute_batch("ROLLBACK");
        if let Ok(d) = store.count_unfinished() {
            store.depth = d;
        }
    }
    for d in delivers {
        d(commit.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_764_000_000;

    fn store_in(dir: &tempfile::TempDir) -> Store {
        Store::open(
            &dir.path().join("q.db"),
            Synchronous::Full,
            "phone-1",
            true,
            100,
        )
        .unwrap()
    }

    fn req(id: &str, kind: MessageKind) -> SendRequest {
        SendRequest {
            id: id.into(),
            kind,
            to: "+14155550123".into(),
            text: format!("text {id}"),
            expires_at: NOW + 300,
            sim_slot: None,
            tenant_id: "t".into(),
            request_id: format!("req_{id}"),
        }
    }

    fn ready_ids(s: &Store) -> Vec<String> {
        s.ready(i64::MAX, 100)
            .unwrap()
            .into_iter()
            .map(|q| q.id)
            .collect()
    }

    #[test]
    fn priorities_order_otp_before_direct_before_notification() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        s.enqueue(&req("n1", MessageKind::Notification), NOW)
            .unwrap();
        s.enqueue(&req("d1", MessageKind::Direct), NOW).unwrap();
        s.enqueue(&req("o1", MessageKind::Otp), NOW).unwrap();
        s.enqueue(&req("o2", MessageKind::Otp), NOW).unwrap();
        assert_eq!(ready_ids(&s), ["o1", "o2", "d1", "n1"]);
    }

    #[test]
    fn same_id_is_queued_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        assert_eq!(
            s.enqueue(&req("a", MessageKind::Otp), NOW).unwrap(),
            Enqueued::Accepted { depth: 1 }
        );
        assert_eq!(
            s.enqueue(&req("a", MessageKind::Otp), NOW).unwrap(),
            Enqueued::Duplicate {
                state: MessageState::Queued,
                depth: 1
            }
        );
        assert_eq!(ready_ids(&s), ["a"]);
    }

    #[test]
    fn full_queue_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let mut s =
            Store::open(&dir.path().join("q.db"), Synchronous::Full, "p", false, 1).unwrap();
        s.enqueue(&req("a", MessageKind::Otp), NOW).unwrap();
        assert_eq!(
            s.enqueue(&req("b", MessageKind::Otp), NOW).unwrap(),
            Enqueued::Full
        );
    }

    #[test]
    fn expired_messages_leave_the_queue_and_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        let mut short = req("short", MessageKind::Otp);
        short.expires_at = NOW + 10;
        s.enqueue(&short, NOW).unwrap();
        s.enqueue(&req("long", MessageKind::Otp), NOW).unwrap();
        assert_eq!(s.expire_due(NOW + 10).unwrap(), 1);
        assert_eq!(ready_ids(&s), ["long"]);
        assert_eq!(
            s.status("short", NOW).unwrap().unwrap().state,
            MessageState::Expired
        );
        let reports: Vec<StatusReport> = s
            .outbox_head(10)
            .unwrap()
            .iter()
            .map(|o| serde_json::from_str(&o.report).unwrap())
            .collect();
        assert_eq!(reports.last().unwrap().state, MessageState::Expired);
        assert_eq!(reports.last().unwrap().id, "short");
        assert_eq!(s.depth(), 1);
    }

    #[test]
    fn interrupted_send_is_failed_uncertain_after_restart_not_resent() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = store_in(&dir);
            s.enqueue(&req("a", MessageKind::Otp), NOW).unwrap();
            s.enqueue(&req("b", MessageKind::Otp), NOW).unwrap();
            assert_eq!(s.begin_send("a", None, (NOW as i64) * 1000).unwrap(), 1);
        } // crash: 'a' left in 'sending'
        let mut s = store_in(&dir);
        assert_eq!(s.depth(), 2);
        assert_eq!(
            s.recover_interrupted(NOW + 5).unwrap(),
            vec!["a".to_string()]
        );
        let st = s.status("a", NOW).unwrap().unwrap();
        assert_eq!(
            (st.state, st.error.as_deref()),
            (MessageState::Failed, Some(ERR_SEND_UNCERTAIN))
        );
        assert_eq!(ready_ids(&s), ["b"]);
        assert_eq!(s.depth(), 1);
        assert_eq!(s.send_log_since(0).unwrap().len(), 1);
    }

    #[test]
    fn retry_waits_for_its_time_and_counts_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        s.enqueue(&req("a", MessageKind::Otp), NOW).unwrap();
        let t = (NOW as i64) * 1000;
        s.begin_send("a", Some(1), t).unwrap();
        s.retry_later("a", "exit_status_1", t + 5000, NOW).unwrap();
        assert!(s.ready(t + 4999, 10).unwrap().is_empty());
        assert_eq!(s.next_retry_ms(t).unwrap(), Some(t + 5000));
        let q = s.ready(t + 5000, 10).unwrap();
        assert_eq!(q[0].attempts, 1);
        assert_eq!(s.begin_send("a", Some(1), t + 5000).unwrap(), 2);
        s.mark_sent("a", NOW + 6).unwrap();
        let st = s.status("a", NOW).unwrap().unwrap();
        assert_eq!((st.state, st.attempts), (MessageState::Sent, 2));
    }

    #[test]
    fn nonces_are_single_use_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        assert!(s.remember_nonce("n1", NOW).unwrap());
        assert!(!s.remember_nonce("n1", NOW).unwrap());
        s.cleanup(NOW + 601, 3600, 600, 1000).unwrap();
        assert!(s.remember_nonce("n1", NOW).unwrap());
    }

    #[test]
    fn cleanup_removes_only_old_finished_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        s.enqueue(&req("old", MessageKind::Otp), NOW).unwrap();
        s.enqueue(&req("waiting", MessageKind::Otp), NOW).unwrap();
        s.begin_send("old", None, (NOW as i64) * 1000).unwrap();
        s.mark_sent("old", NOW).unwrap();
        assert_eq!(s.cleanup(NOW + 100, 50, 600, 1000).unwrap(), 1);
        assert!(s.status("old", NOW).unwrap().is_none());
        assert!(s.status("waiting", NOW).unwrap().is_some());
    }

    #[test]
    fn reports_disabled_writes_no_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let mut s =
            Store::open(&dir.path().join("q.db"), Synchronous::Full, "p", false, 10).unwrap();
        s.enqueue(&req("a", MessageKind::Otp), NOW).unwrap();
        assert!(s.outbox_head(10).unwrap().is_empty());
    }

    #[tokio::test]
    async fn handle_acks_after_commit_and_isolates_failing_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let h = StoreHandle::spawn(store_in(&dir));
        let mut tasks = Vec::new();
        for i in 0..50 {
            let h = h.clone();
            tasks.push(tokio::spawn(async move {
                h.call(move |s| s.enqueue(&req(&format!("m{i}"), MessageKind::Direct), NOW))
                    .await
            }));
        }
        // a job that writes then fails must leave nothing behind
        let bad = h
            .call(|s| {
                s.enqueue(&req("ghost", MessageKind::Otp), NOW)?;
                s.conn.execute("INSERT INTO no_such_table VALUES (1)", [])?;
                Ok(())
            })
            .await;
        assert!(bad.is_err());
        for t in tasks {
            assert!(matches!(
                t.await.unwrap().unwrap(),
                Enqueued::Accepted { .. }
            ));
        }
        // a fresh connection sees every acknowledged row
        let other = store_in(&dir);
        assert_eq!(other.depth(), 50);
        assert!(other.status("ghost", NOW).unwrap().is_none());
        assert_eq!(h.call(|s| Ok(s.depth())).await.unwrap(), 50);
    }
}
