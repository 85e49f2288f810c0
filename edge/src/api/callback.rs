//! `POST /internal/gateway/status`: delivery reports signed by a gateway with its own secret.

use otp_shared::wire::{self, Keys, StatusReport};
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
    let report: StatusReport = serde_json::from_slice(&plain)
        .map_err(|e| ApiError::msg(ErrorCode::BadJson, e.to_string()))?;
    let applied = app
        .repo
        .apply_status_report(app, &report, gateway_id, &verified.nonce)
        .await?
        .ok_or_else(|| unauthorized("replayed_nonce"))?;
    Ok(ApiResponse::json(
        200,
        &json!({"success": true, "data": {"id": report.id, "applied": applied}}),
    ))
}
