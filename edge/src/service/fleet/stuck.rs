//! Messages without a final state whose next look is due (`check_after`, first set to
//! `STUCK_AFTER_MS` after the send): the scheduled job asks their phone and acts on the answer.
//!
//! | the phone says | what the edge does |
//! |---|---|
//! | sent, failed, expired | records it (the report was lost); a failed OTP it certainly did not send is rerouted |
//! | queued (an OTP still valid) | takes it back (`cancel`) and gives it to another phone; a direct message waits: the phone sends it or expires it by its deadline |
//! | sending | waits: a send that started is never doubled |
//! | no such message, after an ambiguous hand-off | it never got it: an OTP is rerouted, anything else failed (`not_on_phone`) |
//! | no such message, after it took it | it lost it, maybe after sending: failed as uncertain |
//! | nothing (unreachable) | waits until the deadline has passed, then fails it (`phone_unreachable`, uncertain: it may have gone) |
//!
//! Each message waiting is looked at again later, each time twice as late. Every phone that had
//! stuck messages gets a `stuck_messages` alert (see `tick`).

use std::collections::BTreeMap;

use otp_shared::wire::{FailureClass, MessageKind, MessageState};
use serde_json::{json, Value};

use super::phone::{self, Asked, Cancel};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::fleet::roster;
use crate::service::messaging::reroute;
use crate::service::messaging::reroute::{Rerouted, MIN_VALIDITY_MS};
use crate::service::model::{DeliveryState, MessageRecord};
use crate::service::repo;

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

/// The sweep: `(summary, gateway id -> counts of what was not simply waiting)`.
pub async fn sweep<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
) -> (Value, BTreeMap<String, BTreeMap<&'static str, u32>>) {
    let mut per_gateway: BTreeMap<String, BTreeMap<&'static str, u32>> = BTreeMap::new();
    let mut totals: BTreeMap<&'static str, u32> = BTreeMap::new();
    let due = match app.repo().messages_to_check(ctx.now_ms, BATCH).await {
        Ok(d) => d,
        Err(e) => return (json!({"error": e.to_string()}), per_gateway),
    };
    for (m, version) in due {
        let gateway = m.gateway_id.clone();
        let found = look_at(app, ctx, m, &version).await;
        *totals.entry(found.name()).or_default() += 1;
        if found != Found::Waiting {
            *per_gateway
                .entry(gateway)
                .or_default()
                .entry(found.name())
                .or_default() += 1;
        }
    }
    (json!(totals), per_gateway)
}

async fn look_at<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    mut m: MessageRecord,
    version: &str,
) -> Found {
    let timeout = app.cfg.gateway_timeout_ms.min(5_000);
    let link = roster::roster_link(app, &m.gateway_id).await;
    let link = link.as_ref();
    let asked = match link {
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
            m.updated_at = now;
            if !save(app, ctx, &m, version).await {
                return Found::Waiting;
            }
            if m.state == DeliveryState::Failed && rerouted(app, ctx, &m).await {
                return Found::Rerouted;
            }
            Found::Repaired
        }
        Asked::Report(r) if r.state == MessageState::Queued && is_live_otp(&m, now) => {
            let Some(l) = link else { return Found::Waiting };
            match phone::cancel(&app.platform, l, timeout, &m.id, &ctx.request_id).await {
                Cancel::Done => {
                    fail(
                        &mut m,
                        "stuck: taken back from its phone to reroute",
                        FailureClass::Canceled,
                        now,
                    );
                    save_and_reroute(app, ctx, &m, version).await
                }
                _ => wait(app, ctx, &mut m, version).await,
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
    m.updated_at = now;
}

/// Looks again later, each time twice as late (at least `STUCK_AFTER_MS`).
async fn wait<P: Platform>(app: &App<P>, ctx: &Ctx, m: &mut MessageRecord, version: &str) -> Found {
    let age = (ctx.now_ms - m.created_at).max(0);
    m.check_after = ctx.now_ms + age.max(app.cfg.fleet.stuck_after_ms);
    save(app, ctx, m, version).await;
    Found::Waiting
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
