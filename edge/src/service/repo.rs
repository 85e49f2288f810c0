//! Every Firestore read and write the service makes, in one place. Document layout: docs/design.md.

use serde_json::{json, Value};

use super::keys::sha256_hex;
use super::model::{
    ApiKeyRecord, IdempotencyRecord, KeyStatus, MessageRecord, Tenant, VerificationRecord,
};
use crate::api::app::App;
use crate::api::error::{ApiError, ErrorCode};
use crate::config::Config;
use crate::platform::Platform;
use crate::store::{Filter, Firestore, Precondition, StoreError, Write};
use otp_shared::wire::{MessageState, StatusReport};

pub struct Repo {
    db: Firestore,
    shards: u32,
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AlreadyExists
            | StoreError::PreconditionFailed(_)
            | StoreError::Aborted(_) => ApiError::msg(ErrorCode::Conflict, e.to_string()),
            StoreError::NotFound => {
                ApiError::msg(ErrorCode::Conflict, "the record no longer exists")
            }
            StoreError::Invalid(m) => ApiError::msg(
                ErrorCode::Internal,
                format!("The data store refused a request: {m}"),
            ),
            other => ApiError::msg(
                ErrorCode::StoreUnavailable,
                format!("The data store is unavailable; nothing was changed ({other})"),
            ),
        }
    }
}

impl Repo {
    pub fn new(cfg: &Config) -> Self {
        Self {
            db: Firestore::new(cfg),
            shards: cfg.quota_shards,
        }
    }

    fn random_below<P: Platform>(app: &App<P>, n: u32) -> u32 {
        let mut b = [0u8; 4];
        app.platform.fill_random(&mut b);
        u32::from_le_bytes(b) % n.max(1)
    }

    pub async fn ping<P: Platform>(&self, app: &App<P>) -> Result<(), ApiError> {
        self.db
            .get::<Value, _>(app.platform.http(), app.platform.now_ms(), "config/global")
            .await?;
        Ok(())
    }

    // --- tenants and keys --------------------------------------------------------------------

    pub async fn get_tenant<P: Platform>(
        &self,
        app: &App<P>,
        id: &str,
    ) -> Result<Option<Tenant>, ApiError> {
        Ok(self
            .db
            .get::<Tenant, _>(
                app.platform.http(),
                app.platform.now_ms(),
                &format!("tenants/{id}"),
            )
            .await?
            .map(|d| d.value))
    }

    /// The tenant and the global kill switch in one read: a tenant request that sends needs both.
    pub async fn get_tenant_and_switch<P: Platform>(
        &self,
        app: &App<P>,
        id: &str,
    ) -> Result<(Option<Tenant>, bool), ApiError> {
        let paths = [format!("tenants/{id}"), GLOBAL_CONFIG.to_string()];
        let mut docs = self
            .db
            .batch_get::<Value, _>(app.platform.http(), app.platform.now_ms(), &paths)
            .await?
            .into_iter();
        let tenant =
            match docs.next().flatten() {
                Some(d) => Some(serde_json::from_value(d.value).map_err(|e| {
                    ApiError::msg(ErrorCode::Internal, format!("tenant record: {e}"))
                })?),
                None => None,
            };
        Ok((tenant, switch_of(docs.next().flatten().map(|d| d.value))))
    }

    pub async fn put_tenant<P: Platform>(&self, app: &App<P>, t: &Tenant) -> Result<(), ApiError> {
        self.db
            .commit(
                app.platform.http(),
                app.platform.now_ms(),
                vec![Write::set(format!("tenants/{}", t.id), t)
                    .precondition(Precondition::Exists(true))],
            )
            .await?;
        Ok(())
    }

    /// The tenant, its key and its quota shards in one atomic commit.
    pub async fn create_tenant<P: Platform>(
        &self,
        app: &App<P>,
        t: &Tenant,
        key: &ApiKeyRecord,
    ) -> Result<(), ApiError> {
        let mut writes = vec![
            Write::set(format!("tenants/{}", t.id), t).precondition(Precondition::Exists(false)),
            Write::set(format!("api_keys/{}", key.prefix), key)
                .precondition(Precondition::Exists(false)),
        ];
        writes.extend(self.shard_writes(&t.id, t.quota_total));
        self.db
            .commit(app.platform.http(), app.platform.now_ms(), writes)
            .await?;
        Ok(())
    }

    pub async fn delete_tenant<P: Platform>(&self, app: &App<P>, id: &str) -> Result<(), ApiError> {
        let http = app.platform.http();
        let now = app.platform.now_ms();
        let keys: Vec<ApiKeyRecord> = self
            .db
            .query_eq(http, now, "api_keys", "tenant_id", json!(id), 500)
            .await?
            .into_iter()
            .map(|d| d.value)
            .collect();
        let mut writes: Vec<Write> = keys
            .iter()
            .map(|k| Write::delete(format!("api_keys/{}", k.prefix)))
            .collect();
        writes.extend(
            (0..self.shards).map(|s| Write::delete(format!("tenants/{id}/quota_shards/{s}"))),
        );
        writes.push(Write::delete(format!("tenants/{id}")));
        self.db.commit(http, now, writes).await?;
        Ok(())
    }

    pub async fn list_tenants<P: Platform>(
        &self,
        app: &App<P>,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Tenant>, Option<String>), ApiError> {
        let (docs, next) = self
            .db
            .list::<Tenant, _>(
                app.platform.http(),
                app.platform.now_ms(),
                "tenants",
                limit,
                cursor,
            )
            .await?;
        Ok((docs.into_iter().map(|d| d.value).collect(), next))
    }

    pub async fn put_key<P: Platform>(
        &self,
        app: &App<P>,
        key: &ApiKeyRecord,
    ) -> Result<(), ApiError> {
        self.db
            .commit(
                app.platform.http(),
                app.platform.now_ms(),
                vec![Write::set(format!("api_keys/{}", key.prefix), key)
                    .precondition(Precondition::Exists(false))],
            )
            .await?;
        Ok(())
    }

    pub async fn get_key<P: Platform>(
        &self,
        app: &App<P>,
        prefix: &str,
    ) -> Result<Option<ApiKeyRecord>, ApiError> {
        Ok(self
            .db
            .get::<ApiKeyRecord, _>(
                app.platform.http(),
                app.platform.now_ms(),
                &format!("api_keys/{prefix}"),
            )
            .await?
            .map(|d| d.value))
    }

    /// Adds `new` and gives every other live key of the tenant an end time, in one commit.
    pub async fn rotate_keys<P: Platform>(
        &self,
        app: &App<P>,
        tenant_id: &str,
        new: &ApiKeyRecord,
        old_until: i64,
    ) -> Result<(), ApiError> {
        let http = app.platform.http();
        let now = app.platform.now_ms();
        let old = self
            .db
            .query_eq::<ApiKeyRecord, _>(http, now, "api_keys", "tenant_id", json!(tenant_id), 500)
            .await?;
        let mut writes = vec![Write::set(format!("api_keys/{}", new.prefix), new)
            .precondition(Precondition::Exists(false))];
        for d in old {
            let mut k = d.value;
            if k.status == KeyStatus::Active && (k.expires_at == 0 || k.expires_at > old_until) {
                k.expires_at = old_until;
                writes.push(
                    Write::set(format!("api_keys/{}", k.prefix), &k)
                        .precondition(Precondition::UpdateTime(d.update_time)),
                );
            }
        }
        self.db.commit(http, now, writes).await?;
        Ok(())
    }

    // --- quota: the balance split over shards ------------------------------------------------

    fn shard_writes(&self, tenant_id: &str, total: i64) -> Vec<Write> {
        let n = self.shards as i64;
        (0..n)
            .map(|s| {
                Write::set(
                    format!("tenants/{tenant_id}/quota_shards/{s}"),
                    &json!({"remaining": total / n + i64::from(s < total % n)}),
                )
            })
            .collect()
    }

    /// Takes one unit from a shard with balance, in the same atomic commit as `with` (the records of
    /// what the unit pays for), so a failure leaves neither. Each attempt is a read and a commit
    /// guarded by the shard's update time: concurrent debits never take the same unit. Returns the
    /// shard used and the update times of `with`.
    pub async fn quota_debit<P: Platform>(
        &self,
        app: &App<P>,
        tenant_id: &str,
        with: Vec<Write>,
    ) -> Result<(u32, Vec<String>), ApiError> {
        let http = app.platform.http();
        let start = Self::random_below(app, self.shards);
        let mut empty = 0;
        let mut attempts = 0;
        let mut s = start;
        while empty < self.shards && attempts < self.shards * 4 {
            attempts += 1;
            let path = format!("tenants/{tenant_id}/quota_shards/{s}");
            let Some(doc) = self
                .db
                .get::<Value, _>(http, app.platform.now_ms(), &path)
                .await?
            else {
                empty += 1;
                s = (s + 1) % self.shards;
                continue;
            };
            let remaining = doc.value["remaining"].as_i64().unwrap_or(0);
            if remaining <= 0 {
                empty += 1;
                s = (s + 1) % self.shards;
                continue;
            }
            let mut writes = with.clone();
            writes.push(
                Write::set(path, &json!({"remaining": remaining - 1}))
                    .precondition(Precondition::UpdateTime(doc.update_time)),
            );
            match self.db.commit(http, app.platform.now_ms(), writes).await {
                Ok(mut times) => {
                    times.pop();
                    return Ok((s, times));
                }
                // Someone else took a unit from this shard first: try the next one.
                Err(StoreError::PreconditionFailed(_) | StoreError::Aborted(_)) => {
                    s = (s + 1) % self.shards
                }
                Err(e) => return Err(e.into()),
            }
        }
        if empty >= self.shards {
            Err(ApiError::new(ErrorCode::QuotaExhausted))
        } else {
            Err(ApiError::msg(
                ErrorCode::Conflict,
                "The quota is under heavy contention; retry",
            ))
        }
    }

    pub async fn quota_refund<P: Platform>(
        &self,
        app: &App<P>,
        tenant_id: &str,
        shard: u32,
    ) -> Result<(), ApiError> {
        self.db
            .commit(
                app.platform.http(),
                app.platform.now_ms(),
                vec![Write::increment(
                    format!("tenants/{tenant_id}/quota_shards/{shard}"),
                    "remaining",
                    1,
                )],
            )
            .await?;
        Ok(())
    }

    /// Adds `delta` (may be negative) to the balance, spread over the shards.
    pub async fn quota_adjust<P: Platform>(
        &self,
        app: &App<P>,
        tenant_id: &str,
        delta: i64,
    ) -> Result<(), ApiError> {
        let n = self.shards as i64;
        let writes = (0..n)
            .map(|s| {
                Write::increment(
                    format!("tenants/{tenant_id}/quota_shards/{s}"),
                    "remaining",
                    delta / n
                        + if s < (delta % n).abs() {
                            delta.signum()
                        } else {
                            0
                        },
                )
            })
            .collect();
        self.db
            .commit(app.platform.http(), app.platform.now_ms(), writes)
            .await?;
        Ok(())
    }

    pub async fn quota_reset<P: Platform>(
        &self,
        app: &App<P>,
        tenant_id: &str,
        total: i64,
    ) -> Result<(), ApiError> {
        self.db
            .commit(
                app.platform.http(),
                app.platform.now_ms(),
                self.shard_writes(tenant_id, total),
            )
            .await?;
        Ok(())
    }

    pub async fn quota_remaining<P: Platform>(
        &self,
        app: &App<P>,
        tenant_id: &str,
    ) -> Result<i64, ApiError> {
        let paths: Vec<String> = (0..self.shards)
            .map(|s| format!("tenants/{tenant_id}/quota_shards/{s}"))
            .collect();
        let docs = self
            .db
            .batch_get::<Value, _>(app.platform.http(), app.platform.now_ms(), &paths)
            .await?;
        Ok(docs
            .into_iter()
            .flatten()
            .map(|d| d.value["remaining"].as_i64().unwrap_or(0).max(0))
            .sum())
    }

    // --- verifications ------------------------------------------------------------------------

    fn phone_index_path(tenant_id: &str, phone: &str) -> String {
        format!("phone_index/{}_{}", tenant_id, sha256_hex(phone))
    }

    /// The verification (new or updated), its new message and the phone's live pointer: written in
    /// one commit with the quota unit that pays for them. The first update time is the
    /// verification's, for later guarded updates.
    pub fn verification_writes(
        v: &VerificationRecord,
        m: &MessageRecord,
        is_new: bool,
    ) -> Vec<Write> {
        vec![
            Write::set(format!("verifications/{}", v.id), v)
                .precondition(Precondition::Exists(!is_new)),
            Write::set(format!("messages/{}", m.id), m).precondition(Precondition::Exists(false)),
            Write::set(
                Self::phone_index_path(&v.tenant_id, &v.phone),
                &json!({"verification_id": v.id}),
            ),
        ]
    }

    pub async fn get_verification<P: Platform>(
        &self,
        app: &App<P>,
        id: &str,
    ) -> Result<Option<(VerificationRecord, String)>, ApiError> {
        Ok(self
            .db
            .get::<VerificationRecord, _>(
                app.platform.http(),
                app.platform.now_ms(),
                &format!("verifications/{id}"),
            )
            .await?
            .map(|d| (d.value, d.update_time)))
    }

    /// Guarded by the version read: a concurrent change makes this fail with `conflict`.
    pub async fn update_verification<P: Platform>(
        &self,
        app: &App<P>,
        v: &VerificationRecord,
        version: &str,
    ) -> Result<String, ApiError> {
        let w = Write::set(format!("verifications/{}", v.id), v)
            .precondition(Precondition::UpdateTime(version.to_string()));
        let times = self
            .db
            .commit(app.platform.http(), app.platform.now_ms(), vec![w])
            .await?;
        Ok(times.into_iter().next().unwrap_or_default())
    }

    pub async fn live_verification_id<P: Platform>(
        &self,
        app: &App<P>,
        tenant_id: &str,
        phone: &str,
    ) -> Result<Option<String>, ApiError> {
        let doc = self
            .db
            .get::<Value, _>(
                app.platform.http(),
                app.platform.now_ms(),
                &Self::phone_index_path(tenant_id, phone),
            )
            .await?;
        Ok(doc.and_then(|d| d.value["verification_id"].as_str().map(str::to_string)))
    }

    pub async fn clear_live_verification<P: Platform>(
        &self,
        app: &App<P>,
        tenant_id: &str,
        phone: &str,
        id: &str,
    ) -> Result<(), ApiError> {
        let path = Self::phone_index_path(tenant_id, phone);
        if let Some(d) = self
            .db
            .get::<Value, _>(app.platform.http(), app.platform.now_ms(), &path)
            .await?
        {
            if d.value["verification_id"] == id {
                self.db
                    .commit(
                        app.platform.http(),
                        app.platform.now_ms(),
                        vec![Write::delete(path)
                            .precondition(Precondition::UpdateTime(d.update_time))],
                    )
                    .await
                    .ok();
            }
        }
        Ok(())
    }

    // --- messages ----------------------------------------------------------------------------

    pub fn message_write(m: &MessageRecord) -> Write {
        Write::set(format!("messages/{}", m.id), m).precondition(Precondition::Exists(false))
    }

    /// Creates the record; returns its update time (the version [`Repo::record_dispatched`] guards on).
    pub async fn create_message<P: Platform>(
        &self,
        app: &App<P>,
        m: &MessageRecord,
    ) -> Result<String, ApiError> {
        let times = self
            .db
            .commit(
                app.platform.http(),
                app.platform.now_ms(),
                vec![Self::message_write(m)],
            )
            .await?;
        Ok(times.into_iter().next().unwrap_or_default())
    }

    /// The state after a gateway took the message. Guarded by the version written before dispatch,
    /// so a delivery report that got there first is never overwritten. Never fails the request: the
    /// SMS is out, and an error here would make the caller retry and send it twice.
    pub async fn record_dispatched<P: Platform>(
        &self,
        app: &App<P>,
        m: &MessageRecord,
        version: &str,
    ) {
        let mut w = Write::set(format!("messages/{}", m.id), m);
        if !version.is_empty() {
            w = w.precondition(Precondition::UpdateTime(version.to_string()));
        }
        match self.db.commit(app.platform.http(), app.platform.now_ms(), vec![w]).await {
            Ok(_) | Err(StoreError::PreconditionFailed(_)) => {}
            Err(e) => app.platform.log(
                &json!({"level": "warn", "request_id": m.request_id, "message_id": m.id, "event": "dispatch_state_not_recorded", "error": e.to_string()}).to_string(),
            ),
        }
    }

    pub async fn update_message<P: Platform>(
        &self,
        app: &App<P>,
        m: &MessageRecord,
    ) -> Result<(), ApiError> {
        self.db
            .commit(
                app.platform.http(),
                app.platform.now_ms(),
                vec![Write::set(format!("messages/{}", m.id), m)],
            )
            .await?;
        Ok(())
    }

    pub async fn get_message<P: Platform>(
        &self,
        app: &App<P>,
        id: &str,
    ) -> Result<Option<MessageRecord>, ApiError> {
        Ok(self
            .db
            .get::<MessageRecord, _>(
                app.platform.http(),
                app.platform.now_ms(),
                &format!("messages/{id}"),
            )
            .await?
            .map(|d| d.value))
    }

    /// Records a batch of a gateway's delivery reports (oldest first). States only move forward (a
    /// late report never overwrites a later state), and only the gateway that holds a message may
    /// report on it (reports on others' messages are skipped). One read of every message and the
    /// request's nonce together, then one commit: the nonce (`exists=false`), each message that
    /// moved forward (guarded by its `updateTime`) and the analytics events. When a guard fails
    /// (the message moved meanwhile, or a replay raced this request), the whole batch is read and
    /// applied again. A batch that changes nothing writes nothing, so its nonce is not kept;
    /// repeating it is harmless. `Ok(None)`: replayed; `Ok(Some(n))`: n reports applied.
    pub async fn apply_status_reports<P: Platform>(
        &self,
        app: &App<P>,
        reports: &[StatusReport],
        gateway_id: &str,
        nonce: &str,
    ) -> Result<Option<usize>, ApiError> {
        let http = app.platform.http();
        let nonce_path = format!("nonces/{}", sha256_hex(nonce));
        let mut ids: Vec<&str> = Vec::new();
        for r in reports {
            if !ids.contains(&r.id.as_str()) {
                ids.push(&r.id);
            }
        }
        let mut paths: Vec<String> = ids.iter().map(|id| format!("messages/{id}")).collect();
        paths.push(nonce_path.clone());
        for _ in 0..5 {
            let mut docs = self
                .db
                .batch_get::<Value, _>(http, app.platform.now_ms(), &paths)
                .await?;
            if docs.pop().flatten().is_some() {
                return Ok(None);
            }
            let now = app.platform.now_ms();
            let mut writes = vec![Write::set(nonce_path.clone(), &json!({"at": now}))
                .precondition(Precondition::Exists(false))];
            let mut events = Vec::new();
            let mut applied = 0;
            for (id, doc) in ids.iter().zip(docs) {
                let Some(doc) = doc else { continue };
                let mut m: MessageRecord = serde_json::from_value(doc.value).map_err(|e| {
                    ApiError::msg(ErrorCode::Internal, format!("message record: {e}"))
                })?;
                if m.gateway_id != gateway_id {
                    continue;
                }
                let mut moved = false;
                for r in reports.iter().filter(|r| r.id == *id) {
                    if !advances(&m.state, r.state) {
                        continue;
                    }
                    m.state = r.state.as_str().to_string();
                    m.attempts = r.attempts;
                    m.error = r.error.clone();
                    m.updated_at = r.at as i64 * 1000;
                    let event = match r.state {
                        MessageState::Sent => Some("delivery_sent"),
                        MessageState::Failed => Some("delivery_failed"),
                        MessageState::Expired => Some("delivery_expired"),
                        _ => None,
                    };
                    if let Some(e) = event {
                        events.push((m.tenant_id.clone(), e.to_string()));
                    }
                    applied += 1;
                    moved = true;
                }
                if moved {
                    writes.push(
                        Write::set(format!("messages/{id}"), &m)
                            .precondition(Precondition::UpdateTime(doc.update_time)),
                    );
                }
            }
            if applied == 0 {
                return Ok(Some(0));
            }
            writes.extend(self.counter_writes(app, &events, now));
            match self.db.commit(http, now, writes).await {
                Ok(_) => return Ok(Some(applied)),
                // The nonce was taken meanwhile (a replay racing the original) or a message moved:
                // the next read tells which.
                Err(
                    StoreError::AlreadyExists
                    | StoreError::PreconditionFailed(_)
                    | StoreError::Aborted(_),
                ) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::new(ErrorCode::Conflict))
    }

    // --- idempotency -------------------------------------------------------------------------

    /// Claims the key. `None` when this request is the first; otherwise the earlier record and its
    /// version.
    pub async fn idempotency_begin<P: Platform>(
        &self,
        app: &App<P>,
        doc_id: &str,
        fingerprint: &str,
        now: i64,
    ) -> Result<Option<(IdempotencyRecord, String)>, ApiError> {
        let path = format!("idempotency/{doc_id}");
        let rec = IdempotencyRecord::claim(fingerprint, now);
        match self
            .db
            .commit(
                app.platform.http(),
                app.platform.now_ms(),
                vec![Write::set(path.clone(), &rec).precondition(Precondition::Exists(false))],
            )
            .await
        {
            Ok(_) => Ok(None),
            Err(StoreError::AlreadyExists | StoreError::PreconditionFailed(_)) => {
                let d = self
                    .db
                    .get::<IdempotencyRecord, _>(app.platform.http(), app.platform.now_ms(), &path)
                    .await?;
                Ok(Some(
                    d.map(|d| (d.value, d.update_time))
                        .unwrap_or((rec, String::new())),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Takes over a claim whose request never finished; false when another retry took it first.
    pub async fn idempotency_take_over<P: Platform>(
        &self,
        app: &App<P>,
        doc_id: &str,
        fingerprint: &str,
        now: i64,
        version: &str,
    ) -> Result<bool, ApiError> {
        let rec = IdempotencyRecord::claim(fingerprint, now);
        let w = Write::set(format!("idempotency/{doc_id}"), &rec)
            .precondition(Precondition::UpdateTime(version.to_string()));
        match self
            .db
            .commit(app.platform.http(), app.platform.now_ms(), vec![w])
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::PreconditionFailed(_) | StoreError::NotFound) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn idempotency_finish<P: Platform>(
        &self,
        app: &App<P>,
        doc_id: &str,
        fingerprint: &str,
        status: u16,
        body: &str,
        now: i64,
    ) -> Result<(), ApiError> {
        let rec = IdempotencyRecord {
            request_sha256: fingerprint.into(),
            state: "done".into(),
            status,
            body: body.into(),
            created_at: now,
        };
        self.db
            .commit(
                app.platform.http(),
                app.platform.now_ms(),
                vec![Write::set(format!("idempotency/{doc_id}"), &rec)],
            )
            .await?;
        Ok(())
    }

    pub async fn idempotency_forget<P: Platform>(
        &self,
        app: &App<P>,
        doc_id: &str,
    ) -> Result<(), ApiError> {
        self.db
            .commit(
                app.platform.http(),
                app.platform.now_ms(),
                vec![Write::delete(format!("idempotency/{doc_id}"))],
            )
            .await?;
        Ok(())
    }

    // --- switches, counters, audit -----------------------------------------------------------

    pub async fn global_kill_switch<P: Platform>(&self, app: &App<P>) -> Result<bool, ApiError> {
        let d = self
            .db
            .get::<Value, _>(app.platform.http(), app.platform.now_ms(), GLOBAL_CONFIG)
            .await?;
        Ok(switch_of(d.map(|d| d.value)))
    }

    pub async fn set_global_kill_switch<P: Platform>(
        &self,
        app: &App<P>,
        engaged: bool,
    ) -> Result<(), ApiError> {
        self.db
            .commit(
                app.platform.http(),
                app.platform.now_ms(),
                vec![Write::set(
                    GLOBAL_CONFIG.to_string(),
                    &json!({"kill_switch": engaged}),
                )],
            )
            .await?;
        Ok(())
    }

    /// Adds one per (tenant, field) item, for the tenant and for the service total, at every
    /// granularity: one write per counter document (all its fields together) and one commit for
    /// them all. Counting is best effort: a failed counter write never fails the request.
    pub async fn count_all<P: Platform>(&self, app: &App<P>, items: &[(String, String)], now: i64) {
        if items.is_empty() {
            return;
        }
        let writes = self.counter_writes(app, items, now);
        // Firestore takes at most 500 writes in one commit; a request makes a handful.
        let mut failed = None;
        for chunk in writes.chunks(500) {
            if let Err(e) = self
                .db
                .commit(app.platform.http(), app.platform.now_ms(), chunk.to_vec())
                .await
            {
                failed = Some(e);
            }
        }
        if let Some(e) = failed {
            app.platform.log(
                &json!({"level": "warn", "msg": "counter write failed", "error": e.to_string()})
                    .to_string(),
            );
        }
    }

    /// The increments [`Repo::count_all`] commits, for a caller that puts them in its own commit.
    pub fn counter_writes<P: Platform>(
        &self,
        app: &App<P>,
        items: &[(String, String)],
        now: i64,
    ) -> Vec<Write> {
        let shard = Self::random_below(app, super::analytics::SHARDS);
        let docs = super::analytics::counter_increments(items, now, shard);
        docs.iter()
            .map(|(path, fields)| {
                Write::increments(
                    path.clone(),
                    &fields
                        .iter()
                        .map(|(f, n)| (f.as_str(), *n))
                        .collect::<Vec<_>>(),
                )
            })
            .collect()
    }

    /// Each period's counters, summed over the shards.
    pub async fn counter_totals<P: Platform>(
        &self,
        app: &App<P>,
        scope: &str,
        periods: &[String],
    ) -> Result<Vec<serde_json::Map<String, Value>>, ApiError> {
        use super::analytics::{counter_path, SHARDS};
        let paths: Vec<String> = periods
            .iter()
            .flat_map(|p| (0..SHARDS).map(move |s| counter_path(scope, p, s)))
            .collect();
        let docs = self
            .db
            .batch_get::<Value, _>(app.platform.http(), app.platform.now_ms(), &paths)
            .await?;
        let mut out = vec![serde_json::Map::new(); periods.len()];
        for (i, d) in docs.into_iter().enumerate() {
            let Some(d) = d else { continue };
            let totals = &mut out[i / SHARDS as usize];
            for (k, v) in d.value.as_object().into_iter().flatten() {
                let sum =
                    totals.get(k).and_then(Value::as_i64).unwrap_or(0) + v.as_i64().unwrap_or(0);
                totals.insert(k.clone(), json!(sum));
            }
        }
        Ok(out)
    }

    /// Today's counts.
    pub async fn event_totals<P: Platform>(
        &self,
        app: &App<P>,
        tenant_id: &str,
        now: i64,
    ) -> Result<Value, ApiError> {
        let day = super::analytics::Granularity::Day.period(now);
        let totals = self
            .counter_totals(app, tenant_id, std::slice::from_ref(&day))
            .await?;
        Ok(
            json!({"day": day[1..].to_string(), "events": totals.into_iter().next().unwrap_or_default()}),
        )
    }

    pub async fn append_audit<P: Platform>(
        &self,
        app: &App<P>,
        entry: &Value,
        now: i64,
    ) -> Result<(), ApiError> {
        // Ids count down, so listing in id order gives the newest entries first.
        let id = format!(
            "{:013}_{}",
            COUNTDOWN_MS - now,
            crate::platform::new_id(&app.platform, "a")
        );
        self.db
            .commit(
                app.platform.http(),
                app.platform.now_ms(),
                vec![Write::set(format!("audit/{id}"), entry)],
            )
            .await?;
        Ok(())
    }

    pub async fn list_audit<P: Platform>(
        &self,
        app: &App<P>,
        limit: usize,
        target: Option<&str>,
    ) -> Result<Vec<Value>, ApiError> {
        let docs = match target {
            Some(t) => {
                self.db
                    .query_eq::<Value, _>(
                        app.platform.http(),
                        app.platform.now_ms(),
                        "audit",
                        "target",
                        json!(t),
                        limit,
                    )
                    .await?
            }
            None => {
                self.db
                    .list::<Value, _>(
                        app.platform.http(),
                        app.platform.now_ms(),
                        "audit",
                        limit,
                        None,
                    )
                    .await?
                    .0
            }
        };
        let mut v: Vec<Value> = docs.into_iter().map(|d| d.value).collect();
        v.sort_by_key(|e| std::cmp::Reverse(e["at_ms"].as_i64().unwrap_or(0)));
        Ok(v)
    }
}

impl Repo {
    /// A page of a collection for backup: `{path, data}` items; tenants carry their quota shards.
    pub async fn export_page<P: Platform>(
        &self,
        app: &App<P>,
        collection: &str,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), ApiError> {
        let http = app.platform.http();
        let (docs, next) = self
            .db
            .list::<Value, _>(http, app.platform.now_ms(), collection, limit, cursor)
            .await?;
        let mut items = Vec::with_capacity(docs.len());
        for d in docs {
            if collection == "tenants" {
                let (shards, _) = self
                    .db
                    .list::<Value, _>(
                        http,
                        app.platform.now_ms(),
                        &format!("{}/quota_shards", d.path),
                        64,
                        None,
                    )
                    .await?;
                items.extend(
                    shards
                        .into_iter()
                        .map(|s| json!({"path": s.path, "data": s.value})),
                );
            }
            items.push(json!({"path": d.path, "data": d.value}));
        }
        Ok((items, next))
    }

    /// Writes restored documents as they were (one atomic commit per call).
    pub async fn import_documents<P: Platform>(
        &self,
        app: &App<P>,
        docs: Vec<(String, Value)>,
    ) -> Result<(), ApiError> {
        let writes = docs
            .iter()
            .map(|(path, data)| Write::set(path.clone(), data))
            .collect();
        self.db
            .commit(app.platform.http(), app.platform.now_ms(), writes)
            .await?;
        Ok(())
    }
}

impl Repo {
    /// Creates the marker of a notice; false when it already exists (sent before).
    pub async fn claim_notice<P: Platform>(
        &self,
        app: &App<P>,
        marker: &str,
        now: i64,
    ) -> Result<bool, ApiError> {
        let w = Write::set(format!("notifications/{marker}"), &json!({"at": now}))
            .precondition(Precondition::Exists(false));
        match self
            .db
            .commit(app.platform.http(), app.platform.now_ms(), vec![w])
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::AlreadyExists | StoreError::PreconditionFailed(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn release_notice<P: Platform>(
        &self,
        app: &App<P>,
        marker: &str,
    ) -> Result<(), ApiError> {
        self.db
            .commit(
                app.platform.http(),
                app.platform.now_ms(),
                vec![Write::delete(format!("notifications/{marker}"))],
            )
            .await?;
        Ok(())
    }

    /// Pending verifications whose expiry has passed, the longest expired first.
    pub async fn expired_pending_verifications<P: Platform>(
        &self,
        app: &App<P>,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(VerificationRecord, String)>, ApiError> {
        let filters = [
            Filter::new("status", "EQUAL", json!("pending")),
            Filter::new("expires_at", "LESS_THAN_OR_EQUAL", json!(now)),
        ];
        let docs = self
            .db
            .query::<VerificationRecord, _>(
                app.platform.http(),
                app.platform.now_ms(),
                "verifications",
                &filters,
                Some("expires_at"),
                limit,
            )
            .await?;
        Ok(docs.into_iter().map(|d| (d.value, d.update_time)).collect())
    }

    /// Deletes up to `limit` documents of `collection` whose `field` is below `cutoff`; returns how
    /// many. One commit per call (Firestore takes at most 500 writes in one).
    pub async fn purge_before<P: Platform>(
        &self,
        app: &App<P>,
        collection: &str,
        field: &str,
        cutoff: i64,
        limit: usize,
    ) -> Result<usize, ApiError> {
        let http = app.platform.http();
        let filters = [Filter::new(field, "LESS_THAN", json!(cutoff))];
        let docs = self
            .db
            .query::<Value, _>(
                http,
                app.platform.now_ms(),
                collection,
                &filters,
                Some(field),
                limit.min(500),
            )
            .await?;
        let n = docs.len();
        self.db
            .commit(
                http,
                app.platform.now_ms(),
                docs.into_iter().map(|d| Write::delete(d.path)).collect(),
            )
            .await?;
        Ok(n)
    }

    /// One health check of a gateway, kept as history. Ids count down, so the history lists the
    /// newest checks first.
    pub async fn record_gateway_check<P: Platform>(
        &self,
        app: &App<P>,
        probe: &super::gateway::Probe,
        now: i64,
    ) -> Result<(), ApiError> {
        let doc = json!({"gateway_id": probe.id, "reachable": probe.reachable, "latency_ms": probe.latency_ms, "error": probe.error, "at": now});
        let id = format!("{:013}_{}", COUNTDOWN_MS - now, probe.id);
        self.db
            .commit(
                app.platform.http(),
                app.platform.now_ms(),
                vec![Write::set(format!("gateway_checks/{id}"), &doc)],
            )
            .await?;
        Ok(())
    }

    pub async fn gateway_history<P: Platform>(
        &self,
        app: &App<P>,
        limit: usize,
    ) -> Result<Vec<Value>, ApiError> {
        let (docs, _) = self
            .db
            .list::<Value, _>(
                app.platform.http(),
                app.platform.now_ms(),
                "gateway_checks",
                limit,
                None,
            )
            .await?;
        Ok(docs.into_iter().map(|d| d.value).collect())
    }
}

/// The service-wide settings document (the global kill switch).
const GLOBAL_CONFIG: &str = "config/global";

fn switch_of(config: Option<Value>) -> bool {
    config.is_some_and(|c| c["kill_switch"].as_bool().unwrap_or(false))
}

/// Ids that start with `COUNTDOWN_MS - now` (13 digits) list newest first in document-id order.
const COUNTDOWN_MS: i64 = 9_999_999_999_999;

/// Delivery states in order; a report may only move a message forward.
fn advances(current: &str, next: MessageState) -> bool {
    let rank = |s: &str| match s {
        "dispatching" | "unknown" => 0,
        "queued" => 1,
        "sending" => 2,
        _ => 3,
    };
    rank(next.as_str()) > rank(current) || (current == "unknown")
}
