//! Attempts: one signed POST per pending delivery, its outcome recorded on the delivery (guarded by
//! the version read, so two attempters never both record) and on the endpoint's health. A failed
//! attempt waits the next step of `WEBHOOK_RETRY_SECS`; when the steps are used up the delivery
//! fails. An endpoint whose attempts have all failed for `WEBHOOK_DISABLE_AFTER_SECS` is disabled,
//! with an operator alert and a notice to the tenant's contact phone.
//!
//! A later event of one subject (a message's `sent`) waits while an earlier one (its `queued`) is
//! pending for the same endpoint, so a receiver sees a message's states in order even when it
//! failed some attempts.

use std::collections::BTreeMap;

use otp_shared::phone::Phone;
use otp_shared::wire::MessageKind;
use serde_json::json;

use crate::error::{Error, ErrorCode};
use crate::net::{HttpClient, OutboundRequest};
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::ctx::{Ctx, FirstCommit};
use crate::service::messaging::dispatch;
use crate::service::messaging::messages;
use crate::service::model::{is_zero, Tenant};
use crate::service::ops::alerts;
use crate::service::ops::alerts::AlertKind;
use crate::service::ops::audit;
use crate::service::ops::usage;
use crate::service::ops::webhooks::endpoints;
use crate::service::ops::webhooks::events::EventType;
use crate::service::ops::webhooks::sign;
use crate::service::ops::webhooks::targets;
use crate::service::repo::webhooks::{
    self as repo_wh, Attempt, DeliveryRecord, DeliveryState, EndpointRecord, LOG_KEPT,
};
use crate::service::sealing;
use crate::service::tenants::admission;
use crate::store::{Doc, StoreError};

/// What happened to one delivery when it was taken up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// The attempt failed; it will be retried.
    Retry,
    /// It failed for good (retries used up, endpoint disabled or gone).
    Failed,
    /// An earlier event of its subject is still pending for this endpoint.
    Held,
    /// Not pending any more, gone, or someone else recorded it first.
    Skipped,
}

/// Due deliveries one scheduled run takes up.
const DUE_PER_RUN: usize = 200;
/// Subjects attempted at once by the scheduled run (a slow endpoint holds one lane).
const LANES: usize = 8;
/// How long a claimed delivery is left to its attempter before another may take it.
const CLAIM_MS: i64 = 120_000;

/// One try to deliver, as the tenant sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = WebhookAttempt)]
pub struct AttemptView {
    #[schema(format = DateTime)]
    pub at: String,
    /// The endpoint's HTTP status; none when it did not answer (time-out, refused).
    pub status: Option<u16>,
    pub ms: i64,
    pub error: Option<String>,
}

/// One event's delivery to an endpoint, with every attempt.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct DeliveryView {
    #[schema(example = "msg_01jd9-sent")]
    pub event_id: String,
    #[serde(rename = "type")]
    #[schema(example = "message.sent")]
    pub event_type: String,
    pub subject: String,
    pub state: DeliveryState,
    pub attempts: u32,
    /// Pending only.
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub delivered_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub log: Vec<AttemptView>,
}

impl DeliveryView {
    pub fn of(d: &DeliveryRecord) -> DeliveryView {
        DeliveryView {
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            subject: d.subject.clone(),
            state: d.state,
            attempts: d.attempts,
            next_attempt_at: (d.state == DeliveryState::Pending).then(|| iso8601(d.next_at)),
            delivered_at: (d.delivered_at > 0).then(|| iso8601(d.delivered_at)),
            created_at: iso8601(d.created_at),
            log: d
                .log
                .iter()
                .map(|a| AttemptView {
                    at: iso8601(a.at),
                    status: a.status,
                    ms: a.ms,
                    error: a.error.clone(),
                })
                .collect(),
        }
    }
}

/// First attempts after the commit that created the deliveries (`ops::later::Later::Webhooks`,
/// whose runner counts `ctx`'s events and runs its deferred work). One held behind an earlier
/// event is tried again a few times, then left to the scheduled job.
pub async fn first_webhook_attempts<P: Platform>(app: &App<P>, ctx: &Ctx, ids: Vec<String>) {
    let mut held = Vec::new();
    for id in ids {
        if attempt_delivery(app, ctx, &id, false).await == Outcome::Held {
            held.push(id);
        }
    }
    for _ in 0..6 {
        if held.is_empty() {
            break;
        }
        app.platform.sleep(500).await;
        let mut still = Vec::new();
        for id in held {
            if attempt_delivery(app, ctx, &id, false).await == Outcome::Held {
                still.push(id);
            }
        }
        held = still;
    }
    // Still waiting for an earlier event: due now, for the scheduled job's next run.
    for id in held {
        release_lease(app, &id).await;
    }
}

/// The scheduled job's part: every due delivery, a subject's events in order, subjects side
/// by side (at most `LANES` at once). Returns counts by outcome.
pub async fn run_due_webhooks<P: Platform>(app: &App<P>, ctx: &Ctx) -> DueRun {
    let due = match app.repo().due_deliveries(ctx.now_ms, DUE_PER_RUN).await {
        Ok(d) => d,
        Err(e) => {
            return DueRun {
                error: Some(e.to_string()),
                ..DueRun::default()
            }
        }
    };
    let mut groups: BTreeMap<(String, String), Vec<DeliveryRecord>> = BTreeMap::new();
    for d in due {
        groups
            .entry((d.value.endpoint_id.clone(), d.value.subject.clone()))
            .or_default()
            .push(d.value);
    }
    let lanes: Vec<Vec<DeliveryRecord>> = groups
        .into_values()
        .map(|mut g| {
            g.sort_by_key(|d| (d.rank, d.created_at));
            g
        })
        .collect();
    let mut counts = DueRun::default();
    for chunk in lanes.chunks(LANES) {
        let runs = chunk.iter().map(|lane| async move {
            let mut out = Vec::new();
            for d in lane {
                out.push(attempt_delivery(app, ctx, &d.id, true).await);
            }
            out
        });
        for outcomes in futures_util::future::join_all(runs).await {
            for o in outcomes {
                counts.add(o);
            }
        }
    }
    usage::count(app, &ctx.take_events(), ctx.now_ms);
    counts
}

/// What a scheduled run did with the due deliveries: how many by outcome (an outcome none had
/// is left out), or why none could be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = WebhookRun)]
pub struct DueRun {
    #[serde(skip_serializing_if = "is_zero")]
    pub delivered: u32,
    /// Failed, to be retried.
    #[serde(skip_serializing_if = "is_zero")]
    pub retry: u32,
    /// Failed for good.
    #[serde(skip_serializing_if = "is_zero")]
    pub failed: u32,
    /// Behind an earlier event of their subject.
    #[serde(skip_serializing_if = "is_zero")]
    pub held: u32,
    /// No longer pending, or taken up by another run.
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped: u32,
    /// The store did not answer: none was taken up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl DueRun {
    fn add(&mut self, o: Outcome) {
        *match o {
            Outcome::Delivered => &mut self.delivered,
            Outcome::Retry => &mut self.retry,
            Outcome::Failed => &mut self.failed,
            Outcome::Held => &mut self.held,
            Outcome::Skipped => &mut self.skipped,
        } += 1;
    }
}

/// Takes up one delivery: reads it with its endpoint and predecessors, attempts it, records
/// the outcome. `claim`: move its lease first (the scheduled job; a first attempt already
/// holds one from its creation).
pub async fn attempt_delivery<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    id: &str,
    claim: bool,
) -> Outcome {
    match try_attempt(app, ctx, id, claim).await {
        Ok(o) => o,
        Err(e) => {
            app.warn(ctx, "webhook_attempt_not_recorded", &e.to_string());
            Outcome::Skipped
        }
    }
}

async fn try_attempt<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    id: &str,
    claim: bool,
) -> Result<Outcome, StoreError> {
    // `whe_` + 20 characters, `_`, then the event id (`repo_wh::delivery_id`).
    let (Some(endpoint_id), Some(b'_'), Some(event_id)) =
        (id.get(..24), id.as_bytes().get(24), id.get(25..))
    else {
        return Ok(Outcome::Skipped);
    };
    let subject = event_id
        .rsplit_once('-')
        .map(|(s, _)| s)
        .unwrap_or(event_id);
    let kind = event_id.rsplit_once('-').and_then(|(_, tag)| {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str().ends_with(&format!(".{tag}")))
    });
    let before: Vec<String> = kind
        .map(|k| k.predecessors(subject))
        .unwrap_or_default()
        .iter()
        .map(|e| repo_wh::delivery_id(endpoint_id, e))
        .collect();
    let (doc, endpoint, earlier) = app
        .repo()
        .delivery_context(id, endpoint_id, &before)
        .await?;
    let Some(Doc {
        value: mut d,
        update_time: mut version,
        ..
    }) = doc
    else {
        return Ok(Outcome::Skipped);
    };
    if d.state != DeliveryState::Pending {
        return Ok(Outcome::Skipped);
    }
    let now = app.platform.now_ms();
    let endpoint = match endpoint {
        Some(e) if e.value.enabled => e,
        other => {
            let why = if other.is_some() {
                "endpoint disabled"
            } else {
                "endpoint deleted"
            };
            d.state = DeliveryState::Failed;
            d.updated_at = now;
            d.log.push(Attempt {
                at: now,
                status: None,
                ms: 0,
                error: Some(why.into()),
            });
            save_delivery(app, &d, &version).await?;
            return Ok(Outcome::Failed);
        }
    };
    if earlier.iter().any(|e| e.state == DeliveryState::Pending) {
        return Ok(Outcome::Held);
    }
    if claim {
        let mut claimed = d.clone();
        claimed.next_at = now + CLAIM_MS;
        match app
            .repo()
            .commit(vec![repo_wh::delivery_update(&claimed, &version)])
            .await
        {
            Ok(times) => version = times.into_iter().next().unwrap_or_default(),
            Err(StoreError::PreconditionFailed(_) | StoreError::Aborted(_)) => {
                return Ok(Outcome::Skipped)
            }
            Err(e) => return Err(e),
        }
    }
    let (status, ms, error) = post_delivery(app, &d, &endpoint.value).await;
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    d.attempts += 1;
    d.updated_at = app.platform.now_ms();
    d.log.push(Attempt {
        at: now,
        status,
        ms,
        error,
    });
    if d.log.len() > LOG_KEPT {
        d.log.drain(..d.log.len() - LOG_KEPT);
    }
    let outcome = if ok {
        d.state = DeliveryState::Delivered;
        d.delivered_at = d.updated_at;
        Outcome::Delivered
    } else {
        match app.cfg.webhooks.retry_secs.get(d.attempts as usize - 1) {
            Some(wait) => {
                d.next_at = d.updated_at + *wait as i64 * 1000;
                Outcome::Retry
            }
            None => {
                d.state = DeliveryState::Failed;
                Outcome::Failed
            }
        }
    };
    if !save_delivery(app, &d, &version).await? {
        return Ok(Outcome::Skipped);
    }
    ctx.count_field(&d.tenant_id, &format!("webhook_{}", outcome_name(outcome)));
    endpoint_health(app, ctx, endpoint, ok).await;
    Ok(outcome)
}

/// Makes a pending delivery due at once (a first attempt held behind an earlier event gives
/// its lease back instead of waiting it out).
async fn release_lease<P: Platform>(app: &App<P>, id: &str) {
    if let Ok(docs) = app.repo().get_deliveries(&[id.to_string()]).await {
        for doc in docs
            .into_iter()
            .filter(|d| d.value.state == DeliveryState::Pending)
        {
            let mut d = doc.value;
            d.next_at = app.platform.now_ms();
            save_delivery(app, &d, &doc.update_time).await.ok();
        }
    }
}

/// Records a delivery; false when someone else recorded it first.
async fn save_delivery<P: Platform>(
    app: &App<P>,
    d: &DeliveryRecord,
    version: &str,
) -> Result<bool, StoreError> {
    match app
        .repo()
        .commit(vec![repo_wh::delivery_update(d, version)])
        .await
    {
        Ok(_) => Ok(true),
        Err(StoreError::PreconditionFailed(_) | StoreError::Aborted(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// One signed POST; (status, milliseconds, error).
async fn post_delivery<P: Platform>(
    app: &App<P>,
    d: &DeliveryRecord,
    e: &EndpointRecord,
) -> (Option<u16>, i64, Option<String>) {
    let (Some(key), Some(body)) = (
        endpoints::webhook_secret(app, e),
        sealing::open(&app.secrets.seal, &d.id, &d.payload_sealed),
    ) else {
        return (None, 0, Some("cannot unseal the secret or payload".into()));
    };
    let ts = (app.platform.now_ms() / 1000) as u64;
    let req = OutboundRequest::new("POST", e.url.clone())
        .header("webhook-id", d.event_id.clone())
        .header("webhook-timestamp", ts.to_string())
        .header(
            "webhook-signature",
            sign::signature(&key, &d.event_id, ts, body.as_bytes()),
        )
        .header(
            "user-agent",
            concat!("otp-sms-webhooks/", env!("CARGO_PKG_VERSION")),
        )
        .json_body(body.into_bytes())
        .timeout_ms(app.cfg.webhooks.timeout_ms);
    let started = app.platform.now_ms();
    let r = app.platform.http().send(req).await;
    let ms = app.platform.now_ms() - started;
    match r {
        Ok(resp) if resp.is_success() => (Some(resp.status), ms, None),
        Ok(resp) => (Some(resp.status), ms, Some(format!("http {}", resp.status))),
        Err(e) => (None, ms, Some(e.to_string())),
    }
}

/// Keeps the endpoint's `failing_since`; disables it after a day of failures.
async fn endpoint_health<P: Platform>(app: &App<P>, ctx: &Ctx, doc: Doc<EndpointRecord>, ok: bool) {
    let now = app.platform.now_ms();
    let mut e = doc.value;
    let disable_after = app.cfg.webhooks.disable_after_secs as i64 * 1000;
    let disabling = !ok && e.failing_since > 0 && now - e.failing_since >= disable_after;
    match (ok, e.failing_since) {
        (true, 0) => return,
        (true, _) => e.failing_since = 0,
        (false, 0) => e.failing_since = now,
        (false, _) if disabling => {
            e.enabled = false;
            e.disabled_at = now;
            e.disabled_reason = Some(format!(
                "every attempt failed since {}",
                iso8601(e.failing_since)
            ));
        }
        (false, _) => return,
    }
    e.updated_at = now;
    let saved = app
        .repo()
        .commit(vec![repo_wh::endpoint_update(&e, &doc.update_time)])
        .await;
    targets::forget_webhook_targets(app, &e.tenant_id);
    if saved.is_ok() && disabling {
        endpoint_disabled(app, ctx, &e).await;
    }
}

/// An endpoint was disabled for failing: audit, operator alert, and the tenant's contact
/// phone told once.
async fn endpoint_disabled<P: Platform>(app: &App<P>, ctx: &Ctx, e: &EndpointRecord) {
    let details = json!({"tenant_id": e.tenant_id, "url": e.url, "reason": e.disabled_reason});
    audit::audit(
        app,
        ctx,
        "system",
        "webhook.disabled",
        &e.id,
        details.clone(),
    )
    .await;
    alerts::raise_alert(app, ctx, AlertKind::WebhookDisabled, &e.id, details).await;
    let Ok(Some(t)) = app.repo().get_tenant(&e.tenant_id).await else {
        return;
    };
    let Some(phone) = t
        .contact_phone
        .as_deref()
        .and_then(|p| Phone::parse(p).ok())
    else {
        return;
    };
    let marker = format!("{}_webhook_{}_{}", t.id, e.id, e.disabled_at);
    if !matches!(app.repo().claim_notice(&marker, ctx.now_ms).await, Ok(true)) {
        return;
    }
    let host = e
        .url
        .split("://")
        .nth(1)
        .and_then(|r| r.split(['/', '?']).next())
        .unwrap_or("");
    let text = format!(
        "otp-sms: the webhook endpoint at {host} of {} failed for a day and was disabled. Fix it, then enable it and replay.",
        t.name
    );
    if messages::send_message(app, ctx, &t, &phone, &text, MessageKind::Notification)
        .await
        .is_err()
    {
        app.repo().release_notice(&marker).await.ok();
    }
}

/// Makes deliveries of one endpoint pending again (by event id, or every failed one since a
/// time); returns how many. Their attempts follow the answer.
pub async fn replay_webhooks<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    endpoint_id: &str,
    event_ids: Option<&[String]>,
    since: Option<i64>,
    first: &FirstCommit<'_>,
) -> Result<usize, Error> {
    let endpoint = endpoints::tenant_webhook(app, tenant, endpoint_id).await?;
    if !endpoint.value.enabled {
        return Err(Error::new(ErrorCode::WebhookDisabled));
    }
    admission::admit(app, ctx, tenant, Vec::new(), false).await?;
    let docs = match (event_ids, since) {
        (Some(ids), _) => {
            if ids.is_empty()
                || ids.len() > 100
                || ids.iter().any(|i| !otp_shared::ids::is_plain_id(i))
            {
                return Err(Error::msg(
                    ErrorCode::ValidationFailed,
                    "event_ids must hold 1 to 100 event ids",
                ));
            }
            let ids: Vec<String> = ids
                .iter()
                .map(|e| repo_wh::delivery_id(endpoint_id, e))
                .collect();
            app.repo().get_deliveries(&ids).await?
        }
        (None, Some(t)) => {
            app.repo()
                .deliveries_of(endpoint_id, Some(DeliveryState::Failed), Some(t), 100)
                .await?
        }
        (None, None) => {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                "give event_ids or since",
            ))
        }
    };
    let now = app.platform.now_ms();
    let mut writes = Vec::new();
    let mut ids = Vec::new();
    for doc in docs
        .into_iter()
        .filter(|d| d.value.state != DeliveryState::Pending)
    {
        let mut d = doc.value;
        d.state = DeliveryState::Pending;
        // The attempt after the answer holds it first; the retry steps start again.
        d.next_at = now + targets::FIRST_ATTEMPT_LEASE_MS;
        d.attempts = 0;
        d.updated_at = now;
        writes.push(repo_wh::delivery_update(&d, &doc.update_time));
        ids.push(d.id);
    }
    writes.extend(first.claim_write());
    match app.repo().commit(writes).await {
        Ok(_) => first.landed(),
        Err(
            StoreError::PreconditionFailed(_) | StoreError::AlreadyExists | StoreError::Aborted(_),
        ) => return Err(dispatch::lost_race(app, ctx).await),
        Err(e) => return Err(e.into()),
    }
    let n = ids.len();
    targets::defer_webhooks(ctx, ids);
    Ok(n)
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Delivered => "delivered",
        Outcome::Retry => "retry",
        Outcome::Failed => "failed",
        Outcome::Held => "held",
        Outcome::Skipped => "skipped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run's counts are named as the outcomes are counted elsewhere, and only the ones that
    /// happened are listed (the JSON the untyped map gave).
    #[test]
    fn a_runs_counts_are_the_outcomes_that_happened() {
        let all = [
            Outcome::Delivered,
            Outcome::Retry,
            Outcome::Failed,
            Outcome::Held,
            Outcome::Skipped,
        ];
        for o in all {
            let mut run = DueRun::default();
            run.add(o);
            run.add(o);
            assert_eq!(json!(run), json!({outcome_name(o): 2}));
        }
        assert_eq!(json!(DueRun::default()), json!({}));
        let down = DueRun {
            error: Some("unavailable".into()),
            ..DueRun::default()
        };
        assert_eq!(
            serde_json::to_string(&json!(down)).unwrap(),
            r#"{"error":"unavailable"}"#
        );
    }
}
