//! A gateway's delivery report through the whole edge core (`App::handle`), natively, over the real
//! emulator: applied once with its analytics event, a replay refused and changing nothing, a report
//! that is no step forward accepted as a no-op, and a forged one refused.

mod support;

use otp_edge::api::app::App;
use otp_edge::api::http::ApiRequest;
use otp_edge::config::Config;
use otp_edge::native::{NativePlatform, ReqwestClient};
use otp_edge::platform::Platform;
use otp_edge::store::{Firestore, Write};
use otp_shared::wire::{self, Keys, MessageState, StatusReport};
use serde_json::{json, Value};

const SECRET: &str = "gateway-secret-0123456789abcdefghijklmnop";

fn config() -> Config {
    let (host, project) = (support::emulator().to_string(), support::unique("reports"));
    Config::from_lookup(move |k| match k {
        "OTP_HMAC_SECRET" => Some("test-secret-0123456789".into()),
        "FIRESTORE_EMULATOR_HOST" => Some(host.clone()),
        "FIRESTORE_PROJECT" => Some(project.clone()),
        "GATEWAYS" => Some(r#"[{"id":"phone-1","url":"http://127.0.0.1:9"}]"#.into()),
        "GATEWAY_SECRETS" => Some(format!(r#"{{"phone-1":"{SECRET}"}}"#)),
        _ => None,
    })
    .unwrap()
}

fn signed_report(state: MessageState, nonce: u8) -> ApiRequest {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let report = StatusReport {
        id: "msg_r1".into(),
        state,
        attempts: 1,
        error: None,
        at: now,
        gateway_id: "phone-1".into(),
    };
    let body = serde_json::to_vec(&report).unwrap();
    let sealed = wire::seal(
        &Keys::from_secret(SECRET).unwrap(),
        wire::Route::new("POST", wire::PATH_STATUS_CALLBACK, "phone-1"),
        now,
        [nonce; 16],
        [nonce; 12],
        Some(&body),
    );
    let mut req = ApiRequest::new("POST", wire::PATH_STATUS_CALLBACK).with_body(sealed.body);
    for (k, v) in sealed.headers {
        req = req.with_header(k, &v);
    }
    req
}

async fn state(db: &Firestore) -> String {
    let m = db
        .get::<Value, _>(&ReqwestClient::default(), 0, "messages/msg_r1")
        .await
        .unwrap()
        .unwrap()
        .value;
    m["state"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_report_is_applied_once_and_a_replay_changes_nothing() {
    let cfg = config();
    let db = Firestore::new(&cfg);
    let app = App::new(cfg, NativePlatform::default());
    let now = app.platform.now_ms();
    let message = json!({"id": "msg_r1", "tenant_id": "t_reports", "kind": "otp", "phone_masked": "+1415*****23", "encoding": "GSM-7",
        "segments": 1, "gateway_id": "phone-1", "state": "queued", "attempts": 0, "error": null, "created_at": now, "updated_at": now, "request_id": "req_1"});
    db.commit(
        &ReqwestClient::default(),
        now,
        vec![Write::set("messages/msg_r1".into(), &message)],
    )
    .await
    .unwrap();
    let delivered = || async {
        app.repo.event_totals(&app, "t_reports", now).await.unwrap()["events"]["delivery_sent"]
            .as_i64()
            .unwrap_or(0)
    };

    let sent = signed_report(MessageState::Sent, 1);
    let r = app.handle(sent.clone()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["applied"],
        true
    );
    assert_eq!(state(&db).await, "sent");
    assert_eq!(delivered().await, 1);

    // The same signed request again: refused, and not counted twice.
    let r = app.handle(sent).await;
    assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    assert!(String::from_utf8_lossy(&r.body).contains("replayed_nonce"));
    assert_eq!(delivered().await, 1);

    // A late `queued` is no step forward: accepted, nothing changes.
    let r = app.handle(signed_report(MessageState::Queued, 2)).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["applied"],
        false
    );
    assert_eq!(state(&db).await, "sent");

    // A body that is not what was signed.
    let mut forged = signed_report(MessageState::Failed, 3);
    forged.body[5] ^= 1;
    assert_eq!(app.handle(forged).await.status, 401);
    assert_eq!(state(&db).await, "sent");
}
