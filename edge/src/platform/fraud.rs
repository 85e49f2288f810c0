//! The fraud guard's part of a tenant gate call (`GateAsk::fraud`, `GateAnswer::fraud`): what the
//! caller asks and what the gate answers. The rules themselves are in `service::abuse::fraud::rules`; these
//! types sit in the base layer because the gate's protocol (`platform`) carries them.

use serde::{Deserialize, Serialize};

/// How hard the guard looks (a tenant setting). Off tracks nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FraudLevel {
    Off,
    #[default]
    Standard,
    Strict,
}

/// One thing the guard watches: a destination prefix (`p:+33612`) or an end user's address
/// (`ip:` and a keyed hash of it, so the gate never holds the address itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watched {
    pub key: String,
    /// What an admin sees: the prefix, or the masked address (`203.0.113.*`).
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum FraudAsk {
    /// An OTP is about to go to `watched`: refused if one of them is blocked, or if this send
    /// would start a block; counted once the whole gate call lets it through.
    Send {
        level: FraudLevel,
        watched: Vec<Watched>,
    },
    /// A verification sent to these keys was approved.
    Approved { keys: Vec<String> },
    /// The blocks in force and the busiest watched keys.
    List,
    /// Lifts the block on `key`, or every block.
    Lift { key: Option<String> },
}

/// A block in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudBlock {
    pub key: String,
    pub label: String,
    pub level: FraudLevel,
    pub since_ms: i64,
    pub until_ms: i64,
    /// Sends and approvals in the hour that tripped it, and the sends it allowed then.
    pub sends: u32,
    pub approved: u32,
    pub threshold: u32,
}

/// A watched key's last hour, for the admin view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchedStats {
    pub key: String,
    pub label: String,
    pub sends: u32,
    pub approved: u32,
    /// Sends per hour over the day before the last two hours.
    pub baseline: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FraudAnswer {
    /// The block that refused this send.
    #[serde(default)]
    pub blocked: Option<FraudBlock>,
    /// This send started that block (the caller records and reports it).
    #[serde(default)]
    pub new_block: bool,
    /// `List`: every block in force; `Lift`: those lifted.
    #[serde(default)]
    pub blocks: Vec<FraudBlock>,
    /// `List`: the watched keys with the most sends in the last hour.
    #[serde(default)]
    pub busiest: Vec<WatchedStats>,
}
