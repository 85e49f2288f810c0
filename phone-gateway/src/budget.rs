//! SIM budgets beyond the pacing window: a daily cap per SIM, a cap on distinct recipients per plan
//! period (carriers cap some plans at 99-250 a month), and rests. A SIM rests after Android's
//! RESULT_ERROR_LIMIT_EXCEEDED, or after a run of generic failures (often a SIM out of credit),
//! and traffic goes to the phone's other SIM meanwhile.
//!
//! The pacer asks [`Budgets::available_at`] when it picks a SIM, so a SIM out of budget is never
//! picked, and the capacity answer (`no_capacity`) simulates both ([`eta`]). The counts are kept
//! in memory and durably (`store::sims`), written in the same transaction as the attempt.

use crate::config::BudgetConfig;
use crate::pacing::{Pacer, Pick};
use crate::store::{sim_key, StoredRest, StoredUsage};
use otp_shared::wire::{FailureClass, SimHealth};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};

const DAY_MS: i64 = 86_400_000;

/// A number as the recipient budget knows it: a hash keyed with a key derived from the gateway's
/// secret, so the stored list of a month's recipients cannot be searched for a number.
pub fn recipient_tag(key: &[u8; 32], number: &str) -> String {
    let mut h = Sha256::new();
    h.update(key);
    h.update(number.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// The key of [`recipient_tag`], derived from the gateway's secret text.
pub fn recipient_key(secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"otp-sms/v1/recipients\n");
    h.update(secret.trim().as_bytes());
    h.finalize().into()
}

/// Days and plan periods in the plan's time zone.
#[derive(Debug, Clone, Copy)]
pub struct Calendar {
    offset_ms: i64,
}

impl Calendar {
    pub fn new(utc_offset_minutes: i32) -> Calendar {
        Calendar {
            offset_ms: utc_offset_minutes as i64 * 60_000,
        }
    }

    /// The local day number (days since 1970-01-01, local).
    pub fn day(&self, now_ms: i64) -> i64 {
        (now_ms + self.offset_ms).div_euclid(DAY_MS)
    }

    /// When local day `day` ends (unix ms).
    pub fn day_end_ms(&self, day: i64) -> i64 {
        (day + 1) * DAY_MS - self.offset_ms
    }

    /// The plan period `now_ms` falls in, as a month index (year * 12 + month - 1) of the month
    /// it started in; a period starts on `reset_day` at local midnight.
    pub fn period(&self, now_ms: i64, reset_day: u8) -> i64 {
        let (y, m, d) = civil_from_days(self.day(now_ms));
        let month = y * 12 + m as i64 - 1;
        if d >= reset_day as u32 {
            month
        } else {
            month - 1
        }
    }

    /// When period `period` ends: `reset_day` of the next month, local midnight (unix ms).
    pub fn period_end_ms(&self, period: i64, reset_day: u8) -> i64 {
        let next = period + 1;
        let (y, m) = (next.div_euclid(12), next.rem_euclid(12) as u32 + 1);
        days_from_civil(y, m, reset_day as u32) * DAY_MS - self.offset_ms
    }
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse: (year, month 1-12, day 1-31) of a day number.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// One SIM's caps (None: no cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub daily: Option<u32>,
    pub monthly_recipients: Option<u32>,
    pub reset_day: u8,
}

#[derive(Debug, Clone, Default)]
struct SimState {
    day: i64,
    day_sends: u32,
    period: i64,
    recipients: HashSet<String>,
    rest_until_ms: i64,
    rest_reason: Option<FailureClass>,
    generic_run: u32,
}

/// Where an attempt was counted, so it can be taken back if it never started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counted {
    pub sim: i64,
    pub day: i64,
    pub period: i64,
    pub recipient: String,
    /// The recipient was new to the SIM's plan period when counted.
    pub new_recipient: bool,
}

#[derive(Debug, Clone)]
pub struct Budgets {
    cfg: BudgetConfig,
    calendar: Calendar,
    sims: HashMap<i64, SimState>,
}

impl Budgets {
    pub fn new(cfg: &BudgetConfig) -> Budgets {
        Budgets {
            calendar: Calendar::new(cfg.utc_offset_minutes),
            cfg: cfg.clone(),
            sims: HashMap::new(),
        }
    }

    pub fn calendar(&self) -> Calendar {
        self.calendar
    }

    pub fn limits(&self, sim: Option<u8>) -> Limits {
        let own = sim.and_then(|s| self.cfg.sims.iter().find(|b| b.slot == s));
        let cap = |v: u32| (v > 0).then_some(v);
        Limits {
            daily: cap(own
                .and_then(|o| o.daily_limit)
                .unwrap_or(self.cfg.daily_limit)),
            monthly_recipients: cap(own
                .and_then(|o| o.monthly_recipients)
                .unwrap_or(self.cfg.monthly_recipients)),
            reset_day: own
                .and_then(|o| o.plan_reset_day)
                .unwrap_or(self.cfg.plan_reset_day),
        }
    }

    /// The oldest day and period any SIM still counts (what to load and what to keep).
    pub fn horizon(&self, now_ms: i64) -> (i64, i64) {
        let day = self.calendar.day(now_ms);
        let mut period = self.calendar.period(now_ms, self.cfg.plan_reset_day);
        for s in &self.cfg.sims {
            if let Some(d) = s.plan_reset_day {
                period = period.min(self.calendar.period(now_ms, d));
            }
        }
        (day, period)
    }

    fn sim_of(key: i64) -> Option<u8> {
        u8::try_from(key).ok()
    }

    /// Restores the counts of the current day and period, and the rests.
    pub fn load(&mut self, usage: &StoredUsage, now_ms: i64) {
        for &(sim, day, sends) in &usage.days {
            let st = self.state(sim, now_ms);
            if st.day == day {
                st.day_sends = sends;
            }
        }
        for (sim, period, recipient) in &usage.recipients {
            let st = self.state(*sim, now_ms);
            if st.period == *period {
                st.recipients.insert(recipient.clone());
            }
        }
        for r in &usage.rests {
            let st = self.state(r.sim, now_ms);
            st.rest_until_ms = r.until_ms;
            st.rest_reason = r.reason;
            st.generic_run = r.generic_run;
        }
    }

    /// The SIM's state, rolled over to the current day and period.
    fn state(&mut self, key: i64, now_ms: i64) -> &mut SimState {
        let day = self.calendar.day(now_ms);
        let period = self
            .calendar
            .period(now_ms, self.limits(Self::sim_of(key)).reset_day);
        let st = self.sims.entry(key).or_insert_with(|| SimState {
            day,
            period,
            ..Default::default()
        });
        if st.day != day {
            st.day = day;
            st.day_sends = 0;
        }
        if st.period != period {
            st.period = period;
            st.recipients.clear();
        }
        st
    }

    /// The earliest time `sim` may send to `recipient` (`now_ms` when it may now). A recipient
    /// of None (a message whose number is not looked at) is checked against the day's cap and
    /// the rest only.
    pub fn available_at(&self, sim: Option<u8>, recipient: Option<&str>, now_ms: i64) -> i64 {
        let limits = self.limits(sim);
        let day = self.calendar.day(now_ms);
        let period = self.calendar.period(now_ms, limits.reset_day);
        let st = self.sims.get(&sim_key(sim));
        let mut at = now_ms;
        if let Some(st) = st {
            if st.rest_until_ms > now_ms {
                at = at.max(st.rest_until_ms);
            }
        }
        let day_sends = st.filter(|s| s.day == day).map_or(0, |s| s.day_sends);
        if limits.daily.is_some_and(|cap| day_sends >= cap) {
            at = at.max(self.calendar.day_end_ms(day));
        }
        if let (Some(cap), Some(r)) = (limits.monthly_recipients, recipient) {
            let known = st.filter(|s| s.period == period);
            let count = known.map_or(0, |s| s.recipients.len() as u32);
            if count >= cap && !known.is_some_and(|s| s.recipients.contains(r)) {
                at = at.max(self.calendar.period_end_ms(period, limits.reset_day));
            }
        }
        at
    }

    /// Counts an attempt on `sim` to `recipient` started at `now_ms`.
    pub fn record(&mut self, sim: Option<u8>, recipient: &str, now_ms: i64) -> Counted {
        let st = self.state(sim_key(sim), now_ms);
        st.day_sends += 1;
        let new_recipient = st.recipients.insert(recipient.to_string());
        Counted {
            sim: sim_key(sim),
            day: st.day,
            period: st.period,
            recipient: recipient.to_string(),
            new_recipient,
        }
    }

    /// Some SIM rests now.
    pub fn any_resting(&self, now_ms: i64) -> bool {
        self.sims.values().any(|s| s.rest_until_ms > now_ms)
    }

    /// Counts a send against the day only (a simulated message whose recipient is not known).
    pub fn count_day(&mut self, sim: Option<u8>, now_ms: i64) {
        self.state(sim_key(sim), now_ms).day_sends += 1;
    }

    /// Takes back an attempt that never started; `new_recipient`: it brought its recipient.
    pub fn undo(&mut self, c: &Counted, new_recipient: bool) {
        if let Some(st) = self.sims.get_mut(&c.sim) {
            if st.day == c.day {
                st.day_sends = st.day_sends.saturating_sub(1);
            }
            if new_recipient && st.period == c.period {
                st.recipients.remove(&c.recipient);
            }
        }
    }

    /// A send on `sim` went out: its run of generic failures ends. Returns the rest row to store
    /// when that changed something.
    pub fn after_success(&mut self, sim: Option<u8>, now_ms: i64) -> Option<StoredRest> {
        let st = self.state(sim_key(sim), now_ms);
        if st.generic_run == 0 {
            return None;
        }
        st.generic_run = 0;
        Some(Self::stored(sim_key(sim), st))
    }

    /// A send on `sim` failed with `class`. A limit rests the SIM at once; a run of generic
    /// failures rests it too. Returns the rest row to store (when something changed) and whether
    /// a rest began.
    pub fn after_failure(
        &mut self,
        sim: Option<u8>,
        class: FailureClass,
        now_ms: i64,
    ) -> (Option<StoredRest>, bool) {
        let (limit_rest, run_to_rest, generic_rest) = (
            self.cfg.limit_rest_secs as i64 * 1000,
            self.cfg.generic_failures_to_rest,
            self.cfg.generic_rest_secs as i64 * 1000,
        );
        let st = self.state(sim_key(sim), now_ms);
        let rest = match class {
            FailureClass::LimitExceeded => Some(limit_rest),
            FailureClass::GenericFailure => {
                st.generic_run += 1;
                (run_to_rest > 0 && st.generic_run >= run_to_rest).then_some(generic_rest)
            }
            _ => return (None, false),
        };
        if let Some(ms) = rest {
            st.rest_until_ms = now_ms + ms;
            st.rest_reason = Some(class);
        }
        (Some(Self::stored(sim_key(sim), st)), rest.is_some())
    }

    fn stored(sim: i64, st: &SimState) -> StoredRest {
        StoredRest {
            sim,
            until_ms: st.rest_until_ms,
            reason: st.rest_reason,
            generic_run: st.generic_run,
        }
    }

    /// The budget half of a SIM's health (the caller fills in the pacing window).
    pub fn health(&self, sim: Option<u8>, now_ms: i64) -> SimHealth {
        let limits = self.limits(sim);
        let day = self.calendar.day(now_ms);
        let period = self.calendar.period(now_ms, limits.reset_day);
        let st = self.sims.get(&sim_key(sim));
        let resting = st.filter(|s| s.rest_until_ms > now_ms);
        SimHealth {
            slot: sim,
            daily_limit: limits.daily,
            daily_used: st.filter(|s| s.day == day).map_or(0, |s| s.day_sends),
            day_resets_at: (self.calendar.day_end_ms(day) / 1000) as u64,
            monthly_recipients_limit: limits.monthly_recipients,
            monthly_recipients_used: st
                .filter(|s| s.period == period)
                .map_or(0, |s| s.recipients.len() as u32),
            plan_resets_at: (self.calendar.period_end_ms(period, limits.reset_day) / 1000) as u64,
            resting_until: resting.map(|s| (s.rest_until_ms / 1000) as u64),
            rest_reason: resting.and_then(|s| s.rest_reason),
            generic_failures: st.map_or(0, |s| s.generic_run),
            ..Default::default()
        }
    }
}

/// When a message for `recipient` (asking for `requested`) could go out with `ahead` messages
/// before it, under both the pacing limits and the budgets, or None when that is after
/// `deadline_ms`. Simulated on copies; nothing is recorded. The messages ahead use up the
/// window and the days' caps; their recipients are not looked at.
pub fn eta(
    pacer: &Pacer,
    budgets: &Budgets,
    requested: Option<u8>,
    recipient: &str,
    ahead: u64,
    now_ms: i64,
    deadline_ms: i64,
) -> Option<i64> {
    let (mut pacer, mut budgets) = (pacer.clone(), budgets.clone());
    let (mut t, mut left) = (now_ms, ahead);
    while t <= deadline_ms {
        let ours = left == 0;
        let who = if ours { Some(recipient) } else { None };
        let pick = pacer.pick_with(if ours { requested } else { None }, t, |sim| {
            budgets.available_at(sim, who, t)
        });
        match pick {
            Pick::Now(_) if ours => return Some(t),
            Pick::Now(slot) => {
                pacer.record(slot, t, pacer.jitter_max() / 2);
                // The ones ahead count against the day, not the month (their numbers are not read).
                budgets.count_day(slot, t);
                left -= 1;
            }
            Pick::WaitUntil(at) => t = at,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{PacingConfig, SimBudget};

    const T0: i64 = 1_764_000_000_000; // 2025-11-24T16:00:00Z

    fn budgets(daily: u32, monthly: u32) -> Budgets {
        Budgets::new(&BudgetConfig {
            daily_limit: daily,
            monthly_recipients: monthly,
            ..Default::default()
        })
    }

    #[test]
    fn calendar_days_and_plan_periods() {
        let c = Calendar::new(0);
        assert_eq!(civil_from_days(c.day(T0)), (2025, 11, 24));
        assert_eq!(days_from_civil(2025, 11, 24), c.day(T0));
        assert_eq!(c.day_end_ms(c.day(T0)), 1_764_028_800_000); // 2025-11-25T00:00Z
                                                                // a plan that renews on the 15th: Nov 24 is in the period that began Nov 15
        let p = c.period(T0, 15);
        assert_eq!(p, 2025 * 12 + 10);
        assert_eq!(
            c.period_end_ms(p, 15),
            days_from_civil(2025, 12, 15) * DAY_MS
        );
        // renewing on the 28th: still in October's period; it ends on Nov 28
        assert_eq!(c.period(T0, 28), 2025 * 12 + 9);
        // December's period ends in January of the next year
        assert_eq!(
            c.period_end_ms(2025 * 12 + 11, 1),
            days_from_civil(2026, 1, 1) * DAY_MS
        );
        // UTC+9: 16:00Z is already the 25th there, and the day ends at 15:00Z
        let tokyo = Calendar::new(9 * 60);
        assert_eq!(civil_from_days(tokyo.day(T0)), (2025, 11, 25));
        assert_eq!(tokyo.day_end_ms(tokyo.day(T0)), 1_764_082_800_000);
    }

    #[test]
    fn the_daily_cap_holds_until_the_day_ends() {
        let mut b = budgets(2, 0);
        assert_eq!(b.available_at(Some(0), Some("a"), T0), T0);
        b.record(Some(0), "a", T0);
        b.record(Some(0), "b", T0 + 1);
        let end = b.calendar().day_end_ms(b.calendar().day(T0));
        assert_eq!(b.available_at(Some(0), Some("c"), T0 + 2), end);
        // the other SIM has its own count
        assert_eq!(b.available_at(Some(1), Some("c"), T0 + 2), T0 + 2);
        // the next day it may send again
        assert_eq!(b.available_at(Some(0), Some("c"), end), end);
        assert_eq!(b.health(Some(0), T0).daily_used, 2);
    }

    #[test]
    fn the_recipient_cap_refuses_only_new_recipients() {
        let mut b = budgets(0, 2);
        b.record(None, "a", T0);
        b.record(None, "b", T0);
        b.record(None, "a", T0);
        assert_eq!(b.available_at(None, Some("a"), T0), T0, "a known recipient");
        let period = b.calendar().period(T0, 1);
        assert_eq!(
            b.available_at(None, Some("c"), T0),
            b.calendar().period_end_ms(period, 1)
        );
        assert_eq!(b.health(None, T0).monthly_recipients_used, 2);
    }

    #[test]
    fn per_slot_limits_override_the_defaults() {
        let mut cfg = BudgetConfig {
            daily_limit: 10,
            ..Default::default()
        };
        cfg.sims.push(SimBudget {
            slot: 1,
            daily_limit: Some(1),
            monthly_recipients: None,
            plan_reset_day: Some(15),
        });
        let b = Budgets::new(&cfg);
        assert_eq!(b.limits(Some(0)).daily, Some(10));
        assert_eq!(
            b.limits(Some(1)),
            Limits {
                daily: Some(1),
                monthly_recipients: None,
                reset_day: 15
            }
        );
    }

    #[test]
    fn a_limit_rests_the_sim_and_a_run_of_generic_failures_too() {
        let mut b = budgets(0, 0);
        let (row, rested) = b.after_failure(Some(0), FailureClass::LimitExceeded, T0);
        assert!(rested);
        assert_eq!(row.unwrap().until_ms, T0 + 1_800_000);
        assert_eq!(b.available_at(Some(0), Some("a"), T0), T0 + 1_800_000);
        assert_eq!(
            b.health(Some(0), T0).rest_reason,
            Some(FailureClass::LimitExceeded)
        );
        // two generic failures, a success, then three in a row on SIM 1
        assert!(!b.after_failure(Some(1), FailureClass::GenericFailure, T0).1);
        assert!(!b.after_failure(Some(1), FailureClass::GenericFailure, T0).1);
        assert!(b.after_success(Some(1), T0).is_some());
        assert!(b.after_success(Some(1), T0).is_none(), "nothing to store");
        for i in 0..2 {
            assert!(
                !b.after_failure(Some(1), FailureClass::GenericFailure, T0 + i)
                    .1
            );
        }
        assert!(
            b.after_failure(Some(1), FailureClass::GenericFailure, T0 + 2)
                .1
        );
        assert_eq!(b.available_at(Some(1), None, T0 + 3), T0 + 2 + 3_600_000);
        // no service says nothing about the SIM
        assert_eq!(
            b.after_failure(Some(1), FailureClass::NoService, T0),
            (None, false)
        );
    }

    #[test]
    fn load_restores_todays_counts_this_periods_recipients_and_rests() {
        let mut b = budgets(3, 2);
        let (day, period) = b.horizon(T0);
        let usage = StoredUsage {
            days: vec![(-1, day, 3), (-1, day - 1, 9)],
            recipients: vec![
                (-1, period, "a".into()),
                (-1, period, "b".into()),
                (-1, period - 1, "c".into()),
            ],
            rests: vec![StoredRest {
                sim: 0,
                until_ms: T0 + 5,
                reason: Some(FailureClass::GenericFailure),
                generic_run: 3,
            }],
        };
        b.load(&usage, T0);
        let h = b.health(None, T0);
        assert_eq!((h.daily_used, h.monthly_recipients_used), (3, 2));
        assert_eq!(
            b.health(Some(0), T0).resting_until,
            Some(((T0 + 5) / 1000) as u64)
        );
        let c = b.record(None, "d", T0);
        b.undo(&c, true);
        assert_eq!(b.health(None, T0).daily_used, 3);
    }

    #[test]
    fn eta_counts_the_budgets_with_the_window() {
        let pacing = PacingConfig {
            per_sim_limit: 100,
            phone_limit: 0,
            window_secs: 60,
            min_delay_ms: 0,
            jitter_ms: 0,
        };
        let pacer = Pacer::new(pacing, vec![0, 1], None);
        let mut b = budgets(1, 0);
        // two SIMs with one send a day each: one ahead fits, two do not
        assert_eq!(eta(&pacer, &b, None, "x", 1, T0, T0 + 60_000), Some(T0));
        assert_eq!(eta(&pacer, &b, None, "x", 2, T0, T0 + 60_000), None);
        // SIM 0 rests: a message for it waits, any SIM goes on SIM 1
        b.after_failure(Some(0), FailureClass::LimitExceeded, T0);
        assert_eq!(eta(&pacer, &b, Some(0), "x", 0, T0, T0 + 60_000), None);
        assert_eq!(eta(&pacer, &b, None, "x", 0, T0, T0 + 60_000), Some(T0));
    }

    #[test]
    fn tags_are_keyed() {
        let (k1, k2) = (recipient_key("secret-one"), recipient_key("secret-two"));
        assert_ne!(
            recipient_tag(&k1, "+14155550123"),
            recipient_tag(&k2, "+14155550123")
        );
        assert_eq!(recipient_tag(&k1, "+1").len(), 32);
    }
}
