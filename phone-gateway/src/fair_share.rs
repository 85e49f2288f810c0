//! A fair share of this phone's pacing window between tenants, so one tenant's flood (a bot on
//! its sign-up form, a marketing blast) cannot use the whole window while other tenants' codes
//! wait or expire.
//!
//! - **Order.** Within a priority class (OTPs before direct messages before notifications, as
//!   always) the next message is the oldest one of the tenant that used the least of the window
//!   relative to its weight (`share_weight` from the edge, 1 by default): weighted fair queuing.
//!   A tenant with nothing sent goes before one that sent twenty.
//! - **Ceiling.** No tenant may take more than `fair_share.tenant_max_percent` (80 by default) of
//!   the window: the rest stays free for the others' codes, even when one tenant came first and
//!   nobody else was waiting. A tenant at its ceiling waits for its own sends to leave the window.
//! - **Capacity.** The check at enqueue counts what goes before a new message in this order
//!   (higher classes, the tenant's own queue, and of each other tenant only what its share lets
//!   through first), and the ceiling, so a message that could not go out before its expiry is
//!   refused `no_capacity` and the edge tries another phone.
//!
//! Usage per tenant is kept in memory (rebuilt from the queue's finished rows after a restart);
//! weights are learnt from the requests (1 until a tenant's first request after a restart).

use crate::config::{FairShareConfig, PacingConfig};
use std::collections::{HashMap, VecDeque};

/// What is queued at a new message's priority and above, per tenant (counts may be capped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueShape {
    /// Queued messages of a higher priority class (all tenants).
    pub higher: u64,
    /// Queued messages of the same class, per tenant.
    pub same: Vec<(String, u64)>,
}

#[derive(Debug, Clone)]
pub struct FairShare {
    window_ms: i64,
    /// Sends a tenant may have in one window.
    ceiling: u32,
    used: HashMap<String, VecDeque<i64>>,
    weights: HashMap<String, u16>,
}

/// At most this many tenants' usage is remembered (the least recent go first).
const MAX_TENANTS: usize = 10_000;

impl FairShare {
    /// The window and budget are the pacer's: `phone_limit` (if set) or every SIM's limit.
    pub fn new(cfg: &FairShareConfig, pacing: &PacingConfig, sims: usize) -> FairShare {
        let per_sims = pacing.per_sim_limit.saturating_mul(sims.max(1) as u32);
        let budget = match pacing.phone_limit {
            0 => per_sims,
            p => p.min(per_sims),
        };
        let pct = cfg.tenant_max_percent.clamp(1, 100) as u64;
        FairShare {
            window_ms: pacing.window_secs as i64 * 1000,
            ceiling: ((budget as u64 * pct).div_ceil(100)).max(1) as u32,
            used: HashMap::new(),
            weights: HashMap::new(),
        }
    }

    pub fn ceiling(&self) -> u32 {
        self.ceiling
    }

    /// Sends started before a restart (tenant, unix ms), oldest first.
    pub fn load(&mut self, sends: &[(String, i64)]) {
        for (t, at) in sends {
            self.used.entry(t.clone()).or_default().push_back(*at);
        }
    }

    /// The weight a tenant's request carried (absent = 1).
    pub fn note_weight(&mut self, tenant: &str, weight: Option<u16>) {
        let w = weight.unwrap_or(1).max(1);
        match self.weights.get(tenant) {
            Some(&known) if known == w => {}
            _ if w == 1 => {
                self.weights.remove(tenant);
            }
            _ => {
                self.weights.insert(tenant.to_string(), w);
            }
        }
    }

    fn weight(&self, tenant: &str) -> f64 {
        self.weights.get(tenant).copied().unwrap_or(1) as f64
    }

    /// The tenant's sends in the window ending at `now`, oldest first.
    fn sends(&self, tenant: &str, now: i64) -> impl Iterator<Item = i64> + '_ {
        let cutoff = now - self.window_ms;
        self.used
            .get(tenant)
            .into_iter()
            .flatten()
            .copied()
            .filter(move |&t| t > cutoff)
    }

    pub fn used(&self, tenant: &str, now: i64) -> u32 {
        self.sends(tenant, now).count() as u32
    }

    /// How far a tenant is into its share: what the scheduler serves lowest first.
    pub fn level(&self, tenant: &str, now: i64) -> f64 {
        self.used(tenant, now) as f64 / self.weight(tenant)
    }

    /// When the tenant may start a send again (`now` if it may now).
    pub fn free_at(&self, tenant: &str, now: i64) -> i64 {
        self.nth_free_at(tenant, 1, now)
    }

    /// When the tenant's `n`-th send from now could start, as far as its ceiling goes (each
    /// send as early as the ceiling allows).
    pub fn nth_free_at(&self, tenant: &str, n: u64, now: i64) -> i64 {
        let c = self.ceiling as usize;
        let mut times: Vec<i64> = self.sends(tenant, now).collect();
        let mut t = now;
        for _ in 0..n {
            if times.len() >= c {
                t = t.max(times[times.len() - c] + self.window_ms);
            }
            times.push(t);
        }
        t
    }

    /// A send of the tenant started at `at`.
    pub fn record(&mut self, tenant: &str, at: i64) {
        if self.used.len() >= MAX_TENANTS && !self.used.contains_key(tenant) {
            let cutoff = at - self.window_ms;
            self.used
                .retain(|_, q| q.back().is_some_and(|&last| last > cutoff));
        }
        let q = self.used.entry(tenant.to_string()).or_default();
        let cutoff = at - self.window_ms;
        while q.front().is_some_and(|&t| t <= cutoff) {
            q.pop_front();
        }
        q.push_back(at);
    }

    /// Takes back a send recorded at `at` that never started.
    pub fn forget(&mut self, tenant: &str, at: i64) {
        if let Some(q) = self.used.get_mut(tenant) {
            if let Some(i) = q.iter().rposition(|&t| t == at) {
                q.remove(i);
            }
        }
    }

    /// How many queued messages go before a new one of `tenant`, given what is queued: every
    /// higher class, the tenant's own queue in its class, and of each other tenant in the class
    /// what it may send before this tenant's turn comes (a lighter user goes first).
    pub fn ahead(&self, tenant: &str, shape: &QueueShape, now: i64) -> u64 {
        let own = shape
            .same
            .iter()
            .find(|(t, _)| t == tenant)
            .map_or(0, |(_, n)| *n);
        // This message is served when the tenant's level reaches this.
        let turn = (self.used(tenant, now) as f64 + own as f64) / self.weight(tenant);
        let others: u64 = shape
            .same
            .iter()
            .filter(|(t, _)| t != tenant)
            .map(|(t, queued)| {
                let before = (turn * self.weight(t) - self.used(t, now) as f64).floor() + 1.0;
                (before.max(0.0) as u64).min(*queued)
            })
            .sum();
        shape.higher + own + others
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fair(limit: u32, pct: u32) -> FairShare {
        let pacing = PacingConfig {
            per_sim_limit: limit,
            phone_limit: limit,
            window_secs: 60,
            min_delay_ms: 0,
            jitter_ms: 0,
        };
        FairShare::new(
            &FairShareConfig {
                tenant_max_percent: pct,
            },
            &pacing,
            1,
        )
    }

    #[test]
    fn the_ceiling_leaves_room_for_others_and_always_allows_one() {
        assert_eq!(fair(25, 80).ceiling(), 20);
        assert_eq!(fair(10, 80).ceiling(), 8);
        assert_eq!(fair(1, 80).ceiling(), 1);
        assert_eq!(fair(25, 100).ceiling(), 25);
    }

    #[test]
    fn a_tenant_at_its_ceiling_waits_for_its_own_sends_to_leave_the_window() {
        let mut f = fair(10, 80);
        for i in 0..8 {
            assert_eq!(f.free_at("a", i * 100), i * 100);
            f.record("a", i * 100);
        }
        assert_eq!(f.free_at("a", 1_000), 60_000);
        assert_eq!(f.free_at("b", 1_000), 1_000, "another tenant is not held");
        // The second and ninth sends from now.
        assert_eq!(f.nth_free_at("a", 2, 1_000), 60_100);
        assert_eq!(f.nth_free_at("a", 9, 1_000), 120_000);
        f.forget("a", 700);
        assert_eq!(f.free_at("a", 1_000), 1_000);
    }

    #[test]
    fn a_light_tenant_goes_before_a_heavy_one() {
        let mut f = fair(100, 100);
        for i in 0..20 {
            f.record("heavy", i);
        }
        let shape = QueueShape {
            higher: 2,
            same: vec![("heavy".into(), 50), ("light".into(), 1)],
        };
        // The light tenant's next message waits for its own one and the higher class only.
        assert_eq!(f.ahead("light", &shape, 100), 3);
        // The heavy tenant's waits for all of the light tenant's and its own 50.
        assert_eq!(f.ahead("heavy", &shape, 100), 2 + 50 + 1);
        assert!(f.level("light", 100) < f.level("heavy", 100));
    }

    #[test]
    fn weights_share_the_window_in_proportion() {
        let mut f = fair(100, 100);
        f.note_weight("big", Some(3));
        for i in 0..3 {
            f.record("big", i);
        }
        f.record("small", 10);
        // big at 3/3 = 1, small at 1/1 = 1: even. Small's second message from now is its turn
        // at level 2, by which big has sent 4 more (3 + 4 = 7 against 1 + 1 = 2): three to one.
        let shape = QueueShape {
            higher: 0,
            same: vec![("big".into(), 10), ("small".into(), 1)],
        };
        assert_eq!(f.ahead("small", &shape, 100), 1 + 4);
        // Unweighted, big (3 sent) lets small (1 sent) go first: only small's own is ahead.
        f.note_weight("big", Some(1));
        assert_eq!(f.ahead("small", &shape, 100), 1);
        f.note_weight("big", None);
        assert_eq!(f.weight("big"), 1.0);
    }
}
