//! Conversion (`service::ops::conversion`): a tenant's own (`GET /v1/analytics/conversion`, by
//! country, prefix or template) and the service's (`GET /v1/admin/conversion`, also by tenant,
//! phone and SIM, with each phone's standing).

use super::Call;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::api::views::insights::{ConversionReport, DemotionRuleView};
use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::fleet::standing;
use crate::service::ops::analytics::{periods, Granularity};
use crate::service::ops::conversion::{self, Dim};

/// What a tenant may break its own figures down by (phones and SIMs are the operator's).
const TENANT_DIMS: &[Dim] = &[Dim::Country, Dim::Prefix, Dim::Template];
const MAX_ROWS: usize = 500;

fn bad(msg: impl Into<String>) -> Error {
    Error::msg(ErrorCode::ValidationFailed, msg.into())
}

/// `?by=&granularity=hour|day|month&from=&to=&limit=` over `scope` (a tenant id or `_all`).
async fn report<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    scope: &str,
    dims: &[Dim],
) -> Result<ConversionReport, Error> {
    let req = c.req;
    let names = || dims.iter().map(|d| d.name()).collect::<Vec<_>>().join(", ");
    let by_text = req
        .query_param("by")
        .unwrap_or_else(|| dims[0].name().into());
    let by = Dim::parse(&by_text)
        .filter(|d| dims.contains(d))
        .ok_or_else(|| bad(format!("by must be one of: {}", names())))?;
    let g_text = req
        .query_param("granularity")
        .unwrap_or_else(|| "day".into());
    let g = Granularity::parse(&g_text)
        .ok_or_else(|| bad("granularity must be hour, day, week or month"))?;
    let limit = match req.query_param("limit") {
        None => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_ROWS).contains(n))
            .ok_or_else(|| bad(format!("limit must be 1 to {MAX_ROWS}")))?,
    };
    let today = iso8601(c.ctx.now_ms)[..10].to_string();
    let from = req.query_param("from").unwrap_or_else(|| today.clone());
    let to = req.query_param("to").unwrap_or(today);
    let list = periods(g, &from, &to).map_err(bad)?;
    let totals = app.repo().counter_totals(scope, &list).await?;
    let summed = conversion::sum(&totals);
    let mut rows = conversion::breakdown(&summed, by);
    let more = rows.len().saturating_sub(limit);
    rows.truncate(limit);
    Ok(ConversionReport {
        scope: scope.to_string(),
        by,
        granularity: g_text,
        from,
        to,
        total: conversion::total(&summed),
        rows,
        more,
        rule: None,
        phones: None,
    })
}

/// The caller's tenant only.
pub async fn own<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let tenant = c.tenant()?;
    let r = report(app, c, &tenant.id, TENANT_DIMS).await?;
    Ok(ok(200, r, c.ctx))
}

/// Any tenant's (`tenant_id`) or the whole service's; by phone or SIM, each phone's conversion
/// standing (`low_conversion`) rides along.
pub async fn admin<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let scope = c
        .req
        .query_param("tenant_id")
        .unwrap_or_else(|| "_all".into());
    if !otp_shared::ids::is_plain_id(&scope) {
        return Err(bad("tenant_id is not a tenant id"));
    }
    let dims = [
        Dim::Sim,
        Dim::Gateway,
        Dim::Country,
        Dim::Prefix,
        Dim::Template,
        Dim::Tenant,
    ];
    let mut r = report(app, c, &scope, &dims).await?;
    if matches!(r.by, Dim::Sim | Dim::Gateway) {
        let rule = crate::service::fleet::converting::rule(app);
        r.rule = Some(DemotionRuleView {
            window_hours: app.cfg.fleet.conversion_window_hours,
            min_codes: rule.min_codes,
            below_fraction_of_pool_median: rule.below_fraction,
        });
        r.phones = Some(standing::fleet_conversion(app).await);
    }
    Ok(ok(200, r, c.ctx))
}
