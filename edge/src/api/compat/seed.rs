//! The seed system's routes, kept for existing clients: same fields, same `{success, message,
//! data}` envelope, `error` a string on failure (see `render::error`).

use serde_json::json;

use crate::api::body;
use crate::api::handlers::Call;
use crate::api::http::ApiResponse;
use crate::api::render::ok_seed;
use crate::error::{Error, ErrorCode};
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::ctx::FirstCommit;
use crate::service::messaging::messages;
use crate::service::otp;
use crate::service::otp::{CheckResult, SendOptions};

use crate::api::requests::SeedBody;
use crate::api::views::compat::{SeedMessageSent, SeedResent, SeedSent, SeedVerified};

pub async fn send_otp<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let b: SeedBody = body::json(c.req)?;
    let phone = body::phone(b.phone.as_deref(), b.country.as_deref())?;
    let sent = otp::send_otp(
        app,
        c.ctx,
        c.tenant()?,
        &phone,
        &SendOptions::default(),
        &first,
    )
    .await?;
    let v = &sent.verification;
    let data = SeedSent {
        phone: v.phone.clone(),
        expires_in: (v.expires_at - v.created_at) / 1000,
        verification_id: v.id.clone(),
        message_id: sent.message_id.clone(),
    };
    Ok(ok_seed("OTP sent successfully", data, c.ctx))
}

pub async fn resend_otp<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let b: SeedBody = body::json(c.req)?;
    let phone = body::phone(b.phone.as_deref(), b.country.as_deref())?;
    let sent = otp::resend_otp(app, c.ctx, c.tenant()?, None, Some(&phone), &first).await?;
    let v = &sent.verification;
    let data = SeedResent {
        phone: v.phone.clone(),
        expires_in: ((v.expires_at - c.ctx.now_ms) / 1000).max(0),
        attempt_count: v.sends,
    };
    Ok(ok_seed("OTP resent successfully", data, c.ctx))
}

pub async fn verify_otp<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let b: SeedBody = body::json(c.req)?;
    let phone = body::phone(b.phone.as_deref(), b.country.as_deref())?;
    let code = b.otp.unwrap_or_default();
    if code.trim().is_empty() {
        return Err(Error::msg(ErrorCode::CodeRequired, "OTP is required"));
    }
    let invalid = "Invalid or expired OTP";
    match otp::verify_otp(app, c.ctx, c.tenant()?, None, Some(&phone), &code, &first).await {
        Ok(CheckResult::Approved(v)) => {
            let data = SeedVerified {
                phone: v.phone.clone(),
                verified: true,
                verified_at: iso8601(v.verified_at),
            };
            Ok(ok_seed("OTP verified successfully", data, c.ctx))
        }
        Ok(CheckResult::WrongCode { attempts_left, .. }) => {
            Err(Error::msg(ErrorCode::CodeIncorrect, invalid)
                .details(json!({"attempts_left": attempts_left})))
        }
        // The seed said one thing for every unusable code; keep its text, the code tells them apart.
        Err(e)
            if matches!(
                e.code,
                ErrorCode::VerificationNotFound
                    | ErrorCode::VerificationExpired
                    | ErrorCode::AlreadyVerified
            ) =>
        {
            Err(Error {
                message: invalid.into(),
                ..e
            })
        }
        Err(e) => Err(e),
    }
}

pub async fn direct_message<P: Platform>(
    app: &App<P>,
    c: &Call<'_>,
    first: FirstCommit<'_>,
) -> Result<ApiResponse, Error> {
    let b: SeedBody = body::json(c.req)?;
    let phone = body::phone(b.phone.as_deref(), b.country.as_deref())?;
    let text = b.message.as_deref().unwrap_or("");
    let m = messages::send_direct(app, c.ctx, c.tenant()?, &phone, text, None, &first).await?;
    let data = SeedMessageSent {
        phone: phone.as_str().to_string(),
        message_id: m.id.clone(),
        status: m.state,
    };
    Ok(ok_seed("Message sent successfully", data, c.ctx))
}
