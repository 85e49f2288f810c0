//! `GET /health` (public, cheap, no store call) and `GET /v1/status` (a tenant's view: is the store
//! up, can messages go out; the fleet's names and health stay with admins).

use crate::api::views::system::{
    Alive, BuildInfo, GatewayProbe, Health, HealthComponents, ServiceState, ServiceStatus,
    StoreProbe,
};

use super::Call;
use crate::api::http::ApiResponse;
use crate::api::render::ok;
use crate::error::Error;
use crate::platform::Platform;
use crate::service::app::App;
use crate::service::fleet::links;

pub fn health<P: Platform>(app: &App<P>) -> ApiResponse {
    let health = Health {
        status: Alive::Ok,
        version: env!("CARGO_PKG_VERSION"),
        // Set by scripts/build-worker.sh: the commit built and a digest of every input.
        build: BuildInfo {
            commit: option_env!("OTP_BUILD_COMMIT").unwrap_or("dev"),
            source_sha256: option_env!("OTP_BUILD_SOURCE").unwrap_or("dev"),
            target: if cfg!(target_arch = "wasm32") {
                "wasm32"
            } else {
                "native"
            },
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
        },
        components: HealthComponents {
            store: if app.cfg.firestore_emulator_host.is_some() {
                "firestore-emulator"
            } else {
                "firestore"
            },
            gateways: app.cfg.gateways.len(),
            kill_switch: app.cfg.kill_switch,
        },
    };
    ApiResponse::json(200, &health)
}

pub async fn status<P: Platform>(app: &App<P>, c: &Call<'_>) -> Result<ApiResponse, Error> {
    let p = &app.platform;
    let started = p.now_ms();
    let store = app.repo().ping().await;
    let store_ms = p.now_ms() - started;
    let probes = links::gateway_probes(app).await;
    let reachable = probes.iter().filter(|g| g.reachable).count();
    let status = match (store.is_ok(), reachable) {
        (true, n) if n == probes.len() => ServiceState::Ok,
        (false, _) | (_, 0) => ServiceState::Down,
        _ => ServiceState::Degraded,
    };
    let data = ServiceStatus {
        status,
        store: StoreProbe {
            reachable: store.is_ok(),
            latency_ms: store_ms,
        },
        gateways: probes
            .iter()
            .map(|g| GatewayProbe {
                reachable: g.reachable,
            })
            .collect(),
    };
    Ok(ok(200, data, c.ctx))
}
