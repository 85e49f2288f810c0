//! `POST /internal/gateway/status`: delivery reports signed by a gateway with its own secret,
//! in batches (`StatusBatch`) of up to `wire::MAX_REPORTS_PER_BATCH`.

use otp_shared::wire::{self, Keys, StatusBatch, StatusReport};
use serde_json::json;

use super::app::{App, Ctx};
use super::error::{ApiError, ErrorCode};
use super::http::{ApiRequest, ApiResponse};
use crate::platform::Platform;

pub async fn gateway_status<P: Platform>(
    app: &App<P>,
    req: &ApiRequest,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiError> {
    let unauthorized = |why: &str| {
        ApiError::msg(
            ErrorCode::Unauthorized,
            format!("Gateway request refused: {why}"),
        )
    };
    let gateway_id = req
        .header(wire::HEADER_GATEWAY)
        .ok_or_else(|| unauthorized("unsigned"))?;
    let g = app
        .cfg
        .gateways
        .iter()
        .find(|g| g.id == gateway_id)
        .ok_or_else(|| unauthorized("unknown gateway"))?;
    let keys = Keys::from_secret(&g.secret).map_err(|_| ApiError::new(ErrorCode::Internal))?;
    let now = (ctx.now_ms / 1000) as u64;
    let route = wire::Route::new("POST", wire::PATH_STATUS_CALLBACK, &g.id);
    let verified = wire::verify(
        &keys,
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
        .ok_or_else(|| ApiError::new(ErrorCode::BadJson))?;
    let reports = parse_reports(&plain)?;
    let applied = app
        .repo
        .apply_status_reports(app, &reports, gateway_id, &verified.nonce)
        .await?
        .ok_or_else(|| unauthorized("replayed_nonce"))?;
    Ok(ApiResponse::json(
        200,
        &json!({"success": true, "data": {"received": reports.len(), "applied": applied}}),
    ))
}

/// A `StatusBatch` (what gateways send), or one bare `StatusReport` (older gateways).
fn parse_reports(plain: &[u8]) -> Result<Vec<StatusReport>, ApiError> {
    let bad = |e: serde_json::Error| ApiError::msg(ErrorCode::BadJson, e.to_string());
    let value: serde_json::Value = serde_json::from_slice(plain).map_err(bad)?;
    let reports = if value.get("reports").is_some() {
        serde_json::from_value::<StatusBatch>(value)
            .map_err(bad)?
            .reports
    } else {
        vec![serde_json::from_value::<StatusReport>(value).map_err(bad)?]
    };
    if reports.is_empty() || reports.len() > wire::MAX_REPORTS_PER_BATCH {
        return Err(ApiError::msg(
            ErrorCode::BadJson,
            format!("a batch holds 1 to {} reports", wire::MAX_REPORTS_PER_BATCH),
        ));
    }
    Ok(reports)
}
