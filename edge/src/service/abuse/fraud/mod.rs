//! The caller's side of the fraud guard (`rules` holds the rules, the tenant's gate the
//! state): what an OTP send asks of it, the error a block gives, what a new block leaves behind
//! (an analytics event, an audit entry, an operator alert), approvals, and the admin's view.

pub mod rules;

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
use crate::service::ops::analytics::Event;
use crate::service::ops::audit;
use crate::service::secrets::Secrets;
use crate::service::tenants::gate::tenant_gate;

fn block_json(b: &FraudBlock) -> serde_json::Value {
    json!({
        "key": b.key,
        "watched": b.label,
        "kind": Scope::of(&b.key).name(),
        "level": b.level,
        "since": iso8601(b.since_ms),
        "until": iso8601(b.until_ms),
        "sends": b.sends,
        "approved": b.approved,
        "threshold": b.threshold,
    })
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
    tenant_id: &str,
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

/// The tenant's blocks in force and its busiest watched keys, as JSON.
pub async fn fraud_status<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
) -> Result<serde_json::Value, Error> {
    let a = ask_guard(app, &tenant.id, FraudAsk::List).await?;
    Ok(json!({
        "tenant_id": tenant.id,
        "level": tenant.settings.fraud_guard,
        "blocks": a.blocks.iter().map(block_json).collect::<Vec<_>>(),
        "busiest": a.busiest.iter().map(|w| json!({
            "key": w.key, "watched": w.label, "sends_last_hour": w.sends,
            "approved_last_hour": w.approved, "baseline_per_hour": w.baseline,
        })).collect::<Vec<_>>(),
    }))
}

/// Lifts the block on `key` (or every block); returns the lifted ones as JSON.
pub async fn fraud_lift<P: Platform>(
    app: &App<P>,
    tenant_id: &str,
    key: Option<String>,
) -> Result<Vec<serde_json::Value>, Error> {
    let a = ask_guard(app, tenant_id, FraudAsk::Lift { key }).await?;
    Ok(a.blocks.iter().map(block_json).collect())
}
