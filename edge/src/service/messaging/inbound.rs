//! SMS the phones receive. A gateway forwards each one once (its own durable sequence number is
//! the record's id here, so a repeat after a lost answer changes nothing). A reply goes to the
//! tenant that last wrote to that number through that phone within 7 days; it is stored with the
//! sender and text sealed, fires `sms.received`, and an opt-out keyword alone (STOP, UNSUBSCRIBE,
//! CANCEL, END, QUIT; START undoes it) edits that tenant's opt-out list.
//!
//! `receive_inbound` takes one SMS; a canary of the fleet (phones texting each other) goes to
//! `fleet::canary::canary_received` and no further.

use otp_shared::ids::{GatewayId, TenantId};
use otp_shared::phone::Phone;
use otp_shared::wire::InboundSms;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::platform::{iso8601, Platform};
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::fleet::canary;
use crate::service::messaging::optouts;
use crate::service::ops::analytics::Event as AnalyticsEvent;
use crate::service::ops::webhooks::events::{Event, EventType};
use crate::service::ops::webhooks::targets;
use crate::service::otp::reverse;
pub use crate::service::repo::inbound::Keyword;
use crate::service::repo::inbound::{self as repo_in, InboundRecord, OptoutRecord, OptoutSource};
use crate::service::repo::upkeep;
use crate::service::sealing;
use crate::service::secrets::base32;
use crate::service::tenants::keys::sha256_hex;
use crate::store::StoreError;

/// How long a tenant's message makes it the one a reply from that number goes to.
pub const ROUTE_DAYS: i64 = 7;
/// Longest inbound text kept (a long SMS joined by the phone).
const MAX_TEXT: usize = 1600;
/// How many times an SMS that lost a race with another approving one is read again.
const RACE_RETRIES: usize = 4;

/// An opt-out keyword when it is the whole text (any case, spaces and a final `.` or `!` aside).
pub fn keyword(text: &str) -> Option<Keyword> {
    let word = text
        .trim()
        .trim_end_matches(['.', '!'])
        .trim()
        .to_ascii_uppercase();
    match word.as_str() {
        "STOP" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(Keyword::Stop),
        "START" => Some(Keyword::Start),
        _ => None,
    }
}

/// The record id of a gateway's SMS number `seq`: plain, fixed, and no gateway's name in it.
pub fn inbound_id(gateway_id: &GatewayId, seq: u64) -> String {
    let h = Sha256::digest(format!("{gateway_id}\0{seq}").as_bytes());
    format!("inb_{}", &base32(&h)[..20])
}

/// What became of one forwarded SMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: String,
    pub tenant_id: Option<TenantId>,
    /// Forwarded before: nothing changed.
    pub duplicate: bool,
    pub keyword: Option<Keyword>,
}

/// Records a gateway callback's nonce before anything it carries is read; false for a replay.
pub async fn claim_inbound_nonce<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    nonce: &str,
) -> Result<bool, Error> {
    let write = upkeep::nonce_write(&sha256_hex(nonce), ctx.now_ms);
    match app.repo().commit(vec![write]).await {
        Ok(_) => Ok(true),
        Err(StoreError::AlreadyExists | StoreError::PreconditionFailed(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Takes one SMS `gateway_id` received: stores it, routes it, applies an opt-out keyword and
/// queues its webhooks, all in one commit.
pub async fn receive_inbound<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    gateway_id: &GatewayId,
    sms: &InboundSms,
) -> Result<Received, Error> {
    let id = inbound_id(gateway_id, sms.seq);
    // The fleet's own canaries (phones texting each other) are no tenant's.
    if canary::canary_received(app, ctx, gateway_id, &sms.text).await {
        return Ok(Received {
            id,
            tenant_id: None,
            duplicate: false,
            keyword: None,
        });
    }
    let phone = Phone::parse(sms.from.trim()).ok();
    let from = phone
        .as_ref()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| sms.from.trim().chars().take(40).collect());
    let tag = phone
        .as_ref()
        .map(|p| app.secrets.phone_tag(p.as_str()))
        .unwrap_or_default();
    let route_path = (!tag.is_empty()).then(|| repo_in::route_path(gateway_id, &tag));
    // Two SMS approving one reverse verification race on its version: the loser reads again
    // (and finds it approved), so it is stored as a plain SMS.
    for _ in 0..RACE_RETRIES {
        if let Some(r) = receive_once(
            app,
            ctx,
            gateway_id,
            sms,
            &id,
            phone.as_ref(),
            &from,
            &tag,
            route_path.as_deref(),
        )
        .await?
        {
            return Ok(r);
        }
    }
    Err(Error::msg(
        crate::error::ErrorCode::Conflict,
        "Too many concurrent changes of this verification; retry",
    ))
}

/// One try of `receive_inbound`; `None` when its commit lost a race with an approval.
#[allow(clippy::too_many_arguments)]
async fn receive_once<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    gateway_id: &GatewayId,
    sms: &InboundSms,
    id: &str,
    phone: Option<&Phone>,
    from: &str,
    tag: &str,
    route_path: Option<&str>,
) -> Result<Option<Received>, Error> {
    let id = id.to_string();
    let (from, tag) = (from.to_string(), tag.to_string());
    let (exists, route) = app.repo().inbound_context(&id, route_path).await?;
    if exists {
        return Ok(Some(Received {
            id,
            tenant_id: None,
            duplicate: true,
            keyword: None,
        }));
    }
    let approval = match phone {
        Some(p) => reverse::approval_for(app, ctx, gateway_id, p, &sms.text).await?,
        None => None,
    };
    if let Some(a) = approval {
        return approve(app, ctx, gateway_id, sms, id, phone, &from, &tag, a).await;
    }
    let route = route.filter(|r| r.at >= ctx.now_ms - ROUTE_DAYS * 86_400_000);
    let text: String = sms.text.chars().take(MAX_TEXT).collect();
    let kw = route.as_ref().and(keyword(&text));
    let masked = phone.map(|p| p.masked()).unwrap_or_else(|| from.clone());
    let seal = |what: &str, plain: &str| {
        let mut nonce = [0u8; 12];
        app.platform.fill_random(&mut nonce);
        sealing::seal(&app.secrets.seal, &format!("{id}/{what}"), nonce, plain)
    };
    let record = InboundRecord {
        id: id.clone(),
        tenant_id: route.as_ref().map(|r| r.tenant_id.clone()),
        routed: route.is_some(),
        gateway_id: gateway_id.clone(),
        seq: sms.seq,
        phone_masked: masked.clone(),
        phone_sealed: seal("phone", &from),
        phone_tag: tag.clone(),
        text_sealed: seal("text", &text),
        received_at: (sms.received_at as i64 * 1000).min(ctx.now_ms),
        created_at: ctx.now_ms,
        in_reply_to: route.as_ref().map(|r| r.message_id.clone()),
        keyword: kw,
    };
    let mut writes = vec![repo_in::inbound_create(&record)];
    let mut events = Vec::new();
    if let Some(r) = &route {
        events.push(Event::new(
            EventType::SmsReceived,
            &r.tenant_id,
            &id,
            ctx.now_ms,
            inbound_json(app, &record),
        ));
        let oid = repo_in::optout_id(&r.tenant_id, &tag);
        match kw {
            Some(Keyword::Stop) if app.repo().get_optout(&oid).await?.is_none() => {
                let o = OptoutRecord {
                    id: oid,
                    tenant_id: r.tenant_id.clone(),
                    phone_masked: masked.clone(),
                    phone_sealed: String::new(),
                    phone_tag: tag.clone(),
                    source: OptoutSource::Sms,
                    created_at: ctx.now_ms,
                };
                let o = optouts::seal_optout(app, o, &from);
                events.push(Event::new(
                    EventType::OptoutAdded,
                    &r.tenant_id,
                    &format!("opt_{id}"),
                    ctx.now_ms,
                    optouts::optout_json(app, &o),
                ));
                writes.push(repo_in::optout_write(&o));
            }
            Some(Keyword::Start) => {
                writes.push(crate::store::Write::delete(repo_in::optout_path(&oid)))
            }
            _ => {}
        }
    }
    let (hooks, ids) = match &route {
        Some(r) => targets::webhook_writes_for(app, &r.tenant_id, &events).await?,
        None => (Vec::new(), Vec::new()),
    };
    writes.extend(hooks);
    match app.repo().commit(writes).await {
        Ok(_) => {}
        Err(StoreError::AlreadyExists | StoreError::PreconditionFailed(_)) => {
            return Ok(Some(Received {
                id,
                tenant_id: None,
                duplicate: true,
                keyword: None,
            }))
        }
        Err(e) => return Err(e.into()),
    }
    targets::defer_webhooks(ctx, ids);
    if let Some(r) = &route {
        ctx.count_field(&r.tenant_id, "inbound_received");
        if kw == Some(Keyword::Stop) {
            ctx.count_field(&r.tenant_id, "optout_added");
        }
    }
    Ok(Some(Received {
        id,
        tenant_id: record.tenant_id,
        duplicate: false,
        keyword: kw,
    }))
}

/// Stores an SMS that approves a reverse verification, in the approval's commit: it belongs to
/// the verification's tenant and answers the verification; its text (the words) is not kept,
/// and it is no reply (no `sms.received`): the tenant hears `verification.approved`.
#[allow(clippy::too_many_arguments)]
async fn approve<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    gateway_id: &GatewayId,
    sms: &InboundSms,
    id: String,
    phone: Option<&Phone>,
    from: &str,
    tag: &str,
    a: reverse::Approval,
) -> Result<Option<Received>, Error> {
    let v = &a.verification;
    let mut nonce = [0u8; 12];
    app.platform.fill_random(&mut nonce);
    let record = InboundRecord {
        id: id.clone(),
        tenant_id: Some(v.tenant_id.clone()),
        routed: true,
        gateway_id: gateway_id.clone(),
        seq: sms.seq,
        phone_masked: phone.map(|p| p.masked()).unwrap_or_default(),
        phone_sealed: sealing::seal(&app.secrets.seal, &format!("{id}/phone"), nonce, from),
        phone_tag: tag.to_string(),
        text_sealed: String::new(),
        received_at: (sms.received_at as i64 * 1000).min(ctx.now_ms),
        created_at: ctx.now_ms,
        in_reply_to: Some(v.id.clone()),
        keyword: None,
    };
    let mut writes = vec![repo_in::inbound_create(&record)];
    writes.extend(a.writes);
    match app.repo().commit(writes).await {
        Ok(_) => {}
        Err(
            StoreError::AlreadyExists | StoreError::PreconditionFailed(_) | StoreError::Aborted(_),
        ) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    targets::defer_webhooks(ctx, a.hook_ids);
    ctx.count(&v.tenant_id, AnalyticsEvent::OtpApproved);
    Ok(Some(Received {
        id,
        tenant_id: Some(v.tenant_id.clone()),
        duplicate: false,
        keyword: None,
    }))
}

/// `inbound`: the direction of a reply (the log's messages the service sent are `outbound`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Inbound {
    Inbound,
}

/// An inbound SMS as its tenant sees it: the sender and text unsealed.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[schema(as = InboundMessage)]
pub struct InboundView {
    #[schema(example = "inb_0123456789abcdefghjk")]
    pub id: String,
    pub direction: Inbound,
    /// The sender (E.164), or its mask when it cannot be unsealed.
    #[schema(example = "+14155550123")]
    pub phone: String,
    /// The number masked, one rule everywhere: calling code and three digits, then the last two.
    #[schema(example = "+1415*****23")]
    pub phone_masked: String,
    /// None when it cannot be unsealed.
    pub text: Option<String>,
    #[schema(value_type = String, example = "phone-1")]
    pub gateway_id: GatewayId,
    /// The message it answers, when the phone's routes knew it.
    pub in_reply_to: Option<String>,
    /// Set when the text was an opt-out keyword.
    pub keyword: Option<Keyword>,
    #[schema(format = DateTime)]
    pub received_at: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl InboundView {
    pub fn of<P: Platform>(app: &App<P>, r: &InboundRecord) -> InboundView {
        let open =
            |what: &str, s: &str| sealing::open(&app.secrets.seal, &format!("{}/{what}", r.id), s);
        InboundView {
            id: r.id.clone(),
            direction: Inbound::Inbound,
            phone: open("phone", &r.phone_sealed).unwrap_or_else(|| r.phone_masked.clone()),
            // The one mask (`Phone::masked`), as on the message it answers.
            phone_masked: r.phone_masked.clone(),
            text: open("text", &r.text_sealed),
            gateway_id: r.gateway_id.clone(),
            in_reply_to: r.in_reply_to.clone(),
            keyword: r.keyword,
            received_at: iso8601(r.received_at),
            created_at: iso8601(r.created_at),
        }
    }
}

/// [`InboundView`] as JSON (webhooks' `data`, the list of replies).
pub fn inbound_json<P: Platform>(app: &App<P>, r: &InboundRecord) -> Value {
    serde_json::to_value(InboundView::of(app, r)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_count_only_alone() {
        for (t, k) in [
            ("STOP", Some(Keyword::Stop)),
            (" stop ", Some(Keyword::Stop)),
            ("Unsubscribe", Some(Keyword::Stop)),
            ("cancel!", Some(Keyword::Stop)),
            ("End.", Some(Keyword::Stop)),
            ("quit", Some(Keyword::Stop)),
            ("start", Some(Keyword::Start)),
            ("please stop", None),
            ("STOPPED", None),
            ("stop it", None),
            ("", None),
        ] {
            assert_eq!(keyword(t), k, "{t:?}");
        }
    }

    #[test]
    fn ids_are_plain_fixed_and_distinct() {
        let a = inbound_id(&"phone-1".into(), 7);
        assert!(otp_shared::ids::is_plain_id(&a) && a.starts_with("inb_"));
        assert_eq!(a, inbound_id(&"phone-1".into(), 7));
        assert_ne!(a, inbound_id(&"phone-1".into(), 8));
        assert_ne!(a, inbound_id(&"phone-2".into(), 7));
    }
}
