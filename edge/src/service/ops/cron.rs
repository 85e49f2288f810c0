//! The scheduled run (Cron Triggers, also `POST /v1/admin/cron/run`): expiry and quota notices,
//! expiring stale verifications, deleting records past their retention, and a health check of every
//! gateway kept as history (every 5 minutes); the fleet's stuck messages, canaries, standings and
//! alerts (every minute, `fleet::tick`).

use otp_shared::ids::GatewayId;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::fleet::roster;
use crate::service::fleet::tick::FleetTick;
use crate::service::model::{Tenant, TenantStatus, VerificationStatus};
use crate::service::ops::alerts;
use crate::service::ops::alerts::AlertKind;
use crate::service::ops::analytics::Event;
use crate::service::ops::backup::{self, BackupStep};
use crate::service::ops::notify::{self, Notice};
use crate::service::ops::usage;
use crate::service::ops::webhooks::deliver::{self, DueRun};
use crate::service::ops::webhooks::targets;
use crate::service::repo;
use crate::service::tenants::quota;

const DAY_MS: i64 = 86_400_000;

/// `POST /v1/admin/cron/run`: the upkeep's summary and the fleet's minute.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CronRun)]
pub struct Run {
    #[serde(flatten)]
    pub upkeep: Upkeep,
    pub fleet: FleetTick,
}

/// What the upkeep (every 5 minutes) did.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = CronUpkeep)]
pub struct Upkeep {
    /// Tenants looked at for notices.
    pub tenants: usize,
    pub notices_sent: usize,
    /// Pending verifications past their expiry, marked expired.
    pub verifications_expired: usize,
    /// Records deleted past their retention, by collection.
    #[schema(example = json!({"messages": 0, "verifications": 2}))]
    pub purged: BTreeMap<&'static str, usize>,
    /// Each phone's health check.
    pub gateways: Vec<GatewayProbed>,
    /// Due webhook deliveries by outcome (or `error`).
    pub webhooks: DueRun,
    pub backup: BackupRun,
    /// Why the tenants could not be read (none: they were).
    pub store_error: Option<String>,
}

/// One phone's health check in the upkeep.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GatewayProbed {
    #[schema(example = "phone-1")]
    pub id: String,
    pub reachable: bool,
    pub latency_ms: i64,
}

/// The upkeep's step of today's backup: how far it got, why it failed, or `off`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum BackupRun {
    Step(BackupStep),
    Failed(BackupFailed),
    Off(Off),
}

/// A backup step that failed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackupFailed {
    pub error: String,
    pub cause: Option<String>,
}

/// `off`: backups are not kept (`BACKUP_KEEP_DAYS` is 0).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = BackupOff)]
pub enum Off {
    Off,
}

/// The every-minute trigger's summary.
#[derive(Debug, Clone, Serialize)]
pub struct Minute {
    pub fleet: FleetTick,
    pub webhooks: DueRun,
}

/// Everything the scheduled job does: the upkeep (every 5 minutes) and the fleet's part (every
/// minute; see `fleet::tick`). `POST /v1/admin/cron/run` runs this.
pub async fn run<P: Platform>(app: &App<P>, ctx: &Ctx) -> Run {
    let upkeep = upkeep(app, ctx).await;
    Run {
        upkeep,
        fleet: crate::service::fleet::tick(app, ctx).await,
    }
}

/// Notices, expiry, retention and the gateway health history (the 5-minute Cron Trigger).
pub async fn upkeep<P: Platform>(app: &App<P>, ctx: &Ctx) -> Upkeep {
    let mut notices = 0;
    let mut tenants = 0;
    let mut cursor: Option<String> = None;
    let mut store_error = None;
    loop {
        let (page, next) = match app.repo().list_tenants(200, cursor.as_deref()).await {
            Ok(p) => p,
            Err(e) => {
                store_error = Some(e.to_string());
                break;
            }
        };
        for t in &page {
            tenants += 1;
            notices += tenant_notices(app, t, ctx).await;
        }
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    // The store's own incident: raised when this job cannot read it, cleared when it can again.
    match &store_error {
        Some(e) => {
            alerts::raise_alert(
                app,
                ctx,
                AlertKind::StoreUnreachable,
                "firestore",
                json!({"error": e}),
            )
            .await
        }
        None => {
            alerts::clear_alert(
                app,
                ctx,
                AlertKind::StoreUnreachable,
                "firestore",
                Value::Null,
            )
            .await
        }
    }
    let expired = expire_verifications(app, ctx).await;
    // Notices and expirations counted in one go (the scheduled event has no request around it).
    usage::count(app, &ctx.take_events(), ctx.now_ms);
    let purged = purge(app, ctx).await;
    let mut gateways = Vec::new();
    for g in roster::roster(app).await.iter() {
        let probe = crate::service::fleet::gateway::probe(&app.platform, g, 3000).await;
        let mut check = json!({"gateway_id": probe.id, "reachable": probe.reachable, "latency_ms": probe.latency_ms, "error": probe.error, "at": ctx.now_ms});
        // The phone's queue and pacing as it said them: the metrics read them from here.
        if let Some(h) = &probe.health {
            check["queue_depth"] = json!(h.queue_depth);
            check["capacity"] = json!(h.capacity);
            check["kill_switch"] = json!(h.kill_switch);
        }
        app.repo()
            .record_gateway_check(&check, &GatewayId::from(probe.id.as_str()), ctx.now_ms)
            .await
            .ok();
        gateways.push(GatewayProbed {
            id: probe.id.to_string(),
            reachable: probe.reachable,
            latency_ms: probe.latency_ms,
        });
    }
    let webhooks = deliver::run_due_webhooks(app, ctx).await;
    // Today's backup, a bounded step per run until the day's export is complete.
    let backup = if app.cfg.backup.keep_days > 0 {
        match backup::backup_step(app, ctx, app.cfg.backup.pages_per_run as usize).await {
            Ok(v) => BackupRun::Step(v),
            Err(e) => BackupRun::Failed(BackupFailed {
                error: e.to_string(),
                cause: e.cause,
            }),
        }
    } else {
        BackupRun::Off(Off::Off)
    };
    Upkeep {
        tenants,
        notices_sent: notices,
        verifications_expired: expired,
        purged,
        gateways,
        webhooks,
        backup,
        store_error,
    }
}

/// The every-minute trigger: the fleet's part and the due webhook retries.
pub async fn every_minute<P: Platform>(app: &App<P>, ctx: &Ctx) -> Minute {
    let fleet = crate::service::fleet::tick(app, ctx).await;
    Minute {
        fleet,
        webhooks: deliver::run_due_webhooks(app, ctx).await,
    }
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
        if let Ok(remaining) = quota::quota_remaining(app, &t.id).await {
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
/// keeps the store and the counts honest). Bounded per run; the oldest go first, so a backlog
/// drains over the next runs.
async fn expire_verifications<P: Platform>(app: &App<P>, ctx: &Ctx) -> usize {
    let mut n = 0;
    for _ in 0..EXPIRE_PAGES {
        let Ok(page) = app
            .repo()
            .expired_pending_verifications(ctx.now_ms, EXPIRE_PAGE)
            .await
        else {
            break;
        };
        let full = page.len() == EXPIRE_PAGE;
        // Each verification guarded by the version read: one a check changed meanwhile stays.
        for (slot, mut v, version) in page {
            v.status = VerificationStatus::Expired;
            let mut writes = vec![repo::verifications::update_write(&slot, &v, &version)];
            let events: Vec<_> =
                crate::service::ops::webhooks::events::Event::for_verification(&v, ctx.now_ms)
                    .into_iter()
                    .collect();
            let Ok((hooks, ids)) = targets::webhook_writes_for(app, &v.tenant_id, &events).await
            else {
                continue;
            };
            writes.extend(hooks);
            if app.repo().commit(writes).await.is_ok() {
                ctx.count(&v.tenant_id, Event::OtpExpired);
                targets::defer_webhooks(ctx, ids);
                n += 1;
            }
        }
        if !full {
            break;
        }
    }
    n
}

const EXPIRE_PAGE: usize = 200;
const EXPIRE_PAGES: usize = 5;

/// How long records stay after they stop mattering: (collection, time field, retention). Audit
/// entries, tenants and keys are kept; analytics live in counters, not in these records.
const RETENTION: [(&str, &str, i64); 12] = [
    ("verifications", "expires_at", 30 * DAY_MS),
    ("messages", "created_at", 30 * DAY_MS),
    ("inbound", "created_at", 30 * DAY_MS),
    ("webhook_deliveries", "created_at", 30 * DAY_MS),
    // A reply is routed to the tenant that wrote within 7 days: older routes say nothing.
    ("routes", "at", 7 * DAY_MS),
    ("alerts", "opened_at", 90 * DAY_MS),
    // A retry a day later is a new request (Stripe keeps keys 24 hours too).
    ("idempotency", "created_at", DAY_MS),
    ("gateway_checks", "at", 7 * DAY_MS),
    // Delivery-report nonces only matter inside the signature window (minutes).
    ("nonces", "at", DAY_MS),
    // Canaries matter until judged (minutes); a week of them shows a phone's record.
    ("canaries", "sent_at", 7 * DAY_MS),
    // A reverse verification's pointer matters until the verification expires.
    ("reverse", "expires_at", 0),
    // Enrolment tokens, whatever became of them (the audit log keeps who made, used or revoked
    // one): the operators' list stays the recent ones, under the store's page.
    ("enrol_tokens", "expires_at", 30 * DAY_MS),
];

/// Deletes records past their retention, at most a few hundred per collection and run.
async fn purge<P: Platform>(app: &App<P>, ctx: &Ctx) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for (collection, field, keep) in RETENTION {
        let n = app
            .repo()
            .purge_before(collection, field, ctx.now_ms - keep, 400)
            .await
            .unwrap_or(0);
        out.insert(collection, n);
    }
    out
}
