//! The fraud guard: SMS pumping (bots entering numbers of one range so the sender pays) shows as
//! sends to one destination prefix that jump far above that prefix's own baseline while hardly any
//! of them is verified. Per tenant, in its gate (memory of the tenant's Durable Object, not the
//! store), each watched key keeps sliding windows of sends and approvals: the last hour in 5-minute
//! buckets, and the day in hourly buckets for the baseline. A send is refused (and the key blocked
//! for a while) when, counting it, the last hour's sends exceed
//! `max(min_sends, spike x baseline)` while approvals stay under `floor` of them. Watched keys are
//! the destination prefix and, when the tenant passes it, the end user's address.
//!
//! The prefix: NANP numbers (+1) by area code and exchange (`+1415555`, the block a carrier is
//! assigned); others by calling code and the first three national digits (`+33612`).
//!
//! Blocks are kept durably by the gate's holder (an eviction must not lift them); the windows
//! are memory only (an eviction forgets the baseline, which then starts from the minimum).

use std::collections::HashMap;

use otp_shared::phone::Phone;

use crate::platform::fraud::{
    FraudAnswer, FraudAsk, FraudBlock, FraudLevel, Watched, WatchedStats,
};

/// The thresholds of a level, for one sort of key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Sends in an hour a key may always have.
    pub min_sends: u32,
    /// How many times its hourly baseline a key may send before conversion is looked at.
    pub spike: u32,
    /// Approved / sent, in percent, under which a spike is blocked.
    pub floor_percent: u32,
    pub block_ms: i64,
}

const HOUR_MS: i64 = 3_600_000;
const BUCKET_MS: i64 = 300_000;
const RECENT_BUCKETS: usize = 12;
/// Hourly buckets kept: the baseline's 23 hours, the two before now and the current one.
const DAY_HOURS: usize = 26;
/// Hours the baseline averages over: the day, less the last two (the spike itself).
const BASELINE_HOURS: i64 = 23;
/// Keys tracked per tenant; the least recently active go first.
const MAX_TRACKED: usize = 2_000;

impl Rule {
    pub fn of(level: FraudLevel, key: &str) -> Option<Rule> {
        let ip = key.starts_with("ip:");
        match (level, ip) {
            (FraudLevel::Off, _) => None,
            (FraudLevel::Standard, false) => Some(Rule {
                min_sends: 20,
                spike: 5,
                floor_percent: 20,
                block_ms: HOUR_MS,
            }),
            (FraudLevel::Standard, true) => Some(Rule {
                min_sends: 10,
                spike: 5,
                floor_percent: 20,
                block_ms: HOUR_MS,
            }),
            (FraudLevel::Strict, false) => Some(Rule {
                min_sends: 8,
                spike: 3,
                floor_percent: 50,
                block_ms: 4 * HOUR_MS,
            }),
            (FraudLevel::Strict, true) => Some(Rule {
                min_sends: 5,
                spike: 3,
                floor_percent: 50,
                block_ms: 4 * HOUR_MS,
            }),
        }
    }
}

/// The watched key of a destination: its prefix.
pub fn prefix_of(phone: &Phone) -> Watched {
    let nsn = phone.national_number();
    let digits = if phone.country_code() == 1 { 6 } else { 3 };
    let prefix = format!("+{}{}", phone.country_code(), &nsn[..digits.min(nsn.len())]);
    Watched {
        key: format!("p:{prefix}"),
        label: prefix,
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    idx: i64,
    sends: u32,
    approved: u32,
}

#[derive(Debug, Clone)]
struct Track {
    label: String,
    recent: [Bucket; RECENT_BUCKETS],
    hours: [Bucket; DAY_HOURS],
    last_ms: i64,
}

impl Track {
    fn new(label: &str) -> Track {
        Track {
            label: label.to_string(),
            recent: [Bucket::default(); RECENT_BUCKETS],
            hours: [Bucket::default(); DAY_HOURS],
            last_ms: 0,
        }
    }

    fn slot<const N: usize>(buckets: &mut [Bucket; N], idx: i64) -> &mut Bucket {
        let b = &mut buckets[idx.rem_euclid(N as i64) as usize];
        if b.idx != idx {
            *b = Bucket {
                idx,
                ..Default::default()
            };
        }
        b
    }

    fn add(&mut self, now: i64, sends: u32, approved: u32) {
        let r = Self::slot(&mut self.recent, now.div_euclid(BUCKET_MS));
        r.sends += sends;
        r.approved += approved;
        Self::slot(&mut self.hours, now.div_euclid(HOUR_MS)).sends += sends;
        self.last_ms = now;
    }

    /// Sends and approvals in the last hour (its twelve 5-minute buckets).
    fn last_hour(&self, now: i64) -> (u32, u32) {
        let idx = now.div_euclid(BUCKET_MS);
        self.recent
            .iter()
            .filter(|b| b.idx > idx - RECENT_BUCKETS as i64 && b.idx <= idx)
            .fold((0, 0), |(s, a), b| (s + b.sends, a + b.approved))
    }

    /// Average sends per hour over the day before the last two hours.
    fn baseline(&self, now: i64) -> u32 {
        let h = now.div_euclid(HOUR_MS);
        let sum: u32 = self
            .hours
            .iter()
            .filter(|b| b.idx >= h - 1 - BASELINE_HOURS && b.idx < h - 1)
            .map(|b| b.sends)
            .sum();
        (sum as i64 / BASELINE_HOURS) as u32
    }
}

/// A tenant's fraud guard, held by its gate.
#[derive(Debug, Default)]
pub struct FraudGuard {
    tracks: HashMap<String, Track>,
    blocks: HashMap<String, FraudBlock>,
    /// The blocks were read back from durable storage (or there is none).
    loaded: bool,
    /// The blocks changed since the holder last stored them.
    dirty: bool,
}

/// The send may not go: the block that says so, and whether this send started it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub block: FraudBlock,
    pub new: bool,
}

impl FraudGuard {
    pub fn loaded(&self) -> bool {
        self.loaded
    }

    /// The blocks kept durably, once after the holder starts.
    pub fn load(&mut self, blocks: Vec<FraudBlock>) {
        for b in blocks {
            self.blocks.entry(b.key.clone()).or_insert(b);
        }
        self.loaded = true;
    }

    /// The blocks to store, if they changed since the last call.
    pub fn take_changed(&mut self) -> Option<Vec<FraudBlock>> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        let mut v: Vec<FraudBlock> = self.blocks.values().cloned().collect();
        v.sort_by(|a, b| a.key.cmp(&b.key));
        Some(v)
    }

    fn expire(&mut self, now: i64) {
        let before = self.blocks.len();
        self.blocks.retain(|_, b| b.until_ms > now);
        if self.blocks.len() != before {
            self.dirty = true;
        }
    }

    /// Whether an OTP may go to `watched` now. A key already blocked refuses it; a key this send
    /// would take over its limit is blocked from now on, and refuses it too. Counts nothing.
    pub fn check_send(
        &mut self,
        level: FraudLevel,
        watched: &[Watched],
        now: i64,
    ) -> Result<(), Refused> {
        self.expire(now);
        for w in watched {
            if let Some(b) = self.blocks.get(&w.key) {
                return Err(Refused {
                    block: b.clone(),
                    new: false,
                });
            }
        }
        for w in watched {
            let Some(rule) = Rule::of(level, &w.key) else {
                continue;
            };
            let (sends, approved, baseline) = match self.tracks.get(&w.key) {
                Some(t) => {
                    let (s, a) = t.last_hour(now);
                    (s, a, t.baseline(now))
                }
                None => (0, 0, 0),
            };
            let sends = sends + 1;
            let threshold = rule.min_sends.max(rule.spike.saturating_mul(baseline));
            let converting = approved.saturating_mul(100) >= rule.floor_percent * sends;
            if sends > threshold && !converting {
                let block = FraudBlock {
                    key: w.key.clone(),
                    label: w.label.clone(),
                    level,
                    since_ms: now,
                    until_ms: now + rule.block_ms,
                    sends: sends - 1,
                    approved,
                    threshold,
                };
                self.blocks.insert(w.key.clone(), block.clone());
                self.dirty = true;
                return Err(Refused { block, new: true });
            }
        }
        Ok(())
    }

    /// An OTP went to `watched` (the gate let the whole call through).
    pub fn record_send(&mut self, level: FraudLevel, watched: &[Watched], now: i64) {
        if level == FraudLevel::Off {
            return;
        }
        for w in watched {
            self.make_room(now);
            self.tracks
                .entry(w.key.clone())
                .or_insert_with(|| Track::new(&w.label))
                .add(now, 1, 0);
        }
    }

    /// A verification sent to `keys` was approved (keys never sent to are not tracked).
    pub fn record_approved(&mut self, keys: &[String], now: i64) {
        for k in keys {
            if let Some(t) = self.tracks.get_mut(k) {
                t.add(now, 0, 1);
            }
        }
    }

    fn make_room(&mut self, now: i64) {
        if self.tracks.len() < MAX_TRACKED {
            return;
        }
        self.tracks.retain(|_, t| now - t.last_ms < 24 * HOUR_MS);
        if self.tracks.len() >= MAX_TRACKED {
            let mut by_age: Vec<(i64, String)> = self
                .tracks
                .iter()
                .map(|(k, t)| (t.last_ms, k.clone()))
                .collect();
            by_age.sort();
            for (_, k) in by_age.into_iter().take(MAX_TRACKED / 10) {
                self.tracks.remove(&k);
            }
        }
    }

    pub fn blocks(&mut self, now: i64) -> Vec<FraudBlock> {
        self.expire(now);
        let mut v: Vec<FraudBlock> = self.blocks.values().cloned().collect();
        v.sort_by_key(|b| std::cmp::Reverse(b.since_ms));
        v
    }

    /// The `n` watched keys with the most sends in the last hour.
    pub fn busiest(&self, now: i64, n: usize) -> Vec<WatchedStats> {
        let mut v: Vec<WatchedStats> = self
            .tracks
            .iter()
            .map(|(k, t)| {
                let (sends, approved) = t.last_hour(now);
                WatchedStats {
                    key: k.clone(),
                    label: t.label.clone(),
                    sends,
                    approved,
                    baseline: t.baseline(now),
                }
            })
            .filter(|s| s.sends > 0)
            .collect();
        v.sort_by(|a, b| b.sends.cmp(&a.sends).then_with(|| a.key.cmp(&b.key)));
        v.truncate(n);
        v
    }

    /// Lifts the block on `key` (or all); returns what was lifted. The key's window is cleared
    /// too, so the next send does not trip it again at once.
    pub fn lift(&mut self, key: Option<&str>, now: i64) -> Vec<FraudBlock> {
        self.expire(now);
        let lifted: Vec<FraudBlock> = match key {
            Some(k) => self.blocks.remove(k).into_iter().collect(),
            None => self.blocks.drain().map(|(_, b)| b).collect(),
        };
        for b in &lifted {
            self.tracks.remove(&b.key);
        }
        if !lifted.is_empty() {
            self.dirty = true;
        }
        lifted
    }

    /// The answer to a `List`, `Lift` or `Approved` ask (`Send` is served by the gate itself).
    pub fn serve_admin(&mut self, ask: &FraudAsk, now: i64) -> FraudAnswer {
        match ask {
            FraudAsk::Approved { keys } => {
                self.record_approved(keys, now);
                FraudAnswer::default()
            }
            FraudAsk::List => FraudAnswer {
                blocks: self.blocks(now),
                busiest: self.busiest(now, 20),
                ..Default::default()
            },
            FraudAsk::Lift { key } => FraudAnswer {
                blocks: self.lift(key.as_deref(), now),
                ..Default::default()
            },
            FraudAsk::Send { .. } => FraudAnswer::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_764_000_000_000;

    fn w(key: &str) -> Vec<Watched> {
        vec![Watched {
            key: key.into(),
            label: key.trim_start_matches("p:").into(),
        }]
    }

    /// Sends until the guard refuses one; returns how many went through.
    fn pump(g: &mut FraudGuard, level: FraudLevel, key: &str, start: i64, max: u32) -> u32 {
        for i in 0..max {
            let now = start + i as i64 * 1000;
            if g.check_send(level, &w(key), now).is_err() {
                return i;
            }
            g.record_send(level, &w(key), now);
        }
        max
    }

    #[test]
    fn a_pumping_run_is_blocked_after_the_minimum() {
        let mut g = FraudGuard::default();
        assert_eq!(pump(&mut g, FraudLevel::Standard, "p:+33612", T0, 500), 20);
        let e = g
            .check_send(FraudLevel::Standard, &w("p:+33612"), T0 + 60_000)
            .unwrap_err();
        assert!(!e.new, "the block stays");
        assert_eq!(e.block.until_ms, T0 + 20_000 + HOUR_MS);
        let mut strict = FraudGuard::default();
        assert_eq!(
            pump(&mut strict, FraudLevel::Strict, "p:+33612", T0, 500),
            8
        );
        let mut off = FraudGuard::default();
        assert_eq!(pump(&mut off, FraudLevel::Off, "p:+33612", T0, 500), 500);
    }

    #[test]
    fn verified_traffic_is_never_blocked() {
        let mut g = FraudGuard::default();
        for i in 0..1000 {
            let now = T0 + i * 2000;
            let key = w("p:+1415555");
            g.check_send(FraudLevel::Strict, &key, now).unwrap();
            g.record_send(FraudLevel::Strict, &key, now);
            // Two codes in three are entered: well over the strict floor.
            if i % 3 != 0 {
                g.record_approved(&["p:+1415555".to_string()], now + 500);
            }
        }
    }

    #[test]
    fn a_busy_prefix_may_send_a_multiple_of_its_own_baseline() {
        let mut g = FraudGuard::default();
        // A day of 30 sends an hour, all verified.
        for h in 0..24 {
            for i in 0..30 {
                let now = T0 + h * HOUR_MS + i * 60_000;
                g.record_send(FraudLevel::Standard, &w("p:+44770"), now);
                g.record_approved(&["p:+44770".to_string()], now);
            }
        }
        // Then nobody verifies: the hour may reach 5 x 30 sends before the block.
        let start = T0 + 26 * HOUR_MS;
        let baseline = g.tracks["p:+44770"].baseline(start);
        assert!((25..=30).contains(&baseline), "{baseline}");
        let sent = pump(&mut g, FraudLevel::Standard, "p:+44770", start, 1000);
        assert_eq!(sent, 5 * baseline);
    }

    #[test]
    fn blocks_expire_and_an_admin_lifts_them() {
        let mut g = FraudGuard::default();
        pump(&mut g, FraudLevel::Standard, "p:+33612", T0, 100);
        assert_eq!(g.blocks(T0 + 30_000).len(), 1);
        assert!(g.take_changed().is_some());
        assert!(g.take_changed().is_none(), "stored once");
        // After the block's hour the windows have slid too: the prefix sends again.
        let later = T0 + 2 * HOUR_MS;
        assert!(g
            .check_send(FraudLevel::Standard, &w("p:+33612"), later)
            .is_ok());
        assert!(g.take_changed().is_some(), "the expiry is stored");
        pump(&mut g, FraudLevel::Standard, "p:+33613", later, 100);
        let lifted = g.lift(Some("p:+33613"), later + 60_000);
        assert_eq!(lifted.len(), 1);
        assert!(g
            .check_send(FraudLevel::Standard, &w("p:+33613"), later + 61_000)
            .is_ok());
    }

    #[test]
    fn blocks_survive_a_restart_through_the_holder() {
        let mut g = FraudGuard::default();
        pump(&mut g, FraudLevel::Standard, "p:+33612", T0, 100);
        let stored = g.take_changed().unwrap();
        let mut fresh = FraudGuard::default();
        assert!(!fresh.loaded());
        fresh.load(stored);
        assert!(fresh
            .check_send(FraudLevel::Standard, &w("p:+33612"), T0 + 60_000)
            .is_err());
    }

    #[test]
    fn addresses_have_their_own_limit() {
        let mut g = FraudGuard::default();
        assert_eq!(pump(&mut g, FraudLevel::Standard, "ip:abc", T0, 100), 10);
    }

    #[test]
    fn prefixes() {
        let p = |n: &str| prefix_of(&Phone::parse(n).unwrap()).label;
        assert_eq!(p("+14155550123"), "+1415555");
        assert_eq!(p("+33612345678"), "+33612");
        assert_eq!(
            prefix_of(&Phone::parse("+33612345678").unwrap()).key,
            "p:+33612"
        );
    }
}
