//! JSON Schemas and examples that the route table's entries point to: request bodies, success
//! answers (schemathesis checks answers against them) and their examples. The settings and the
//! typed answers (`api::views`) are derived from their Rust types (utoipa's `ToSchema`): `named`
//! points at a type's schema, and `components` lists every such schema with the ones it uses.

use serde_json::{json, Map, Value};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use super::views;
use crate::service::messaging::dispatch::MessageView;
use crate::service::messaging::optouts::OptoutView;
use crate::service::model::TenantSettings;
use crate::service::ops::webhooks::endpoints::{WebhookList, WebhookView};

/// A `$ref` to `T`'s derived schema (listed by [`components`]).
pub fn named<T: ToSchema>() -> Value {
    json!({"$ref": format!("#/components/schemas/{}", T::name())})
}

fn add<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
    out.push((T::name().into_owned(), T::schema()));
    T::schemas(out);
}

/// Every derived schema the document points to, with the schemas they use in turn.
pub fn components() -> Map<String, Value> {
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
    all.into_iter()
        .map(|(name, schema)| {
            let schema = serde_json::to_value(schema).expect("a schema serialises");
            (name, schema)
        })
        .collect()
}

fn text() -> Value {
    json!({"type": "string"})
}
fn time() -> Value {
    json!({"type": "string", "format": "date-time"})
}
fn count() -> Value {
    json!({"type": "integer", "minimum": 0})
}
/// A number as every answer masks it (`Phone::masked`: calling code and three digits, the last two).
fn masked() -> Value {
    json!({"type": "string", "description": "The number masked, one rule everywhere: calling code and three digits, then the last two", "example": "+1415*****23"})
}
fn phone() -> Value {
    json!({"type": "string", "description": "E.164 phone number", "example": "+14155550123"})
}

/// A closed object: the body parsers refuse unknown fields, so the schema says so too.
fn body(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
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

// --- request bodies ------------------------------------------------------------------------

fn country() -> Value {
    json!({"type": "string", "description": "ISO 3166 alpha-2 country of a phone in national format", "example": "AU"})
}
fn end_user_ip() -> Value {
    json!({"type": "string", "description": "The end user's IP address (as the X-End-User-IP header): the per-address limit and the fraud guard count it instead of the caller's", "example": "203.0.113.7"})
}

pub fn otp_send_body() -> Value {
    body(
        json!({"phone": phone(), "country": country(), "channel": {"type": "string", "enum": ["sms", "reverse"], "description": "reverse: nothing is sent; the answer names a pool number and words the user texts to it from `phone`"}, "code_type": {"type": "string", "enum": ["words", "digits"]}, "locale": {"type": "string", "description": "Language of the text; default: the number's country's, else the tenant's", "example": "fr"}, "end_user_ip": end_user_ip()}),
        &["phone"],
    )
}
pub fn otp_target_body() -> Value {
    body(
        json!({"phone": phone(), "country": country(), "id": text(), "end_user_ip": end_user_ip()}),
        &[],
    )
}
pub fn otp_verify_body() -> Value {
    body(
        json!({"phone": phone(), "country": country(), "id": text(), "code": {"type": "string", "minLength": 1, "example": "forest river", "description": "Required, except for a reverse verification (which takes none)"}, "end_user_ip": end_user_ip()}),
        &[],
    )
}
pub fn message_body() -> Value {
    body(
        json!({"phone": phone(), "country": country(), "text": {"type": "string", "minLength": 1, "example": "Your table is ready."}, "end_user_ip": end_user_ip(),
               "ttl_secs": {"type": "integer", "minimum": 60, "maximum": 259200, "default": 86400,
                            "description": "Seconds the phone may still send it; after that it is expired, never sent late"}}),
        &["phone", "text"],
    )
}
pub fn seed_phone_body() -> Value {
    body(json!({"phone": phone(), "country": country()}), &["phone"])
}
pub fn seed_verify_body() -> Value {
    body(
        json!({"phone": phone(), "country": country(), "otp": {"type": "string", "minLength": 1}}),
        &["phone", "otp"],
    )
}
pub fn seed_message_body() -> Value {
    body(
        json!({"phone": phone(), "country": country(), "message": {"type": "string", "minLength": 1}}),
        &["phone", "message"],
    )
}
pub fn twilio_start_body() -> Value {
    json!({"type": "object", "properties": {"To": {"type": "string", "example": "+14155550123"}, "Channel": {"type": "string", "enum": ["sms"]}, "Locale": text(), "DeviceIp": {"type": "string", "example": "203.0.113.7"}}, "required": ["To", "Channel"]})
}
pub fn twilio_check_body() -> Value {
    json!({"type": "object", "properties": {"To": {"type": "string", "example": "+14155550123"}, "VerificationSid": text(), "Code": {"type": "string", "minLength": 1}}, "required": ["Code"]})
}
fn risky_ranges() -> Value {
    json!({"type": "array", "items": named::<crate::service::abuse::geo::RiskyRange>()})
}

/// A tenant's settings (a JSON merge patch on update): every field of [`TenantSettings`].
fn settings() -> Value {
    named::<TenantSettings>()
}

pub fn tenant_body() -> Value {
    body(
        json!({"name": {"type": "string", "minLength": 1, "maxLength": 100}, "quota": {"type": "integer", "minimum": 0}, "expires_at": {"type": ["string", "null"]}, "contact_phone": {"type": ["string", "null"]}, "settings": settings()}),
        &["name"],
    )
}
pub fn tenant_patch_body() -> Value {
    body(
        json!({"name": {"type": "string", "minLength": 1, "maxLength": 100}, "quota": {"type": "integer", "minimum": 0}, "expires_at": {"type": ["string", "null"]}, "contact_phone": {"type": ["string", "null"]}, "settings": settings()}),
        &[],
    )
}
pub fn geo_body() -> Value {
    body(
        json!({"allowed_ranges": risky_ranges()}),
        &["allowed_ranges"],
    )
}
pub fn fraud_lift_body() -> Value {
    body(
        json!({"key": {"type": "string", "minLength": 1, "maxLength": 64, "description": "A block's key; absent: every block", "example": "p:+33612"}}),
        &[],
    )
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
pub fn bulk_body() -> Value {
    body(
        json!({"items": {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "object"}}}),
        &["items"],
    )
}
pub fn renew_body() -> Value {
    body(
        json!({"quota": {"type": "integer", "minimum": 0}, "expires_at": {"type": ["string", "null"]}}),
        &["quota"],
    )
}
pub fn rotate_body() -> Value {
    body(
        json!({"grace_secs": {"type": "integer", "minimum": 0}}),
        &[],
    )
}
pub fn kill_switch_body() -> Value {
    body(
        json!({"engaged": {"type": "boolean"}, "tenant_id": text()}),
        &["engaged"],
    )
}
pub fn gateway_kill_switch_body() -> Value {
    body(
        json!({"engaged": {"type": "boolean"}, "reason": {"type": "string", "maxLength": 200}}),
        &["engaged"],
    )
}
pub fn admin_key_body() -> Value {
    body(
        json!({"label": {"type": "string", "minLength": 1, "maxLength": 100}, "role": {"enum": ["owner", "operator", "support", "billing"], "default": "owner"}, "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650}}),
        &["label"],
    )
}
pub fn tenant_key_body() -> Value {
    body(
        json!({"label": {"type": "string", "minLength": 1, "maxLength": 100}, "scopes": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"enum": ["send", "verify", "read", "manage"]}}, "expires_in_days": {"type": "integer", "minimum": 1, "maximum": 3650}}),
        &["label"],
    )
}
pub fn import_body() -> Value {
    body(
        json!({"items": {"type": "array", "minItems": 1, "maxItems": 200, "items": {"type": "object"}}}),
        &["items"],
    )
}
pub fn backup_restore_body() -> Value {
    body(
        json!({"part": {"type": "string", "minLength": 1, "maxLength": 300}}),
        &["part"],
    )
}
pub fn enrol_body() -> Value {
    let numbers =
        json!({"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 8});
    body(
        json!({"token": {"type": "string", "minLength": 1, "maxLength": 200}, "url": {"type": "string", "maxLength": 300}, "numbers": numbers, "version": {"type": "string", "maxLength": 40}}),
        &["token"],
    )
}
pub fn enrol_token_body() -> Value {
    body(
        json!({"gateway_id": {"type": "string", "minLength": 1, "maxLength": 40}, "label": {"type": "string", "maxLength": 100}, "ttl_secs": {"type": "integer", "minimum": 60, "maximum": 604800}, "edge_url": {"type": "string", "maxLength": 300}}),
        &[],
    )
}
pub fn enrolled_example() -> Value {
    v1_example(json!({"gateway_id": "ph_01jd9", "secret": "…"}))
}
pub fn enrol_token_example() -> Value {
    v1_example(
        json!({"token": "otp_et_…", "gateway_id": null, "label": "kitchen phone", "expires_at": "2026-12-06T17:00:00Z", "edge_url": "https://otp.example.com", "command": "curl -fsSL https://…/install.sh | bash -s -- --enrol otp_et_… --edge https://otp.example.com"}),
    )
}
pub fn empty_body() -> Value {
    body(json!({}), &[])
}

// --- success answers -----------------------------------------------------------------------

pub fn health_ok() -> Value {
    object(
        json!({"status": {"const": "ok"}, "version": text(), "build": object(json!({"commit": text(), "source_sha256": text(), "target": text(), "profile": text()}), &["commit", "target"]), "components": {"type": "object"}}),
        &["status", "version", "build", "components"],
    )
}
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
        json!({"id": "ver_0123456789abcdefghjkz9y8x7", "phone": "+14155550123", "status": "pending", "expires_at": "2026-11-25T10:05:00.000Z", "expires_in": 300, "sends": 1, "delivery": {"message_id": "msg_01jd9", "state": "queued", "gateway_id": "phone-1"}}),
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
        json!({"id": "msg_01jd9", "kind": "direct", "phone": "+1415•••0123", "state": "queued", "encoding": "GSM-7", "segments": 1, "attempts": 0, "created_at": "2026-11-25T10:00:00.000Z", "updated_at": "2026-11-25T10:00:00.000Z"}),
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
    v1_example(
        json!({"quota": {"total": 1000, "used": 12, "remaining": 988, "expires_at": "2027-01-01T00:00:00.000Z"}, "code": {"guess_odds": 6.8e-7, "guess_odds_per_phone_per_day": 4.1e-6}}),
    )
}
pub fn status_ok() -> Value {
    envelope(object(
        json!({"status": {"enum": ["ok", "degraded", "down"]}, "store": {"type": "object"}, "gateways": {"type": "array"}}),
        &["status", "store", "gateways"],
    ))
}
pub fn status_example() -> Value {
    v1_example(
        json!({"status": "ok", "store": {"reachable": true, "latency_ms": 4}, "gateways": [{"reachable": true}]}),
    )
}
pub fn seed_sent_ok() -> Value {
    seed(object(
        json!({"phone": text(), "expiresIn": count()}),
        &["phone", "expiresIn"],
    ))
}
pub fn seed_sent_example() -> Value {
    json!({"success": true, "message": "OTP sent successfully", "data": {"phone": "+14155550123", "expiresIn": 300}})
}
pub fn seed_resent_ok() -> Value {
    seed(object(
        json!({"phone": text(), "expiresIn": count(), "attemptCount": {"type": "integer", "minimum": 2}}),
        &["phone", "expiresIn", "attemptCount"],
    ))
}
pub fn seed_resent_example() -> Value {
    json!({"success": true, "message": "OTP resent successfully", "data": {"phone": "+14155550123", "expiresIn": 290, "attemptCount": 2}})
}
pub fn seed_verified_ok() -> Value {
    seed(object(
        json!({"phone": text(), "verified": {"const": true}, "verifiedAt": time()}),
        &["phone", "verified", "verifiedAt"],
    ))
}
pub fn seed_verified_example() -> Value {
    json!({"success": true, "message": "OTP verified successfully", "data": {"phone": "+14155550123", "verified": true, "verifiedAt": "2026-11-25T10:01:00.000Z"}})
}
pub fn seed_message_ok() -> Value {
    seed(json!({"type": "object"}))
}
pub fn seed_message_example() -> Value {
    json!({"success": true, "message": "Message sent successfully", "data": {}})
}
pub fn twilio_ok() -> Value {
    object(
        json!({"sid": text(), "status": {"enum": ["pending", "approved", "canceled", "max_attempts_reached", "deleted", "failed", "expired"]}, "valid": {"type": "boolean"}}),
        &["sid", "status"],
    )
}
pub fn twilio_start_example() -> Value {
    json!({"sid": "ver_0123456789abcdefghjkz9y8x7", "service_sid": "VA123", "to": "+14155550123", "channel": "sms", "status": "pending", "valid": false})
}
pub fn twilio_check_example() -> Value {
    json!({"sid": "ver_0123456789abcdefghjkz9y8x7", "status": "approved", "valid": true})
}
pub fn reports_ok() -> Value {
    object(
        json!({"success": {"const": true}, "data": object(json!({"received": count(), "applied": count(), "ignored": count()}), &["received", "applied", "ignored"])}),
        &["success", "data"],
    )
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
fn conversion_row() -> Value {
    let n = || json!({"type": "integer"});
    let rate = || json!({"type": ["number", "null"]});
    json!({"type": "object", "required": ["key", "sent", "delivered", "verified"], "properties": {
        "key": text(), "sent": n(), "delivered": n(), "verified": n(),
        "conversion": rate(), "delivery_rate": rate(), "ttv_p50_s": rate(), "ttv_p90_s": rate(),
        "ttv_over_s": {"type": "integer"}}})
}
pub fn conversion_ok() -> Value {
    envelope(
        json!({"type": "object", "required": ["scope", "by", "total", "rows"], "properties": {
        "scope": text(), "by": {"enum": ["tenant", "country", "prefix", "gateway", "sim", "template"]},
        "granularity": text(), "from": text(), "to": text(), "more": {"type": "integer"},
        "total": conversion_row(), "rows": {"type": "array", "items": conversion_row()},
        "rule": {"type": "object"}, "phones": {"type": "array"}}}),
    )
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
pub fn key_created_example() -> Value {
    v1_example(
        json!({"prefix": "abcdefghjkmn", "label": "ops", "role": "operator", "api_key": "otp_ak_…"}),
    )
}
pub fn metrics_ok() -> Value {
    json!({"type": "string"})
}

pub fn gateway_logs_ok() -> Value {
    envelope(object(
        json!({"gateway_id": text(), "lines": {"type": "array", "items": {"type": "string"}}}),
        &["gateway_id", "lines"],
    ))
}
pub fn gateway_logs_example() -> Value {
    v1_example(
        json!({"gateway_id": "phone-1", "lines": ["2026-12-06T16:00:00Z  INFO http{request_id=req_01jd9 method=POST path=/v1/send}: request status=202"]}),
    )
}

// --- webhooks, inbound SMS, opt-outs, alerts -------------------------------------------------

fn event_types() -> Value {
    let names: Vec<&str> = crate::service::ops::webhooks::events::EventType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect();
    json!({"type": "array", "minItems": 1, "items": {"type": "string", "enum": names}})
}
fn nullable_time() -> Value {
    json!({"type": ["string", "null"], "format": "date-time"})
}
fn webhook_data_example() -> Value {
    json!({"id": "whe_01jd9", "url": "https://hooks.example/otp", "events": ["message.sent", "sms.received"], "description": "", "enabled": true, "failing_since": null, "disabled_at": null, "disabled_reason": null, "created_at": "2026-11-25T10:00:00.000Z", "updated_at": "2026-11-25T10:00:00.000Z"})
}
pub fn webhook_body() -> Value {
    body(
        json!({"url": {"type": "string", "minLength": 1, "maxLength": 2000, "example": "https://hooks.example/otp"}, "events": event_types(), "description": {"type": "string", "maxLength": 200}}),
        &["url"],
    )
}
pub fn webhook_patch_body() -> Value {
    body(
        json!({"url": {"type": "string", "minLength": 1, "maxLength": 2000}, "events": event_types(), "description": {"type": "string", "maxLength": 200}, "enabled": {"type": "boolean"}}),
        &[],
    )
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
pub fn deliveries_ok() -> Value {
    let attempt = object(
        json!({"at": time(), "status": {"type": ["integer", "null"]}, "ms": count(), "error": {"type": ["string", "null"]}}),
        &["at", "ms"],
    );
    let d = object(
        json!({"event_id": text(), "type": text(), "subject": text(), "state": {"enum": ["pending", "delivered", "failed"]}, "attempts": count(),
               "next_attempt_at": nullable_time(), "delivered_at": nullable_time(), "created_at": time(), "log": {"type": "array", "items": attempt}}),
        &["event_id", "type", "state", "attempts", "created_at", "log"],
    );
    envelope(object(
        json!({"items": {"type": "array", "items": d}}),
        &["items"],
    ))
}
pub fn deliveries_example() -> Value {
    v1_example(
        json!({"items": [{"event_id": "msg_01jd9-sent", "type": "message.sent", "subject": "msg_01jd9", "state": "delivered", "attempts": 2, "next_attempt_at": null, "delivered_at": "2026-11-25T10:00:06.000Z", "created_at": "2026-11-25T10:00:00.000Z",
        "log": [{"at": "2026-11-25T10:00:00.100Z", "status": 500, "ms": 12, "error": "http 500"}, {"at": "2026-11-25T10:00:06.000Z", "status": 200, "ms": 9, "error": null}]}]}),
    )
}
pub fn replay_body() -> Value {
    body(
        json!({"event_ids": {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}, "since": {"type": "string", "format": "date-time"}}),
        &[],
    )
}
pub fn replay_ok() -> Value {
    envelope(object(json!({"replayed": count()}), &["replayed"]))
}
pub fn replay_example() -> Value {
    v1_example(json!({"replayed": 3}))
}
fn inbound_message() -> Value {
    object(
        json!({"id": text(), "direction": {"const": "inbound"}, "phone": text(), "phone_masked": masked(), "text": {"type": ["string", "null"]}, "gateway_id": text(),
               "tenant_id": {"type": ["string", "null"], "description": "In the operators' log (GET /v1/admin/messages) only"},
               "in_reply_to": {"type": ["string", "null"]}, "keyword": {"type": ["string", "null"], "enum": ["stop", "start", null]}, "received_at": time(), "created_at": time()}),
        &["id", "direction", "phone", "received_at"],
    )
}
pub fn message_list_ok() -> Value {
    envelope(object(
        json!({"items": {"type": "array", "items": {"anyOf": [message(), inbound_message()]}},
               "next_cursor": {"type": ["string", "null"], "description": "Pass as ?cursor= for the next page; null on the last"}}),
        &["items"],
    ))
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
    json!({"id": "t_01jd9_abcdefghjkmnpqrs", "tenant_id": "t_01jd9", "phone": "+14155550123", "source": "sms", "created_at": "2026-11-25T10:02:01.000Z"})
}
pub fn optout_body() -> Value {
    body(json!({"phone": phone()}), &["phone"])
}
pub fn admin_optout_body() -> Value {
    body(
        json!({"phone": phone(), "tenant_id": text()}),
        &["phone", "tenant_id"],
    )
}
pub fn optout_ok() -> Value {
    envelope(optout())
}
pub fn optout_example() -> Value {
    v1_example(optout_data_example())
}
pub fn optout_list_ok() -> Value {
    envelope(object(
        json!({"items": {"type": "array", "items": optout()}}),
        &["items"],
    ))
}
pub fn optout_list_example() -> Value {
    v1_example(json!({"items": [optout_data_example()]}))
}
pub fn inbound_ok() -> Value {
    object(
        json!({"success": {"const": true}, "data": object(json!({"received": count(), "accepted": count(), "duplicates": count(), "routed": count()}), &["received", "accepted", "duplicates", "routed"])}),
        &["success", "data"],
    )
}
pub fn inbound_example() -> Value {
    json!({"success": true, "data": {"received": 2, "accepted": 2, "duplicates": 0, "routed": 1}})
}
pub fn alerts_body() -> Value {
    body(
        json!({"phone": {"type": ["string", "null"], "example": "+14155550123"}, "webhook_url": {"type": ["string", "null"], "example": "https://hooks.slack.com/services/T000/B000/XXXX"},
               "emails": {"type": ["array", "null"], "maxItems": 5, "items": {"type": "string", "format": "email"}, "example": ["oncall@example.com"]}}),
        &[],
    )
}
pub fn alerts_ok() -> Value {
    envelope(object(
        json!({"config": object(json!({"phone": {"type": ["string", "null"]}, "webhook_url": {"type": ["string", "null"]}, "emails": {"type": "array", "items": text()}, "updated_at": nullable_time()}), &[]),
               "incidents": {"type": "array", "items": object(json!({"id": text(), "kind": named::<crate::service::repo::alerts::AlertKind>(), "subject": text(), "state": {"enum": ["open", "cleared"]}, "opened_at": time(), "cleared_at": nullable_time(), "raises": count()}), &["id", "kind", "subject", "state", "opened_at"])}}),
        &["config", "incidents"],
    ))
}
pub fn alerts_example() -> Value {
    v1_example(
        json!({"config": {"phone": "+1415•••0123", "webhook_url": "https://hooks.slack.com/services/T000/B000/XXXX", "emails": ["oncall@example.com"], "updated_at": "2026-11-25T09:00:00.000Z"},
        "incidents": [{"id": "phone_down_phone-1", "kind": "phone_down", "subject": "phone-1", "state": "cleared", "opened_at": "2026-11-25T09:10:00.000Z", "cleared_at": "2026-11-25T09:25:00.000Z", "raises": 3, "details": {}, "notified": ["webhook"]}]}),
    )
}

pub fn fallback_body() -> Value {
    let sid = |p: &str| json!({"type": "string", "pattern": format!("^{p}[0-9a-fA-F]{{32}}$")});
    json!({"type": "object", "additionalProperties": false, "required": ["provider", "account_sid"], "properties": {
        "provider": {"enum": ["twilio"]},
        "account_sid": sid("AC"),
        "auth_token": {"type": "string", "minLength": 16, "maxLength": 128, "description": "The account's auth token (signs the status callbacks; needed with status_callback_url)"},
        "api_key_sid": sid("SK"),
        "api_key_secret": {"type": "string", "minLength": 16, "maxLength": 128},
        "from": {"type": "string", "example": "+14155550100", "description": "E.164 number or alphanumeric sender id; or messaging_service_sid"},
        "messaging_service_sid": sid("MG"),
        "base_url": {"type": "string", "example": "https://api.twilio.com"},
        "status_callback_url": {"type": "string", "example": "https://otp.example.com/v1/providers/twilio/status"},
    }})
}

pub fn fallback_example() -> Value {
    json!({"success": true, "data": {"configured": true, "provider": "twilio", "account_sid": "AC0123456789abcdef0123456789abcdef", "auth": "auth_token", "auth_token_set": true, "api_key_sid": null, "from": "+14155550100", "messaging_service_sid": null, "base_url": "https://api.twilio.com", "status_callback_url": "https://otp.example.com/v1/providers/twilio/status", "updated_at": "2026-12-06T19:00:00Z"}, "request_id": "req_01"})
}
