//! `/v1/otp/*`.

use serde_json::json;

use super::Call;
use crate::api::body;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::api::requests::{OtpSendBody as SendBody, OtpTargetBody as TargetBody};
use crate::api::views::{Approved, OtpSent, OtpVerified, ReverseStarted};
use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::ctx::FirstCommit;
use crate::service::model::CodeKind;
use crate::service::otp;
use crate::service::otp::reverse;
use crate::service::otp::{CheckResult, SendOptions};

pub async fn send<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let b: SendBody = body::json(c.req)?;
    let reverse = match b.channel.as_deref() {
        None | Some("sms") => false,
        Some("reverse") => true,
        Some(_) => {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                "channel must be \"sms\" or \"reverse\"",
            ))
        }
    };
    body::end_user(c.ctx, b.end_user_ip.as_deref())?;
    let phone = body::phone(b.phone.as_deref(), b.country.as_deref())?;
    if reverse {
        if b.code_type.is_some_and(|k| k != CodeKind::Words) || b.locale.is_some() {
            return Err(Error::msg(
                ErrorCode::ValidationFailed,
                "a reverse verification takes no code_type (it is words) and no locale",
            ));
        }
        let started = reverse::start(app, c.ctx, c.tenant()?, &phone, &first).await?;
        return Ok(ok(202, ReverseStarted::of(&started, c.ctx.now_ms), c.ctx));
    }
    let opts = SendOptions {
        code_type: b.code_type,
        locale: b.locale,
    };
    let sent = otp::send_otp(app, c.ctx, c.tenant()?, &phone, &opts, &first).await?;
    Ok(ok(202, OtpSent::of(&sent, c.ctx.now_ms), c.ctx))
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
    Ok(ok(202, OtpSent::of(&sent, c.ctx.now_ms), c.ctx))
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
        CheckResult::Approved(v) => {
            let verified = OtpVerified {
                id: v.id,
                phone: v.phone,
                status: Approved::Approved,
                verified_at: iso8601(v.verified_at),
            };
            Ok(ok(200, verified, c.ctx))
        }
        CheckResult::WrongCode { attempts_left, .. } => Err(Error::msg(
            ErrorCode::CodeIncorrect,
            format!("The code is not correct; {attempts_left} attempts left"),
        )
        .details(json!({"attempts_left": attempts_left}))),
    }
}
