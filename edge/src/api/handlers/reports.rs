//! `POST /internal/gateway/status`: delivery reports, signed and encrypted by a gateway with its
//! own secret; one report or a batch (`{"reports": [...]}`).

use otp_shared::wire::{self, StatusReport};
use serde::Deserialize;
use serde_json::json;

use super::Call;
use crate::api::http::ApiResponse;
use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;

#[derive(Deserialize)]
#[serde(untagged)]
enum Reports {
    Batch { reports: Vec<StatusReport> },
    One(StatusReport),
}

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
    let verified = wire::verify(
        keys,
        "POST",
        wire::PATH_STATUS_CALLBACK,
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
    let reports = match serde_json::from_slice::<Reports>(&plain)
        .map_err(|e| Error::msg(ErrorCode::BadJson, e.to_string()))?
    {
        Reports::Batch { reports } => reports,
        Reports::One(r) => vec![r],
    };
    let applied = app
        .apply_reports(c.ctx, gateway_id, &verified.nonce, &reports)
        .await?
        .ok_or_else(|| unauthorized("replayed_nonce"))?;
    Ok(ApiResponse::json(
        200,
        &json!({"success": true, "data": {"applied": applied.applied, "ignored": applied.ignored}}),
    ))
}
