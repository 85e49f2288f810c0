//! Analytics over a date range, by hour, day, ISO week or month: the service's (admins, any tenant) and a
//! tenant's own (`GET /v1/analytics`, the same shape for the caller's tenant only).

use serde_json::{json, Value};

use super::Call;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::api::views::insights::AnalyticsReport;
use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::ops::analytics::{
    end_users, heatmap, periods, summarize, Granularity, PeriodFigures,
};

/// `?granularity=hour|day|week|month&from=YYYY-MM-DD&to=YYYY-MM-DD` for `scope` (default: today, by hour).
pub async fn report<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    scope: &str,
) -> Result<ApiResponse, Error> {
    let req = c.req;
    let g_text = req
        .query_param("granularity")
        .unwrap_or_else(|| "hour".into());
    let g = Granularity::parse(&g_text).ok_or_else(|| {
        Error::msg(
            ErrorCode::ValidationFailed,
            "granularity must be hour, day, week or month",
        )
    })?;
    let today = iso8601(c.ctx.now_ms)[..10].to_string();
    let from = req.query_param("from").unwrap_or_else(|| today.clone());
    let to = req.query_param("to").unwrap_or(today);
    let list = periods(g, &from, &to).map_err(|m| Error::msg(ErrorCode::ValidationFailed, m))?;
    let totals = app.repo().counter_totals(scope, &list).await?;
    let mut sum = serde_json::Map::new();
    for m in &totals {
        for (k, v) in m {
            let s = sum.get(k).and_then(Value::as_i64).unwrap_or(0) + v.as_i64().unwrap_or(0);
            sum.insert(k.clone(), json!(s));
        }
    }
    // End users are counted per day, week and month (not per hour).
    let users = g != Granularity::Hour;
    let series: Vec<PeriodFigures> = list
        .iter()
        .zip(&totals)
        .map(|(p, m)| PeriodFigures {
            end_users: users.then(|| end_users(m, true)),
            ..summarize(&p[1..], m)
        })
        .collect();
    let total = PeriodFigures {
        end_users: users.then(|| end_users(&sum, list.len() == 1)),
        // Sends by UTC weekday (rows Monday..Sunday) and hour (columns 0..23) over the range.
        heatmap: users.then(|| heatmap(&sum)),
        ..summarize("total", &sum)
    };
    let data = AnalyticsReport {
        scope: scope.to_string(),
        granularity: g_text,
        from,
        to,
        total,
        series,
    };
    Ok(ok(200, data, c.ctx))
}

/// The caller's tenant only.
pub async fn own<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let tenant = c.tenant()?;
    report(app, c, &tenant.id).await
}
