//! The edge's half of the fleet, natively over the real emulator, with two phones that do not
//! answer (the phones' half runs against the real gateway in `tests/e2e/test_fleet.py`):
//! routing by standing, the reroute's safety rules, stuck messages on a silent phone, and the
//! canaries' bookkeeping through the seam the inbound path calls (`App::canary_received`).

mod support;

use otp_edge::api::http::ApiRequest;
use otp_edge::api::pipeline::handle;
use otp_edge::config::Config;
use otp_edge::native::NativePlatform;
use otp_edge::platform::Platform;
use otp_edge::service::app::App;
use otp_edge::service::ctx::{Ctx, Deferred};
use otp_edge::service::fleet::canary;
use otp_edge::service::fleet::standing;
use otp_edge::service::fleet::{self, model::CanaryState};
use otp_edge::service::messaging::reroute::Rerouted;
use otp_edge::service::messaging::{later, reroute};
use otp_edge::service::model::{DeliveryState, MessageRecord};
use otp_edge::service::sealing;
use otp_edge::service::tenants::keys::sha256_hex;
use otp_edge::store::Write;
use otp_shared::wire::{self, FailureClass, Keys, MessageKind, MessageState, StatusReport};
use serde_json::{json, Value};

const SECRET_1: &str = "fleet-secret-one-0123456789abcdefghijklmn";
const SECRET_2: &str = "fleet-secret-two-0123456789abcdefghijklmn";
const DAY: i64 = 86_400_000;

fn config() -> Config {
    let (host, project) = (support::emulator().to_string(), support::unique("fleet"));
    Config::from_lookup(move |k| match k {
        "OTP_HMAC_SECRET" => Some("test-secret-0123456789-abcdefghijklmnop".into()),
        "FIRESTORE_EMULATOR_HOST" => Some(host.clone()),
        "FIRESTORE_PROJECT" => Some(project.clone()),
        "FLEET_CACHE_MS" => Some("0".into()),
        "CANARY_INTERVAL_MIN" => Some("0".into()),
        "GATEWAY_TIMEOUT_MS" => Some("1000".into()),
        // Nothing listens on port 9: both phones are unreachable, at once.
        "GATEWAYS" => Some(
            r#"[{"id":"phone-1","url":"http://127.0.0.1:9","numbers":{"default":"+14155550101"}},
                {"id":"phone-2","url":"http://127.0.0.1:9","numbers":{"default":"+14155550102"}}]"#
                .into(),
        ),
        "GATEWAY_SECRETS" => Some(format!(
            r#"{{"phone-1":"{SECRET_1}","phone-2":"{SECRET_2}"}}"#
        )),
        _ => None,
    })
    .unwrap()
}

fn app() -> App<NativePlatform> {
    let cfg = config();
    let platform = NativePlatform::new(&cfg);
    App::new(cfg, platform)
}

fn ctx(app: &App<NativePlatform>) -> Ctx {
    Ctx::new(
        "req_fleet".into(),
        app.platform.now_ms(),
        "127.0.0.1".into(),
    )
}

async fn put(app: &App<NativePlatform>, path: &str, v: &Value) {
    app.repo()
        .commit(vec![Write::set(path.to_string(), v)])
        .await
        .unwrap();
}

async fn get(app: &App<NativePlatform>, path: &str) -> Value {
    app.db
        .get::<Value, _>(app.platform.http(), 0, path)
        .await
        .unwrap()
        .map(|d| d.value)
        .unwrap_or(Value::Null)
}

async fn audit_actions(app: &App<NativePlatform>) -> Vec<(String, String, String)> {
    app.repo()
        .list_audit(100, None)
        .await
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["details"]["alert"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                e["target"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn routing_offers_the_phones_in_good_standing_first() {
    let app = app();
    put(
        &app,
        "fleet/phone-1",
        &json!({"gateway_id": "phone-1", "avoid": ["low_battery"], "alerts": []}),
    )
    .await;
    put(
        &app,
        "fleet/phone-2",
        &json!({"gateway_id": "phone-2", "avoid": [], "alerts": []}),
    )
    .await;
    for _ in 0..10 {
        assert_eq!(
            standing::gateway_order(&app, &[]).await,
            ["phone-2", "phone-1"]
        );
    }
    assert_eq!(
        standing::gateway_order(&app, &["phone-2".into()]).await,
        ["phone-1"]
    );
    // A missed canary is a reason too; with both in bad standing the order is random again.
    put(&app, "fleet/phone-2", &json!({"gateway_id": "phone-2", "avoid": [], "degraded": {"reason": "x", "role": "send", "since": 1, "canary": "c"}})).await;
    let mut firsts = std::collections::BTreeSet::new();
    for _ in 0..40 {
        firsts.insert(standing::gateway_order(&app, &[]).await[0].clone());
    }
    assert_eq!(firsts.len(), 2, "{firsts:?}");
}

/// A tenant, a pending verification of `phone` with a sealed code, and its failed message.
async fn failed_otp(
    app: &App<NativePlatform>,
    class: Option<FailureClass>,
    expires_in_ms: i64,
) -> (String, String) {
    let now = app.platform.now_ms();
    let tenant = support::unique("t");
    put(app, &format!("tenants/{tenant}"), &json!({"id": tenant, "name": "Fleet", "status": "active", "quota_total": 10, "created_at": now})).await;
    let slot = format!("{:0<20}", &sha256_hex(&tenant)[..12])
        .replace(|c: char| !c.is_ascii_alphanumeric(), "0");
    let vid = format!("ver_{slot}abcdef");
    let msg_id = format!("msg_{}", &sha256_hex(&vid)[..16]);
    let sealed = sealing::seal(&app.secrets.seal, &vid, [7; 12], "forest river");
    put(app, &format!("verifications/{slot}"), &json!({"id": vid, "tenant_id": tenant, "phone": "+14155550123", "code_hmac": "x",
        "code_kind": "words", "status": "pending", "checks": 0, "max_checks": 5, "sends": 1, "created_at": now,
        "expires_at": now + expires_in_ms, "verified_at": 0, "message_ids": [msg_id], "request_id": "req_1", "code_sealed": sealed})).await;
    let m = MessageRecord {
        id: msg_id.clone().into(),
        tenant_id: tenant.into(),
        kind: MessageKind::Otp,
        phone_masked: "+1415•••0123".into(),
        phone_tag: None,
        encoding: "GSM-7".into(),
        segments: 1,
        gateway_id: "phone-1".into(),
        state: DeliveryState::Failed,
        attempts: 3,
        error: Some("generic_failure".into()),
        created_at: now.into(),
        updated_at: now.into(),
        request_id: "req_1".into(),
        verification_id: Some(vid),
        deadline_ms: (now + expires_in_ms).into(),
        check_after: Default::default(),
        failure_class: class,
        reroute_of: None,
        rerouted_to: None,
        avoid_gateways: Vec::new(),
        channel: None,
        provider: None,
        conv: None,
    };
    put(
        app,
        &format!("messages/{msg_id}"),
        &serde_json::to_value(&m).unwrap(),
    )
    .await;
    (msg_id, slot)
}

#[tokio::test]
async fn a_reroute_never_follows_a_send_that_may_have_gone_nor_a_code_about_to_expire() {
    let app = app();
    let ctx = ctx(&app);
    let (uncertain, _) = failed_otp(&app, Some(FailureClass::Uncertain), 300_000).await;
    assert_eq!(
        reroute::reroute(&app, &ctx, &uncertain).await,
        Rerouted::Skipped("it may have been sent")
    );
    let (unclassified, _) = failed_otp(&app, None, 300_000).await;
    assert_eq!(
        reroute::reroute(&app, &ctx, &unclassified).await,
        Rerouted::Skipped("it may have been sent")
    );
    let (late, _) = failed_otp(&app, Some(FailureClass::GenericFailure), 10_000).await;
    assert_eq!(
        reroute::reroute(&app, &ctx, &late).await,
        Rerouted::Skipped("code expires too soon")
    );
    let m = get(&app, &format!("messages/{uncertain}")).await;
    assert!(m.get("rerouted_to").is_none(), "{m}");
}

#[tokio::test]
async fn a_certain_failure_is_rerouted_as_a_new_message_that_avoids_the_phone_that_failed() {
    let app = app();
    let ctx = ctx(&app);
    let (failed, slot) = failed_otp(&app, Some(FailureClass::GenericFailure), 300_000).await;
    // phone-2 is the only other phone, and it does not answer: the new message fails, recorded.
    let outcome = reroute::reroute(&app, &ctx, &failed).await;
    assert!(
        matches!(&outcome, Rerouted::Failed(why) if why.contains("phone-2")),
        "{outcome:?}"
    );
    let first = get(&app, &format!("messages/{failed}")).await;
    let next_id = first["rerouted_to"]
        .as_str()
        .expect("the failed message names its successor")
        .to_string();
    let next = get(&app, &format!("messages/{next_id}")).await;
    assert_eq!(next["reroute_of"], json!(failed));
    assert_eq!(next["avoid_gateways"], json!(["phone-1"]));
    assert_eq!(next["state"], "failed");
    assert_eq!(next["failure_class"], "no_capacity");
    let v = get(&app, &format!("verifications/{slot}")).await;
    assert_eq!(v["message_ids"], json!([failed, next_id]));
    assert_eq!(v["status"], "pending");
    // Once rerouted, never again from the same failure.
    assert_eq!(
        reroute::reroute(&app, &ctx, &failed).await,
        Rerouted::Skipped("already rerouted")
    );
}

#[tokio::test]
async fn two_reroutes_of_one_failure_at_once_make_one_new_message() {
    let app = app();
    let (failed, slot) = failed_otp(&app, Some(FailureClass::NoService), 300_000).await;
    let (c1, c2) = (ctx(&app), ctx(&app));
    let (a, b) = tokio::join!(
        reroute::reroute(&app, &c1, &failed),
        reroute::reroute(&app, &c2, &failed)
    );
    let skipped = [&a, &b]
        .iter()
        .filter(|r| {
            matches!(
                r,
                Rerouted::Skipped("already rerouted")
                    | Rerouted::Skipped("a later send superseded it")
            )
        })
        .count();
    assert_eq!(skipped, 1, "{a:?} {b:?}");
    let v = get(&app, &format!("verifications/{slot}")).await;
    assert_eq!(v["message_ids"].as_array().unwrap().len(), 2, "{v}");
}

fn signed_batch(reports: &[StatusReport]) -> ApiRequest {
    let plain = serde_json::to_vec(&wire::StatusBatch {
        reports: reports.to_vec(),
    })
    .unwrap();
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&(std::process::id() as u64).to_le_bytes());
    nonce[8..].copy_from_slice(&(reports.len() as u64 ^ 0x5a).to_le_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sealed = wire::seal(
        &Keys::from_secret(SECRET_1).unwrap(),
        wire::Route::new("POST", wire::PATH_STATUS_CALLBACK, "phone-1"),
        now,
        nonce,
        [3; 12],
        Some(&plain),
    );
    let mut req = ApiRequest::new("POST", wire::PATH_STATUS_CALLBACK).with_body(sealed.body);
    for (k, v) in sealed.headers {
        req = req.with_header(k, &v);
    }
    req
}

#[tokio::test]
async fn a_classified_failure_report_leaves_a_reroute_for_after_the_answer_and_an_uncertain_one_does_not(
) {
    let app = app();
    let (certain, _) = failed_otp(&app, None, 300_000).await;
    let (maybe, _) = failed_otp(&app, None, 300_000).await;
    for id in [&certain, &maybe] {
        let mut m = get(&app, &format!("messages/{id}")).await;
        m["state"] = json!("sending");
        put(&app, &format!("messages/{id}"), &m).await;
    }
    let report = |id: &str, class| StatusReport {
        id: id.into(),
        state: MessageState::Failed,
        attempts: 3,
        error: Some("x".into()),
        at: (app.platform.now_ms() / 1000) as u64,
        gateway_id: "phone-1".into(),
        class: Some(class),
    };
    let handled = handle(
        &app,
        signed_batch(&[
            report(&certain, FailureClass::GenericFailure),
            report(&maybe, FailureClass::Uncertain),
        ]),
    )
    .await;
    assert_eq!(
        handled.response.status,
        200,
        "{}",
        String::from_utf8_lossy(&handled.response.body)
    );
    let reroutes: Vec<&String> = handled
        .deferred
        .iter()
        .filter_map(|d| match d {
            Deferred::Messaging(later::Later::Reroute { message_id }) => Some(message_id),
            _ => None,
        })
        .collect();
    assert_eq!(reroutes, [&certain]);
    assert_eq!(
        get(&app, &format!("messages/{maybe}")).await["failure_class"],
        "uncertain"
    );
}

#[tokio::test]
async fn stuck_messages_on_a_silent_phone_wait_until_their_deadline_then_fail_with_a_reason() {
    let app = app();
    let now = app.platform.now_ms();
    let msg = |id: &str, gateway: &str, state: &str, deadline: i64| {
        json!({"id": id, "tenant_id": "t_stuck", "kind": "direct", "phone_masked": "+1415•••0123", "encoding": "GSM-7",
            "segments": 1, "gateway_id": gateway, "state": state, "attempts": 0, "error": null, "created_at": now - 600_000,
            "updated_at": now - 600_000, "request_id": "r", "deadline_ms": deadline, "check_after": now - 1_000})
    };
    let tag = support::unique("s");
    let (past, future, lost) = (
        format!("{tag}_past"),
        format!("{tag}_future"),
        format!("{tag}_lost"),
    );
    put(
        &app,
        &format!("messages/{past}"),
        &msg(&past, "phone-1", "queued", now - 2 * 60_000),
    )
    .await;
    put(
        &app,
        &format!("messages/{future}"),
        &msg(&future, "phone-1", "queued", now + DAY),
    )
    .await;
    put(
        &app,
        &format!("messages/{lost}"),
        &msg(&lost, "", "unknown", now + DAY),
    )
    .await;
    let summary = serde_json::json!(fleet::tick(&app, &ctx(&app)).await);
    let past_m = get(&app, &format!("messages/{past}")).await;
    assert_eq!(
        (past_m["state"].as_str(), past_m["failure_class"].as_str()),
        (Some("failed"), Some("uncertain")),
        "{past_m}"
    );
    assert!(past_m["error"]
        .as_str()
        .unwrap()
        .contains("phone_unreachable"));
    let future_m = get(&app, &format!("messages/{future}")).await;
    assert_eq!(future_m["state"], "queued");
    assert!(
        future_m["check_after"].as_i64().unwrap() >= now + 600_000,
        "looked at again later: {future_m}"
    );
    let lost_m = get(&app, &format!("messages/{lost}")).await;
    assert_eq!(
        (lost_m["state"].as_str(), lost_m["failure_class"].as_str()),
        (Some("failed"), Some("unknown")),
        "{lost_m}"
    );
    assert!(
        summary["stuck"]["failed"].as_u64().unwrap() >= 2,
        "{summary}"
    );
    // phone-1 had a stuck message: alerted once, with phone_down (it does not answer).
    let actions = audit_actions(&app).await;
    for alert in ["stuck_messages", "phone_down"] {
        let raised = actions
            .iter()
            .filter(|(a, k, t)| a == "alert.raised" && k == alert && t == "phone-1")
            .count();
        assert_eq!(raised, 1, "{alert}: {actions:?}");
    }
    // The next minute finds nothing stuck: that alert is cleared; phone_down stays raised, once.
    fleet::tick(&app, &ctx(&app)).await;
    let actions = audit_actions(&app).await;
    assert!(
        actions
            .iter()
            .any(|(a, k, t)| a == "alert.cleared" && k == "stuck_messages" && t == "phone-1"),
        "{actions:?}"
    );
    assert_eq!(
        actions
            .iter()
            .filter(|(a, k, _)| a == "alert.raised" && k == "phone_down")
            .count(),
        2,
        "once per phone"
    );
}

async fn seed_canary(
    app: &App<NativePlatform>,
    token: &str,
    from: &str,
    to: &str,
    expected_by: i64,
) -> String {
    let id = sha256_hex(token);
    let now = app.platform.now_ms();
    put(app, &format!("canaries/{id}"), &json!({"message_id": format!("cny_{}", &id[..12]), "from_gateway": from, "from_slot": null,
        "to_gateway": to, "to_slot": null, "state": "sent", "sent_at": now - 60_000, "expected_by": expected_by})).await;
    id
}

#[tokio::test]
async fn a_missed_canary_degrades_the_phone_alerts_and_a_canary_that_arrives_clears_it() {
    let app = app();
    let now = app.platform.now_ms();
    let tag = format!("{:016}", now % 10_000_000_000_000_000)
        .chars()
        .rev()
        .collect::<String>();
    let token = |c: char| format!("{}{c}", &tag[..15]);
    let missed = seed_canary(&app, &token('a'), "phone-1", "phone-2", now - 1).await;
    fleet::tick(&app, &ctx(&app)).await;
    let c = get(&app, &format!("canaries/{missed}")).await;
    assert_eq!(c["state"], "missed");
    // phone-1 did not even answer about its canary: the sending side is in doubt.
    let p1 = get(&app, "fleet/phone-1").await;
    assert_eq!(p1["degraded"]["role"], "send", "{p1}");
    assert!(standing::standings(&app).await["phone-1"]
        .contains(&otp_edge::service::fleet::model::AvoidReason::CanaryMissed));
    assert!(audit_actions(&app)
        .await
        .iter()
        .any(|(a, k, t)| a == "alert.raised" && k == "canary_missed" && t == "phone-1"));

    // The inbound path hands over texts: a stranger's is not a canary...
    let ctx = ctx(&app);
    assert!(
        !canary::canary_received(&app, &ctx, &"phone-2".into(), "Your code is forest river").await
    );
    assert!(
        !canary::canary_received(
            &app,
            &ctx,
            &"phone-2".into(),
            "otp-sms canary ZZZZZZZZZZZZZZZZ"
        )
        .await,
        "unknown token"
    );
    // ...one at the wrong phone is the fleet's own but proves nothing...
    let later = seed_canary(&app, &token('b'), "phone-1", "phone-2", now + 600_000).await;
    assert!(
        canary::canary_received(
            &app,
            &ctx,
            &"phone-1".into(),
            &format!("otp-sms canary {}", token('b').to_uppercase())
        )
        .await
    );
    assert_eq!(
        get(&app, &format!("canaries/{later}")).await["state"],
        "sent"
    );
    // ...and phone-1's next canary arriving at phone-2 proves phone-1 sends again.
    assert!(
        canary::canary_received(
            &app,
            &ctx,
            &"phone-2".into(),
            &format!("otp-sms canary {}", token('b').to_uppercase())
        )
        .await
    );
    let c = get(&app, &format!("canaries/{later}")).await;
    assert_eq!(c["state"], "received");
    assert!(get(&app, "fleet/phone-1").await["degraded"].is_null());
    assert!(!standing::standings(&app).await["phone-1"]
        .contains(&otp_edge::service::fleet::model::AvoidReason::CanaryMissed));
    // Twice is once.
    assert!(
        canary::canary_received(
            &app,
            &ctx,
            &"phone-2".into(),
            &format!("otp-sms canary {}", token('b'))
        )
        .await
    );
    // The late one still counts as arrived, late.
    assert!(
        canary::canary_received(
            &app,
            &ctx,
            &"phone-2".into(),
            &format!("otp-sms canary {}", token('a'))
        )
        .await
    );
    assert_eq!(
        get(&app, &format!("canaries/{missed}")).await["state"],
        json!(CanaryState::Late)
    );
    fleet::tick(
        &app,
        &Ctx::new("req_fleet2".into(), now + 1_000, "x".into()),
    )
    .await;
    assert!(audit_actions(&app)
        .await
        .iter()
        .any(|(a, k, t)| a == "alert.cleared" && k == "canary_missed" && t == "phone-1"));
}
