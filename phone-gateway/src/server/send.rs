//! `POST /v1/send`: takes a message into the queue if this phone can send it in time.

use super::auth::Authed;
use super::reply::{ApiError, Reply};
use super::routes::{refuse, with_fresh_nonce};
use crate::app::App;
use crate::fair_share::QueueShape;
use crate::store::Enqueued;
use crate::{unix_ms, unix_now};
use hyper::StatusCode;
use otp_shared::ids::is_plain_id;
use otp_shared::phone::{sms_policy, Phone};
use otp_shared::wire::{MessageState, SendAccepted, SendRequest};
use std::sync::Arc;
use tracing::info;

pub async fn send(app: Arc<App>, authed: Authed) -> Result<Reply, ApiError> {
    take(app, authed, false).await
}

/// `POST /v1/send/held`: the same, but the message waits for the edge's release (the first half of
/// a move from another phone; see `otp_shared::wire::PATH_SEND_HELD`).
pub async fn send_held(app: Arc<App>, authed: Authed) -> Result<Reply, ApiError> {
    take(app, authed, true).await
}

async fn take(app: Arc<App>, authed: Authed, held: bool) -> Result<Reply, ApiError> {
    let msg = match admissible(&app, authed.plaintext.as_deref()) {
        Ok(msg) => msg,
        Err(e) => return refuse(&app, &authed, e).await,
    };
    let now = unix_now();
    let (id, kind, tenant) = (msg.id.clone(), msg.kind, msg.tenant_id.clone());
    // The bound is pacer arithmetic: worked out here, not on the store's serial thread.
    let (count_up_to, deadline_ms) = capacity_check(&app, &msg);
    app.capacity
        .lock()
        .unwrap()
        .fair
        .note_weight(&msg.tenant_id, msg.share_weight);
    let pacing = app.clone();
    let outcome = with_fresh_nonce(&app, &authed, move |s| {
        let outcome = s.enqueue_fair(&msg, now, count_up_to, |shape| {
            fits_before(&pacing, &msg, shape, deadline_ms)
        })?;
        if held && matches!(outcome, Enqueued::Accepted { .. }) {
            s.hold(&msg.id, now)?;
        }
        Ok(outcome)
    })
    .await?;
    let reply = match outcome {
        Enqueued::Full => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_full",
                "the queue is full, retry later",
            ))
        }
        Enqueued::NoCapacity => {
            info!(message_id = %id, kind = kind.as_str(), tenant_id = %tenant, "refused: the pacing limits (or the tenant's share) would hold it past its expiry");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_capacity",
                "this phone cannot send it before it expires (pacing limits, or this tenant's share of them); try another gateway",
            ));
        }
        Enqueued::Accepted { depth } => {
            app.wake_sender.notify_one();
            app.wake_reports.notify_one();
            SendAccepted {
                id: id.clone(),
                state: MessageState::Queued,
                queue_depth: depth,
                duplicate: false,
            }
        }
        Enqueued::Duplicate { state, depth } => SendAccepted {
            id: id.clone(),
            state,
            queue_depth: depth,
            duplicate: true,
        },
    };
    info!(message_id = %id, kind = kind.as_str(), tenant_id = %tenant, duplicate = reply.duplicate, queue_depth = reply.queue_depth, held, "accepted");
    Ok(Reply::json(StatusCode::ACCEPTED, &reply))
}

/// The message, if this phone may take it: a valid SendRequest, not expired, sending not stopped.
fn admissible(app: &App, plaintext: Option<&[u8]>) -> Result<SendRequest, ApiError> {
    let plain = plaintext.ok_or_else(|| ApiError::bad_request("empty body"))?;
    let msg: SendRequest = serde_json::from_slice(plain).map_err(|e| {
        ApiError::bad_request(format!(
            "not a SendRequest (line {} column {})",
            e.line(),
            e.column()
        ))
    })?;
    validate(app, &msg)?;
    if msg.expires_at <= unix_now() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "already_expired",
            "expires_at is in the past",
        ));
    }
    if app.kill.engaged().is_some() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "kill_switch",
            "sending is stopped by the kill switch",
        ));
    }
    Ok(msg)
}

/// Checks a SendRequest beyond its JSON shape. Messages never echo the number or text.
fn validate(app: &App, r: &SendRequest) -> Result<(), ApiError> {
    for (name, value) in [
        ("id", &r.id),
        ("tenant_id", &r.tenant_id),
        ("request_id", &r.request_id),
    ] {
        if !is_plain_id(value) {
            return Err(ApiError::bad_request(format!(
                "{name} must be 1-64 characters of A-Z a-z 0-9 _ -"
            )));
        }
    }
    // The edge sends numbers in canonical E.164; anything else is refused, not reformatted, so the
    // number sent is exactly the one the edge validated.
    match Phone::parse(&r.to) {
        // The edge's type rule too: no SMS to a fixed line, premium rate, pager... VoIP is the
        // tenant's choice, made at the edge (which knows the tenant), so it passes here.
        Ok(p) if p.as_str() == r.to => sms_policy(p.number_type(), true).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "phone_not_mobile",
                format!("to: {e}"),
            )
        })?,
        Ok(_) => {
            return Err(ApiError::bad_request(
                "to must be canonical E.164 (+ and digits only)",
            ))
        }
        Err(e) => return Err(ApiError::bad_request(format!("to: {e}"))),
    }
    if r.text.trim().is_empty() || r.text.chars().count() > 1600 || r.text.contains('\0') {
        return Err(ApiError::bad_request("text must be 1-1600 characters"));
    }
    let slots = &app.cfg.sender.sim_slots;
    if let Some(s) = r.sim_slot {
        if (!slots.is_empty() && !slots.contains(&s)) || s > 7 {
            return Err(ApiError::bad_request(
                "sim_slot is not a configured SIM slot",
            ));
        }
    }
    Ok(())
}

/// Above this many possible sends before a message's deadline, the queue cannot be what holds it
/// back in practice, and neither counting nor simulating is worth it.
const CAPACITY_CHECK_MAX: u64 = 5_000;

/// A message must go out early enough to be of use: before its expiry less a margin (a fifth of its
/// remaining life, at most a minute), since a code that lands as it expires helps nobody. Returns how
/// far to count the queue ahead of it (0: no check needed) and that deadline.
fn capacity_check(app: &App, msg: &SendRequest) -> (u64, i64) {
    let now = unix_ms();
    let expires_ms = msg.expires_at as i64 * 1000;
    let deadline_ms = expires_ms - ((expires_ms - now) / 5).clamp(0, 60_000);
    let bound = app
        .capacity
        .lock()
        .unwrap()
        .pacer
        .max_sends_between(now, deadline_ms);
    // With `bound` or more ahead it cannot fit; below that the pacer's simulation decides. With
    // budgets or rests in play a SIM may be closed whatever the queue: always check then.
    let count_up_to = if bound > CAPACITY_CHECK_MAX && !budgets_in_play(app) {
        0
    } else {
        bound.clamp(1, CAPACITY_CHECK_MAX)
    };
    (count_up_to, deadline_ms)
}

/// Caps are configured, or a SIM rests: the capacity check cannot be skipped.
fn budgets_in_play(app: &App) -> bool {
    let b = &app.cfg.budget;
    b.daily_limit > 0
        || b.monthly_recipients > 0
        || b.sims
            .iter()
            .any(|s| s.daily_limit.is_some() || s.monthly_recipients.is_some())
        || app.capacity.lock().unwrap().budgets.any_resting(unix_ms())
}

/// Whether this phone can send `msg` by `deadline_ms`: behind what goes before it in the fair
/// share's order (`shape`: what is queued), within its tenant's ceiling, and within the SIM budgets
/// (daily caps, this recipient against the plan's cap, rests). Refusing lets the edge try another
/// phone at once.
fn fits_before(app: &App, msg: &SendRequest, shape: &QueueShape, deadline_ms: i64) -> bool {
    let now = unix_ms();
    let requested = msg.sim_slot.or(app.cfg.sender.default_sim);
    let tag = crate::budget::recipient_tag(&app.recipient_key, &msg.to);
    let capacity = app.capacity.lock().unwrap();
    let fair = &capacity.fair;
    let own = shape
        .same
        .iter()
        .find(|(t, _)| *t == msg.tenant_id)
        .map_or(0, |(_, n)| *n);
    if fair.nth_free_at(&msg.tenant_id, own + 1, now) > deadline_ms {
        return false;
    }
    let ahead = fair.ahead(&msg.tenant_id, shape, now);
    crate::budget::eta(
        &capacity.pacer,
        &capacity.budgets,
        requested,
        &tag,
        ahead,
        now,
        deadline_ms,
    )
    .is_some()
}
