//! `/v1/otp/*`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::Call;
use crate::api::body;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::ctx::{Ctx, FirstCommit};
use crate::service::model::CodeKind;
use crate::service::otp;
use crate::service::otp::{CheckResult, SendOptions, Sent};

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
    /// ISO 3166 alpha-2: `phone` may then be in that country's national format.
    #[serde(default)]
    country: Option<String>,
    /// The end user's address (as `X-End-User-IP`).
    #[serde(default)]
    end_user_ip: Option<String>,
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
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    end_user_ip: Option<String>,
}

pub fn sent_json(sent: &Sent, ctx: &Ctx) -> Value {
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
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let b: SendBody = body::json(c.req)?;
    if b.channel.as_deref().is_some_and(|ch| ch != "sms") {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            "channel must be \"sms\"",
        ));
    }
    body::end_user(c.ctx, b.end_user_ip.as_deref())?;
    let phone = body::phone(b.phone.as_deref(), b.country.as_deref())?;
    let opts = SendOptions {
        code_type: b.code_type,
        locale: b.locale,
    };
    let sent = otp::send_otp(app, c.ctx, c.tenant()?, &phone, &opts, &first).await?;
    Ok(ok(202, sent_json(&sent, c.ctx), c.ctx))
}

pub async fn resend<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let b: TargetBody = body::json(c.req)?;
    body::end_user(c.ctx, b.end_user_ip.as_deref())?;
    let phone = body::optional_phone(b.phone.as_deref(), b.country.as_deref())?;
    let sent = otp::resend_otp(
        app,
        c.ctx,
        c.tenant()?,
        b.id.as_deref(),
        phone.as_ref(),
        &first,
    )
    .await?;
    Ok(ok(202, sent_json(&sent, c.ctx), c.ctx))
}

pub async fn verify<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let b: TargetBody = body::json(c.req)?;
    body::end_user(c.ctx, b.end_user_ip.as_deref())?;
    let phone = body::optional_phone(b.phone.as_deref(), b.country.as_deref())?;
    let code = b.code.unwrap_or_default();
    match otp::verify_otp(
        app,
        c.ctx,
        c.tenant()?,
        b.id.as_deref(),
        phone.as_ref(),
        &code,
        &first,
    )
    .await?
    {
        CheckResult::Approved(v) => Ok(ok(
            200,
            json!({"id": v.id, "phone": v.phone, "status": "approved", "verified_at": iso8601(v.verified_at)}),
            c.ctx,
        )),
        CheckResult::WrongCode { attempts_left, .. } => Err(Error::msg(
            ErrorCode::CodeIncorrect,
            format!("The code is not correct; {attempts_left} attempts left"),
        )
        .details(json!({"attempts_left": attempts_left}))),
    }
}
