//! `GET /v1/usage`: the caller's quota, today's counts, how guessable its codes are and what its
//! paid fallback has used this month.

use super::Call;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::api::views::{CodeView, FallbackSpend, LimitsView, QuotaView, Usage};
use crate::error::Error;
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::messaging::fallback;
use crate::service::otp::code_type_of;
use crate::service::tenants::quota;

pub async fn usage<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let tenant = c.tenant()?;
    let remaining = quota::quota_remaining(app, &tenant.id).await?;
    let counts = app.repo().event_totals(&tenant.id, c.ctx.now_ms).await?;
    let spent = fallback::month_usage(app, &tenant.id, c.ctx.now_ms).await?;
    let s = &tenant.settings;
    let code_type = code_type_of(tenant, None)?;
    let odds = otp_shared::otp::guess_odds(code_type, s.max_checks);
    let daily = otp_shared::otp::daily_guess_odds(code_type, s.max_failed_checks_per_day);
    let one_in = |p: f64| format!("1 in {:.0}", 1.0 / p.max(f64::MIN_POSITIVE));
    let usage = Usage {
        tenant_id: tenant.id.to_string(),
        tenant_name: tenant.name.clone(),
        quota: QuotaView {
            total: tenant.quota_total,
            used: tenant.quota_total - remaining,
            remaining,
            expires_at: (tenant.quota_expires_at != 0).then(|| iso8601(tenant.quota_expires_at)),
        },
        counts,
        code: CodeView {
            code_type: s.code_type,
            words: s.word_count,
            digits: s.digit_length,
            space: otp_shared::otp::code_space(code_type),
            max_checks: s.max_checks,
            guess_odds: odds,
            guess_odds_text: one_in(odds),
            max_failed_checks_per_hour: s.max_failed_checks_per_hour,
            max_failed_checks_per_day: s.max_failed_checks_per_day,
            guess_odds_per_phone_per_day: daily,
            guess_odds_per_phone_per_day_text: one_in(daily),
        },
        limits: LimitsView {
            ttl_secs: s.ttl_secs,
            max_sends: s.max_sends,
            send_window_secs: s.send_window_secs,
            rate: s.limits.clone(),
        },
        fallback: FallbackSpend::of(s.fallback_monthly_cap, &spent),
    };
    Ok(ok(200, usage, c.ctx))
}
