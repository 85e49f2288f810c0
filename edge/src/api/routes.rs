//! THE route table: one entry per route, read by the router (`find`), the pipeline (auth,
//! envelope, idempotency, limits), the handler dispatch (an exhaustive `match` on `Handler`, no
//! fallback arm) and the OpenAPI generator. A route cannot exist in one of them and not the others.

use serde_json::Value;

use super::requests as rq;
use super::schemas as s;
use super::views::admin as av;
use super::views::compat as cv;
use super::views::insights as iv;
use super::views::system as sv;
use crate::error::ErrorCode::{self, *};
use crate::service::tenants::keys::AdminRole::{self, Billing, Operator, Owner, Support};
use crate::service::tenants::keys::Scope::{self, Manage, Read, Send, Verify};

/// Who may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Public,
    Tenant,
    Admin,
    /// Signed by a phone gateway with its own secret.
    Gateway,
}

/// What a key must hold to call a route, declared by every tenant and admin route of the table
/// (`Tenant(Send)`, `Admin(OPERATE)`): a route without it does not compile. Checked by the
/// pipeline with the key, shown in the OpenAPI document (`x-roles`, `x-scopes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Public and gateway routes: no key.
    Open,
    /// A tenant key whose scopes hold this one.
    Tenant(Scope),
    /// An admin key of one of these roles.
    Admin(&'static [AdminRole]),
}

/// The admin roles of routes: keys and backups are the owner's; running the service is the
/// operators' too; support reads what helps a customer; every role reads tenants, usage,
/// analytics and the audit log.
pub const OWNER: &[AdminRole] = &[Owner];
pub const OPERATE: &[AdminRole] = &[Owner, Operator];
pub const SUPPORT: &[AdminRole] = &[Owner, Operator, Support];
pub const EVERY_ROLE: &[AdminRole] = &[Owner, Operator, Support, Billing];

/// The shape of answers and errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// `{success, data, request_id}` / `{success:false, error:{code, message, request_id}}`.
    V1,
    /// The seed system's aliases: `error` stays a human string, the code rides beside it.
    Seed,
    /// Twilio Verify's resources and error shape.
    Twilio,
    /// Static files and the spec.
    Raw,
}

/// How an `Idempotency-Key` is honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    No,
    /// The claim rides in the handler's first commit (sends and checks: no extra write).
    InCommit,
    /// The pipeline claims the key in a commit of its own before the handler runs (admin routes,
    /// whose handlers make several writes).
    Claimed,
}

/// Where the tenant's endpoint and address limits are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limits {
    No,
    /// By the pipeline, in a gate call of its own, before the handler.
    Pipeline,
    /// By the handler's own gate call (a send takes its quota unit in the same call).
    Handler,
}

/// A route's handler. The handlers of `Idempotency::InCommit` routes are `Commit`: only they are
/// handed the request's `FirstCommit` (`handlers::dispatch`), the one way to its idempotency claim,
/// so such a route cannot be written without carrying the claim in its first commit. The route
/// table's macro makes every `InCommit` route's handler a `Commit` one and every other a `Plain` one.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Plain(Plain),
    Commit(Commit),
}

/// The route's name in logs, metrics and limit keys: the handler's own.
impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handler::Plain(h) => h.fmt(f),
            Handler::Commit(h) => h.fmt(f),
        }
    }
}

/// Handlers of routes without a key claim in their own commit (`Idempotency::No` or `Claimed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plain {
    Health,
    OpenApi,
    DashboardPage,
    DashboardScript,
    DashboardStyle,
    Status,
    MessageGet,
    Usage,
    TenantAnalytics,
    TenantConversion,
    TenantKeyList,
    GatewayReports,
    AdminTenantCreate,
    AdminTenantList,
    AdminTenantBulk,
    AdminTenantGet,
    AdminTenantUpdate,
    AdminTenantDelete,
    AdminTenantSuspend,
    AdminTenantResume,
    AdminTenantRenew,
    AdminTenantRotateKey,
    AdminKillSwitch,
    AdminAudit,
    AdminUsage,
    AdminExport,
    AdminImport,
    AdminCronRun,
    AdminAnalytics,
    AdminConversion,
    AdminKeyCreate,
    AdminKeyList,
    AdminKeyRevoke,
    AdminKeyRotate,
    AdminTenantKeyCreate,
    AdminGatewayChecks,
    AdminGateways,
    AdminGatewayKillSwitch,
    AdminMetrics,
    MessageList,
    WebhookList,
    WebhookGet,
    WebhookUpdate,
    WebhookDelete,
    WebhookDeliveries,
    OptoutList,
    OptoutRemove,
    GatewayInbound,
    AdminInbound,
    AdminOptoutList,
    AdminOptoutAdd,
    AdminOptoutRemove,
    AdminAlerts,
    AdminAlertsUpdate,
    AdminAlertsTest,
    AdminGatewayMetrics,
    AdminGatewayLogs,
    AdminBackupList,
    AdminBackupRun,
    AdminBackupGet,
    AdminBackupRestore,
    AdminGeoGet,
    AdminGeoPut,
    AdminFraudGet,
    AdminFraudLift,
    AdminMessageList,
    GatewayEnrol,
    GatewayRegister,
    AdminEnrolTokenCreate,
    AdminEnrolTokenList,
    AdminEnrolTokenRevoke,
    AdminEnrolledList,
    AdminGatewayRetire,
    AdminGatewayRotateKey,
    AdminFallbackGet,
    AdminFallbackPut,
    AdminFallbackDelete,
    ProviderTwilioStatus,
}

/// Handlers of `Idempotency::InCommit` routes: each takes the request's `FirstCommit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    OtpSend,
    OtpResend,
    OtpVerify,
    MessageSend,
    TenantKeyRotate,
    TenantKeyCreate,
    TenantKeyRevoke,
    SeedSendOtp,
    SeedResendOtp,
    SeedVerifyOtp,
    SeedDirectMessage,
    TwilioStart,
    TwilioCheck,
    WebhookCreate,
    WebhookReplay,
    OptoutAdd,
}

/// What the OpenAPI document says of a route.
pub struct Doc {
    pub summary: &'static str,
    pub body: Option<fn() -> Value>,
    pub ok: u16,
    pub ok_schema: fn() -> Value,
    pub example: fn() -> Value,
    pub errors: &'static [ErrorCode],
}

pub struct Route {
    pub method: &'static str,
    /// `{id}` marks the one path parameter a route may have.
    pub path: &'static str,
    pub auth: Auth,
    pub access: Access,
    pub envelope: Envelope,
    pub idempotency: Idempotency,
    pub limits: Limits,
    pub handler: Handler,
    pub doc: Doc,
}

const SEND_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    PhoneRequired,
    PhoneInvalid,
    CountryInvalid,
    PhoneNotMobile,
    GeoBlocked,
    FraudSuspected,
    CodeTypeInvalid,
    CodeTooWeak,
    Unauthorized,
    Forbidden,
    TenantSuspended,
    TenantExpired,
    RateLimited,
    TooManySends,
    QuotaExhausted,
    SendingDisabled,
    GatewayUnavailable,
    ReverseUnavailable,
    StoreUnavailable,
    Conflict,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PayloadTooLarge,
];
const RESEND_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    PhoneRequired,
    PhoneInvalid,
    CountryInvalid,
    PhoneNotMobile,
    GeoBlocked,
    FraudSuspected,
    Unauthorized,
    Forbidden,
    TenantSuspended,
    TenantExpired,
    RateLimited,
    TooManySends,
    QuotaExhausted,
    SendingDisabled,
    GatewayUnavailable,
    StoreUnavailable,
    Conflict,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    VerificationNotFound,
    VerificationExpired,
    TooManyAttempts,
    AlreadyVerified,
    ReverseNothingToSend,
    PayloadTooLarge,
];
const VERIFY_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    PhoneRequired,
    PhoneInvalid,
    CountryInvalid,
    CodeRequired,
    Unauthorized,
    Forbidden,
    TenantSuspended,
    TenantExpired,
    RateLimited,
    VerificationNotFound,
    CodeIncorrect,
    VerificationExpired,
    TooManyAttempts,
    AlreadyVerified,
    VerificationPending,
    PhoneLocked,
    StoreUnavailable,
    Conflict,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PayloadTooLarge,
];
const MESSAGE_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    PhoneRequired,
    PhoneInvalid,
    CountryInvalid,
    PhoneNotMobile,
    GeoBlocked,
    MessageRequired,
    MessageTooLong,
    MessageInvalidChars,
    Unauthorized,
    Forbidden,
    TenantSuspended,
    TenantExpired,
    RateLimited,
    QuotaExhausted,
    SendingDisabled,
    GatewayUnavailable,
    StoreUnavailable,
    Conflict,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PayloadTooLarge,
];
const TENANT_READ_ERRORS: &[ErrorCode] = &[
    Unauthorized,
    Forbidden,
    TenantSuspended,
    TenantExpired,
    RateLimited,
    StoreUnavailable,
];
const TWILIO_ERRORS: &[ErrorCode] = &[
    ValidationFailed,
    PhoneNotMobile,
    GeoBlocked,
    FraudSuspected,
    Unauthorized,
    Forbidden,
    VerificationNotFound,
    TooManyAttempts,
    QuotaExhausted,
    GatewayUnavailable,
];
const ADMIN_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    Unauthorized,
    Forbidden,
    RateLimited,
    TenantNotFound,
    StoreUnavailable,
    Conflict,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PayloadTooLarge,
];
const ADMIN_SETTINGS_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    PhoneInvalid,
    PhoneNotMobile,
    CountryInvalid,
    WebOtpHostInvalid,
    AppHashInvalid,
    CodeTooWeak,
    TemplateInvalid,
    Unauthorized,
    Forbidden,
    RateLimited,
    TenantNotFound,
    StoreUnavailable,
    Conflict,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PayloadTooLarge,
];
const ADMIN_KEY_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    Unauthorized,
    Forbidden,
    RateLimited,
    KeyNotFound,
    StoreUnavailable,
    Conflict,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PayloadTooLarge,
];
const BACKUP_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    Unauthorized,
    Forbidden,
    RateLimited,
    BackupNotFound,
    StoreUnavailable,
    Conflict,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PayloadTooLarge,
];
const ADMIN_GATEWAY_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    Unauthorized,
    Forbidden,
    RateLimited,
    GatewayNotFound,
    GatewayUnavailable,
    StoreUnavailable,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PayloadTooLarge,
];

const ENROL_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    EnrolTokenInvalid,
    EnrolTokenUsed,
    EnrolTokenExpired,
    EnrolTokenRevoked,
    GatewayConfigured,
    RateLimited,
    StoreUnavailable,
    Conflict,
    PayloadTooLarge,
];
const ADMIN_ENROL_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    Unauthorized,
    Forbidden,
    RateLimited,
    NotFound,
    GatewayNotFound,
    GatewayConfigured,
    GatewayRetired,
    GatewayUnavailable,
    StoreUnavailable,
    Conflict,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PayloadTooLarge,
];

const WEBHOOK_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    WebhookUrlInvalid,
    Unauthorized,
    Forbidden,
    OriginNotAllowed,
    TenantSuspended,
    TenantExpired,
    RateLimited,
    WebhookNotFound,
    WebhookDisabled,
    StoreUnavailable,
    Conflict,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PayloadTooLarge,
];
const OPTOUT_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    PhoneRequired,
    PhoneInvalid,
    Unauthorized,
    Forbidden,
    OriginNotAllowed,
    TenantSuspended,
    TenantExpired,
    RateLimited,
    OptoutNotFound,
    TenantNotFound,
    StoreUnavailable,
    Conflict,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PayloadTooLarge,
];
const ALERT_ERRORS: &[ErrorCode] = &[
    BadJson,
    ValidationFailed,
    PhoneInvalid,
    WebhookUrlInvalid,
    Unauthorized,
    Forbidden,
    OriginNotAllowed,
    RateLimited,
    StoreUnavailable,
    GatewayUnavailable,
    IdempotencyKeyReused,
    IdempotencyInProgress,
    PayloadTooLarge,
];

/// `Tenant` and `Admin` take their scope or roles; `Public` and `Gateway` take none. Any other
/// form (an admin route without roles) matches no rule: it does not compile.
macro_rules! access {
    (Public) => {
        Access::Open
    };
    (Gateway) => {
        Access::Open
    };
    (Tenant($scope:ident)) => {
        Access::Tenant($scope)
    };
    (Admin($roles:expr)) => {
        Access::Admin($roles)
    };
    ($($other:tt)*) => {
        compile_error!(concat!(
            "a route declares who may call it: Admin(OWNER | OPERATE | SUPPORT | EVERY_ROLE) or ",
            "Tenant(Send | Verify | Read | Manage); got: ",
            stringify!($($other)*)
        ))
    };
}

macro_rules! route {
    ($m:literal $p:literal, $auth:ident $(($($acc:tt)+))?, $env:ident, InCommit, $lim:ident, $h:ident, $($doc:tt)*) => {
        route!(@ $m $p, $auth $(($($acc)+))?, $env, InCommit, $lim, Handler::Commit(Commit::$h), $($doc)*)
    };
    ($m:literal $p:literal, $auth:ident $(($($acc:tt)+))?, $env:ident, $idem:ident, $lim:ident, $h:ident, $($doc:tt)*) => {
        route!(@ $m $p, $auth $(($($acc)+))?, $env, $idem, $lim, Handler::Plain(Plain::$h), $($doc)*)
    };
    (@ $m:literal $p:literal, $auth:ident $(($($acc:tt)+))?, $env:ident, $idem:ident, $lim:ident, $h:expr,
     $summary:literal, body: $body:expr, ok: $ok:literal $schema:path, example: $ex:path, errors: $errors:expr) => {
        Route {
            method: $m,
            path: $p,
            auth: Auth::$auth,
            access: access!($auth $(($($acc)+))?),
            envelope: Envelope::$env,
            idempotency: Idempotency::$idem,
            limits: Limits::$lim,
            handler: $h,
            doc: Doc {
                summary: $summary,
                body: $body,
                ok: $ok,
                ok_schema: $schema,
                example: $ex,
                errors: $errors,
            },
        }
    };
}

#[rustfmt::skip]
pub static ROUTES: &[Route] = &[
    route!("GET" "/health", Public, Raw, No, No, Health,
        "Liveness, version and configured components",
        body: None, ok: 200 s::named::<sv::Health>, example: s::health_example, errors: &[]),
    route!("GET" "/openapi.json", Public, Raw, No, No, OpenApi,
        "This document",
        body: None, ok: 200 s::openapi_ok, example: s::openapi_example, errors: &[]),
    route!("GET" "/dashboard", Public, Raw, No, No, DashboardPage,
        "The operators' web dashboard (static; it signs in with a key)",
        body: None, ok: 200 s::static_ok, example: s::no_example, errors: &[]),
    route!("GET" "/dashboard/app.js", Public, Raw, No, No, DashboardScript,
        "The dashboard's script",
        body: None, ok: 200 s::static_ok, example: s::no_example, errors: &[]),
    route!("GET" "/dashboard/app.css", Public, Raw, No, No, DashboardStyle,
        "The dashboard's style sheet",
        body: None, ok: 200 s::static_ok, example: s::no_example, errors: &[]),
    route!("GET" "/v1/status", Tenant(Read), V1, No, Pipeline, Status,
        "Store and gateway reachability (the gateway probe is cached for a minute)",
        body: None, ok: 200 s::ok::<sv::ServiceStatus>, example: s::status_example, errors: TENANT_READ_ERRORS),
    route!("POST" "/v1/otp/send", Tenant(Send), V1, InCommit, Handler, OtpSend,
        "Send a one-time code by SMS",
        body: Some(s::named::<rq::OtpSendBody>), ok: 202 s::sent_ok, example: s::sent_example, errors: SEND_ERRORS),
    route!("POST" "/v1/otp/resend", Tenant(Send), V1, InCommit, Handler, OtpResend,
        "Send the live code again (counts against the phone's send limit)",
        body: Some(s::named::<rq::OtpTargetBody>), ok: 202 s::sent_ok, example: s::sent_example, errors: RESEND_ERRORS),
    route!("POST" "/v1/otp/verify", Tenant(Verify), V1, InCommit, Handler, OtpVerify,
        "Check a code, by phone or verification id (both must agree when both are given); for a reverse verification, without a code: whether the user's SMS approved it",
        body: Some(s::named::<rq::OtpTargetBody>), ok: 200 s::verified_ok, example: s::verified_example, errors: VERIFY_ERRORS),
    route!("POST" "/v1/messages", Tenant(Send), V1, InCommit, Handler, MessageSend,
        "Send a direct SMS",
        body: Some(s::named::<rq::MessageBody>), ok: 202 s::message_ok, example: s::message_example, errors: MESSAGE_ERRORS),
    route!("GET" "/v1/messages/{id}", Tenant(Read), V1, No, Pipeline, MessageGet,
        "Delivery status of one of the caller's messages",
        body: None, ok: 200 s::message_ok, example: s::message_example, errors: &[Unauthorized, Forbidden, TenantSuspended, TenantExpired, RateLimited, MessageNotFound]),
    route!("GET" "/v1/usage", Tenant(Read), V1, No, Pipeline, Usage,
        "Quota, today's counts, and the guessing odds per verification and per phone per day",
        body: None, ok: 200 s::usage_ok, example: s::usage_example, errors: TENANT_READ_ERRORS),
    route!("GET" "/v1/analytics", Tenant(Read), V1, No, Pipeline, TenantAnalytics,
        "The caller's analytics by hour, day, ISO week or month over a date range (the admin analytics' shape)",
        body: None, ok: 200 s::ok::<iv::AnalyticsReport>, example: s::analytics_example, errors: &[ValidationFailed, Unauthorized, Forbidden, TenantSuspended, TenantExpired, RateLimited, StoreUnavailable]),
    route!("GET" "/v1/analytics/conversion", Tenant(Read), V1, No, Pipeline, TenantConversion,
        "The caller's conversion (codes sent, delivered, verified; time to verify p50/p90) by=country|prefix|template, by hour, day, ISO week or month over a date range",
        body: None, ok: 200 s::ok::<iv::ConversionReport>, example: s::conversion_example, errors: &[ValidationFailed, Unauthorized, Forbidden, TenantSuspended, TenantExpired, RateLimited, StoreUnavailable]),
    route!("POST" "/v1/keys/rotate", Tenant(Manage), V1, InCommit, Handler, TenantKeyRotate,
        "Issue a new key for the caller's tenant (shown once); its old keys work for grace_secs (default a day)",
        body: Some(s::named::<rq::RotateBody>), ok: 200 s::ok::<av::TenantKeyRotated>, example: s::no_example, errors: &[BadJson, ValidationFailed, Unauthorized, Forbidden, TenantSuspended, TenantExpired, RateLimited, StoreUnavailable, Conflict, IdempotencyKeyReused, IdempotencyInProgress, PayloadTooLarge]),
    route!("POST" "/v1/keys", Tenant(Manage), V1, InCommit, Handler, TenantKeyCreate,
        "Another key for the caller's tenant (shown once), limited to scopes (send, verify, read, manage; default all), optionally ending after some days",
        body: Some(s::named::<rq::ScopedKeyBody>), ok: 201 s::key_ok, example: s::tenant_key_example, errors: &[BadJson, ValidationFailed, Unauthorized, Forbidden, TenantSuspended, TenantExpired, RateLimited, StoreUnavailable, Conflict, IdempotencyKeyReused, IdempotencyInProgress, PayloadTooLarge]),
    route!("GET" "/v1/keys", Tenant(Read), V1, No, Pipeline, TenantKeyList,
        "The caller's tenant's keys: prefix, label, scopes, status, end time (never the key)",
        body: None, ok: 200 s::key_list_ok, example: s::key_list_example, errors: TENANT_READ_ERRORS),
    route!("POST" "/v1/keys/{id}/revoke", Tenant(Manage), V1, InCommit, Handler, TenantKeyRevoke,
        "Stop one of the caller's tenant's keys by its prefix, at once (refused everywhere within the key cache's 2 s)",
        body: Some(s::named::<rq::NoBody>), ok: 200 s::key_ok, example: s::key_example, errors: &[BadJson, ValidationFailed, Unauthorized, Forbidden, TenantSuspended, TenantExpired, RateLimited, KeyNotFound, StoreUnavailable, Conflict, IdempotencyKeyReused, IdempotencyInProgress, PayloadTooLarge]),
    route!("POST" "/api/send-otp", Tenant(Send), Seed, InCommit, Handler, SeedSendOtp,
        "Seed alias of /v1/otp/send (x-api-key)",
        body: Some(s::named::<rq::SeedBody>), ok: 200 s::seed_ok::<cv::SeedSent>, example: s::seed_sent_example, errors: SEND_ERRORS),
    route!("POST" "/api/resend-otp", Tenant(Send), Seed, InCommit, Handler, SeedResendOtp,
        "Seed alias of /v1/otp/resend",
        body: Some(s::named::<rq::SeedBody>), ok: 200 s::seed_ok::<cv::SeedResent>, example: s::seed_resent_example, errors: RESEND_ERRORS),
    route!("POST" "/api/verify-otp", Tenant(Verify), Seed, InCommit, Handler, SeedVerifyOtp,
        "Seed alias of /v1/otp/verify",
        body: Some(s::named::<rq::SeedBody>), ok: 200 s::seed_ok::<cv::SeedVerified>, example: s::seed_verified_example, errors: VERIFY_ERRORS),
    route!("POST" "/api/direct-message", Tenant(Send), Seed, InCommit, Handler, SeedDirectMessage,
        "Seed alias of /v1/messages",
        body: Some(s::named::<rq::SeedBody>), ok: 200 s::seed_ok::<cv::SeedMessageSent>, example: s::seed_message_example, errors: MESSAGE_ERRORS),
    route!("POST" "/v2/Services/{id}/Verifications", Tenant(Send), Twilio, InCommit, Handler, TwilioStart,
        "Twilio Verify compatible: start a verification (form: To, Channel=sms, Locale); HTTP Basic auth with the API key as password",
        body: Some(s::twilio_start_body), ok: 201 s::named::<cv::TwilioVerification>, example: s::twilio_start_example, errors: TWILIO_ERRORS),
    route!("POST" "/v2/Services/{id}/VerificationCheck", Tenant(Verify), Twilio, InCommit, Handler, TwilioCheck,
        "Twilio Verify compatible: check a code (form: To or VerificationSid, Code)",
        body: Some(s::twilio_check_body), ok: 200 s::named::<cv::TwilioVerification>, example: s::twilio_check_example, errors: TWILIO_ERRORS),
    route!("POST" "/internal/gateway/status", Gateway, V1, No, No, GatewayReports,
        "Delivery reports from a phone gateway (signed, encrypted; one report or a batch)",
        body: None, ok: 200 s::acked::<sv::ReportsTaken>, example: s::reports_example, errors: &[Unauthorized, BadJson, ValidationFailed, StoreUnavailable, Conflict]),
    route!("POST" "/v1/admin/tenants", Admin(OPERATE), V1, Claimed, No, AdminTenantCreate,
        "Create a tenant; the answer holds its API key, shown once",
        body: Some(s::tenant_create_body), ok: 201 s::tenant_ok, example: s::tenant_created_example, errors: ADMIN_SETTINGS_ERRORS),
    route!("GET" "/v1/admin/tenants", Admin(EVERY_ROLE), V1, No, No, AdminTenantList,
        "List tenants (paged with cursor)",
        body: None, ok: 200 s::tenant_page_ok, example: s::tenant_page_example, errors: ADMIN_ERRORS),
    route!("POST" "/v1/admin/tenants/bulk", Admin(OPERATE), V1, Claimed, No, AdminTenantBulk,
        "Create or update many tenants, with a result per item",
        body: Some(s::named::<rq::BulkBody>), ok: 200 s::ok::<av::BulkResults>, example: s::no_example, errors: ADMIN_ERRORS),
    route!("GET" "/v1/admin/tenants/{id}", Admin(EVERY_ROLE), V1, No, No, AdminTenantGet,
        "Get a tenant with its remaining quota and its keys (prefixes only)",
        body: None, ok: 200 s::tenant_ok, example: s::tenant_example, errors: ADMIN_ERRORS),
    route!("PATCH" "/v1/admin/tenants/{id}", Admin(OPERATE), V1, No, No, AdminTenantUpdate,
        "Update quota, expiry, contact phone or settings (JSON merge patch)",
        body: Some(s::named::<rq::TenantInput>), ok: 200 s::tenant_ok, example: s::tenant_example, errors: ADMIN_SETTINGS_ERRORS),
    route!("DELETE" "/v1/admin/tenants/{id}", Admin(OWNER), V1, No, No, AdminTenantDelete,
        "Delete a tenant and its keys",
        body: None, ok: 200 s::ok::<av::Deleted>, example: s::no_example, errors: ADMIN_ERRORS),
    route!("POST" "/v1/admin/tenants/{id}/suspend", Admin(OPERATE), V1, Claimed, No, AdminTenantSuspend,
        "Suspend a tenant (403 tenant_suspended on its calls, within the key cache's 2 s)",
        body: Some(s::named::<rq::NoBody>), ok: 200 s::tenant_ok, example: s::tenant_example, errors: ADMIN_ERRORS),
    route!("POST" "/v1/admin/tenants/{id}/resume", Admin(OPERATE), V1, Claimed, No, AdminTenantResume,
        "Resume a suspended tenant",
        body: Some(s::named::<rq::NoBody>), ok: 200 s::tenant_ok, example: s::tenant_example, errors: ADMIN_ERRORS),
    route!("POST" "/v1/admin/tenants/{id}/renew", Admin(OPERATE), V1, Claimed, No, AdminTenantRenew,
        "Start a new period: new quota and expiry",
        body: Some(s::named::<rq::RenewBody>), ok: 200 s::tenant_ok, example: s::tenant_example, errors: ADMIN_ERRORS),
    route!("POST" "/v1/admin/tenants/{id}/rotate-key", Admin(OPERATE), V1, Claimed, No, AdminTenantRotateKey,
        "Issue a new key; old keys work for a grace period",
        body: Some(s::named::<rq::RotateBody>), ok: 200 s::ok::<av::TenantKeyRotated>, example: s::no_example, errors: ADMIN_ERRORS),
    route!("POST" "/v1/admin/kill-switch", Admin(OPERATE), V1, Claimed, No, AdminKillSwitch,
        "Stop or restart sending, globally or for one tenant",
        body: Some(s::named::<rq::KillSwitchBody>), ok: 200 s::ok::<av::KillSwitchSet>, example: s::no_example, errors: ADMIN_ERRORS),
    route!("GET" "/v1/admin/audit", Admin(EVERY_ROLE), V1, No, No, AdminAudit,
        "Audit log of admin actions, newest first",
        body: None, ok: 200 s::ok::<av::Items>, example: s::no_example, errors: ADMIN_ERRORS),
    route!("GET" "/v1/admin/usage", Admin(EVERY_ROLE), V1, No, No, AdminUsage,
        "Today's counts, global or per tenant",
        body: None, ok: 200 s::ok::<av::AdminUsage>, example: s::no_example, errors: ADMIN_ERRORS),
    route!("GET" "/v1/admin/export", Admin(OWNER), V1, No, No, AdminExport,
        "Backup: list collections, or a page of one collection's documents (audited)",
        body: None, ok: 200 s::ok::<av::Export>, example: s::no_example, errors: ADMIN_ERRORS),
    route!("POST" "/v1/admin/import", Admin(OWNER), V1, Claimed, No, AdminImport,
        "Restore: write up to 200 exported documents",
        body: Some(s::named::<rq::ImportBody>), ok: 200 s::ok::<av::Imported>, example: s::no_example, errors: ADMIN_ERRORS),
    route!("POST" "/v1/admin/cron/run", Admin(OPERATE), V1, Claimed, No, AdminCronRun,
        "Run the scheduled job now: notices, expiring verifications, purges, gateway checks, and the fleet's minute (stuck messages, canaries, phone standings, alerts)",
        body: Some(s::named::<rq::NoBody>), ok: 200 s::ok::<crate::service::ops::cron::Run>, example: s::cron_run_example, errors: ADMIN_ERRORS),
    route!("GET" "/v1/admin/analytics", Admin(EVERY_ROLE), V1, No, No, AdminAnalytics,
        "Analytics by hour, day, ISO week or month over a date range: sends, verifications, conversion and delivery rates, errors by code, latency percentiles; by day, week or month also end users (active, new, returning) and a UTC weekday x hour heatmap of sends",
        body: None, ok: 200 s::ok::<iv::AnalyticsReport>, example: s::analytics_example, errors: ADMIN_ERRORS),
    route!("GET" "/v1/admin/conversion", Admin(EVERY_ROLE), V1, No, No, AdminConversion,
        "Conversion of the service or one tenant (tenant_id) by=sim|gateway|country|prefix|template|tenant; by sim or gateway, each phone's conversion standing and the demotion rule",
        body: None, ok: 200 s::ok::<iv::ConversionReport>, example: s::conversion_example, errors: ADMIN_ERRORS),
    route!("POST" "/v1/admin/keys", Admin(OWNER), V1, Claimed, No, AdminKeyCreate,
        "Create another admin key (shown once), optionally ending after some days",
        body: Some(s::named::<rq::AdminKeyBody>), ok: 201 s::ok::<av::AdminKeyCreated>, example: s::key_created_example, errors: ADMIN_KEY_ERRORS),
    route!("GET" "/v1/admin/keys", Admin(OWNER), V1, No, No, AdminKeyList,
        "Admin keys (prefix, label, status, end time; never the key)",
        body: None, ok: 200 s::key_list_ok, example: s::key_list_example, errors: ADMIN_KEY_ERRORS),
    route!("POST" "/v1/admin/keys/{id}/revoke", Admin(OWNER), V1, Claimed, No, AdminKeyRevoke,
        "Revoke a key by its prefix (admin or tenant); refused within the key cache's 2 s",
        body: Some(s::named::<rq::NoBody>), ok: 200 s::key_ok, example: s::key_example, errors: ADMIN_KEY_ERRORS),
    route!("POST" "/v1/admin/keys/{id}/rotate", Admin(OWNER), V1, Claimed, No, AdminKeyRotate,
        "Replace an admin key by a new one of the same role and label (shown once); the old one works grace_secs more (default 0: it stops now)",
        body: Some(s::named::<rq::RotateBody>), ok: 201 s::ok::<av::AdminKeyRotated>, example: s::key_rotated_example, errors: ADMIN_KEY_ERRORS),
    route!("POST" "/v1/admin/tenants/{id}/keys", Admin(OPERATE), V1, Claimed, No, AdminTenantKeyCreate,
        "Another key for a tenant (shown once), limited to scopes (send, verify, read, manage; default all), optionally ending after some days",
        body: Some(s::named::<rq::ScopedKeyBody>), ok: 201 s::key_ok, example: s::tenant_key_example, errors: ADMIN_ERRORS),
    route!("GET" "/v1/admin/gateways/checks", Admin(SUPPORT), V1, No, No, AdminGatewayChecks,
        "Gateway health-check history (up/down, latency), newest first",
        body: None, ok: 200 s::ok::<av::Items>, example: s::no_example, errors: ADMIN_ERRORS),
    route!("GET" "/v1/admin/gateways", Admin(SUPPORT), V1, No, No, AdminGateways,
        "Every phone now: reachable, latency, queue depth, pacing capacity, kill switch, battery, signal, storage, each SIM's budgets and rest, recent sends (signed probes, cached a minute); why it is routed last (avoid), a missed canary (degraded), canary times and open alerts",
        body: None, ok: 200 s::ok::<av::Items>, example: s::no_example, errors: ADMIN_ERRORS),
    route!("POST" "/v1/admin/gateways/{id}/kill-switch", Admin(OPERATE), V1, Claimed, No, AdminGatewayKillSwitch,
        "Set or clear a phone's own kill switch (a signed command to the gateway)",
        body: Some(s::named::<rq::GatewayKillSwitchBody>), ok: 200 s::ok::<av::GatewayKillSwitchSet>, example: s::no_example, errors: ADMIN_GATEWAY_ERRORS),
    route!("GET" "/v1/admin/geo", Admin(SUPPORT), V1, No, No, AdminGeoGet,
        "Geo permissions, service-wide: the high-risk ranges (satellite, international networks, premium rate, freephone...) and which are relaxed for every tenant",
        body: None, ok: 200 s::ok::<av::GeoView>, example: s::geo_example, errors: ADMIN_ERRORS),
    route!("PUT" "/v1/admin/geo", Admin(OPERATE), V1, No, No, AdminGeoPut,
        "Relax the high-risk range deny for every tenant (the ranges listed are allowed, the others denied); per tenant: settings.geo",
        body: Some(s::named::<rq::GeoBody>), ok: 200 s::ok::<av::GeoView>, example: s::geo_example, errors: ADMIN_ERRORS),
    route!("GET" "/v1/admin/tenants/{id}/fraud", Admin(SUPPORT), V1, No, No, AdminFraudGet,
        "A tenant's fraud guard: its level, the destination prefixes and end users it blocks, and the busiest prefixes of the last hour",
        body: None, ok: 200 s::ok::<crate::service::abuse::fraud::FraudStatus>, example: s::fraud_example, errors: ADMIN_ERRORS),
    route!("POST" "/v1/admin/tenants/{id}/fraud/lift", Admin(OPERATE), V1, Claimed, No, AdminFraudLift,
        "Lift one fraud-guard block of a tenant (by its key), or all of them",
        body: Some(s::named::<rq::FraudLiftBody>), ok: 200 s::ok::<av::FraudLifted>, example: s::no_example, errors: ADMIN_ERRORS),
    route!("GET" "/v1/admin/metrics", Admin(SUPPORT), Raw, No, No, AdminMetrics,
        "Prometheus text: requests by route and status, sends by state, latency histogram (this month's counters), each phone's queue depth and pacing headroom (its last health check), open alerts, this isolate's store requests",
        body: None, ok: 200 s::metrics_ok, example: s::no_example, errors: ADMIN_ERRORS),
    route!("GET" "/v1/messages", Tenant(Read), V1, No, Pipeline, MessageList,
        "The caller's message log, newest first, searchable and paged: ?direction=outbound (default) or inbound (replies, with the sender and text), ?phone= (E.164), ?id=, ?state=, ?kind=, ?from=, ?to= (ISO 8601), ?limit= (1 to 200, default 50), ?cursor= (the next_cursor of the page before)",
        body: None, ok: 200 s::ok::<crate::service::messaging::log::LogPage>, example: s::message_list_example, errors: &[ValidationFailed, PhoneInvalid, Unauthorized, Forbidden, OriginNotAllowed, TenantSuspended, TenantExpired, RateLimited, StoreUnavailable]),
    route!("POST" "/v1/webhooks", Tenant(Manage), V1, InCommit, Handler, WebhookCreate,
        "Register a webhook endpoint (URL, event types); the answer holds its Standard Webhooks signing secret, shown once",
        body: Some(s::webhook_create_body), ok: 201 s::webhook_ok, example: s::webhook_created_example, errors: WEBHOOK_ERRORS),
    route!("GET" "/v1/webhooks", Tenant(Read), V1, No, Pipeline, WebhookList,
        "The caller's webhook endpoints",
        body: None, ok: 200 s::webhook_list_ok, example: s::webhook_list_example, errors: WEBHOOK_ERRORS),
    route!("GET" "/v1/webhooks/{id}", Tenant(Read), V1, No, Pipeline, WebhookGet,
        "One webhook endpoint: URL, events, enabled, failing since, why it was disabled",
        body: None, ok: 200 s::webhook_ok, example: s::webhook_example, errors: WEBHOOK_ERRORS),
    route!("PATCH" "/v1/webhooks/{id}", Tenant(Manage), V1, No, Pipeline, WebhookUpdate,
        "Change an endpoint's URL, events or description; enable it again (its failure count restarts) or disable it",
        body: Some(s::named::<rq::WebhookInput>), ok: 200 s::webhook_ok, example: s::webhook_example, errors: WEBHOOK_ERRORS),
    route!("DELETE" "/v1/webhooks/{id}", Tenant(Manage), V1, No, Pipeline, WebhookDelete,
        "Remove a webhook endpoint",
        body: None, ok: 200 s::ok::<av::Deleted>, example: s::no_example, errors: WEBHOOK_ERRORS),
    route!("GET" "/v1/webhooks/{id}/deliveries", Tenant(Read), V1, No, Pipeline, WebhookDeliveries,
        "An endpoint's deliveries, newest first, each with every attempt (?state=pending|delivered|failed, ?limit=50)",
        body: None, ok: 200 s::ok::<av::Deliveries>, example: s::deliveries_example, errors: WEBHOOK_ERRORS),
    route!("POST" "/v1/webhooks/{id}/replay", Tenant(Manage), V1, InCommit, Handler, WebhookReplay,
        "Send deliveries again: by event id, or every failed one since a time",
        body: Some(s::named::<rq::ReplayBody>), ok: 200 s::ok::<av::Replayed>, example: s::replay_example, errors: WEBHOOK_ERRORS),
    route!("GET" "/v1/optouts", Tenant(Read), V1, No, Pipeline, OptoutList,
        "Numbers that replied STOP (or were added): direct messages to them are refused with recipient_opted_out",
        body: None, ok: 200 s::ok::<av::OptoutList>, example: s::optout_list_example, errors: OPTOUT_ERRORS),
    route!("POST" "/v1/optouts", Tenant(Manage), V1, InCommit, Handler, OptoutAdd,
        "Add a number to the caller's opt-out list",
        body: Some(s::named::<rq::OptoutBody>), ok: 201 s::optout_ok, example: s::optout_example, errors: OPTOUT_ERRORS),
    route!("DELETE" "/v1/optouts/{id}", Tenant(Manage), V1, No, Pipeline, OptoutRemove,
        "Remove a number from the caller's opt-out list (as a START reply does)",
        body: None, ok: 200 s::ok::<av::Deleted>, example: s::no_example, errors: OPTOUT_ERRORS),
    route!("POST" "/internal/gateway/inbound", Gateway, V1, No, No, GatewayInbound,
        "SMS a phone received (signed, encrypted; up to 16 a request; each recorded once)",
        body: None, ok: 200 s::acked::<sv::InboundTaken>, example: s::inbound_example, errors: &[Unauthorized, BadJson, ValidationFailed, StoreUnavailable, Conflict]),
    route!("GET" "/v1/admin/messages", Admin(SUPPORT), V1, No, No, AdminMessageList,
        "Every tenant's message log (or one tenant's: ?tenant_id=), newest first, each with its tenant_id; the filters and paging of GET /v1/messages",
        body: None, ok: 200 s::ok::<crate::service::messaging::log::LogPage>, example: s::message_list_example, errors: &[ValidationFailed, PhoneInvalid, Unauthorized, Forbidden, RateLimited, StoreUnavailable, PayloadTooLarge]),
    route!("GET" "/v1/admin/inbound", Admin(SUPPORT), V1, No, No, AdminInbound,
        "Inbound SMS of one tenant (?tenant_id=), or without it those no tenant could be found for",
        body: None, ok: 200 s::ok::<av::Items>, example: s::message_list_example, errors: ADMIN_ERRORS),
    route!("GET" "/v1/admin/optouts", Admin(SUPPORT), V1, No, No, AdminOptoutList,
        "A tenant's opt-out list (?tenant_id=)",
        body: None, ok: 200 s::ok::<av::OptoutList>, example: s::optout_list_example, errors: OPTOUT_ERRORS),
    route!("POST" "/v1/admin/optouts", Admin(OPERATE), V1, Claimed, No, AdminOptoutAdd,
        "Add a number to a tenant's opt-out list",
        body: Some(s::named::<rq::OptoutBody>), ok: 201 s::optout_ok, example: s::optout_example, errors: OPTOUT_ERRORS),
    route!("DELETE" "/v1/admin/optouts/{id}", Admin(OPERATE), V1, No, No, AdminOptoutRemove,
        "Remove an entry from a tenant's opt-out list",
        body: None, ok: 200 s::ok::<av::Deleted>, example: s::no_example, errors: OPTOUT_ERRORS),
    route!("GET" "/v1/admin/alerts", Admin(SUPPORT), V1, No, No, AdminAlerts,
        "Operator alert channels (the phone masked) and the latest incidents, open or cleared",
        body: None, ok: 200 s::ok::<av::Alerts>, example: s::alerts_example, errors: ALERT_ERRORS),
    route!("PATCH" "/v1/admin/alerts", Admin(OPERATE), V1, No, No, AdminAlertsUpdate,
        "Set where alerts go: an operator phone, a Slack- or Discord-compatible webhook URL and/or email recipients (null removes)",
        body: Some(s::named::<rq::AlertConfigInput>), ok: 200 s::ok::<av::AlertsConfigured>, example: s::alerts_configured_example, errors: ALERT_ERRORS),
    route!("POST" "/v1/admin/alerts/test", Admin(OPERATE), V1, Claimed, No, AdminAlertsTest,
        "Send a test alert to every configured channel",
        body: Some(s::named::<rq::NoBody>), ok: 200 s::ok::<av::AlertTested>, example: s::no_example, errors: ALERT_ERRORS),
    route!("GET" "/v1/admin/gateways/{id}/metrics", Admin(SUPPORT), Raw, No, No, AdminGatewayMetrics,
        "One phone's own Prometheus metrics (its signed /metrics)",
        body: None, ok: 200 s::metrics_ok, example: s::no_example, errors: ADMIN_GATEWAY_ERRORS),
    route!("GET" "/v1/admin/gateways/{id}/logs", Admin(SUPPORT), V1, No, No, AdminGatewayLogs,
        "The last lines of one phone's log (?lines=1-200, default 50), fetched signed; digit runs masked",
        body: None, ok: 200 s::ok::<av::GatewayLogs>, example: s::gateway_logs_example, errors: ADMIN_GATEWAY_ERRORS),
    route!("GET" "/v1/admin/backups", Admin(OPERATE), V1, No, No, AdminBackupList,
        "The scheduled backups in the R2 bucket: each day and whether its export is complete",
        body: None, ok: 200 s::ok::<av::BackupList>, example: s::no_example, errors: BACKUP_ERRORS),
    route!("POST" "/v1/admin/backups/run", Admin(OPERATE), V1, Claimed, No, AdminBackupRun,
        "Take today's backup now (or finish it), as the scheduled job does; a complete day is left as it is",
        body: Some(s::named::<rq::NoBody>), ok: 200 s::ok::<crate::service::ops::backup::BackupStep>, example: s::backup_run_example, errors: BACKUP_ERRORS),
    route!("GET" "/v1/admin/backups/{id}", Admin(OPERATE), V1, No, No, AdminBackupGet,
        "A complete day's manifest (YYYY-MM-DD): documents per collection, its parts with their SHA-256",
        body: None, ok: 200 s::ok::<crate::service::ops::backup::Manifest>, example: s::no_example, errors: BACKUP_ERRORS),
    route!("POST" "/v1/admin/backups/{id}/restore", Admin(OWNER), V1, Claimed, No, AdminBackupRestore,
        "Restore one part of a day's backup (checked against the manifest); a client restores a day part by part",
        body: Some(s::named::<rq::BackupRestoreBody>), ok: 200 s::ok::<av::BackupRestored>, example: s::no_example, errors: BACKUP_ERRORS),
    route!("GET" "/v1/admin/fallback", Admin(OPERATE), V1, No, No, AdminFallbackGet,
        "The paid SMS fallback's provider (Twilio): account, sender, callback URL, which secrets are set (never their values)",
        body: None, ok: 200 s::ok::<av::FallbackView>, example: s::fallback_example, errors: ADMIN_ERRORS),
    route!("PUT" "/v1/admin/fallback", Admin(OWNER), V1, No, No, AdminFallbackPut,
        "Set the paid SMS fallback's provider, whole (secrets sealed); codes no phone can deliver go through it for tenants with settings.fallback_monthly_cap > 0",
        body: Some(s::named::<rq::FallbackConfigInput>), ok: 200 s::ok::<av::FallbackView>, example: s::fallback_example, errors: ADMIN_ERRORS),
    route!("DELETE" "/v1/admin/fallback", Admin(OWNER), V1, No, No, AdminFallbackDelete,
        "Remove the paid SMS fallback's provider: codes no phone takes are refused again",
        body: None, ok: 200 s::ok::<av::FallbackView>, example: s::fallback_unset_example, errors: ADMIN_ERRORS),
    route!("POST" "/v1/providers/twilio/status", Public, V1, No, No, ProviderTwilioStatus,
        "Twilio's status callback for a fallback message (form-encoded, signed with X-Twilio-Signature; unsigned or forged ones are refused)",
        body: None, ok: 200 s::ok::<sv::CallbackReceived>, example: s::no_example, errors: &[Forbidden, ValidationFailed, NotFound, StoreUnavailable, Conflict, PayloadTooLarge]),
    route!("POST" "/v1/gateways/enrol", Public, V1, No, No, GatewayEnrol,
        "A phone enrols itself with a one-time token: the answer is its gateway id and secret (shown once; the edge keeps it sealed). A used, expired or unknown token changes nothing",
        body: Some(s::named::<rq::EnrolRequest>), ok: 201 s::ok::<otp_shared::enrol::Enrolled>, example: s::enrolled_example, errors: ENROL_ERRORS),
    route!("POST" "/internal/gateway/register", Gateway, V1, No, No, GatewayRegister,
        "An enrolled phone registers its new URL (signed with its own key, encrypted; the nonce is single use)",
        body: None, ok: 200 s::ok::<av::Registered>, example: s::no_example, errors: &[Unauthorized, BadJson, ValidationFailed, GatewayConfigured, GatewayRetired, StoreUnavailable, Conflict]),
    route!("POST" "/v1/admin/gateways/enrolments", Admin(OPERATE), V1, Claimed, No, AdminEnrolTokenCreate,
        "A one-time enrolment token (shown once, stored hashed; default 1 h, at most 7 days) and the install command a phone runs",
        body: Some(s::named::<rq::EnrolTokenBody>), ok: 201 s::ok::<av::EnrolTokenMade>, example: s::enrol_token_example, errors: ADMIN_ENROL_ERRORS),
    route!("GET" "/v1/admin/gateways/enrolments", Admin(SUPPORT), V1, No, No, AdminEnrolTokenList,
        "Enrolment tokens by the first 12 hex digits of their hash: open, used, expired or revoked, and the phone each enrolled",
        body: None, ok: 200 s::ok::<av::Items>, example: s::no_example, errors: ADMIN_ENROL_ERRORS),
    route!("POST" "/v1/admin/gateways/enrolments/{id}/revoke", Admin(OPERATE), V1, Claimed, No, AdminEnrolTokenRevoke,
        "Revoke an enrolment token no phone has used (id: the first 12 or more hex digits of its hash, as listed): from then on it enrols nothing (410 enrol_token_revoked). Revoking it again changes nothing; a used token is 409 (retire the phone instead)",
        body: Some(s::named::<rq::NoBody>), ok: 200 s::ok::<av::EnrolTokenRevoked>, example: s::no_example, errors: ADMIN_ENROL_ERRORS),
    route!("GET" "/v1/admin/gateways/enrolled", Admin(SUPPORT), V1, No, No, AdminEnrolledList,
        "Phones that enrolled themselves: URL, numbers, version, status, a key rotation pending (never a key)",
        body: None, ok: 200 s::ok::<av::Items>, example: s::no_example, errors: ADMIN_ENROL_ERRORS),
    route!("POST" "/v1/admin/gateways/{id}/retire", Admin(OPERATE), V1, Claimed, No, AdminGatewayRetire,
        "Retire an enrolled phone: out of the fleet at once, its keys erased (it can enrol again with a new token)",
        body: Some(s::named::<rq::NoBody>), ok: 200 s::ok::<av::Retired>, example: s::no_example, errors: ADMIN_ENROL_ERRORS),
    route!("POST" "/v1/admin/gateways/{id}/rotate-key", Admin(OPERATE), V1, Claimed, No, AdminGatewayRotateKey,
        "Give an enrolled phone a new key: pushed in a request signed with its current key, current once the phone confirms; the old key stays valid 10 minutes. Safe to retry",
        body: Some(s::named::<rq::NoBody>), ok: 200 s::ok::<av::PhoneKeyRotated>, example: s::no_example, errors: ADMIN_ENROL_ERRORS),
];

/// The per-route limit (`settings.limits.send` ...) a route counts against instead of
/// `per_endpoint`, if any: each route of the OTP and message groups, aliases included.
pub fn limit_group(h: Handler) -> Option<crate::service::model::RouteLimit> {
    use crate::service::model::RouteLimit;
    use Commit::*;
    let Handler::Commit(h) = h else {
        return None;
    };
    match h {
        OtpSend | SeedSendOtp | TwilioStart => Some(RouteLimit::Send),
        OtpResend | SeedResendOtp => Some(RouteLimit::Resend),
        OtpVerify | SeedVerifyOtp | TwilioCheck => Some(RouteLimit::Verify),
        MessageSend | SeedDirectMessage => Some(RouteLimit::Messages),
        _ => None,
    }
}

pub enum Matched {
    Route(&'static Route, Option<String>),
    /// The path exists but not with this method; the methods it has (for `Allow`).
    WrongMethod(Vec<&'static str>),
    NotFound,
}

/// The route for `method` and `path`, with the `{id}` parameter if it has one.
pub fn find(method: &str, path: &str) -> Matched {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let mut methods = Vec::new();
    for r in ROUTES {
        let Some(param) = match_path(r.path, path) else {
            continue;
        };
        if r.method == method {
            return Matched::Route(r, param);
        }
        if !methods.contains(&r.method) {
            methods.push(r.method);
        }
    }
    if methods.is_empty() {
        Matched::NotFound
    } else {
        Matched::WrongMethod(methods)
    }
}

/// `Some(param)` when `path` fits `template`; ids are plain (`otp_shared::ids::is_plain_id`), so
/// a parameter can never spell another path.
pub(crate) fn match_path(template: &str, path: &str) -> Option<Option<String>> {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    let mut param = None;
    loop {
        match (t.next(), p.next()) {
            (None, None) => return Some(param),
            (Some("{id}"), Some(seg)) if otp_shared::ids::is_plain_id(seg) => {
                param = Some(seg.to_string())
            }
            (Some(a), Some(b)) if a == b => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_commit_routes_and_only_those_get_the_first_commit() {
        for r in ROUTES {
            assert_eq!(
                matches!(r.handler, Handler::Commit(_)),
                r.idempotency == Idempotency::InCommit,
                "{} {}",
                r.method,
                r.path
            );
        }
        assert_eq!(format!("{:?}", Handler::Commit(Commit::OtpSend)), "OtpSend");
    }

    #[test]
    fn every_route_matches_itself_and_is_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} listed twice",
                r.method,
                r.path
            );
            let concrete = r.path.replace("{id}", "t_abc");
            match find(r.method, &concrete) {
                Matched::Route(found, _) => {
                    assert_eq!(found.handler, r.handler, "{} {}", r.method, r.path)
                }
                _ => panic!("{} {} does not match", r.method, r.path),
            }
        }
    }

    #[test]
    fn every_keyed_route_declares_who_may_call_it() {
        for r in ROUTES {
            match (r.auth, r.access) {
                (Auth::Admin, Access::Admin(roles)) => {
                    assert!(
                        roles.contains(&Owner),
                        "{} {}: the owner may do everything",
                        r.method,
                        r.path
                    );
                    // A read-only role never reaches a route that changes something.
                    if r.method != "GET" {
                        assert!(
                            !roles.contains(&Support) && !roles.contains(&Billing),
                            "{} {} lets a read-only role write",
                            r.method,
                            r.path
                        );
                    }
                }
                (Auth::Tenant, Access::Tenant(scope)) => {
                    if r.method == "GET" {
                        assert_eq!(scope, Read, "{} {}", r.method, r.path);
                    } else {
                        assert_ne!(scope, Read, "{} {}", r.method, r.path);
                    }
                }
                (Auth::Public | Auth::Gateway, Access::Open) => {}
                (a, x) => panic!("{} {}: {a:?} with {x:?}", r.method, r.path),
            }
        }
        // Admin keys are the owner's alone; backups are restored by the owner.
        for (m, p) in [
            ("POST", "/v1/admin/keys"),
            ("GET", "/v1/admin/keys"),
            ("POST", "/v1/admin/keys/{id}/revoke"),
            ("POST", "/v1/admin/import"),
            ("GET", "/v1/admin/export"),
            ("POST", "/v1/admin/backups/{id}/restore"),
        ] {
            let r = ROUTES
                .iter()
                .find(|r| r.method == m && r.path == p)
                .unwrap();
            assert_eq!(r.access, Access::Admin(OWNER), "{m} {p}");
        }
    }

    #[test]
    fn each_route_group_has_its_own_limit_and_the_rest_share_per_endpoint() {
        use crate::platform::RateRule;
        use crate::service::model::{RateLimits, RouteLimit};
        let tight = RateRule {
            limit: 2,
            window_secs: 60,
        };
        let l = RateLimits {
            verify: Some(tight),
            ..Default::default()
        };
        assert_eq!(
            l.endpoint_rule(limit_group(Handler::Commit(Commit::OtpVerify))),
            tight
        );
        assert_eq!(
            l.endpoint_rule(limit_group(Handler::Commit(Commit::TwilioCheck))),
            tight
        );
        assert_eq!(
            l.endpoint_rule(limit_group(Handler::Commit(Commit::OtpSend))),
            l.per_endpoint
        );
        assert_eq!(
            l.endpoint_rule(limit_group(Handler::Plain(Plain::Usage))),
            l.per_endpoint
        );
        assert_eq!(
            limit_group(Handler::Commit(Commit::SeedDirectMessage)),
            Some(RouteLimit::Messages)
        );
        assert_eq!(limit_group(Handler::Plain(Plain::MessageList)), None);
    }

    #[test]
    fn each_handler_serves_one_route() {
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(
                seen.insert(format!("{:?}", r.handler)),
                "{:?} serves two routes",
                r.handler
            );
        }
    }

    #[test]
    fn wrong_method_is_told_apart_from_unknown_path() {
        assert!(matches!(find("GET", "/v1/otp/send"), Matched::WrongMethod(m) if m == ["POST"]));
        assert!(
            matches!(find("TRACE", "/v1/admin/tenants/t_1"), Matched::WrongMethod(m) if m == ["GET", "PATCH", "DELETE"])
        );
        assert!(matches!(find("GET", "/v1/nothing"), Matched::NotFound));
        assert!(matches!(
            find("GET", "/v1/messages/../../etc"),
            Matched::NotFound
        ));
        assert!(matches!(
            find("GET", "/v1/messages/a%2fb"),
            Matched::NotFound
        ));
    }

    #[test]
    fn trailing_slash_is_tolerated_and_params_are_captured() {
        assert!(
            matches!(find("POST", "/v1/otp/send/"), Matched::Route(r, None) if r.handler == Handler::Commit(Commit::OtpSend))
        );
        assert!(
            matches!(find("GET", "/v1/messages/msg_1"), Matched::Route(r, Some(id)) if r.handler == Handler::Plain(Plain::MessageGet) && id == "msg_1")
        );
    }

    #[test]
    fn tenant_routes_count_their_limits_and_sends_keep_idempotency_in_their_commit() {
        for r in ROUTES {
            if r.auth == Auth::Tenant {
                assert_ne!(
                    r.limits,
                    Limits::No,
                    "{} {} has no limits",
                    r.method,
                    r.path
                );
                if r.method == "POST" {
                    assert_eq!(
                        r.idempotency,
                        Idempotency::InCommit,
                        "{} {}",
                        r.method,
                        r.path
                    );
                    assert_eq!(r.limits, Limits::Handler, "{} {}", r.method, r.path);
                }
            }
            if r.auth == Auth::Admin && r.method == "POST" {
                assert_eq!(
                    r.idempotency,
                    Idempotency::Claimed,
                    "{} {}",
                    r.method,
                    r.path
                );
            }
        }
    }
}
