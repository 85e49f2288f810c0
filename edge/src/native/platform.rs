//! `Platform` for native runs (tests, tools): reqwest for HTTP, the system clock, the OS's
//! randomness, and tenant gates in memory running the same `service::tenants::gate` logic the Durable
//! Objects run on Workers (including quota-lease refills from the store). Each gate's stored
//! entries are kept apart from its memory, as a Durable Object's storage is, so `evict_gates`
//! behaves like an eviction.

use otp_shared::ids::TenantId;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use futures_util::lock::Mutex as AsyncMutex;

use super::http::ReqwestClient;
use crate::config::Config;
use crate::platform::{GateAnswer, GateAsk, Platform};
use crate::service::repo::Repo;
use crate::service::tenants::gate::TenantGate;
use crate::store::Firestore;

pub struct NativePlatform {
    pub http: ReqwestClient,
    db: Firestore,
    shards: u32,
    gates: Mutex<HashMap<String, Arc<AsyncMutex<TenantGate>>>>,
    /// Each gate's storage (what a Durable Object keeps across an eviction).
    stored: Mutex<HashMap<String, BTreeMap<String, serde_json::Value>>>,
    /// Log lines, kept so tests can assert that nothing secret is logged.
    pub logs: Mutex<Vec<String>>,
    /// Hand-overs of counts (`tally` calls), so tests can see how many a burst took.
    pub tallies: std::sync::atomic::AtomicUsize,
}

impl NativePlatform {
    pub fn new(cfg: &Config) -> Self {
        Self {
            http: ReqwestClient::default(),
            db: Firestore::new(cfg),
            shards: cfg.quota_shards,
            gates: Mutex::new(HashMap::new()),
            stored: Mutex::new(HashMap::new()),
            logs: Mutex::new(Vec::new()),
            tallies: Default::default(),
        }
    }

    /// Forgets every gate's memory, as an evicted Durable Object would (its storage stays).
    pub fn evict_gates(&self) {
        if let Ok(mut g) = self.gates.lock() {
            g.clear();
        }
    }
}

impl NativePlatform {
    fn stored_of(&self, gate: &str) -> Result<BTreeMap<String, serde_json::Value>, String> {
        let stored = self.stored.lock().map_err(|e| e.to_string())?;
        Ok(stored.get(gate).cloned().unwrap_or_default())
    }
}

impl Platform for NativePlatform {
    type Http = ReqwestClient;

    fn http(&self) -> &ReqwestClient {
        &self.http
    }

    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    fn fill_random(&self, buf: &mut [u8]) {
        getrandom::getrandom(buf).expect("OS randomness");
    }

    async fn gate(&self, name: &str, ask: &GateAsk) -> Result<GateAnswer, String> {
        let gate = {
            let mut gates = self.gates.lock().map_err(|e| e.to_string())?;
            gates.entry(name.to_string()).or_default().clone()
        };
        let mut g = gate.lock().await;
        let tenant_id = name.strip_prefix("t-").unwrap_or(name);
        let now = self.now_ms();
        if !g.restored() {
            let entries = self.stored_of(name)?.into_iter().collect();
            g.restore(entries, now);
        }
        let repo = Repo::new(&self.db, &self.http, now, self.shards);
        let served = g.serve(&TenantId::from(tenant_id), ask, now, &repo).await;
        let mut stored = self.stored.lock().map_err(|e| e.to_string())?;
        let entries = stored.entry(name.to_string()).or_default();
        for k in served.changes.delete {
            entries.remove(&k);
        }
        entries.extend(served.changes.put);
        Ok(served.answer)
    }

    async fn tally(&self, counts: Vec<(String, Vec<(String, i64)>)>) -> Result<(), String> {
        self.tallies
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let repo = Repo::new(&self.db, &self.http, self.now_ms(), self.shards);
        repo.add_counts(&counts).await.map_err(|e| e.to_string())
    }

    async fn sleep(&self, ms: u64) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }

    fn log(&self, line: &str) {
        if let Ok(mut l) = self.logs.lock() {
            l.push(line.to_string());
        }
    }
}
