//! The delivery-report outbox: every reported state change is written here in the same
//! transaction as the change itself, and removed once the edge acknowledged it.

use super::{Store, StoreError};
use otp_shared::wire::{FailureClass, MessageState, StatusReport};
use rusqlite::params;

#[derive(Debug, Clone)]
pub struct OutboxItem {
    pub seq: i64,
    pub request_id: String,
    pub report: String,
    pub attempts: u32,
}

impl Store {
    /// A report of a state change of message `id`, from this gateway.
    pub(super) fn change(
        &self,
        id: &str,
        state: MessageState,
        attempts: u32,
        error: Option<&str>,
        class: Option<FailureClass>,
        now: u64,
    ) -> StatusReport {
        StatusReport {
            id: id.to_string(),
            state,
            attempts,
            error: error.map(str::to_string),
            at: now,
            gateway_id: self.opts.gateway_id.clone(),
            class,
        }
    }

    /// Writes a report of this state change, when reports are on.
    pub(super) fn report(
        &mut self,
        request_id: &str,
        report: StatusReport,
    ) -> Result<(), StoreError> {
        if !self.opts.reports {
            return Ok(());
        }
        let json = serde_json::to_string(&report).expect("report serialises");
        self.conn
            .prepare_cached(
                "INSERT INTO outbox(message_id, request_id, report) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![report.id, request_id, json])?;
        Ok(())
    }

    /// The oldest `limit` reports, in the order they were written.
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

    /// Removes reports the edge acknowledged.
    pub fn outbox_delivered(&mut self, seqs: &[i64]) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM outbox WHERE seq = ?1")?;
        for seq in seqs {
            stmt.execute([seq])?;
        }
        Ok(())
    }

    /// Counts a failed delivery of these reports, to be tried again from `next_ms`.
    pub fn outbox_failed(&mut self, seqs: &[i64], next_ms: i64) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?2 WHERE seq = ?1",
        )?;
        for seq in seqs {
            stmt.execute(params![seq, next_ms])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Store;
    use otp_shared::wire::{MessageKind, MessageState, StatusReport};

    fn reports(s: &Store) -> Vec<StatusReport> {
        s.outbox_head(100)
            .unwrap()
            .iter()
            .map(|o| serde_json::from_str(&o.report).unwrap())
            .collect()
    }

    #[test]
    fn state_changes_after_the_hand_off_are_written_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        let mut short = req("short", MessageKind::Otp);
        short.expires_at = NOW + 10;
        s.enqueue(&short, NOW).unwrap();
        s.enqueue(&req("sent", MessageKind::Otp), NOW).unwrap();
        assert!(
            reports(&s).is_empty(),
            "queued is the hand-off's answer, not a report"
        );
        s.begin_send("sent", None, (NOW as i64) * 1000).unwrap();
        s.mark_sent("sent", NOW + 1).unwrap();
        s.expire_due(NOW + 10).unwrap();
        let got: Vec<(String, MessageState)> =
            reports(&s).into_iter().map(|r| (r.id, r.state)).collect();
        assert_eq!(
            got,
            [
                ("sent".to_string(), MessageState::Sending),
                ("sent".to_string(), MessageState::Sent),
                ("short".to_string(), MessageState::Expired),
            ]
        );
        assert!(reports(&s).iter().all(|r| r.gateway_id == "phone-1"));
        let head = s.outbox_head(100).unwrap();
        s.outbox_delivered(&[head[0].seq, head[1].seq]).unwrap();
        assert_eq!(s.outbox_head(100).unwrap().len(), 1);
    }

    #[test]
    fn reports_disabled_writes_no_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("q.db"), options(false, 10)).unwrap();
        s.enqueue(&req("a", MessageKind::Otp), NOW).unwrap();
        assert!(s.outbox_head(10).unwrap().is_empty());
    }
}
