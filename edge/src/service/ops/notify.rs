//! Notices to a tenant's contact phone, through the same gateways. Each is sent at most once per
//! tenant and period: a marker document is created with `exists=false` before sending, so
//! retries, concurrent requests and repeated cron runs cannot send it twice. A refused send
//! removes the marker to try later.

use otp_shared::phone::Phone;
use otp_shared::wire::MessageKind;
use serde_json::json;

use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::messaging::messages;
use crate::service::model::Tenant;
pub use crate::service::ops::notices::Notice;

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
    match messages::send_message(
        app,
        ctx,
        t,
        &phone,
        &notice.text(t),
        MessageKind::Notification,
    )
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
