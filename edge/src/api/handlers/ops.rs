//! Operators' routes for what runs the service: alert channels and incidents, metrics (the
//! service's and one phone's own).

use otp_shared::ids::GatewayId;
use serde_json::json;

use super::Call;
use crate::api::body;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::api::routes::ROUTES;
use crate::api::views::admin::{
    AlertTested, Alerts, AlertsConfigured, BackupDay, BackupList, BackupRestored, GatewayLogs,
};
use crate::error::Error;
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::fleet::links;
use crate::service::ops::audit;
use crate::service::ops::backup;
use crate::service::ops::metrics;
use crate::service::ops::operators::{self, AlertConfigInput, AlertConfigView, IncidentView};

const PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /v1/admin/alerts`: the channels (the phone masked) and the latest incidents.
pub async fn alerts<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let cfg = app.repo().get_alert_config().await?.unwrap_or_default();
    let incidents = app
        .repo()
        .list_incidents(100)
        .await?
        .iter()
        .map(IncidentView::of)
        .collect();
    let data = Alerts {
        config: AlertConfigView::of(&cfg),
        incidents,
    };
    Ok(ok(200, data, c.ctx))
}

/// `PATCH /v1/admin/alerts {"phone": "+1…"|null, "webhook_url": "https://hooks.slack.com/…"|null}`.
pub async fn alerts_update<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let input: AlertConfigInput = body::json(c.req)?;
    let cfg = operators::set_alert_config(app, &input, c.ctx.now_ms).await?;
    let details = json!({"phone": cfg.phone_masked, "webhook_url": cfg.webhook_url.as_deref().map(|u| u.split('?').next().unwrap_or(u).to_string()), "emails": cfg.emails});
    audit::audit(app, c.ctx, c.actor()?, "alerts.configure", "*", details).await;
    let data = AlertsConfigured {
        config: AlertConfigView::of(&cfg),
    };
    Ok(ok(200, data, c.ctx))
}

pub async fn alerts_test<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let channels = operators::test_alert(app, c.ctx).await?;
    let data = AlertTested {
        delivered_to: channels,
    };
    Ok(ok(200, data, c.ctx))
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
    let text = metrics::gateway_metrics(app, c.ctx, &GatewayId::from(c.param()?)).await?;
    Ok(ApiResponse::raw(200, PROMETHEUS, text))
}

/// `GET /v1/admin/gateways/{id}/logs?lines=N`: the last N (1-200, default 50) lines of a phone's
/// log, fetched with a signed request. Audited: support reads what the phone did.
pub async fn gateway_logs<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let id = c.param()?;
    let lines = c
        .req
        .query_param("lines")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, otp_shared::wire::LOG_LINES_MAX);
    let got = links::gateway_logs(app, c.ctx, &GatewayId::from(id), lines).await?;
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "gateway.logs",
        id,
        json!({"lines": got.len()}),
    )
    .await;
    let data = GatewayLogs {
        gateway_id: id.into(),
        lines: got,
    };
    Ok(ok(200, data, c.ctx))
}

/// `GET /v1/admin/backups`: the days in the backup bucket.
pub async fn backup_list<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let days: Vec<_> = backup::backup_days(app)
        .await?
        .into_iter()
        .rev()
        .map(|(day, complete)| BackupDay { day, complete })
        .collect();
    let data = BackupList {
        days,
        keep_days: app.cfg.backup.keep_days,
    };
    Ok(ok(200, data, c.ctx))
}

/// `POST /v1/admin/backups/run`: today's backup, to the end (bounded: a very large store is
/// finished by the scheduled runs).
pub async fn backup_run<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let mut summary = backup::backup_step(app, c.ctx, 50).await?;
    for _ in 1..20 {
        if summary.done {
            break;
        }
        summary = backup::backup_step(app, c.ctx, 50).await?;
    }
    audit::audit(app, c.ctx, c.actor()?, "backup.run", "*", json!(summary)).await;
    Ok(ok(200, summary, c.ctx))
}

/// `GET /v1/admin/backups/{day}`: a complete day's manifest.
pub async fn backup_get<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let m = backup::backup_manifest(app, c.param()?).await?;
    Ok(ok(200, m, c.ctx))
}

/// `POST /v1/admin/backups/{day}/restore {"part"}`: one part written back.
pub async fn backup_restore<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let b: crate::api::requests::BackupRestoreBody = body::json(c.req)?;
    let day = c.param()?;
    let restored = backup::restore_part(app, day, &b.part).await?;
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "backup.restore",
        day,
        json!({"part": b.part, "documents": restored}),
    )
    .await;
    let data = BackupRestored {
        part: b.part,
        restored,
    };
    Ok(ok(200, data, c.ctx))
}
