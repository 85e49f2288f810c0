//! Stored records. Times are unix milliseconds; nothing secret is kept in clear (keys as SHA-256,
//! codes as HMAC).

use serde::{Deserialize, Serialize};

use super::keys::Role;
use super::ratelimit::RateRule;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CodeKind {
    #[default]
    Words,
    Digits,
}

/// Everything a tenant may tune. Defaults are the documented service defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    pub code_type: CodeKind,
    pub word_count: u8,
    pub digit_length: u8,
    pub ttl_secs: u32,
    pub max_checks: u32,
    pub max_sends: u32,
    pub send_window_secs: u32,
    pub locale: String,
    /// A custom SMS template with `{code}` (and optionally `{minutes}`, `{app}`).
    pub template: Option<String>,
    pub app_name: Option<String>,
    pub limits: RateLimits,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            code_type: CodeKind::Words,
            word_count: 1,
            digit_length: 6,
            ttl_secs: 300,
            max_checks: 5,
            max_sends: 5,
            send_window_secs: 600,
            locale: "en".into(),
            template: None,
            app_name: None,
            limits: RateLimits::default(),
        }
    }
}

/// Per-tenant request limits, each `limit` per `window_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// Per key and endpoint.
    pub per_endpoint: RateRule,
    /// Per client IP, across endpoints.
    pub per_ip: RateRule,
    /// Per destination phone for direct messages (OTP sends have `max_sends`).
    pub per_phone: RateRule,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_endpoint: RateRule {
                limit: 600,
                window_secs: 60,
            },
            per_ip: RateRule {
                limit: 300,
                window_secs: 60,
            },
            per_phone: RateRule {
                limit: 10,
                window_secs: 3600,
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    #[default]
    Active,
    Suspended,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub status: TenantStatus,
    /// Messages bought for the current period; the balance lives in the quota shards.
    pub quota_total: i64,
    /// End of the current period; 0 = no expiry.
    #[serde(default)]
    pub quota_expires_at: i64,
    #[serde(default)]
    pub contact_phone: Option<String>,
    #[serde(default)]
    pub settings: TenantSettings,
    /// Stops sending for this tenant only.
    #[serde(default)]
    pub kill_switch: bool,
    pub created_at: i64,
    #[serde(default)]
    pub updated_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub prefix: String,
    pub key_sha256: String,
    pub role: Role,
    /// Empty for admin keys.
    #[serde(default)]
    pub tenant_id: String,
    pub status: KeyStatus,
    /// After rotation the old key keeps working until this time; 0 = no end.
    #[serde(default)]
    pub expires_at: i64,
    pub created_at: i64,
    #[serde(default)]
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationStatus {
    Pending,
    Approved,
    Expired,
    /// Too many wrong checks.
    Exhausted,
    /// Replaced by a newer send, or its delivery failed.
    Canceled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationRecord {
    pub id: String,
    pub tenant_id: String,
    pub phone: String,
    pub code_hmac: String,
    pub code_kind: CodeKind,
    pub status: VerificationStatus,
    pub checks: u32,
    pub max_checks: u32,
    pub sends: u32,
    pub created_at: i64,
    pub expires_at: i64,
    #[serde(default)]
    pub verified_at: i64,
    pub message_ids: Vec<String>,
    pub request_id: String,
    /// The code sealed with the server key (AEAD, bound to the id) so a resend can repeat it; the
    /// clear code is never stored.
    pub code_sealed: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub id: String,
    pub tenant_id: String,
    pub kind: otp_shared::wire::MessageKind,
    /// Masked: the full number lives only in the gateway's queue.
    pub phone_masked: String,
    pub encoding: String,
    pub segments: u32,
    pub gateway_id: String,
    /// queued, sending, sent, failed, expired, unknown (the gateway did not answer in time).
    pub state: String,
    pub attempts: u32,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub request_id: String,
}

/// A stored response for an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub request_sha256: String,
    /// in_progress or done.
    pub state: String,
    pub status: u16,
    pub body: String,
    pub created_at: i64,
}

impl IdempotencyRecord {
    /// The claim a request writes before it runs.
    pub fn claim(fingerprint: &str, now: i64) -> Self {
        IdempotencyRecord {
            request_sha256: fingerprint.into(),
            state: "in_progress".into(),
            status: 0,
            body: String::new(),
            created_at: now,
        }
    }
}
