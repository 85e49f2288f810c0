//! `POST /internal/gateway/status`: delivery reports, signed and encrypted by a gateway with its
//! own secret; one report or a batch (`{"reports": [...]}`).

use otp_shared::ids::GatewayId;
use otp_shared::wire::{self, StatusBatch, StatusReport};
use serde_json::json;

use crate::api::views::system::ReportsTaken;

use super::{gateway_callback, Call};
use crate::api::http::ApiResponse;
use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::messaging::reports;

pub async fn receive<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let opened = gateway_callback::open(app, c, wire::PATH_STATUS_CALLBACK).await?;
    let (gateway_id, plain) = (opened.gateway_id, &opened.plain);
    let reports = parse_reports(plain)?;
    let applied = reports::apply_reports(
        app,
        c.ctx,
        &GatewayId::from(gateway_id),
        &opened.nonce,
        &reports,
    )
    .await?
    .ok_or_else(|| gateway_callback::unauthorized("replayed_nonce"))?;
    Ok(ApiResponse::json(
        200,
        &json!({"success": true, "data": ReportsTaken {
            received: reports.len(),
            applied: applied.applied,
            ignored: applied.ignored,
        }}),
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
