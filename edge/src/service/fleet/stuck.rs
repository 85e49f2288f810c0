//! Messages without a final state whose next look is due (`check_after`, first set to
//! `STUCK_AFTER_MS` after the send): the scheduled job asks their phone and acts on the answer.
//!
//! | the phone says | what the edge does |
//! |---|---|
//! | sent, failed, expired | records it (the report was lost); a failed OTP it certainly did not send is rerouted |
//! | queued (an OTP still valid), another phone has two or more fewer waiting | moves it (below); otherwise it waits |
//! | queued (anything else, or held for a move) | waits: the phone sends it, or fails it while it can still go elsewhere, or expires it by its deadline |
//! | sending | waits: a send that started is never doubled |
//! | no such message, after an ambiguous hand-off | asked with a fence, so it is certain: it never got it and never will; an OTP is rerouted, anything else failed (`not_on_phone`) |
//! | no such message, after it took it | it lost it, maybe after sending: failed as uncertain |
//! | nothing (unreachable) | waits until the deadline has passed, then fails it (`phone_unreachable`, uncertain: it may have gone) |
//!
//! A move never leaves a code nowhere: the other phone first takes a copy it holds unsent
//! (`/v1/send/held`); only then is the message taken back from its phone (`cancel`); only once
//! that is certain, and recorded, is the copy released. If the first phone has started it, or does
//! not answer, the copy is canceled (or its hold lapses) and the message stays where it was. A
//! release that is lost lets the hold lapse: the copy fails as `canceled`, certainly unsent, and is
//! rerouted like any such failure.
//!
//! Each message waiting is looked at again later, each time twice as late. Every phone that had
//! stuck messages gets a `stuck_messages` alert (see `tick`).

use std::collections::{BTreeMap, HashMap};

use otp_shared::ids::UnixMs;
use otp_shared::wire::{FailureClass, MessageKind, MessageState, ERR_HELD};
use serde::Serialize;
use utoipa::ToSchema;

use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::fleet::gateway::GatewayLink;
use crate::service::fleet::gateway::{fence, hand_off_held, probe, Dispatch, Fenced};
use crate::service::fleet::phone::{self, Asked, Cancel, Release};
use crate::service::fleet::roster;
use crate::service::fleet::standing;
use crate::service::messaging::dispatch;
use crate::service::messaging::reroute;
use crate::service::messaging::reroute::{Rerouted, MIN_VALIDITY_MS};
use crate::service::model::{is_zero, DeliveryState, MessageRecord, VerificationStatus};
use crate::service::{otp, repo};

/// Messages looked at per run.
const BATCH: usize = 100;
/// After its deadline, a phone that does not answer is given this long before its message is
/// failed (its report may be on the way).
const DEADLINE_GRACE_MS: i64 = 60_000;

/// What became of one stuck message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Ord, PartialOrd)]
pub enum Found {
    /// Its phone had finished it; the report had been lost.
    Repaired,
    /// Given to another phone.
    Rerouted,
    /// Failed with a reason (and not rerouted).
    Failed,
    /// Still in the phone's hands, rightly: looked at again later.
    Waiting,
}

/// Each phone's queue depth, probed at most once per sweep and kept up to date with the moves.
#[derive(Default)]
struct Depths(HashMap<String, Option<u64>>);

impl Depths {
    async fn of<P: Platform>(&mut self, app: &App<P>, id: &str) -> Option<u64> {
        if let Some(d) = self.0.get(id) {
            return *d;
        }
        let depth = match roster::roster_link(app, id).await {
            // A stopped phone sends nothing: as good as an endless queue.
            Some(link) => probe(&app.platform, &link, 3_000).await.health.map(|h| {
                if h.kill_switch {
                    u64::MAX
                } else {
                    h.queue_depth
                }
            }),
            None => None,
        };
        self.0.insert(id.to_string(), depth);
        depth
    }

    fn moved(&mut self, from: &str, to: &str) {
        if let Some(Some(d)) = self.0.get_mut(from) {
            *d = d.saturating_sub(1);
        }
        if let Some(Some(d)) = self.0.get_mut(to) {
            *d += 1;
        }
    }
}

impl Found {
    fn name(self) -> &'static str {
        match self {
            Found::Repaired => "repaired",
            Found::Rerouted => "rerouted",
            Found::Failed => "failed",
            Found::Waiting => "waiting",
        }
    }
}

/// What a sweep did: the messages it looked at by what became of them (an outcome none had is
/// left out), or why none could be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = StuckSweep)]
pub struct Swept {
    #[serde(skip_serializing_if = "is_zero")]
    pub repaired: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub rerouted: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub failed: u32,
    #[serde(skip_serializing_if = "is_zero")]
    pub waiting: u32,
    /// The store did not answer: nothing was looked at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Swept {
    fn add(&mut self, found: Found) {
        *match found {
            Found::Repaired => &mut self.repaired,
            Found::Rerouted => &mut self.rerouted,
            Found::Failed => &mut self.failed,
            Found::Waiting => &mut self.waiting,
        } += 1;
    }
}

/// The sweep: `(summary, gateway id -> counts of what was not simply waiting)`.
pub async fn sweep<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
) -> (Swept, BTreeMap<String, BTreeMap<&'static str, u32>>) {
    let mut per_gateway: BTreeMap<String, BTreeMap<&'static str, u32>> = BTreeMap::new();
    let mut totals = Swept::default();
    let due = match app.repo().messages_to_check(ctx.now_ms, BATCH).await {
        Ok(d) => d,
        Err(e) => {
            let error = Some(e.to_string());
            return (Swept { error, ..totals }, per_gateway);
        }
    };
    let mut depths = Depths::default();
    for (m, version) in due {
        let gateway = m.gateway_id.to_string();
        let found = look_at(app, ctx, m, &version, &mut depths).await;
        totals.add(found);
        if found != Found::Waiting {
            *per_gateway
                .entry(gateway)
                .or_default()
                .entry(found.name())
                .or_default() += 1;
        }
    }
    (totals, per_gateway)
}

async fn look_at<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    mut m: MessageRecord,
    version: &str,
    depths: &mut Depths,
) -> Found {
    let timeout = app.cfg.gateway_timeout_ms.min(5_000);
    let link = roster::roster_link(app, &m.gateway_id).await;
    let link = link.as_ref();
    let asked = match link {
        // After an ambiguous hand-off only a fence makes "no such message" certain: a copy of the
        // request may still be on its way.
        Some(l) if m.state == DeliveryState::Unknown => {
            match fence(&app.platform, l, timeout, &m.id, &ctx.request_id).await {
                Fenced::Known(r) => Asked::Report(r),
                Fenced::Never => Asked::NotFound,
                Fenced::Unanswered(e) => Asked::Unreachable(e),
            }
        }
        Some(l) => phone::ask(&app.platform, l, timeout, &m.id, &ctx.request_id).await,
        None => Asked::NotFound,
    };
    let now = ctx.now_ms;
    match asked {
        Asked::Report(r) if r.state.is_final() => {
            m.state = DeliveryState::from_wire(r.state);
            m.attempts = r.attempts;
            m.error = r.error;
            m.failure_class = r.class;
            m.updated_at = now.into();
            if !save(app, ctx, &m, version).await {
                return Found::Waiting;
            }
            if m.state == DeliveryState::Failed && rerouted(app, ctx, &m).await {
                return Found::Rerouted;
            }
            Found::Repaired
        }
        Asked::Report(r)
            if r.state == MessageState::Queued
                && r.error.as_deref() != Some(ERR_HELD)
                && is_live_otp(&m, now) =>
        {
            if m.state == DeliveryState::Unknown {
                m.state = DeliveryState::Queued;
            }
            match link {
                Some(l) => move_elsewhere(app, ctx, m, version, l, depths).await,
                None => wait(app, ctx, &mut m, version).await,
            }
        }
        Asked::Report(r) => {
            // Queued or sending at the phone: an unknown hand-off turns out to have been taken.
            if m.state == DeliveryState::Unknown {
                m.state = DeliveryState::from_wire(r.state);
            }
            wait(app, ctx, &mut m, version).await
        }
        Asked::NotFound if m.state == DeliveryState::Unknown || m.gateway_id.is_empty() => {
            // The ambiguous hand-off never reached it: certainly not sent.
            fail(
                &mut m,
                "stuck: its phone never had it (not_on_phone)",
                FailureClass::Unknown,
                now,
            );
            save_and_reroute(app, ctx, &m, version).await
        }
        Asked::NotFound => {
            // It took it and no longer knows it (its data was lost): it may have gone out.
            fail(
                &mut m,
                "stuck: its phone lost it (not_on_phone); it may have been sent",
                FailureClass::Uncertain,
                now,
            );
            save(app, ctx, &m, version).await;
            Found::Failed
        }
        Asked::Unreachable(_) if m.deadline_ms > 0 && now > m.deadline_ms + DEADLINE_GRACE_MS => {
            fail(&mut m, "stuck: its phone did not answer past the deadline (phone_unreachable); it may have been sent", FailureClass::Uncertain, now);
            save(app, ctx, &m, version).await;
            Found::Failed
        }
        Asked::Unreachable(_) => wait(app, ctx, &mut m, version).await,
    }
}

fn is_live_otp(m: &MessageRecord, now: i64) -> bool {
    m.kind == MessageKind::Otp
        && m.verification_id.is_some()
        && m.deadline_ms - now > MIN_VALIDITY_MS
}

fn fail(m: &mut MessageRecord, why: &str, class: FailureClass, now: i64) {
    m.state = DeliveryState::Failed;
    m.error = Some(why.into());
    m.failure_class = Some(class);
    m.updated_at = now.into();
}

/// Looks again later, each time twice as late (at least `STUCK_AFTER_MS`).
async fn wait<P: Platform>(app: &App<P>, ctx: &Ctx, m: &mut MessageRecord, version: &str) -> Found {
    let age = (ctx.now_ms - m.created_at.0).max(0);
    m.check_after = UnixMs(ctx.now_ms) + age.max(app.cfg.fleet.stuck_after_ms);
    save(app, ctx, m, version).await;
    Found::Waiting
}

/// Moves a queued OTP to a phone with two or more fewer messages waiting, without ever leaving
/// it nowhere (see the module header); otherwise it waits where it is.
async fn move_elsewhere<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    mut m: MessageRecord,
    version: &str,
    from: &GatewayLink,
    depths: &mut Depths,
) -> Found {
    let mut avoid = m.avoid_gateways.clone();
    if !avoid.iter().any(|g| *g == m.gateway_id) {
        avoid.push(m.gateway_id.to_string());
    }
    let Some(from_depth) = depths.of(app, &m.gateway_id).await else {
        return wait(app, ctx, &mut m, version).await;
    };
    let mut sooner = Vec::new();
    for id in standing::gateway_order(app, &avoid).await {
        if depths
            .of(app, &id)
            .await
            .is_some_and(|d| d.saturating_add(1) < from_depth)
        {
            sooner.push(id);
        }
    }
    if sooner.is_empty() {
        return wait(app, ctx, &mut m, version).await;
    }
    let again = match reroute::again(app, ctx, &m).await {
        Ok(Ok(a)) => a,
        _ => return wait(app, ctx, &mut m, version).await,
    };
    // The copy takes the one send path's first steps (`dispatch`, free of charge); the message is
    // recorded as handed on in the same commit, before anything is asked: the report of the cancel
    // below finds it handed on (`rerouted_to`) and does not reroute it a second time.
    let prepared = match dispatch::prepare_again(
        app,
        ctx,
        again.outgoing(),
        sooner.clone(),
        &m,
        m.avoid_gateways.clone(),
    )
    .await
    {
        Ok(p) => p,
        Err(_) => return wait(app, ctx, &mut m, version).await,
    };
    let mut next = prepared.message().clone();
    m.rerouted_to = Some(next.id.to_string());
    let age = (ctx.now_ms - m.created_at.0).max(0);
    m.check_after = UnixMs(ctx.now_ms) + age.max(app.cfg.fleet.stuck_after_ms);
    if let Err(e) = dispatch::record_with(
        app,
        ctx,
        &prepared,
        vec![repo::messages::update_write(&m, version)],
        None,
    )
    .await
    {
        app.warn(ctx, "stuck_move_not_recorded", &e.to_string());
        return Found::Waiting;
    }
    let timeout = app.cfg.gateway_timeout_ms.min(5_000);
    let links = dispatch::links(app, &sooner).await;
    let links: Vec<&GatewayLink> = links.iter().collect();
    let held = hand_off_held(&app.platform, &links, timeout, prepared.request()).await;
    let to = match held {
        Dispatch::Queued { gateway_id, .. } => gateway_id,
        Dispatch::Unknown { gateway_id, reason } => {
            // A copy it may hold is never released: its hold lapses.
            next.gateway_id = gateway_id;
            abandon_move(app, ctx, &m.id, &next, &format!("not held: {reason}")).await;
            return Found::Waiting;
        }
        Dispatch::Refused { reasons } => {
            abandon_move(app, ctx, &m.id, &next, &reasons.join("; ")).await;
            return Found::Waiting;
        }
    };
    next.gateway_id = to.as_str().into();
    let to_link = roster::roster_link(app, &to).await;
    match phone::cancel(&app.platform, from, timeout, &m.id, &ctx.request_id).await {
        Cancel::Done => {}
        other => {
            // It started (or finished) there, or no certain answer: it stays there; the copy goes.
            if let Some(l) = &to_link {
                phone::cancel(&app.platform, l, timeout, &next.id, &ctx.request_id).await;
            }
            abandon_move(
                app,
                ctx,
                &m.id,
                &next,
                &format!("kept by its phone: {other:?}"),
            )
            .await;
            return Found::Waiting;
        }
    }
    depths.moved(&m.gateway_id, &to);
    let route = dispatch::route_write(&prepared, &to);
    let wanted = hand_over(app, ctx, &m.id, &next, route).await;
    let Some(l) = &to_link else {
        return Found::Rerouted;
    };
    if !wanted {
        phone::cancel(&app.platform, l, timeout, &next.id, &ctx.request_id).await;
        return Found::Failed;
    }
    match phone::release(&app.platform, l, timeout, &next.id, &ctx.request_id).await {
        Release::Done => {}
        // Its hold lapses: the copy fails as `canceled`, certainly unsent, and is rerouted.
        other => app.warn(ctx, "stuck_move_not_released", &format!("{other:?}")),
    }
    Found::Rerouted
}

/// After the first phone gave the message up: it is recorded failed (`canceled`, handed on) and
/// the verification's code now travels as `next`. False: the code is no longer wanted (verified,
/// expired, replaced), so the copy should not go.
async fn hand_over<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    id: &str,
    next: &MessageRecord,
    route: Option<crate::store::Write>,
) -> bool {
    for _ in 0..4 {
        let Ok(Some((mut m, m_version))) = app.repo().get_message_doc(id).await else {
            continue;
        };
        let Ok(Some((mut n, n_version))) = app.repo().get_message_doc(&next.id).await else {
            continue;
        };
        let Some(slot) = m
            .verification_id
            .as_deref()
            .and_then(otp::slot_of_id)
            .map(str::to_string)
        else {
            return false;
        };
        let Ok(Some((mut v, v_version))) = app.repo().get_verification(&slot).await else {
            return false;
        };
        let wanted = Some(&v.id) == m.verification_id.as_ref()
            && v.status == VerificationStatus::Pending
            && v.message_ids.last().is_some_and(|id| *id == m.id);
        let mut writes = Vec::new();
        if m.state.may_become(DeliveryState::Failed) {
            fail(
                &mut m,
                "stuck: moved to another phone",
                FailureClass::Canceled,
                ctx.now_ms,
            );
            writes.push(repo::messages::update_write(&m, &m_version));
        }
        if wanted {
            v.message_ids.push(next.id.to_string());
            writes.push(repo::verifications::update_write(&slot, &v, &v_version));
            // The phone that holds the copy, and where a reply to it goes.
            if n.gateway_id != next.gateway_id {
                n.gateway_id = next.gateway_id.clone();
                n.updated_at = ctx.now_ms.into();
                writes.push(repo::messages::update_write(&n, &n_version));
                writes.extend(route.clone());
            }
        } else if !n.state.is_final() {
            n.gateway_id = next.gateway_id.clone();
            fail(
                &mut n,
                "move abandoned: the code is no longer wanted",
                FailureClass::Canceled,
                ctx.now_ms,
            );
            writes.push(repo::messages::update_write(&n, &n_version));
        }
        if writes.is_empty() {
            return wanted;
        }
        match app.repo().commit(writes).await {
            Ok(_) => return wanted,
            Err(e) => app.warn(ctx, "stuck_move_retry", &e.to_string()),
        }
    }
    // The records kept changing: the copy's hold lapses and the usual reroute takes it from there.
    false
}

/// A move that did not happen: the message is no longer handed on, and the copy is failed
/// (`canceled`: it never went).
async fn abandon_move<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    id: &str,
    next: &MessageRecord,
    why: &str,
) {
    for _ in 0..4 {
        let Ok(Some((mut m, m_version))) = app.repo().get_message_doc(id).await else {
            continue;
        };
        let Ok(Some((mut n, n_version))) = app.repo().get_message_doc(&next.id).await else {
            continue;
        };
        let mut writes = Vec::new();
        if m.rerouted_to.as_ref().is_some_and(|id| *id == next.id) {
            m.rerouted_to = None;
            writes.push(repo::messages::update_write(&m, &m_version));
        }
        if !n.state.is_final() {
            n.gateway_id = next.gateway_id.clone();
            fail(
                &mut n,
                &format!("move abandoned: {why}"),
                FailureClass::Canceled,
                ctx.now_ms,
            );
            writes.push(repo::messages::update_write(&n, &n_version));
        }
        if writes.is_empty() {
            return;
        }
        match app.repo().commit(writes).await {
            Ok(_) => {
                // Its phone did give it up after all (the cancel's answer was lost, its report came
                // first): certainly unsent and handed to nobody, so it goes the usual way.
                if crate::service::messaging::reroute::worth_trying(&m) {
                    reroute::reroute(app, ctx, &m.id).await;
                }
                return;
            }
            Err(e) => app.warn(ctx, "stuck_move_undo_retry", &e.to_string()),
        }
    }
}

/// Saves a message certainly not sent as failed, then sends its code again through another phone
/// if it is still worth it.
async fn save_and_reroute<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    m: &MessageRecord,
    version: &str,
) -> Found {
    if !save(app, ctx, m, version).await {
        return Found::Waiting;
    }
    if rerouted(app, ctx, m).await {
        Found::Rerouted
    } else {
        Found::Failed
    }
}

/// Writes the message guarded by the version read: a report that arrived meanwhile wins.
async fn save<P: Platform>(app: &App<P>, ctx: &Ctx, m: &MessageRecord, version: &str) -> bool {
    match app
        .repo()
        .commit(vec![repo::messages::update_write(m, version)])
        .await
    {
        Ok(_) => true,
        Err(e) => {
            app.warn(ctx, "stuck_message_not_recorded", &e.to_string());
            false
        }
    }
}

async fn rerouted<P: Platform>(app: &App<P>, ctx: &Ctx, m: &MessageRecord) -> bool {
    crate::service::messaging::reroute::worth_trying(m)
        && matches!(
            reroute::reroute(app, ctx, &m.id).await,
            Rerouted::Handed { .. }
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The sweep's summary names each outcome as the alerts' details do, and lists only the
    /// ones that happened (the JSON the untyped map gave).
    #[test]
    fn a_sweeps_summary_is_the_outcomes_that_happened() {
        for f in [
            Found::Repaired,
            Found::Rerouted,
            Found::Failed,
            Found::Waiting,
        ] {
            let mut s = Swept::default();
            s.add(f);
            assert_eq!(json!(s), json!({f.name(): 1}));
        }
        assert_eq!(json!(Swept::default()), json!({}));
        let down = Swept {
            error: Some("unavailable".into()),
            ..Swept::default()
        };
        assert_eq!(json!(down), json!({"error": "unavailable"}));
    }
}
