//! What the fair share (`crate::fair_share`) reads from the queue: the first ready message of
//! each tenant in each priority class, the queue's shape ahead of a new message, and who sent
//! what in the last window (after a restart). Each is a few index seeks per tenant, never a scan
//! of the queue.

use super::queue::{queued_row, Queued, QUEUED_COLUMNS};
use super::{Store, StoreError};
use crate::fair_share::QueueShape;
use otp_shared::wire::SendRequest;
use rusqlite::{params, OptionalExtension};

/// Queued messages by class and tenant, in arrival order. Created at open (idempotent), so a
/// database of any schema version has it.
pub(super) const INDEX: &str =
    "CREATE INDEX IF NOT EXISTS messages_fair ON messages(state, priority, tenant_id, seq);";

/// Priority classes (`MessageKind::priority`).
const CLASSES: [u8; 3] = [0, 1, 2];

impl Store {
    /// Tenants with a queued message in class `priority`, in id order (a skip scan of the index).
    fn queued_tenants(&self, priority: u8) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tenant_id FROM messages WHERE state = 'queued' AND priority = ?1 AND tenant_id > ?2
             ORDER BY tenant_id LIMIT 1",
        )?;
        let mut out = Vec::new();
        let mut after = String::new();
        while let Some(t) = stmt
            .query_row(params![priority, after], |r| r.get::<_, String>(0))
            .optional()?
        {
            after.clone_from(&t);
            out.push(t);
        }
        Ok(out)
    }

    /// The oldest ready message of each tenant in each class: the scheduler's candidates (a
    /// flood of one tenant cannot hide another's message behind it).
    /// Each comes with its arrival number (`seq`), the tie-breaker between equal shares.
    pub fn ready_heads(&self, now_ms: i64) -> Result<Vec<(i64, Queued)>, StoreError> {
        let held = super::queue::HELD_MS;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {QUEUED_COLUMNS}, seq FROM messages
             WHERE state = 'queued' AND priority = ?1 AND tenant_id = ?2 AND next_attempt_ms <= ?3
               AND next_attempt_ms < {held}
             ORDER BY seq LIMIT 1"
        ))?;
        let mut out = Vec::new();
        for class in CLASSES {
            for tenant in self.queued_tenants(class)? {
                if let Some(q) = stmt
                    .query_row(params![class, tenant, now_ms], |r| {
                        Ok((r.get::<_, i64>(9)?, queued_row(r)?))
                    })
                    .optional()?
                {
                    out.push(q);
                }
            }
        }
        Ok(out)
    }

    /// What is queued at `priority` and above, each count capped at `cap` (more cannot matter).
    pub fn queue_shape(&self, priority: u8, cap: u64) -> Result<QueueShape, StoreError> {
        let higher: i64 = self
            .conn
            .prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM messages WHERE state = 'queued' AND priority < ?1 LIMIT ?2)",
            )?
            .query_row(params![priority, cap as i64], |r| r.get(0))?;
        let mut count = self.conn.prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM messages
               WHERE state = 'queued' AND priority = ?1 AND tenant_id = ?2 LIMIT ?3)",
        )?;
        let mut same = Vec::new();
        for tenant in self.queued_tenants(priority)? {
            let n: i64 = count.query_row(params![priority, tenant, cap as i64], |r| r.get(0))?;
            same.push((tenant, n as u64));
        }
        Ok(QueueShape {
            higher: higher as u64,
            same,
        })
    }

    /// [`Store::enqueue_if`] where `fits` judges the queue's shape ahead of the message.
    pub fn enqueue_fair(
        &mut self,
        req: &SendRequest,
        now: u64,
        count_up_to: u64,
        fits: impl FnOnce(&QueueShape) -> bool,
    ) -> Result<super::Enqueued, StoreError> {
        let shape = if count_up_to > 0 {
            self.queue_shape(req.kind.priority(), count_up_to)?
        } else {
            QueueShape::default()
        };
        self.enqueue_if(req, now, count_up_to, move |_| fits(&shape))
    }

    /// (tenant, unix ms) of the attempts that started after `since_ms`, oldest first, as the
    /// queue's rows tell it (a retried message counts once, at its last change).
    pub fn tenant_sends_since(&self, since_ms: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT tenant_id, updated_at * 1000 FROM messages
             WHERE attempts > 0 AND state IN ('sending', 'sent', 'failed') AND updated_at * 1000 > ?1
             ORDER BY updated_at, seq",
        )?;
        let rows = stmt.query_map([since_ms], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use otp_shared::wire::MessageKind;

    fn req_of(id: &str, kind: MessageKind, tenant: &str) -> otp_shared::wire::SendRequest {
        otp_shared::wire::SendRequest {
            tenant_id: tenant.into(),
            ..req(id, kind)
        }
    }

    #[test]
    fn each_tenant_has_a_head_in_each_class() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        for i in 0..5 {
            s.enqueue(&req_of(&format!("a{i}"), MessageKind::Otp, "t_a"), NOW)
                .unwrap();
        }
        s.enqueue(&req_of("b0", MessageKind::Otp, "t_b"), NOW)
            .unwrap();
        s.enqueue(&req_of("b1", MessageKind::Direct, "t_b"), NOW)
            .unwrap();
        let heads: Vec<(String, String)> = s
            .ready_heads(i64::MAX)
            .unwrap()
            .into_iter()
            .map(|(_, q)| (q.id, q.tenant_id))
            .collect();
        assert_eq!(
            heads,
            [
                ("a0".to_string(), "t_a".to_string()),
                ("b0".into(), "t_b".into()),
                ("b1".into(), "t_b".into())
            ]
        );
        let shape = s.queue_shape(MessageKind::Direct.priority(), 3).unwrap();
        assert_eq!(shape.higher, 3, "capped");
        assert_eq!(shape.same, [("t_b".to_string(), 1)]);
        let shape = s.queue_shape(MessageKind::Otp.priority(), 100).unwrap();
        assert_eq!(shape.same, [("t_a".to_string(), 5), ("t_b".to_string(), 1)]);
    }

    #[test]
    fn the_shape_decides_and_sends_are_read_back_by_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        s.enqueue(&req_of("a0", MessageKind::Otp, "t_a"), NOW)
            .unwrap();
        let accepted = s
            .enqueue_fair(&req_of("b0", MessageKind::Otp, "t_b"), NOW, 10, |shape| {
                shape.same == [("t_a".to_string(), 1)]
            })
            .unwrap();
        assert_eq!(accepted, super::super::Enqueued::Accepted { depth: 2 });
        let refused = s
            .enqueue_fair(&req_of("b1", MessageKind::Otp, "t_b"), NOW, 10, |_| false)
            .unwrap();
        assert_eq!(refused, super::super::Enqueued::NoCapacity);
        let t = NOW as i64 * 1000;
        s.begin_send("a0", None, t).unwrap();
        s.mark_sent("a0", NOW).unwrap();
        s.begin_send("b0", None, t).unwrap();
        assert_eq!(
            s.tenant_sends_since(t - 60_000).unwrap(),
            [("t_a".to_string(), t), ("t_b".to_string(), t)]
        );
        assert!(s.tenant_sends_since(t).unwrap().is_empty());
    }
}
