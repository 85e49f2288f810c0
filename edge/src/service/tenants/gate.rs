//! A tenant's gate: everything a request must be let through, answered in one call to one holder
//! (a Durable Object per tenant on Workers, memory natively): the endpoint and client-address
//! limits, the per-phone windows, and a lease on the quota.
//!
//! Limits are GCRA (generic cell rate algorithm): one timestamp per key, smooth spacing, an exact
//! `Retry-After`. A request's hits count all or none: the first refusal stops the rest.
//!
//! The lease: a take is served from units already moved out of the store's quota shards. When the
//! lease is empty the gate takes a block from one shard in one commit guarded by the version it
//! read, so the store's balance never goes below zero and the sum of leases never exceeds it.
//! Refunds go back to the lease.
//!
//! What a decision depends on survives the holder's eviction: every call hands back the entries
//! it changed (`Served::changes`: limit states, the lease, the fraud guard's windows and blocks),
//! which the holder writes to its own storage before it answers, and a holder that starts reads
//! them all back first (`TenantGate::restore`). So the lease is never lost (usage is exactly what
//! was spent), a limit or a pumping run that paused across an eviction picks up where it was.

use otp_shared::ids::TenantId;
use std::collections::HashMap;

use serde_json::{json, Value};

use crate::net::HttpClient;
use crate::platform::fraud::{FraudAnswer, FraudAsk};
use crate::platform::{
    GateAnswer, GateAsk, Hit, LimitKind, QuotaAnswer, QuotaOp, RateRule, Refusal,
};
use crate::service::abuse::fraud::rules::{FraudGuard, StoreChanges};
use crate::service::repo::quota::ShardState;
use crate::service::repo::view::Repo;
use crate::store::StoreError;

/// The gate of a tenant (one Durable Object each).
pub fn tenant_gate(tenant_id: &TenantId) -> String {
    format!("t-{tenant_id}")
}

/// Applies one request at `now_ms` to the theoretical arrival time `tat_ms` (0 for a new key).
/// Returns the new state, or the seconds to wait when refused (the state is then unchanged).
pub fn gcra(rule: RateRule, tat_ms: i64, now_ms: i64) -> Result<i64, u64> {
    let limit = rule.limit.max(1) as i64;
    let window = rule.window_secs.max(1) as i64 * 1000;
    let interval = window / limit;
    let new_tat = tat_ms.max(now_ms) + interval;
    let allow_at = new_tat - window;
    if allow_at > now_ms {
        return Err(((allow_at - now_ms + 999) / 1000) as u64);
    }
    Ok(new_tat)
}

/// Lease blocks grow while takes come quickly (fewer commits under load) and shrink when they
/// come slowly (less stranded if the holder is evicted).
const MIN_BLOCK: i64 = 2;
const MAX_BLOCK: i64 = 64;
/// A refill this soon after the last one means the tenant is busy: double the block.
const BUSY_REFILL_MS: i64 = 2_000;
/// Limit state is forgotten for keys whose window has passed once there are this many.
const MAX_KEYS: usize = 10_000;
/// Where the holder keeps the lease (limit states are under their `key_of`, the fraud guard's
/// entries under `fraud:blocks` and `fw:`).
pub const LEASE_KEY: &str = "quota:lease";

#[derive(Debug, Default)]
pub struct TenantGate {
    tats: HashMap<String, i64>,
    lease: i64,
    /// The shards as last read or written; empty until the first refill.
    shards: Vec<ShardState>,
    block: i64,
    last_refill_ms: i64,
    /// Sends and approvals per destination level and end user (see `abuse::fraud::rules`).
    pub fraud: FraudGuard,
    /// The holder's stored entries were read back (or there were none).
    restored: bool,
    /// The lease changed since the holder last stored it.
    lease_changed: bool,
}

/// What a gate call decided, and the entries its holder must write (or delete) before answering.
#[derive(Debug)]
pub struct Served {
    pub answer: GateAnswer,
    pub changes: StoreChanges,
}

pub fn key_of(hit: &Hit) -> String {
    let kind = match hit.kind {
        LimitKind::Endpoint => "ep",
        LimitKind::Ip => "ip",
        LimitKind::PhoneSends => "sends",
        LimitKind::PhoneMessages => "msgs",
        LimitKind::AuthFailures => "authfail",
        LimitKind::Fraud => "fraud",
    };
    format!("{kind}:{}", hit.key)
}

impl TenantGate {
    /// Whether the holder has given back its stored entries since it started.
    pub fn restored(&self) -> bool {
        self.restored
    }

    /// Takes back what the holder stored, once after it starts. Returns the keys no longer worth
    /// keeping (limit states whose window has passed), for the holder to delete.
    pub fn restore(&mut self, entries: Vec<(String, Value)>, now: i64) -> Vec<String> {
        let mut stale = Vec::new();
        for (key, value) in entries {
            if key == LEASE_KEY {
                self.lease = value["units"].as_i64().unwrap_or(0).max(0);
                continue;
            }
            if self.fraud.restore(&key, &value) {
                continue;
            }
            match value.as_i64() {
                Some(tat) if tat > now => {
                    self.tats.entry(key).or_insert(tat);
                }
                _ => stale.push(key),
            }
        }
        self.fraud.load(Vec::new());
        self.restored = true;
        stale
    }

    /// The limits of `hits` at `now`, all counted or, at the first refusal, none. Every limit
    /// state it changed goes to `out` (to store), and any it forgot (to delete).
    fn admit(
        &mut self,
        hits: &[Hit],
        now: i64,
        peek: bool,
        out: &mut StoreChanges,
    ) -> Result<(), Refusal> {
        let mut next: Vec<(String, i64)> = Vec::with_capacity(hits.len());
        for h in hits {
            let key = key_of(h);
            let tat = next
                .iter()
                .rev()
                .find(|(k, _)| *k == key)
                .map(|(_, t)| *t)
                .or_else(|| self.tats.get(&key).copied())
                .unwrap_or(0);
            match gcra(h.rule, tat, now) {
                Ok(t) => next.push((key, t)),
                Err(wait) => {
                    return Err(Refusal {
                        kind: h.kind,
                        retry_after_secs: wait,
                    })
                }
            }
        }
        if peek {
            return Ok(());
        }
        if self.tats.len() > MAX_KEYS {
            self.tats.retain(|k, t| {
                let keep = *t > now;
                if !keep {
                    out.delete.push(k.clone());
                }
                keep
            });
        }
        // Several hits of one request may share a key: its last state is the one to store.
        let mut stored: HashMap<String, i64> = HashMap::new();
        for (key, tat) in next {
            stored.insert(key.clone(), tat);
            self.tats.insert(key, tat);
        }
        out.delete.retain(|k| !stored.contains_key(k));
        let mut stored: Vec<(String, i64)> = stored.into_iter().collect();
        stored.sort();
        out.put
            .extend(stored.into_iter().map(|(k, t)| (k, json!(t))));
        Ok(())
    }

    /// Un-counts `hits` (each key's state moves back one interval); the new states go to `out`.
    fn give_back(&mut self, hits: &[Hit], now: i64, out: &mut StoreChanges) {
        for h in hits {
            let key = key_of(h);
            let Some(tat) = self.tats.get_mut(&key) else {
                continue;
            };
            let interval = h.rule.window_secs.max(1) as i64 * 1000 / h.rule.limit.max(1) as i64;
            *tat = (*tat - interval).max(now.min(*tat));
            out.put.push((key, json!(*tat)));
        }
    }

    pub async fn serve<H: HttpClient>(
        &mut self,
        tenant_id: &TenantId,
        ask: &GateAsk,
        now: i64,
        repo: &Repo<'_, H>,
    ) -> Served {
        // The fraud guard first: a destination it holds is refused before any limit or quota
        // counts it.
        let send = match &ask.fraud {
            Some(FraudAsk::Send { level, watched }) if !ask.undo && !ask.peek => {
                if let Err(r) = self.fraud.check_send(*level, watched, now) {
                    let refusal = Refusal {
                        kind: LimitKind::Fraud,
                        retry_after_secs: ((r.block.until_ms - now).max(1000) / 1000) as u64,
                    };
                    let fraud = FraudAnswer {
                        blocked: Some(r.block),
                        new_block: r.new,
                        ..Default::default()
                    };
                    return self.refused(refusal, Some(fraud));
                }
                Some((*level, watched))
            }
            _ => None,
        };
        let mut changes = StoreChanges::default();
        let admitted = if ask.undo {
            self.give_back(&ask.hits, now, &mut changes);
            Ok(())
        } else {
            self.admit(&ask.hits, now, ask.peek, &mut changes)
        };
        if let Err(refusal) = admitted {
            return self.refused(refusal, None);
        }
        let quota = match ask.quota {
            QuotaOp::None => QuotaAnswer::None,
            QuotaOp::Peek => QuotaAnswer::Leased { units: self.lease },
            QuotaOp::Refund { units } => {
                self.lease += units as i64;
                self.lease_changed = true;
                QuotaAnswer::Leased { units: self.lease }
            }
            QuotaOp::Reset => {
                let dropped = std::mem::take(&mut self.lease);
                self.lease_changed = true;
                self.shards.clear();
                QuotaAnswer::Leased { units: dropped }
            }
            QuotaOp::Take => self.take(tenant_id, now, repo).await,
        };
        // Only a send that goes (limits passed, quota granted) counts for the guard.
        if let Some((level, watched)) = send {
            if matches!(quota, QuotaAnswer::Granted | QuotaAnswer::None) {
                self.fraud.record_send(level, watched, now);
            }
        }
        let fraud = match &ask.fraud {
            Some(other @ (FraudAsk::Approved { .. } | FraudAsk::List | FraudAsk::Lift { .. })) => {
                Some(self.fraud.serve_admin(other, now))
            }
            _ => None,
        };
        self.collect(&mut changes);
        Served {
            answer: GateAnswer {
                refused: None,
                quota,
                fraud,
            },
            changes,
        }
    }

    /// Adds the lease and the fraud guard's changes to what the holder must store.
    fn collect(&mut self, changes: &mut StoreChanges) {
        if std::mem::take(&mut self.lease_changed) {
            changes
                .put
                .push((LEASE_KEY.to_string(), json!({"units": self.lease})));
        }
        let fraud = self.fraud.take_changes();
        changes.put.extend(fraud.put);
        changes.delete.extend(fraud.delete);
    }

    fn refused(&mut self, refusal: Refusal, fraud: Option<FraudAnswer>) -> Served {
        let mut changes = StoreChanges::default();
        self.collect(&mut changes);
        Served {
            answer: GateAnswer {
                refused: Some(refusal),
                quota: QuotaAnswer::None,
                fraud,
            },
            changes,
        }
    }

    async fn take<H: HttpClient>(
        &mut self,
        tenant_id: &TenantId,
        now: i64,
        repo: &Repo<'_, H>,
    ) -> QuotaAnswer {
        if self.lease > 0 {
            self.lease -= 1;
            self.lease_changed = true;
            return QuotaAnswer::Granted;
        }
        match self.refill(tenant_id, now, repo).await {
            Ok(0) => QuotaAnswer::Exhausted,
            Ok(n) => {
                self.lease += n - 1;
                self.lease_changed = true;
                QuotaAnswer::Granted
            }
            Err(e) => QuotaAnswer::Unavailable { why: e.to_string() },
        }
    }

    /// Moves a block of units from a shard into the lease; returns how many (0: none left).
    async fn refill<H: HttpClient>(
        &mut self,
        tenant_id: &TenantId,
        now: i64,
        repo: &Repo<'_, H>,
    ) -> Result<i64, StoreError> {
        self.block = if now - self.last_refill_ms < BUSY_REFILL_MS {
            (self.block * 2).clamp(MIN_BLOCK, MAX_BLOCK)
        } else {
            MIN_BLOCK
        };
        self.last_refill_ms = now;
        for _ in 0..6 {
            // Shards known to be empty may have been topped up since: read before saying so.
            if !self.shards.iter().any(|s| s.remaining > 0) {
                self.shards = repo.read_shards(tenant_id).await?;
            }
            let Some(best) = self
                .shards
                .iter()
                .filter(|s| s.remaining > 0)
                .max_by_key(|s| s.remaining)
                .cloned()
            else {
                return Ok(0);
            };
            let n = self.block.min(best.remaining);
            match repo.take_from_shard(tenant_id, &best, n).await {
                Ok(written) => {
                    self.shards[best.index as usize] = written;
                    return Ok(n);
                }
                // An admin changed the balance meanwhile: read again and retry.
                Err(
                    StoreError::PreconditionFailed(_)
                    | StoreError::Aborted(_)
                    | StoreError::NotFound,
                ) => {
                    self.shards.clear();
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Aborted("the quota shards kept changing".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admit(g: &mut TenantGate, hits: &[Hit], now: i64, peek: bool) -> Result<(), Refusal> {
        g.admit(hits, now, peek, &mut StoreChanges::default())
    }

    #[test]
    fn allows_a_burst_of_limit_then_refuses() {
        let rule = RateRule {
            limit: 3,
            window_secs: 60,
        };
        let mut tat = 0;
        for i in 0..3 {
            tat = gcra(rule, tat, 1_000_000).unwrap_or_else(|_| panic!("request {i}"));
        }
        assert_eq!(gcra(rule, tat, 1_000_000), Err(20));
    }

    #[test]
    fn recovers_one_request_per_interval() {
        let rule = RateRule {
            limit: 2,
            window_secs: 10,
        };
        let t = gcra(rule, 0, 0).unwrap();
        let t = gcra(rule, t, 0).unwrap();
        assert!(gcra(rule, t, 4_999).is_err());
        assert!(gcra(rule, t, 5_000).is_ok());
    }

    fn hit(kind: LimitKind, key: &str, limit: u32) -> Hit {
        Hit {
            kind,
            key: key.into(),
            rule: RateRule {
                limit,
                window_secs: 60,
            },
            persist: kind == LimitKind::PhoneSends,
        }
    }

    #[test]
    fn a_refused_request_counts_against_no_limit() {
        let mut g = TenantGate::default();
        let ep = hit(LimitKind::Endpoint, "send", 100);
        let phone = hit(LimitKind::PhoneSends, "p1", 1);
        assert!(admit(&mut g, &[ep.clone(), phone.clone()], 0, false).is_ok());
        let refused = admit(&mut g, &[ep.clone(), phone.clone()], 0, false).unwrap_err();
        assert_eq!(refused.kind, LimitKind::PhoneSends);
        // The endpoint bucket holds one hit, not two: 99 more go through.
        for _ in 0..99 {
            admit(&mut g, std::slice::from_ref(&ep), 0, false).unwrap();
        }
        assert!(admit(&mut g, &[ep], 0, false).is_err());
    }

    #[test]
    fn every_limit_state_a_call_changes_is_handed_back_for_storage() {
        let mut g = TenantGate::default();
        let mut out = StoreChanges::default();
        g.admit(
            &[
                hit(LimitKind::Endpoint, "send", 10),
                hit(LimitKind::PhoneSends, "p1", 5),
                hit(LimitKind::Endpoint, "send", 10),
            ],
            0,
            false,
            &mut out,
        )
        .unwrap();
        // Each key once, with its last state.
        assert_eq!(
            out.put,
            vec![
                ("ep:send".to_string(), json!(12_000)),
                ("sends:p1".to_string(), json!(12_000))
            ]
        );
    }

    #[test]
    fn a_peek_counts_nothing() {
        let mut g = TenantGate::default();
        let h = hit(LimitKind::AuthFailures, "1.2.3.4", 1);
        for _ in 0..3 {
            admit(&mut g, std::slice::from_ref(&h), 0, true).unwrap();
        }
        admit(&mut g, std::slice::from_ref(&h), 0, false).unwrap();
        assert!(admit(&mut g, &[h], 0, true).is_err());
    }

    /// Serves `ask` with a store that is never reached (no quota op needs it here).
    async fn serve(g: &mut TenantGate, ask: &GateAsk, now: i64) -> Served {
        let db = crate::store::Firestore::unconfigured();
        let http = crate::native::http::ReqwestClient::default();
        let repo = Repo::new(&db, &http, now, 1);
        g.serve(&"t_1".into(), ask, now, &repo).await
    }

    #[tokio::test]
    async fn a_fraud_block_refuses_before_any_limit_counts_and_only_sends_that_go_are_counted() {
        use crate::platform::fraud::{FraudAsk, FraudLevel, Watched};
        let mut g = TenantGate::default();
        let send = |hits: Vec<Hit>| GateAsk {
            hits,
            fraud: Some(FraudAsk::Send {
                level: FraudLevel::Standard,
                watched: vec![Watched {
                    key: "p:+33612".into(),
                    label: "+33612".into(),
                }],
            }),
            ..Default::default()
        };
        // A send refused by a limit is not a send for the guard.
        let tight = hit(LimitKind::PhoneSends, "p1", 1);
        assert!(serve(&mut g, &send(vec![tight.clone()]), 0)
            .await
            .answer
            .refused
            .is_none());
        for i in 1..30 {
            let refused = serve(&mut g, &send(vec![tight.clone()]), i)
                .await
                .answer
                .refused;
            assert_eq!(refused.unwrap().kind, LimitKind::PhoneSends);
        }
        // An endpoint limit that recovers no place within the test: 100 a day.
        let ep = Hit {
            rule: RateRule {
                limit: 100,
                window_secs: 86_400,
            },
            ..hit(LimitKind::Endpoint, "send", 100)
        };
        for i in 1..20 {
            let a = serve(&mut g, &send(vec![ep.clone()]), 100 + i).await.answer;
            assert!(a.refused.is_none(), "send {i}");
        }
        // The 21st send to the prefix starts a block, which the holder is asked to keep.
        let s = serve(&mut g, &send(vec![ep.clone()]), 200).await;
        assert_eq!(s.answer.refused.unwrap().kind, LimitKind::Fraud);
        let verdict = s.answer.fraud.unwrap();
        assert!(verdict.new_block);
        assert_eq!(verdict.blocked.unwrap().sends, 20);
        assert!(s.changes.put.iter().any(|(k, _)| k == "fraud:blocks"));
        // 19 sends counted against the endpoint limit, the refused one did not: 81 places left.
        let left = (0..200)
            .take_while(|_| admit(&mut g, std::slice::from_ref(&ep), 300, false).is_ok())
            .count();
        assert_eq!(left, 81);
        let list = serve(
            &mut g,
            &GateAsk {
                fraud: Some(FraudAsk::List),
                ..Default::default()
            },
            400,
        )
        .await;
        assert_eq!(list.answer.fraud.unwrap().blocks.len(), 1);
    }

    #[test]
    fn a_hit_given_back_frees_its_place() {
        let mut g = TenantGate::default();
        let h = hit(LimitKind::PhoneSends, "p1", 2);
        admit(&mut g, std::slice::from_ref(&h), 0, false).unwrap();
        admit(&mut g, std::slice::from_ref(&h), 0, false).unwrap();
        assert!(admit(&mut g, std::slice::from_ref(&h), 0, false).is_err());
        let mut out = StoreChanges::default();
        g.give_back(std::slice::from_ref(&h), 0, &mut out);
        assert_eq!(out.put.len(), 1, "the limit's state is written back");
        assert!(admit(&mut g, std::slice::from_ref(&h), 0, false).is_ok());
        assert!(admit(&mut g, &[h], 0, false).is_err());
    }

    /// The holder's storage, as a map the test keeps across "evictions".
    fn store(stored: &mut std::collections::BTreeMap<String, Value>, c: StoreChanges) {
        for k in c.delete {
            stored.remove(&k);
        }
        stored.extend(c.put);
    }

    #[tokio::test]
    async fn an_evicted_gate_starts_again_from_its_stored_limits_lease_and_windows() {
        use crate::platform::fraud::{FraudAsk, FraudLevel, Watched};
        let mut stored = std::collections::BTreeMap::new();
        let mut g = TenantGate::default();
        assert!(g.restore(Vec::new(), 0).is_empty());
        // A lease of 5 units (as a refill would leave it), then two sends.
        g.lease = 5;
        let ep = Hit {
            rule: RateRule {
                limit: 3,
                window_secs: 3600,
            },
            ..hit(LimitKind::Endpoint, "send", 3)
        };
        let send = GateAsk {
            hits: vec![ep.clone()],
            quota: QuotaOp::Take,
            fraud: Some(FraudAsk::Send {
                level: FraudLevel::Standard,
                watched: vec![Watched {
                    key: "p:+33612".into(),
                    label: "+33612".into(),
                }],
            }),
            ..Default::default()
        };
        for i in 0..2 {
            let s = serve(&mut g, &send, 1000 + i).await;
            assert_eq!(s.answer.quota, QuotaAnswer::Granted);
            store(&mut stored, s.changes);
        }
        // Evicted: a new holder reads its storage back.
        let mut g = TenantGate::default();
        let stale = g.restore(stored.clone().into_iter().collect(), 2000);
        assert!(stale.is_empty());
        assert_eq!(g.lease, 3, "the lease is what was left, not lost");
        let peek = serve(
            &mut g,
            &GateAsk {
                quota: QuotaOp::Peek,
                ..Default::default()
            },
            2000,
        )
        .await;
        assert_eq!(peek.answer.quota, QuotaAnswer::Leased { units: 3 });
        // The endpoint limit remembers its two hits: one more, then 429.
        let s = serve(&mut g, &send, 2001).await;
        assert!(s.answer.refused.is_none());
        store(&mut stored, s.changes);
        let s = serve(&mut g, &send, 2002).await;
        assert_eq!(s.answer.refused.unwrap().kind, LimitKind::Endpoint);
        // And the fraud guard's window its three sends.
        let list = serve(
            &mut g,
            &GateAsk {
                fraud: Some(FraudAsk::List),
                ..Default::default()
            },
            2003,
        )
        .await;
        assert_eq!(list.answer.fraud.unwrap().busiest[0].sends, 3);
        // Limit states whose window passed are dropped at the next start.
        let mut g = TenantGate::default();
        let stale = g.restore(stored.into_iter().collect(), 10 * 3_600_000);
        assert_eq!(stale, vec!["ep:send".to_string()]);
    }
}
