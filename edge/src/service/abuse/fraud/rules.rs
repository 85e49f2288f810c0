//! The fraud guard: SMS pumping (bots entering numbers so the sender pays) shows as sends to a
//! destination that jump far above that destination's own baseline while hardly any of them is
//! verified. Per tenant, in its gate (the tenant's Durable Object, not the store), each watched key
//! keeps sliding windows of sends and approvals: the last hour in 5-minute buckets, and the day in
//! hourly buckets for the baseline. A send is refused (and the key blocked for a while) when, counting
//! it, the last hour's sends exceed `max(min_sends, spike x baseline)` while approvals stay under
//! `floor` of them.
//!
//! A destination is watched at three levels, each with its own key, window and baseline, so a run
//! cannot hide by spreading: its country (`c:+33`), its carrier range (`r:+336`: the calling code
//! and the first national digit; NANP by area code, `r:+1415`) and its prefix (`p:+33612`: three
//! national digits; NANP by area code and exchange, `p:+1415555`, the block a carrier is given).
//! A wider level allows more sends before it looks at conversion, so a busy but verified country
//! never trips, while a country or range never seen before that takes unverified sends trips its
//! own level however the run varies the digits below it. The end user's address (`ip:`), when the
//! tenant passes it, is a fourth key.
//!
//! Windows and blocks are kept durably by the gate's holder (`take_changes`): an eviction forgets
//! neither the baseline nor a run that paused.

use std::collections::{BTreeSet, HashMap};

use otp_shared::phone::Phone;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// The levels a key can be watched at, from its key's prefix (on the wire: [`Scope::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = FraudScope)]
pub enum Scope {
    Country,
    Range,
    Prefix,
    EndUser,
}

impl Scope {
    pub fn of(key: &str) -> Scope {
        match key.split_once(':').map(|(k, _)| k) {
            Some("c") => Scope::Country,
            Some("r") => Scope::Range,
            Some("ip") => Scope::EndUser,
            _ => Scope::Prefix,
        }
    }

    /// What an admin reads (`details.kind`).
    pub fn name(self) -> &'static str {
        match self {
            Scope::Country => "country",
            Scope::Range => "range",
            Scope::Prefix => "prefix",
            Scope::EndUser => "end_user",
        }
    }
}

impl Rule {
    pub fn of(level: FraudLevel, key: &str) -> Option<Rule> {
        // The wider the level, the more unverified sends it may take before it looks at conversion
        // (a few are always normal), but every level stays under 50 at `standard`.
        let (min_sends, spike, floor_percent, block_ms) = match level {
            FraudLevel::Off => return None,
            FraudLevel::Standard => (
                match Scope::of(key) {
                    Scope::Country => 40,
                    Scope::Range => 30,
                    Scope::Prefix => 20,
                    Scope::EndUser => 10,
                },
                5,
                20,
                HOUR_MS,
            ),
            FraudLevel::Strict => (
                match Scope::of(key) {
                    Scope::Country => 15,
                    Scope::Range => 12,
                    Scope::Prefix => 8,
                    Scope::EndUser => 5,
                },
                3,
                50,
                4 * HOUR_MS,
            ),
        };
        Some(Rule {
            min_sends,
            spike,
            floor_percent,
            block_ms,
        })
    }
}

/// The watched keys of a destination, narrowest first (when two trip at once, the narrower block
/// is the one that holds): its prefix, carrier range and country.
pub fn destination(phone: &Phone) -> Vec<Watched> {
    let cc = phone.country_code();
    let nsn = phone.national_number();
    let at = |n: usize| &nsn[..n.min(nsn.len())];
    let range = format!("+{cc}{}", at(if cc == 1 { 3 } else { 1 }));
    let country = format!("+{cc}");
    let country_label = match phone.region() {
        Some(r) if cc != 1 => format!("{country} ({r})"),
        _ => country.clone(),
    };
    vec![
        prefix_of(phone),
        Watched {
            key: format!("r:{range}"),
            label: range,
        },
        Watched {
            key: format!("c:{country}"),
            label: country_label,
        },
    ]
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

/// A track as its holder stores it: only the buckets that hold something.
#[derive(Debug, Serialize, Deserialize)]
struct StoredTrack {
    l: String,
    t: i64,
    /// 5-minute buckets: (index, sends, approved).
    r: Vec<(i64, u32, u32)>,
    /// Hourly buckets: (index, sends).
    h: Vec<(i64, u32)>,
}

impl Track {
    fn stored(&self) -> StoredTrack {
        StoredTrack {
            l: self.label.clone(),
            t: self.last_ms,
            r: self
                .recent
                .iter()
                .filter(|b| b.sends + b.approved > 0)
                .map(|b| (b.idx, b.sends, b.approved))
                .collect(),
            h: self
                .hours
                .iter()
                .filter(|b| b.sends > 0)
                .map(|b| (b.idx, b.sends))
                .collect(),
        }
    }

    fn from_stored(s: StoredTrack) -> Track {
        let mut t = Track::new(&s.l);
        t.last_ms = s.t;
        for (idx, sends, approved) in s.r {
            let b = Self::slot(&mut t.recent, idx);
            b.sends += sends;
            b.approved += approved;
        }
        for (idx, sends) in s.h {
            Self::slot(&mut t.hours, idx).sends += sends;
        }
        t
    }

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
    /// Windows changed, or dropped, since the holder last stored them.
    changed: BTreeSet<String>,
    dropped: BTreeSet<String>,
}

/// Where the holder keeps the blocks (all under one key: a few at most) and each window.
pub const BLOCKS_KEY: &str = "fraud:blocks";
pub const WINDOW_PREFIX: &str = "fw:";

/// What the holder must write and delete after a call.
#[derive(Debug, Default, PartialEq)]
pub struct StoreChanges {
    pub put: Vec<(String, Value)>,
    pub delete: Vec<String>,
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

    /// Takes one stored entry back (the blocks, or a window); false if it is not the guard's.
    pub fn restore(&mut self, key: &str, value: &Value) -> bool {
        if key == BLOCKS_KEY {
            if let Ok(blocks) = serde_json::from_value::<Vec<FraudBlock>>(value.clone()) {
                for b in blocks {
                    self.blocks.entry(b.key.clone()).or_insert(b);
                }
            }
            return true;
        }
        let Some(k) = key.strip_prefix(WINDOW_PREFIX) else {
            return false;
        };
        if let Ok(t) = serde_json::from_value::<StoredTrack>(value.clone()) {
            self.tracks
                .entry(k.to_string())
                .or_insert_with(|| Track::from_stored(t));
        }
        true
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

    /// Everything the holder must store or delete since the last call: the blocks when they
    /// changed, and each window that changed or was dropped.
    pub fn take_changes(&mut self) -> StoreChanges {
        let mut c = StoreChanges::default();
        if let Some(blocks) = self.take_changed() {
            c.put
                .push((BLOCKS_KEY.to_string(), serde_json::json!(blocks)));
        }
        for k in std::mem::take(&mut self.changed) {
            if let Some(t) = self.tracks.get(&k) {
                if let Ok(v) = serde_json::to_value(t.stored()) {
                    c.put.push((format!("{WINDOW_PREFIX}{k}"), v));
                }
            }
        }
        for k in std::mem::take(&mut self.dropped) {
            if !self.tracks.contains_key(&k) {
                c.delete.push(format!("{WINDOW_PREFIX}{k}"));
            }
        }
        c
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
            self.changed.insert(w.key.clone());
        }
    }

    /// A verification sent to `keys` was approved (keys never sent to are not tracked).
    pub fn record_approved(&mut self, keys: &[String], now: i64) {
        for k in keys {
            if let Some(t) = self.tracks.get_mut(k) {
                t.add(now, 0, 1);
                self.changed.insert(k.clone());
            }
        }
    }

    fn make_room(&mut self, now: i64) {
        if self.tracks.len() < MAX_TRACKED {
            return;
        }
        let dropped = &mut self.dropped;
        self.tracks.retain(|k, t| {
            let keep = now - t.last_ms < 24 * HOUR_MS;
            if !keep {
                dropped.insert(k.clone());
            }
            keep
        });
        if self.tracks.len() >= MAX_TRACKED {
            let mut by_age: Vec<(i64, String)> = self
                .tracks
                .iter()
                .map(|(k, t)| (t.last_ms, k.clone()))
                .collect();
            by_age.sort();
            for (_, k) in by_age.into_iter().take(MAX_TRACKED / 10) {
                self.tracks.remove(&k);
                self.dropped.insert(k);
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
            self.dropped.insert(b.key.clone());
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

    /// A small deterministic generator (xorshift), so a run's numbers vary but the test does not.
    struct Digits(u64);
    impl Digits {
        fn next(&mut self, below: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % below
        }

        /// A valid French mobile in range `6` or `7`, every digit after the range random.
        fn french(&mut self, range: u8) -> String {
            let second = if range == 6 {
                b"01245678".as_slice()
            } else {
                b"3456789".as_slice()
            };
            let d = second[self.next(second.len() as u64) as usize] as char;
            format!("+33{range}{d}{:07}", self.next(10_000_000))
        }
    }

    /// Sends an OTP to each number in turn (each checked, then recorded); returns how many went
    /// before the first refusal, and the refusal's key.
    fn run(
        g: &mut FraudGuard,
        level: FraudLevel,
        numbers: &[String],
        start: i64,
    ) -> (usize, Option<String>) {
        for (i, n) in numbers.iter().enumerate() {
            let watched = destination(&Phone::parse(n).unwrap());
            let now = start + i as i64 * 1000;
            if let Err(r) = g.check_send(level, &watched, now) {
                return (i, Some(r.block.key));
            }
            g.record_send(level, &watched, now);
        }
        (numbers.len(), None)
    }

    #[test]
    fn a_run_spread_over_a_countrys_sub_prefixes_is_stopped_by_its_range_or_country() {
        let mut rng = Digits(0x9e37_79b9_7f4a_7c15);
        // 300 French mobiles, every digit after the range random: hardly two share a prefix.
        let one_range: Vec<String> = (0..300).map(|_| rng.french(6)).collect();
        let mut g = FraudGuard::default();
        let (sent, key) = run(&mut g, FraudLevel::Standard, &one_range, T0);
        assert_eq!((sent, key.as_deref()), (30, Some("r:+336")));
        // Over both mobile ranges: the country stops it.
        let two_ranges: Vec<String> = (0..300u32).map(|i| rng.french(6 + (i % 2) as u8)).collect();
        let mut g = FraudGuard::default();
        let (sent, key) = run(&mut g, FraudLevel::Standard, &two_ranges, T0);
        assert_eq!((sent, key.as_deref()), (40, Some("c:+33")));
        // NANP: random exchanges of one area code trip the area code; strict stops sooner.
        let area: Vec<String> = (0..300)
            .map(|_| format!("+1415{}{:04}", 200 + rng.next(800), rng.next(10_000)))
            .collect();
        let mut g = FraudGuard::default();
        assert_eq!(run(&mut g, FraudLevel::Standard, &area, T0).0, 30);
        let mut g = FraudGuard::default();
        let (sent, key) = run(&mut g, FraudLevel::Strict, &two_ranges, T0);
        assert_eq!((sent, key.as_deref()), (15, Some("c:+33")));
    }

    #[test]
    fn verified_traffic_in_several_countries_is_never_blocked() {
        let mut rng = Digits(7);
        let mut g = FraudGuard::default();
        let ranges = ["+336", "+337", "+4477", "+1415", "+491", "+346"];
        // Two days of 120 sends an hour over six countries, every code entered a few seconds later.
        for i in 0..(48 * 120) {
            let r = ranges[rng.next(ranges.len() as u64) as usize];
            let n = format!("{r}{:08}", rng.next(100_000_000));
            let n = if r == "+1415" {
                format!("+1415{}{:04}", 200 + rng.next(800), rng.next(10_000))
            } else {
                n
            };
            let Ok(phone) = Phone::parse(&n) else {
                continue;
            };
            let watched = destination(&phone);
            let now = T0 + i * 30_000;
            let level = FraudLevel::Standard;
            assert!(
                g.check_send(level, &watched, now).is_ok(),
                "send {i} to {n}"
            );
            g.record_send(level, &watched, now);
            let keys: Vec<String> = watched.iter().map(|w| w.key.clone()).collect();
            g.record_approved(&keys, now + 5_000);
        }
        assert!(g.blocks(T0 + 48 * HOUR_MS).is_empty());
    }

    #[test]
    fn a_never_seen_country_trips_its_own_level_whatever_the_tenants_volume_elsewhere() {
        let mut g = FraudGuard::default();
        // A day of busy, verified UK traffic.
        for i in 0..2400 {
            let w =
                destination(&Phone::parse(&format!("+447700{:06}", i * 37 % 1_000_000)).unwrap());
            let now = T0 + i * 36_000;
            g.record_send(FraudLevel::Standard, &w, now);
            let keys: Vec<String> = w.iter().map(|w| w.key.clone()).collect();
            g.record_approved(&keys, now);
        }
        let start = T0 + 25 * HOUR_MS;
        let mut rng = Digits(11);
        let germany: Vec<String> = (0..100)
            .map(|i| format!("+49{}{:08}", [151, 160, 170][i % 3], rng.next(100_000_000)))
            .collect();
        let (sent, key) = run(&mut g, FraudLevel::Standard, &germany, start);
        assert_eq!((sent, key.as_deref()), (30, Some("r:+491")));
    }

    #[test]
    fn windows_survive_a_restart_through_the_holder() {
        let mut rng = Digits(5);
        let numbers: Vec<String> = (0..100).map(|_| rng.french(6)).collect();
        let mut g = FraudGuard::default();
        // 25 sends, then the holder is evicted.
        assert_eq!(run(&mut g, FraudLevel::Standard, &numbers[..25], T0).0, 25);
        let stored = g.take_changes();
        assert!(stored.put.iter().any(|(k, _)| k == "fw:r:+336"));
        assert!(g.take_changes().put.is_empty(), "stored once");
        let mut fresh = FraudGuard::default();
        for (k, v) in &stored.put {
            assert!(fresh.restore(k, v));
        }
        // The run resumes a minute later: the range still remembers its 25 sends.
        let (sent, key) = run(
            &mut fresh,
            FraudLevel::Standard,
            &numbers[25..],
            T0 + 60_000,
        );
        assert_eq!((sent, key.as_deref()), (5, Some("r:+336")));
        // The block and the window are stored; a lift drops the window.
        let c = fresh.take_changes();
        assert!(c.put.iter().any(|(k, _)| k == BLOCKS_KEY));
        fresh.lift(Some("r:+336"), T0 + 120_000);
        assert_eq!(fresh.take_changes().delete, vec!["fw:r:+336".to_string()]);
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
        let keys = |n: &str| -> Vec<String> {
            destination(&Phone::parse(n).unwrap())
                .into_iter()
                .map(|w| w.key)
                .collect()
        };
        assert_eq!(keys("+33612345678"), ["p:+33612", "r:+336", "c:+33"]);
        assert_eq!(keys("+14155550123"), ["p:+1415555", "r:+1415", "c:+1"]);
        assert_eq!(Scope::of("r:+336").name(), "range");
    }
}
