//! `GET /health` (public, cheap) and `GET /v1/status` (authenticated: probes the store and every
//! gateway and reports latency).

use serde_json::json;

use super::app::{ok_json, App, Ctx};
use super::error::ApiError;
use super::http::ApiResponse;
use crate::platform::Platform;
use crate::service::gateway;

pub fn health<P: Platform>(app: &App<P>) -> ApiResponse {
    ApiResponse::json(
        200,
        &json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "components": {
                "store": if app.cfg.firestore_emulator_host.is_some() { "firestore-emulator" } else { "firestore" },
                "gateways": app.cfg.gateways.len(),
                "kill_switch": app.cfg.kill_switch,
            },
        }),
    )
}

pub async fn status<P: Platform>(app: &App<P>, ctx: &Ctx) -> Result<ApiResponse, ApiError> {
    let p = &app.platform;
    let started = p.now_ms();
    let store = app.repo.ping(app).await;
    let store_ms = p.now_ms() - started;
    let mut gateways = Vec::new();
    for g in &app.cfg.gateways {
        gateways.push(gateway::probe(p, g, app.cfg.gateway_timeout_ms.min(3000)).await);
    }
    let all_ok = store.is_ok() && gateways.iter().all(|g| g.reachable);
    let data = json!({
        "status": if all_ok { "ok" } else { "degraded" },
        "store": {"reachable": store.is_ok(), "latency_ms": store_ms, "error": store.err().map(|e| e.message)},
        "gateways": gateways,
    });
    Ok(ok_json(200, data, ctx))
}
