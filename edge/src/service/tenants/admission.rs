//! The caller's side of a tenant's gate: one call that counts the request's limit hits (those the
//! pipeline asked for and the service's own, such as a phone's send window) and, for a send, takes
//! a unit of quota. A refusal becomes the error a client expects for that limit.

use crate::error::{Error, ErrorCode};
use crate::platform::fraud::FraudAsk;
use crate::platform::{GateAsk, Hit, LimitKind, Platform, QuotaAnswer, QuotaOp};
use crate::service::abuse::fraud;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::model::Tenant;
use crate::service::ops::notices::Notice;
pub use crate::service::tenants::gate::tenant_gate;
use otp_shared::ids::TenantId;

/// Passes the tenant's gate with the request's pending hits plus `extra`. With `take`, one
/// unit of quota is taken too (or the error says why not).
pub async fn admit<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    extra: Vec<Hit>,
    take: bool,
) -> Result<(), Error> {
    admit_with(app, ctx, tenant, extra, take, None).await
}

/// `admit` for a send: the fraud guard's question rides in the call that pays for it.
pub async fn admit_with<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    extra: Vec<Hit>,
    take: bool,
    fraud: Option<FraudAsk>,
) -> Result<(), Error> {
    let mut hits = ctx.take_hits();
    hits.extend(extra);
    let quota = if take { QuotaOp::Take } else { QuotaOp::None };
    let fraud = if take { fraud } else { None };
    if hits.is_empty() && quota == QuotaOp::None && fraud.is_none() {
        return Ok(());
    }
    let answer = app
        .platform
        .gate(
            &tenant_gate(&tenant.id),
            &GateAsk {
                hits,
                quota,
                fraud,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| Error::new(ErrorCode::StoreUnavailable).cause(format!("gate: {e}")))?;
    if let Some(r) = answer.refused {
        let e = match r.kind {
            LimitKind::Fraud => {
                let verdict = answer.fraud.unwrap_or_default();
                fraud::fraud_refusal(app, ctx, tenant, verdict).await
            }
            LimitKind::PhoneSends => Error::new(ErrorCode::TooManySends),
            LimitKind::PhoneMessages => {
                Error::msg(ErrorCode::RateLimited, "Too many messages to this phone")
            }
            _ => Error::msg(
                ErrorCode::RateLimited,
                format!("Too many requests; retry in {} s", r.retry_after_secs),
            ),
        };
        return Err(e.retry_after(r.retry_after_secs));
    }
    match answer.quota {
        QuotaAnswer::Exhausted => {
            ctx.defer(crate::service::ops::later::Later::Notice {
                tenant: Box::new(tenant.clone()),
                notice: Notice::QuotaExhausted,
            });
            Err(Error::new(ErrorCode::QuotaExhausted))
        }
        QuotaAnswer::Unavailable { why } => {
            Err(Error::new(ErrorCode::StoreUnavailable).cause(format!("quota: {why}")))
        }
        _ => Ok(()),
    }
}

/// Gives units that paid for nothing back to the tenant's lease, and the limit hits of a
/// request that did nothing back to their windows.
pub async fn refund<P: Platform>(app: &App<P>, tenant_id: &TenantId, units: u32, hits: Vec<Hit>) {
    let quota = if units > 0 {
        QuotaOp::Refund { units }
    } else {
        QuotaOp::None
    };
    if quota == QuotaOp::None && hits.is_empty() {
        return;
    }
    let ask = GateAsk {
        hits,
        quota,
        undo: true,
        ..Default::default()
    };
    if let Err(e) = app.platform.gate(&tenant_gate(tenant_id), &ask).await {
        app.platform.log(&serde_json::json!({"level": "error", "event": "refund_lost", "tenant": tenant_id, "units": units, "error": e}).to_string());
    }
}

/// Units the tenant's lease holds (taken from the shards, not yet spent).
pub async fn leased_units<P: Platform>(app: &App<P>, tenant_id: &TenantId) -> Result<i64, Error> {
    lease_op(app, tenant_id, QuotaOp::Peek).await
}

/// Drops the tenant's lease (an admin is changing its balance); returns the unspent units.
pub async fn reset_lease<P: Platform>(app: &App<P>, tenant_id: &TenantId) -> Result<i64, Error> {
    lease_op(app, tenant_id, QuotaOp::Reset).await
}

/// A quota operation that answers with the lease's units.
async fn lease_op<P: Platform>(
    app: &App<P>,
    tenant_id: &TenantId,
    quota: QuotaOp,
) -> Result<i64, Error> {
    let ask = GateAsk {
        quota,
        ..Default::default()
    };
    let answer = app
        .platform
        .gate(&tenant_gate(tenant_id), &ask)
        .await
        .map_err(|e| Error::new(ErrorCode::StoreUnavailable).cause(e))?;
    Ok(match answer.quota {
        QuotaAnswer::Leased { units } => units,
        _ => 0,
    })
}
