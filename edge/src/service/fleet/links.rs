//! The phones as the API sees them (configured and enrolled, `roster`): their probes (reused for
//! a minute), a phone's link by id, its kill switch command and its log.

use otp_shared::ids::GatewayId;
use otp_shared::wire::{self, Keys};

use crate::error::{Error, ErrorCode};
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ctx::Ctx;
use crate::service::fleet::gateway::{probe, signed_exchange, GatewayLink, Probe};
use crate::service::fleet::roster;

/// How long an isolate reuses its probes of the fleet for `/v1/status` (a tenant may call it
/// often; the phones should not pay for that).
const PROBE_CACHE_MS: i64 = 60_000;

/// Every gateway's probe, at most a minute old.
pub async fn gateway_probes<P: Platform>(app: &App<P>) -> Vec<Probe> {
    let now = app.platform.now_ms();
    if let Some(probes) = app.probe_cache.fresh(now, PROBE_CACHE_MS) {
        return probes;
    }
    let roster = roster::roster(app).await;
    let mut probes = Vec::with_capacity(roster.len());
    for g in roster.iter() {
        probes.push(probe(&app.platform, g, app.cfg.gateway_timeout_ms.min(3000)).await);
    }
    app.probe_cache.put(now, probes.clone());
    probes
}

/// The phone `gateway_id` (configured or enrolled) and its keys.
pub async fn gateway_link<P: Platform>(
    app: &App<P>,
    gateway_id: &GatewayId,
) -> Result<(GatewayLink, Keys), Error> {
    let link = roster::roster_link(app, gateway_id)
        .await
        .ok_or_else(|| Error::new(ErrorCode::GatewayNotFound))?;
    let keys = link
        .keys
        .clone()
        .ok_or_else(|| Error::new(ErrorCode::Internal).cause("gateway secret unusable"))?;
    Ok((link, keys))
}

/// Sets or clears one phone's own kill switch with the signed command it understands.
pub async fn set_gateway_kill_switch<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    gateway_id: &GatewayId,
    engaged: bool,
    reason: Option<String>,
) -> Result<wire::KillSwitchState, Error> {
    let (link, keys) = gateway_link(app, gateway_id).await?;
    let keys = &keys;
    let cmd = wire::KillSwitchCommand { engaged, reason };
    let unavailable = |why: String| {
        Error::msg(
            ErrorCode::GatewayUnavailable,
            "The phone did not confirm the command",
        )
        .cause(why)
    };
    // Only the phone's own signed answer says what its switch is now.
    let (status, body) = signed_exchange(
        &app.platform,
        &link.cfg,
        keys,
        app.cfg.gateway_timeout_ms,
        ("POST", wire::PATH_KILL_SWITCH),
        Some(&cmd),
        &ctx.request_id,
    )
    .await
    .map_err(unavailable)?;
    if !(200..300).contains(&status) {
        return Err(unavailable(format!("http {status}")));
    }
    let state: wire::KillSwitchState =
        serde_json::from_slice(&body).map_err(|e| unavailable(e.to_string()))?;
    // The fleet view read next (the operator's console re-reads it at once) must show the
    // switch as the phone now has it, not a probe taken before the command.
    app.probe_cache.clear();
    Ok(state)
}

/// The last `lines` lines of a phone's log (its signed `GET /logs`, digit runs masked by the
/// phone), for support.
pub async fn gateway_logs<P: Platform>(
    app: &App<P>,
    ctx: &Ctx,
    gateway_id: &GatewayId,
    lines: usize,
) -> Result<Vec<String>, Error> {
    let (link, keys) = gateway_link(app, gateway_id).await?;
    let unavailable = |why: String| {
        Error::msg(
            ErrorCode::GatewayUnavailable,
            "The phone did not answer with its log",
        )
        .cause(why)
    };
    let (status, body) = signed_exchange::<P, ()>(
        &app.platform,
        &link.cfg,
        &keys,
        app.cfg.gateway_timeout_ms,
        ("GET", wire::PATH_LOGS),
        None,
        &ctx.request_id,
    )
    .await
    .map_err(unavailable)?;
    let reply: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if !(200..300).contains(&status) {
        let code = reply["error"]["code"].as_str().unwrap_or_default();
        return Err(unavailable(format!("http {status} {code}")));
    }
    let all: Vec<String> = reply["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_str().map(str::to_string))
        .collect();
    Ok(all[all.len().saturating_sub(lines)..].to_vec())
}
