//! The fleet's own records: what the scheduled job last learned of each phone (`fleet/{gateway}`)
//! and each canary text (`canaries/{sha256(token)}`).

use otp_shared::ids::GatewayId;
use otp_shared::wire::Health;
use serde::{Deserialize, Serialize};

/// `fleet/{gateway_id}`: a phone as the scheduled job last saw it, and what the edge makes of it.
/// The job writes the probe's half, the canaries their half (field masks: neither undoes the other).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhoneRecord {
    pub gateway_id: GatewayId,
    /// Unix ms of the last probe.
    pub checked_at: i64,
    pub reachable: bool,
    pub error: Option<String>,
    pub health: Option<Health>,
    /// Why the edge offers messages to this phone only after the others (`standing::avoid_reasons`).
    pub avoid: Vec<AvoidReason>,
    /// Set by a missed canary; cleared by one that proves the same side again.
    pub degraded: Option<Degraded>,
    /// The alerts raised for this phone and not cleared (`kind:subject`).
    pub alerts: Vec<String>,
    pub canary: CanaryStats,
    /// Routed last because its codes are verified far less than its peers' (`fleet::converting`).
    pub low_conversion: Option<LowConversion>,
    /// The window's figures when a canary ended a demotion: the phone is judged on what came
    /// after, while the window still holds what came before.
    pub conversion_base: Option<ConversionBase>,
    /// When a canary this phone sent last arrived (unix ms; 0 = never).
    pub send_proven_at: i64,
}

/// A SIM demoted for its conversion, and the figures that showed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LowConversion {
    /// `phone-1/default`, `phone-1/sim0`.
    pub sim: String,
    pub since: i64,
    pub sent: i64,
    pub verified: i64,
    pub conversion: Option<f64>,
    pub pool_median: Option<f64>,
    pub window_hours: u32,
    pub min_codes: u32,
}

/// A phone's figures in a window (named by its first hour) at some moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversionBase {
    pub window_start: String,
    pub sent: i64,
    pub verified: i64,
}

/// A phone whose texts (or whose inbox) a canary could not prove.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Degraded {
    pub reason: String,
    /// `send`: its canary was not sent; `receive`: a canary sent to it did not arrive.
    pub role: CanaryRole,
    pub since: i64,
    /// The canary that showed it.
    pub canary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CanaryRole {
    Send,
    Receive,
}

/// The last canaries this phone sent and received (unix ms; 0 = never).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CanaryStats {
    pub last_sent_at: i64,
    pub last_received_at: i64,
    pub last_missed_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CanaryState {
    /// Handed to the sending phone; waiting for the text to arrive.
    Sent,
    /// The sending phone did not take it (kill switch, no capacity, unreachable).
    Refused,
    Received,
    /// Not received in time.
    Missed,
    /// Received after it was counted missed.
    Late,
}

/// `canaries/{sha256(token)}`: one text from one phone's SIM to another's, which must arrive.
/// The token itself is never stored: the inbound path finds the record by its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanaryRecord {
    pub message_id: String,
    pub from_gateway: GatewayId,
    pub from_slot: Option<u8>,
    pub to_gateway: GatewayId,
    pub to_slot: Option<u8>,
    pub state: CanaryState,
    pub sent_at: i64,
    /// Missed if not received by then.
    pub expected_by: i64,
    #[serde(default)]
    pub received_at: i64,
    #[serde(default)]
    pub note: Option<String>,
}

/// Why a phone is offered messages only after the others (`standing::avoid_reasons`, plus a
/// missed canary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AvoidReason {
    Unreachable,
    KillSwitch,
    LowBattery,
    NoSignal,
    Failing,
    NoSimAvailable,
    CanaryMissed,
    /// Its codes are verified far less than its peers' (`fleet::converting`).
    LowConversion,
}

/// Gateway id -> why it is routed last (empty: it is not).
pub type Standings = std::collections::HashMap<otp_shared::ids::GatewayId, Vec<AvoidReason>>;
