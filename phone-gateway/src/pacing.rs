//! Send pacing: a sliding-window limit per SIM and for the whole phone, plus a minimum gap (with random
//! jitter) between two sends. When a limit is reached the caller waits; nothing fails.

use crate::config::PacingConfig;
use crate::store::sim_key;
use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// Send now on this SIM (None = phone default, no `-s`).
    Now(Option<u8>),
    /// Nothing can go before this unix-ms time.
    WaitUntil(i64),
}

#[derive(Clone)]
pub struct Pacer {
    cfg: PacingConfig,
    /// Slots to round-robin over; empty = the phone's default SIM.
    slots: Vec<u8>,
    default_sim: Option<u8>,
    per_sim: HashMap<i64, VecDeque<i64>>,
    phone: VecDeque<i64>,
    next_allowed_ms: i64,
    rr: usize,
}

impl Pacer {
    pub fn new(cfg: PacingConfig, slots: Vec<u8>, default_sim: Option<u8>) -> Pacer {
        Pacer {
            cfg,
            slots,
            default_sim,
            per_sim: HashMap::new(),
            phone: VecDeque::new(),
            next_allowed_ms: 0,
            rr: 0,
        }
    }

    pub fn window_ms(&self) -> i64 {
        (self.cfg.window_secs as i64) * 1000
    }

    /// Restores past attempts (from the durable send log) so a restart does not reset the windows.
    pub fn load(&mut self, attempts: &[(i64, i64)]) {
        for &(sim, at) in attempts {
            self.per_sim.entry(sim).or_default().push_back(at);
            self.phone.push_back(at);
            self.next_allowed_ms = self.next_allowed_ms.max(at + self.cfg.min_delay_ms as i64);
        }
    }

    fn prune(&mut self, now_ms: i64) {
        let cutoff = now_ms - self.window_ms();
        for q in self.per_sim.values_mut() {
            while q.front().is_some_and(|&t| t <= cutoff) {
                q.pop_front();
            }
        }
        while self.phone.front().is_some_and(|&t| t <= cutoff) {
            self.phone.pop_front();
        }
    }

    /// When `sim` has room again (`now_ms` if it has room now).
    fn sim_free_at(&self, sim: Option<u8>, now_ms: i64) -> i64 {
        match self.per_sim.get(&sim_key(sim)) {
            Some(q) if q.len() >= self.cfg.per_sim_limit as usize => {
                q[q.len() - self.cfg.per_sim_limit as usize] + self.window_ms()
            }
            _ => now_ms,
        }
    }

    /// Chooses a SIM for a message that asked for `requested` (None = any).
    pub fn pick(&mut self, requested: Option<u8>, now_ms: i64) -> Pick {
        self.pick_with(requested, now_ms, |_| now_ms)
    }

    /// [`Pacer::pick`], where `budget(sim)` is the earliest time the SIM's own budgets allow
    /// (`budget.rs`: daily and recipient caps, rests): a SIM out of budget is passed over.
    pub fn pick_with(
        &mut self,
        requested: Option<u8>,
        now_ms: i64,
        budget: impl Fn(Option<u8>) -> i64,
    ) -> Pick {
        self.prune(now_ms);
        let mut earliest = self.next_allowed_ms.max(now_ms);
        if self.cfg.phone_limit > 0 && self.phone.len() >= self.cfg.phone_limit as usize {
            let t = self.phone[self.phone.len() - self.cfg.phone_limit as usize] + self.window_ms();
            earliest = earliest.max(t);
        }
        let fixed = requested.or(self.default_sim);
        let free_at = |p: &Self, sim: Option<u8>| p.sim_free_at(sim, now_ms).max(budget(sim));
        let (sim, free_at) = match fixed {
            Some(s) => (Some(s), free_at(self, Some(s))),
            None if self.slots.is_empty() => (None, free_at(self, None)),
            None => {
                let n = self.slots.len();
                let best = (0..n)
                    .map(|i| (self.rr + i) % n)
                    .map(|i| (i, free_at(self, Some(self.slots[i]))))
                    .min_by_key(|&(i, t)| (t, (i + n - self.rr) % n))
                    .expect("slots not empty");
                if best.1 <= now_ms && earliest <= now_ms {
                    self.rr = (best.0 + 1) % n;
                }
                (Some(self.slots[best.0]), best.1)
            }
        };
        let at = earliest.max(free_at);
        if at <= now_ms {
            Pick::Now(sim)
        } else {
            Pick::WaitUntil(at)
        }
    }

    /// Records a send attempt started at `now_ms`; `jitter_ms` is the random part of the next gap.
    pub fn record(&mut self, sim: Option<u8>, now_ms: i64, jitter_ms: u64) {
        self.per_sim
            .entry(sim_key(sim))
            .or_default()
            .push_back(now_ms);
        self.phone.push_back(now_ms);
        self.next_allowed_ms = now_ms + (self.cfg.min_delay_ms + jitter_ms) as i64;
    }

    /// Takes back an attempt recorded at `at_ms` that never started (the gap it imposed stays).
    pub fn forget(&mut self, sim: Option<u8>, at_ms: i64) {
        if let Some(q) = self.per_sim.get_mut(&sim_key(sim)) {
            if let Some(i) = q.iter().rposition(|&t| t == at_ms) {
                q.remove(i);
            }
        }
        if let Some(i) = self.phone.iter().rposition(|&t| t == at_ms) {
            self.phone.remove(i);
        }
    }

    /// An upper bound on the sends the limits allow from `now_ms` to `deadline_ms`, whatever was
    /// sent before: what a queue longer than this cannot get through in time.
    pub fn max_sends_between(&self, now_ms: i64, deadline_ms: i64) -> u64 {
        if deadline_ms < now_ms {
            return 0;
        }
        let span = (deadline_ms - now_ms) as u64;
        let windows = span / (self.window_ms() as u64).max(1) + 1;
        let sims = self.slots.len().max(1) as u64;
        let mut bound = (self.cfg.per_sim_limit as u64)
            .saturating_mul(sims)
            .saturating_mul(windows);
        if self.cfg.phone_limit > 0 {
            bound = bound.min((self.cfg.phone_limit as u64).saturating_mul(windows));
        }
        if let Some(gaps) = span.checked_div(self.cfg.min_delay_ms) {
            bound = bound.min(gaps + 1);
        }
        bound
    }

    /// When a message could go out with `ahead` messages before it (each taking the average
    /// gap), or None when that is after `deadline_ms`. Simulated on a copy; nothing is recorded.
    pub fn eta(
        &self,
        requested: Option<u8>,
        ahead: u64,
        now_ms: i64,
        deadline_ms: i64,
    ) -> Option<i64> {
        let mut sim = self.clone();
        let (mut t, mut left) = (now_ms, ahead);
        while t <= deadline_ms {
            // The messages ahead may take any SIM; the new one asks for `requested`.
            match sim.pick(if left == 0 { requested } else { None }, t) {
                Pick::Now(_) if left == 0 => return Some(t),
                Pick::Now(slot) => {
                    sim.record(slot, t, sim.cfg.jitter_ms / 2);
                    left -= 1;
                }
                Pick::WaitUntil(at) => t = at,
            }
        }
        None
    }

    pub fn jitter_max(&self) -> u64 {
        self.cfg.jitter_ms
    }

    pub fn limit(&self) -> u32 {
        self.cfg.per_sim_limit
    }

    /// Attempts in the current window on one SIM.
    pub fn used_by(&mut self, sim: Option<u8>, now_ms: i64) -> u32 {
        self.prune(now_ms);
        self.per_sim
            .get(&sim_key(sim))
            .map_or(0, |q| q.len() as u32)
    }

    /// Attempts in the current window, all SIMs together.
    pub fn used(&mut self, now_ms: i64) -> u32 {
        self.prune(now_ms);
        self.phone.len() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(limit: u32, phone: u32, min_delay: u64) -> PacingConfig {
        PacingConfig {
            per_sim_limit: limit,
            phone_limit: phone,
            window_secs: 10,
            min_delay_ms: min_delay,
            jitter_ms: 0,
        }
    }

    #[test]
    fn waits_when_the_window_is_full_then_allows_again() {
        let mut p = Pacer::new(cfg(3, 0, 0), vec![], None);
        for t in [0, 1, 2] {
            assert_eq!(p.pick(None, t), Pick::Now(None));
            p.record(None, t, 0);
        }
        assert_eq!(p.pick(None, 5), Pick::WaitUntil(10_000));
        assert_eq!(p.pick(None, 10_000), Pick::Now(None));
        assert_eq!(p.used(10_000), 2);
    }

    #[test]
    fn min_delay_spaces_sends() {
        let mut p = Pacer::new(cfg(100, 0, 500), vec![], None);
        p.record(None, 1000, 200);
        assert_eq!(p.pick(None, 1100), Pick::WaitUntil(1700));
        assert_eq!(p.pick(None, 1700), Pick::Now(None));
    }

    #[test]
    fn round_robin_over_slots_and_fallback_to_the_free_one() {
        let mut p = Pacer::new(cfg(1, 0, 0), vec![0, 1], None);
        assert_eq!(p.pick(None, 0), Pick::Now(Some(0)));
        p.record(Some(0), 0, 0);
        assert_eq!(p.pick(None, 1), Pick::Now(Some(1)));
        p.record(Some(1), 1, 0);
        assert_eq!(p.pick(None, 2), Pick::WaitUntil(10_000));
        // a message pinned to slot 1 waits for slot 1
        assert_eq!(p.pick(Some(1), 10_000), Pick::WaitUntil(10_001));
    }

    #[test]
    fn phone_limit_caps_all_sims_together() {
        let mut p = Pacer::new(cfg(5, 2, 0), vec![0, 1], None);
        p.record(Some(0), 0, 0);
        p.record(Some(1), 1, 0);
        assert_eq!(p.pick(None, 2), Pick::WaitUntil(10_000));
    }

    #[test]
    fn eta_counts_the_messages_ahead_and_the_window() {
        let mut p = Pacer::new(cfg(2, 0, 100), vec![], None);
        assert_eq!(p.eta(None, 0, 0, 0), Some(0));
        // two fit in the window (100 ms apart), the third waits for the window to roll
        assert_eq!(p.eta(None, 1, 0, 60_000), Some(100));
        assert_eq!(p.eta(None, 2, 0, 60_000), Some(10_000));
        assert_eq!(p.eta(None, 2, 0, 9_999), None);
        // what is already sent counts; the pacer itself is untouched by the estimate
        p.record(None, 0, 0);
        p.record(None, 100, 0);
        assert_eq!(p.eta(None, 0, 200, 5_000), None);
        assert_eq!(p.eta(None, 0, 200, 10_000), Some(10_000));
        assert_eq!(p.used(200), 2);
    }

    #[test]
    fn max_sends_between_bounds_by_every_limit() {
        // 2 per 10 s window on each of 2 SIMs, over 25 s: three windows
        let p = Pacer::new(cfg(2, 0, 0), vec![0, 1], None);
        assert_eq!(p.max_sends_between(0, 25_000), 12);
        // a phone-wide limit of 3 per window
        assert_eq!(
            Pacer::new(cfg(2, 3, 0), vec![0, 1], None).max_sends_between(0, 25_000),
            9
        );
        // a 5 s minimum gap
        assert_eq!(
            Pacer::new(cfg(100, 0, 5_000), vec![], None).max_sends_between(0, 25_000),
            6
        );
        assert_eq!(p.max_sends_between(10, 0), 0);
    }

    #[test]
    fn eta_uses_every_sim() {
        let p = Pacer::new(cfg(1, 0, 0), vec![0, 1], None);
        assert_eq!(p.eta(None, 1, 0, 5_000), Some(0));
        assert_eq!(p.eta(None, 2, 0, 5_000), None);
        // pinned to slot 1 behind one message: the one ahead takes slot 0
        assert_eq!(p.eta(Some(1), 1, 0, 5_000), Some(0));
    }

    #[test]
    fn a_forgotten_attempt_frees_its_place_in_the_window() {
        let mut p = Pacer::new(cfg(1, 1, 0), vec![], None);
        p.record(None, 100, 0);
        assert_eq!(p.pick(None, 200), Pick::WaitUntil(10_100));
        p.forget(None, 100);
        assert_eq!(p.pick(None, 200), Pick::Now(None));
        assert_eq!(p.used(200), 0);
    }

    #[test]
    fn a_sim_out_of_budget_is_passed_over() {
        let mut p = Pacer::new(cfg(10, 0, 0), vec![0, 1], None);
        let budget = |sim: Option<u8>| if sim == Some(0) { 50_000 } else { 0 };
        assert_eq!(p.pick_with(None, 0, budget), Pick::Now(Some(1)));
        assert_eq!(p.pick_with(None, 0, budget), Pick::Now(Some(1)));
        // a message pinned to the resting SIM waits for it
        assert_eq!(p.pick_with(Some(0), 0, budget), Pick::WaitUntil(50_000));
    }

    #[test]
    fn load_restores_the_window() {
        let mut p = Pacer::new(cfg(2, 0, 0), vec![], None);
        p.load(&[(-1, 100), (-1, 200)]);
        assert_eq!(p.pick(None, 300), Pick::WaitUntil(10_100));
    }
}
