//! The caller's side of the fraud guard (`rules` holds the rules, the tenant's gate the
//! state): what an OTP send asks of it, the error a block gives, what a new block leaves behind
//! (an analytics event, an audit entry, an operator alert), approvals, and the admin's view.

pub mod rules;

use otp_shared::ids::TenantId;
use otp_shared::phone::Phone;
use serde_json::json;

use crate::error::{Error, ErrorCode};
use crate::platform::fraud::{FraudAnswer, FraudAsk, FraudBlock, FraudLevel, Watched};
use crate::platform::{iso8601, GateAsk, Platform};
use crate::service::abuse::fraud::rules::{destination, Scope};
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::model::Tenant;
use crate::service::ops::alerts;
use crate::service::ops::alerts::AlertKind;
use crate::service::ops::analytics::{Event, Granularity};
use crate::service::ops::audit;
use crate::service::ops::conversion::{breakdown, Dim};
use crate::service::secrets::Secrets;
use crate::service::tenants::gate::tenant_gate;

/// A block in force, as an admin reads it (and as the refused send's error details carry it).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = FraudBlock)]
pub struct BlockView {
    /// What `POST .../fraud/lift` takes to lift it.
    #[schema(example = "p:+33612")]
    pub key: String,
    /// What it watches, readable (a prefix, a country, a range, an end user's tag).
    #[schema(example = "+33612")]
    pub watched: String,
    pub kind: Scope,
    pub level: FraudLevel,
    #[schema(format = DateTime)]
    pub since: String,
    #[schema(format = DateTime)]
    pub until: String,
    pub sends: u32,
    pub approved: u32,
    pub threshold: u32,
}

impl BlockView {
    pub fn of(b: &FraudBlock) -> BlockView {
        BlockView {
            key: b.key.clone(),
            watched: b.label.clone(),
            kind: Scope::of(&b.key),
            level: b.level,
            since: iso8601(b.since_ms),
            until: iso8601(b.until_ms),
            sends: b.sends,
            approved: b.approved,
            threshold: b.threshold,
        }
    }
}

/// One of the busiest watched keys of the last hour.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WatchedView {
    pub key: String,
    pub watched: String,
    pub sends_last_hour: u32,
    pub approved_last_hour: u32,
    /// The sends an hour this key usually has.
    pub baseline_per_hour: u32,
}

/// `GET /v1/admin/tenants/{id}/fraud`.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct FraudStatus {
    pub tenant_id: otp_shared::ids::TenantId,
    pub level: FraudLevel,
    pub blocks: Vec<BlockView>,
    pub busiest: Vec<WatchedView>,
}

fn block_json(b: &FraudBlock) -> serde_json::Value {
    serde_json::to_value(BlockView::of(b)).unwrap_or_default()
}

/// What the guard watches for an OTP to `phone`: its prefix, carrier range and country and,
/// when the tenant named one, the end user.
pub fn watched_for(secrets: &Secrets, ctx: &Ctx, phone: &Phone) -> Vec<Watched> {
    let mut w = destination(phone);
    if let Some(user) = ctx.end_user() {
        w.push(user.watched(secrets));
    }
    w
}

/// What the coming send's gate call asks the guard (nothing when the tenant turned it off).
pub fn guard_send(tenant: &Tenant, watched: Vec<Watched>) -> Option<FraudAsk> {
    let level = tenant.settings.fraud_guard;
    (level != FraudLevel::Off).then_some(FraudAsk::Send { level, watched })
}

/// A prefix with at least this many of the tenant's codes sent today (UTC, from the conversion
/// counters)...
pub const SUSPECT_MIN_SENDS: i64 = 30;
/// ...and under this percentage of them verified is suspect: sends to it are judged at `strict`.
pub const SUSPECT_MAX_PERCENT: i64 = 5;
/// How long an isolate keeps a tenant's suspect prefixes before reading its counters again.
const SUSPECT_CACHE_MS: i64 = 60_000;

/// The prefixes of one day's summed counters that convert near zero.
pub fn suspect_prefixes(m: &serde_json::Map<String, serde_json::Value>) -> Vec<String> {
    breakdown(m, Dim::Prefix)
        .into_iter()
        .filter(|r| r.sent >= SUSPECT_MIN_SENDS && r.verified * 100 < SUSPECT_MAX_PERCENT * r.sent)
        .map(|r| r.key)
        .collect()
}

/// Prefix conversion as a signal: a send to a suspect prefix is judged one level up (`standard`
/// becomes `strict`: fewer unverified sends an hour before a block, a higher verified floor,
/// longer blocks). The hourly rules catch a sudden run; this catches a slow one, spread over
/// hours, that never converts.
pub fn raised_level(level: FraudLevel, watched: &[Watched], suspects: &[String]) -> FraudLevel {
    let suspect = watched
        .iter()
        .any(|w| Scope::of(&w.key) == Scope::Prefix && suspects.contains(&w.label));
    match level {
        FraudLevel::Standard if suspect => FraudLevel::Strict,
        other => other,
    }
}

/// [`guard_send`] with the prefix signal: the tenant's suspect prefixes, read from today's
/// counters at most once a minute per isolate (a store that does not answer raises nothing).
pub async fn guard_send_for<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    watched: Vec<Watched>,
) -> Option<FraudAsk> {
    let level = tenant.settings.fraud_guard;
    if level != FraudLevel::Standard {
        return guard_send(tenant, watched);
    }
    let now = app.platform.now_ms();
    let suspects = match app
        .suspect_prefixes
        .fresh(&tenant.id, now, SUSPECT_CACHE_MS)
    {
        Some(s) => s,
        None => {
            let day = Granularity::Day.period(now);
            let read = app.repo().counter_totals(&tenant.id, &[day]).await;
            let s = read
                .ok()
                .and_then(|t| t.into_iter().next())
                .map(|m| suspect_prefixes(&m))
                .unwrap_or_default();
            app.suspect_prefixes.put(&tenant.id, now, s.clone());
            s
        }
    };
    let level = raised_level(level, &watched, &suspects);
    Some(FraudAsk::Send { level, watched })
}

/// Credits an approved verification to the keys its code was sent to, after the answer.
pub fn guard_approved(ctx: &Ctx, tenant: &Tenant, keys: Vec<String>) {
    if tenant.settings.fraud_guard == FraudLevel::Off || keys.is_empty() {
        return;
    }
    let ask = GateAsk {
        fraud: Some(FraudAsk::Approved { keys }),
        ..Default::default()
    };
    ctx.defer(crate::service::tenants::later::Later::GateNote {
        gate: tenant_gate(&tenant.id),
        ask: Box::new(ask),
    });
}

/// The error for a send the guard refused; a block this send started is counted, audited and
/// raised to the operator first.
pub async fn fraud_refusal<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    verdict: FraudAnswer,
) -> Error {
    let Some(block) = verdict.blocked else {
        return Error::new(ErrorCode::FraudSuspected);
    };
    let details = block_json(&block);
    if verdict.new_block {
        ctx.count(&tenant.id, Event::FraudBlocked);
        let mut audit = details.clone();
        audit["tenant_id"] = json!(tenant.id);
        audit::audit(app, ctx, "system", "fraud.block", &tenant.id, audit.clone()).await;
        let subject = format!("{}/{}", tenant.id, block.label);
        alerts::raise_alert(app, ctx, AlertKind::FraudBlock, &subject, audit).await;
    }
    let who = match Scope::of(&block.key) {
        Scope::EndUser => format!("this end user ({})", block.label),
        Scope::Country => format!("numbers in {}", block.label),
        Scope::Range | Scope::Prefix => format!("numbers starting {}", block.label),
    };
    Error::msg(
        ErrorCode::FraudSuspected,
        format!(
            "Sends to {who} are paused by the fraud guard until {} (many codes sent, few verified); nothing was sent or charged",
            iso8601(block.until_ms)
        ),
    )
    .details(details)
}

async fn ask_guard<P: Platform>(
    app: &App<P>,
    tenant_id: &TenantId,
    ask: FraudAsk,
) -> Result<FraudAnswer, Error> {
    let ask = GateAsk {
        fraud: Some(ask),
        ..Default::default()
    };
    let answer = app
        .platform
        .gate(&tenant_gate(tenant_id), &ask)
        .await
        .map_err(|e| Error::new(ErrorCode::StoreUnavailable).cause(format!("gate: {e}")))?;
    Ok(answer.fraud.unwrap_or_default())
}

/// The tenant's blocks in force and its busiest watched keys.
pub async fn fraud_status<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
) -> Result<FraudStatus, Error> {
    let a = ask_guard(app, &tenant.id, FraudAsk::List).await?;
    Ok(FraudStatus {
        tenant_id: tenant.id.as_str().into(),
        level: tenant.settings.fraud_guard,
        blocks: a.blocks.iter().map(BlockView::of).collect(),
        busiest: a
            .busiest
            .iter()
            .map(|w| WatchedView {
                key: w.key.clone(),
                watched: w.label.clone(),
                sends_last_hour: w.sends,
                approved_last_hour: w.approved,
                baseline_per_hour: w.baseline,
            })
            .collect(),
    })
}

/// Lifts the block on `key` (or every block); returns the lifted ones as JSON.
pub async fn fraud_lift<P: Platform>(
    app: &App<P>,
    tenant_id: &TenantId,
    key: Option<String>,
) -> Result<Vec<BlockView>, Error> {
    let a = ask_guard(app, tenant_id, FraudAsk::Lift { key }).await?;
    Ok(a.blocks.iter().map(BlockView::of).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ops::conversion::{fields, values, ConvTags, Figure};

    #[test]
    fn a_prefix_with_many_sends_and_almost_no_verifies_raises_the_level() {
        let mut m = serde_json::Map::new();
        let mut add = |prefix: &str, figure: Figure, times: usize| {
            let tags = ConvTags {
                prefix: prefix.into(),
                ..Default::default()
            };
            for _ in 0..times {
                for f in fields(&values("t1", &tags, "", ""), figure, None) {
                    let n = m.get(&f).and_then(|v| v.as_i64()).unwrap_or(0) + 1;
                    m.insert(f, json!(n));
                }
            }
        };
        // 40 sends, 1 verified (2.5%): suspect. 40 sends, 2 verified (5%): not. 29 sends,
        // none verified: too few to say.
        add("+1415555", Figure::Sent, 40);
        add("+1415555", Figure::Verified, 1);
        add("+33612", Figure::Sent, 40);
        add("+33612", Figure::Verified, 2);
        add("+4477", Figure::Sent, 29);
        assert_eq!(suspect_prefixes(&m), ["+1415555"]);
        let suspects = suspect_prefixes(&m);
        let to = |n: &str| destination(&Phone::parse(n).unwrap());
        assert_eq!(
            raised_level(FraudLevel::Standard, &to("+14155550123"), &suspects),
            FraudLevel::Strict
        );
        assert_eq!(
            raised_level(FraudLevel::Standard, &to("+14155560123"), &suspects),
            FraudLevel::Standard
        );
        // Off stays off; strict stays strict.
        assert_eq!(
            raised_level(FraudLevel::Off, &to("+14155550123"), &suspects),
            FraudLevel::Off
        );
    }
}
