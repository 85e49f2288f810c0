//! A failed OTP given to another phone while its code is valid. Only when the first phone
//! certainly did not send it (a failure class other than `uncertain`, or a phone that never had
//! it); never after an ambiguous hand-off or a send that may have left. One message record per
//! phone attempt, each with its own delivery state: the failed one names its successor
//! (`rerouted_to`), the new one its predecessor (`reroute_of`) and the phones not to try again.
//!
//! The failed message, the verification (the new message id appended) and the new message are
//! one commit, each guarded: of two isolates rerouting the same failure, one wins and the other
//! finds `rerouted_to` set. A reroute is free: the tenant paid for one delivered code.

use otp_shared::phone::Phone;
use otp_shared::wire::{MessageKind, SendRequest};
use serde_json::json;

use crate::platform::{new_id, Platform};
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::fleet::gateway::{hand_off, Dispatch, GatewayLink};
use crate::service::fleet::standing;
use crate::service::messaging::dispatch;
use crate::service::model::{DeliveryState, MessageRecord, VerificationStatus};
use crate::service::{otp, repo, sealing};
use crate::store::StoreError;

/// A code needs at least this much validity left to be worth sending again.
pub const MIN_VALIDITY_MS: i64 = 30_000;
/// Phones one code may fail on before the edge stops trying others.
pub const MAX_PHONES_FAILED: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rerouted {
    /// Handed to another phone (or possibly: `state` is `unknown` after an ambiguous answer).
    Handed {
        message_id: String,
        gateway_id: String,
        state: DeliveryState,
    },
    /// Nothing to do, and why (not an OTP, may have been sent, code no longer valid...).
    Skipped(&'static str),
    /// It should have gone again and could not (no other phone took it; the store failed).
    Failed(String),
}

/// A failed OTP that might be rerouted (the full checks read the verification).
pub fn worth_trying(m: &MessageRecord) -> bool {
    m.kind == MessageKind::Otp
        && m.state == DeliveryState::Failed
        && m.verification_id.is_some()
        && m.rerouted_to.is_none()
        && m.failure_class.is_some_and(|c| c.certainly_unsent())
}

/// Gives the failed OTP `message_id` to another phone if that is safe and still useful.
pub async fn reroute<P: Platform>(app: &App<P>, ctx: &Ctx, message_id: &str) -> Rerouted {
    let outcome = try_reroute(app, ctx, message_id).await;
    let line = json!({"level": "info", "event": "otp_reroute", "request_id": ctx.request_id,
        "message_id": message_id, "outcome": format!("{outcome:?}")});
    app.platform.log(&line.to_string());
    outcome
}

async fn try_reroute<P: Platform>(app: &App<P>, ctx: &Ctx, message_id: &str) -> Rerouted {
    for _ in 0..4 {
        match reroute_once(app, ctx, message_id).await {
            Err(
                StoreError::PreconditionFailed(_)
                | StoreError::AlreadyExists
                | StoreError::Aborted(_),
            ) => continue,
            Err(e) => return Rerouted::Failed(e.to_string()),
            Ok(r) => return r,
        }
    }
    Rerouted::Failed("the records kept changing".into())
}

async fn reroute_once<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    message_id: &str,
) -> Result<Rerouted, StoreError> {
    let Some((mut failed, failed_version)) = app.repo().get_message_doc(message_id).await? else {
        return Ok(Rerouted::Skipped("unknown message"));
    };
    if failed.kind != MessageKind::Otp {
        return Ok(Rerouted::Skipped("not an OTP"));
    }
    if failed.state != DeliveryState::Failed
        || !failed.failure_class.is_some_and(|c| c.certainly_unsent())
    {
        return Ok(Rerouted::Skipped("it may have been sent"));
    }
    if failed.rerouted_to.is_some() {
        return Ok(Rerouted::Skipped("already rerouted"));
    }
    let mut avoid = failed.avoid_gateways.clone();
    if !failed.gateway_id.is_empty() && !avoid.contains(&failed.gateway_id) {
        avoid.push(failed.gateway_id.clone());
    }
    if avoid.len() >= MAX_PHONES_FAILED {
        return Ok(Rerouted::Skipped("failed on too many phones"));
    }
    let Some(slot) = failed.verification_id.as_deref().and_then(otp::slot_of_id) else {
        return Ok(Rerouted::Skipped("no verification"));
    };
    let slot = slot.to_string();
    let Some((mut v, v_version)) = app.repo().get_verification(&slot).await? else {
        return Ok(Rerouted::Skipped("verification gone"));
    };
    if Some(&v.id) != failed.verification_id.as_ref() || v.tenant_id != failed.tenant_id {
        return Ok(Rerouted::Skipped("verification replaced"));
    }
    if v.status != VerificationStatus::Pending {
        return Ok(Rerouted::Skipped("verification no longer pending"));
    }
    if v.expires_at - ctx.now_ms < MIN_VALIDITY_MS {
        return Ok(Rerouted::Skipped("code expires too soon"));
    }
    if v.message_ids.last() != Some(&failed.id) {
        return Ok(Rerouted::Skipped("a later send superseded it"));
    }
    let Some(tenant) = app.repo().get_tenant(&v.tenant_id).await? else {
        return Ok(Rerouted::Skipped("tenant gone"));
    };
    let stopped = app.cfg.kill_switch || app.repo().global_kill_switch().await?;
    if stopped || tenant.kill_switch || tenant.status != crate::service::model::TenantStatus::Active
    {
        return Ok(Rerouted::Skipped("sending is stopped"));
    }
    let order = standing::gateway_order(app, &avoid).await;
    let Some(first) = order.first().cloned() else {
        return Ok(Rerouted::Skipped("no other phone"));
    };
    let Some(code) = sealing::open(&app.secrets.seal, &v.id, &v.code_sealed) else {
        return Ok(Rerouted::Failed("the code does not open".into()));
    };
    let Ok(number) = Phone::parse(&v.phone) else {
        return Ok(Rerouted::Failed("the stored number does not parse".into()));
    };
    // The same language the first send chose by the number's country.
    let locale = crate::service::otp::text_locale(&tenant, None, &number);
    let Ok(text) = otp::render_text(app, &tenant, &code, locale) else {
        return Ok(Rerouted::Failed("the text does not render".into()));
    };
    let info = otp_shared::sms::analyze(&text);
    let now = app.platform.now_ms();
    let mut next = MessageRecord {
        id: new_id(&app.platform, "msg"),
        tenant_id: tenant.id.clone(),
        kind: MessageKind::Otp,
        phone_masked: number.masked(),
        phone_tag: Some(app.secrets.phone_tag(number.as_str())),
        encoding: info.encoding.to_string(),
        segments: info.segments as u32,
        gateway_id: first,
        state: DeliveryState::Queued,
        attempts: 0,
        error: None,
        created_at: now,
        updated_at: now,
        request_id: failed.request_id.clone(),
        verification_id: Some(v.id.clone()),
        deadline_ms: v.expires_at,
        check_after: now + app.cfg.fleet.stuck_after_ms,
        failure_class: None,
        reroute_of: Some(failed.id.clone()),
        rerouted_to: None,
        avoid_gateways: avoid,
    };
    failed.rerouted_to = Some(next.id.clone());
    v.message_ids.push(next.id.clone());
    let times = app
        .repo()
        .commit(vec![
            repo::messages::update_write(&failed, &failed_version),
            repo::verifications::update_write(&slot, &v, &v_version),
            repo::messages::create_write(&next),
        ])
        .await?;
    let version = times.get(2).cloned().unwrap_or_default();
    let request = SendRequest {
        id: next.id.clone(),
        kind: MessageKind::Otp,
        to: number.as_str().to_string(),
        text,
        expires_at: (v.expires_at / 1000) as u64,
        sim_slot: None,
        tenant_id: tenant.id.clone(),
        request_id: next.request_id.clone(),
        share_weight: Some(tenant.settings.share_weight).filter(|w| *w != 1),
    };
    let links = dispatch::links(app, &order).await;
    let links: Vec<&GatewayLink> = links.iter().collect();
    let outcome = hand_off(&app.platform, &links, app.cfg.gateway_timeout_ms, &request).await;
    next.updated_at = app.platform.now_ms();
    let result = match outcome {
        Dispatch::Queued { gateway_id, .. } => {
            if gateway_id != next.gateway_id {
                next.gateway_id = gateway_id;
                dispatch::correct(app, ctx, &next, &version, None).await;
            }
            Rerouted::Handed {
                message_id: next.id.clone(),
                gateway_id: next.gateway_id.clone(),
                state: DeliveryState::Queued,
            }
        }
        Dispatch::Unknown { gateway_id, reason } => {
            next.gateway_id = gateway_id;
            next.state = DeliveryState::Unknown;
            next.error = Some(reason);
            dispatch::correct(app, ctx, &next, &version, None).await;
            Rerouted::Handed {
                message_id: next.id.clone(),
                gateway_id: next.gateway_id.clone(),
                state: DeliveryState::Unknown,
            }
        }
        Dispatch::Refused { reasons } => {
            // Nobody took it: it is certainly unsent, and stays the verification's last
            // message, so a later look (or the user's resend) can try again.
            next.state = DeliveryState::Failed;
            next.gateway_id = String::new();
            next.failure_class = Some(otp_shared::wire::FailureClass::NoCapacity);
            next.error = Some(reasons.join("; "));
            dispatch::correct(app, ctx, &next, &version, None).await;
            Rerouted::Failed(format!("no phone took it: {}", reasons.join("; ")))
        }
    };
    Ok(result)
}
