//! The rate limiter's state holder: Durable Objects, one per shard of the key space. Each keeps the
//! GCRA timestamps of its keys in memory; the per-phone send limit is also written through to
//! storage, so an evicted object does not forget it. The arithmetic is `service::ratelimit::gcra`,
//! shared with native runs.

use std::cell::RefCell;
use std::collections::HashMap;

use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use crate::service::ratelimit::{gcra, RateRule};

/// Keys are spread over this many objects: enough to keep each one far from its throughput limit,
/// few enough that a hot object stays warm.
pub const SHARDS: u64 = 32;

#[derive(serde::Deserialize, serde::Serialize)]
pub struct Hit {
    pub key: String,
    pub rule: RateRule,
    /// Write through to storage. Only for limits that must survive an eviction (the per-phone send
    /// limit): every durable write holds the object's replies until it is on disk, so a hot key
    /// written per hit would serialise all its callers behind the disk.
    #[serde(default)]
    pub persist: bool,
}

#[durable_object]
pub struct Limiter {
    state: State,
    tats: RefCell<HashMap<String, i64>>,
}

impl DurableObject for Limiter {
    fn new(state: State, _env: Env) -> Self {
        Self {
            state,
            tats: RefCell::new(HashMap::new()),
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let hit: Hit = req.json().await?;
        let now = js_sys::Date::now() as i64;
        let known = self.tats.borrow().get(&hit.key).copied();
        let tat = match known {
            Some(t) => t,
            None if hit.persist => self
                .state
                .storage()
                .get::<i64>(&hit.key)
                .await
                .ok()
                .flatten()
                .unwrap_or(0),
            None => 0,
        };
        let (decision, new_tat) = gcra(hit.rule, tat, now);
        if new_tat != tat {
            self.tats.borrow_mut().insert(hit.key.clone(), new_tat);
            if hit.persist {
                self.state.storage().put(&hit.key, new_tat).await?;
            }
        }
        // Forget keys whose window has fully passed, so memory tracks only active callers.
        if self.tats.borrow().len() > 10_000 {
            self.tats.borrow_mut().retain(|_, t| *t > now);
        }
        Response::from_json(&decision)
    }
}

/// The object that owns `key`.
pub fn shard_name(key: &str) -> String {
    // FNV-1a: stable across builds, unlike std's hasher.
    let mut h: u64 = 0xcbf29ce484222325;
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("limiter-{}", h % SHARDS)
}
