//! Direct SMS: validated text, one quota unit per message, one gateway.

use otp_shared::phone::Phone;
use otp_shared::wire::{MessageKind, SendRequest};

use super::gateway::{self, Dispatch};
use super::keys::sha256_hex;
use super::model::{MessageRecord, Tenant};
use super::otp::ensure_sending_allowed;
use crate::api::app::{App, Ctx};
use crate::api::error::{ApiError, ErrorCode};
use crate::platform::{new_id, Platform};
use otp_shared::sms::SmsInfo;

/// Longest direct message accepted, in segments (a carrier joins them into one text).
pub const MAX_SEGMENTS: usize = 6;
/// A direct message the phone has not sent within a day is dropped rather than sent late.
const DIRECT_TTL_MS: i64 = 24 * 3600 * 1000;

#[derive(Debug, Clone)]
pub struct SentMessage {
    pub message: MessageRecord,
}

/// The record of a message about to be handed to a gateway.
pub fn dispatching(
    id: String,
    tenant: &Tenant,
    kind: MessageKind,
    phone: &Phone,
    info: &SmsInfo,
    ctx: &Ctx,
) -> MessageRecord {
    MessageRecord {
        id,
        tenant_id: tenant.id.clone(),
        kind,
        phone_masked: phone.masked(),
        encoding: info.encoding.to_string(),
        segments: info.segments as u32,
        gateway_id: String::new(),
        state: "dispatching".into(),
        attempts: 0,
        error: None,
        created_at: ctx.now_ms,
        updated_at: ctx.now_ms,
        request_id: ctx.request_id.clone(),
    }
}

pub async fn send<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    phone: &Phone,
    text: &str,
    ctx: &Ctx,
) -> Result<SentMessage, ApiError> {
    send_kind(app, tenant, phone, text, MessageKind::Direct, ctx).await
}

pub async fn send_kind<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    phone: &Phone,
    text: &str,
    kind: MessageKind,
    ctx: &Ctx,
) -> Result<SentMessage, ApiError> {
    let info = otp_shared::sms::validate_message(text, MAX_SEGMENTS).map_err(|e| {
        let code = match e.code() {
            "message_required" => ErrorCode::MessageRequired,
            "message_too_long" => ErrorCode::MessageTooLong,
            _ => ErrorCode::MessageInvalidChars,
        };
        ApiError::msg(code, e.to_string())
    })?;
    ensure_sending_allowed(app, tenant, app.global_kill_switch(ctx).await?)?;
    if kind == MessageKind::Direct {
        app.rate_check(
            &format!("phone:{}:{}", tenant.id, sha256_hex(phone.as_str())),
            tenant.settings.limits.per_phone,
            false,
        )
        .await?;
    }
    let p = &app.platform;
    let mut message = dispatching(new_id(p, "msg"), tenant, kind, phone, &info, ctx);
    // Notifications are the service's own messages: they do not spend the tenant's quota.
    let (shard, version) = if kind == MessageKind::Notification {
        (None, app.repo.create_message(app, &message).await?)
    } else {
        let (shard, times) = super::quota::debit(
            app,
            tenant,
            vec![super::repo::Repo::message_write(&message)],
            ctx,
        )
        .await?;
        (Some(shard), times.into_iter().next().unwrap_or_default())
    };
    let refund = || async {
        if let Some(s) = shard {
            app.repo.quota_refund(app, &tenant.id, s).await.ok();
        }
    };
    let req = SendRequest {
        id: message.id.clone(),
        kind,
        to: phone.as_str().to_string(),
        text: text.to_string(),
        expires_at: ((ctx.now_ms + DIRECT_TTL_MS) / 1000) as u64,
        sim_slot: None,
        tenant_id: tenant.id.clone(),
        request_id: ctx.request_id.clone(),
    };
    let outcome = gateway::dispatch(p, &app.cfg.gateways, app.cfg.gateway_timeout_ms, &req).await;
    message.updated_at = p.now_ms();
    match outcome {
        Dispatch::Queued { gateway_id, .. } => {
            message.state = "queued".into();
            message.gateway_id = gateway_id;
        }
        Dispatch::Unknown { gateway_id, reason } => {
            message.state = "unknown".into();
            message.gateway_id = gateway_id;
            message.error = Some(reason);
        }
        Dispatch::Refused { reasons } => {
            message.state = "failed".into();
            message.error = Some(reasons.join("; "));
            app.repo.update_message(app, &message).await.ok();
            refund().await;
            return Err(ApiError::new(ErrorCode::GatewayUnavailable)
                .details(serde_json::json!({"reasons": message.error})));
        }
    }
    app.repo.record_dispatched(app, &message, &version).await;
    ctx.count(&tenant.id, "message_sent");
    Ok(SentMessage { message })
}
