//! Canaries: the phones text each other on a timer, and each text must arrive, proving sending
//! and receiving end to end (a heartbeat proves neither). Every phone number in `GATEWAYS`
//! (`numbers`, by SIM slot) is a stop on a ring; each round, every stop texts the next one from
//! its own SIM. Two phones text each other; one phone with two SIMs texts itself across them.
//!
//! A canary not received within `CANARY_TIMEOUT_SECS` is missed. The edge then asks the sending
//! phone about it: if the phone says it sent it, the receiver is degraded (`receive`), else the
//! sender (`send`). A degraded phone is routed last and has a `canary_missed` alert until a later
//! canary proves the same side again.
//!
//! The seam for inbound SMS: whatever receives a phone's texts calls
//! [`canary_received`]`(ctx, receiving_gateway_id, text)` for each one; `true` means it was a
//! canary of this fleet (recorded here; do not forward it to a tenant).

use otp_shared::ids::GatewayId;
use otp_shared::wire::{MessageKind, MessageState};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::platform::{new_id, Platform};
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::fleet::gateway::GatewayLink;
use crate::service::fleet::gateway::{hand_off, Dispatch};
use crate::service::fleet::model::{CanaryRecord, CanaryRole, CanaryState, Degraded, PhoneRecord};
use crate::service::fleet::phone::{self, Asked};
use crate::service::fleet::roster;
use crate::service::messaging::dispatch::send_request;
use crate::service::model::Tenant;
use crate::service::repo;
use crate::service::secrets::base32;
use crate::service::tenants::keys::sha256_hex;

/// The words before the token in a canary's text.
pub const PREFIX: &str = "otp-sms canary";
/// The tenant id the fleet's own texts carry to the phones.
pub const FLEET_TENANT: &str = "_fleet";

/// One stop of the ring: a SIM of a phone, and its number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub gateway: GatewayId,
    pub slot: Option<u8>,
    pub number: String,
}

/// The ring, in the order of `GATEWAYS` (then the enrolled phones) and then of the slots.
pub fn ring(roster: &[GatewayLink]) -> Vec<Stop> {
    roster
        .iter()
        .flat_map(|g| {
            g.cfg.numbers.iter().map(|(sim, number)| Stop {
                gateway: g.cfg.id.clone(),
                slot: sim.parse().ok(),
                number: number.clone(),
            })
        })
        .collect()
}

/// The token of a canary text (`otp-sms canary TOKEN`), lower case, if it is one.
pub fn token_of(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find(PREFIX)? + PREFIX.len();
    let token: String = lower[at..]
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    (token.len() == 16).then_some(token)
}

/// The canaries' part of a scheduled run.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = CanaryRun)]
pub struct Run {
    /// Canaries judged missed by this run.
    pub missed: Vec<Missed>,
    /// This run's round, a canary per stop of the ring (none: no round was due, or another run
    /// took it).
    pub sent: Vec<Sent>,
    /// Why there are no canaries, when there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A canary judged missed, and the phone the evidence points at, now degraded.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = CanaryMissed)]
pub struct Missed {
    /// The canary's record id.
    pub canary: String,
    /// The phone degraded.
    #[schema(value_type = String, example = "phone-2")]
    pub degraded: GatewayId,
    pub role: CanaryRole,
    pub reason: String,
}

/// A canary of a round: handed to its phone, or not even recorded.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(as = CanarySent)]
pub enum Sent {
    HandedOff(HandedOff),
    NotRecorded(NotRecorded),
}

/// A canary handed to the sending phone (`refused` when it would not take it).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = CanaryHandedOff)]
pub struct HandedOff {
    #[schema(example = "phone-1")]
    pub from: String,
    /// The sending SIM's slot; none for the phone's default SIM.
    pub from_slot: Option<u8>,
    #[schema(example = "phone-2")]
    pub to: String,
    pub to_slot: Option<u8>,
    pub state: CanaryState,
    pub message_id: String,
}

/// A canary whose record could not be written: it was not sent.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = CanaryNotRecorded)]
pub struct NotRecorded {
    pub from: String,
    pub to: String,
    pub error: String,
}

/// The scheduled part: overdue canaries judged, then a new round if one is due.
pub async fn run<P: Platform>(app: &App<P>, ctx: &Ctx) -> Run {
    let ring = ring(&roster::roster(app).await);
    let missed = judge_overdue(app, ctx).await;
    let interval = app.cfg.fleet.canary_interval_ms;
    if interval == 0 || ring.len() < 2 {
        return Run {
            missed,
            sent: Vec::new(),
            note: Some(
                "no canaries: they need CANARY_INTERVAL_MIN > 0 and two numbers in GATEWAYS".into(),
            ),
        };
    }
    let round = ctx.now_ms / interval;
    let sent = match app.repo().claim_canary_round(round, ctx.now_ms).await {
        Ok(true) => send_round(app, ctx, &ring).await,
        _ => Vec::new(),
    };
    Run {
        missed,
        sent,
        note: None,
    }
}

async fn send_round<P: Platform>(app: &App<P>, ctx: &Ctx, ring: &[Stop]) -> Vec<Sent> {
    let mut out = Vec::new();
    for (i, from) in ring.iter().enumerate() {
        let to = &ring[(i + 1) % ring.len()];
        out.push(send_one(app, ctx, from, to).await);
    }
    out
}

async fn send_one<P: Platform>(app: &App<P>, ctx: &Ctx, from: &Stop, to: &Stop) -> Sent {
    let mut raw = [0u8; 10];
    app.platform.fill_random(&mut raw);
    let token = base32(&raw);
    let id = sha256_hex(&token);
    let timeout = app.cfg.fleet.canary_timeout_ms;
    let mut record = CanaryRecord {
        message_id: new_id(&app.platform, "cny"),
        from_gateway: from.gateway.clone(),
        from_slot: from.slot,
        to_gateway: to.gateway.clone(),
        to_slot: to.slot,
        state: CanaryState::Sent,
        sent_at: ctx.now_ms,
        expected_by: ctx.now_ms + timeout,
        received_at: 0,
        note: None,
    };
    // The request every send path builds (`dispatch::send_request`), pinned to this SIM. A canary
    // tests one phone and SIM, so it is offered to that phone only, and has no message record.
    let fleet = Tenant::new(FLEET_TENANT.into(), FLEET_TENANT.into(), ctx.now_ms);
    let mut request = send_request(
        &record.message_id,
        MessageKind::Notification,
        &to.number,
        format!("{PREFIX} {}", token.to_ascii_uppercase()),
        ctx.now_ms + timeout,
        &fleet,
        &ctx.request_id,
    );
    request.sim_slot = from.slot;
    // Recorded first: a canary that arrives before the record exists would not be recognised.
    if let Err(e) = app
        .repo()
        .commit(vec![repo::canaries::create_write(&id, &record)])
        .await
    {
        return Sent::NotRecorded(NotRecorded {
            from: from.gateway.to_string(),
            to: to.gateway.to_string(),
            error: e.to_string(),
        });
    }
    let roster = roster::roster(app).await;
    let links: Vec<_> = roster.iter().filter(|g| g.cfg.id == from.gateway).collect();
    let outcome = hand_off(&app.platform, &links, app.cfg.gateway_timeout_ms, &request).await;
    if let Dispatch::Refused { reasons } = &outcome {
        // The phone would not take it: its health says why (kill switch, no SIM able to send).
        record.state = CanaryState::Refused;
        record.note = Some(reasons.join("; "));
        if let Ok(Some((_, version))) = app.repo().get_canary(&id).await {
            let w = repo::canaries::update_write(&id, &record, &version);
            app.repo().commit(vec![w]).await.ok();
        }
    }
    merge_stats(app, &from.gateway, ctx.now_ms, Stat::Sent).await;
    Sent::HandedOff(HandedOff {
        from: from.gateway.to_string(),
        from_slot: from.slot,
        to: to.gateway.to_string(),
        to_slot: to.slot,
        state: record.state,
        message_id: record.message_id,
    })
}

/// Canaries whose time is up: each is missed, and the phone the evidence points at is degraded.
async fn judge_overdue<P: Platform>(app: &App<P>, ctx: &Ctx) -> Vec<Missed> {
    let Ok(overdue) = app.repo().overdue_canaries(ctx.now_ms, 50).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (id, mut c, version) in overdue {
        let sender = roster::roster_link(app, &c.from_gateway).await;
        let sender = sender.as_ref();
        let said = match sender {
            Some(l) => phone::ask(&app.platform, l, 3_000, &c.message_id, &ctx.request_id).await,
            None => Asked::NotFound,
        };
        let (gateway, role, reason) = match &said {
            Asked::Report(r) if r.state == MessageState::Sent => (
                c.to_gateway.clone(),
                CanaryRole::Receive,
                format!("a canary {} sent did not arrive", c.from_gateway),
            ),
            Asked::Report(r) => (
                c.from_gateway.clone(),
                CanaryRole::Send,
                format!(
                    "its canary was not sent ({})",
                    r.error.clone().unwrap_or_else(|| r.state.as_str().into())
                ),
            ),
            Asked::NotFound => (
                c.from_gateway.clone(),
                CanaryRole::Send,
                "its canary was lost".into(),
            ),
            Asked::Unreachable(e) => (
                c.from_gateway.clone(),
                CanaryRole::Send,
                format!("did not answer about its canary ({e})"),
            ),
        };
        c.state = CanaryState::Missed;
        c.note = Some(reason.clone());
        let w = repo::canaries::update_write(&id, &c, &version);
        if app.repo().commit(vec![w]).await.is_err() {
            continue; // received or judged meanwhile
        }
        let degraded = Degraded {
            reason: reason.clone(),
            role,
            since: ctx.now_ms,
            canary: id.clone(),
        };
        let fields = json!({"gateway_id": gateway, "degraded": degraded});
        app.repo()
            .commit(vec![repo::fleet::merge_write(&gateway, &fields)])
            .await
            .ok();
        merge_stats(app, &c.from_gateway, ctx.now_ms, Stat::Missed).await;
        out.push(Missed {
            canary: id,
            degraded: gateway,
            role,
            reason,
        });
    }
    out
}

/// Which of a phone's canary times to set.
#[derive(Debug, Clone, Copy)]
enum Stat {
    Sent,
    Received,
    Missed,
}

/// Sets one of a phone's canary times, keeping the others.
async fn merge_stats<P: Platform>(app: &App<P>, gateway: &GatewayId, at: i64, stat: Stat) {
    let mut stats = app
        .repo()
        .phone_records(std::slice::from_ref(gateway))
        .await
        .ok()
        .and_then(|r| r.into_iter().next().flatten())
        .map(|r| r.canary)
        .unwrap_or_default();
    match stat {
        Stat::Sent => stats.last_sent_at = at,
        Stat::Received => stats.last_received_at = at,
        Stat::Missed => stats.last_missed_at = at,
    }
    let fields = json!({"gateway_id": gateway, "canary": stats});
    app.repo()
        .commit(vec![repo::fleet::merge_write(gateway, &fields)])
        .await
        .ok();
}

/// THE seam for inbound SMS: `text` arrived at phone `gateway_id`. Returns true when it is a
/// canary of this fleet (recorded as received, late if it was already counted missed; the
/// phones it proves lose a degradation of that side). Such a text is the fleet's own: do not
/// forward it to a tenant. Any other text returns false.
pub async fn canary_received<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    gateway_id: &GatewayId,
    text: &str,
) -> bool {
    let Some(token) = token_of(text) else {
        return false;
    };
    let id = sha256_hex(&token);
    for _ in 0..3 {
        let Ok(Some((mut c, version))) = app.repo().get_canary(&id).await else {
            return false;
        };
        if c.to_gateway != *gateway_id {
            app.warn(ctx, "canary_at_the_wrong_phone", gateway_id);
            return true;
        }
        c.state = match c.state {
            CanaryState::Sent | CanaryState::Refused => CanaryState::Received,
            CanaryState::Missed => CanaryState::Late,
            CanaryState::Received | CanaryState::Late => return true,
        };
        c.received_at = ctx.now_ms;
        let w = repo::canaries::update_write(&id, &c, &version);
        if app.repo().commit(vec![w]).await.is_err() {
            continue;
        }
        proven(app, &c.from_gateway, CanaryRole::Send).await;
        proven(app, &c.to_gateway, CanaryRole::Receive).await;
        merge_stats(app, &c.to_gateway, ctx.now_ms, Stat::Received).await;
        return true;
    }
    true
}

/// A canary proved `role` of `gateway`: a degradation of that side ends.
async fn proven<P: Platform>(app: &App<P>, gateway: &GatewayId, role: CanaryRole) {
    let record: Option<PhoneRecord> = app
        .repo()
        .phone_records(std::slice::from_ref(gateway))
        .await
        .ok()
        .and_then(|r| r.into_iter().next().flatten());
    // A SIM routed last for its conversion gets traffic again once its own text arrived.
    if role == CanaryRole::Send && record.as_ref().is_some_and(|r| r.low_conversion.is_some()) {
        let fields = json!({"gateway_id": gateway, "send_proven_at": app.platform.now_ms()});
        app.repo()
            .commit(vec![repo::fleet::merge_write(gateway, &fields)])
            .await
            .ok();
    }
    if record
        .and_then(|r| r.degraded)
        .is_some_and(|d| d.role == role)
    {
        let fields = json!({"gateway_id": gateway, "degraded": null});
        app.repo()
            .commit(vec![repo::fleet::merge_write(gateway, &fields)])
            .await
            .ok();
        // Routing in this isolate stops avoiding it at once.
        app.fleet_cache.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run's answer is the JSON it was built as before it had a type.
    #[test]
    fn a_runs_answer_keeps_its_shape() {
        let handed = Sent::HandedOff(HandedOff {
            from: "phone-1".into(),
            from_slot: None,
            to: "phone-2".into(),
            to_slot: Some(1),
            state: CanaryState::Refused,
            message_id: "cny_1".into(),
        });
        let lost = Sent::NotRecorded(NotRecorded {
            from: "phone-2".into(),
            to: "phone-1".into(),
            error: "unavailable".into(),
        });
        let missed = Missed {
            canary: "ab12".into(),
            degraded: "phone-2".into(),
            role: CanaryRole::Receive,
            reason: "a canary phone-1 sent did not arrive".into(),
        };
        let run = Run {
            missed: vec![missed],
            sent: vec![handed, lost],
            note: None,
        };
        assert_eq!(
            json!(run),
            json!({"missed": [{"canary": "ab12", "degraded": "phone-2", "role": "receive",
                               "reason": "a canary phone-1 sent did not arrive"}],
                   "sent": [{"from": "phone-1", "from_slot": null, "to": "phone-2", "to_slot": 1,
                             "state": "refused", "message_id": "cny_1"},
                            {"from": "phone-2", "to": "phone-1", "error": "unavailable"}]})
        );
        let off = Run {
            missed: Vec::new(),
            sent: Vec::new(),
            note: Some("off".into()),
        };
        assert_eq!(json!(off), json!({"missed": [], "sent": [], "note": "off"}));
    }

    #[test]
    fn tokens_are_found_in_canary_texts_only() {
        let t = "otp-sms canary ABCDEFGHJKMNPQRS";
        assert_eq!(token_of(t).as_deref(), Some("abcdefghjkmnpqrs"));
        assert_eq!(
            token_of("  OTP-SMS CANARY abcdefghjkmnpqrs\n").as_deref(),
            Some("abcdefghjkmnpqrs")
        );
        assert_eq!(token_of("otp-sms canary short"), None);
        assert_eq!(token_of("Your code is forest river"), None);
    }
}
