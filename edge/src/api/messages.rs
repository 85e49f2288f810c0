//! `/v1/messages` handlers.

use serde::Deserialize;
use serde_json::json;

use super::app::{ok_json, App, Ctx};
use super::body;
use super::error::{ApiError, ErrorCode};
use super::http::{ApiRequest, ApiResponse};
use crate::platform::{iso8601, Platform};
use crate::service::messages;
use crate::service::model::{MessageRecord, Tenant};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    phone: Option<String>,
    text: Option<String>,
}

pub fn message_json(m: &MessageRecord) -> serde_json::Value {
    json!({
        "id": m.id,
        "kind": m.kind,
        "phone": m.phone_masked,
        "state": m.state,
        "encoding": m.encoding,
        "segments": m.segments,
        "gateway_id": m.gateway_id,
        "attempts": m.attempts,
        "error": m.error,
        "created_at": iso8601(m.created_at),
        "updated_at": iso8601(m.updated_at),
    })
}

pub async fn send<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    req: &ApiRequest,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiError> {
    let b: SendBody = body::json(req)?;
    let phone = body::phone(b.phone.as_deref())?;
    let sent = messages::send(app, tenant, &phone, b.text.as_deref().unwrap_or(""), ctx).await?;
    Ok(ok_json(202, message_json(&sent.message), ctx))
}

pub async fn get<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    id: &str,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiError> {
    let m = app
        .repo
        .get_message(app, id)
        .await?
        .filter(|m| m.tenant_id == tenant.id)
        .ok_or_else(|| ApiError::new(ErrorCode::MessageNotFound))?;
    Ok(ok_json(200, message_json(&m), ctx))
}
