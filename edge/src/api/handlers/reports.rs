//! `POST /internal/gateway/status`: delivery reports, signed and encrypted by a gateway with its
//! own secret; one report or a batch (`{"reports": [...]}`).

use otp_shared::wire::{self, StatusBatch, StatusReport};
use serde_json::json;

use super::Call;
use crate::api::http::ApiResponse;
use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;

pub async fn receive<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let req = c.req;
    let unauthorized = |why: &str| {
        Error::msg(
            ErrorCode::Unauthorized,
            format!("Gateway request refused: {why}"),
        )
    };
    let gateway_id = req
        .header(wire::HEADER_GATEWAY)
        .ok_or_else(|| unauthorized("unsigned"))?;
    let g = app
        .gateways
        .iter()
        .find(|g| g.cfg.id == gateway_id)
        .ok_or_else(|| unauthorized("unknown gateway"))?;
    let keys = g
        .keys
        .as_ref()
        .ok_or_else(|| Error::new(ErrorCode::Internal).cause("gateway secret unusable"))?;
    let now = (c.ctx.now_ms / 1000) as u64;
    let route = wire::Route::new("POST", wire::PATH_STATUS_CALLBACK, &g.cfg.id);
    let verified = wire::verify(
        keys,
        route,
        |h| req.header(h),
        &req.body,
        now,
        wire::DEFAULT_WINDOW_SECS,
    )
    .map_err(|e| unauthorized(e.code()))?;
    let plain = verified
        .open()
        .map_err(|e| unauthorized(e.code()))?
        .ok_or_else(|| Error::new(ErrorCode::BadJson))?;
    let reports = parse_reports(&plain)?;
    let applied = app
        .apply_reports(c.ctx, gateway_id, &verified.nonce, &reports)
        .await?
        .ok_or_else(|| unauthorized("replayed_nonce"))?;
    Ok(ApiResponse::json(
        200,
        &json!({"success": true, "data": {"received": reports.len(), "applied": applied.applied, "ignored": applied.ignored}}),
    ))
}

/// A `StatusBatch` (what gateways send), or one bare `StatusReport` (older gateways).
fn parse_reports(plain: &[u8]) -> Result<Vec<StatusReport>, Error> {
    let bad = |e: serde_json::Error| Error::msg(ErrorCode::BadJson, e.to_string());
    let value: serde_json::Value = serde_json::from_slice(plain).map_err(bad)?;
    let reports = if value.get("reports").is_some() {
        serde_json::from_value::<StatusBatch>(value)
            .map_err(bad)?
            .reports
    } else {
        vec![serde_json::from_value::<StatusReport>(value).map_err(bad)?]
    };
    Ok(reports)
}
