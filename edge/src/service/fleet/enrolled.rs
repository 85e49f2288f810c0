//! An enrolled phone as stored (its keys sealed, bound to its id), its one-time tokens, and the
//! link the edge sends to it through. `enrol` changes them; `roster` lists them.

use otp_shared::ids::GatewayId;
use std::collections::BTreeMap;

use otp_shared::wire::Keys;
use serde::{Deserialize, Serialize};

use crate::config::GatewayConfig;
use crate::service::fleet::gateway::GatewayLink;
use crate::service::sealing;
use crate::service::secrets::Secrets;

/// A one-time enrolment token as stored (under its hash).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EnrolToken {
    /// The id the phone will get (the operator's choice), or a generated one.
    #[serde(default)]
    pub gateway_id: Option<GatewayId>,
    #[serde(default)]
    pub label: String,
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub used_at: Option<i64>,
    /// The phone it enrolled.
    #[serde(default)]
    pub enrolled: Option<GatewayId>,
    /// An operator revoked it before any phone used it (a command pasted where it should not be).
    #[serde(default)]
    pub revoked_at: Option<i64>,
    #[serde(default)]
    pub revoked_by: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneStatus {
    #[default]
    Active,
    Retired,
}

/// A phone that enrolled itself. Its keys are stored sealed only.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EnrolledPhone {
    pub id: GatewayId,
    #[serde(default)]
    pub label: String,
    /// Empty until the phone registers one.
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub numbers: BTreeMap<String, String>,
    #[serde(default)]
    pub status: PhoneStatus,
    #[serde(default)]
    pub key_sealed: String,
    /// A rotation pushed but not yet confirmed.
    #[serde(default)]
    pub pending_key_sealed: Option<String>,
    /// The key before the last rotation, accepted on callbacks until `previous_until` (ms).
    #[serde(default)]
    pub previous_key_sealed: Option<String>,
    #[serde(default)]
    pub previous_until: i64,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub enrolled_at: i64,
    /// The signed timestamp (unix seconds) of the last registration accepted.
    #[serde(default)]
    pub registered_at: u64,
    #[serde(default)]
    pub key_rotated_at: Option<i64>,
    #[serde(default)]
    pub retired_at: Option<i64>,
}

pub(crate) fn open_secret(secrets: &Secrets, id: &str, sealed: &str) -> Option<String> {
    sealing::open(&secrets.seal, &aad(id), sealed)
}

pub(crate) fn aad(id: &str) -> String {
    format!("enrolled_phones/{id}")
}

/// The keys of a phone that the edge accepts on its signed requests, current first: the pending
/// key (the phone may have it), then the previous one while its grace lasts.
pub struct PhoneKeys {
    pub current: Option<Keys>,
    pub pending: Option<Keys>,
    pub previous: Option<Keys>,
}

pub(crate) fn keys_of(secrets: &Secrets, p: &EnrolledPhone, now_ms: i64) -> PhoneKeys {
    let open =
        |s: &str| open_secret(secrets, &p.id, s).and_then(|secret| Keys::from_secret(&secret).ok());
    PhoneKeys {
        current: open(&p.key_sealed),
        pending: p.pending_key_sealed.as_deref().and_then(open),
        previous: p
            .previous_key_sealed
            .as_deref()
            .filter(|_| p.previous_until > now_ms)
            .and_then(open),
    }
}

/// The link the edge sends to an enrolled phone through (None: retired, no URL yet, or its
/// key cannot be opened).
pub(crate) fn link_of(secrets: &Secrets, p: &EnrolledPhone, now_ms: i64) -> Option<GatewayLink> {
    if p.status != PhoneStatus::Active || p.url.is_empty() {
        return None;
    }
    let keys = keys_of(secrets, p, now_ms);
    let current = keys.current?;
    Some(GatewayLink {
        cfg: GatewayConfig {
            id: p.id.clone(),
            url: p.url.clone(),
            secret: String::new(),
            sim_slot: None,
            numbers: p.numbers.clone(),
        },
        keys: Some(current),
        also: keys.pending.into_iter().chain(keys.previous).collect(),
    })
}
