//! Analytics over a date range, by hour, day or month: the service's (admins, any tenant) and a
//! tenant's own (`GET /v1/analytics`, the same shape for the caller's tenant only).

use serde_json::{json, Value};

use super::Call;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::ops::analytics::{periods, summarize, Granularity};

/// `?granularity=hour|day|month&from=YYYY-MM-DD&to=YYYY-MM-DD` for `scope` (default: today, by hour).
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
            "granularity must be hour, day or month",
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
    let series: Vec<Value> = list
        .iter()
        .zip(&totals)
        .map(|(p, m)| summarize(&p[1..], m))
        .collect();
    let data = json!({"scope": scope, "granularity": g_text, "from": from, "to": to, "total": summarize("total", &sum), "series": series});
    Ok(ok(200, data, c.ctx))
}

/// The caller's tenant only.
pub async fn own<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let tenant = c.tenant()?;
    report(app, c, &tenant.id).await
}
