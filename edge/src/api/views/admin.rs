//! The typed answers of the operators' routes (`/v1/admin/*`, enrolment) and of the small
//! confirmations the tenant routes share (a deletion, a key rotation, a list of opt-outs).
//! Lists whose items the service still builds as JSON documents (audit entries, exported
//! documents, the fleet's view, enrolment tokens) are typed down to the list and documented as
//! objects below it.

use otp_shared::ids::{GatewayId, TenantId};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::TenantView;
use crate::platform::iso8601;
use crate::service::abuse::fraud::BlockView;
use crate::service::abuse::geo::{GlobalGeo, RiskyRange};
use crate::service::messaging::optouts::OptoutView;
use crate::service::ops::operators::{AlertConfigView, IncidentView};
use crate::service::ops::webhooks::deliver::DeliveryView;
use crate::service::repo::fallback::FallbackConfig;
use crate::service::tenants::keys::AdminRole;

/// A removal (`DELETE` of a tenant, a webhook endpoint, an opt-out).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deleted {
    pub id: String,
    /// Always `true`.
    pub deleted: bool,
}

impl Deleted {
    pub fn of(id: &str) -> Deleted {
        Deleted {
            id: id.to_string(),
            deleted: true,
        }
    }
}

/// A tenant's new key (shown once); its old keys work until `old_keys_valid_until`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantKeyRotated {
    #[schema(example = "t_01jd9")]
    pub id: TenantId,
    #[schema(example = "otp_sk_…")]
    pub api_key: String,
    #[schema(format = DateTime)]
    pub old_keys_valid_until: String,
}

/// Why one bulk item was refused.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkItemError {
    /// One of the error codes (`components.schemas.ErrorCode`).
    #[schema(example = "validation_failed")]
    pub code: String,
    pub message: String,
}

/// One bulk item's outcome, in the order given.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkItemResult {
    pub index: usize,
    pub ok: bool,
    /// The tenant as created (with its key, shown once) or updated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<TenantView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<BulkItemError>,
}

/// `POST /v1/admin/tenants/bulk`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BulkResults {
    pub results: Vec<BulkItemResult>,
    pub succeeded: usize,
    pub failed: usize,
}

/// `POST /v1/admin/kill-switch`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KillSwitchSet {
    pub engaged: bool,
    /// `global`, or the tenant's id.
    #[schema(example = "global")]
    pub scope: String,
}

/// `POST /v1/admin/gateways/{id}/kill-switch`: the phone's switch as it answered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GatewayKillSwitchSet {
    #[schema(example = "phone-1")]
    pub gateway_id: GatewayId,
    /// Effective (a file flag on the phone may keep it on).
    pub engaged: bool,
    pub reason: Option<String>,
}

/// `GET /v1/admin/usage`: today's counts by event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminUsage {
    /// The tenant asked for; none: the whole service.
    pub tenant_id: Option<TenantId>,
    #[schema(value_type = Object)]
    pub counts: Value,
    /// The tenant's paid fallback this month (a tenant asked for only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<crate::api::views::FallbackSpend>,
}

/// `GET /v1/admin/export`: without `collection`, the collections a backup holds; with it, a page
/// of that collection's documents.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Export {
    Collections {
        collections: Vec<String>,
    },
    Page {
        #[schema(value_type = Vec<Object>)]
        items: Vec<Value>,
        /// Pass as `?cursor=` for the next page; none on the last.
        next_cursor: Option<String>,
    },
}

/// `POST /v1/admin/import`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Imported {
    pub written: usize,
}

/// `POST /v1/admin/keys`: the new admin key (shown once).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminKeyCreated {
    pub prefix: String,
    pub label: String,
    pub role: AdminRole,
    #[schema(example = "otp_ak_…")]
    pub api_key: String,
    /// None: it does not end.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

/// `POST /v1/admin/keys/{id}/rotate`: the new admin key (shown once).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AdminKeyRotated {
    pub prefix: String,
    pub label: String,
    pub role: AdminRole,
    #[schema(example = "otp_ak_…")]
    pub api_key: String,
    #[schema(format = DateTime)]
    pub old_key_valid_until: String,
}

/// A list the service builds as JSON documents (the audit log, newest first with numbers masked;
/// gateway checks, the fleet, enrolment tokens, enrolled phones, inbound SMS).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Items {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
}

/// A tenant's opt-outs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OptoutList {
    pub items: Vec<OptoutView>,
}

/// One high-risk range and whether the whole service allows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RangeAllowed {
    pub range: RiskyRange,
    pub allowed: bool,
}

/// `GET` and `PUT /v1/admin/geo`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GeoView {
    pub allowed_ranges: Vec<RiskyRange>,
    /// Every range, allowed or not.
    pub ranges: Vec<RangeAllowed>,
}

impl GeoView {
    pub fn of(g: &GlobalGeo) -> GeoView {
        GeoView {
            allowed_ranges: g.allowed_ranges.clone(),
            ranges: RiskyRange::ALL
                .iter()
                .map(|r| RangeAllowed {
                    range: *r,
                    allowed: g.allowed_ranges.contains(r),
                })
                .collect(),
        }
    }
}

/// `POST /v1/admin/tenants/{id}/fraud/lift`: the blocks lifted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FraudLifted {
    pub tenant_id: TenantId,
    pub lifted: Vec<BlockView>,
}

/// `POST /internal/gateway/register`: the phone's URL as now recorded.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Registered {
    pub gateway_id: GatewayId,
    pub url: String,
    pub version: String,
}

/// `POST /v1/admin/gateways/enrolments`: the token (shown once) and the command a phone runs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnrolTokenMade {
    /// How the list names this token (the first 12 hex digits of its hash): what revoking it takes.
    #[schema(example = "3f1c0a9e5d2b")]
    pub id: String,
    #[schema(example = "otp_et_…")]
    pub token: String,
    /// The id the phone will have; none: one is made up when it enrols.
    pub gateway_id: Option<GatewayId>,
    pub label: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    #[schema(example = "https://otp.example.com")]
    pub edge_url: String,
    pub command: String,
}

/// `revoked`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RevokedState {
    Revoked,
}

/// `POST /v1/admin/gateways/enrolments/{id}/revoke`: the token enrols nothing from now on.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EnrolTokenRevoked {
    #[schema(example = "3f1c0a9e5d2b")]
    pub id: String,
    pub state: RevokedState,
    pub label: String,
    #[schema(format = DateTime)]
    pub revoked_at: String,
}

/// `retired`.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetiredStatus {
    Retired,
}

/// `POST /v1/admin/gateways/{id}/retire`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Retired {
    pub gateway_id: GatewayId,
    pub status: RetiredStatus,
}

/// `POST /v1/admin/gateways/{id}/rotate-key`: the new key is pushed (current once confirmed).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PhoneKeyRotated {
    pub gateway_id: GatewayId,
    /// Always `true`.
    pub rotated: bool,
}

/// `GET /v1/admin/alerts`: the channels and the latest incidents (100), open or cleared.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Alerts {
    pub config: AlertConfigView,
    pub incidents: Vec<IncidentView>,
}

/// `PATCH /v1/admin/alerts`: the channels as now set.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertsConfigured {
    pub config: AlertConfigView,
}

/// `POST /v1/admin/alerts/test`: the channels the test alert reached.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertTested {
    #[schema(example = json!(["webhook"]))]
    pub delivered_to: Vec<String>,
}

/// `GET /v1/admin/gateways/{id}/logs`: the last lines of the phone's log (digit runs masked).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GatewayLogs {
    #[schema(example = "phone-1")]
    pub gateway_id: GatewayId,
    pub lines: Vec<String>,
}

/// One day in the backup bucket.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackupDay {
    #[schema(example = "2026-12-06")]
    pub day: String,
    /// Its export finished (it has a manifest).
    pub complete: bool,
}

/// `GET /v1/admin/backups`, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackupList {
    pub days: Vec<BackupDay>,
    /// Days kept before the scheduled job deletes them.
    pub keep_days: u32,
}

/// `POST /v1/admin/backups/{day}/restore`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BackupRestored {
    pub part: String,
    /// Documents written back.
    pub restored: u64,
}

/// `GET /v1/webhooks/{id}/deliveries`, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deliveries {
    pub items: Vec<DeliveryView>,
}

/// `POST /v1/webhooks/{id}/replay`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Replayed {
    pub replayed: usize,
}

/// `configured`'s one value on each shape, so the two are told apart by it.
fn always(value: bool) -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::Boolean)
        .enum_values(Some([value]))
        .build()
}
fn always_true() -> utoipa::openapi::Object {
    always(true)
}
fn always_false() -> utoipa::openapi::Object {
    always(false)
}

/// How the service signs in to the provider: its API key, or the account's auth token.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FallbackAuth {
    ApiKey,
    AuthToken,
}

/// The paid SMS fallback's provider as set: which secrets are set, never their values.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FallbackSet {
    /// Always `true`.
    #[schema(schema_with = always_true)]
    pub configured: bool,
    #[schema(example = "twilio")]
    pub provider: String,
    #[schema(example = "AC0123456789abcdef0123456789abcdef")]
    pub account_sid: String,
    pub auth: FallbackAuth,
    pub auth_token_set: bool,
    pub api_key_sid: Option<String>,
    #[schema(example = "+14155550100")]
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    #[schema(example = "https://api.twilio.com")]
    pub base_url: String,
    pub status_callback_url: Option<String>,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// No paid SMS fallback: codes no phone can deliver are refused.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FallbackUnset {
    /// Always `false`.
    #[schema(schema_with = always_false)]
    pub configured: bool,
}

/// `GET`, `PUT` and `DELETE /v1/admin/fallback`: the provider as set, or none (`configured`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum FallbackView {
    Set(FallbackSet),
    Unset(FallbackUnset),
}

impl FallbackView {
    pub fn of(c: Option<&FallbackConfig>) -> FallbackView {
        let Some(c) = c else {
            return FallbackView::Unset(FallbackUnset { configured: false });
        };
        FallbackView::Set(FallbackSet {
            configured: true,
            provider: c.provider.clone(),
            account_sid: c.account_sid.clone(),
            auth: if c.api_key_sid.is_some() {
                FallbackAuth::ApiKey
            } else {
                FallbackAuth::AuthToken
            },
            auth_token_set: c.auth_token_sealed.is_some(),
            api_key_sid: c.api_key_sid.clone(),
            from: c.from.clone(),
            messaging_service_sid: c.messaging_service_sid.clone(),
            base_url: c.base_url.clone(),
            status_callback_url: c.status_callback_url.clone(),
            updated_at: iso8601(c.updated_at),
        })
    }
}
