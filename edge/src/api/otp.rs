//! `/v1/otp/*` handlers.

use serde::Deserialize;
use serde_json::json;

use super::app::{ok_json, App, Ctx};
use super::body;
use super::error::{ApiError, ErrorCode};
use super::http::{ApiRequest, ApiResponse};
use crate::platform::{iso8601, Platform};
use crate::service::model::{CodeKind, Tenant};
use crate::service::otp::{self, CheckResult, SendOptions, Sent};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    phone: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    code_type: Option<CodeKind>,
    #[serde(default)]
    locale: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetBody {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

pub fn sent_json(sent: &Sent, ctx: &Ctx) -> serde_json::Value {
    let v = &sent.verification;
    json!({
        "id": v.id,
        "phone": v.phone,
        "status": "pending",
        "expires_at": iso8601(v.expires_at),
        "expires_in": ((v.expires_at - ctx.now_ms) / 1000).max(0),
        "sends": v.sends,
        "delivery": {"message_id": sent.message_id, "state": sent.delivery_state, "gateway_id": sent.gateway_id},
    })
}

pub async fn send<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    req: &ApiRequest,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiError> {
    let b: SendBody = body::json(req)?;
    if let Some(ch) = b.channel.as_deref() {
        if ch != "sms" {
            return Err(ApiError::msg(
                ErrorCode::ValidationFailed,
                "channel must be \"sms\"",
            ));
        }
    }
    let phone = body::phone(b.phone.as_deref())?;
    let sent = otp::send(
        app,
        tenant,
        &phone,
        &SendOptions {
            code_type: b.code_type,
            locale: b.locale,
        },
        ctx,
    )
    .await?;
    Ok(ok_json(202, sent_json(&sent, ctx), ctx))
}

pub async fn resend<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    req: &ApiRequest,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiError> {
    let b: TargetBody = body::json(req)?;
    let phone = body::optional_phone(b.phone.as_deref())?;
    let sent = otp::resend(app, tenant, b.id.as_deref(), phone.as_ref(), ctx).await?;
    Ok(ok_json(202, sent_json(&sent, ctx), ctx))
}

pub async fn verify<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    req: &ApiRequest,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiError> {
    let b: TargetBody = body::json(req)?;
    let phone = body::optional_phone(b.phone.as_deref())?;
    let code = b.code.unwrap_or_default();
    match otp::verify(app, tenant, b.id.as_deref(), phone.as_ref(), &code, ctx).await? {
        CheckResult::Approved(v) => Ok(ok_json(
            200,
            json!({"id": v.id, "phone": v.phone, "status": "approved", "verified_at": iso8601(v.verified_at)}),
            ctx,
        )),
        CheckResult::WrongCode { attempts_left } => Err(ApiError::msg(
            ErrorCode::CodeIncorrect,
            format!("The code is not correct; {attempts_left} attempts left"),
        )
        .details(json!({"attempts_left": attempts_left}))),
    }
}
