//! The routes. Every one but `/health` is signed and checked with `otp_shared::wire` (see
//! [`super::auth`]); the nonce is recorded in the same transaction as the action.

use super::auth::authenticate;
use super::reply::{json, ApiError, Resp};
use crate::app::App;
use crate::store::Enqueued;
use crate::{unix_ms, unix_now};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{HeaderMap, Method, Request, StatusCode};
use otp_shared::ids::is_plain_id;
use otp_shared::phone::Phone;
use otp_shared::wire::{
    Capacity, Health, KillSwitchCommand, KillSwitchState, MessageState, SendAccepted, SendRequest,
    WireError, HEADER_REQUEST_ID, PATH_HEALTH, PATH_KILL_SWITCH, PATH_MESSAGES_PREFIX, PATH_SEND,
};
use rand::Rng;
use std::convert::Infallible;
use std::sync::Arc;
use tracing::{info, warn, Instrument};

/// Accepts a caller's request id if it is a plain id, else makes one.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(HEADER_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_plain_id(v))
        .map(str::to_string)
        .unwrap_or_else(|| format!("gw_{:016x}", rand::thread_rng().gen::<u64>()))
}

pub async fn handle(app: Arc<App>, req: Request<Incoming>) -> Result<Resp, Infallible> {
    let rid = request_id(req.headers());
    let span = tracing::info_span!("http", request_id = %rid, method = %req.method(), path = %req.uri().path());
    async move {
        let mut resp = match route(&app, req).await {
            Ok(r) => r,
            Err(e) => {
                info!(code = e.code, "refused");
                e.response()
            }
        };
        if let Ok(v) = HeaderValue::from_str(&rid) {
            resp.headers_mut().insert(HEADER_REQUEST_ID, v);
        }
        info!(status = resp.status().as_u16(), "request");
        Ok(resp)
    }
    .instrument(span)
    .await
}

async fn route(app: &Arc<App>, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::GET, PATH_HEALTH) => health(app).await,
        (Method::POST, PATH_SEND) => send(app, req).await,
        (Method::POST, PATH_KILL_SWITCH) => kill_switch(app, req).await,
        (Method::GET, p) if p.starts_with(PATH_MESSAGES_PREFIX) => status(app, req).await,
        (_, PATH_HEALTH | PATH_SEND | PATH_KILL_SWITCH) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
        )),
        (_, p) if p.starts_with(PATH_MESSAGES_PREFIX) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed",
        )),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such route",
        )),
    }
}

fn replayed() -> ApiError {
    ApiError::auth(WireError::ReplayedNonce)
}

fn kill_switch_engaged() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "kill_switch",
        "sending is stopped by the kill switch",
    )
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
        Ok(p) if p.as_str() == r.to => {}
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

async fn send(app: &Arc<App>, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let authed = authenticate(app, req).await?;
    let plain = authed
        .plaintext
        .ok_or_else(|| ApiError::bad_request("empty body"))?;
    let msg: SendRequest = serde_json::from_slice(&plain).map_err(|e| {
        ApiError::bad_request(format!(
            "not a SendRequest (line {} column {})",
            e.line(),
            e.column()
        ))
    })?;
    validate(app, &msg)?;
    let now = unix_now();
    if msg.expires_at <= now {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "already_expired",
            "expires_at is in the past",
        ));
    }
    if app.kill.engaged().is_some() {
        return Err(kill_switch_engaged());
    }
    let (id, kind, tenant) = (msg.id.clone(), msg.kind, msg.tenant_id.clone());
    let (nonce, ts) = (authed.nonce, authed.timestamp);
    // The bound is pacer arithmetic: worked out here, not on the store's serial thread.
    let (count_up_to, deadline_ms) = capacity_check(app, &msg);
    let pacing = Arc::clone(app);
    let outcome = app
        .store
        .call(move |s| {
            if !s.remember_nonce(&nonce, ts)? {
                return Ok(None);
            }
            s.enqueue_if(&msg, now, count_up_to, |ahead| {
                fits_before(&pacing, &msg, ahead, deadline_ms)
            })
            .map(Some)
        })
        .await
        .map_err(ApiError::internal)?;
    let reply = match outcome {
        None => return Err(replayed()),
        Some(Enqueued::Full) => {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "queue_full",
                "the queue is full, retry later",
            ))
        }
        Some(Enqueued::NoCapacity) => {
            info!(message_id = %id, kind = kind.as_str(), "refused: the pacing limits would hold it past its expiry");
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no_capacity",
                "this phone cannot send it before it expires (pacing limits); try another gateway",
            ));
        }
        Some(Enqueued::Accepted { depth }) => {
            app.wake_sender.notify_one();
            app.wake_reports.notify_one();
            SendAccepted {
                id: id.clone(),
                state: MessageState::Queued,
                queue_depth: depth,
                duplicate: false,
            }
        }
        Some(Enqueued::Duplicate { state, depth }) => SendAccepted {
            id: id.clone(),
            state,
            queue_depth: depth,
            duplicate: true,
        },
    };
    info!(message_id = %id, kind = kind.as_str(), tenant_id = %tenant, duplicate = reply.duplicate, queue_depth = reply.queue_depth, "accepted");
    Ok(json(StatusCode::ACCEPTED, &reply))
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
        .pacer
        .lock()
        .unwrap()
        .max_sends_between(now, deadline_ms);
    // With `bound` or more ahead it cannot fit; below that the pacer's simulation decides.
    let count_up_to = if bound > CAPACITY_CHECK_MAX {
        0
    } else {
        bound.max(1)
    };
    (count_up_to, deadline_ms)
}

/// Whether the pacer can send `msg` behind `ahead` queued messages by `deadline_ms`. Refusing lets
/// the edge try another phone at once.
fn fits_before(app: &App, msg: &SendRequest, ahead: u64, deadline_ms: i64) -> bool {
    let requested = msg.sim_slot.or(app.cfg.sender.default_sim);
    app.pacer
        .lock()
        .unwrap()
        .eta(requested, ahead, unix_ms(), deadline_ms)
        .is_some()
}

async fn status(app: &Arc<App>, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let id = req.uri().path()[PATH_MESSAGES_PREFIX.len()..].to_string();
    let authed = authenticate(app, req).await?;
    if authed.plaintext.is_some() {
        return Err(ApiError::bad_request("GET takes no body"));
    }
    let (nonce, ts) = (authed.nonce, authed.timestamp);
    let report = app
        .store
        .call(move |s| {
            if s.remember_nonce(&nonce, ts)? {
                s.status(&id, unix_now()).map(Some)
            } else {
                Ok(None)
            }
        })
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(replayed)?;
    match report {
        Some(r) => Ok(json(StatusCode::OK, &r)),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such message",
        )),
    }
}

async fn kill_switch(app: &Arc<App>, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let authed = authenticate(app, req).await?;
    let plain = authed
        .plaintext
        .ok_or_else(|| ApiError::bad_request("empty body"))?;
    let cmd: KillSwitchCommand = serde_json::from_slice(&plain)
        .map_err(|_| ApiError::bad_request("body must be {\"engaged\":bool,\"reason\":string?}"))?;
    let reason = cmd.engaged.then(|| {
        let r = cmd.reason.clone().unwrap_or_default();
        let r: String = r.chars().filter(|c| !c.is_control()).take(200).collect();
        format!(
            "command: {}",
            if r.is_empty() { "no reason given" } else { &r }
        )
    });
    let (nonce, ts, persisted) = (authed.nonce, authed.timestamp, reason.clone());
    let fresh = app
        .store
        .call(move |s| {
            if !s.remember_nonce(&nonce, ts)? {
                return Ok(false);
            }
            s.set_meta(crate::kill_switch::META_KEY, persisted.as_deref())?;
            Ok(true)
        })
        .await
        .map_err(ApiError::internal)?;
    if !fresh {
        return Err(replayed());
    }
    app.kill.set(reason);
    app.wake_sender.notify_one();
    let effective = app.kill.engaged();
    warn!(
        engaged = cmd.engaged,
        effective = effective.is_some(),
        "kill switch command"
    );
    Ok(json(
        StatusCode::OK,
        &KillSwitchState {
            engaged: effective.is_some(),
            reason: effective,
        },
    ))
}

async fn health(app: &Arc<App>) -> Result<Resp, ApiError> {
    let depth = app
        .store
        .call(|s| Ok(s.depth()))
        .await
        .map_err(ApiError::internal)?;
    let (limit, used) = {
        let mut p = app.pacer.lock().unwrap();
        (p.limit(), p.used(unix_ms()))
    };
    let kill = app.kill.engaged();
    Ok(json(
        StatusCode::OK,
        &Health {
            status: "ok".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            queue_depth: depth,
            kill_switch: kill.is_some(),
            kill_switch_reason: kill,
            last_send: app.last_send.lock().unwrap().to_string(),
            capacity: Capacity {
                per_sim_window: limit,
                used,
            },
        },
    ))
}
