//! `/v1/webhooks`: a tenant's endpoints, their deliveries and replays.

use super::Call;
use crate::api::body;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::api::requests::ReplayBody;
use crate::api::views::admin::{Deleted, Deliveries, Replayed};
use crate::error::{Error, ErrorCode};
use crate::platform::{parse_iso8601, Platform};
use crate::service::app::App;
use crate::service::ctx::FirstCommit;
use crate::service::ops::webhooks::deliver;
use crate::service::ops::webhooks::deliver::DeliveryView;
use crate::service::ops::webhooks::endpoints;
use crate::service::ops::webhooks::endpoints::{EndpointInput, WebhookList, WebhookView};
use crate::service::repo::webhooks::DeliveryState;

pub async fn create<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let input: EndpointInput = body::json(c.req)?;
    if input.enabled.is_some() {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "a new endpoint is enabled; set enabled with PATCH",
        ));
    }
    let (e, secret) = endpoints::create_webhook(app, c.ctx, c.tenant()?, &input, &first).await?;
    let data = WebhookView {
        secret: Some(secret),
        ..WebhookView::of(&e)
    };
    Ok(ok(201, data, c.ctx))
}

pub async fn list<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let items = app
        .repo()
        .endpoints_of(&c.tenant()?.id)
        .await?
        .iter()
        .map(|d| WebhookView::of(&d.value))
        .collect();
    Ok(ok(200, WebhookList { items }, c.ctx))
}

pub async fn get<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let d = endpoints::tenant_webhook(app, c.tenant()?, c.param()?).await?;
    Ok(ok(200, WebhookView::of(&d.value), c.ctx))
}

pub async fn update<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let input: EndpointInput = body::json(c.req)?;
    let e = endpoints::update_webhook(app, c.ctx, c.tenant()?, c.param()?, &input).await?;
    Ok(ok(200, WebhookView::of(&e), c.ctx))
}

pub async fn delete<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    endpoints::delete_webhook(app, c.tenant()?, id).await?;
    Ok(ok(200, Deleted::of(id), c.ctx))
}

/// `?limit=50&state=pending|delivered|failed`, newest first.
pub async fn deliveries<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let d = endpoints::tenant_webhook(app, c.tenant()?, c.param()?).await?;
    let limit = c
        .req
        .query_param("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(50usize)
        .clamp(1, 200);
    let state = match c.req.query_param("state").as_deref() {
        None | Some("") => None,
        Some("pending") => Some(DeliveryState::Pending),
        Some("delivered") => Some(DeliveryState::Delivered),
        Some("failed") => Some(DeliveryState::Failed),
        Some(_) => {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                "state must be pending, delivered or failed",
            ))
        }
    };
    let items: Vec<_> = app
        .repo()
        .deliveries_of(&d.value.id, state, None, limit)
        .await?
        .iter()
        .map(|d| DeliveryView::of(&d.value))
        .collect();
    Ok(ok(200, Deliveries { items }, c.ctx))
}

/// `{"event_ids": [...]}` or `{"since": "2026-11-25T10:00:00Z"}` (every failed delivery since).
pub async fn replay<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let b: ReplayBody = body::json(c.req)?;
    let since = match &b.since {
        Some(s) => Some(parse_iso8601(s).ok_or_else(|| {
            Error::msg(
                ErrorCode::ValidationFailed,
                "since must be an ISO 8601 time",
            )
        })?),
        None => None,
    };
    let n = deliver::replay_webhooks(
        app,
        c.ctx,
        c.tenant()?,
        c.param()?,
        b.event_ids.as_deref(),
        since,
        &first,
    )
    .await?;
    Ok(ok(200, Replayed { replayed: n }, c.ctx))
}
