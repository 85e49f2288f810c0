//! Received SMS on their way to the edge. The poller records new ones and moves the cursor (the
//! highest phone row id seen) in one transaction, so a restart neither loses nor repeats one; the
//! forwarder sends the oldest pending ones and marks them forwarded once the edge said so, then
//! drops their sender and text.

use super::schema::number_hash;
use super::{Store, StoreError};
use rusqlite::{params, OptionalExtension};

/// The highest phone row id already recorded (`termux-sms-list`'s `_id`).
pub const CURSOR_KEY: &str = "inbox_cursor";

/// One SMS as read from the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSms {
    pub sms_id: i64,
    pub from: String,
    pub body: String,
}

#[derive(Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub seq: i64,
    pub sms_id: i64,
    pub from: String,
    pub body: String,
    pub received_at: i64,
    pub attempts: u32,
}

impl std::fmt::Debug for InboxItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxItem")
            .field("seq", &self.seq)
            .field("sms_id", &self.sms_id)
            .finish_non_exhaustive()
    }
}

impl Store {
    pub fn inbox_cursor(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.get_meta(CURSOR_KEY)?.and_then(|v| v.parse().ok()))
    }

    /// Records the SMS newer than the cursor (any already recorded is skipped) and moves the
    /// cursor to `cursor`; returns how many were new.
    pub fn inbox_record(
        &mut self,
        items: &[NewSms],
        cursor: i64,
        now: u64,
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        {
            let mut stmt = self.conn.prepare_cached(
                "INSERT OR IGNORE INTO inbox(sms_id, from_number, from_sha256, body, received_at, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending')",
            )?;
            for m in items {
                n += stmt.execute(params![
                    m.sms_id,
                    m.from,
                    number_hash(&m.from),
                    m.body,
                    now as i64
                ])?;
            }
        }
        let current = self.inbox_cursor()?.unwrap_or(i64::MIN);
        if cursor > current {
            self.set_meta(CURSOR_KEY, Some(&cursor.to_string()))?;
        }
        Ok(n)
    }

    /// The oldest `limit` SMS not yet forwarded.
    pub fn inbox_head(&self, limit: usize) -> Result<Vec<InboxItem>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, sms_id, from_number, body, received_at, attempts FROM inbox
             WHERE state = 'pending' ORDER BY seq LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(InboxItem {
                seq: r.get(0)?,
                sms_id: r.get(1)?,
                from: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                body: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                received_at: r.get(4)?,
                attempts: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The edge has these: they are forwarded, and their sender and text are dropped.
    pub fn inbox_forwarded(&mut self, seqs: &[i64], now: u64) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE inbox SET state = 'forwarded', from_number = NULL, body = NULL, forwarded_at = ?2
             WHERE seq = ?1",
        )?;
        for seq in seqs {
            stmt.execute(params![seq, now as i64])?;
        }
        Ok(())
    }

    pub fn inbox_failed(&mut self, seqs: &[i64], next_ms: i64) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE inbox SET attempts = attempts + 1, next_attempt_ms = ?2 WHERE seq = ?1",
        )?;
        for seq in seqs {
            stmt.execute(params![seq, next_ms])?;
        }
        Ok(())
    }

    /// (pending, forwarded) counts.
    pub fn inbox_counts(&self) -> Result<(i64, i64), StoreError> {
        let count = |state: &str| -> Result<i64, StoreError> {
            Ok(self
                .conn
                .prepare_cached("SELECT count(*) FROM inbox WHERE state = ?1")?
                .query_row([state], |r| r.get(0))
                .optional()?
                .unwrap_or(0))
        };
        Ok((count("pending")?, count("forwarded")?))
    }

    /// Forgets forwarded SMS older than `before` (unix s); their row ids stay covered by the cursor.
    pub fn inbox_prune(&mut self, before: u64) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "DELETE FROM inbox WHERE state = 'forwarded' AND forwarded_at < ?1",
            [before as i64],
        )?)
    }

    /// Messages by state and the report outbox's depth, for `/metrics`.
    pub fn state_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT state, count(*) FROM messages GROUP BY state ORDER BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn outbox_depth(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT count(*) FROM outbox")?
            .query_row([], |r| r.get(0))?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn sms(id: i64) -> NewSms {
        NewSms {
            sms_id: id,
            from: "+14155550123".into(),
            body: format!("reply {id}"),
        }
    }

    #[test]
    fn recorded_once_forwarded_then_scrubbed() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        assert_eq!(s.inbox_cursor().unwrap(), None);
        assert_eq!(s.inbox_record(&[sms(5), sms(6)], 6, NOW).unwrap(), 2);
        // The same rows again (a poll that overlapped) are not recorded twice.
        assert_eq!(s.inbox_record(&[sms(6)], 6, NOW).unwrap(), 0);
        assert_eq!(s.inbox_cursor().unwrap(), Some(6));
        let head = s.inbox_head(10).unwrap();
        assert_eq!(
            head.iter().map(|i| i.sms_id).collect::<Vec<_>>(),
            vec![5, 6]
        );
        assert!(head[0].seq < head[1].seq);
        s.inbox_forwarded(&[head[0].seq], NOW).unwrap();
        assert_eq!(s.inbox_head(10).unwrap().len(), 1);
        assert_eq!(s.inbox_counts().unwrap(), (1, 1));
        let (from, body): (Option<String>, Option<String>) = s
            .conn
            .query_row(
                "SELECT from_number, body FROM inbox WHERE seq = ?1",
                [head[0].seq],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((from, body), (None, None));
        // A lower cursor never moves it back.
        s.inbox_record(&[], 3, NOW).unwrap();
        assert_eq!(s.inbox_cursor().unwrap(), Some(6));
    }
}
