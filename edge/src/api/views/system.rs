//! The typed answers of the service's own routes: liveness, status, and the acknowledgements
//! of what phones and the paid provider post back.

use serde::Serialize;
use utoipa::ToSchema;

/// `ok`: the worker answers.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Alive {
    Ok,
}

/// What was built (set by scripts/build-worker.sh: the commit built and a digest of every input).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BuildInfo {
    #[schema(example = "8275720662ab")]
    pub commit: &'static str,
    pub source_sha256: &'static str,
    /// `wasm32` or `native`.
    #[schema(example = "wasm32")]
    pub target: &'static str,
    /// `release` or `debug`.
    #[schema(example = "release")]
    pub profile: &'static str,
}

/// What the worker is configured with.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthComponents {
    /// `firestore` or `firestore-emulator`.
    #[schema(example = "firestore")]
    pub store: &'static str,
    /// Phones configured statically (enrolled ones are not counted here).
    pub gateways: usize,
    pub kill_switch: bool,
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    pub status: Alive,
    #[schema(example = "0.1.0")]
    pub version: &'static str,
    pub build: BuildInfo,
    pub components: HealthComponents,
}

/// `ok`: the store and every phone answer; `degraded`: some phone does not; `down`: the store
/// or every phone does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    Ok,
    Degraded,
    Down,
}

/// The store's answer to a ping.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoreProbe {
    pub reachable: bool,
    pub latency_ms: i64,
}

/// One phone's answer to a probe (its name stays with admins).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GatewayProbe {
    pub reachable: bool,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceStatus {
    pub status: ServiceState,
    pub store: StoreProbe,
    pub gateways: Vec<GatewayProbe>,
}

/// `POST /internal/gateway/status`: the delivery reports taken.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportsTaken {
    pub received: usize,
    pub applied: usize,
    /// Reports of unknown messages, or older than the state already recorded.
    pub ignored: usize,
}

/// `POST /internal/gateway/inbound`: the SMS taken.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InboundTaken {
    pub received: usize,
    pub accepted: usize,
    /// Already recorded (the phone sent them again).
    pub duplicates: usize,
    /// Matched to a tenant (a reply to one of its messages, or a STOP/START).
    pub routed: usize,
}

/// `POST /v1/providers/twilio/status`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CallbackReceived {
    /// Always `true`.
    pub received: bool,
}
