//! A gateway's delivery reports through the whole edge core (`App::handle`), natively, over the real
//! emulator: a report applied once with its analytics event, a replay refused and changing nothing,
//! a report that is no step forward accepted as a no-op, a forged one refused; and a batch applied
//! with one read and one commit, skipping what another gateway holds.

mod support;

use otp_edge::api::http::ApiRequest;
use otp_edge::api::pipeline::{handle, handle_now};
use otp_edge::config::Config;
use otp_edge::native::{NativePlatform, ReqwestClient};
use otp_edge::net::{HttpClient, OutboundRequest, OutboundResponse, TransportError};
use otp_edge::platform::{GateAnswer, GateAsk, Platform};
use otp_edge::service::app::App;
use otp_edge::service::fleet::roster;
use otp_edge::service::later;
use otp_edge::store::{Firestore, Write};
use otp_shared::wire::{self, Keys, MessageState, StatusBatch, StatusReport};
use serde_json::{json, Value};
use std::sync::Mutex;

const SECRET: &str = "gateway-secret-0123456789abcdefghijklmnop";

fn config() -> Config {
    let (host, project) = (support::emulator().to_string(), support::unique("reports"));
    Config::from_lookup(move |k| match k {
        "OTP_HMAC_SECRET" => Some("test-secret-0123456789-abcdefghijklmnop".into()),
        "COUNTER_FLUSH_MS" => Some("0".into()),
        "FIRESTORE_EMULATOR_HOST" => Some(host.clone()),
        "FIRESTORE_PROJECT" => Some(project.clone()),
        "GATEWAYS" => Some(
            r#"[{"id":"phone-1","url":"http://127.0.0.1:9"},{"id":"phone-2","url":"http://127.0.0.1:9"}]"#
                .into(),
        ),
        "GATEWAY_SECRETS" => Some(format!(
            r#"{{"phone-1":"{SECRET}","phone-2":"{SECRET}-two"}}"#
        )),
        _ => None,
    })
    .unwrap()
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn report(id: &str, state: MessageState) -> StatusReport {
    StatusReport {
        id: id.into(),
        state,
        attempts: 1,
        error: None,
        at: now_s(),
        gateway_id: "phone-1".into(),
        class: None,
    }
}

/// A callback from phone-1 carrying `plaintext`, sealed with `nonce`.
fn signed_callback(plaintext: &[u8], nonce: u8) -> ApiRequest {
    let sealed = wire::seal(
        &Keys::from_secret(SECRET).unwrap(),
        wire::Route::new("POST", wire::PATH_STATUS_CALLBACK, "phone-1"),
        now_s(),
        [nonce; 16],
        [nonce; 12],
        Some(plaintext),
    );
    let mut req = ApiRequest::new("POST", wire::PATH_STATUS_CALLBACK).with_body(sealed.body);
    for (k, v) in sealed.headers {
        req = req.with_header(k, &v);
    }
    req
}

fn signed_report(state: MessageState, nonce: u8) -> ApiRequest {
    signed_callback(
        &serde_json::to_vec(&report("msg_r1", state)).unwrap(),
        nonce,
    )
}

fn message(id: &str, tenant: &str, gateway: &str, now: i64) -> Value {
    json!({"id": id, "tenant_id": tenant, "kind": "otp", "phone_masked": "+1415*****23", "encoding": "GSM-7",
        "segments": 1, "gateway_id": gateway, "state": "queued", "attempts": 0, "error": null, "created_at": now,
        "updated_at": now, "request_id": "req_1"})
}

async fn state(db: &Firestore, id: &str) -> String {
    let m = db
        .get::<Value, _>(&ReqwestClient::default(), 0, &format!("messages/{id}"))
        .await
        .unwrap()
        .unwrap()
        .value;
    m["state"].as_str().unwrap().to_string()
}

fn data(r: &otp_edge::api::http::ApiResponse) -> Value {
    serde_json::from_slice::<Value>(&r.body).unwrap()["data"].clone()
}

#[tokio::test]
async fn a_report_is_applied_once_and_a_replay_changes_nothing() {
    let cfg = config();
    let db = Firestore::new(&cfg);
    let platform = NativePlatform::new(&cfg);
    let app = App::new(cfg, platform);
    let now = app.platform.now_ms();
    db.commit(
        &ReqwestClient::default(),
        now,
        vec![Write::set(
            "messages/msg_r1".into(),
            &message("msg_r1", "t_reports", "phone-1", now),
        )],
    )
    .await
    .unwrap();
    let delivered = || async {
        app.repo().event_totals("t_reports", now).await.unwrap()["events"]["delivery_sent"]
            .as_i64()
            .unwrap_or(0)
    };

    let sent = signed_report(MessageState::Sent, 1);
    let r = handle_now(&app, sent.clone()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(data(&r)["applied"], 1);
    assert_eq!(state(&db, "msg_r1").await, "sent");
    assert_eq!(delivered().await, 1);

    // The same signed request again: refused, and not counted twice.
    let r = handle_now(&app, sent).await;
    assert_eq!(r.status, 401, "{}", String::from_utf8_lossy(&r.body));
    assert!(String::from_utf8_lossy(&r.body).contains("replayed_nonce"));
    assert_eq!(delivered().await, 1);

    // A late `sending` is no step forward: accepted, nothing changes.
    let r = handle_now(&app, signed_report(MessageState::Sending, 2)).await;
    assert_eq!(r.status, 200);
    assert_eq!(data(&r)["applied"], 0);
    assert_eq!(state(&db, "msg_r1").await, "sent");

    // A body that is not what was signed.
    let mut forged = signed_report(MessageState::Failed, 3);
    forged.body[5] ^= 1;
    assert_eq!(handle_now(&app, forged).await.status, 401);
    assert_eq!(state(&db, "msg_r1").await, "sent");
}

/// `NativePlatform` that also lists every outbound request's URL.
struct Counting {
    inner: NativePlatform,
    http: CountingHttp,
}

#[derive(Default)]
struct CountingHttp {
    inner: ReqwestClient,
    urls: Mutex<Vec<String>>,
}

impl HttpClient for CountingHttp {
    async fn send(&self, req: OutboundRequest) -> Result<OutboundResponse, TransportError> {
        self.urls.lock().unwrap().push(req.url.clone());
        self.inner.send(req).await
    }
}

impl Platform for Counting {
    type Http = CountingHttp;
    fn http(&self) -> &CountingHttp {
        &self.http
    }
    fn now_ms(&self) -> i64 {
        self.inner.now_ms()
    }
    fn fill_random(&self, buf: &mut [u8]) {
        self.inner.fill_random(buf)
    }
    async fn gate(&self, name: &str, ask: &GateAsk) -> Result<GateAnswer, String> {
        self.inner.gate(name, ask).await
    }
    async fn tally(&self, counts: Vec<(String, Vec<(String, i64)>)>) -> Result<(), String> {
        self.inner.tally(counts).await
    }
    async fn sleep(&self, ms: u64) {
        self.inner.sleep(ms).await
    }
    fn log(&self, line: &str) {
        self.inner.log(line)
    }
}

#[tokio::test]
async fn a_batch_is_one_read_and_one_commit_and_skips_what_another_phone_holds() {
    let cfg = config();
    let db = Firestore::new(&cfg);
    let counting = Counting {
        inner: NativePlatform::new(&cfg),
        http: CountingHttp::default(),
    };
    let app = App::new(cfg, counting);
    let now = app.platform.now_ms();
    let setup: Vec<Write> = [
        ("msg_b1", "phone-1"),
        ("msg_b2", "phone-1"),
        ("msg_b3", "phone-2"),
    ]
    .iter()
    .map(|(id, g)| Write::set(format!("messages/{id}"), &message(id, "t_batch", g, now)))
    .collect();
    db.commit(&ReqwestClient::default(), now, setup)
        .await
        .unwrap();

    let batch = StatusBatch {
        reports: vec![
            report("msg_b1", MessageState::Sending),
            report("msg_b2", MessageState::Sending),
            report("msg_b1", MessageState::Sent),
            // held by phone-2: phone-1 cannot move it
            report("msg_b3", MessageState::Failed),
            report("msg_b2", MessageState::Expired),
            // unknown to the edge
            report("msg_nobody", MessageState::Sent),
        ],
    };
    let body = serde_json::to_vec(&batch).unwrap();
    // A warm isolate: it has read the fleet's roster (configured plus enrolled phones, one list
    // read kept for ROSTER_CACHE_MS) before this batch, as it has after its first request.
    roster::roster(&app).await;
    app.platform.http.urls.lock().unwrap().clear();
    let handled = handle(&app, signed_callback(&body, 7)).await;
    let r = handled.response;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(data(&r), json!({"received": 6, "applied": 4, "ignored": 2}));
    // The request itself; the analytics flush comes after the answer.
    let urls = app.platform.http.urls.lock().unwrap().clone();
    later::run(&app, handled.deferred).await;
    let count = |suffix: &str| urls.iter().filter(|u| u.ends_with(suffix)).count();
    // Plus, the first time an isolate sees the tenant, one look-up of its webhook endpoints
    // (kept for WEBHOOK_CACHE_MS): the events of the new states ride in the same commit.
    assert_eq!(
        (
            count(":batchGet"),
            count(":commit"),
            count(":runQuery"),
            urls.len()
        ),
        (1, 1, 1, 3),
        "{urls:?}"
    );

    assert_eq!(state(&db, "msg_b1").await, "sent");
    assert_eq!(state(&db, "msg_b2").await, "expired");
    assert_eq!(state(&db, "msg_b3").await, "queued");
    let events = app.repo().event_totals("t_batch", now).await.unwrap()["events"].clone();
    assert_eq!(
        (
            events["delivery_sent"].as_i64(),
            events["delivery_expired"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(events["delivery_failed"].as_i64().unwrap_or(0), 0);

    // the same batch again is a replay
    assert_eq!(
        handle_now(&app, signed_callback(&body, 7)).await.status,
        401
    );
    // more than a batch may hold is refused
    let too_many = StatusBatch {
        reports: vec![report("msg_b1", MessageState::Sent); wire::MAX_REPORTS_PER_BATCH + 1],
    };
    let r = handle_now(
        &app,
        signed_callback(&serde_json::to_vec(&too_many).unwrap(), 8),
    )
    .await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
}
