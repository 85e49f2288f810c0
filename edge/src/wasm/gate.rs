//! The tenant gate's holder: one Durable Object per gate name (`t-{tenant}`, or `auth-{n}` for
//! failed authentications). It keeps `service::tenants::gate::TenantGate` in memory, serves one call at a
//! time (an async lock, held across a lease refill), reads everything it stored back when it
//! starts (one `list`), writes what each call changed (one `put` of several keys) before it
//! answers, and reaches the store itself for quota refills. Workers hold the answer until the
//! write is durable, so nothing a decision counted is lost to an eviction.
//!
//! The same class holds the analytics tallies (`tally-{0..3}`, reached at `TALLY_URL`): a request's
//! counts are added to the object's stored pending counts (durable once it answers), and an alarm
//! adds them to the store's counter documents in one commit per `COUNTER_FLUSH_MS`. Object k
//! receives the counts of shards k and k + 4 and writes each commit to one of them in turn
//! (`analytics::tally_shard`), so each counter document has one writer, at most every other
//! interval (Firestore sustains about one write per second per document). The batch
//! being committed is kept under its own key until the commit succeeds, so a failure or an
//! eviction mid-way loses nothing (a crash between the commit and its acknowledgement would count
//! that batch twice, never lose it).

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use futures_util::lock::Mutex as AsyncMutex;
use serde::{Deserialize, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::fetch::FetchClient;
use crate::config::Config;
use crate::platform::GateAsk;
use crate::service::ops::analytics;
use crate::service::repo::Repo;
use crate::service::tenants::gate::TenantGate;
use crate::store::Firestore;

/// Where a worker asks a tenant's gate.
pub const GATE_URL: &str = "https://gate/";
/// Where a worker hands its counts to a tally object.
pub const TALLY_URL: &str = "https://gate/tally";
const TALLY_PENDING: &str = "tally:pending";
const TALLY_FLUSHING: &str = "tally:flushing";
/// A failed commit is tried again this much later.
const TALLY_RETRY_MS: i64 = 5_000;

/// The tally object that owns counter shard `shard`.
pub fn tally_object(shard: u32) -> String {
    format!("tally-{}", analytics::tally_object_of(shard))
}

/// Counter document path -> field -> amount.
type Counts = BTreeMap<String, BTreeMap<String, i64>>;

fn merge(into: &mut Counts, docs: Vec<(String, Vec<(String, i64)>)>) {
    for (path, fields) in docs {
        let doc = into.entry(path).or_default();
        for (f, n) in fields {
            *doc.entry(f).or_default() += n;
        }
    }
}

fn unfold(c: &Counts) -> Vec<(String, Vec<(String, i64)>)> {
    c.iter()
        .map(|(p, f)| (p.clone(), f.iter().map(|(k, n)| (k.clone(), *n)).collect()))
        .collect()
}

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
    /// A tally object's commit interval (`COUNTER_FLUSH_MS`).
    flush_ms: i64,
    /// A tally commit is under way (alarms of one object do not overlap, but be sure).
    committing: Cell<bool>,
    /// Tally commits made since this object started: which of its shards the next one writes.
    commits: Cell<u32>,
    /// The pending tally counts as stored, once read (`None`: read them from storage).
    pending: RefCell<Option<Counts>>,
    /// The alarm handler is running.
    in_alarm: Cell<bool>,
    /// An alarm was set since the running alarm began.
    armed: Cell<bool>,
}

/// A stored value as JSON (values were written from JSON, or by serde in earlier versions).
fn to_json(v: &JsValue) -> Option<serde_json::Value> {
    let text = js_sys::JSON::stringify(v).ok()?.as_string()?;
    serde_json::from_str(&text).ok()
}

impl Gate {
    /// Everything this object stored, as (key, JSON value).
    async fn stored(&self) -> Result<Vec<(String, serde_json::Value)>> {
        let map = self.state.storage().list().await?;
        let mut out = Vec::new();
        for entry in map.entries() {
            let pair = js_sys::Array::from(&entry?);
            if let (Some(k), Some(v)) = (pair.get(0).as_string(), to_json(&pair.get(1))) {
                out.push((k, v));
            }
        }
        Ok(out)
    }
}

impl Gate {
    /// The stored counts under `key`: JSON text (or, as earlier versions wrote them, an object).
    async fn counts(&self, key: &str) -> Result<Counts> {
        let map = self.state.storage().get_multiple(vec![key]).await?;
        let stored = map.get(&JsValue::from_str(key));
        let counts = match stored.as_string() {
            Some(text) => serde_json::from_str(&text).ok(),
            None => to_json(&stored).and_then(|v| serde_json::from_value(v).ok()),
        };
        Ok(counts.unwrap_or_default())
    }

    /// Stored as JSON text: a string crosses to JavaScript in one copy, where an object would be
    /// built by `JSON.parse` and then cloned by the storage.
    async fn put_counts(&self, key: &str, c: &Counts) -> Result<()> {
        let text = serde_json::to_string(c)?;
        self.state
            .storage()
            .put_raw(key, JsValue::from_str(&text))
            .await
    }

    /// The pending counts, taken out of memory (or read from storage the first time): whoever takes
    /// them puts them back once stored, so a failed write leaves nothing cached and the next call
    /// reads storage again.
    async fn take_pending(&self) -> Result<Counts> {
        match self.pending.take() {
            Some(p) => Ok(p),
            None => self.counts(TALLY_PENDING).await,
        }
    }

    /// Adds a worker's counts to the pending ones; durable when this returns. The pending counts
    /// are kept in memory once read: a call then costs one `put` and one alarm check.
    async fn add_tally(&self, docs: Vec<(String, Vec<(String, i64)>)>) -> Result<()> {
        let _one_at_a_time = self.inner.lock().await;
        let mut pending = self.take_pending().await?;
        merge(&mut pending, docs);
        self.put_counts(TALLY_PENDING, &pending).await?;
        self.pending.replace(Some(pending));
        // While the alarm runs, workerd may still report it as set: its end sets the next one for
        // whatever came in meanwhile (`alarm`).
        if !self.in_alarm.get() && self.state.storage().get_alarm().await?.is_none() {
            self.set_alarm(self.flush_ms).await?;
        }
        Ok(())
    }

    async fn set_alarm(&self, in_ms: i64) -> Result<()> {
        self.state.storage().set_alarm(in_ms).await?;
        self.armed.set(true);
        Ok(())
    }

    /// One tally commit at a time; an alarm that finds one under way comes back later.
    async fn commit_tally(&self) -> Result<()> {
        if self.committing.replace(true) {
            return self.set_alarm(self.flush_ms).await;
        }
        let done = self.commit_tally_batch().await;
        self.committing.set(false);
        done
    }

    /// Moves the pending counts to the batch being committed, commits it, then forgets it.
    async fn commit_tally_batch(&self) -> Result<()> {
        let storage = self.state.storage();
        let batch = {
            let _one_at_a_time = self.inner.lock().await;
            let mut batch = self.counts(TALLY_FLUSHING).await?;
            let pending = self.take_pending().await?;
            merge(&mut batch, unfold(&pending));
            if !pending.is_empty() {
                self.put_counts(TALLY_FLUSHING, &batch).await?;
                storage.delete(TALLY_PENDING).await?;
            }
            self.pending.replace(Some(Counts::new()));
            batch
        };
        let result = match (&self.store, batch.is_empty()) {
            (_, true) => Ok(()),
            (Some((db, shards)), false) => {
                let now = js_sys::Date::now() as i64;
                let docs = unfold(&batch);
                // The worker sends this object only its own shards' counts; which one it writes
                // this time is its turn, so the two never take two writes in a row.
                let object = docs
                    .first()
                    .and_then(|(p, _)| analytics::shard_of(p))
                    .unwrap_or(0);
                let turn = self.commits.get();
                self.commits.set(turn.wrapping_add(1));
                let docs = analytics::reshard(&docs, analytics::tally_shard(object, turn));
                Repo::new(db, &self.http, now, *shards)
                    .add_counts(&docs)
                    .await
                    .map_err(|e| e.to_string())
            }
            (None, false) => Err("the store is not configured".to_string()),
        };
        match result {
            Ok(()) => {
                if !batch.is_empty() {
                    storage.delete(TALLY_FLUSHING).await?;
                }
            }
            Err(e) => {
                worker::console_error!(
                    "{}",
                    serde_json::json!({"level": "warn", "event": "tally_commit_failed", "error": e})
                );
                self.set_alarm(TALLY_RETRY_MS).await?;
            }
        }
        Ok(())
    }

    async fn write(
        &self,
        changes: crate::service::abuse::fraud::rules::StoreChanges,
    ) -> Result<()> {
        let storage = self.state.storage();
        if !changes.put.is_empty() {
            // One JSON.parse for every entry, not a parse and a property set per entry.
            let entries: serde_json::Map<String, serde_json::Value> =
                changes.put.into_iter().collect();
            let entries = js_sys::JSON::parse(&serde_json::Value::Object(entries).to_string())?;
            storage.put_multiple_raw(entries.unchecked_into()).await?;
        }
        if !changes.delete.is_empty() {
            storage.delete_multiple(changes.delete).await?;
        }
        Ok(())
    }
}

impl DurableObject for Gate {
    fn new(state: State, env: Env) -> Self {
        let cfg = Config::from_lookup(|n| super::lookup(&env, n)).ok();
        let flush_ms = cfg.as_ref().map_or(1_000, |c| c.counter_flush_ms as i64);
        let store = cfg.map(|cfg| (Firestore::new(&cfg), cfg.quota_shards));
        Self {
            state,
            inner: AsyncMutex::new(TenantGate::default()),
            store,
            http: FetchClient,
            flush_ms,
            committing: Cell::new(false),
            commits: Cell::new(0),
            pending: RefCell::new(None),
            in_alarm: Cell::new(false),
            armed: Cell::new(false),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.in_alarm.set(true);
        self.armed.set(false);
        let done = self.commit_tally().await;
        self.in_alarm.set(false);
        // Counts handed over while the commit ran have no alarm of their own yet.
        let waiting = self.pending.borrow().as_ref().is_none_or(|p| !p.is_empty());
        if waiting && !self.armed.get() {
            self.set_alarm(self.flush_ms).await?;
        }
        done?;
        Response::empty()
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        // The body as bytes, parsed by serde_json: `Request::json` builds a JS object first and
        // walks it through serde_wasm_bindgen, a JS call per field.
        let body = super::glue::read_bytes(req.inner()).await?;
        if req.inner().url() == TALLY_URL {
            let docs: Vec<(String, Vec<(String, i64)>)> = serde_json::from_slice(&body)?;
            self.add_tally(docs).await?;
            return Ok(super::glue::make_response(200, "", &[]).into());
        }
        let call: Call = serde_json::from_slice(&body)?;
        let mut gate = self.inner.lock().await;
        let storage = self.state.storage();
        let now = js_sys::Date::now() as i64;
        if !gate.restored() {
            let stale = gate.restore(self.stored().await?, now);
            if !stale.is_empty() {
                storage.delete_multiple(stale).await?;
            }
        }
        let tenant_id =
            otp_shared::ids::TenantId::from(call.gate.strip_prefix("t-").unwrap_or(&call.gate));
        let broken = Firestore::unconfigured();
        let (db, shards) = match &self.store {
            Some((db, shards)) => (db, *shards),
            None => (&broken, 1),
        };
        let served = gate
            .serve(
                &tenant_id,
                &call.ask,
                now,
                &Repo::new(db, &self.http, now, shards),
            )
            .await;
        if let Err(e) = self.write(served.changes).await {
            // Memory must not run ahead of storage: start again from what was stored.
            *gate = TenantGate::default();
            return Err(e);
        }
        let answer = serde_json::to_vec(&served.answer)?;
        let headers = crate::net::join_header_pairs([("content-type", "application/json")]);
        Ok(super::glue::make_response(200, &headers, &answer).into())
    }
}
