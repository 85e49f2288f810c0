//! JSON Schemas and examples that the route table's entries point to: request bodies, success
//! answers (schemathesis checks answers against them) and their examples. The settings and the
//! typed answers (`api::views`) are derived from their Rust types (utoipa's `ToSchema`): `named`
//! points at a type's schema, and `components` lists every such schema with the ones it uses.

use serde_json::{json, Map, Value};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use super::requests as rq;
use super::views;
use super::views::admin as av;
use super::views::compat as cv;
use super::views::system as sv;
use crate::service::messaging::dispatch::MessageView;
use crate::service::messaging::optouts::OptoutView;
use crate::service::model::TenantSettings;
use crate::service::ops::webhooks::endpoints::{WebhookList, WebhookView};

/// A `$ref` to `T`'s derived schema (listed by [`components`]).
pub fn named<T: ToSchema>() -> Value {
    json!({"$ref": format!("#/components/schemas/{}", T::name())})
}

/// The seed's success envelope around `T`.
pub fn seed_ok<T: ToSchema>() -> Value {
    seed(named::<T>())
}

/// A phone's post acknowledged: `{"success": true, "data": T}`.
pub fn acked<T: ToSchema>() -> Value {
    object(
        json!({"success": {"const": true}, "data": named::<T>()}),
        &["success", "data"],
    )
}

/// A v1 success answer whose `data` is `T`.
pub fn ok<T: ToSchema>() -> Value {
    envelope(named::<T>())
}

fn add<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
    out.push((T::name().into_owned(), T::schema()));
    T::schemas(out);
}

/// Every derived schema the document points to, with the schemas they use in turn.
pub fn components() -> Map<String, Value> {
    derived().into_iter().collect()
}

/// The derived schemas by name, each as often as a type uses it.
fn derived() -> Vec<(String, Value)> {
    let mut all = Vec::new();
    add::<TenantSettings>(&mut all);
    add::<views::OtpSent>(&mut all);
    add::<views::ReverseStarted>(&mut all);
    add::<views::OtpVerified>(&mut all);
    add::<MessageView>(&mut all);
    add::<views::Usage>(&mut all);
    add::<views::TenantView>(&mut all);
    add::<views::TenantPage>(&mut all);
    add::<views::KeyView>(&mut all);
    add::<views::KeyList>(&mut all);
    add::<WebhookView>(&mut all);
    add::<WebhookList>(&mut all);
    add::<OptoutView>(&mut all);
    add::<crate::service::repo::alerts::AlertKind>(&mut all);
    add::<av::Deleted>(&mut all);
    add::<av::TenantKeyRotated>(&mut all);
    add::<av::BulkResults>(&mut all);
    add::<av::KillSwitchSet>(&mut all);
    add::<av::GatewayKillSwitchSet>(&mut all);
    add::<av::AdminUsage>(&mut all);
    add::<av::Export>(&mut all);
    add::<av::Imported>(&mut all);
    add::<av::AdminKeyCreated>(&mut all);
    add::<av::AdminKeyRotated>(&mut all);
    add::<av::Items>(&mut all);
    add::<av::GeoView>(&mut all);
    add::<av::FraudLifted>(&mut all);
    add::<otp_shared::enrol::Enrolled>(&mut all);
    add::<av::Registered>(&mut all);
    add::<av::EnrolTokenMade>(&mut all);
    add::<av::Retired>(&mut all);
    add::<av::PhoneKeyRotated>(&mut all);
    add::<av::EnrolTokenRevoked>(&mut all);
    add::<av::AlertTested>(&mut all);
    add::<av::GatewayLogs>(&mut all);
    add::<av::BackupList>(&mut all);
    add::<av::BackupRestored>(&mut all);
    add::<av::Replayed>(&mut all);
    add::<av::OptoutList>(&mut all);
    add::<crate::service::ops::backup::Manifest>(&mut all);
    add::<sv::Health>(&mut all);
    add::<sv::ServiceStatus>(&mut all);
    add::<sv::ReportsTaken>(&mut all);
    add::<sv::InboundTaken>(&mut all);
    add::<sv::CallbackReceived>(&mut all);
    add::<cv::SeedSent>(&mut all);
    add::<cv::SeedResent>(&mut all);
    add::<cv::SeedVerified>(&mut all);
    add::<cv::SeedMessageSent>(&mut all);
    add::<cv::TwilioVerification>(&mut all);
    add::<av::Alerts>(&mut all);
    add::<av::AlertsConfigured>(&mut all);
    add::<av::Deliveries>(&mut all);
    add::<av::FallbackView>(&mut all);
    add::<crate::service::ops::backup::BackupStep>(&mut all);
    add::<crate::service::ops::cron::Run>(&mut all);
    add::<super::views::insights::AnalyticsReport>(&mut all);
    add::<super::views::insights::ConversionReport>(&mut all);
    add::<crate::service::messaging::log::LogPage>(&mut all);
    add::<crate::service::abuse::fraud::FraudStatus>(&mut all);
    add::<rq::NoBody>(&mut all);
    add::<rq::TenantInput>(&mut all);
    add::<rq::RenewBody>(&mut all);
    add::<rq::RotateBody>(&mut all);
    add::<rq::BulkBody>(&mut all);
    add::<rq::KillSwitchBody>(&mut all);
    add::<rq::GatewayKillSwitchBody>(&mut all);
    add::<rq::AdminKeyBody>(&mut all);
    add::<rq::ScopedKeyBody>(&mut all);
    add::<rq::ImportBody>(&mut all);
    add::<rq::BackupRestoreBody>(&mut all);
    add::<rq::EnrolRequest>(&mut all);
    add::<rq::EnrolTokenBody>(&mut all);
    add::<rq::GeoBody>(&mut all);
    add::<rq::FraudLiftBody>(&mut all);
    add::<rq::OtpSendBody>(&mut all);
    add::<rq::OtpTargetBody>(&mut all);
    add::<rq::MessageBody>(&mut all);
    add::<rq::OptoutBody>(&mut all);
    add::<rq::SeedBody>(&mut all);
    add::<rq::ReplayBody>(&mut all);
    add::<rq::WebhookInput>(&mut all);
    add::<rq::AlertConfigInput>(&mut all);
    add::<rq::FallbackConfigInput>(&mut all);
    let mut out: Vec<(String, Value)> = all
        .into_iter()
        .map(|(name, schema)| {
            let schema = serde_json::to_value(schema).expect("a schema serialises");
            (name, schema)
        })
        .collect();
    out.push(requiring::<rq::TenantInput>(TENANT_CREATE, &["name"]));
    out.push(requiring::<rq::WebhookInput>(WEBHOOK_CREATE, &["url"]));
    out
}

const TENANT_CREATE: &str = "TenantCreate";
const WEBHOOK_CREATE: &str = "WebhookCreate";

/// A creation's body: `T` (which its update reads too, absent fields staying as they are) with
/// the fields a creation needs required, as its handler requires them.
fn requiring<T: ToSchema>(name: &str, fields: &[&str]) -> (String, Value) {
    let mut schema = serde_json::to_value(T::schema()).expect("a schema serialises");
    let mut required: Vec<Value> = schema["required"].as_array().cloned().unwrap_or_default();
    required.extend(fields.iter().map(|f| json!(f)));
    schema["required"] = Value::Array(required);
    (name.to_string(), schema)
}

/// `POST /v1/admin/tenants`: a tenant's fields, `name` required.
pub fn tenant_create_body() -> Value {
    json!({"$ref": format!("#/components/schemas/{TENANT_CREATE}")})
}

/// `POST /v1/webhooks`: an endpoint's fields, `url` required.
pub fn webhook_create_body() -> Value {
    json!({"$ref": format!("#/components/schemas/{WEBHOOK_CREATE}")})
}

fn text() -> Value {
    json!({"type": "string"})
}
fn object(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required})
}

/// The v1 success envelope around `data`.
fn envelope(data: Value) -> Value {
    json!({"type": "object", "required": ["success", "data", "request_id"], "properties": {"success": {"const": true}, "data": data, "request_id": text()}})
}

fn seed(data: Value) -> Value {
    json!({"type": "object", "required": ["success", "message", "data"], "properties": {"success": {"const": true}, "message": text(), "data": data}})
}

fn v1_example(data: Value) -> Value {
    json!({"success": true, "request_id": "req_01jd9", "data": data})
}

pub fn twilio_start_body() -> Value {
    json!({"type": "object", "properties": {"To": {"type": "string", "example": "+14155550123"}, "Channel": {"type": "string", "enum": ["sms"]}, "Locale": text(), "DeviceIp": {"type": "string", "example": "203.0.113.7"}}, "required": ["To", "Channel"]})
}
pub fn twilio_check_body() -> Value {
    json!({"type": "object", "properties": {"To": {"type": "string", "example": "+14155550123"}, "VerificationSid": text(), "Code": {"type": "string", "minLength": 1}}, "required": ["Code"]})
}

pub fn geo_example() -> Value {
    v1_example(
        json!({"allowed_ranges": ["satellite"], "ranges": [{"range": "satellite", "allowed": true}, {"range": "premium_rate", "allowed": false}]}),
    )
}
pub fn fraud_example() -> Value {
    v1_example(
        json!({"tenant_id": "t_01jd9", "level": "standard", "blocks": [{"key": "p:+33612", "watched": "+33612", "kind": "prefix", "level": "standard", "since": "2026-11-25T10:00:00.000Z", "until": "2026-11-25T11:00:00.000Z", "sends": 20, "approved": 0, "threshold": 20}], "busiest": []}),
    )
}
pub fn enrolled_example() -> Value {
    v1_example(json!({"gateway_id": "ph_01jd9", "secret": "…"}))
}
pub fn enrol_token_example() -> Value {
    v1_example(
        json!({"id": "3f1c0a9e5d2b", "token": "otp_et_…", "gateway_id": null, "label": "kitchen phone", "expires_at": "2026-12-06T17:00:00Z", "edge_url": "https://otp.example.com", "command": "curl -fsSL https://…/install.sh | bash -s -- --enrol otp_et_… --edge https://otp.example.com"}),
    )
}

// --- success answers -----------------------------------------------------------------------

pub fn health_example() -> Value {
    json!({"status": "ok", "version": "0.1.0", "build": {"commit": "8275720662ab", "source_sha256": "3f1c0a9e5d2b", "target": "wasm32", "profile": "release"}, "components": {"store": "firestore", "gateways": 1, "kill_switch": false}})
}
pub fn openapi_ok() -> Value {
    object(
        json!({"openapi": text(), "paths": {"type": "object"}}),
        &["openapi", "paths"],
    )
}
pub fn openapi_example() -> Value {
    json!({"openapi": "3.1.0", "paths": {}})
}
pub fn static_ok() -> Value {
    json!({"type": "string"})
}
pub fn no_example() -> Value {
    Value::Null
}

pub fn sent_ok() -> Value {
    envelope(json!({"oneOf": [named::<views::OtpSent>(), named::<views::ReverseStarted>()]}))
}
pub fn sent_example() -> Value {
    v1_example(
        json!({"id": "ver_0123456789abcdefghjkz9y8x7", "phone": "+14155550123", "status": "pending", "expires_at": "2026-11-25T10:05:00.000Z", "expires_in": 300, "sends": 1, "delivery": {"message_id": "msg_01jd9", "state": "queued", "gateway_id": "phone-1", "channel": "phone"}}),
    )
}
pub fn verified_ok() -> Value {
    envelope(named::<views::OtpVerified>())
}
pub fn verified_example() -> Value {
    v1_example(
        json!({"id": "ver_0123456789abcdefghjkz9y8x7", "phone": "+14155550123", "status": "approved", "verified_at": "2026-11-25T10:01:00.000Z"}),
    )
}
fn message() -> Value {
    named::<MessageView>()
}
pub fn message_ok() -> Value {
    envelope(message())
}
pub fn message_example() -> Value {
    v1_example(
        json!({"id": "msg_01jd9", "direction": "outbound", "kind": "direct", "phone": "+1415•••0123", "state": "queued", "encoding": "GSM-7", "segments": 1, "gateway_id": "phone-1", "attempts": 0, "channel": "phone", "created_at": "2026-11-25T10:00:00.000Z", "updated_at": "2026-11-25T10:00:00.000Z"}),
    )
}
pub fn usage_ok() -> Value {
    envelope(named::<views::Usage>())
}
pub fn tenant_ok() -> Value {
    envelope(named::<views::TenantView>())
}
pub fn tenant_page_ok() -> Value {
    envelope(named::<views::TenantPage>())
}
fn tenant_view_example() -> views::TenantView {
    views::TenantView {
        id: "t_01jd9".into(),
        name: "Acme".into(),
        status: crate::service::model::TenantStatus::Active,
        quota: 1000,
        expires_at: Some("2027-01-01T00:00:00.000Z".into()),
        contact_phone: None,
        contact_phone_masked: None,
        kill_switch: false,
        settings: TenantSettings::default(),
        created_at: "2026-11-25T10:00:00.000Z".into(),
        updated_at: "2026-11-25T10:00:00.000Z".into(),
        api_key: None,
        quota_remaining: None,
        keys: None,
    }
}
pub fn tenant_example() -> Value {
    v1_example(json!(tenant_view_example()))
}
pub fn tenant_page_example() -> Value {
    let t = tenant_example()["data"].clone();
    v1_example(json!({"items": [t], "next_cursor": null}))
}
pub fn usage_example() -> Value {
    let usage = views::Usage {
        tenant_id: "t_01jd9".into(),
        tenant_name: "Acme".into(),
        quota: views::QuotaView {
            total: 1000,
            used: 12,
            remaining: 988,
            expires_at: Some("2027-01-01T00:00:00.000Z".into()),
        },
        counts: json!({"otp_sent": 12, "otp_approved": 9}),
        code: views::CodeView {
            code_type: crate::service::model::CodeKind::Words,
            words: 2,
            digits: 6,
            space: 1_474_560,
            max_checks: 5,
            guess_odds: 3.4e-6,
            guess_odds_text: "1 in 294912".into(),
            max_failed_checks_per_hour: 20,
            max_failed_checks_per_day: 60,
            guess_odds_per_phone_per_day: 4.1e-5,
            guess_odds_per_phone_per_day_text: "1 in 24576".into(),
        },
        limits: views::LimitsView {
            ttl_secs: 300,
            max_sends: 3,
            send_window_secs: 3600,
            rate: Default::default(),
        },
        fallback: views::FallbackSpend {
            monthly_cap: 500,
            month: "2026-12".into(),
            sent: 2,
            remaining: 498,
            cost: "0.015800".into(),
        },
    };
    v1_example(json!(usage))
}
pub fn status_example() -> Value {
    v1_example(
        json!({"status": "ok", "store": {"reachable": true, "latency_ms": 4}, "gateways": [{"reachable": true}]}),
    )
}
pub fn seed_sent_example() -> Value {
    let data = cv::SeedSent {
        phone: "+14155550123".into(),
        expires_in: 300,
        verification_id: "ver_0123456789abcdefghjkz9y8x7".into(),
        message_id: "msg_01jd9".into(),
    };
    json!({"success": true, "message": "OTP sent successfully", "data": data})
}
pub fn seed_resent_example() -> Value {
    json!({"success": true, "message": "OTP resent successfully", "data": {"phone": "+14155550123", "expiresIn": 290, "attemptCount": 2}})
}
pub fn seed_verified_example() -> Value {
    json!({"success": true, "message": "OTP verified successfully", "data": {"phone": "+14155550123", "verified": true, "verifiedAt": "2026-11-25T10:01:00.000Z"}})
}
pub fn seed_message_example() -> Value {
    let data = cv::SeedMessageSent {
        phone: "+14155550123".into(),
        message_id: "msg_01jd9".into(),
        status: crate::service::model::DeliveryState::Queued,
    };
    json!({"success": true, "message": "Message sent successfully", "data": data})
}
fn twilio_example(status: cv::TwilioStatus) -> cv::TwilioVerification {
    let sid = "ver_0123456789abcdefghjkz9y8x7";
    cv::TwilioVerification {
        sid: sid.into(),
        service_sid: "VA123".into(),
        account_sid: "ACt_01jd9".into(),
        to: "+14155550123".into(),
        channel: "sms",
        status,
        valid: status == cv::TwilioStatus::Approved,
        lookup: json!({}),
        amount: None,
        payee: None,
        send_code_attempts: vec![cv::TwilioAttempt {
            attempt_sid: format!("{sid}-1"),
            channel: "sms",
            time: "2026-11-25T10:00:00Z".into(),
        }],
        sna: None,
        date_created: "2026-11-25T10:00:00Z".into(),
        date_updated: "2026-11-25T10:00:00Z".into(),
        url: format!("https://verify.twilio.com/v2/Services/VA123/Verifications/{sid}"),
    }
}
pub fn twilio_start_example() -> Value {
    json!(twilio_example(cv::TwilioStatus::Pending))
}
pub fn twilio_check_example() -> Value {
    json!(twilio_example(cv::TwilioStatus::Approved))
}
pub fn reports_example() -> Value {
    json!({"success": true, "data": {"received": 2, "applied": 2, "ignored": 0}})
}
pub fn admin_ok() -> Value {
    envelope(json!({"type": ["object", "array"]}))
}
pub fn admin_example() -> Value {
    v1_example(json!({}))
}
pub fn conversion_example() -> Value {
    let row = |key: &str, sent: i64, dlv: i64, ver: i64| {
        json!({"key": key, "sent": sent, "delivered": dlv, "verified": ver,
        "conversion": (ver as f64 / sent as f64 * 1000.0).round() / 1000.0, "delivery_rate": (dlv as f64 / sent as f64 * 1000.0).round() / 1000.0,
        "ttv_p50_s": 18.5, "ttv_p90_s": 52.0})
    };
    v1_example(
        json!({"scope": "_all", "by": "sim", "granularity": "day", "from": "2026-12-06", "to": "2026-12-06",
        "total": row("total", 140, 138, 96), "rows": [row("phone-1/default", 80, 79, 72), row("phone-2/sim1", 60, 59, 24)], "more": 0}),
    )
}
pub fn tenant_created_example() -> Value {
    let t = views::TenantView {
        api_key: Some("otp_sk_…".into()),
        ..tenant_view_example()
    };
    v1_example(json!(t))
}
pub fn key_ok() -> Value {
    envelope(named::<views::KeyView>())
}
pub fn key_list_ok() -> Value {
    envelope(named::<views::KeyList>())
}
pub fn key_example() -> Value {
    let mut k = tenant_key_example();
    k["data"].as_object_mut().map(|d| d.remove("api_key"));
    k
}
pub fn key_list_example() -> Value {
    v1_example(json!({"items": [key_example()["data"]]}))
}
pub fn tenant_key_example() -> Value {
    v1_example(
        json!({"prefix": "abcdefghjkmn", "label": "signup backend", "role": "tenant", "scopes": ["send"], "status": "active", "api_key": "otp_sk_…", "expires_at": null, "created_at": "2026-12-01T10:00:00Z"}),
    )
}
pub fn key_rotated_example() -> Value {
    v1_example(json!(av::AdminKeyRotated {
        prefix: "abcdefghjkmn".into(),
        label: "ops".into(),
        role: crate::service::tenants::keys::AdminRole::Operator,
        api_key: "otp_ak_…".into(),
        old_key_valid_until: "2026-12-01T10:00:00.000Z".into(),
    }))
}
pub fn key_created_example() -> Value {
    v1_example(
        json!({"prefix": "abcdefghjkmn", "label": "ops", "role": "operator", "api_key": "otp_ak_…"}),
    )
}
pub fn metrics_ok() -> Value {
    json!({"type": "string"})
}

pub fn gateway_logs_example() -> Value {
    v1_example(
        json!({"gateway_id": "phone-1", "lines": ["2026-12-06T16:00:00Z  INFO http{request_id=req_01jd9 method=POST path=/v1/send}: request status=202"]}),
    )
}

// --- webhooks, inbound SMS, opt-outs, alerts -------------------------------------------------

fn webhook_data_example() -> Value {
    json!({"id": "whe_01jd9", "url": "https://hooks.example/otp", "events": ["message.sent", "sms.received"], "description": "", "enabled": true, "failing_since": null, "disabled_at": null, "disabled_reason": null, "created_at": "2026-11-25T10:00:00.000Z", "updated_at": "2026-11-25T10:00:00.000Z"})
}
pub fn webhook_ok() -> Value {
    envelope(named::<WebhookView>())
}
pub fn webhook_example() -> Value {
    v1_example(webhook_data_example())
}
pub fn webhook_created_example() -> Value {
    let mut d = webhook_data_example();
    d["secret"] = json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    v1_example(d)
}
pub fn webhook_list_ok() -> Value {
    envelope(named::<WebhookList>())
}
pub fn webhook_list_example() -> Value {
    v1_example(json!({"items": [webhook_data_example()]}))
}
pub fn deliveries_example() -> Value {
    v1_example(
        json!({"items": [{"event_id": "msg_01jd9-sent", "type": "message.sent", "subject": "msg_01jd9", "state": "delivered", "attempts": 2, "next_attempt_at": null, "delivered_at": "2026-11-25T10:00:06.000Z", "created_at": "2026-11-25T10:00:00.000Z",
        "log": [{"at": "2026-11-25T10:00:00.100Z", "status": 500, "ms": 12, "error": "http 500"}, {"at": "2026-11-25T10:00:06.000Z", "status": 200, "ms": 9, "error": null}]}]}),
    )
}
pub fn replay_example() -> Value {
    v1_example(json!({"replayed": 3}))
}
pub fn message_list_example() -> Value {
    v1_example(
        json!({"items": [{"id": "inb_0123456789abcdefghjk", "direction": "inbound", "phone": "+14155550123", "text": "Running 5 minutes late", "gateway_id": "phone-1", "in_reply_to": "msg_01jd9", "keyword": null, "received_at": "2026-11-25T10:02:00.000Z", "created_at": "2026-11-25T10:02:01.000Z", "phone_masked": "+1415*****23"}], "next_cursor": null}),
    )
}
fn optout() -> Value {
    named::<OptoutView>()
}
fn optout_data_example() -> Value {
    json!({"id": "t_01jd9_abcdefghjkmnpqrs", "tenant_id": "t_01jd9", "phone": "+14155550123", "phone_masked": "+1415*****23", "source": "sms", "created_at": "2026-11-25T10:02:01.000Z"})
}
pub fn optout_ok() -> Value {
    envelope(optout())
}
pub fn optout_example() -> Value {
    v1_example(optout_data_example())
}
pub fn optout_list_example() -> Value {
    v1_example(json!({"items": [optout_data_example()]}))
}
pub fn inbound_example() -> Value {
    json!({"success": true, "data": {"received": 2, "accepted": 2, "duplicates": 0, "routed": 1}})
}
pub fn alerts_configured_example() -> Value {
    let mut e = alerts_example();
    e["data"].as_object_mut().map(|d| d.remove("incidents"));
    e
}
pub fn alerts_example() -> Value {
    v1_example(
        json!({"config": {"phone": "+1415•••0123", "webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX", "emails": ["oncall@example.com"], "updated_at": "2026-11-25T09:00:00.000Z"},
        "incidents": [{"id": "phone_down_phone-1", "kind": "phone_down", "subject": "phone-1", "state": "cleared", "opened_at": "2026-11-25T09:10:00.000Z", "cleared_at": "2026-11-25T09:25:00.000Z", "raises": 3, "details": {}, "notified": ["webhook"]}]}),
    )
}

pub fn fallback_example() -> Value {
    json!({"success": true, "data": {"configured": true, "provider": "twilio", "account_sid": "AC0123456789abcdef0123456789abcdef", "auth": "auth_token", "auth_token_set": true, "api_key_sid": null, "from": "+14155550100", "messaging_service_sid": null, "base_url": "https://api.twilio.com", "status_callback_url": "https://otp.example.com/v1/providers/twilio/status", "updated_at": "2026-12-06T19:00:00Z"}, "request_id": "req_01"})
}
pub fn fallback_unset_example() -> Value {
    v1_example(json!(av::FallbackView::of(None)))
}
pub fn backup_run_example() -> Value {
    v1_example(
        json!({"day": "2026-12-06", "done": true, "documents": 1840, "sha256": "3f1c0a9e5d2b…", "deleted_days": ["2026-11-28"]}),
    )
}
pub fn cron_run_example() -> Value {
    v1_example(
        json!({"tenants": 12, "notices_sent": 0, "verifications_expired": 3, "purged": {"messages": 40, "verifications": 31},
        "gateways": [{"id": "phone-1", "reachable": true, "latency_ms": 84}], "webhooks": {"delivered": 2}, "backup": "off", "store_error": null,
        "fleet": {"stuck": {"failed": 0, "rerouted": 0}, "canaries": {"missed": [], "sent": []}, "phones": []}}),
    )
}
pub fn analytics_example() -> Value {
    use crate::service::ops::analytics::{end_users, summarize, PeriodFigures};
    let counts = json!({"otp_sent": 12, "otp_resent": 1, "otp_approved": 9, "otp_failed": 1, "delivery_sent": 12,
        "requests": 40, "error_rate_limited": 1, "users_active": 8, "users_new": 3});
    let m = counts.as_object().expect("an object");
    let day = PeriodFigures {
        end_users: Some(end_users(m, true)),
        ..summarize("20261206", m)
    };
    let total = PeriodFigures {
        period: "total".into(),
        heatmap: Some(vec![vec![0; 24]; 7]),
        ..day.clone()
    };
    v1_example(json!(super::views::insights::AnalyticsReport {
        scope: "_all".into(),
        granularity: "day".into(),
        from: "2026-12-06".into(),
        to: "2026-12-06".into(),
        total,
        series: vec![day],
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_two_types_share_a_schema_name() {
        let mut seen = std::collections::BTreeMap::new();
        for (name, schema) in super::derived() {
            if let Some(other) = seen.insert(name.clone(), schema.clone()) {
                assert_eq!(other, schema, "two types are named {name}");
            }
        }
    }
}
