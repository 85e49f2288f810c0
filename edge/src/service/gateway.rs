//! Handing messages to the phone gateways. Requests are signed and encrypted (`otp_shared::wire`).
//! A message goes to one gateway only: the edge fails over to the next gateway when the first
//! certainly did not take it (no connection, kill switch, full queue) and never after an ambiguous
//! outcome (a time-out may mean it was queued), so no message can be sent by two phones.

use otp_shared::wire::{self, Keys, SendAccepted, SendRequest};

use super::app::{App, Ctx, GatewayLink};
use crate::config::GatewayConfig;
use crate::error::{Error, ErrorCode};
use crate::net::{HttpClient, OutboundRequest, TransportError};
use crate::platform::Platform;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// The gateway committed the message to its queue.
    Queued { gateway_id: String, duplicate: bool },
    /// The gateway may or may not have it; do not send it elsewhere.
    Unknown { gateway_id: String, reason: String },
    /// No gateway took it; nothing will be sent.
    Refused { reasons: Vec<String> },
}

/// Offers `msg` to each gateway of `order` in turn until one takes it or may have taken it.
pub async fn hand_off<P: Platform>(
    p: &P,
    order: &[&GatewayLink],
    timeout_ms: u32,
    msg: &SendRequest,
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
        match send_one(p, g, timeout_ms, &msg).await {
            Ok(accepted) => {
                return Dispatch::Queued {
                    gateway_id: g.cfg.id.clone(),
                    duplicate: accepted.duplicate,
                }
            }
            Err(Attempt::Definite(why)) => reasons.push(format!("{}: {why}", g.cfg.id)),
            Err(Attempt::Ambiguous(why)) => {
                return Dispatch::Unknown {
                    gateway_id: g.cfg.id.clone(),
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
    g: &GatewayLink,
    timeout_ms: u32,
    msg: &SendRequest,
) -> Result<SendAccepted, Attempt> {
    let keys = g
        .keys
        .as_ref()
        .ok_or_else(|| Attempt::Definite("gateway secret is too short".into()))?;
    let req = signed_request(
        p,
        &g.cfg,
        keys,
        "POST",
        wire::PATH_SEND,
        Some(msg),
        &msg.request_id,
    )
    .timeout_ms(timeout_ms);
    match p.http().send(req).await {
        Err(TransportError::Connect(e)) => Err(Attempt::Definite(format!("unreachable ({e})"))),
        Err(e) => Err(Attempt::Ambiguous(e.to_string())),
        Ok(resp) if resp.is_success() => serde_json::from_slice(&resp.body)
            .map_err(|_| Attempt::Ambiguous("unreadable reply".into())),
        // 4xx/503 from our gateway mean it refused (bad signature, kill switch, full queue).
        Ok(resp) if resp.status < 500 || resp.status == 503 => {
            let code = serde_json::from_slice::<wire::ErrorBody>(&resp.body)
                .map(|b| b.error.code)
                .unwrap_or_else(|_| format!("http {}", resp.status));
            Err(Attempt::Definite(code))
        }
        Ok(resp) => Err(Attempt::Ambiguous(format!("http {}", resp.status))),
    }
}

/// A signed (and, with a body, encrypted) request to one gateway.
pub fn signed_request<P: Platform, T: serde::Serialize>(
    p: &P,
    g: &GatewayConfig,
    keys: &Keys,
    method: &str,
    path: &str,
    body: Option<&T>,
    request_id: &str,
) -> OutboundRequest {
    let mut header_nonce = [0u8; 16];
    let mut aead_nonce = [0u8; 12];
    p.fill_random(&mut header_nonce);
    p.fill_random(&mut aead_nonce);
    let ts = (p.now_ms() / 1000) as u64;
    let sealed = match body {
        Some(b) => wire::seal_json(keys, method, path, ts, header_nonce, aead_nonce, b),
        None => wire::seal(keys, method, path, ts, header_nonce, aead_nonce, None),
    };
    let mut req = OutboundRequest::new(method, format!("{}{}", g.url, path))
        .header(wire::HEADER_REQUEST_ID, request_id);
    for (k, v) in sealed.headers {
        req = req.header(k, v);
    }
    if body.is_some() {
        req = req.json_body(sealed.body);
    }
    req
}

/// Reachability of one gateway: its public `/health` and how long it took.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Probe {
    pub id: String,
    pub reachable: bool,
    pub latency_ms: i64,
    pub health: Option<wire::Health>,
    pub error: Option<String>,
}

/// Asks one gateway how it is (signed, so it answers with its queue, capacity and kill switch).
pub async fn probe<P: Platform>(p: &P, link: &GatewayLink, timeout_ms: u32) -> Probe {
    let g = &link.cfg;
    let started = p.now_ms();
    let req = match &link.keys {
        Some(keys) => signed_request::<P, ()>(p, g, keys, "GET", wire::PATH_HEALTH, None, "probe"),
        None => OutboundRequest::new("GET", format!("{}{}", g.url, wire::PATH_HEALTH)),
    };
    let result = p.http().send(req.timeout_ms(timeout_ms)).await;
    let latency_ms = p.now_ms() - started;
    match result {
        Ok(r) if r.is_success() => {
            let health = serde_json::from_slice::<wire::Health>(&r.body).ok();
            Probe {
                id: g.id.clone(),
                reachable: true,
                latency_ms,
                error: health.is_none().then(|| "unreadable health reply".into()),
                health,
            }
        }
        Ok(r) => Probe {
            id: g.id.clone(),
            reachable: false,
            latency_ms,
            health: None,
            error: Some(format!("http {}", r.status)),
        },
        Err(e) => Probe {
            id: g.id.clone(),
            reachable: false,
            latency_ms,
            health: None,
            error: Some(e.to_string()),
        },
    }
}

/// How long an isolate reuses its probes of the fleet for `/v1/status` (a tenant may call it
/// often; the phones should not pay for that).
const PROBE_CACHE_MS: i64 = 60_000;

impl<P: Platform> App<P> {
    /// Every gateway's probe, at most a minute old.
    pub async fn gateway_probes(&self) -> Vec<Probe> {
        let now = self.platform.now_ms();
        if let Some((at, probes)) = self.probe_cache.lock().ok().and_then(|c| c.clone()) {
            if now - at < PROBE_CACHE_MS {
                return probes;
            }
        }
        let mut probes = Vec::with_capacity(self.gateways.len());
        for g in &self.gateways {
            probes.push(probe(&self.platform, g, self.cfg.gateway_timeout_ms.min(3000)).await);
        }
        if let Ok(mut c) = self.probe_cache.lock() {
            *c = Some((now, probes.clone()));
        }
        probes
    }

    /// Sets or clears one phone's own kill switch with the signed command it understands.
    pub async fn set_gateway_kill_switch(
        &self,
        ctx: &Ctx,
        gateway_id: &str,
        engaged: bool,
        reason: Option<String>,
    ) -> Result<wire::KillSwitchState, Error> {
        let link = self
            .gateways
            .iter()
            .find(|g| g.cfg.id == gateway_id)
            .ok_or_else(|| Error::new(ErrorCode::GatewayNotFound))?;
        let keys = link
            .keys
            .as_ref()
            .ok_or_else(|| Error::new(ErrorCode::Internal).cause("gateway secret unusable"))?;
        let cmd = wire::KillSwitchCommand { engaged, reason };
        let req = signed_request(
            &self.platform,
            &link.cfg,
            keys,
            "POST",
            wire::PATH_KILL_SWITCH,
            Some(&cmd),
            &ctx.request_id,
        )
        .timeout_ms(self.cfg.gateway_timeout_ms);
        let unavailable = |why: String| {
            Error::msg(
                ErrorCode::GatewayUnavailable,
                "The phone did not confirm the command",
            )
            .cause(why)
        };
        let resp = self
            .platform
            .http()
            .send(req)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        if !resp.is_success() {
            return Err(unavailable(format!("http {}", resp.status)));
        }
        serde_json::from_slice(&resp.body).map_err(|e| unavailable(e.to_string()))
    }
}
