//! Notices to a tenant's contact phone, through the same gateways: welcome, quota at 80% and
//! exhausted, expiry in 3 days and expired. Each is sent at most once per tenant and period: a
//! marker document is created with `exists=false` before sending, so retries, concurrent requests
//! and repeated cron runs cannot send it twice. A refused send removes the marker to try later.

use otp_shared::phone::Phone;
use otp_shared::wire::MessageKind;
use serde_json::json;

use super::app::{App, Ctx};
use super::model::Tenant;
use crate::platform::{iso8601, Platform};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Welcome,
    QuotaLow,
    QuotaExhausted,
    ExpirySoon,
    Expired,
}

impl Notice {
    pub fn key(self) -> &'static str {
        match self {
            Notice::Welcome => "welcome",
            Notice::QuotaLow => "quota_80",
            Notice::QuotaExhausted => "quota_exhausted",
            Notice::ExpirySoon => "expiry_soon",
            Notice::Expired => "expired",
        }
    }

    fn text(self, t: &Tenant) -> String {
        let until = if t.quota_expires_at > 0 {
            iso8601(t.quota_expires_at)[..10].to_string()
        } else {
            "no end date".into()
        };
        match self {
            Notice::Welcome => format!(
                "Welcome to otp-sms, {}! Your plan has {} messages, valid until {}.",
                t.name, t.quota_total, until
            ),
            Notice::QuotaLow => format!(
                "otp-sms: {} has used 80% of its {} messages.",
                t.name, t.quota_total
            ),
            Notice::QuotaExhausted => format!(
                "otp-sms: {} has used all {} messages; sends are refused until renewal.",
                t.name, t.quota_total
            ),
            Notice::ExpirySoon => format!(
                "otp-sms: the plan of {} ends on {}. Renew to keep sending.",
                t.name, until
            ),
            Notice::Expired => format!(
                "otp-sms: the plan of {} ended on {}; sends are refused until renewal.",
                t.name, until
            ),
        }
    }
}

/// The period a notice belongs to: a renewal (new quota or end date) starts a new one.
fn period(t: &Tenant) -> String {
    format!("{}-{}", t.quota_total, t.quota_expires_at)
}

/// Sends `notice` unless it was already sent this period. Returns whether it was sent now.
pub async fn once<P: Platform>(app: &App<P>, t: &Tenant, notice: Notice, ctx: &Ctx) -> bool {
    let Some(phone) = t
        .contact_phone
        .as_deref()
        .and_then(|p| Phone::parse(p).ok())
    else {
        return false;
    };
    let marker = format!(
        "{}_{}_{}",
        t.id,
        notice.key(),
        if notice == Notice::Welcome {
            "0".into()
        } else {
            period(t)
        }
    );
    match app.repo().claim_notice(&marker, ctx.now_ms).await {
        Ok(true) => {}
        _ => return false,
    }
    // Notices spend no quota, so sending one can never lead to another.
    match app
        .send_message(ctx, t, &phone, &notice.text(t), MessageKind::Notification)
        .await
    {
        Ok(_) => true,
        Err(e) => {
            app.platform.log(&json!({"level": "warn", "msg": "notice not sent", "notice": notice.key(), "tenant": t.id, "error": e.code.as_str(), "request_id": ctx.request_id}).to_string());
            app.repo().release_notice(&marker).await.ok();
            false
        }
    }
}
