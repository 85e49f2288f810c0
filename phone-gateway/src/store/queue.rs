//! The message queue: idempotent enqueue, send order, the 'sending' window, retries, expiry, crash
//! recovery, and the attempt log the pacer is rebuilt from.

use super::schema::{number_hash, FINISHED};
use super::{Store, StoreError};
use otp_shared::wire::{
    FailureClass, MessageKind, MessageState, SendRequest, StatusReport, HOLD_SECS,
};
use rusqlite::{params, OptionalExtension};

/// Error recorded when the gateway stopped while `termux-sms-send` was running: the SMS may have gone out.
pub const ERR_SEND_UNCERTAIN: &str = "send_uncertain";

/// A held message (`POST /v1/send/held`) is queued with this `next_attempt_ms`, so the sender
/// never picks it, and `last_error` [`HELD`] (what its status shows) until it is released; its
/// hold lapses `HOLD_SECS` after `updated_at`. No column of its own: a queue of any version holds.
pub(super) const HELD_MS: i64 = i64::MAX;
pub const HELD: &str = otp_shared::wire::ERR_HELD;
/// A hold not released in time: failed as `canceled`, certainly never sent.
pub const ERR_HOLD_LAPSED: &str = "hold_lapsed";
/// An id fenced off after a hand-off whose answer the edge lost (`POST /v1/messages/{id}/fence`).
pub const ERR_FENCED: &str = "fenced";

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
    pub tenant_id: String,
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

/// The columns a [`Queued`] is read from, in [`queued_row`]'s order.
pub(super) const QUEUED_COLUMNS: &str =
    "id, kind, to_number, body, expires_at, sim_slot, attempts, request_id, tenant_id";

pub(super) fn queued_row(r: &rusqlite::Row) -> rusqlite::Result<Queued> {
    Ok(Queued {
        id: r.get(0)?,
        kind: MessageKind::parse(&r.get::<_, String>(1)?).unwrap_or(MessageKind::Notification),
        to: r.get(2)?,
        text: r.get(3)?,
        expires_at: r.get::<_, i64>(4)? as u64,
        sim_slot: r.get(5)?,
        attempts: r.get(6)?,
        request_id: r.get(7)?,
        tenant_id: r.get(8)?,
    })
}

/// Sim key in the send log: the slot, or -1 for the phone's default SIM.
pub fn sim_key(slot: Option<u8>) -> i64 {
    slot.map(i64::from).unwrap_or(-1)
}

impl Store {
    pub(super) fn count_unfinished(&self) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM messages WHERE state IN ('queued','sending')",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
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
            self.duplicates += 1;
            return Ok(Enqueued::Duplicate {
                state,
                depth: self.depth,
            });
        }
        if self.depth >= self.opts.max_depth {
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
                "INSERT INTO messages(id, kind, priority, to_number, to_sha256, body, expires_at, sim_slot,
                   tenant_id, request_id, state, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?11, ?5, ?6, ?7, ?8, ?9, 'queued', ?10, ?10)",
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
                now as i64,
                number_hash(&req.to),
            ])?;
        // No report: the 202 of the hand-off already says queued.
        self.depth += 1;
        Ok(Enqueued::Accepted { depth: self.depth })
    }

    pub fn status(&self, id: &str, now: u64) -> Result<Option<StatusReport>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT state, attempts, last_error, updated_at, fail_class FROM messages WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })
            .optional()?;
        Ok(row.map(|(state, attempts, error, at, class)| StatusReport {
            id: id.to_string(),
            state: MessageState::parse(&state).unwrap_or(MessageState::Failed),
            attempts,
            error,
            at: if at > 0 { at as u64 } else { now },
            gateway_id: self.opts.gateway_id.clone(),
            class: class.as_deref().and_then(FailureClass::parse),
        }))
    }

    /// Ready messages in send order: priority, then arrival.
    pub fn ready(&self, now_ms: i64, limit: usize) -> Result<Vec<Queued>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {QUEUED_COLUMNS} FROM messages
                 WHERE state = 'queued' AND next_attempt_ms <= ?1 AND next_attempt_ms < {HELD_MS}
                 ORDER BY priority, seq LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![now_ms, limit as i64], queued_row)?;
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
    ) -> Result<Option<u32>, StoreError> {
        // `None`: the row is no longer queued (canceled or expired since it was picked).
        let Some((attempts, request_id)): Option<(u32, String)> = self
            .conn
            .prepare_cached(
                "UPDATE messages SET state = 'sending', attempts = attempts + 1, sim_used = ?2, updated_at = ?3
                 WHERE id = ?1 AND state = 'queued' RETURNING attempts, request_id",
            )?
            .query_row(params![id, sim, now_ms / 1000], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?
        else {
            return Ok(None);
        };
        self.conn
            .prepare_cached("INSERT INTO send_log(sim, at_ms) VALUES (?1, ?2)")?
            .execute(params![sim_key(sim), now_ms])?;
        let now = (now_ms / 1000) as u64;
        let change = self.change(id, MessageState::Sending, attempts, None, None, now);
        self.report(&request_id, change)?;
        Ok(Some(attempts))
    }

    fn finish(
        &mut self,
        id: &str,
        state: MessageState,
        error: Option<&str>,
        class: Option<FailureClass>,
        now: u64,
    ) -> Result<(), StoreError> {
        let (attempts, request_id, class): (u32, String, Option<String>) = self
            .conn
            .prepare_cached(
                // Finished: the text and the number are no longer needed; the hash stays. A
                // failure after an attempt that may have sent (a retried time-out) is uncertain,
                // whatever the last attempt said.
                "UPDATE messages SET state = ?2, last_error = ?3, updated_at = ?4, to_number = NULL,
                   body = NULL,
                   fail_class = CASE WHEN ?5 IS NOT NULL AND may_have_sent THEN 'uncertain' ELSE ?5 END
                 WHERE id = ?1 AND state IN ('queued','sending') RETURNING attempts, request_id, fail_class",
            )?
            .query_row(
                params![id, state.as_str(), error, now as i64, class.map(|c| c.as_str())],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
        self.depth = self.depth.saturating_sub(1);
        let class = class.as_deref().and_then(FailureClass::parse);
        let change = self.change(id, state, attempts, error, class, now);
        self.report(&request_id, change)
    }

    pub fn mark_sent(&mut self, id: &str, now: u64) -> Result<(), StoreError> {
        self.finish(id, MessageState::Sent, None, None, now)
    }

    /// Fails a message with a short error code; its class follows from the code
    /// (`send_uncertain` is uncertain, anything else unexplained). See [`Store::mark_failed_as`].
    pub fn mark_failed(&mut self, id: &str, error: &str, now: u64) -> Result<(), StoreError> {
        let class = if error == ERR_SEND_UNCERTAIN {
            FailureClass::Uncertain
        } else {
            FailureClass::Unknown
        };
        self.mark_failed_as(id, error, class, now)
    }

    /// Fails a message with its error code and class (what the edge decides a reroute by).
    pub fn mark_failed_as(
        &mut self,
        id: &str,
        error: &str,
        class: FailureClass,
        now: u64,
    ) -> Result<(), StoreError> {
        self.finish(id, MessageState::Failed, Some(error), Some(class), now)
    }

    pub fn mark_expired(&mut self, id: &str, now: u64) -> Result<(), StoreError> {
        self.finish(id, MessageState::Expired, Some("expired"), None, now)
    }

    /// Remembers that an attempt of this message may have sent it (a time-out retried because
    /// `sender.retry_on_timeout` allows it): if it fails in the end, it fails as uncertain.
    pub fn note_may_have_sent(&mut self, id: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("UPDATE messages SET may_have_sent = 1 WHERE id = ?1")?
            .execute([id])?;
        Ok(())
    }

    /// Takes a message out of the queue if no attempt is running: it fails as `canceled` (and is
    /// reported so). `None`: unknown id; `Some((false, state))`: left as it was.
    pub fn cancel(
        &mut self,
        id: &str,
        now: u64,
    ) -> Result<Option<(bool, MessageState)>, StoreError> {
        let state: Option<String> = self
            .conn
            .prepare_cached("SELECT state FROM messages WHERE id = ?1")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        let Some(state) = state.as_deref().and_then(MessageState::parse) else {
            return Ok(None);
        };
        if state != MessageState::Queued {
            return Ok(Some((false, state)));
        }
        self.mark_failed_as(id, "canceled", FailureClass::Canceled, now)?;
        Ok(Some((true, MessageState::Failed)))
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

    /// Undoes an attempt that never started (the program could not be spawned): back to the queue
    /// for `next_ms`, the attempt uncounted and taken out of the attempt log.
    pub fn not_started(
        &mut self,
        id: &str,
        sim: Option<u8>,
        at_ms: i64,
        error: &str,
        next_ms: i64,
        now: u64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE messages SET state = 'queued', attempts = attempts - 1, last_error = ?2,
                   next_attempt_ms = ?3, updated_at = ?4
                 WHERE id = ?1 AND state = 'sending'",
            )?
            .execute(params![id, error, next_ms, now as i64])?;
        self.conn
            .prepare_cached(
                "DELETE FROM send_log WHERE rowid = (SELECT rowid FROM send_log WHERE sim = ?1 AND at_ms = ?2 LIMIT 1)",
            )?
            .execute(params![sim_key(sim), at_ms])?;
        Ok(())
    }

    /// Marks every queued message whose TTL has passed as expired, and fails every hold that
    /// lapsed; returns how many.
    pub fn expire_due(&mut self, now: u64) -> Result<usize, StoreError> {
        let ids: Vec<String> = self
            .conn
            .prepare_cached("SELECT id FROM messages WHERE state = 'queued' AND expires_at <= ?1")?
            .query_map([now as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for id in &ids {
            self.mark_expired(id, now)?;
        }
        let lapsed: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT id FROM messages WHERE state = 'queued' AND next_attempt_ms = ?1 AND updated_at <= ?2",
            )?
            .query_map(params![HELD_MS, now as i64 - HOLD_SECS as i64], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for id in &lapsed {
            self.mark_failed_as(id, ERR_HOLD_LAPSED, FailureClass::Canceled, now)?;
        }
        Ok(ids.len() + lapsed.len())
    }

    /// Holds a message just queued: the sender leaves it until [`Store::release`].
    pub fn hold(&mut self, id: &str, now: u64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE messages SET next_attempt_ms = ?2, last_error = ?3, updated_at = ?4
                 WHERE id = ?1 AND state = 'queued'",
            )?
            .execute(params![id, HELD_MS, HELD, now as i64])?;
        Ok(())
    }

    /// Lets a held message go. `None`: unknown id; `Some((released, state))`: `released` when it
    /// may be (or already was) sent; a hold that lapsed, or a message canceled, is not.
    pub fn release(
        &mut self,
        id: &str,
        now: u64,
    ) -> Result<Option<(bool, MessageState)>, StoreError> {
        let row: Option<(String, i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT state, next_attempt_ms, updated_at FROM messages WHERE id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((state, next, at)) = row else {
            return Ok(None);
        };
        let state = MessageState::parse(&state).unwrap_or(MessageState::Failed);
        if state == MessageState::Queued && next == HELD_MS {
            if at + HOLD_SECS as i64 <= now as i64 {
                self.mark_failed_as(id, ERR_HOLD_LAPSED, FailureClass::Canceled, now)?;
                return Ok(Some((false, MessageState::Failed)));
            }
            self.conn
                .prepare_cached(
                    "UPDATE messages SET next_attempt_ms = 0, last_error = NULL, updated_at = ?2
                     WHERE id = ?1",
                )?
                .execute(params![id, now as i64])?;
            return Ok(Some((true, MessageState::Queued)));
        }
        let released = !matches!(state, MessageState::Failed | MessageState::Expired);
        Ok(Some((released, state)))
    }

    /// After a hand-off whose answer the edge lost: what this phone knows of `id`, or, if it has
    /// never seen it, a finished record of it (failed, `canceled`, no number or text) so a late
    /// copy of the request is a duplicate and never sent. `None`: fenced now.
    pub fn fence(&mut self, id: &str, now: u64) -> Result<Option<StatusReport>, StoreError> {
        if let Some(r) = self.status(id, now)? {
            return Ok(Some(r));
        }
        self.conn
            .prepare_cached(
                "INSERT INTO messages(id, kind, priority, to_number, to_sha256, body, expires_at,
                   tenant_id, request_id, state, created_at, updated_at, last_error, fail_class)
                 VALUES (?1, 'notification', 2, NULL, '', NULL, ?2, '', '', 'failed', ?2, ?2, ?3, 'canceled')",
            )?
            .execute(params![id, now as i64, ERR_FENCED])?;
        Ok(None)
    }

    /// Hand-offs of an id already known since the store opened.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
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

    /// (sim key, at_ms) of attempts since `since_ms`, oldest first.
    pub fn send_log_since(&self, since_ms: i64) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT sim, at_ms FROM send_log WHERE at_ms > ?1 ORDER BY at_ms")?;
        let rows = stmt.query_map([since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes finished messages last changed before `before` (unix s); returns how many.
    pub fn delete_finished(&mut self, before: u64) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            &format!("DELETE FROM messages WHERE state IN {FINISHED} AND updated_at < ?1"),
            [before as i64],
        )?)
    }

    /// Forgets send attempts older than `before_ms`: the pacer never looks back that far.
    pub fn prune_send_log(&mut self, before_ms: i64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM send_log WHERE at_ms < ?1", [before_ms])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Store;
    use super::*;

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
        let mut s = Store::open(&dir.path().join("q.db"), options(false, 1)).unwrap();
        s.enqueue(&req("a", MessageKind::Otp), NOW).unwrap();
        assert_eq!(
            s.enqueue(&req("b", MessageKind::Otp), NOW).unwrap(),
            Enqueued::Full
        );
    }

    #[test]
    fn expired_messages_leave_the_queue() {
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
        assert_eq!(s.depth(), 1);
    }

    #[test]
    fn interrupted_send_is_failed_uncertain_after_restart_not_resent() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = store_in(&dir);
            s.enqueue(&req("a", MessageKind::Otp), NOW).unwrap();
            s.enqueue(&req("b", MessageKind::Otp), NOW).unwrap();
            assert_eq!(
                s.begin_send("a", None, (NOW as i64) * 1000).unwrap(),
                Some(1)
            );
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
        assert_eq!(s.begin_send("a", Some(1), t + 5000).unwrap(), Some(2));
        s.mark_sent("a", NOW + 6).unwrap();
        let st = s.status("a", NOW).unwrap().unwrap();
        assert_eq!((st.state, st.attempts), (MessageState::Sent, 2));
    }

    #[test]
    fn an_attempt_that_never_started_is_not_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        s.enqueue(&req("a", MessageKind::Otp), NOW).unwrap();
        let t = (NOW as i64) * 1000;
        assert_eq!(s.begin_send("a", None, t).unwrap(), Some(1));
        s.not_started("a", None, t, "spawn_resources", t + 100, NOW)
            .unwrap();
        assert!(s.send_log_since(0).unwrap().is_empty());
        let q = s.ready(t + 100, 10).unwrap();
        assert_eq!((q[0].id.as_str(), q[0].attempts), ("a", 0));
        assert_eq!(s.begin_send("a", None, t + 100).unwrap(), Some(1));
    }

    #[test]
    fn a_held_message_waits_for_its_release_and_lapses_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        for id in ["kept", "lapsed"] {
            assert!(matches!(
                s.enqueue(&req(id, MessageKind::Otp), NOW).unwrap(),
                Enqueued::Accepted { .. }
            ));
            s.hold(id, NOW).unwrap();
        }
        assert!(ready_ids(&s).is_empty(), "a held message is never sent");
        assert_eq!(
            s.status("kept", NOW).unwrap().unwrap().error.as_deref(),
            Some(HELD)
        );
        assert_eq!(
            s.release("kept", NOW + 1).unwrap(),
            Some((true, MessageState::Queued))
        );
        assert_eq!(ready_ids(&s), ["kept"]);
        // A release repeated (its answer was lost) says the same.
        assert_eq!(
            s.release("kept", NOW + 2).unwrap(),
            Some((true, MessageState::Queued))
        );
        assert_eq!(s.expire_due(NOW + HOLD_SECS).unwrap(), 1);
        let r = s.status("lapsed", NOW + HOLD_SECS).unwrap().unwrap();
        assert_eq!(r.state, MessageState::Failed);
        assert_eq!(r.class, Some(FailureClass::Canceled));
        assert_eq!(
            s.release("lapsed", NOW + HOLD_SECS).unwrap(),
            Some((false, MessageState::Failed))
        );
        assert_eq!(s.release("nobody", NOW).unwrap(), None);
    }

    #[test]
    fn a_fenced_id_is_never_queued_and_a_known_one_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        s.enqueue(&req("known", MessageKind::Otp), NOW).unwrap();
        let known = s.fence("known", NOW).unwrap().unwrap();
        assert_eq!(known.state, MessageState::Queued);
        assert_eq!(s.fence("late", NOW).unwrap(), None);
        // The request that was on its way arrives after the fence: a duplicate, never sent.
        assert!(matches!(
            s.enqueue(&req("late", MessageKind::Otp), NOW).unwrap(),
            Enqueued::Duplicate {
                state: MessageState::Failed,
                ..
            }
        ));
        assert_eq!(s.duplicates(), 1);
        assert_eq!(ready_ids(&s), ["known"]);
        let fenced = s.status("late", NOW).unwrap().unwrap();
        assert_eq!(
            (fenced.state, fenced.class),
            (MessageState::Failed, Some(FailureClass::Canceled))
        );
        assert_eq!(s.depth(), 1);
    }

    #[test]
    fn cancel_takes_only_a_message_not_yet_started() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        s.enqueue(&req("q", MessageKind::Otp), NOW).unwrap();
        s.enqueue(&req("busy", MessageKind::Otp), NOW).unwrap();
        s.begin_send("busy", None, (NOW as i64) * 1000).unwrap();
        assert_eq!(
            s.cancel("q", NOW).unwrap(),
            Some((true, MessageState::Failed))
        );
        let st = s.status("q", NOW).unwrap().unwrap();
        assert_eq!(
            (st.error.as_deref(), st.class),
            (Some("canceled"), Some(FailureClass::Canceled))
        );
        assert_eq!(
            s.cancel("busy", NOW).unwrap(),
            Some((false, MessageState::Sending))
        );
        assert_eq!(s.cancel("nope", NOW).unwrap(), None);
        assert_eq!(s.depth(), 1);
    }

    #[test]
    fn a_failure_after_a_retried_time_out_is_uncertain() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        s.enqueue(&req("a", MessageKind::Otp), NOW).unwrap();
        s.note_may_have_sent("a").unwrap();
        s.mark_failed_as("a", "generic_failure", FailureClass::GenericFailure, NOW)
            .unwrap();
        assert_eq!(
            s.status("a", NOW).unwrap().unwrap().class,
            Some(FailureClass::Uncertain)
        );
    }

    #[test]
    fn cleanup_removes_only_old_finished_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        s.enqueue(&req("old", MessageKind::Otp), NOW).unwrap();
        s.enqueue(&req("waiting", MessageKind::Otp), NOW).unwrap();
        s.begin_send("old", None, (NOW as i64) * 1000).unwrap();
        s.mark_sent("old", NOW).unwrap();
        assert_eq!(s.delete_finished(NOW + 50).unwrap(), 1);
        assert!(s.status("old", NOW).unwrap().is_none());
        assert!(s.status("waiting", NOW).unwrap().is_some());
        s.prune_send_log((NOW as i64) * 1000 + 1).unwrap();
        assert!(s.send_log_since(0).unwrap().is_empty());
    }
}
