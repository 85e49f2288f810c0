//! Operators' routes for what runs the service: alert channels and incidents, metrics (the
//! service's and one phone's own).

use serde_json::json;

use super::Call;
use crate::api::body;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::api::routes::ROUTES;
use crate::error::Error;
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ops::audit;
use crate::service::ops::metrics;
use crate::service::ops::operators::{self, config_json, incident_json, AlertConfigInput};

const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /v1/admin/alerts`: the channels (the phone masked) and the latest incidents.
pub async fn alerts<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let cfg = app.repo().get_alert_config().await?.unwrap_or_default();
    let incidents: Vec<_> = app
        .repo()
        .list_incidents(100)
        .await?
        .iter()
        .map(incident_json)
        .collect();
    Ok(ok(
        200,
        json!({"config": config_json(&cfg), "incidents": incidents}),
        c.ctx,
    ))
}

/// `PATCH /v1/admin/alerts {"phone": "+1…"|null, "webhook_url": "https://hooks.slack.com/…"|null}`.
pub async fn alerts_update<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let input: AlertConfigInput = body::json(c.req)?;
    let cfg = operators::set_alert_config(app, &input, c.ctx.now_ms).await?;
    let details = json!({"phone": cfg.phone_masked, "webhook_url": cfg.webhook_url.as_deref().map(|u| u.split('?').next().unwrap_or(u).to_string())});
    audit::audit(app, c.ctx, c.actor()?, "alerts.configure", "*", details).await;
    Ok(ok(200, json!({"config": config_json(&cfg)}), c.ctx))
}

pub async fn alerts_test<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let channels = operators::test_alert(app, c.ctx).await?;
    Ok(ok(200, json!({"delivered_to": channels}), c.ctx))
}

/// `METHOD path` of a route, by its handler's name (how requests are counted).
fn route_name(handler: &str) -> String {
    ROUTES
        .iter()
        .find(|r| format!("{:?}", r.handler) == handler)
        .map(|r| format!("{} {}", r.method, r.path))
        .unwrap_or_else(|| handler.to_string())
}

pub async fn metrics<P: Platform>(app: &App<P>) -> Result<ApiResponse, Error> {
    let text = metrics::prometheus(app, &route_name).await?;
    Ok(ApiResponse::raw(200, PROMETHEUS, text))
}

pub async fn gateway_metrics<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
) -> Result<ApiResponse, Error> {
    let text = metrics::gateway_metrics(app, c.ctx, c.param()?).await?;
    Ok(ApiResponse::raw(200, PROMETHEUS, text))
}
