//! What the SIM budgets must not forget across a restart: sends per SIM and day, the distinct
//! recipients of each SIM's plan period (keyed hashes, never numbers), and the SIMs that rest.

use super::{Store, StoreError};
use otp_shared::wire::FailureClass;
use rusqlite::params;

/// One SIM's rest and its run of generic failures, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRest {
    pub sim: i64,
    pub until_ms: i64,
    pub reason: Option<FailureClass>,
    pub generic_run: u32,
}

/// Everything the budgets need at start-up.
#[derive(Debug, Clone, Default)]
pub struct StoredUsage {
    /// (sim, day, sends)
    pub days: Vec<(i64, i64, u32)>,
    /// (sim, period, recipient)
    pub recipients: Vec<(i64, i64, String)>,
    pub rests: Vec<StoredRest>,
}

impl Store {
    /// Counts an attempt on `sim`: one more send on `day`, and `recipient` among the period's
    /// recipients. Returns whether the recipient is new this period.
    pub fn record_sim_send(
        &mut self,
        sim: i64,
        day: i64,
        period: i64,
        recipient: &str,
        at_ms: i64,
    ) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO sim_days(sim, day, sends) VALUES (?1, ?2, 1)
                 ON CONFLICT(sim, day) DO UPDATE SET sends = sends + 1",
            )?
            .execute(params![sim, day])?;
        let new = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO sim_recipients(sim, period, recipient, first_ms) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![sim, period, recipient, at_ms])?;
        Ok(new == 1)
    }

    /// Takes back an attempt that never started: its send, and its recipient if it brought it.
    pub fn undo_sim_send(
        &mut self,
        sim: i64,
        day: i64,
        period: i64,
        recipient: &str,
        at_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE sim_days SET sends = max(sends - 1, 0) WHERE sim = ?1 AND day = ?2",
            )?
            .execute(params![sim, day])?;
        self.conn
            .prepare_cached(
                "DELETE FROM sim_recipients WHERE sim = ?1 AND period = ?2 AND recipient = ?3 AND first_ms = ?4",
            )?
            .execute(params![sim, period, recipient, at_ms])?;
        Ok(())
    }

    /// Stores a SIM's rest (`until_ms` 0: none) and its run of generic failures.
    pub fn set_sim_rest(&mut self, rest: &StoredRest) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO sim_rests(sim, until_ms, reason, generic_run) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(sim) DO UPDATE SET until_ms = ?2, reason = ?3, generic_run = ?4",
            )?
            .execute(params![
                rest.sim,
                rest.until_ms,
                rest.reason.map(|c| c.as_str()),
                rest.generic_run
            ])?;
        Ok(())
    }

    /// The usage from `since_day` and `since_period` on, and every stored rest.
    pub fn sim_usage(&self, since_day: i64, since_period: i64) -> Result<StoredUsage, StoreError> {
        let days = self
            .conn
            .prepare_cached("SELECT sim, day, sends FROM sim_days WHERE day >= ?1")?
            .query_map([since_day], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let recipients = self
            .conn
            .prepare_cached("SELECT sim, period, recipient FROM sim_recipients WHERE period >= ?1")?
            .query_map([since_period], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let rests = self
            .conn
            .prepare_cached("SELECT sim, until_ms, reason, generic_run FROM sim_rests")?
            .query_map([], |r| {
                Ok(StoredRest {
                    sim: r.get(0)?,
                    until_ms: r.get(1)?,
                    reason: r
                        .get::<_, Option<String>>(2)?
                        .as_deref()
                        .and_then(FailureClass::parse),
                    generic_run: r.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(StoredUsage {
            days,
            recipients,
            rests,
        })
    }

    /// Forgets days before `before_day` and plan periods before `before_period`.
    pub fn prune_sim_usage(
        &mut self,
        before_day: i64,
        before_period: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .execute("DELETE FROM sim_days WHERE day < ?1", [before_day])?;
        self.conn.execute(
            "DELETE FROM sim_recipients WHERE period < ?1",
            [before_period],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn sends_and_recipients_are_counted_durably_and_an_undo_takes_back_only_its_own() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = store_in(&dir);
            assert!(s.record_sim_send(0, 100, 7, "r1", 1).unwrap());
            assert!(!s.record_sim_send(0, 100, 7, "r1", 2).unwrap());
            assert!(s.record_sim_send(0, 100, 7, "r2", 3).unwrap());
            // r1's second send did not bring it: undoing it keeps r1
            s.undo_sim_send(0, 100, 7, "r1", 2).unwrap();
            s.undo_sim_send(0, 100, 7, "r2", 3).unwrap();
            s.set_sim_rest(&StoredRest {
                sim: 1,
                until_ms: 5_000,
                reason: Some(FailureClass::LimitExceeded),
                generic_run: 0,
            })
            .unwrap();
        }
        let mut s = store_in(&dir);
        let u = s.sim_usage(100, 7).unwrap();
        assert_eq!(u.days, vec![(0, 100, 1)]);
        assert_eq!(u.recipients, vec![(0, 7, "r1".to_string())]);
        assert_eq!(u.rests[0].reason, Some(FailureClass::LimitExceeded));
        s.prune_sim_usage(101, 8).unwrap();
        let u = s.sim_usage(0, 0).unwrap();
        assert!(u.days.is_empty() && u.recipients.is_empty());
    }
}
