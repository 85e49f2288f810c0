//! `GET /openapi.json`: OpenAPI 3.1, built from the route table and the error-code list so it
//! cannot name a route or code the service does not have (tests check both directions).

use serde_json::{json, Map, Value};

use super::error::ErrorCode;
use super::router::ROUTES;

struct Op {
    summary: &'static str,
    auth: Auth,
    body: Option<Value>,
    ok_status: &'static str,
    ok_example: Value,
    errors: &'static [ErrorCode],
}

#[derive(PartialEq)]
enum Auth {
    None,
    Tenant,
    Admin,
    Gateway,
}

fn schema_obj(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

fn describe(method: &str, path: &str) -> Op {
    use ErrorCode::*;
    let phone =
        json!({"type": "string", "description": "E.164 phone number", "example": "+14155550123"});
    let otp_errors: &'static [ErrorCode] = &[
        BadJson,
        ValidationFailed,
        PhoneRequired,
        PhoneInvalid,
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
        IdempotencyKeyReused,
        IdempotencyInProgress,
    ];
    let verify_errors: &'static [ErrorCode] = &[
        BadJson,
        ValidationFailed,
        PhoneRequired,
        PhoneInvalid,
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
        StoreUnavailable,
        Conflict,
    ];
    let resend_errors: &'static [ErrorCode] = &[
        BadJson,
        ValidationFailed,
        PhoneRequired,
        PhoneInvalid,
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
        IdempotencyKeyReused,
        IdempotencyInProgress,
        VerificationNotFound,
        VerificationExpired,
        TooManyAttempts,
        AlreadyVerified,
    ];
    let twilio_errors: &'static [ErrorCode] = &[
        ValidationFailed,
        Unauthorized,
        Forbidden,
        VerificationNotFound,
        TooManyAttempts,
        QuotaExhausted,
        GatewayUnavailable,
    ];
    let admin_errors: &'static [ErrorCode] = &[
        BadJson,
        ValidationFailed,
        Unauthorized,
        Forbidden,
        TenantNotFound,
        StoreUnavailable,
        Conflict,
        IdempotencyKeyReused,
        IdempotencyInProgress,
        PayloadTooLarge,
    ];
    let sent = json!({"success": true, "request_id": "req_0123", "data": {"id": "ver_01jd9", "phone": "+14155550123", "status": "pending", "expires_at": "2026-11-25T10:05:00.000Z", "expires_in": 300, "sends": 1, "delivery": {"message_id": "msg_01jd9", "state": "queued", "gateway_id": "phone-1"}}});
    let seed_ok =
        |data: Value| json!({"success": true, "message": "OTP sent successfully", "data": data});
    match (method, path) {
        ("GET", "/health") => Op { summary: "Liveness, version and configured components", auth: Auth::None, body: None, ok_status: "200", ok_example: json!({"status": "ok", "version": "0.1.0", "components": {"store": "firestore", "gateways": 1, "kill_switch": false}}), errors: &[] },
        ("GET", p) if p.starts_with("/dashboard") => Op { summary: "The operators' web dashboard (static; it signs in with an admin key)", auth: Auth::None, body: None, ok_status: "200", ok_example: Value::Null, errors: &[] },
        ("GET", "/openapi.json") => Op { summary: "This document", auth: Auth::None, body: None, ok_status: "200", ok_example: json!({"openapi": "3.1.0", "paths": {}}), errors: &[] },
        ("GET", "/v1/status") => Op { summary: "Store and gateway reachability with latency", auth: Auth::Tenant, body: None, ok_status: "200", ok_example: json!({"success": true, "data": {"status": "ok", "store": {"reachable": true, "latency_ms": 4}, "gateways": [{"id": "phone-1", "reachable": true, "latency_ms": 31}]}}), errors: &[Unauthorized] },
        ("POST", "/v1/otp/send") => Op {
            summary: "Send a one-time code by SMS",
            auth: Auth::Tenant,
            body: Some(schema_obj(json!({"phone": phone, "channel": {"type": "string", "enum": ["sms"]}, "code_type": {"type": "string", "enum": ["words", "digits"]}, "locale": {"type": "string", "example": "en"}}), &["phone"])),
            ok_status: "202",
            ok_example: sent.clone(),
            errors: otp_errors,
        },
        ("POST", "/v1/otp/resend") => Op { summary: "Send the live code again (counts against the send limit)", auth: Auth::Tenant, body: Some(schema_obj(json!({"phone": phone, "id": {"type": "string"}}), &[])), ok_status: "202", ok_example: sent, errors: resend_errors },
        ("POST", "/v1/otp/verify") => Op {
            summary: "Check a code",
            auth: Auth::Tenant,
            body: Some(schema_obj(json!({"phone": phone, "id": {"type": "string"}, "code": {"type": "string", "minLength": 1, "example": "forest"}}), &["code"])),
            ok_status: "200",
            ok_example: json!({"success": true, "data": {"id": "ver_01jd9", "phone": "+14155550123", "status": "approved", "verified_at": "2026-11-25T10:01:00.000Z"}}),
            errors: verify_errors,
        },
        ("POST", "/v1/messages") => Op {
            summary: "Send a direct SMS",
            auth: Auth::Tenant,
            body: Some(schema_obj(json!({"phone": phone, "text": {"type": "string", "minLength": 1, "example": "Your table is ready."}}), &["phone", "text"])),
            ok_status: "202",
            ok_example: json!({"success": true, "data": {"id": "msg_01jd9", "kind": "direct", "phone": "+1415*****23", "state": "queued", "encoding": "GSM-7", "segments": 1}}),
            errors: &[BadJson, ValidationFailed, PhoneRequired, PhoneInvalid, MessageRequired, MessageTooLong, MessageInvalidChars, Unauthorized, Forbidden, TenantSuspended, TenantExpired, RateLimited, QuotaExhausted, SendingDisabled, GatewayUnavailable, StoreUnavailable, IdempotencyKeyReused, IdempotencyInProgress],
        },
        ("GET", "/v1/messages/{id}") => Op { summary: "Delivery status of a message", auth: Auth::Tenant, body: None, ok_status: "200", ok_example: json!({"success": true, "data": {"id": "msg_01jd9", "state": "sent", "attempts": 1}}), errors: &[Unauthorized, Forbidden, TenantSuspended, TenantExpired, MessageNotFound] },
        ("GET", "/v1/usage") => Op { summary: "Quota, counts and the guessing odds of the code settings", auth: Auth::Tenant, body: None, ok_status: "200", ok_example: json!({"success": true, "data": {"quota": {"total": 1000, "used": 12, "remaining": 988, "expires_at": "2027-01-01T00:00:00.000Z"}, "code": {"guess_odds": 0.00244}}}), errors: &[Unauthorized, TenantSuspended, TenantExpired] },
        ("POST", "/api/send-otp") => Op { summary: "Seed alias of /v1/otp/send (x-api-key)", auth: Auth::Tenant, body: Some(schema_obj(json!({"phone": phone}), &["phone"])), ok_status: "200", ok_example: seed_ok(json!({"phone": "+14155550123", "expiresIn": 300})), errors: otp_errors },
        ("POST", "/api/resend-otp") => Op { summary: "Seed alias of /v1/otp/resend", auth: Auth::Tenant, body: Some(schema_obj(json!({"phone": phone}), &["phone"])), ok_status: "200", ok_example: seed_ok(json!({"phone": "+14155550123", "expiresIn": 290, "attemptCount": 2})), errors: resend_errors },
        ("POST", "/api/verify-otp") => Op { summary: "Seed alias of /v1/otp/verify", auth: Auth::Tenant, body: Some(schema_obj(json!({"phone": phone, "otp": {"type": "string", "minLength": 1}}), &["phone", "otp"])), ok_status: "200", ok_example: json!({"success": true, "message": "OTP verified successfully", "data": {"phone": "+14155550123", "verified": true, "verifiedAt": "2026-11-25T10:01:00.000Z"}}), errors: verify_errors },
        ("POST", "/api/direct-message") => Op { summary: "Seed alias of /v1/messages", auth: Auth::Tenant, body: Some(schema_obj(json!({"phone": phone, "message": {"type": "string", "minLength": 1}}), &["phone", "message"])), ok_status: "200", ok_example: json!({"success": true, "message": "Message sent successfully", "data": {}}), errors: &[BadJson, PhoneRequired, PhoneInvalid, MessageRequired, MessageTooLong, MessageInvalidChars, Unauthorized, Forbidden, TenantSuspended, TenantExpired, RateLimited, QuotaExhausted, SendingDisabled, GatewayUnavailable, StoreUnavailable, IdempotencyKeyReused, IdempotencyInProgress] },
        ("POST", "/internal/gateway/status") => Op { summary: "Delivery report from a phone gateway (signed, encrypted)", auth: Auth::Gateway, body: None, ok_status: "200", ok_example: json!({"success": true, "data": {"id": "msg_01jd9", "applied": true}}), errors: &[Unauthorized, BadJson] },
        ("POST", "/v1/admin/tenants") => Op {
            summary: "Create a tenant; the answer holds its API key, shown once",
            auth: Auth::Admin,
            body: Some(schema_obj(json!({"name": {"type": "string"}, "quota": {"type": "integer"}, "expires_at": {"type": ["string", "null"]}, "contact_phone": {"type": ["string", "null"]}, "settings": {"type": "object"}}), &["name"])),
            ok_status: "201",
            ok_example: json!({"success": true, "data": {"id": "t_01jd9", "name": "Acme", "quota": 1000, "api_key": "otp_sk_…"}}),
            errors: admin_errors,
        },
        ("POST", "/v2/Services/{id}/Verifications") => Op {
            summary: "Twilio Verify compatible: start a verification (form: To, Channel=sms, Locale); HTTP Basic auth with the API key as password",
            auth: Auth::Tenant,
            body: Some(json!({"type": "object", "properties": {"To": {"type": "string", "example": "+14155550123"}, "Channel": {"type": "string", "enum": ["sms"]}, "Locale": {"type": "string"}}, "required": ["To", "Channel"]})),
            ok_status: "201",
            ok_example: json!({"sid": "ver_01jd9", "service_sid": "VA123", "to": "+14155550123", "channel": "sms", "status": "pending", "valid": false}),
            errors: twilio_errors,
        },
        ("POST", "/v2/Services/{id}/VerificationCheck") => Op {
            summary: "Twilio Verify compatible: check a code (form: To or VerificationSid, Code)",
            auth: Auth::Tenant,
            body: Some(json!({"type": "object", "properties": {"To": {"type": "string", "example": "+14155550123"}, "VerificationSid": {"type": "string"}, "Code": {"type": "string", "minLength": 1}}, "required": ["Code"]})),
            ok_status: "200",
            ok_example: json!({"sid": "ver_01jd9", "status": "approved", "valid": true}),
            errors: twilio_errors,
        },
        (_, p) if p.starts_with("/v1/admin/") => Op { summary: admin_summary(method, p), auth: Auth::Admin, body: if method == "GET" || method == "DELETE" { None } else { Some(json!({"type": "object"})) }, ok_status: if method == "POST" && (p == "/v1/admin/tenants" || p == "/v1/admin/keys") { "201" } else { "200" }, ok_example: json!({"success": true, "data": {}}), errors: admin_errors },
        _ => Op { summary: "", auth: Auth::None, body: None, ok_status: "200", ok_example: Value::Null, errors: &[] },
    }
}

fn admin_summary(method: &str, path: &str) -> &'static str {
    match (method, path.rsplit('/').next().unwrap_or("")) {
        ("GET", "tenants") => "List tenants (paged with cursor)",
        (_, "bulk") => "Create or update many tenants, with a result per item",
        ("GET", "{id}") => "Get a tenant with its remaining quota",
        ("PATCH", "{id}") => "Update quota, expiry, contact phone or settings (JSON merge patch)",
        ("DELETE", "{id}") => "Delete a tenant and its keys",
        (_, "suspend") => "Suspend a tenant (403 tenant_suspended on its calls)",
        (_, "resume") => "Resume a suspended tenant",
        (_, "renew") => "Start a new period: new quota and expiry",
        (_, "rotate-key") => "Issue a new key; old keys work for a grace period",
        (_, "kill-switch") => "Stop or restart sending, globally or for one tenant",
        (_, "audit") => "Audit log of admin actions",
        (_, "usage") => "Usage counts, global or per tenant",
        (_, "export") => "Backup: list collections, or a page of one collection's documents",
        (_, "import") => "Restore: write up to 200 exported documents",
        ("POST", "keys") => "Create another admin key (shown once)",
        (_, "analytics") => "Analytics by hour, day or month over a date range: sends, verifications, conversion and delivery rates, errors by code, latency percentiles",
        (_, "run") => "Run the scheduled job now: notices, expiring verifications, gateway checks",
        (_, "checks") => "Gateway health-check history (up/down, latency)",
        _ => "Admin operation",
    }
}

fn error_response(codes: &[ErrorCode], status: u16) -> Value {
    let names: Vec<&str> = codes
        .iter()
        .filter(|c| c.status() == status)
        .map(|c| c.as_str())
        .collect();
    json!({
        "description": format!("Error: {}", names.join(", ")),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}, "example": {"success": false, "error": {"code": names[0], "message": "…", "request_id": "req_0123"}}}},
    })
}

fn twilio_error_response(status: u16) -> Value {
    json!({
        "description": "Twilio-style error",
        "content": {"application/json": {"schema": {"type": "object", "required": ["code", "message", "status"], "properties": {"code": {"type": "integer"}, "message": {"type": "string"}, "more_info": {"type": "string"}, "status": {"type": "integer"}}}, "example": {"code": 60200, "message": "Invalid parameter", "more_info": "https://www.twilio.com/docs/errors/60200", "status": status}}},
    })
}

/// The v1 success envelope around `data`.
fn envelope(data: Value) -> Value {
    json!({"type": "object", "required": ["success", "data", "request_id"], "properties": {"success": {"const": true}, "data": data, "request_id": {"type": "string"}}})
}

fn object(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required})
}

/// The schema of a success body, so fuzzing checks answers as well as errors.
fn ok_schema(method: &str, path: &str) -> Value {
    let text = json!({"type": "string"});
    let time = json!({"type": "string", "format": "date-time"});
    let count = json!({"type": "integer", "minimum": 0});
    let sent = object(
        json!({"id": text, "phone": text, "status": {"const": "pending"}, "expires_at": time, "expires_in": count, "sends": {"type": "integer", "minimum": 1},
               "delivery": object(json!({"message_id": text, "state": {"enum": ["queued", "unknown"]}, "gateway_id": text}), &["message_id", "state", "gateway_id"])}),
        &[
            "id",
            "phone",
            "status",
            "expires_at",
            "expires_in",
            "sends",
            "delivery",
        ],
    );
    let message = object(
        json!({"id": text, "kind": {"enum": ["otp", "direct", "notification"]}, "phone": text,
               "state": {"enum": ["dispatching", "queued", "sending", "sent", "failed", "expired", "unknown"]},
               "encoding": {"enum": ["GSM-7", "UCS-2"]}, "segments": {"type": "integer", "minimum": 1}, "gateway_id": text, "attempts": count,
               "error": {"type": ["string", "null"]}, "created_at": time, "updated_at": time}),
        &[
            "id",
            "kind",
            "state",
            "encoding",
            "segments",
            "attempts",
            "created_at",
            "updated_at",
        ],
    );
    let seed = |data: Value| json!({"type": "object", "required": ["success", "message", "data"], "properties": {"success": {"const": true}, "message": text, "data": data}});
    match (method, path) {
        ("GET", "/health") => object(
            json!({"status": {"const": "ok"}, "version": text, "components": {"type": "object"}}),
            &["status", "version", "components"],
        ),
        ("POST", "/internal/gateway/status") => object(
            json!({"success": {"const": true}, "data": object(json!({"id": text, "applied": {"type": "boolean"}}), &["id", "applied"])}),
            &["success", "data"],
        ),
        ("GET", "/openapi.json") => object(
            json!({"openapi": text, "paths": {"type": "object"}}),
            &["openapi", "paths"],
        ),
        ("POST", "/v1/otp/send" | "/v1/otp/resend") => envelope(sent),
        ("POST", "/v1/otp/verify") => envelope(object(
            json!({"id": text, "phone": text, "status": {"const": "approved"}, "verified_at": time}),
            &["id", "phone", "status", "verified_at"],
        )),
        ("POST", "/v1/messages") | ("GET", "/v1/messages/{id}") => envelope(message),
        ("GET", "/v1/usage") => envelope(object(
            json!({"quota": {"type": "object"}, "code": object(json!({"guess_odds": {"type": "number", "minimum": 0, "maximum": 1}}), &["guess_odds"])}),
            &["quota", "code"],
        )),
        ("GET", "/v1/status") => envelope(object(
            json!({"status": {"enum": ["ok", "degraded", "down"]}, "store": {"type": "object"}, "gateways": {"type": "array"}}),
            &["status", "store", "gateways"],
        )),
        ("POST", "/api/send-otp") => seed(object(
            json!({"phone": text, "expiresIn": count}),
            &["phone", "expiresIn"],
        )),
        ("POST", "/api/resend-otp") => seed(object(
            json!({"phone": text, "expiresIn": count, "attemptCount": {"type": "integer", "minimum": 2}}),
            &["phone", "expiresIn", "attemptCount"],
        )),
        ("POST", "/api/verify-otp") => seed(object(
            json!({"phone": text, "verified": {"const": true}, "verifiedAt": time}),
            &["phone", "verified", "verifiedAt"],
        )),
        ("POST", "/api/direct-message") => seed(json!({"type": "object"})),
        (_, p) if p.starts_with("/v2/") => object(
            json!({"sid": text, "status": {"enum": ["pending", "approved", "canceled", "max_attempts_reached", "deleted", "failed", "expired"]}, "valid": {"type": "boolean"}}),
            &["sid", "status"],
        ),
        _ => envelope(json!({"type": ["object", "array"]})),
    }
}

pub fn spec() -> Value {
    let mut paths = Map::new();
    for (method, path) in ROUTES {
        let op = describe(method, path);
        let twilio = path.starts_with("/v2/");
        let schema = ok_schema(method, path);
        let mut example = op.ok_example;
        // Every v1 answer carries its request id; the examples leave it out for brevity.
        if schema["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!("request_id")))
            && example.get("request_id").is_none()
        {
            example["request_id"] = json!("req_01jd9");
        }
        let mut o = json!({
            "summary": op.summary,
            "operationId": format!("{}{}", method.to_lowercase(), path.replace(['/', '{', '}', '-', '.'], "_")),
            "responses": {op.ok_status: {"description": "Success", "content": {"application/json": {"schema": schema, "example": example}}}},
        });
        let static_type = match *path {
            "/dashboard" => Some("text/html"),
            "/dashboard/app.js" => Some("text/javascript"),
            "/dashboard/app.css" => Some("text/css"),
            _ => None,
        };
        if let Some(mime) = static_type {
            o["responses"] = json!({"200": {"description": "Static file", "content": {mime: {"schema": {"type": "string"}}}}});
        }
        if path.contains("{id}") {
            o["parameters"] = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}}]);
        }
        if let Some(schema) = op.body {
            let media = if twilio {
                "application/x-www-form-urlencoded"
            } else {
                "application/json"
            };
            o["requestBody"] = json!({"required": true, "content": {media: {"schema": schema}}});
        }
        match op.auth {
            Auth::None | Auth::Gateway => o["security"] = json!([]),
            Auth::Tenant if twilio => {
                o["security"] = json!([{"twilioBasic": []}, {"bearer": []}, {"apiKey": []}])
            }
            Auth::Tenant => o["security"] = json!([{"bearer": []}, {"apiKey": []}]),
            Auth::Admin => o["security"] = json!([{"bearer": []}]),
        }
        if method == &"POST" && op.auth != Auth::Gateway {
            let params = o["parameters"].as_array().cloned().unwrap_or_default();
            let mut params = params;
            params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "minLength": 1, "maxLength": 255}}));
            o["parameters"] = Value::Array(params);
        }
        // Twilio routes answer with Twilio's statuses (see twilio::twilio_code), not ours.
        let mut statuses: Vec<u16> = if twilio {
            vec![400, 401, 402, 403, 404, 409, 413, 422, 429, 503]
        } else {
            op.errors.iter().map(|c| c.status()).collect()
        };
        statuses.sort_unstable();
        statuses.dedup();
        for s in statuses {
            o["responses"][s.to_string()] = if twilio {
                twilio_error_response(s)
            } else {
                error_response(op.errors, s)
            };
        }
        paths.entry(path.to_string()).or_insert_with(|| json!({}))[method.to_lowercase()] = o;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "otp-sms", "version": env!("CARGO_PKG_VERSION"), "description": "One-time codes and SMS through Android phone gateways. Errors have a stable `code`; the list is in components.schemas.ErrorCode."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer otp_sk_…"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "twilioBasic": {"type": "http", "scheme": "basic", "description": "Twilio SDKs: username = any AccountSid (ignored), password = the otp-sms API key (the AuthToken)"},
            },
            "schemas": {
                "ErrorCode": {"type": "string", "enum": ErrorCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()},
                "Error": {
                    "type": "object",
                    "required": ["success", "error"],
                    "properties": {
                        "success": {"const": false},
                        "error": {"oneOf": [
                            {"type": "object", "required": ["code", "message", "request_id"], "properties": {"code": {"$ref": "#/components/schemas/ErrorCode"}, "message": {"type": "string"}, "request_id": {"type": "string"}, "details": {}}},
                            {"type": "string", "description": "Seed alias routes: a human text; the stable code is in `code`"}
                        ]},
                        "code": {"$ref": "#/components/schemas/ErrorCode"},
                        "request_id": {"type": "string"},
                    },
                },
            },
        },
    })
}

pub fn spec_json() -> Vec<u8> {
    serde_json::to_vec(&spec()).expect("spec serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_every_route_and_only_those() {
        let s = spec();
        let paths = s["paths"].as_object().unwrap();
        let mut count = 0;
        for (p, methods) in paths {
            for m in methods.as_object().unwrap().keys() {
                assert!(
                    ROUTES.contains(&(m.to_uppercase().as_str(), p.as_str())),
                    "{m} {p} is not served"
                );
                count += 1;
            }
        }
        assert_eq!(count, ROUTES.len());
        for (m, p) in ROUTES {
            assert!(
                !s["paths"][p][m.to_lowercase()]["summary"]
                    .as_str()
                    .unwrap()
                    .is_empty(),
                "{m} {p} has no summary"
            );
        }
    }

    #[test]
    fn twilio_routes_take_forms_and_basic_auth() {
        let s = spec();
        for p in [
            "/v2/Services/{id}/Verifications",
            "/v2/Services/{id}/VerificationCheck",
        ] {
            let op = &s["paths"][p]["post"];
            assert!(
                op["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object(),
                "{p}"
            );
            assert_eq!(op["security"][0], json!({"twilioBasic": []}), "{p}");
            assert_eq!(
                op["responses"]["404"]["content"]["application/json"]["example"]["status"], 404,
                "{p}"
            );
        }
        assert_eq!(
            s["components"]["securitySchemes"]["twilioBasic"]["scheme"],
            "basic"
        );
    }

    #[test]
    fn every_json_success_has_a_schema_its_example_meets() {
        let s = spec();
        let mut missing = Vec::new();
        for (m, p) in ROUTES {
            let ok = s["paths"][p][m.to_lowercase()]["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(code, _)| code.starts_with('2'))
                .unwrap()
                .1
                .clone();
            let Some(json_ok) = ok["content"].get("application/json") else {
                continue;
            };
            let schema = &json_ok["schema"];
            assert!(schema.is_object(), "{m} {p} has no success schema");
            // The documented example has every field the schema requires.
            let example = &json_ok["example"];
            if example.is_object() {
                for field in schema["required"].as_array().into_iter().flatten() {
                    if example.get(field.as_str().unwrap()).is_none() {
                        missing.push(format!("{m} {p}: {field}"));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "examples lack required fields: {missing:#?}"
        );
    }

    #[test]
    fn creations_are_documented_as_201() {
        let s = spec();
        for p in [
            "/v1/admin/tenants",
            "/v1/admin/keys",
            "/v2/Services/{id}/Verifications",
        ] {
            assert!(s["paths"][p]["post"]["responses"]["201"].is_object(), "{p}");
            assert!(s["paths"][p]["post"]["responses"]["200"].is_null(), "{p}");
        }
    }

    #[test]
    fn lists_every_error_code() {
        let s = spec();
        let listed: Vec<&str> = s["components"]["schemas"]["ErrorCode"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for c in ErrorCode::ALL {
            assert!(listed.contains(&c.as_str()));
        }
    }
}
