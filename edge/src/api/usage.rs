//! `GET /v1/usage`: the caller's quota, counts and the guessing odds of its code settings.

use serde_json::json;

use super::app::{ok_json, App, Ctx};
use super::error::ApiError;
use super::http::ApiResponse;
use crate::platform::{iso8601, Platform};
use crate::service::model::Tenant;
use crate::service::otp::code_type_of;

pub async fn usage<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    ctx: &Ctx,
) -> Result<ApiResponse, ApiError> {
    let remaining = app.repo.quota_remaining(app, &tenant.id).await?;
    let counts = app.repo.event_totals(app, &tenant.id, ctx.now_ms).await?;
    let s = &tenant.settings;
    let code_type = code_type_of(tenant, None)?;
    let odds = otp_shared::otp::guess_odds(code_type, s.max_checks);
    Ok(ok_json(
        200,
        json!({
            "tenant_id": tenant.id,
            "quota": {
                "total": tenant.quota_total,
                "used": tenant.quota_total - remaining,
                "remaining": remaining,
                "expires_at": (tenant.quota_expires_at != 0).then(|| iso8601(tenant.quota_expires_at)),
            },
            "counts": counts,
            "code": {
                "type": s.code_type,
                "words": s.word_count,
                "digits": s.digit_length,
                "space": otp_shared::otp::code_space(code_type),
                "max_checks": s.max_checks,
                "guess_odds": odds,
                "guess_odds_text": format!("1 in {:.0}", 1.0 / odds.max(f64::MIN_POSITIVE)),
            },
            "limits": {"ttl_secs": s.ttl_secs, "max_sends": s.max_sends, "send_window_secs": s.send_window_secs, "rate": s.limits},
        }),
        ctx,
    ))
}
