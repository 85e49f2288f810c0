//! A failed OTP given to another phone while its code is valid. Only when the first phone
//! certainly did not send it (a failure class other than `uncertain`, or a phone that never had
//! it); never after an ambiguous hand-off or a send that may have left. One message record per
//! phone attempt, each with its own delivery state: the failed one names its successor
//! (`rerouted_to`), the new one its predecessor (`reroute_of`) and the phones not to try again.
//!
//! It takes the one send path (`dispatch`: `prepare_again` → `record_with` → `deliver_outcome`),
//! free of charge (the tenant paid for one delivered code): the same request to the phone with
//! every tenant setting, the new message's reply route (`routes/{gateway}_{tag}`, so a STOP to the
//! phone that delivers it reaches the tenant) and webhook events. The failed message and the
//! verification (the new message id appended) ride in the new message's commit, each guarded: of
//! two isolates rerouting the same failure, one wins and the other finds `rerouted_to` set.

use otp_shared::ids::GatewayId;
use otp_shared::phone::Phone;
use otp_shared::wire::{FailureClass, MessageKind};
use serde_json::json;

use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::fleet::standing;
use crate::service::messaging::converted;
use crate::service::messaging::dispatch;
use crate::service::messaging::dispatch::Outgoing;
use crate::service::model::{
    DeliveryState, MessageRecord, Tenant, VerificationRecord, VerificationStatus,
};
use crate::service::ops::conversion::Figure;
use crate::service::{otp, repo, sealing};
use crate::store::StoreError;

/// A code needs at least this much validity left to be worth sending again: what is left of the
/// phones' own margin (`otp_shared::otp`) once their failure report has arrived.
pub const MIN_VALIDITY_MS: i64 = otp_shared::otp::MIN_REROUTE_VALIDITY_MS;
/// Phones one code may fail on before the edge stops trying others.
pub const MAX_PHONES_FAILED: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rerouted {
    /// Handed to another phone (or possibly: `state` is `unknown` after an ambiguous answer).
    Handed {
        message_id: String,
        gateway_id: GatewayId,
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
    // A phone that failed the code is not asked again; one that gave it back unsent (taken
    // back, a hold that lapsed, an id fenced off) did not fail it.
    let mut avoid = failed.avoid_gateways.clone();
    if !failed.gateway_id.is_empty()
        && failed.failure_class != Some(FailureClass::Canceled)
        && !avoid.iter().any(|g| *g == failed.gateway_id)
    {
        avoid.push(failed.gateway_id.to_string());
    }
    if avoid.len() >= MAX_PHONES_FAILED {
        return Ok(Rerouted::Skipped("failed on too many phones"));
    }
    let again = match again(app, ctx, &failed).await? {
        Ok(a) => a,
        Err(r) => return Ok(r),
    };
    let order = standing::gateway_order(app, &avoid).await;
    if order.is_empty() {
        return Ok(Rerouted::Skipped("no other phone"));
    }
    // The one send path (`dispatch`), free of charge; the failed message and the verification
    // ride in its record commit.
    let prepared =
        match dispatch::prepare_again(app, ctx, again.outgoing(), order, &failed, avoid).await {
            Ok(p) => p,
            Err(e) => return Ok(Rerouted::Failed(e.to_string())),
        };
    let Again {
        mut v,
        slot,
        v_version,
        ..
    } = again;
    failed.rerouted_to = Some(prepared.message_id().to_string());
    v.message_ids.push(prepared.message_id().to_string());
    let recorded = dispatch::record_with(
        app,
        ctx,
        &prepared,
        vec![
            repo::messages::update_write(&failed, &failed_version),
            repo::verifications::update_write(&slot, &v, &v_version),
        ],
        None,
    )
    .await?;
    Ok(
        match dispatch::deliver_outcome(app, ctx, prepared, recorded, None).await {
            Ok(next) => {
                converted::count(app, ctx, &next, Figure::Sent, None).await;
                Rerouted::Handed {
                    message_id: next.id.into(),
                    gateway_id: next.gateway_id,
                    state: next.state,
                }
            }
            // Nobody took it: it is certainly unsent, and stays the verification's last message,
            // so a later look (or the user's resend) can try again.
            Err(next) => Rerouted::Failed(format!(
                "no phone took it: {}",
                next.error.unwrap_or_default()
            )),
        },
    )
}

/// Everything a code needs to go again through another phone, read and checked: `Err` says
/// why it should not (or cannot).
pub(crate) async fn again<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    m: &MessageRecord,
) -> Result<Result<Again, Rerouted>, StoreError> {
    let Some(slot) = m.verification_id.as_deref().and_then(otp::slot_of_id) else {
        return Ok(Err(Rerouted::Skipped("no verification")));
    };
    let slot = slot.to_string();
    let Some((v, v_version)) = app.repo().get_verification(&slot).await? else {
        return Ok(Err(Rerouted::Skipped("verification gone")));
    };
    if Some(&v.id) != m.verification_id.as_ref() || v.tenant_id != m.tenant_id {
        return Ok(Err(Rerouted::Skipped("verification replaced")));
    }
    if v.status != VerificationStatus::Pending {
        return Ok(Err(Rerouted::Skipped("verification no longer pending")));
    }
    if v.expires_at - ctx.now_ms < MIN_VALIDITY_MS {
        return Ok(Err(Rerouted::Skipped("code expires too soon")));
    }
    if v.message_ids.last().is_none_or(|id| *id != m.id) {
        return Ok(Err(Rerouted::Skipped("a later send superseded it")));
    }
    let Some(tenant) = app.repo().get_tenant(&v.tenant_id).await? else {
        return Ok(Err(Rerouted::Skipped("tenant gone")));
    };
    let stopped = app.cfg.kill_switch || app.repo().global_kill_switch().await?;
    if stopped || tenant.kill_switch || tenant.status != crate::service::model::TenantStatus::Active
    {
        return Ok(Err(Rerouted::Skipped("sending is stopped")));
    }
    let Some(code) = sealing::open(&app.secrets.seal, &v.id, &v.code_sealed) else {
        return Ok(Err(Rerouted::Failed("the code does not open".into())));
    };
    let Ok(number) = Phone::parse(&v.phone) else {
        return Ok(Err(Rerouted::Failed(
            "the stored number does not parse".into(),
        )));
    };
    // The same language the first send chose by the number's country.
    let locale = crate::service::otp::text_locale(&tenant, None, &number);
    let Ok(text) = otp::render_text(app, &tenant, &code, locale) else {
        return Ok(Err(Rerouted::Failed("the text does not render".into())));
    };
    Ok(Ok(Again {
        v,
        slot,
        v_version,
        tenant,
        number,
        text,
    }))
}

/// A code read back for another attempt (see [`App::again`]).
pub(crate) struct Again {
    pub v: VerificationRecord,
    pub slot: String,
    pub v_version: String,
    pub tenant: Tenant,
    pub number: Phone,
    pub text: String,
}

impl Again {
    /// The code as a message to send (its verification's deadline; no limit hits: the first
    /// send counted them).
    pub fn outgoing(&self) -> Outgoing<'_> {
        Outgoing {
            tenant: &self.tenant,
            kind: MessageKind::Otp,
            phone: &self.number,
            text: self.text.clone(),
            info: otp_shared::sms::analyze(&self.text),
            deadline_ms: self.v.expires_at,
            hits: Vec::new(),
            verification_id: Some(self.v.id.clone()),
            fraud: None,
        }
    }
}
