//! Small durable facts: nonces already seen (replay guard) and settings such as the kill switch.

use super::{Store, StoreError};
use rusqlite::{params, OptionalExtension};

impl Store {
    /// Records a nonce; false if it was already seen.
    pub fn remember_nonce(&mut self, nonce: &str, ts: u64) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO nonces(nonce, ts) VALUES (?1, ?2)")?
            .execute(params![nonce, ts as i64])?;
        Ok(n == 1)
    }

    /// Forgets nonces with a timestamp before `before` (unix s): older requests are stale anyway.
    pub fn prune_nonces(&mut self, before: u64) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM nonces WHERE ts < ?1", [before as i64])?;
        Ok(())
    }

    pub fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?)
    }

    /// Sets `key`, or deletes it for None.
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
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    #[test]
    fn nonces_are_single_use_and_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        assert!(s.remember_nonce("n1", NOW).unwrap());
        assert!(!s.remember_nonce("n1", NOW).unwrap());
        s.prune_nonces(NOW).unwrap();
        assert!(
            !s.remember_nonce("n1", NOW).unwrap(),
            "not older than the cut"
        );
        s.prune_nonces(NOW + 1).unwrap();
        assert!(s.remember_nonce("n1", NOW).unwrap());
    }

    #[test]
    fn settings_are_set_replaced_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = store_in(&dir);
        assert_eq!(s.get_meta("k").unwrap(), None);
        s.set_meta("k", Some("a")).unwrap();
        s.set_meta("k", Some("b")).unwrap();
        assert_eq!(s.get_meta("k").unwrap().as_deref(), Some("b"));
        s.set_meta("k", None).unwrap();
        assert_eq!(s.get_meta("k").unwrap(), None);
    }
}
