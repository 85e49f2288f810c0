//! Inbound SMS: the gateways' callback (`POST /internal/gateway/inbound`, signed and encrypted
//! like delivery reports), a tenant's replies (`GET /v1/messages?direction=inbound`), the opt-out
//! list (`/v1/optouts`, `/v1/admin/optouts`) and the operators' view of unrouted SMS.

use otp_shared::ids::{GatewayId, TenantId};
use otp_shared::wire::{self, InboundBatch, MAX_INBOUND_PER_BATCH};
use serde_json::json;

use super::{gateway_callback, Call};
use crate::api::body;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::api::requests::OptoutBody;
use crate::api::views::admin::{Deleted, Items, OptoutList};
use crate::api::views::system::InboundTaken;
use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::FirstCommit;
use crate::service::messaging::inbound;
use crate::service::messaging::optouts;
use crate::service::ops::audit;
use crate::service::repo::inbound::OptoutSource;
use crate::service::tenants::admission;

pub async fn receive<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let opened = gateway_callback::open(app, c, wire::PATH_INBOUND_CALLBACK).await?;
    let batch: InboundBatch = serde_json::from_slice(&opened.plain)
        .map_err(|e| Error::msg(ErrorCode::BadJson, e.to_string()))?;
    if batch.messages.is_empty() || batch.messages.len() > MAX_INBOUND_PER_BATCH {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            format!("a request carries 1 to {MAX_INBOUND_PER_BATCH} messages"),
        ));
    }
    if !inbound::claim_inbound_nonce(app, c.ctx, &opened.nonce).await? {
        return Err(gateway_callback::unauthorized("replayed_nonce"));
    }
    let (mut accepted, mut duplicates, mut routed) = (0, 0, 0);
    for sms in &batch.messages {
        let r =
            inbound::receive_inbound(app, c.ctx, &GatewayId::from(opened.gateway_id), sms).await?;
        if r.duplicate {
            duplicates += 1;
        } else {
            accepted += 1;
            routed += usize::from(r.tenant_id.is_some());
        }
    }
    Ok(ApiResponse::json(
        200,
        &json!({"success": true, "data": InboundTaken {
            received: batch.messages.len(),
            accepted,
            duplicates,
            routed,
        }}),
    ))
}

fn limit_of(c: &Call<'_>, default: usize, max: usize) -> usize {
    c.req
        .query_param("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(default)
        .clamp(1, max)
}

/// `GET /v1/admin/inbound?tenant_id=…` (or, without it, SMS no tenant could be found for).
pub async fn admin_list<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let tenant = c.req.query_param("tenant_id");
    let items: Vec<_> = app
        .repo()
        .inbound_of(tenant.map(TenantId::from).as_ref(), limit_of(c, 50, 200))
        .await?
        .iter()
        .map(|r| inbound::inbound_json(app, r))
        .collect();
    Ok(ok(200, Items { items }, c.ctx))
}

pub async fn optout_list<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let items = optouts::list_optouts(app, &c.tenant()?.id, limit_of(c, 100, 500)).await?;
    Ok(ok(200, OptoutList { items }, c.ctx))
}

pub async fn optout_add<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let b: OptoutBody = body::json(c.req)?;
    if b.tenant_id.is_some() {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "tenant_id is for admin keys",
        ));
    }
    let phone = body::phone(b.phone.as_deref(), None)?;
    let tenant = c.tenant()?;
    admission::admit(app, c.ctx, tenant, Vec::new(), false).await?;
    let o = optouts::add_optout(
        app,
        c.ctx,
        &tenant.id,
        &phone,
        OptoutSource::Api,
        Some(&first),
    )
    .await?;
    Ok(ok(201, o, c.ctx))
}

pub async fn optout_remove<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    optouts::remove_optout(app, &c.tenant()?.id, id).await?;
    Ok(ok(200, Deleted::of(id), c.ctx))
}

async fn tenant_exists<P: Platform>(app: &App<P>, id: &str) -> Result<(), Error> {
    if !otp_shared::ids::is_plain_id(id) {
        return Err(Error::new(ErrorCode::TenantNotFound));
    }
    app.repo()
        .get_tenant(id)
        .await?
        .map(|_| ())
        .ok_or_else(|| Error::new(ErrorCode::TenantNotFound))
}

pub async fn admin_optout_list<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
) -> Result<ApiResponse, Error> {
    let tenant = c
        .req
        .query_param("tenant_id")
        .ok_or_else(|| Error::msg(ErrorCode::ValidationFailed, "tenant_id is required"))?;
    let items = optouts::list_optouts(app, &TenantId::from(tenant), limit_of(c, 100, 500)).await?;
    Ok(ok(200, OptoutList { items }, c.ctx))
}

pub async fn admin_optout_add<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
) -> Result<ApiResponse, Error> {
    let b: OptoutBody = body::json(c.req)?;
    let tenant = b
        .tenant_id
        .ok_or_else(|| Error::msg(ErrorCode::ValidationFailed, "tenant_id is required"))?;
    let phone = body::phone(b.phone.as_deref(), None)?;
    tenant_exists(app, &tenant).await?;
    let o = optouts::add_optout(
        app,
        c.ctx,
        &TenantId::from(tenant.as_str()),
        &phone,
        OptoutSource::Admin,
        None,
    )
    .await?;
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "optout.add",
        &tenant,
        json!({"id": o["id"]}),
    )
    .await;
    Ok(ok(201, o, c.ctx))
}

/// The id names its tenant (`{tenant}_{tag}`).
pub async fn admin_optout_remove<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    let o = app
        .repo()
        .get_optout(id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::OptoutNotFound))?;
    optouts::remove_optout(app, &o.tenant_id, id).await?;
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "optout.remove",
        &o.tenant_id,
        json!({"id": id}),
    )
    .await;
    Ok(ok(200, Deleted::of(id), c.ctx))
}
