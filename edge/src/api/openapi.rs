//! `GET /openapi.json`: OpenAPI 3.1 generated from the route table (`routes::ROUTES`) and the
//! error-code list, so it cannot name a route or code the service does not have.

use serde_json::{json, Map, Value};

use super::render::status;
use super::routes::{Access, Auth, Envelope, ROUTES};
use crate::error::ErrorCode;

fn error_response(codes: &[ErrorCode], code_status: u16) -> Value {
    let names: Vec<&str> = codes
        .iter()
        .filter(|c| status(**c) == code_status)
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

pub fn spec() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let twilio = r.envelope == Envelope::Twilio;
        let doc = &r.doc;
        let schema = (doc.ok_schema)();
        let mut example = (doc.example)();
        let no_example = example.is_null();
        // Every v1 answer carries its request id; the examples leave it out for brevity.
        if example.is_object()
            && schema["required"]
                .as_array()
                .is_some_and(|req| req.contains(&json!("request_id")))
            && example.get("request_id").is_none()
        {
            example["request_id"] = json!("req_01jd9");
        }
        let mut o = json!({
            "summary": doc.summary,
            "operationId": format!("{}{}", r.method.to_lowercase(), r.path.replace(['/', '{', '}', '-', '.'], "_")),
            "responses": {doc.ok.to_string(): {"description": "Success", "content": {"application/json": {"schema": schema, "example": example}}}},
        });
        // A typed answer without an example of its own: its fields' examples stand for it.
        if no_example {
            let content = &mut o["responses"][doc.ok.to_string()]["content"]["application/json"];
            content.as_object_mut().map(|c| c.remove("example"));
        }
        if r.envelope == Envelope::Raw && schema["type"] == "string" {
            let mime = match r.path {
                "/dashboard" => "text/html",
                p if p.ends_with(".js") => "text/javascript",
                p if p.ends_with(".css") => "text/css",
                _ => "text/plain",
            };
            o["responses"] = json!({"200": {"description": "Text", "content": {mime: {"schema": {"type": "string"}}}}});
        }
        let mut params = Vec::new();
        if r.path.contains("{id}") {
            params.push(json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "pattern": otp_shared::ids::PLAIN_ID_PATTERN}}));
        }
        params.extend(query_params(r.handler));
        if let Some(body) = doc.body {
            let media = if twilio {
                "application/x-www-form-urlencoded"
            } else {
                "application/json"
            };
            o["requestBody"] = json!({"required": true, "content": {media: {"schema": body()}}});
        }
        match r.auth {
            Auth::Public | Auth::Gateway => o["security"] = json!([]),
            Auth::Tenant if twilio => {
                o["security"] = json!([{"twilioBasic": []}, {"bearer": []}, {"apiKey": []}])
            }
            Auth::Tenant => o["security"] = json!([{"bearer": []}, {"apiKey": []}]),
            Auth::Admin => o["security"] = json!([{"bearer": []}]),
        }
        if r.idempotency != super::routes::Idempotency::No {
            params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "minLength": 1, "maxLength": 255}}));
        }
        if !params.is_empty() {
            o["parameters"] = Value::Array(params);
        }
        // Twilio routes answer with Twilio's statuses (see compat::twilio), not ours.
        let mut statuses: Vec<u16> = if twilio {
            vec![400, 401, 402, 403, 404, 409, 413, 422, 429, 503]
        } else {
            doc.errors.iter().map(|c| status(*c)).collect()
        };
        statuses.sort_unstable();
        statuses.dedup();
        for s in statuses {
            o["responses"][s.to_string()] = if twilio {
                twilio_error_response(s)
            } else {
                error_response(doc.errors, s)
            };
        }
        document_access(&mut o, r.access);
        paths.entry(r.path.to_string()).or_insert_with(|| json!({}))[r.method.to_lowercase()] = o;
    }
    let mut doc = json!({
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
    });
    // The schemas derived from the settings and answer types (`schemas::named` points at them).
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("components.schemas is an object");
    schemas.extend(super::schemas::components());
    doc
}

/// Who may call an operation, from the route table: `x-roles` (the admin roles it accepts) or
/// `x-scopes` (the tenant key scope it needs), and the same as the description's last line.
fn document_access(o: &mut Value, access: Access) {
    let (ext, names, line): (&str, Vec<&str>, &str) = match access {
        Access::Open => return,
        Access::Admin(roles) => (
            "x-roles",
            roles.iter().map(|r| r.as_str()).collect(),
            "Admin roles",
        ),
        Access::Tenant(scope) => ("x-scopes", vec![scope.as_str()], "Key scope"),
    };
    o["description"] = json!(format!("{line}: {}.", names.join(", ")));
    o[ext] = json!(names);
    // A key without the role or scope is refused with `key_scope` (a Twilio route keeps its shape).
    if let Some(d) = o["responses"]["403"]["description"].as_str() {
        if d.starts_with("Error: ") && !d.contains("key_scope") {
            o["responses"]["403"]["description"] = json!(format!("{d}, key_scope"));
        }
    }
}

pub fn spec_json() -> Vec<u8> {
    serde_json::to_vec(&spec()).expect("spec serialises")
}

/// The query parameters of the routes that take some beyond `limit` (the message logs).
fn query_params(h: super::routes::Handler) -> Vec<Value> {
    use super::routes::Handler::Plain;
    use super::routes::Plain::{AdminMessageList, MessageList};
    let q = |name: &str, description: &str, schema: Value| json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema});
    let text = json!({"type": "string"});
    let mut out = match h {
        Plain(MessageList | AdminMessageList) => vec![
            q("direction", "outbound messages (default) or inbound replies", json!({"enum": ["outbound", "inbound"]})),
            q("phone", "only this number's messages (E.164; matched by its keyed tag, messages from before tags were kept are not found)", text.clone()),
            q("id", "one outbound message by id (the other filters still apply)", text.clone()),
            q("state", "outbound only", json!({"enum": ["queued", "sending", "sent", "failed", "expired", "unknown"]})),
            q("kind", "outbound only", json!({"enum": ["otp", "direct", "notification"]})),
            q("from", "created (received) at or after, ISO 8601", text.clone()),
            q("to", "created (received) at or before, ISO 8601; a bare date is the whole day", text.clone()),
            q("limit", "page size", json!({"type": "integer", "minimum": 1, "maximum": 200, "default": 50})),
            q("cursor", "next_cursor of the page before, unchanged", text.clone()),
        ],
        _ => Vec::new(),
    };
    if h == Plain(AdminMessageList) {
        out.push(q("tenant_id", "one tenant's log", text));
    }
    out
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
                    ROUTES
                        .iter()
                        .any(|r| r.method == m.to_uppercase() && r.path == p),
                    "{m} {p} is not served"
                );
                count += 1;
            }
        }
        assert_eq!(count, ROUTES.len());
        for r in ROUTES {
            let (m, p) = (r.method, r.path);
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
        for r in ROUTES {
            let (m, p) = (r.method, r.path);
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
            let mut check = |schema: &Value, example: &Value, at: &str| {
                if !example.is_object() {
                    return;
                }
                let schema = resolve(&s, schema);
                for field in schema["required"].as_array().into_iter().flatten() {
                    if example.get(field.as_str().unwrap()).is_none() {
                        missing.push(format!("{m} {p}: {at}{field}"));
                    }
                }
            };
            check(schema, example, "");
            // And the answer's own fields, when a type says which (in the envelope's `data`).
            check(&schema["properties"]["data"], &example["data"], "data.");
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
    fn every_admin_operation_lists_its_roles_and_every_tenant_one_its_scope() {
        let s = spec();
        for r in ROUTES {
            let op = &s["paths"][r.path][r.method.to_lowercase()];
            match r.auth {
                Auth::Admin => {
                    let roles = op["x-roles"].as_array().expect(r.path);
                    assert!(roles.contains(&json!("owner")), "{}", r.path);
                    assert!(op["description"]
                        .as_str()
                        .unwrap()
                        .starts_with("Admin roles: "));
                }
                Auth::Tenant => assert_eq!(op["x-scopes"].as_array().map(Vec::len), Some(1)),
                _ => assert!(op.get("x-roles").is_none() && op.get("x-scopes").is_none()),
            }
        }
        assert_eq!(
            s["paths"]["/v1/admin/tenants"]["get"]["x-roles"],
            json!(["owner", "operator", "support", "billing"])
        );
        assert_eq!(
            s["paths"]["/v1/otp/verify"]["post"]["x-scopes"],
            json!(["verify"])
        );
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

    /// `schema` with its `$ref` (or a lone `oneOf`/`allOf` around one, as utoipa wraps a
    /// described field) followed to the component it names.
    fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
        if let Some(r) = schema["$ref"].as_str() {
            let name = r.trim_start_matches("#/components/schemas/");
            return resolve(doc, &doc["components"]["schemas"][name]);
        }
        for k in ["oneOf", "allOf"] {
            if let Some([one]) = schema[k].as_array().map(Vec::as_slice) {
                return resolve(doc, one);
            }
        }
        schema
    }

    /// Every key of `value` (and of the objects in it) has a property in `schema`.
    fn undocumented(doc: &Value, schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
        let Some(fields) = value.as_object() else {
            return;
        };
        let schema = resolve(doc, schema);
        for (k, v) in fields {
            let p = format!("{path}.{k}");
            match schema["properties"].get(k) {
                Some(s) => undocumented(doc, s, v, &p, out),
                None => out.push(p),
            }
        }
    }

    #[test]
    fn lists_every_tenant_setting_from_the_settings_type() {
        let s = spec();
        // The expected fields come from the type itself: its default, serialised.
        let settings =
            serde_json::to_value(crate::service::model::TenantSettings::default()).unwrap();
        assert!(settings.as_object().unwrap().len() >= 21);
        let mut missing = Vec::new();
        let documented = &s["components"]["schemas"]["TenantSettings"];
        undocumented(&s, documented, &settings, "settings", &mut missing);
        assert!(
            missing.is_empty(),
            "settings not in the document: {missing:?}"
        );
        // Where settings are written and read, they are that schema.
        for (p, m) in [
            ("/v1/admin/tenants", "post"),
            ("/v1/admin/tenants/{id}", "patch"),
        ] {
            let body = &s["paths"][p][m]["requestBody"]["content"]["application/json"]["schema"];
            let settings = &resolve(&s, body)["properties"]["settings"];
            assert!(
                settings
                    .to_string()
                    .contains("\"#/components/schemas/TenantSettings\""),
                "{m} {p}: {settings}"
            );
        }
        let tenant = resolve(&s, &s["components"]["schemas"]["Tenant"]);
        let mut missing = Vec::new();
        undocumented(
            &s,
            &tenant["properties"]["settings"],
            &settings,
            "tenant.settings",
            &mut missing,
        );
        assert!(missing.is_empty(), "{missing:?}");
    }

    /// Whether `schema` says what it is (a description on it or on what wraps its `$ref`).
    fn described(schema: &Value) -> bool {
        match schema {
            Value::Object(m) => {
                m.contains_key("description")
                    || ["oneOf", "anyOf", "allOf"].iter().any(|k| {
                        m.get(*k)
                            .and_then(Value::as_array)
                            .is_some_and(|a| a.iter().any(described))
                    })
            }
            _ => false,
        }
    }

    #[test]
    fn every_setting_says_what_it_does() {
        let s = spec();
        let mut bare = Vec::new();
        for name in ["TenantSettings", "RateLimits", "GeoSettings"] {
            let props = s["components"]["schemas"][name]["properties"]
                .as_object()
                .unwrap();
            for (k, v) in props {
                if !described(v) {
                    bare.push(format!("{name}.{k}"));
                }
            }
        }
        assert!(bare.is_empty(), "settings without a doc comment: {bare:?}");
    }

    #[test]
    fn typed_answers_are_documented_field_by_field() {
        let s = spec();
        // The documented example is a whole `Usage` built from the type.
        let mut usage = crate::api::schemas::usage_example()["data"].clone();
        // Counts are a free-form map of events, documented as a whole.
        usage["counts"] = json!({});
        let data = &s["paths"]["/v1/usage"]["get"]["responses"]["200"]["content"]
            ["application/json"]["schema"]["properties"]["data"];
        let mut missing = Vec::new();
        undocumented(&s, data, &usage, "usage", &mut missing);
        let tenant = &s["paths"]["/v1/admin/tenants"]["post"]["responses"]["201"]["content"]
            ["application/json"]["example"];
        let data = &s["paths"]["/v1/admin/tenants"]["post"]["responses"]["201"]["content"]
            ["application/json"]["schema"]["properties"]["data"];
        undocumented(&s, data, &tenant["data"], "tenant", &mut missing);
        assert!(missing.is_empty(), "{missing:?}");
    }

    /// The operations whose request body is still a hand-written schema (`schemas.rs`). Every
    /// other JSON body is a `$ref` to the type its handler reads.
    const HAND_WRITTEN_BODIES: &[&str] = &[
        // Twilio's form fields, read one by one (`compat::twilio`), not a JSON body.
        "POST /v2/Services/{id}/Verifications",
        "POST /v2/Services/{id}/VerificationCheck",
    ];

    #[test]
    fn request_bodies_come_from_the_types_the_handlers_read() {
        let s = spec();
        let mut hand_written = Vec::new();
        let mut open = Vec::new();
        for r in ROUTES.iter().filter(|r| r.doc.body.is_some()) {
            let name = format!("{} {}", r.method, r.path);
            let content = &s["paths"][r.path][r.method.to_lowercase()]["requestBody"]["content"];
            let schema = content
                .as_object()
                .and_then(|c| c.values().next())
                .map(|m| &m["schema"])
                .unwrap();
            let Some(target) = schema["$ref"].as_str() else {
                hand_written.push(name);
                continue;
            };
            assert_eq!(schema.as_object().unwrap().len(), 1, "{name}: {schema}");
            // Every typed body refuses unknown fields, as its handler does (the seed's aliases
            // ignore them, as the seed did).
            let closed = resolve(&s, schema)["additionalProperties"] == json!(false);
            if closed == r.path.starts_with("/api/") {
                open.push(format!("{name} ({target})"));
            }
        }
        let mut expected: Vec<String> = HAND_WRITTEN_BODIES.iter().map(|r| r.to_string()).collect();
        expected.sort();
        hand_written.sort();
        assert_eq!(hand_written, expected, "hand-written request bodies");
        assert!(
            open.is_empty(),
            "typed bodies open or closed unlike their handlers: {open:?}"
        );
    }

    /// The names in `schema`'s `enum`, following a `$ref` (or a nullable `oneOf` around one).
    fn enum_of(doc: &Value, schema: &Value) -> Value {
        let schema = match schema["oneOf"].as_array() {
            Some(a) => a.iter().find(|s| s["type"] != "null").unwrap(),
            None => schema,
        };
        resolve(doc, schema)["enum"].clone()
    }

    #[test]
    fn bodies_say_what_their_handlers_require() {
        let s = spec();
        let body = |m: &str, p: &str| {
            resolve(
                &s,
                &s["paths"][p][m]["requestBody"]["content"]["application/json"]["schema"],
            )
            .clone()
        };
        // A creation needs what its update, reading the same type, may leave out.
        assert_eq!(
            body("post", "/v1/admin/tenants")["required"],
            json!(["name"])
        );
        assert_eq!(
            body("patch", "/v1/admin/tenants/{id}")["required"],
            Value::Null
        );
        assert_eq!(body("post", "/v1/webhooks")["required"], json!(["url"]));
        assert_eq!(body("patch", "/v1/webhooks/{id}")["required"], Value::Null);
        // The names a handler takes are enums.
        let prop = |m: &str, p: &str, f: &str| enum_of(&s, &body(m, p)["properties"][f]);
        assert_eq!(
            prop("put", "/v1/admin/fallback", "provider"),
            json!(["twilio"])
        );
        assert_eq!(
            prop("post", "/v1/otp/send", "channel"),
            json!(["sms", "reverse"])
        );
        assert_eq!(
            prop("post", "/v1/admin/keys", "role"),
            json!(["owner", "operator", "support", "billing"])
        );
        let scopes = &body("post", "/v1/keys")["properties"]["scopes"]["items"];
        assert_eq!(
            resolve(&s, scopes)["enum"],
            json!(["send", "verify", "read", "manage"])
        );
        // A replay's event ids are plain ids, as the path's ids are.
        let ids = &body("post", "/v1/webhooks/{id}/replay")["properties"]["event_ids"];
        assert_eq!(ids["maxItems"], json!(100));
        let id = resolve(&s, &ids["items"]);
        assert_eq!(id["pattern"], json!(otp_shared::ids::PLAIN_ID_PATTERN));
        assert_eq!(id["maxLength"], json!(otp_shared::ids::MAX_PLAIN_ID_LEN));
        // A phone declares at most 8 numbers.

        let numbers = &body("post", "/v1/gateways/enrol")["properties"]["numbers"];
        assert_eq!(
            numbers["maxProperties"],
            json!(otp_shared::enrol::MAX_NUMBERS)
        );
    }

    #[test]
    fn a_replys_keyword_is_the_enum_it_is_stored_as() {
        use crate::service::messaging::inbound::Keyword;
        let s = spec();
        let reply = &s["components"]["schemas"]["InboundMessage"]["properties"]["keyword"];
        assert_eq!(enum_of(&s, reply), json!(["stop", "start"]));
        assert_eq!(
            json!([Keyword::Stop, Keyword::Start]),
            json!(["stop", "start"])
        );
        // The records stored before the type read back.
        let stored: Vec<Keyword> = serde_json::from_value(json!(["stop", "start"])).unwrap();
        assert_eq!(stored, [Keyword::Stop, Keyword::Start]);
    }

    #[test]
    fn the_scheduled_runs_parts_are_typed() {
        let s = spec();
        let c = &s["components"]["schemas"];
        let props = |v: &Value| resolve(&s, v)["properties"].clone();
        let fleet = &c["FleetTick"]["properties"];
        let stuck = props(&fleet["stuck"]);
        for k in ["repaired", "rerouted", "failed", "waiting", "error"] {
            assert!(stuck[k].is_object(), "stuck.{k}: {stuck}");
        }
        let canaries = props(&fleet["canaries"]);
        assert!(props(&canaries["missed"]["items"])["role"].is_object());
        let sent = &c["CanarySent"]["oneOf"];
        assert_eq!(sent.as_array().map(Vec::len), Some(2), "{sent}");
        let phone = &c["FleetTickPhone"]["oneOf"];
        assert_eq!(phone.as_array().map(Vec::len), Some(2), "{phone}");
        let checked = props(&phone[0]);
        assert_eq!(enum_of(&s, &checked["avoid"]["items"])[0], "unreachable");
        let hooks = props(&c["CronUpkeep"]["properties"]["webhooks"]);
        for k in ["delivered", "retry", "failed", "held", "skipped", "error"] {
            assert!(hooks[k].is_object(), "webhooks.{k}: {hooks}");
        }
        // What a run leaves out is not required.
        assert_eq!(resolve(&s, &fleet["stuck"])["required"], Value::Null);
    }

    /// The operations whose success answer is still a hand-written schema (`schemas.rs`). Every
    /// other JSON answer is a `$ref` to the type its handler answers with (in the v1 envelope's
    /// `data`).
    const HAND_WRITTEN_ANSWERS: &[&str] = &[
        // The document itself.
        "GET /openapi.json",
    ];

    /// Whether a success schema is the type's: a `$ref`, or the envelope around one (or around a
    /// `oneOf` of them).
    fn typed(schema: &Value) -> bool {
        let is_ref = |v: &Value| {
            v.as_object()
                .is_some_and(|o| o.len() == 1 && o.contains_key("$ref"))
        };
        let data = &schema["properties"]["data"];
        is_ref(schema)
            || is_ref(data)
            || data["oneOf"]
                .as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(is_ref))
    }

    #[test]
    fn answers_come_from_the_types_the_handlers_build() {
        let s = spec();
        let mut hand_written = Vec::new();
        for r in ROUTES {
            let op = &s["paths"][r.path][r.method.to_lowercase()];
            let Some((_, ok)) = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(code, _)| code.starts_with('2'))
            else {
                continue;
            };
            let Some(json_ok) = ok["content"].get("application/json") else {
                continue;
            };
            if !typed(&json_ok["schema"]) {
                hand_written.push(format!("{} {}", r.method, r.path));
            }
        }
        let mut expected: Vec<String> =
            HAND_WRITTEN_ANSWERS.iter().map(|r| r.to_string()).collect();
        expected.sort();
        hand_written.sort();
        assert_eq!(hand_written, expected, "hand-written success answers");
    }

    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(m) => {
                    if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                        out.push(r);
                    }
                    m.values().for_each(|v| refs(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
                _ => {}
            }
        }
        let s = spec();
        let mut all = Vec::new();
        refs(&s, &mut all);
        assert!(all.len() > 10);
        for r in all {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
            assert!(
                s["components"]["schemas"][name].is_object(),
                "{r} does not resolve"
            );
        }
    }
}
