//! Which endpoints of a tenant take an event (read at most once per `WEBHOOK_CACHE_MS` per isolate),
//! and the delivery documents that ride in the commit of the change they report.

use crate::error::Error;
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::ops::webhooks::events::{Event, Target};
use crate::service::repo::webhooks::{self as repo_wh, DeliveryRecord, DeliveryState};
use crate::service::sealing;
use crate::store::Write;
use otp_shared::ids::TenantId;

/// How long a first attempt (after the answer) holds its delivery before the scheduled job may
/// take it over.
pub const FIRST_ATTEMPT_LEASE_MS: i64 = 60_000;

/// The tenant's enabled endpoints, read at most once per `WEBHOOK_CACHE_MS` per isolate.
pub async fn webhook_targets<P: Platform>(
    app: &App<P>,
    tenant_id: &TenantId,
) -> Result<Vec<Target>, Error> {
    let now = app.platform.now_ms();
    if let Some(t) = app
        .webhook_cache
        .fresh(tenant_id, now, app.cfg.webhooks.cache_ms)
    {
        return Ok(t);
    }
    let targets: Vec<Target> = app
        .repo()
        .endpoints_of(tenant_id)
        .await?
        .into_iter()
        .filter(|d| d.value.enabled)
        .map(|d| Target {
            endpoint_id: d.value.id,
            events: d.value.events,
        })
        .collect();
    app.webhook_cache.put(tenant_id, now, targets.clone());
    Ok(targets)
}

/// This isolate forgets what it read of a tenant's endpoints (it just changed them).
pub fn forget_webhook_targets<P: Platform>(app: &App<P>, tenant_id: &TenantId) {
    app.webhook_cache.remove(tenant_id);
}

/// The delivery documents of `events` for `targets` (those subscribed to each event), to go
/// into the commit of the change, and their ids for the first attempt after it.
pub fn webhook_writes<P: Platform>(
    app: &App<P>,
    targets: &[Target],
    events: &[Event],
) -> (Vec<Write>, Vec<String>) {
    let now = app.platform.now_ms();
    let mut writes = Vec::new();
    let mut ids = Vec::new();
    for e in events {
        let body = e.payload().to_string();
        for t in targets
            .iter()
            .filter(|t| t.events.iter().any(|x| x == e.kind.as_str()))
        {
            let id = repo_wh::delivery_id(&t.endpoint_id, &e.id);
            let mut nonce = [0u8; 12];
            app.platform.fill_random(&mut nonce);
            let d = DeliveryRecord {
                payload_sealed: sealing::seal(&app.secrets.seal, &id, nonce, &body),
                id: id.clone(),
                endpoint_id: t.endpoint_id.clone(),
                tenant_id: e.tenant_id.clone(),
                event_id: e.id.clone(),
                event_type: e.kind.as_str().to_string(),
                subject: e.subject.clone(),
                rank: e.kind.rank(),
                state: DeliveryState::Pending,
                attempts: 0,
                next_at: now + FIRST_ATTEMPT_LEASE_MS,
                created_at: now,
                updated_at: now,
                delivered_at: 0,
                log: Vec::new(),
            };
            writes.push(repo_wh::delivery_create(&d));
            ids.push(id);
        }
    }
    (writes, ids)
}

/// Writes for `events` of one tenant (its targets looked up), with their ids.
pub async fn webhook_writes_for<P: Platform>(
    app: &App<P>,
    tenant_id: &TenantId,
    events: &[Event],
) -> Result<(Vec<Write>, Vec<String>), Error> {
    if events.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let targets = webhook_targets(app, tenant_id).await?;
    Ok(webhook_writes(app, &targets, events))
}

/// After the commit that carried deliveries: their first attempt, after the answer.
pub fn defer_webhooks(ctx: &Ctx, ids: Vec<String>) {
    if !ids.is_empty() {
        ctx.defer(crate::service::ops::later::Later::Webhooks { ids });
    }
}
