//! The scheduled run (Cron Trigger, also `POST /v1/admin/cron/run`): expiry and quota notices,
//! expiring stale verifications, and a health check of every gateway kept as history.

use serde_json::{json, Value};

use super::model::{Tenant, TenantStatus, VerificationStatus};
use super::notify::{self, Notice};
use crate::api::app::{App, Ctx};
use crate::platform::Platform;

const DAY_MS: i64 = 86_400_000;

pub async fn run<P: Platform>(app: &App<P>, ctx: &Ctx) -> Value {
    let mut notices = 0;
    let mut tenants = 0;
    let mut cursor: Option<String> = None;
    loop {
        let Ok((page, next)) = app.repo.list_tenants(app, 200, cursor.as_deref()).await else { break };
        for t in &page {
            tenants += 1;
            notices += tenant_notices(app, t, ctx).await;
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let expired = expire_verifications(app, ctx).await;
    let mut gateways = Vec::new();
    for g in &app.cfg.gateways {
        let probe = super::gateway::probe(&app.platform, g, 3000).await;
        app.repo.record_gateway_check(app, &probe, ctx.now_ms).await.ok();
        gateways.push(json!({"id": probe.id, "reachable": probe.reachable, "latency_ms": probe.latency_ms}));
    }
    json!({"tenants": tenants, "notices_sent": notices, "verifications_expired": expired, "gateways": gateways})
}

async fn tenant_notices<P: Platform>(app: &App<P>, t: &Tenant, ctx: &Ctx) -> usize {
    if t.status == TenantStatus::Suspended || t.contact_phone.is_none() {
        return 0;
    }
    let mut sent = 0;
    if t.quota_expires_at > 0 {
        if ctx.now_ms >= t.quota_expires_at {
            sent += notify::once(app, t, Notice::Expired, ctx).await as usize;
        } else if ctx.now_ms >= t.quota_expires_at - 3 * DAY_MS {
            sent += notify::once(app, t, Notice::ExpirySoon, ctx).await as usize;
        }
    }
    if t.quota_total > 0 {
        if let Ok(remaining) = app.repo.quota_remaining(app, &t.id).await {
            if remaining == 0 {
                sent += notify::once(app, t, Notice::QuotaExhausted, ctx).await as usize;
            } else if remaining * 5 <= t.quota_total {
                sent += notify::once(app, t, Notice::QuotaLow, ctx).await as usize;
            }
        }
    }
    sent
}

/// Marks pending verifications past their expiry as expired (they are refused either way; this
/// keeps the store and the counts honest).
async fn expire_verifications<P: Platform>(app: &App<P>, ctx: &Ctx) -> usize {
    let Ok(pending) = app.repo.pending_verifications(app, 500).await else { return 0 };
    let mut n = 0;
    for (mut v, version) in pending {
        if v.expires_at <= ctx.now_ms {
            v.status = VerificationStatus::Expired;
            if app.repo.update_verification(app, &v, &version).await.is_ok() {
                app.repo.count_event(app, &v.tenant_id, "otp_expired", ctx.now_ms).await;
                n += 1;
            }
        }
    }
    n
}
