//! Operator alerts natively: with the store unreachable, the scheduled job raises
//! `store_unreachable`; the incident is latched in a gate (not the store, which is what is
//! missing) and told once through the fallback webhook (`ALERT_WEBHOOK_URL`), however often the job
//! runs; its clearing is told once too.

mod support;

use std::sync::{Arc, Mutex};

use otp_edge::config::Config;
use otp_edge::native::NativePlatform;
use otp_edge::platform::Platform;
use otp_edge::service::app::App;
use otp_edge::service::ctx::Ctx;
use otp_edge::service::later;
use otp_edge::service::ops::alerts::AlertKind;
use otp_edge::service::ops::cron;
use otp_edge::service::ops::operators;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A receiver that keeps every JSON body it is sent.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ops", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let kept = got.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let kept = kept.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 16384];
                // Headers and body arrive in a few reads; stop once the body is complete.
                loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).to_string();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            if let Ok(v) = serde_json::from_str(body) {
                                kept.lock().unwrap().push(v);
                            }
                            break;
                        }
                    }
                }
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (url, got)
}

#[tokio::test]
async fn an_unreachable_store_is_told_once_through_the_fallback_webhook_and_its_return_once() {
    let (url, got) = receiver().await;
    // Nothing listens on the store's port: every store call fails at once.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = dead.local_addr().unwrap().to_string();
    drop(dead);
    let cfg = Config::from_lookup(move |k| match k {
        "OTP_HMAC_SECRET" => Some("test-secret-0123456789-abcdefghijklmnop".into()),
        "FIRESTORE_EMULATOR_HOST" => Some(host.clone()),
        "FIRESTORE_PROJECT" => Some("down".into()),
        "STORE_TIMEOUT_MS" => Some("500".into()),
        "WEBHOOK_ALLOW_HTTP" => Some("1".into()),
        "ALERT_WEBHOOK_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap();
    let app = App::new(cfg.clone(), NativePlatform::new(&cfg));
    for _ in 0..3 {
        let ctx = Ctx::new("req_cron".into(), app.platform.now_ms(), "cron".into());
        let summary = serde_json::json!(cron::run(&app, &ctx).await);
        assert!(summary["store_error"].is_string(), "{summary}");
        later::run(&app, ctx.take_deferred()).await;
    }
    let told: Vec<Value> = got.lock().unwrap().clone();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["alert"]["kind"], "store_unreachable");
    assert!(told[0]["text"]
        .as_str()
        .unwrap()
        .contains("data store unreachable"));
    assert_eq!(told[0]["text"], told[0]["content"]);
    // Cleared: told once with a summary; a second clear says nothing.
    for _ in 0..2 {
        operators::settle_alert(
            &app,
            false,
            AlertKind::StoreUnreachable,
            "firestore",
            Value::Null,
        )
        .await;
    }
    let told: Vec<Value> = got.lock().unwrap().clone();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told[1]["text"]
        .as_str()
        .unwrap()
        .starts_with("[otp-sms] CLEARED firestore"));
}

#[tokio::test]
async fn an_incident_is_told_when_it_opens_and_clears_and_a_fraud_block_each_time() {
    let (url, got) = receiver().await;
    let (host, project) = (support::emulator().to_string(), support::unique("alerts"));
    let cfg = Config::from_lookup(move |k| match k {
        "OTP_HMAC_SECRET" => Some("test-secret-0123456789-abcdefghijklmnop".into()),
        "FIRESTORE_EMULATOR_HOST" => Some(host.clone()),
        "FIRESTORE_PROJECT" => Some(project.clone()),
        "WEBHOOK_ALLOW_HTTP" => Some("1".into()),
        "ALERT_WEBHOOK_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap();
    let app = App::new(cfg.clone(), NativePlatform::new(&cfg));
    let kinds = |g: &Arc<Mutex<Vec<Value>>>| -> Vec<(String, bool)> {
        g.lock()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["alert"]["kind"].as_str().unwrap_or("").to_string(),
                    v["text"].as_str().unwrap_or("").contains("CLEARED"),
                )
            })
            .collect()
    };
    for _ in 0..3 {
        operators::settle_alert(
            &app,
            true,
            AlertKind::PhoneDown,
            "phone-9",
            serde_json::json!({"error": "timed out"}),
        )
        .await;
    }
    operators::settle_alert(&app, false, AlertKind::PhoneDown, "phone-9", Value::Null).await;
    operators::settle_alert(&app, false, AlertKind::PhoneDown, "phone-9", Value::Null).await;
    assert_eq!(
        kinds(&got),
        vec![("phone_down".into(), false), ("phone_down".into(), true)]
    );
    let summary = got.lock().unwrap()[1]["text"].as_str().unwrap().to_string();
    assert!(summary.contains("raised 3 times"), "{summary}");
    // Nobody clears a fraud-guard block (it lifts by itself): each one is told.
    for _ in 0..2 {
        operators::settle_alert(&app, true, AlertKind::FraudBlock, "t_1/+1415", Value::Null).await;
    }
    assert_eq!(
        kinds(&got)
            .iter()
            .filter(|(k, _)| k == "fraud_block")
            .count(),
        2
    );
}
