//! The scheduled job natively, over the real emulator: stale pending verifications become expired,
//! records past their retention are deleted, the rest is kept, and gateway health history lists
//! the newest check first.

mod support;

use otp_edge::native::{NativePlatform, ReqwestClient};
use otp_edge::platform::Platform;
use otp_edge::service::app::App;
use otp_edge::service::ctx::Ctx;
use otp_edge::service::ops::cron;
use otp_edge::store::{Firestore, Write};
use serde_json::{json, Value};

const DAY_MS: i64 = 86_400_000;

fn ctx(now_ms: i64) -> Ctx {
    Ctx::new("req_cron_test".into(), now_ms, "127.0.0.1".into())
}

fn verification(id: &str, status: &str, expires_at: i64) -> Value {
    json!({"id": id, "tenant_id": "t_cron", "phone": "+14155550123", "code_hmac": "x", "code_kind": "words",
           "status": status, "checks": 0, "max_checks": 5, "sends": 1, "created_at": expires_at - 300_000,
           "expires_at": expires_at, "verified_at": 0, "message_ids": [], "request_id": "r", "code_sealed": "s"})
}

async fn exists(db: &Firestore, path: &str) -> bool {
    db.get::<Value, _>(&ReqwestClient::default(), 0, path)
        .await
        .unwrap()
        .is_some()
}

async fn status_of(app: &App<NativePlatform>, id: &str) -> String {
    let (v, _) = app.repo().get_verification(id).await.unwrap().unwrap();
    serde_json::to_value(v.status)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn cron_expires_stale_verifications_and_purges_only_what_is_past_retention() {
    let cfg = support::config(&support::unique("cron"));
    let db = Firestore::new(&cfg);
    let platform = NativePlatform::new(&cfg);
    let app = App::new(cfg, platform);
    let now = app.platform.now_ms();
    let docs = [
        (
            "verifications/v_stale",
            verification("v_stale", "pending", now - 3_600_000),
        ),
        (
            "verifications/v_live",
            verification("v_live", "pending", now + 300_000),
        ),
        (
            "verifications/v_old",
            verification("v_old", "approved", now - 40 * DAY_MS),
        ),
        (
            "verifications/v_recent",
            verification("v_recent", "approved", now - DAY_MS),
        ),
        ("messages/m_old", json!({"created_at": now - 40 * DAY_MS})),
        ("messages/m_recent", json!({"created_at": now - DAY_MS})),
        ("idempotency/i_old", json!({"created_at": now - 2 * DAY_MS})),
        ("idempotency/i_recent", json!({"created_at": now - 60_000})),
        ("nonces/n_old", json!({"at": now - 2 * DAY_MS})),
        ("nonces/n_recent", json!({"at": now - 60_000})),
        (
            "enrol_tokens/e_old",
            json!({"created_at": now - 41 * DAY_MS, "expires_at": now - 40 * DAY_MS, "used_at": now - 40 * DAY_MS}),
        ),
        (
            "enrol_tokens/e_recent",
            json!({"created_at": now - 3 * DAY_MS, "expires_at": now - 2 * DAY_MS}),
        ),
    ];
    let writes = docs
        .iter()
        .map(|(p, v)| Write::set(p.to_string(), v))
        .collect();
    db.commit(app.platform.http(), now, writes).await.unwrap();
    for (ago, reachable) in [(8 * DAY_MS, true), (2_000, true), (1_000, false)] {
        let check = json!({"gateway_id": "phone-1", "reachable": reachable, "latency_ms": 5, "error": null, "at": now - ago});
        app.repo()
            .record_gateway_check(&check, &"phone-1".into(), now - ago)
            .await
            .unwrap();
    }

    let report = serde_json::json!(cron::run(&app, &ctx(now)).await);

    assert_eq!(report["verifications_expired"], 1, "{report}");
    assert_eq!(status_of(&app, "v_stale").await, "expired");
    assert_eq!(status_of(&app, "v_live").await, "pending");
    for gone in [
        "verifications/v_old",
        "messages/m_old",
        "idempotency/i_old",
        "nonces/n_old",
        "enrol_tokens/e_old",
    ] {
        assert!(!exists(&db, gone).await, "{gone} should be purged");
    }
    for kept in [
        "verifications/v_recent",
        "messages/m_recent",
        "idempotency/i_recent",
        "nonces/n_recent",
        "enrol_tokens/e_recent",
    ] {
        assert!(exists(&db, kept).await, "{kept} should be kept");
    }
    assert_eq!(
        report["purged"],
        json!({"verifications": 1, "messages": 1, "idempotency": 1, "gateway_checks": 1, "nonces": 1, "inbound": 0, "webhook_deliveries": 0, "routes": 0, "alerts": 0, "canaries": 0, "reverse": 0, "enrol_tokens": 1}),
        "{report}"
    );
    // Newest first: the latest check (down) is what the dashboard shows as current.
    let history = app.repo().gateway_history(10).await.unwrap();
    let ats: Vec<i64> = history.iter().map(|h| h["at"].as_i64().unwrap()).collect();
    assert_eq!(ats, vec![now - 1_000, now - 2_000], "{history:?}");
    assert_eq!(history[0]["reachable"], false);

    // A second run finds nothing more to do.
    let again = serde_json::json!(cron::run(&app, &ctx(now)).await);
    assert_eq!(again["verifications_expired"], 0);
    assert_eq!(
        again["purged"],
        json!({"verifications": 0, "messages": 0, "idempotency": 0, "gateway_checks": 0, "nonces": 0, "inbound": 0, "webhook_deliveries": 0, "routes": 0, "alerts": 0, "canaries": 0, "reverse": 0, "enrol_tokens": 0})
    );
}
