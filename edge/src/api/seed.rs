//! The seed system's routes, kept for existing clients: same fields, same `{success, message, data}`
//! envelope, `error` a string on failure (see `ApiError::to_seed_response`).

use serde::Deserialize;
use serde_json::{json, Value};

use super::app::{App, Ctx};
use super::body;
use super::error::{ApiError, ErrorCode};
use super::http::{ApiRequest, ApiResponse};
use crate::platform::{iso8601, Platform};
use crate::service::model::Tenant;
use crate::service::otp::{self, CheckResult, SendOptions};

#[derive(Deserialize)]
struct SeedBody {
    phone: Option<String>,
    #[serde(default)]
    otp: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

fn ok(message: &str, data: Value, ctx: &Ctx) -> ApiResponse {
    ApiResponse::json(
        200,
        &json!({"success": true, "message": message, "data": data, "request_id": ctx.request_id}),
    )
}

pub async fn send_otp<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    req: &ApiRequest,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiError> {
    let b: SeedBody = body::json(req)?;
    let phone = body::phone(b.phone.as_deref())?;
    let sent = otp::send(app, tenant, &phone, &SendOptions::default(), ctx).await?;
    let v = &sent.verification;
    Ok(ok(
        "OTP sent successfully",
        json!({"phone": v.phone, "expiresIn": (v.expires_at - v.created_at) / 1000, "verificationId": v.id, "messageId": sent.message_id}),
        ctx,
    ))
}

pub async fn resend_otp<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    req: &ApiRequest,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiError> {
    let b: SeedBody = body::json(req)?;
    let phone = body::phone(b.phone.as_deref())?;
    let sent = otp::resend(app, tenant, None, Some(&phone), ctx).await?;
    let v = &sent.verification;
    Ok(ok(
        "OTP resent successfully",
        json!({"phone": v.phone, "expiresIn": ((v.expires_at - ctx.now_ms) / 1000).max(0), "attemptCount": v.sends}),
        ctx,
    ))
}

pub async fn verify_otp<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    req: &ApiRequest,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiError> {
    let b: SeedBody = body::json(req)?;
    let phone = body::phone(b.phone.as_deref())?;
    let code = b.otp.unwrap_or_default();
    if code.trim().is_empty() {
        return Err(ApiError::msg(ErrorCode::CodeRequired, "OTP is required"));
    }
    match otp::verify(app, tenant, None, Some(&phone), &code, ctx).await {
        Ok(CheckResult::Approved(v)) => Ok(ok(
            "OTP verified successfully",
            json!({"phone": v.phone, "verified": true, "verifiedAt": iso8601(v.verified_at)}),
            ctx,
        )),
        Ok(CheckResult::WrongCode { attempts_left }) => Err(ApiError::msg(
            ErrorCode::CodeIncorrect,
            "Invalid or expired OTP",
        )
        .details(json!({"attempts_left": attempts_left}))),
        // The seed said one thing for every unusable code; keep its text, the code tells them apart.
        Err(e)
            if matches!(
                e.code,
                ErrorCode::VerificationNotFound
                    | ErrorCode::VerificationExpired
                    | ErrorCode::AlreadyVerified
            ) =>
        {
            Err(ApiError {
                message: "Invalid or expired OTP".into(),
                ..e
            })
        }
        Err(e) => Err(e),
    }
}

pub async fn direct_message<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    req: &ApiRequest,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiError> {
    let b: SeedBody = body::json(req)?;
    let phone = body::phone(b.phone.as_deref())?;
    let sent = crate::service::messages::send(
        app,
        tenant,
        &phone,
        b.message.as_deref().unwrap_or(""),
        ctx,
    )
    .await?;
    Ok(ok(
        "Message sent successfully",
        json!({"phone": phone.as_str(), "messageId": sent.message.id, "status": sent.message.state}),
        ctx,
    ))
}
