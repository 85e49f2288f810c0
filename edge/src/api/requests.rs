//! The request bodies of the operators' routes: each handler reads one of these (`body::json`)
//! and the OpenAPI document derives its requestBody from the same type (`schemas::named`), so a
//! field cannot be read without being documented. `deny_unknown_fields` (documented as
//! `additionalProperties: false`) where the route refuses fields it does not know; the checks a
//! type cannot say (lengths, ranges) stay in the handlers, with their error codes.

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::service::abuse::geo::RiskyRange;
pub use crate::service::messaging::fallback::config::ConfigInput as FallbackConfigInput;
use crate::service::model::CodeKind;
pub use crate::service::ops::operators::AlertConfigInput;
pub use crate::service::ops::webhooks::endpoints::EndpointInput as WebhookInput;
pub use crate::service::tenants::admin::TenantInput;
use crate::service::tenants::keys::{AdminRole, Scope};
pub use otp_shared::enrol::EnrolRequest;

/// A body of no fields, for the routes that read none (`{}` or nothing).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoBody {}

/// An id as the handlers take it (`otp_shared::ids::is_plain_id`): 1 to 64 of `A-Z a-z 0-9 _ -`.
/// For the schema only: the handlers read the string and check it with their error code.
pub struct PlainId;

impl utoipa::PartialSchema for PlainId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(otp_shared::ids::PLAIN_ID_PATTERN))
            .min_length(Some(1))
            .max_length(Some(otp_shared::ids::MAX_PLAIN_ID_LEN))
            .examples([serde_json::json!("msg_01jd9-sent")])
            .into()
    }
}

impl ToSchema for PlainId {}

/// `POST /v1/admin/tenants/{id}/renew`: a new period.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenewBody {
    #[schema(minimum = 0)]
    pub quota: i64,
    /// ISO 8601 date or time; `null` or absent: the period does not end.
    #[serde(default)]
    pub expires_at: Option<String>,
}

/// A key rotation: how long the old key keeps working.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateBody {
    /// Seconds the old key still works (a tenant key: default 86400, at most 2592000; an admin
    /// key: default 0).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 2_592_000)]
    pub grace_secs: Option<i64>,
}

/// `POST /v1/admin/tenants/bulk`: `{"op": "create", ...fields}` or `{"op": "update", "id", ...}`
/// per item, each validated and applied on its own.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    #[schema(value_type = Vec<Object>, min_items = 1, max_items = 100)]
    pub items: Vec<Value>,
}

/// `POST /v1/admin/kill-switch`: all sending, or one tenant's.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KillSwitchBody {
    pub engaged: bool,
    /// One tenant; absent: the whole service.
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// `POST /v1/admin/gateways/{id}/kill-switch`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayKillSwitchBody {
    pub engaged: bool,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub reason: Option<String>,
}

/// `POST /v1/admin/keys`: an admin key of a role (owner when none is given).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminKeyBody {
    #[schema(min_length = 1, max_length = 100)]
    pub label: String,
    /// Default: owner.
    #[serde(default)]
    #[schema(value_type = Option<AdminRole>, example = "operator")]
    pub role: Option<String>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<i64>,
}

/// `POST /v1/keys` and `POST /v1/admin/tenants/{id}/keys`: a scoped tenant key.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopedKeyBody {
    #[schema(min_length = 1, max_length = 100)]
    pub label: String,
    /// Some of send, verify, read, manage; absent: all.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Scope>>, min_items = 1, example = json!(["send"]))]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<i64>,
}

/// One document of a backup, written back as it is.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ImportItem {
    /// `collection/id`, or `tenants/{id}/quota_shards/{n}`.
    #[schema(example = "tenants/t_01jd9")]
    pub path: String,
    #[schema(value_type = Object)]
    pub data: Value,
}

/// `POST /v1/admin/import`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    #[schema(min_items = 1, max_items = 200)]
    pub items: Vec<ImportItem>,
}

/// `POST /v1/admin/backups/{day}/restore`: one part written back.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupRestoreBody {
    #[schema(min_length = 1, max_length = 300)]
    pub part: String,
}

/// `POST /v1/admin/gateways/enrolments`: a one-time enrolment token.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolTokenBody {
    /// The id the phone will have; absent: one is made up.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 40)]
    pub gateway_id: Option<String>,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub label: String,
    #[serde(default)]
    #[schema(minimum = 60, maximum = 604_800)]
    pub ttl_secs: Option<u64>,
    /// The edge URL the phone should use (the console passes its own origin).
    #[serde(default)]
    #[schema(max_length = 300)]
    pub edge_url: Option<String>,
}

/// `PUT /v1/admin/geo`: the risky ranges the whole service allows.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoBody {
    pub allowed_ranges: Vec<RiskyRange>,
}

/// `POST /v1/admin/tenants/{id}/fraud/lift`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FraudLiftBody {
    /// A block's key (`p:+33612`, `ip:…`); absent lifts every block of the tenant.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64, example = "p:+33612")]
    pub key: Option<String>,
}

/// `POST /v1/otp/send`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpSendBody {
    /// E.164, or national with `country`.
    #[schema(required = true, example = "+14155550123")]
    pub phone: Option<String>,
    /// `sms` (the default), or `reverse`: nothing is sent; the answer names a pool number and
    /// words the user texts to it from `phone`.
    #[serde(default)]
    #[schema(value_type = Option<OtpChannel>, example = "sms")]
    pub channel: Option<String>,
    #[serde(default)]
    pub code_type: Option<CodeKind>,
    /// Language of the text; default: the number's country's, else the tenant's.
    #[serde(default)]
    #[schema(example = "fr")]
    pub locale: Option<String>,
    /// ISO 3166 alpha-2: `phone` may then be in that country's national format.
    #[serde(default)]
    #[schema(example = "AU")]
    pub country: Option<String>,
    /// The end user's IP address (as the X-End-User-IP header): the per-address limit and the
    /// fraud guard count it instead of the caller's.
    #[serde(default)]
    #[schema(example = "203.0.113.7")]
    pub end_user_ip: Option<String>,
}

/// How a code travels: texted to the user (`sms`), or texted by the user (`reverse`).
#[derive(Debug, Clone, Copy, ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum OtpChannel {
    Sms,
    Reverse,
}

/// `POST /v1/otp/resend` and `/v1/otp/verify`: the verification by `phone` or `id` (both must
/// agree when both are given).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtpTargetBody {
    #[serde(default)]
    #[schema(example = "ver_0123456789abcdefghjkz9y8x7")]
    pub id: Option<String>,
    /// E.164, or national with `country`.
    #[serde(default)]
    #[schema(example = "+14155550123")]
    pub phone: Option<String>,
    /// Verify only: required, except for a reverse verification (which takes none).
    #[serde(default)]
    #[schema(min_length = 1, example = "forest river")]
    pub code: Option<String>,
    /// ISO 3166 alpha-2: `phone` may then be in that country's national format.
    #[serde(default)]
    #[schema(example = "AU")]
    pub country: Option<String>,
    /// The end user's IP address (as the X-End-User-IP header).
    #[serde(default)]
    #[schema(example = "203.0.113.7")]
    pub end_user_ip: Option<String>,
}

/// `POST /v1/messages`: a direct SMS.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageBody {
    /// E.164, or national with `country`.
    #[schema(required = true, example = "+14155550123")]
    pub phone: Option<String>,
    #[schema(required = true, min_length = 1, example = "Your table is ready.")]
    pub text: Option<String>,
    /// ISO 3166 alpha-2: `phone` may then be in that country's national format.
    #[serde(default)]
    #[schema(example = "AU")]
    pub country: Option<String>,
    /// The end user's IP address (as the X-End-User-IP header).
    #[serde(default)]
    #[schema(example = "203.0.113.7")]
    pub end_user_ip: Option<String>,
    /// Seconds the phone may still send it (default 86400); after that it is `expired`, never
    /// sent late.
    #[serde(default)]
    #[schema(minimum = 60, maximum = 259_200)]
    pub ttl_secs: Option<u32>,
}

/// `POST /v1/optouts` (`phone`) and `POST /v1/admin/optouts` (`phone` and `tenant_id`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptoutBody {
    /// E.164.
    #[schema(required = true, example = "+14155550123")]
    pub phone: Option<String>,
    /// Admin keys only (and required for them).
    #[serde(default)]
    pub tenant_id: Option<String>,
}

/// The seed's routes (`/api/send-otp`, `/api/resend-otp`: `phone`; `/api/verify-otp`: and
/// `otp`; `/api/direct-message`: and `message`). Like the seed, fields it does not know are
/// ignored.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SeedBody {
    /// E.164, or national with `country`.
    #[schema(required = true, example = "+14155550123")]
    pub phone: Option<String>,
    /// `/api/verify-otp`: the code.
    #[serde(default)]
    #[schema(min_length = 1)]
    pub otp: Option<String>,
    /// `/api/direct-message`: the text.
    #[serde(default)]
    #[schema(min_length = 1)]
    pub message: Option<String>,
    /// An addition to the seed's contract: `phone` may then be national (ISO 3166 alpha-2).
    #[serde(default)]
    pub country: Option<String>,
}

/// `POST /v1/webhooks/{id}/replay`: some events by id, or every one since a time.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayBody {
    #[serde(default)]
    #[schema(value_type = Option<Vec<PlainId>>, min_items = 1, max_items = 100)]
    pub event_ids: Option<Vec<String>>,
    #[serde(default)]
    #[schema(format = DateTime)]
    pub since: Option<String>,
}
