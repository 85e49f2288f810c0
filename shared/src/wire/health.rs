//! Health, capacity, the kill switch and the error body shared by gateway and edge.

use serde::{Deserialize, Serialize};

use super::*;

/// `POST /v1/kill-switch` plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitchCommand {
    pub engaged: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Reply to `POST /v1/kill-switch`: the effective state after the command (a file flag may keep it on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitchState {
    pub engaged: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Reply to a bare (unsigned) `GET /health`: that the gateway is up, nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Liveness {
    pub status: String,
    pub version: String,
}

/// Reply to a signed `GET /health` (never file paths, numbers or texts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
    pub queue_depth: u64,
    pub kill_switch: bool,
    #[serde(default)]
    pub kill_switch_reason: Option<String>,
    /// "sent", "failed" or "none".
    pub last_send: String,
    pub capacity: Capacity,
    /// Battery, network and storage, from Termux:API (absent from older gateways).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceHealth>,
    /// Each SIM the gateway sends with, and what its budgets leave.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sims: Vec<SimHealth>,
    /// How the last send attempts went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent_sends: Option<RecentSends>,
    /// Hand-offs of a message id this phone already had, since it started (each one a second
    /// send the id stopped).
    #[serde(default)]
    pub duplicates: u64,
}

/// The phone itself, as Termux:API last reported it. `None`: not known (the program is missing
/// or said nothing usable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHealth {
    pub battery_percent: Option<u8>,
    /// Plugged in (AC, USB or wireless).
    pub charging: Option<bool>,
    /// Data network type as Android names it (`lte`, `nr`, `umts`, `unknown`...).
    pub network_type: Option<String>,
    /// Signal level 0 (none) to 4 (great) of the registered cell.
    pub signal_level: Option<u8>,
    pub signal_dbm: Option<i32>,
    /// The default SIM's state (`ready`, `absent`, `pin_required`...).
    pub sim_state: Option<String>,
    /// Free space where the queue lives, in MiB.
    pub free_storage_mb: Option<u64>,
    /// Unix seconds of the reading.
    pub checked_at: u64,
}

/// One SIM's budgets: the pacing window, the day's cap, the plan's distinct recipients, and
/// whether it rests (a limit or a run of failures).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimHealth {
    /// The slot (`None`: the phone's default SIM).
    pub slot: Option<u8>,
    pub window_limit: u32,
    pub window_used: u32,
    /// Sends per calendar day (None: no cap).
    pub daily_limit: Option<u32>,
    pub daily_used: u32,
    /// Unix seconds when the day's count starts again.
    pub day_resets_at: u64,
    /// Distinct recipients per plan period (None: no cap).
    pub monthly_recipients_limit: Option<u32>,
    pub monthly_recipients_used: u32,
    /// Unix seconds when the plan period starts again.
    pub plan_resets_at: u64,
    /// Unix seconds until which the SIM rests, and why (a failure class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resting_until: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_reason: Option<FailureClass>,
    /// Generic failures in a row on this SIM.
    pub generic_failures: u32,
}

impl SimHealth {
    /// No more sends today or no new recipient this period.
    pub fn at_limit(&self) -> bool {
        self.daily_limit.is_some_and(|l| self.daily_used >= l)
            || self
                .monthly_recipients_limit
                .is_some_and(|l| self.monthly_recipients_used >= l)
    }

    /// `Some(name)`: the SIM is out of this budget ("daily" or "monthly_recipients").
    pub fn limit_reached(&self) -> Option<&'static str> {
        if self.daily_limit.is_some_and(|l| self.daily_used >= l) {
            Some("daily")
        } else if self
            .monthly_recipients_limit
            .is_some_and(|l| self.monthly_recipients_used >= l)
        {
            Some("monthly_recipients")
        } else {
            None
        }
    }
}

/// The last send attempts (at most 20): how many failed, and the current run of failures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentSends {
    pub attempts: u32,
    pub failed: u32,
    pub consecutive_failures: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// Sends allowed per SIM per pacing window.
    pub per_sim_window: u32,
    /// Sends in the current window, all SIMs together.
    pub used: u32,
}

/// `{"error":{"code":..,"message":..}}` body shared by gateway and edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message: message.into(),
            },
        }
    }
}
