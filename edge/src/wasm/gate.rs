//! The tenant gate's holder: one Durable Object per gate name (`t-{tenant}`, or `auth-{n}` for
//! failed authentications). It keeps `service::gate::TenantGate` in memory, serves one call at a
//! time (an async lock, held across a lease refill), loads and stores the limits that must survive
//! an eviction (per-phone send windows, the fraud guard's blocks), and reaches the store itself for quota refills.

use futures_util::lock::Mutex as AsyncMutex;
use serde::{Deserialize, Serialize};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::fetch::FetchClient;
use crate::config::Config;
use crate::platform::fraud::FraudBlock;
use crate::platform::GateAsk;
use crate::service::repo::Repo;
use crate::service::tenants::gate::TenantGate;
use crate::store::Firestore;

/// The fraud guard's blocks, kept whole under one key (a few at most; an eviction must not lift
/// them). Its windows stay in memory.
const FRAUD_BLOCKS_KEY: &str = "fraud:blocks";

#[derive(Serialize, Deserialize)]
pub struct Call {
    pub gate: String,
    pub ask: GateAsk,
}

#[durable_object]
pub struct Gate {
    state: State,
    inner: AsyncMutex<TenantGate>,
    /// The store and its shard count; `None` if the configuration cannot be read (limits still
    /// work; quota takes answer `unavailable`).
    store: Option<(Firestore, u32)>,
    http: FetchClient,
}

impl DurableObject for Gate {
    fn new(state: State, env: Env) -> Self {
        let store = Config::from_lookup(|n| super::lookup(&env, n))
            .ok()
            .map(|cfg| (Firestore::new(&cfg), cfg.quota_shards));
        Self {
            state,
            inner: AsyncMutex::new(TenantGate::default()),
            store,
            http: FetchClient,
        }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let call: Call = req.json().await?;
        let mut gate = self.inner.lock().await;
        let storage = self.state.storage();
        if !gate.fraud.loaded() {
            let blocks = storage
                .get::<Vec<FraudBlock>>(FRAUD_BLOCKS_KEY)
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            gate.fraud.load(blocks);
        }
        for key in gate.unknown_persisted(&call.ask) {
            if let Ok(Some(tat)) = storage.get::<i64>(&key).await {
                gate.seed(key, tat);
            }
        }
        let now = js_sys::Date::now() as i64;
        let tenant_id = call.gate.strip_prefix("t-").unwrap_or(&call.gate);
        let broken = Firestore::unconfigured();
        let (db, shards) = match &self.store {
            Some((db, shards)) => (db, *shards),
            None => (&broken, 1),
        };
        let served = gate
            .serve(
                tenant_id,
                &call.ask,
                now,
                &Repo::new(db, &self.http, now, shards),
            )
            .await;
        for (key, tat) in served.persist {
            storage.put(&key, tat).await?;
        }
        if let Some(blocks) = served.fraud_blocks {
            storage.put(FRAUD_BLOCKS_KEY, blocks).await?;
        }
        Response::from_json(&served.answer)
    }
}
