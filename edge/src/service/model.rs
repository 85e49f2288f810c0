//! Stored records and their state machines. Times are unix milliseconds; nothing secret is kept in
//! clear (keys as SHA-256, codes as HMAC and sealed).

use otp_shared::ids::{GatewayId, MessageId, TenantId, UnixMs};
use serde::{Deserialize, Serialize};

use crate::platform::RateRule;
use crate::service::tenants::keys::{AdminRole, Role, Scope};

/// The kind of code: words from the curated list, or digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CodeKind {
    #[default]
    Words,
    Digits,
}

/// Everything a tenant may tune (every field optional; a JSON merge patch on update). Defaults
/// are the documented service defaults. The OpenAPI document's `TenantSettings` is derived from
/// this type, so a new setting is documented by adding it here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct TenantSettings {
    /// The default kind of code (a send may ask for the other): `words` (default) or `digits`.
    pub code_type: CodeKind,
    /// Words in a word code (default 2).
    #[schema(minimum = 1, maximum = 4)]
    pub word_count: u8,
    /// Digits in a digit code (default 6).
    #[schema(minimum = 4, maximum = 10)]
    pub digit_length: u8,
    /// How long a code is valid, seconds (default 300).
    #[schema(minimum = 30, maximum = 86400)]
    pub ttl_secs: u32,
    /// Checks one verification allows (default 5); with the code's length it must keep the
    /// guessing odds under the floor (`code_too_weak`).
    #[schema(minimum = 1, maximum = 20)]
    pub max_checks: u32,
    /// Sends (first and resends) one phone may get per `send_window_secs` (default 5).
    #[schema(minimum = 1, maximum = 50)]
    pub max_sends: u32,
    /// The window of `max_sends`, seconds (default 600).
    #[schema(minimum = 60, maximum = 86400)]
    pub send_window_secs: u32,
    /// Wrong checks one phone may take across all its verifications, per hour and per day.
    #[schema(minimum = 1, maximum = 1000)]
    pub max_failed_checks_per_hour: u32,
    /// At least `max_failed_checks_per_hour` (default 30).
    #[schema(minimum = 1, maximum = 10000)]
    pub max_failed_checks_per_day: u32,
    /// Language for numbers whose country has no built-in one (default `en`).
    #[schema(example = "en")]
    pub locale: String,
    /// How built-in texts read: `natural` (a personal-looking message) or `standard` (a code
    /// sentence); none: natural for word codes, standard for digits. A `template` wins over both.
    pub text_style: Option<otp_shared::templates::TextStyle>,
    /// A custom SMS template with `{code}` (and optionally `{minutes}`, `{app}`); refused unless
    /// its worst case fits one SMS.
    pub template: Option<String>,
    /// The app's name in standard texts and `{app}`.
    pub app_name: Option<String>,
    /// The host of the WebOTP line (`@host #code`, the last line of OTP texts), if wanted.
    #[schema(example = "example.com")]
    pub webotp_host: Option<String>,
    /// The Android app's SMS Retriever hash (11 characters), a line of OTP texts, if wanted.
    #[schema(example = "FA+9qCX9VSu")]
    pub app_hash: Option<String>,
    /// Request limits per endpoint, per client address and per destination phone.
    pub limits: RateLimits,
    /// Browser origins (`https://shop.example`) allowed to call the API with this tenant's key;
    /// none by default, so a key pasted into a web page is refused by browsers (`api::cors`).
    #[schema(max_items = 20, example = json!(["https://shop.example"]))]
    pub cors_origins: Vec<String>,
    /// Whether a number that replied STOP also stops getting codes. Off by default: a code the
    /// person asked for is a transactional message carriers let through after an opt-out.
    pub optout_blocks_otp: bool,
    /// VoIP numbers get SMS too (many receive them; they are also what bulk sign-up fraud uses).
    pub allow_voip: bool,
    /// Where SMS may go (`service::geo`).
    pub geo: crate::service::abuse::geo::GeoSettings,
    /// How hard the fraud guard looks (`service::abuse::fraud`).
    pub fraud_guard: crate::platform::fraud::FraudLevel,
    /// This tenant's weight in each phone's fair share of its pacing window (1 to 100; an equal
    /// share is 1).
    #[schema(minimum = 1, maximum = 100)]
    pub share_weight: u16,
    /// Codes a month that may go through the operator's paid SMS provider when no phone can
    /// deliver them (`messaging::fallback`); 0 (the default): never, the code is refused.
    #[schema(maximum = 1000000)]
    pub fallback_monthly_cap: u32,
}

impl Default for TenantSettings {
    fn default() -> Self {
        Self {
            code_type: CodeKind::Words,
            // Two words: 1 in ~1.5 million per verification with 5 checks (one word is ~11 bits).
            word_count: 2,
            digit_length: 6,
            ttl_secs: 300,
            max_checks: 5,
            max_sends: 5,
            send_window_secs: 600,
            max_failed_checks_per_hour: 10,
            max_failed_checks_per_day: 30,
            locale: "en".into(),
            text_style: None,
            template: None,
            app_name: None,
            webotp_host: None,
            app_hash: None,
            limits: RateLimits::default(),
            cors_origins: Vec::new(),
            optout_blocks_otp: false,
            allow_voip: false,
            geo: Default::default(),
            fraud_guard: Default::default(),
            share_weight: 1,
            fallback_monthly_cap: 0,
        }
    }
}

/// Per-tenant request limits, each `limit` per `window_secs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RateLimits {
    /// Per endpoint (all of the tenant's keys together).
    pub per_endpoint: RateRule,
    /// Per client IP, across endpoints.
    pub per_ip: RateRule,
    /// Per destination phone for direct messages (OTP sends have `max_sends`).
    pub per_phone: RateRule,
    /// A route's own limit, instead of `per_endpoint`: code sends, resends, checks and direct
    /// messages (each route of the group, and its seed and Twilio aliases, counted apart). None:
    /// `per_endpoint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send: Option<RateRule>,
    /// Resends' own limit (`POST /v1/otp/resend` and its seed alias); none: `per_endpoint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resend: Option<RateRule>,
    /// Checks' own limit (`POST /v1/otp/verify` and its aliases); none: `per_endpoint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<RateRule>,
    /// Direct messages' own limit (`POST /v1/messages` and its seed alias); none: `per_endpoint`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<RateRule>,
}

/// The routes whose limit a tenant can set apart from `per_endpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteLimit {
    Send,
    Resend,
    Verify,
    Messages,
}

impl RateLimits {
    /// The limit of one request to a route of `group` (none: a route with only `per_endpoint`).
    pub fn endpoint_rule(&self, group: Option<RouteLimit>) -> RateRule {
        let own = match group {
            Some(RouteLimit::Send) => self.send,
            Some(RouteLimit::Resend) => self.resend,
            Some(RouteLimit::Verify) => self.verify,
            Some(RouteLimit::Messages) => self.messages,
            None => None,
        };
        own.unwrap_or(self.per_endpoint)
    }

    /// Every rule with its settings name, for validation.
    pub fn named(&self) -> Vec<(&'static str, RateRule)> {
        let mut v = vec![
            ("per_endpoint", self.per_endpoint),
            ("per_ip", self.per_ip),
            ("per_phone", self.per_phone),
        ];
        for (n, r) in [
            ("send", self.send),
            ("resend", self.resend),
            ("verify", self.verify),
            ("messages", self.messages),
        ] {
            v.extend(r.map(|r| (n, r)));
        }
        v
    }
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
            send: None,
            resend: None,
            verify: None,
            messages: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    #[default]
    Active,
    Suspended,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: TenantId,
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

impl Tenant {
    /// An active tenant with no quota, no contact and the default settings.
    pub fn new(id: String, name: String, now: i64) -> Self {
        Tenant {
            id: id.into(),
            name,
            status: TenantStatus::Active,
            quota_total: 0,
            quota_expires_at: 0,
            contact_phone: None,
            settings: TenantSettings::default(),
            kill_switch: false,
            created_at: now,
            updated_at: now,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    pub tenant_id: TenantId,
    pub status: KeyStatus,
    /// The key stops working at this time (after a rotation's grace period, or an admin key's
    /// chosen lifetime); 0 = no end.
    #[serde(default)]
    pub expires_at: i64,
    pub created_at: i64,
    #[serde(default)]
    pub label: String,
    /// An admin key's role; none (keys made before roles) is an owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_role: Option<AdminRole>,
    /// A tenant key's scopes; none (every key made before scopes, a tenant's first key) is all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<Scope>,
    /// The admin key that replaced this one: a rotated key works out its grace period but is not
    /// rotated again (two rotations, however far apart, make one new key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
}

impl ApiKeyRecord {
    pub fn admin_role(&self) -> AdminRole {
        self.admin_role.unwrap_or_default()
    }

    pub fn live(&self, now_ms: i64) -> bool {
        self.status == KeyStatus::Active && (self.expires_at == 0 || self.expires_at > now_ms)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VerificationStatus {
    Pending,
    Approved,
    Expired,
    /// Too many wrong checks.
    Exhausted,
    /// Its delivery failed.
    Canceled,
}

impl VerificationStatus {
    /// Approved, exhausted, expired and canceled never change again.
    pub fn is_final(self) -> bool {
        self != VerificationStatus::Pending
    }
}

/// Wrong checks one phone took, across its verifications, in fixed windows that start at the first
/// failure: an attacker who restarts a verification after using up its checks keeps his count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct FailureWindow {
    pub hour_start: i64,
    pub hour: u32,
    pub day_start: i64,
    pub day: u32,
}

impl FailureWindow {
    const HOUR_MS: i64 = 3_600_000;
    const DAY_MS: i64 = 86_400_000;

    pub fn is_empty(&self) -> bool {
        *self == FailureWindow::default()
    }

    /// The window as it stands at `now` (expired windows read as empty).
    pub fn current(self, now: i64) -> Self {
        let mut w = self;
        if now - w.hour_start >= Self::HOUR_MS {
            (w.hour_start, w.hour) = (0, 0);
        }
        if now - w.day_start >= Self::DAY_MS {
            (w.day_start, w.day) = (0, 0);
        }
        w
    }

    /// Seconds until a wrong check is allowed again, if a cap is reached.
    pub fn locked_for(self, now: i64, per_hour: u32, per_day: u32) -> Option<u64> {
        let w = self.current(now);
        let until = if w.day >= per_day {
            w.day_start + Self::DAY_MS
        } else if w.hour >= per_hour {
            w.hour_start + Self::HOUR_MS
        } else {
            return None;
        };
        Some(((until - now).max(1000) / 1000) as u64)
    }

    pub fn record_failure(self, now: i64) -> Self {
        let mut w = self.current(now);
        if w.hour == 0 {
            w.hour_start = now;
        }
        if w.day == 0 {
            w.day_start = now;
        }
        w.hour += 1;
        w.day += 1;
        w
    }
}

/// The live verification of one phone for one tenant, stored at `verifications/{slot}` (see
/// `Secrets::verification_slot`): a send replaces it, so a lookup by phone or by id is one read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationRecord {
    /// `ver_{slot}{6 random}`: the slot is in the id, so a lookup by id is one read too.
    pub id: String,
    pub tenant_id: TenantId,
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
    /// Kept across verifications of the phone: a send writes every other field and leaves this.
    #[serde(default, skip_serializing_if = "FailureWindow::is_empty")]
    pub phone_failures: FailureWindow,
    /// The fraud guard's key of the end user it was sent for (a keyed hash, never the
    /// address), so an approval credits them. Always written (a new send's merge must clear
    /// the one before).
    #[serde(default)]
    pub end_user: Option<String>,
    /// A reverse verification (`channel: reverse`): the pool number the user texts. Always
    /// written, null for a code sent by SMS (a new send's merge must clear the one before).
    #[serde(default)]
    pub reverse: Option<ReverseTarget>,
}

/// Where the user of a reverse verification texts its words: a phone of the pool and its number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReverseTarget {
    pub gateway_id: GatewayId,
    pub number: String,
}

/// Where a message is. States only move forward; `Unknown` (the hand-off's answer was lost) can
/// become anything the phone reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Queued,
    Sending,
    Sent,
    Failed,
    Expired,
    Unknown,
}

impl DeliveryState {
    fn rank(self) -> u8 {
        match self {
            DeliveryState::Unknown => 0,
            DeliveryState::Queued => 1,
            DeliveryState::Sending => 2,
            DeliveryState::Sent | DeliveryState::Failed | DeliveryState::Expired => 3,
        }
    }

    /// Whether a report of `next` may replace this state.
    pub fn may_become(self, next: DeliveryState) -> bool {
        next.rank() > self.rank()
    }

    pub fn is_final(self) -> bool {
        self.rank() == 3
    }

    pub fn from_wire(s: otp_shared::wire::MessageState) -> Self {
        use otp_shared::wire::MessageState as W;
        match s {
            W::Queued => DeliveryState::Queued,
            W::Sending => DeliveryState::Sending,
            W::Sent => DeliveryState::Sent,
            W::Failed => DeliveryState::Failed,
            W::Expired => DeliveryState::Expired,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub id: MessageId,
    pub tenant_id: TenantId,
    pub kind: otp_shared::wire::MessageKind,
    /// Masked: the full number lives only in the gateway's queue.
    pub phone_masked: String,
    /// The number's keyed tag (`Secrets::phone_tag`), so the message log finds a number's
    /// messages without storing it (absent on records from before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_tag: Option<String>,
    pub encoding: String,
    pub segments: u32,
    pub gateway_id: GatewayId,
    pub state: DeliveryState,
    pub attempts: u32,
    pub error: Option<String>,
    pub created_at: UnixMs,
    pub updated_at: UnixMs,
    pub request_id: String,
    /// The verification an OTP message delivers: a reroute finds the code through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_id: Option<String>,
    /// The phone never sends it after this (unix ms; 0 on records from before it was kept).
    #[serde(default)]
    pub deadline_ms: UnixMs,
    /// When the scheduled job asks its phone about it if it has no final state by then
    /// (`fleet::stuck`; unix ms, 0 = never).
    #[serde(default)]
    pub check_after: UnixMs,
    /// Why it failed, as the phone classified it (`wire::FailureClass`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_class: Option<otp_shared::wire::FailureClass>,
    /// The failed message this one delivers again through another phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reroute_of: Option<String>,
    /// The message that delivers this one again, once this one failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerouted_to: Option<String>,
    /// Phones that failed this code before: a reroute never goes back to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub avoid_gateways: Vec<String>,
    /// Which way it went: none for a phone, `provider:twilio` for the paid fallback
    /// (`messaging::fallback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The provider's side of a fallback message: its id, status, price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderLeg>,
    /// What an OTP text counts under for conversion (country, prefix, template/locale).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conv: Option<crate::service::ops::conversion::ConvTags>,
}

/// A message sent through the paid fallback, as the provider reported it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProviderLeg {
    /// The provider's message id (Twilio's `SM...` sid); none when it refused the message.
    #[serde(default)]
    pub sid: Option<String>,
    /// The provider's own status word (`queued`, `sent`, `delivered`, `undelivered`, ...).
    pub status: String,
    /// What it cost, as the provider writes it (Twilio: "-0.00750", a charge), and its unit.
    #[serde(default)]
    pub price: Option<String>,
    #[serde(default)]
    pub price_unit: Option<String>,
    /// The provider's error code (Twilio's 21211, 21610, 30003, ...).
    #[serde(default)]
    pub error_code: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdempotencyState {
    InProgress,
    Done,
}

/// A stored response for an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub request_sha256: String,
    pub state: IdempotencyState,
    pub status: u16,
    /// The answer, sealed (some carry a secret shown once, such as a new API key).
    pub body: String,
    pub created_at: i64,
}

impl IdempotencyRecord {
    /// The claim a request writes before (or with) its first change.
    pub fn claim(fingerprint: &str, now: i64) -> Self {
        IdempotencyRecord {
            request_sha256: fingerprint.into(),
            state: IdempotencyState::InProgress,
            status: 0,
            body: String::new(),
            created_at: now,
        }
    }
}

/// For `#[serde(skip_serializing_if = "is_zero")]`: a run's summary leaves out the counts that are zero.
pub fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_states_only_move_forward() {
        use DeliveryState::*;
        assert!(Queued.may_become(Sent));
        assert!(Unknown.may_become(Queued));
        assert!(!Sent.may_become(Queued));
        assert!(!Sent.may_become(Failed));
        assert!(!Sending.may_become(Sending));
    }

    #[test]
    fn failure_windows_lock_and_reopen() {
        let t0 = 1_000_000_000_000;
        let mut w = FailureWindow::default();
        for i in 0..10 {
            assert_eq!(w.locked_for(t0 + i, 10, 30), None);
            w = w.record_failure(t0 + i);
        }
        let wait = w
            .locked_for(t0 + 60_000, 10, 30)
            .expect("locked after 10 in an hour");
        assert!((3500..=3600).contains(&wait), "{wait}");
        // An hour after the first failure the hourly window reopens; the daily count stays.
        assert_eq!(w.locked_for(t0 + 3_600_000, 10, 30), None);
        assert_eq!(w.current(t0 + 3_600_000).day, 10);
        for h in 1..3 {
            for i in 0..10 {
                w = w.record_failure(t0 + h * 3_600_000 + i);
            }
        }
        assert!(
            w.locked_for(t0 + 3 * 3_600_000, 10, 30).unwrap() > 3600,
            "the day cap holds"
        );
        assert_eq!(w.locked_for(t0 + 86_400_000, 10, 30), None);
    }

    #[test]
    fn an_empty_window_is_not_written() {
        let v = serde_json::to_value(FailureWindow::default()).unwrap();
        assert_eq!(v["hour"], 0);
        assert!(FailureWindow::default().is_empty());
    }
}
