//! `/v1/admin/geo` and `/v1/admin/tenants/{id}/fraud*`: the service-wide geo relaxations, and a
//! tenant's fraud-guard blocks (list, lift). A tenant's own geo permissions and guard level are
//! tenant settings (`PATCH /v1/admin/tenants/{id}`).

use serde_json::json;

use super::Call;
use crate::api::body;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::api::requests::{FraudLiftBody, GeoBody};
use crate::api::views::admin::{FraudLifted, GeoView};
use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::abuse::destination;
use crate::service::abuse::fraud;
use crate::service::abuse::geo::GlobalGeo;
use crate::service::app::App;
use crate::service::ops::audit;

pub async fn geo_get<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let g = app.repo().get_global_geo().await?;
    Ok(ok(200, GeoView::of(&g), c.ctx))
}

pub async fn geo_put<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let b: GeoBody = body::json(c.req)?;
    let mut g = GlobalGeo {
        allowed_ranges: b.allowed_ranges,
    };
    g.allowed_ranges.sort_by_key(|r| r.as_str());
    g.allowed_ranges.dedup();
    destination::set_global_geo(app, &g).await?;
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "geo.update",
        "*",
        json!({"allowed_ranges": g.allowed_ranges}),
    )
    .await;
    Ok(ok(200, GeoView::of(&g), c.ctx))
}

async fn tenant<P: Platform>(
    app: &App<P>,
    id: &str,
) -> Result<crate::service::model::Tenant, Error> {
    app.repo()
        .get_tenant(id)
        .await?
        .ok_or_else(|| Error::new(ErrorCode::TenantNotFound))
}

pub async fn fraud_get<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let t = tenant(app, c.param()?).await?;
    Ok(ok(200, fraud::fraud_status(app, &t).await?, c.ctx))
}

pub async fn fraud_lift<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let t = tenant(app, c.param()?).await?;
    let b: FraudLiftBody = body::json(c.req)?;
    if b.key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 64) {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "key must be a block's key, 1 to 64 characters",
        ));
    }
    let lifted = fraud::fraud_lift(app, &t.id, b.key.clone()).await?;
    audit::audit(
        app,
        c.ctx,
        c.actor()?,
        "fraud.lift",
        &t.id,
        json!({"key": b.key, "lifted": lifted.len()}),
    )
    .await;
    let data = FraudLifted {
        tenant_id: t.id.as_str().into(),
        lifted,
    };
    Ok(ok(200, data, c.ctx))
}
