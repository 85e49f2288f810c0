//! The one way a message leaves: charge → record → hand off → refund or correct. A code given to
//! another phone (`fleet::reroute`, the stuck sweep's moves) takes the same path without the
//! charge ([`App::prepare_again`]): the same request to the phone (every tenant setting it carries,
//! [`send_request`]), the same record, reply route and webhook events.
//!
//! 1. The tenant's gate counts the request's limits and takes a unit of quota (notifications, the
//!    service's own messages, take none).
//! 2. One commit writes the message record (already naming the gateway tried first, state
//!    `queued`), whatever the caller sends along (a verification), and the request's
//!    `Idempotency-Key` claim.
//! 3. The message goes to the first gateway; a refusal that is certain (no connection, kill switch,
//!    full queue) moves it to the next. Only when the hand-off did not go as recorded is the
//!    record written again: another gateway, an ambiguous answer (`unknown`), or nobody took it.
//! 4. Nobody took it: the message is marked failed, the caller's `on_refused` write undoes its
//!    part, the unit goes back to the lease, and the caller gets `gateway_unavailable`. Once a
//!    phone may have the message, the answer is never an error: a write that fails then is logged,
//!    because an error would make the client retry and send twice.

use otp_shared::ids::GatewayId;
use otp_shared::ids::UnixMs;
use otp_shared::phone::Phone;
use otp_shared::sms::SmsInfo;
use otp_shared::wire::{MessageKind, SendRequest};

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, ErrorCode};
use crate::platform::fraud::FraudAsk;
use crate::platform::{iso8601, new_id, Hit, Platform};
use crate::service::app::App;
use crate::service::ctx::{Ctx, FirstCommit};
use crate::service::fleet::gateway::GatewayLink;
use crate::service::fleet::gateway::{hand_off, Dispatch};
use crate::service::fleet::roster;
use crate::service::fleet::standing;
use crate::service::messaging::fallback;
use crate::service::model::{DeliveryState, MessageRecord, Tenant};
use crate::service::ops::webhooks::events::{Event, Target};
use crate::service::ops::webhooks::targets;
use crate::service::repo;
use crate::service::repo::inbound::RouteRecord;
use crate::service::tenants::admission;
use crate::store::{StoreError, Write};

/// A message to send.
pub struct Outgoing<'a> {
    pub tenant: &'a Tenant,
    pub kind: MessageKind,
    pub phone: &'a Phone,
    pub text: String,
    pub info: SmsInfo,
    /// The phone drops the message after this (unix ms).
    pub deadline_ms: i64,
    /// Limit hits of this send besides the request's (a phone's window).
    pub hits: Vec<Hit>,
    /// The verification an OTP delivers (so a failed delivery can be given to another phone).
    pub verification_id: Option<String>,
    /// The fraud guard's question about this send, asked in the gate call that pays for it
    /// (`abuse::fraud::guard_send`): carried by the send itself, so no other gate call takes it.
    pub fraud: Option<FraudAsk>,
}

/// Builds, from the version a companion was written at, the write that undoes it.
pub type Undo = Box<dyn FnOnce(&str) -> Write>;

/// What the caller commits together with the message, and how to undo it if nobody takes it.
pub struct Companion {
    pub write: Write,
    pub on_refused: Undo,
}

pub struct Handed {
    pub message: MessageRecord,
}

/// A message charged for and not yet recorded.
#[derive(Clone)]
pub struct Prepared {
    message: MessageRecord,
    request: SendRequest,
    charged: bool,
    /// The tenant's own message (not the service's notice): a reply to it is routed to them.
    for_tenant: bool,
    /// The send's own limit hits (a phone's window), given back if nothing is sent.
    hits: Vec<Hit>,
    /// The tenant's webhook endpoints: the message's events ride in its commits.
    hooks: Vec<Target>,
    /// The recipient's keyed tag: where a reply through the phone is routed (`inbound`).
    phone_tag: String,
    /// The gateways to offer it to, in order (healthy phones first; `fleet::standing`).
    order: Vec<String>,
    /// The tenant's monthly cap on codes through the paid provider when no phone takes them
    /// (`fallback`; 0: not opted in).
    fallback_cap: u32,
}

impl Prepared {
    pub fn message_id(&self) -> &str {
        &self.message.id
    }

    /// The record as it will be written.
    pub fn message(&self) -> &MessageRecord {
        &self.message
    }

    /// What the phone is sent.
    pub fn request(&self) -> &SendRequest {
        &self.request
    }

    /// What an OTP text counts under for conversion (`ops::conversion`).
    pub fn tag_conversion(&mut self, tags: crate::service::ops::conversion::ConvTags) {
        self.message.conv = Some(tags);
    }

    /// New text for a message not yet recorded (a resend that lost a race re-reads its code).
    pub fn retext(&mut self, text: String, deadline_ms: i64) {
        let info = otp_shared::sms::analyze(&text);
        self.message.encoding = info.encoding.to_string();
        self.message.segments = info.segments as u32;
        self.request.text = text;
        self.request.expires_at = (deadline_ms / 1000) as u64;
    }
}

/// The versions `record` wrote: the companion's (empty without one) and the message's.
pub struct Recorded {
    pub companion_version: String,
    message_version: String,
}

/// The whole flow for a caller whose companion (if any) cannot lose a race.
pub async fn dispatch<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    out: Outgoing<'_>,
    companion: Option<Companion>,
    first: Option<&FirstCommit<'_>>,
) -> Result<Handed, Error> {
    let prepared = charge(app, ctx, out).await?;
    let companion_write = companion.as_ref().map(|c| &c.write);
    let recorded = match record(app, ctx, &prepared, companion_write, first).await {
        Ok(r) => r,
        Err(e) => {
            abandon(app, &prepared).await;
            return Err(e);
        }
    };
    deliver(
        app,
        ctx,
        prepared,
        recorded,
        companion.map(|c| c.on_refused),
    )
    .await
}

/// Step 1: the gate (limits and, but for notifications, one unit of quota), and the record to
/// write, naming the gateway that will be tried first.
pub async fn charge<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    out: Outgoing<'_>,
) -> Result<Prepared, Error> {
    let tenant = out.tenant;
    let charged = out.kind != MessageKind::Notification;
    // The tenant's endpoints are read (or found in the isolate) while the gate answers.
    let (admitted, targets) = futures_util::future::join(
        admission::admit_with(
            app,
            ctx,
            tenant,
            out.hits.clone(),
            charged,
            out.fraud.clone(),
        ),
        targets::webhook_targets(app, &tenant.id),
    )
    .await;
    admitted?;
    let hooks = match targets {
        // The service's own notices are no tenant's events.
        Ok(_) if !charged => Vec::new(),
        Ok(t) => t,
        Err(e) => {
            admission::refund(app, &tenant.id, u32::from(charged), out.hits.clone()).await;
            return Err(e);
        }
    };
    let order = standing::gateway_order(app, &[]).await;
    Ok(prepared(app, ctx, out, hooks, order, charged))
}

/// Step 1 for another attempt at `of`'s code (a reroute, a move): nothing charged (the tenant
/// paid for one delivered code), offered to `order`, never to the phones of `avoid`.
pub async fn prepare_again<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    out: Outgoing<'_>,
    order: Vec<String>,
    of: &MessageRecord,
    avoid: Vec<String>,
) -> Result<Prepared, Error> {
    let hooks = targets::webhook_targets(app, &out.tenant.id).await?;
    let mut p = prepared(app, ctx, out, hooks, order, false);
    p.for_tenant = true;
    p.message.reroute_of = Some(of.id.to_string());
    p.message.avoid_gateways = avoid;
    p.message.conv = of.conv.clone();
    p.message.request_id = of.request_id.clone();
    p.request.request_id = of.request_id.clone();
    Ok(p)
}

/// The record to write and the request to send, naming the gateway that will be tried first.
fn prepared<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    out: Outgoing<'_>,
    hooks: Vec<Target>,
    order: Vec<String>,
    charged: bool,
) -> Prepared {
    let tenant = out.tenant;
    let first = order.first().cloned().unwrap_or_default();
    let message = MessageRecord {
        id: new_id(&app.platform, "msg").into(),
        tenant_id: tenant.id.as_str().into(),
        kind: out.kind,
        phone_masked: out.phone.masked(),
        phone_tag: Some(app.secrets.phone_tag(out.phone.as_str())),
        encoding: out.info.encoding.to_string(),
        segments: out.info.segments as u32,
        gateway_id: first.into(),
        state: DeliveryState::Queued,
        attempts: 0,
        error: None,
        created_at: ctx.now_ms.into(),
        updated_at: ctx.now_ms.into(),
        request_id: ctx.request_id.clone(),
        verification_id: out.verification_id,
        deadline_ms: out.deadline_ms.into(),
        check_after: UnixMs(ctx.now_ms + app.cfg.fleet.stuck_after_ms),
        failure_class: None,
        reroute_of: None,
        rerouted_to: None,
        avoid_gateways: Vec::new(),
        channel: None,
        provider: None,
        conv: None,
    };
    let request = send_request(
        &message.id,
        out.kind,
        out.phone.as_str(),
        out.text,
        out.deadline_ms,
        tenant,
        &ctx.request_id,
    );
    Prepared {
        message,
        request,
        charged,
        for_tenant: charged,
        hits: out.hits,
        hooks,
        phone_tag: app.secrets.phone_tag(out.phone.as_str()),
        order,
        fallback_cap: tenant.settings.fallback_monthly_cap,
    }
}

/// A prepared message that will not be sent: its unit goes back.
pub async fn abandon<P: Platform>(app: &App<P>, p: &Prepared) {
    admission::refund(
        app,
        &p.message.tenant_id,
        u32::from(p.charged),
        p.hits.clone(),
    )
    .await;
}

/// Step 2: the message, the companion and the idempotency claim in one commit. A lost race
/// on the companion's guard is `conflict` (the caller may read again and retry); a key that
/// another request holds is `idempotency_in_progress`.
pub async fn record<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    p: &Prepared,
    companion: Option<&Write>,
    first: Option<&FirstCommit<'_>>,
) -> Result<Recorded, Error> {
    let companions: Vec<Write> = companion.cloned().into_iter().collect();
    match record_with(app, ctx, p, companions, first).await {
        Ok(r) => Ok(r),
        Err(
            StoreError::AlreadyExists | StoreError::PreconditionFailed(_) | StoreError::Aborted(_),
        ) => Err(lost_race(app, ctx).await),
        Err(e) => Err(e.into()),
    }
}

/// [`App::record`] with any number of companion writes (the first one's version is kept),
/// and the store's own error (a caller that retries on a lost guard reads it).
pub async fn record_with<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    p: &Prepared,
    companions: Vec<Write>,
    first: Option<&FirstCommit<'_>>,
) -> Result<Recorded, StoreError> {
    let n = companions.len();
    let mut writes = companions;
    writes.push(repo::messages::create_write(&p.message));
    let (hooks, hook_ids) = message_event_writes(app, p, &p.message);
    writes.extend(hooks);
    writes.extend(route_write(p, &p.message.gateway_id));
    writes.extend(first.and_then(FirstCommit::claim_write));
    let times = app.repo().commit(writes).await?;
    if let Some(first) = first {
        first.landed();
    }
    targets::defer_webhooks(ctx, hook_ids);
    let mut t = times.into_iter();
    let companion_version = if n > 0 {
        t.next().unwrap_or_default()
    } else {
        String::new()
    };
    let mut t = t.skip(n.saturating_sub(1));
    Ok(Recorded {
        companion_version,
        message_version: t.next().unwrap_or_default(),
    })
}

/// Which guard of a failed commit lost: the request's key claim, or the caller's record.
pub async fn lost_race<P: Platform>(app: &App<P>, ctx: &Ctx) -> Error {
    if let Some(doc) = ctx.pending_claim_doc() {
        if let Ok(Some(_)) = app.repo().get_idempotency(&doc).await {
            return Error::new(ErrorCode::IdempotencyInProgress);
        }
    }
    Error::msg(ErrorCode::Conflict, "The record changed meanwhile")
}

/// Step 3: the hand-off, and the record corrected when it went otherwise than recorded.
pub async fn deliver<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    p: Prepared,
    recorded: Recorded,
    on_refused: Option<Undo>,
) -> Result<Handed, Error> {
    match deliver_outcome(app, ctx, p, recorded, on_refused).await {
        Ok(message) => Ok(Handed { message }),
        Err(message) => match message.provider.as_ref().and_then(|l| l.error_code) {
            Some(code) if message.channel.is_some() => Err(fallback::refusal_error(
                code,
                fallback::twilio::error_reason(code),
                &message,
            )),
            _ => Err(Error::new(ErrorCode::GatewayUnavailable)
                .details(serde_json::json!({"reasons": message.error}))),
        },
    }
}

/// [`App::deliver`]'s work: the message as it went (`Err`: nobody took it, recorded failed
/// with the phones' reasons, the charge given back).
pub async fn deliver_outcome<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    p: Prepared,
    recorded: Recorded,
    on_refused: Option<Undo>,
) -> Result<MessageRecord, MessageRecord> {
    // As recorded: what a correction compares the outcome with.
    let hooks = p.clone();
    let Prepared {
        mut message,
        request,
        charged,
        hits,
        order,
        fallback_cap,
        ..
    } = p;
    let outcome = match fallback::unreachable_fleet(app, fallback_cap, &message, &order).await {
        // Every phone was out of reach at the fleet's last probe: offering the code to them would
        // only end `unknown` (a lost connection is ambiguous), never reaching the provider.
        Some(reasons) => Dispatch::Refused { reasons },
        None => {
            let links = links(app, &order).await;
            let order: Vec<&GatewayLink> = links.iter().collect();
            hand_off(&app.platform, &order, app.cfg.gateway_timeout_ms, &request).await
        }
    };
    message.updated_at = app.platform.now_ms().into();
    let version = recorded.message_version;
    match outcome {
        Dispatch::Queued { gateway_id, .. } if gateway_id == message.gateway_id => {}
        Dispatch::Queued { gateway_id, .. } => {
            message.gateway_id = gateway_id;
            correct_with(app, ctx, Some(&hooks), &message, &version, None).await;
        }
        Dispatch::Unknown { gateway_id, reason } => {
            message.gateway_id = gateway_id;
            message.state = DeliveryState::Unknown;
            message.error = Some(reason);
            correct_with(app, ctx, Some(&hooks), &message, &version, None).await;
        }
        Dispatch::Refused { mut reasons } => {
            // No phone took it: the paid provider, for a tenant that opted in.
            match fallback::try_send(app, ctx, fallback_cap, &mut message, &request).await {
                fallback::Outcome::Taken => {
                    correct_with(app, ctx, Some(&hooks), &message, &version, None).await;
                    return Ok(message);
                }
                fallback::Outcome::Refused { .. } => {
                    let undo = on_refused.map(|f| f(&recorded.companion_version));
                    correct_with(app, ctx, Some(&hooks), &message, &version, undo).await;
                    admission::refund(app, &message.tenant_id, u32::from(charged), hits).await;
                    return Err(message);
                }
                fallback::Outcome::NotUsed(why) => reasons.extend(why),
            }
            // Nobody took it: certainly unsent.
            message.gateway_id = Default::default();
            message.state = DeliveryState::Failed;
            message.failure_class = Some(otp_shared::wire::FailureClass::NoCapacity);
            message.error = Some(reasons.join("; "));
            let undo = on_refused.map(|f| f(&recorded.companion_version));
            correct_with(app, ctx, Some(&hooks), &message, &version, undo).await;
            admission::refund(app, &message.tenant_id, u32::from(charged), hits).await;
            return Err(message);
        }
    }
    Ok(message)
}

/// The phones with these ids (configured or enrolled), in this order.
pub(crate) async fn links<P: Platform>(app: &App<P>, ids: &[String]) -> Vec<GatewayLink> {
    let roster = roster::roster(app).await;
    ids.iter()
        .filter_map(|id| roster.iter().find(|g| &g.cfg.id == id).cloned())
        .collect()
}

/// Writes the outcome of a hand-off that differs from the record, guarded so an earlier
/// delivery report wins; never fails the request (see the module header). The companion's
/// undo goes in the same commit, or alone after the message if its own guard lost. For a send
/// of this request (`p`, as recorded), the new state's webhook event and the reply route of the
/// phone that has it ride along.
async fn correct_with<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    p: Option<&Prepared>,
    m: &MessageRecord,
    version: &str,
    undo: Option<Write>,
) {
    let message = repo::messages::update_write(m, version);
    let (hooks, hook_ids) = match p {
        Some(p) if m.state != p.message.state => message_event_writes(app, p, m),
        _ => (Vec::new(), Vec::new()),
    };
    let route = match p {
        Some(p) if !m.gateway_id.is_empty() && m.gateway_id != p.message.gateway_id => {
            route_write(p, &m.gateway_id)
        }
        _ => None,
    };
    let mut writes = vec![message.clone()];
    writes.extend(hooks.clone());
    writes.extend(route.clone());
    writes.extend(undo.clone());
    let result = match app.repo().commit(writes).await {
        Err(StoreError::PreconditionFailed(_)) if undo.is_some() => {
            let mut alone = vec![message];
            alone.extend(hooks);
            alone.extend(route);
            app.repo().commit(alone).await
        }
        other => other,
    };
    match result {
        Ok(_) => targets::defer_webhooks(ctx, hook_ids),
        Err(StoreError::PreconditionFailed(_)) => {}
        Err(e) => app.warn(ctx, "dispatch_state_not_recorded", &e.to_string()),
    }
}

/// The webhook deliveries of `m`'s state for the send's endpoints.
fn message_event_writes<P: Platform>(
    app: &App<P>,
    p: &Prepared,
    m: &MessageRecord,
) -> (Vec<Write>, Vec<String>) {
    match Event::for_message(m, message_json(m), app.platform.now_ms()) {
        Some(e) if !p.hooks.is_empty() => targets::webhook_writes(app, &p.hooks, &[e]),
        _ => (Vec::new(), Vec::new()),
    }
}

/// Where a reply from the recipient through `gateway_id` goes: this tenant (not for the
/// service's own notices).
pub(crate) fn route_write(p: &Prepared, gateway_id: &GatewayId) -> Option<Write> {
    (p.for_tenant && !gateway_id.is_empty()).then(|| {
        repo::inbound::route_write(
            gateway_id,
            &p.phone_tag,
            &RouteRecord {
                tenant_id: p.message.tenant_id.clone(),
                message_id: p.message.id.to_string(),
                at: p.message.created_at.0,
            },
        )
    })
}

/// The request a phone is sent for a message: the one place a tenant's sending settings become
/// fields of it, whichever path sends.
pub(crate) fn send_request(
    id: &str,
    kind: MessageKind,
    to: &str,
    text: String,
    deadline_ms: i64,
    tenant: &Tenant,
    request_id: &str,
) -> SendRequest {
    SendRequest {
        id: id.to_string(),
        kind,
        to: to.to_string(),
        text,
        expires_at: (deadline_ms / 1000) as u64,
        sim_slot: None,
        tenant_id: tenant.id.to_string(),
        request_id: request_id.to_string(),
        share_weight: Some(tenant.settings.share_weight).filter(|w| *w != 1),
    }
}

pub fn sending_allowed_for<P: Platform>(
    app: &App<P>,
    tenant: &Tenant,
    ctx: &Ctx,
) -> Result<(), Error> {
    if app.cfg.kill_switch || ctx.global_switch() {
        return Err(Error::msg(
            ErrorCode::SendingDisabled,
            "Sending is stopped by the service's kill switch",
        ));
    }
    if tenant.kill_switch {
        return Err(Error::msg(
            ErrorCode::SendingDisabled,
            "Sending is stopped for this account",
        ));
    }
    Ok(())
}

/// `outbound`: the direction of a message the service sent (the log's replies are `inbound`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outbound {
    Outbound,
}

/// A message as its tenant sees it (the API's answer and its webhooks' `data`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Message)]
pub struct MessageView {
    pub id: otp_shared::ids::MessageId,
    pub direction: Outbound,
    pub kind: otp_shared::wire::MessageKind,
    /// The number masked, one rule everywhere: calling code and three digits, then the last two.
    #[schema(example = "+1415*****23")]
    pub phone: String,
    pub state: DeliveryState,
    /// `GSM-7` or `UCS-2`.
    #[schema(example = "GSM-7")]
    pub encoding: String,
    #[schema(minimum = 1)]
    pub segments: u32,
    pub gateway_id: otp_shared::ids::GatewayId,
    pub attempts: u32,
    pub error: Option<String>,
    /// Why it failed, as the phone classified it; every class but uncertain means it was
    /// certainly not sent.
    pub failure_class: Option<otp_shared::wire::FailureClass>,
    /// The message that delivers this code again through another phone.
    pub rerouted_to: Option<String>,
    /// The failed message this one delivers again.
    pub reroute_of: Option<String>,
    /// Which way it went: a phone, or the paid fallback (`provider:twilio`).
    #[schema(example = "phone")]
    pub channel: String,
    /// The paid fallback's side: the provider's sid, status, price (as it writes it, e.g.
    /// -0.00790), price_unit, error_code.
    pub provider: Option<crate::service::model::ProviderLeg>,
    /// The phone never sends it after this.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl MessageView {
    pub fn of(m: &MessageRecord) -> MessageView {
        MessageView {
            id: m.id.clone(),
            direction: Outbound::Outbound,
            kind: m.kind,
            phone: m.phone_masked.clone(),
            state: m.state,
            encoding: m.encoding.clone(),
            segments: m.segments,
            gateway_id: m.gateway_id.clone(),
            attempts: m.attempts,
            error: m.error.clone(),
            failure_class: m.failure_class,
            rerouted_to: m.rerouted_to.clone(),
            reroute_of: m.reroute_of.clone(),
            channel: m.channel.as_deref().unwrap_or("phone").to_string(),
            provider: m.provider.clone(),
            expires_at: m.deadline_ms.is_set().then(|| iso8601(m.deadline_ms.0)),
            created_at: iso8601(m.created_at.0),
            updated_at: iso8601(m.updated_at.0),
        }
    }
}

/// [`MessageView`] as JSON (webhooks' `data`, the log's items).
pub fn message_json(m: &MessageRecord) -> Value {
    serde_json::to_value(MessageView::of(m)).unwrap_or_default()
}
