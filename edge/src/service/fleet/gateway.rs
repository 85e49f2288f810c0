//! Handing messages to the phone gateways. Requests are signed and encrypted (`otp_shared::wire`).
//! A message goes to one gateway only: the edge fails over to the next gateway when the first
//! certainly did not take it (a connection that never opened, a signed refusal: kill switch, full
//! queue) and never on a guess. After an outcome that may hide a hand-off (a time-out, a
//! connection lost once it may have carried the request, an answer the phone did not sign), the
//! edge asks that phone first with a signed fence (`POST /v1/messages/{id}/fence`): it has the
//! message (it stays there), or it never had it and now never will (the next phone may have it);
//! no signed answer leaves the message `unknown` there, for the stuck sweep to settle.

use otp_shared::ids::GatewayId;
use otp_shared::wire::{self, Keys, SendAccepted, SendRequest};

use crate::config::GatewayConfig;
use crate::net::{HttpClient, OutboundRequest, TransportError};
use crate::platform::{new_id, Platform};

/// A gateway and the keys derived from its secret (derived once: HMAC work per request adds up).
#[derive(Clone)]
pub struct GatewayLink {
    pub cfg: GatewayConfig,
    /// `None` when the configured secret is too short to use; such a gateway is never sent to.
    pub keys: Option<Keys>,
    /// Other keys its callbacks may be signed with: an enrolled phone's key being rotated to,
    /// and its previous key during the grace period (`fleet::enrol`).
    pub also: Vec<Keys>,
}

/// Every phone the edge sends to, configured and enrolled (`fleet::roster`).
pub type Roster = std::sync::Arc<Vec<GatewayLink>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// The gateway committed the message to its queue.
    Queued {
        gateway_id: GatewayId,
        duplicate: bool,
    },
    /// The gateway may or may not have it; do not send it elsewhere.
    Unknown {
        gateway_id: GatewayId,
        reason: String,
    },
    /// No gateway took it; nothing will be sent.
    Refused { reasons: Vec<String> },
}

/// How long the fence after an ambiguous hand-off may take.
const FENCE_TIMEOUT_MS: u32 = 3_000;

/// Offers `msg` to each gateway of `order` in turn until one takes it or may have taken it.
pub async fn hand_off<P: Platform>(
    p: &P,
    order: &[&GatewayLink],
    timeout_ms: u32,
    msg: &SendRequest,
) -> Dispatch {
    offer(p, order, timeout_ms, msg, wire::PATH_SEND).await
}

/// [`hand_off`], but the phone that takes it holds it unsent until it is released
/// (`fleet::phone::release`) or the hold lapses: the first half of moving a queued message.
pub async fn hand_off_held<P: Platform>(
    p: &P,
    order: &[&GatewayLink],
    timeout_ms: u32,
    msg: &SendRequest,
) -> Dispatch {
    offer(p, order, timeout_ms, msg, wire::PATH_SEND_HELD).await
}

async fn offer<P: Platform>(
    p: &P,
    order: &[&GatewayLink],
    timeout_ms: u32,
    msg: &SendRequest,
    path: &str,
) -> Dispatch {
    if order.is_empty() {
        return Dispatch::Refused {
            reasons: vec!["no gateway is configured".into()],
        };
    }
    let mut reasons = Vec::new();
    for g in order {
        let mut msg = msg.clone();
        if msg.sim_slot.is_none() {
            msg.sim_slot = g.cfg.sim_slot;
        }
        match send_one(p, g, timeout_ms, &msg, path).await {
            Ok(accepted) => {
                return Dispatch::Queued {
                    gateway_id: g.cfg.id.clone(),
                    duplicate: accepted.duplicate,
                }
            }
            Err(Attempt::Definite(why)) => reasons.push(format!("{}: {why}", g.cfg.id)),
            Err(Attempt::Ambiguous(why)) => {
                let fenced = fence(
                    p,
                    g,
                    timeout_ms.min(FENCE_TIMEOUT_MS),
                    &msg.id,
                    &msg.request_id,
                )
                .await;
                let line = serde_json::json!({"level": "warn", "event": "gateway_hand_off_ambiguous",
                    "gateway": g.cfg.id, "request_id": msg.request_id, "message_id": msg.id,
                    "reason": why, "fence": format!("{fenced:?}")});
                p.log(&line.to_string());
                match fenced {
                    // It has it (or had it): it is that phone's, whatever happens next.
                    Fenced::Known(_) => {
                        return Dispatch::Queued {
                            gateway_id: g.cfg.id.clone(),
                            duplicate: true,
                        }
                    }
                    Fenced::Never => reasons.push(format!("{}: {why}, fenced", g.cfg.id)),
                    Fenced::Unanswered(_) => {
                        return Dispatch::Unknown {
                            gateway_id: g.cfg.id.clone(),
                            reason: why,
                        }
                    }
                }
            }
        }
    }
    Dispatch::Refused { reasons }
}

enum Attempt {
    /// The gateway did not take the message.
    Definite(String),
    Ambiguous(String),
}

/// What a phone says of a message after a hand-off whose answer was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fenced {
    /// It has (or had) it: its state.
    Known(wire::StatusReport),
    /// It never had it, and a late copy of the request will be refused.
    Never,
    /// No answer it signed: nothing can be concluded.
    Unanswered(String),
}

/// Asks `g` about message `id` with a signed fence (fresh nonce, signed reply).
pub async fn fence<P: Platform>(
    p: &P,
    g: &GatewayLink,
    timeout_ms: u32,
    id: &str,
    request_id: &str,
) -> Fenced {
    let Some(keys) = &g.keys else {
        return Fenced::Unanswered("gateway secret is too short".into());
    };
    let path = wire::fence_path(id);
    match signed_exchange::<P, ()>(
        p,
        &g.cfg,
        keys,
        timeout_ms,
        ("POST", &path),
        None,
        request_id,
    )
    .await
    {
        Ok((200, body)) => serde_json::from_slice(&body)
            .map(Fenced::Known)
            .unwrap_or_else(|_| Fenced::Unanswered("unreadable status".into())),
        Ok((410, _)) => Fenced::Never,
        Ok((s, _)) => Fenced::Unanswered(format!("http {s}")),
        Err(e) => Fenced::Unanswered(e),
    }
}

async fn send_one<P: Platform>(
    p: &P,
    g: &GatewayLink,
    timeout_ms: u32,
    msg: &SendRequest,
    path: &str,
) -> Result<SendAccepted, Attempt> {
    let keys = g
        .keys
        .as_ref()
        .ok_or_else(|| Attempt::Definite("gateway_secret_unusable".into()))?;
    let (req, nonce) = signed_request(p, &g.cfg, keys, "POST", path, Some(msg), &msg.request_id);
    // Reasons end up in a message's `error`, which its tenant reads: short codes only; the
    // transport's own text (addresses, URLs) goes to the log.
    let transport = |e: &TransportError| {
        let line = serde_json::json!({"level": "warn", "event": "gateway_transport_error", "gateway": g.cfg.id, "request_id": msg.request_id, "error": e.to_string()});
        p.log(&line.to_string());
    };
    let resp = match p.http().send(req.timeout_ms(timeout_ms)).await {
        Err(e @ TransportError::Connect(_)) => {
            transport(&e);
            return Err(Attempt::Definite("unreachable".into()));
        }
        Err(TransportError::Timeout) => return Err(Attempt::Ambiguous("timed_out".into())),
        Err(e) => {
            transport(&e);
            return Err(Attempt::Ambiguous("transport_error".into()));
        }
        Ok(resp) => resp,
    };
    // Only an answer the gateway signed for this very request says what happened to it. Anything
    // else (a proxy's error page, a forged refusal, a 401 the gateway cannot sign) may hide a
    // queued message, so it must not send the message to another phone.
    let signature = resp.header(wire::HEADER_REPLY_SIGNATURE);
    if let Err(e) = wire::verify_reply(keys, &nonce, resp.status, signature, &resp.body) {
        return Err(Attempt::Ambiguous(format!(
            "http_{}_{}_reply",
            resp.status,
            e.code()
        )));
    }
    match resp.status {
        200..=299 => serde_json::from_slice(&resp.body)
            .map_err(|_| Attempt::Ambiguous("unreadable_reply".into())),
        // A signed 4xx/503 is the gateway's own refusal (kill switch, full queue, invalid).
        s if s < 500 || s == 503 => {
            let code = serde_json::from_slice::<wire::ErrorBody>(&resp.body)
                .ok()
                .map(|b| b.error.code)
                .filter(|c| otp_shared::ids::is_plain_id(c))
                .unwrap_or_else(|| format!("http_{s}"));
            Err(Attempt::Definite(code))
        }
        s => Err(Attempt::Ambiguous(format!("http_{s}"))),
    }
}

/// A signed (and, with a body, encrypted) request to one gateway, and its header nonce (what the
/// gateway's signed reply is bound to).
pub fn signed_request<P: Platform, T: serde::Serialize>(
    p: &P,
    g: &GatewayConfig,
    keys: &Keys,
    method: &str,
    path: &str,
    body: Option<&T>,
    request_id: &str,
) -> (OutboundRequest, String) {
    let mut header_nonce = [0u8; 16];
    let mut aead_nonce = [0u8; 12];
    p.fill_random(&mut header_nonce);
    p.fill_random(&mut aead_nonce);
    let ts = (p.now_ms() / 1000) as u64;
    let route = wire::Route::new(method, path, &g.id);
    let sealed = match body {
        Some(b) => wire::seal_json(keys, route, ts, header_nonce, aead_nonce, b),
        None => wire::seal(keys, route, ts, header_nonce, aead_nonce, None),
    };
    let nonce = sealed.nonce().to_string();
    let mut req = OutboundRequest::new(method, format!("{}{}", g.url, path))
        .header(wire::HEADER_REQUEST_ID, request_id);
    for (k, v) in sealed.headers {
        req = req.header(k, v);
    }
    if body.is_some() {
        req = req.json_body(sealed.body);
    }
    (req, nonce)
}

/// One signed exchange with a phone: the status and body of an answer the phone signed for this
/// request (anything else is an error, whatever answered).
pub async fn signed_exchange<P: Platform, T: serde::Serialize>(
    p: &P,
    g: &GatewayConfig,
    keys: &Keys,
    timeout_ms: u32,
    (method, path): (&str, &str),
    body: Option<&T>,
    request_id: &str,
) -> Result<(u16, Vec<u8>), String> {
    let (req, nonce) = signed_request(p, g, keys, method, path, body, request_id);
    let resp = p
        .http()
        .send(req.timeout_ms(timeout_ms))
        .await
        .map_err(|e| e.to_string())?;
    let signature = resp.header(wire::HEADER_REPLY_SIGNATURE);
    wire::verify_reply(keys, &nonce, resp.status, signature, &resp.body)
        .map_err(|e| format!("http {} with a {} reply", resp.status, e.code()))?;
    Ok((resp.status, resp.body))
}

/// Reachability of one gateway: its signed `/health` (queue, capacity, kill switch) and how long
/// it took. Reachable means the gateway itself answered: a reply that does not verify counts as
/// not reachable, whatever answered it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Probe {
    pub id: GatewayId,
    pub reachable: bool,
    pub latency_ms: i64,
    pub health: Option<wire::Health>,
    pub error: Option<String>,
}

pub async fn probe<P: Platform>(p: &P, link: &GatewayLink, timeout_ms: u32) -> Probe {
    let g = &link.cfg;
    let started = p.now_ms();
    let mut probe = Probe {
        id: g.id.clone(),
        reachable: false,
        latency_ms: 0,
        health: None,
        error: None,
    };
    let Some(keys) = &link.keys else {
        probe.error = Some("gateway secret is too short".into());
        return probe;
    };
    let request_id = new_id(p, "probe");
    let (req, nonce) =
        signed_request::<P, ()>(p, g, keys, "GET", wire::PATH_HEALTH, None, &request_id);
    let result = p.http().send(req.timeout_ms(timeout_ms)).await;
    probe.latency_ms = p.now_ms() - started;
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            probe.error = Some(e.to_string());
            return probe;
        }
    };
    let signature = r.header(wire::HEADER_REPLY_SIGNATURE);
    if let Err(e) = wire::verify_reply(keys, &nonce, r.status, signature, &r.body) {
        probe.error = Some(format!("http {} with a {} reply", r.status, e.code()));
        return probe;
    }
    probe.reachable = true;
    if !r.is_success() {
        probe.error = Some(format!("http {}", r.status));
        return probe;
    }
    probe.health = serde_json::from_slice::<wire::Health>(&r.body).ok();
    if probe.health.is_none() {
        probe.error = Some("unreadable health reply".into());
    }
    probe
}
