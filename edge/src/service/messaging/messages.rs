//! Direct SMS and the service's own notices: validated text, one quota unit per direct message,
//! one gateway (see `dispatch`).

use otp_shared::phone::Phone;
use otp_shared::wire::MessageKind;

use crate::error::{Error, ErrorCode};
use crate::platform::{Hit, LimitKind, Platform};
use crate::service::abuse::destination;
use crate::service::app::App;
use crate::service::ctx::{Ctx, FirstCommit};
use crate::service::messaging::dispatch;
use crate::service::messaging::dispatch::Outgoing;
use crate::service::messaging::optouts;
use crate::service::model::{MessageRecord, Tenant};
use crate::service::ops::analytics::Event;

pub use crate::service::messaging::dispatch::message_json;

/// Longest direct message accepted, in segments (a carrier joins them into one text).
pub const MAX_SEGMENTS: usize = 6;
/// A direct message the phone has not sent within its TTL (a day unless the caller says) is
/// dropped, marked `expired`, rather than sent late.
pub const DIRECT_TTL_SECS: u32 = 24 * 3600;
/// The TTL a caller may choose for a direct message: a minute to three days.
pub const DIRECT_TTL_RANGE: std::ops::RangeInclusive<u32> = 60..=3 * 24 * 3600;

/// A tenant's direct message (`Direct`) or the service's notice to a tenant (`Notification`,
/// free of quota and of the per-phone limit), with the default TTL.
pub async fn send_message<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    phone: &Phone,
    text: &str,
    kind: MessageKind,
) -> Result<MessageRecord, Error> {
    send(app, ctx, tenant, phone, text, kind, (None, None)).await
}

/// A tenant's direct message from its own request: the caller's TTL (`ttl_secs`, within
/// [`DIRECT_TTL_RANGE`]), and the request's idempotency claim in the message's commit.
pub async fn send_direct<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    phone: &Phone,
    text: &str,
    ttl_secs: Option<u32>,
    first: &FirstCommit<'_>,
) -> Result<MessageRecord, Error> {
    let own = (ttl_secs, Some(first));
    send(app, ctx, tenant, phone, text, MessageKind::Direct, own).await
}

async fn send<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    tenant: &Tenant,
    phone: &Phone,
    text: &str,
    kind: MessageKind,
    (ttl_secs, first): (Option<u32>, Option<&FirstCommit<'_>>),
) -> Result<MessageRecord, Error> {
    let ttl = ttl_secs.unwrap_or(DIRECT_TTL_SECS);
    if !DIRECT_TTL_RANGE.contains(&ttl) {
        return Err(Error::msg(
            ErrorCode::ValidationFailed,
            format!(
                "ttl_secs must be {} to {} seconds",
                DIRECT_TTL_RANGE.start(),
                DIRECT_TTL_RANGE.end()
            ),
        ));
    }
    let ttl_ms = ttl as i64 * 1000;
    let info = otp_shared::sms::validate_message(text, MAX_SEGMENTS).map_err(|e| {
        let code = match e.code() {
            "message_required" => ErrorCode::MessageRequired,
            "message_too_long" => ErrorCode::MessageTooLong,
            _ => ErrorCode::MessageInvalidChars,
        };
        Error::msg(code, e.to_string())
    })?;
    dispatch::sending_allowed_for(app, tenant, ctx)?;
    if kind == MessageKind::Direct {
        destination::check_destination(app, tenant, phone).await?;
        optouts::check_optout(app, tenant, phone).await?;
    }
    let hits = match kind {
        MessageKind::Direct => vec![Hit {
            kind: LimitKind::PhoneMessages,
            key: app.secrets.phone_tag(phone.as_str()),
            rule: tenant.settings.limits.per_phone,
            persist: false,
        }],
        _ => Vec::new(),
    };
    let out = Outgoing {
        tenant,
        kind,
        phone,
        text: text.to_string(),
        info,
        deadline_ms: ctx.now_ms + ttl_ms,
        hits,
        verification_id: None,
        fraud: None,
    };
    let handed = dispatch::dispatch(app, ctx, out, None, first).await?;
    if kind == MessageKind::Direct {
        ctx.count(&tenant.id, Event::MessageSent);
    }
    Ok(handed.message)
}
