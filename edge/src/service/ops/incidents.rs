//! Operator incidents: their kinds, ids, and what an isolate remembers of them (`alerts` raises
//! and settles them).

use serde::{Deserialize, Serialize};

use crate::service::cache::{TtlCell, TtlMap};
use crate::service::repo::alerts::AlertConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    PhoneDown,
    KillSwitchTripped,
    SimAtLimit,
    SimResting,
    StoreUnreachable,
    FraudBlock,
    WebhookDisabled,
    StuckMessages,
    CanaryMissed,
    /// A SIM's codes are verified far less than its peers' (`fleet::converting`).
    LowConversion,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::PhoneDown => "phone_down",
            AlertKind::KillSwitchTripped => "kill_switch_tripped",
            AlertKind::SimAtLimit => "sim_at_limit",
            AlertKind::SimResting => "sim_resting",
            AlertKind::StoreUnreachable => "store_unreachable",
            AlertKind::FraudBlock => "fraud_block",
            AlertKind::WebhookDisabled => "webhook_disabled",
            AlertKind::StuckMessages => "stuck_messages",
            AlertKind::CanaryMissed => "canary_missed",
            AlertKind::LowConversion => "low_conversion",
        }
    }

    /// Kinds whose raiser tells each occurrence once and nobody clears (a fraud-guard block lifts
    /// by itself): every raise is an incident of its own.
    pub fn per_occurrence(self) -> bool {
        matches!(self, AlertKind::FraudBlock)
    }

    /// What an operator reads first.
    pub fn headline(self) -> &'static str {
        match self {
            AlertKind::PhoneDown => "phone not reachable",
            AlertKind::KillSwitchTripped => "phone's kill switch engaged",
            AlertKind::SimAtLimit => "SIM at its pacing limit",
            AlertKind::SimResting => "SIM resting",
            AlertKind::StoreUnreachable => "data store unreachable from the scheduled job",
            AlertKind::FraudBlock => "fraud guard blocked traffic",
            AlertKind::WebhookDisabled => "tenant webhook endpoint disabled",
            AlertKind::StuckMessages => "messages stuck",
            AlertKind::CanaryMissed => "canary SMS missed",
            AlertKind::LowConversion => "SIM's codes are rarely verified (routed last)",
        }
    }
}

/// What an isolate knows without reading: the configuration (a minute) and the incidents it saw
/// open or closed (five minutes), so a condition that holds for hours costs no store read per check.
#[derive(Debug, Default)]
pub struct AlertCache {
    pub config: TtlCell<AlertConfig>,
    pub known: TtlMap<bool>,
}

pub const CONFIG_CACHE_MS: i64 = 60_000;
pub const KNOWN_MS: i64 = 300_000;
/// The incident of an unreachable store lives in this gate (a Durable Object), not in the store.
pub const LATCH_GATE: &str = "ops-alerts";

pub fn incident_id(kind: AlertKind, subject: &str) -> String {
    let clean: String = subject
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    format!("{}_{clean}", kind.as_str())
}
