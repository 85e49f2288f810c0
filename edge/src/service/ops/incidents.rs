//! Operator incidents: their kinds, ids, and what an isolate remembers of them (`alerts` raises
//! and settles them).

use crate::service::cache::{TtlCell, TtlMap};
use crate::service::repo::alerts::AlertConfig;

pub use crate::service::repo::alerts::AlertKind;

impl AlertKind {
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
            AlertKind::Test => "test alert",
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
