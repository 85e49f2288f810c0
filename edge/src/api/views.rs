//! The typed answers of the main routes: each handler builds one of these and the OpenAPI document
//! derives its schema from the same type (`schemas::named`), so a field cannot be answered
//! without being documented, nor documented without being answered.

pub mod admin;
pub mod compat;
pub mod insights;
pub mod system;

use otp_shared::ids::{GatewayId, MessageId};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::platform::iso8601;
use crate::service::model::{
    ApiKeyRecord, CodeKind, DeliveryState, KeyStatus, Tenant, TenantSettings, TenantStatus,
};
use crate::service::otp::Sent;
use crate::service::tenants::keys::{Role, Scope};

/// `pending`: a code is out and not yet checked.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Pending {
    Pending,
}

/// `approved`: the code was right.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Approved {
    Approved,
}

/// The message that carries a code, as just handed to a phone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    #[schema(example = "msg_01jd9")]
    pub message_id: MessageId,
    /// `queued`, or `unknown` when the phone's answer was lost (it is asked again).
    pub state: DeliveryState,
    #[schema(example = "phone-1")]
    pub gateway_id: GatewayId,
    /// `phone`, or `provider:twilio` when no phone could take it and the tenant opted in to the
    /// paid fallback.
    #[schema(example = "phone")]
    pub channel: String,
}

/// `POST /v1/otp/send` and `/v1/otp/resend`: the verification now pending.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OtpSent {
    #[schema(example = "ver_0123456789abcdefghjkz9y8x7")]
    pub id: String,
    /// E.164.
    #[schema(example = "+14155550123")]
    pub phone: String,
    pub status: Pending,
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// Seconds until `expires_at`.
    pub expires_in: u64,
    /// Sends of this code so far (the first and the resends).
    #[schema(minimum = 1)]
    pub sends: u32,
    pub delivery: Delivery,
}

impl OtpSent {
    pub fn of(sent: &Sent, now_ms: i64) -> OtpSent {
        let v = &sent.verification;
        OtpSent {
            id: v.id.clone(),
            phone: v.phone.clone(),
            status: Pending::Pending,
            expires_at: iso8601(v.expires_at),
            expires_in: ((v.expires_at - now_ms) / 1000).max(0) as u64,
            sends: v.sends,
            delivery: Delivery {
                message_id: sent.message_id.clone(),
                state: sent.delivery_state,
                gateway_id: sent.gateway_id.clone(),
                channel: sent.channel.clone(),
            },
        }
    }
}

/// `reverse`: the user texts the code to the service instead.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReverseChannel {
    Reverse,
}

/// Where the user of a reverse verification texts which words (shown here only).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReverseTarget {
    /// The pool's number to text.
    #[schema(example = "+14155550100")]
    pub to: String,
    #[schema(example = "forest river")]
    pub text: String,
    /// A tap on a phone opens its messages app with both filled in (RFC 5724).
    #[schema(example = "sms:+14155550100?body=forest%20river")]
    pub sms_uri: String,
}

/// `POST /v1/otp/send` with `channel: reverse`: nothing sent yet; the user texts the words.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReverseStarted {
    pub id: String,
    pub phone: String,
    pub status: Pending,
    pub channel: ReverseChannel,
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub expires_in: u64,
    /// Always 0: the service sends nothing.
    #[schema(minimum = 0, maximum = 0)]
    pub sends: u32,
    pub reverse: ReverseTarget,
}

impl ReverseStarted {
    pub fn of(started: &crate::service::otp::reverse::Started, now_ms: i64) -> ReverseStarted {
        let v = &started.verification;
        let to = v
            .reverse
            .as_ref()
            .map(|r| r.number.as_str())
            .unwrap_or_default();
        ReverseStarted {
            id: v.id.clone(),
            phone: v.phone.clone(),
            status: Pending::Pending,
            channel: ReverseChannel::Reverse,
            expires_at: iso8601(v.expires_at),
            expires_in: ((v.expires_at - now_ms) / 1000).max(0) as u64,
            sends: 0,
            reverse: ReverseTarget {
                to: to.to_string(),
                text: started.text.clone(),
                sms_uri: format!("sms:{to}?body={}", started.text.replace(' ', "%20")),
            },
        }
    }
}

/// `POST /v1/otp/verify`: the code was right.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OtpVerified {
    #[schema(example = "ver_0123456789abcdefghjkz9y8x7")]
    pub id: String,
    #[schema(example = "+14155550123")]
    pub phone: String,
    pub status: Approved,
    #[schema(format = DateTime)]
    pub verified_at: String,
}

/// The caller's quota in this period.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QuotaView {
    pub total: i64,
    pub used: i64,
    pub remaining: i64,
    /// The period's end; none: it does not end.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

/// The paid fallback this month (UTC): codes the provider took against the tenant's cap, and what
/// the provider reported they cost.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FallbackSpend {
    /// Codes a month the provider may carry (`settings.fallback_monthly_cap`); 0: never.
    pub monthly_cap: u32,
    /// `YYYY-MM` (UTC).
    #[schema(example = "2026-12")]
    pub month: String,
    /// Codes the provider took (or may have taken) this month.
    pub sent: u32,
    /// Codes the cap still allows this month.
    pub remaining: u32,
    /// The prices the provider reported, summed, in its account's currency (each message's
    /// `provider.price_unit`). A price arrives with the message's final status.
    #[schema(example = "0.015800")]
    pub cost: String,
}

impl FallbackSpend {
    pub fn of(monthly_cap: u32, u: &crate::service::repo::fallback::FallbackUsage) -> Self {
        // `M202612` -> `2026-12`.
        let digits = u.month.trim_start_matches('M');
        let month = match (digits.get(..4), digits.get(4..)) {
            (Some(y), Some(m)) => format!("{y}-{m}"),
            _ => digits.to_string(),
        };
        let micros = u.cost_micros.unsigned_abs();
        let sign = if u.cost_micros < 0 { "-" } else { "" };
        FallbackSpend {
            monthly_cap,
            month,
            sent: u.sent,
            remaining: monthly_cap.saturating_sub(u.sent),
            cost: format!("{sign}{}.{:06}", micros / 1_000_000, micros % 1_000_000),
        }
    }
}

/// How hard the caller's codes are to guess.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CodeView {
    #[serde(rename = "type")]
    pub code_type: CodeKind,
    pub words: u8,
    pub digits: u8,
    /// Distinct codes of the default kind.
    pub space: u64,
    pub max_checks: u32,
    /// The odds that one verification's checks guess its code.
    #[schema(minimum = 0, maximum = 1)]
    pub guess_odds: f64,
    #[schema(example = "1 in 1474560")]
    pub guess_odds_text: String,
    pub max_failed_checks_per_hour: u32,
    pub max_failed_checks_per_day: u32,
    /// The odds that one phone's wrong checks of a day guess a code.
    #[schema(minimum = 0, maximum = 1)]
    pub guess_odds_per_phone_per_day: f64,
    pub guess_odds_per_phone_per_day_text: String,
}

/// The caller's code validity and send limits.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LimitsView {
    pub ttl_secs: u32,
    pub max_sends: u32,
    pub send_window_secs: u32,
    pub rate: crate::service::model::RateLimits,
}

/// `GET /v1/usage`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Usage {
    pub tenant_id: String,
    pub tenant_name: String,
    pub quota: QuotaView,
    /// Today's counts by event (`otp_sent`, `otp_approved`, ...).
    #[schema(value_type = Object)]
    pub counts: Value,
    pub code: CodeView,
    pub limits: LimitsView,
    pub fallback: FallbackSpend,
}

/// A key as admins see it: never the key, never its hash. `role` is an admin key's role
/// (owner, operator, support, billing) or `tenant`; a tenant key lists its scopes.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Key)]
pub struct KeyView {
    pub prefix: String,
    #[schema(example = "tenant")]
    pub role: String,
    /// A tenant key's scopes (every scope when it was made without a list); none for an admin key.
    #[schema(value_type = Option<Vec<Scope>>)]
    pub scopes: Option<Vec<String>>,
    pub tenant_id: Option<String>,
    pub label: String,
    pub status: KeyStatus,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Only in the answer that made it (and shown only then).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "otp_sk_…")]
    pub api_key: Option<String>,
}

/// A list of keys.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyList {
    pub items: Vec<KeyView>,
}

impl KeyView {
    pub fn of(k: &ApiKeyRecord) -> KeyView {
        let (role, scopes) = match k.role {
            Role::Admin => (k.admin_role().as_str(), None),
            Role::Tenant => {
                let all = Scope::ALL.to_vec();
                let s = if k.scopes.is_empty() { &all } else { &k.scopes };
                let names = s.iter().map(|s| s.as_str().to_string()).collect();
                ("tenant", Some(names))
            }
        };
        KeyView {
            prefix: k.prefix.clone(),
            role: role.to_string(),
            scopes,
            tenant_id: (!k.tenant_id.is_empty()).then(|| k.tenant_id.to_string()),
            label: k.label.clone(),
            status: k.status,
            expires_at: (k.expires_at != 0).then(|| iso8601(k.expires_at)),
            created_at: iso8601(k.created_at),
            api_key: None,
        }
    }

    /// A key just made, with its secret (shown once).
    pub fn made(k: &ApiKeyRecord, plain: &str) -> KeyView {
        KeyView {
            api_key: Some(plain.to_string()),
            ..KeyView::of(k)
        }
    }
}

/// A tenant, its settings whole (`/v1/admin/tenants`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Tenant)]
pub struct TenantView {
    #[schema(example = "t_01jd9")]
    pub id: String,
    pub name: String,
    pub status: TenantStatus,
    /// The period's quota.
    pub quota: i64,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    pub contact_phone: Option<String>,
    pub contact_phone_masked: Option<String>,
    pub kill_switch: bool,
    pub settings: TenantSettings,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Only in the answer to its creation (and shown only then).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "otp_sk_…")]
    pub api_key: Option<String>,
    /// Only when one tenant is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_remaining: Option<i64>,
    /// Only when one tenant is read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<Vec<KeyView>>,
}

impl TenantView {
    pub fn of(t: &Tenant) -> TenantView {
        TenantView {
            id: t.id.to_string(),
            name: t.name.clone(),
            status: t.status,
            quota: t.quota_total,
            expires_at: (t.quota_expires_at != 0).then(|| iso8601(t.quota_expires_at)),
            contact_phone: t.contact_phone.clone(),
            contact_phone_masked: t
                .contact_phone
                .as_deref()
                .map(otp_shared::phone::mask_number),
            kill_switch: t.kill_switch,
            settings: t.settings.clone(),
            created_at: iso8601(t.created_at),
            updated_at: iso8601(t.updated_at),
            api_key: None,
            quota_remaining: None,
            keys: None,
        }
    }
}

/// A page of tenants.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantPage {
    pub items: Vec<TenantView>,
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::FallbackSpend;
    use crate::service::repo::fallback::FallbackUsage;

    #[test]
    fn a_months_fallback_spend_reads_as_the_cap_left_and_a_decimal_cost() {
        let u = FallbackUsage {
            month: "M202612".into(),
            sent: 3,
            cost_micros: 23_700,
            ..Default::default()
        };
        let s = FallbackSpend::of(5, &u);
        assert_eq!((s.month.as_str(), s.sent, s.remaining), ("2026-12", 3, 2));
        assert_eq!(s.cost, "0.023700");
        // A cap lowered below what was sent leaves nothing, never a negative.
        assert_eq!(FallbackSpend::of(2, &u).remaining, 0);
        let big = FallbackUsage {
            cost_micros: 12_345_678,
            ..u
        };
        assert_eq!(FallbackSpend::of(5, &big).cost, "12.345678");
    }
}
