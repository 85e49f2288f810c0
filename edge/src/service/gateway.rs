//! Handing messages to the phone gateways. Requests are signed and encrypted (`otp_shared::wire`).
//! A message goes to one gateway only: the edge fails over to the next gateway when the first
//! certainly did not take it (no connection, kill switch, full queue) and never after an ambiguous
//! outcome (a time-out may mean it was queued; so does any answer the gateway did not sign for this
//! request), so no message can be sent by two phones.

use otp_shared::wire::{self, Keys, SendAccepted, SendRequest};

use crate::config::GatewayConfig;
use crate::net::{HttpClient, OutboundRequest, TransportError};
use crate::platform::{new_id, Platform};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// The gateway committed the message to its queue.
    Queued { gateway_id: String, duplicate: bool },
    /// The gateway may or may not have it; do not send it elsewhere.
    Unknown { gateway_id: String, reason: String },
    /// No gateway took it; nothing will be sent.
    Refused { reasons: Vec<String> },
}

pub async fn dispatch<P: Platform>(
    p: &P,
    gateways: &[GatewayConfig],
    timeout_ms: u32,
    msg: &SendRequest,
) -> Dispatch {
    if gateways.is_empty() {
        return Dispatch::Refused {
            reasons: vec!["no gateway is configured".into()],
        };
    }
    // Spread load: start at a random gateway, then go round.
    let mut r = [0u8; 1];
    p.fill_random(&mut r);
    let start = r[0] as usize % gateways.len();
    let mut reasons = Vec::new();
    for i in 0..gateways.len() {
        let g = &gateways[(start + i) % gateways.len()];
        let mut msg = msg.clone();
        if msg.sim_slot.is_none() {
            msg.sim_slot = g.sim_slot;
        }
        match send_one(p, g, timeout_ms, &msg).await {
            Ok(accepted) => {
                return Dispatch::Queued {
                    gateway_id: g.id.clone(),
                    duplicate: accepted.duplicate,
                }
            }
            Err(Attempt::Definite(why)) => reasons.push(format!("{}: {why}", g.id)),
            Err(Attempt::Ambiguous(why)) => {
                return Dispatch::Unknown {
                    gateway_id: g.id.clone(),
                    reason: why,
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

async fn send_one<P: Platform>(
    p: &P,
    g: &GatewayConfig,
    timeout_ms: u32,
    msg: &SendRequest,
) -> Result<SendAccepted, Attempt> {
    let keys = Keys::from_secret(&g.secret)
        .map_err(|_| Attempt::Definite("gateway secret is too short".into()))?;
    let (req, nonce) = signed_request(
        p,
        g,
        &keys,
        "POST",
        wire::PATH_SEND,
        Some(msg),
        &msg.request_id,
    );
    let resp = match p.http().send(req.timeout_ms(timeout_ms)).await {
        Err(TransportError::Connect(e)) => {
            return Err(Attempt::Definite(format!("unreachable ({e})")))
        }
        Err(e) => return Err(Attempt::Ambiguous(e.to_string())),
        Ok(resp) => resp,
    };
    // Only an answer the gateway signed for this very request says what happened to it. Anything
    // else (a proxy's error page, a forged refusal, a 401 the gateway cannot sign) may hide a
    // queued message, so it must not send the message to another phone.
    let signature = resp.header(wire::HEADER_REPLY_SIGNATURE);
    if let Err(e) = wire::verify_reply(&keys, &nonce, resp.status, signature, &resp.body) {
        return Err(Attempt::Ambiguous(format!(
            "http {} with a {} reply",
            resp.status,
            e.code()
        )));
    }
    match resp.status {
        200..=299 => serde_json::from_slice(&resp.body)
            .map_err(|_| Attempt::Ambiguous("unreadable reply".into())),
        // A signed 4xx/503 is the gateway's own refusal (kill switch, full queue, invalid).
        s if s < 500 || s == 503 => {
            let code = serde_json::from_slice::<wire::ErrorBody>(&resp.body)
                .map(|b| b.error.code)
                .unwrap_or_else(|_| format!("http {s}"));
            Err(Attempt::Definite(code))
        }
        s => Err(Attempt::Ambiguous(format!("http {s}"))),
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

/// Reachability of one gateway: its signed `/health` (queue, capacity, kill switch) and how long
/// it took. Reachable means the gateway itself answered: a reply that does not verify counts as
/// not reachable, whatever answered it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Probe {
    pub id: String,
    pub reachable: bool,
    pub latency_ms: i64,
    pub health: Option<wire::Health>,
    pub error: Option<String>,
}

pub async fn probe<P: Platform>(p: &P, g: &GatewayConfig, timeout_ms: u32) -> Probe {
    let started = p.now_ms();
    let mut probe = Probe {
        id: g.id.clone(),
        reachable: false,
        latency_ms: 0,
        health: None,
        error: None,
    };
    let Ok(keys) = Keys::from_secret(&g.secret) else {
        probe.error = Some("gateway secret is too short".into());
        return probe;
    };
    let request_id = new_id(p, "probe");
    let (req, nonce) =
        signed_request::<P, ()>(p, g, &keys, "GET", wire::PATH_HEALTH, None, &request_id);
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
    if let Err(e) = wire::verify_reply(&keys, &nonce, r.status, signature, &r.body) {
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
