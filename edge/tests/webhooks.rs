//! Webhook deliveries through the edge core, natively, over the real emulator and a local
//! receiver: attempters racing for one delivery record it once and post it once (each claim is
//! guarded by the version read); a failing endpoint walks the retry steps, then the delivery
//! fails and the endpoint is disabled.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use otp_edge::config::Config;
use otp_edge::native::NativePlatform;
use otp_edge::platform::Platform;
use otp_edge::service::app::App;
use otp_edge::service::ctx::{Ctx, FirstCommit};
use otp_edge::service::model::Tenant;
use otp_edge::service::ops::webhooks::deliver;
use otp_edge::service::ops::webhooks::deliver::Outcome;
use otp_edge::service::ops::webhooks::endpoints;
use otp_edge::service::ops::webhooks::endpoints::EndpointInput;
use otp_edge::service::ops::webhooks::events::{Event, EventType};
use otp_edge::service::ops::webhooks::targets;
use otp_edge::service::repo::webhooks::DeliveryState;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn config(retry: &str, disable_after: &str) -> Config {
    let (host, project) = (support::emulator().to_string(), support::unique("webhooks"));
    let (retry, disable_after) = (retry.to_string(), disable_after.to_string());
    Config::from_lookup(move |k| match k {
        "OTP_HMAC_SECRET" => Some("test-secret-0123456789-abcdefghijklmnop".into()),
        "FIRESTORE_EMULATOR_HOST" => Some(host.clone()),
        "FIRESTORE_PROJECT" => Some(project.clone()),
        "WEBHOOK_ALLOW_HTTP" => Some("1".into()),
        "WEBHOOK_RETRY_SECS" => Some(retry.clone()),
        "WEBHOOK_DISABLE_AFTER_SECS" => Some(disable_after.clone()),
        "COUNTER_FLUSH_MS" => Some("0".into()),
        _ => None,
    })
    .unwrap()
}

/// A receiver answering every request with `status` after `delay_ms`; counts requests.
async fn receiver(status: u16, delay_ms: u64) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = sock.read(&mut buf).await;
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    (url, hits)
}

fn tenant() -> Tenant {
    Tenant {
        quota_total: 10,
        ..Tenant::new(
            format!("t_{}", support::unique("wh").replace('-', "")),
            "Hooks".into(),
            0,
        )
    }
}

/// An endpoint of a new tenant at `url`, and one event's delivery to it; returns its id.
async fn one_delivery(app: &App<NativePlatform>, url: &str) -> (Tenant, String, String) {
    let t = tenant();
    let ctx = Ctx::new(
        "req_setup".into(),
        app.platform.now_ms(),
        "127.0.0.1".into(),
    );
    let input = EndpointInput {
        url: Some(url.into()),
        events: Some(vec!["message.sent".into()]),
        ..Default::default()
    };
    let (e, _secret) = endpoints::create_webhook(app, &ctx, &t, &input, &FirstCommit::of(&ctx))
        .await
        .unwrap();
    let event = Event::new(
        EventType::MessageSent,
        &t.id,
        "msg_0123456789abcdefghjk",
        ctx.now_ms,
        json!({"id": "msg_0123456789abcdefghjk"}),
    );
    let (writes, ids) = targets::webhook_writes_for(app, &t.id, &[event])
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    app.repo().commit(writes).await.unwrap();
    (t, e.id, ids[0].clone())
}

#[tokio::test]
async fn racing_attempters_post_and_record_a_delivery_once() {
    let cfg = config("5", "86400");
    let app = App::new(cfg.clone(), NativePlatform::new(&cfg));
    let (url, hits) = receiver(200, 200).await;
    let (_, _, id) = one_delivery(&app, &url).await;
    let ctx = Ctx::new("req_race".into(), app.platform.now_ms(), String::new());
    let outcomes = futures_util::future::join_all(
        (0..4).map(|_| deliver::attempt_delivery(&app, &ctx, &id, true)),
    )
    .await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Outcome::Delivered)
            .count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Outcome::Delivered | Outcome::Skipped)),
        "{outcomes:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 1, "posted once");
    let d = &app
        .repo()
        .get_deliveries(std::slice::from_ref(&id))
        .await
        .unwrap()[0]
        .value;
    assert_eq!(
        (d.state, d.attempts, d.log.len()),
        (DeliveryState::Delivered, 1, 1)
    );
    // Delivered: a later attempt changes nothing.
    assert_eq!(
        deliver::attempt_delivery(&app, &ctx, &id, true).await,
        Outcome::Skipped
    );
}

#[tokio::test]
async fn a_failing_endpoint_walks_the_retry_steps_then_is_disabled() {
    let cfg = config("0,0", "0");
    let app = App::new(cfg.clone(), NativePlatform::new(&cfg));
    let (url, hits) = receiver(500, 0).await;
    let (t, endpoint, id) = one_delivery(&app, &url).await;
    let ctx = Ctx::new("req_fail".into(), app.platform.now_ms(), String::new());
    assert_eq!(
        deliver::attempt_delivery(&app, &ctx, &id, true).await,
        Outcome::Retry
    );
    let e = endpoints::tenant_webhook(&app, &t, &endpoint)
        .await
        .unwrap()
        .value;
    assert!(
        e.failing_since > 0 && e.enabled,
        "the first failure marks it failing"
    );
    // The second failure is past WEBHOOK_DISABLE_AFTER_SECS (0): disabled.
    assert_eq!(
        deliver::attempt_delivery(&app, &ctx, &id, true).await,
        Outcome::Retry
    );
    let e = endpoints::tenant_webhook(&app, &t, &endpoint)
        .await
        .unwrap()
        .value;
    assert!(!e.enabled && e.disabled_reason.is_some(), "{e:?}");
    // What is still pending fails without another post.
    assert_eq!(
        deliver::attempt_delivery(&app, &ctx, &id, true).await,
        Outcome::Failed
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    let d = &app.repo().get_deliveries(&[id]).await.unwrap()[0].value;
    assert_eq!(d.state, DeliveryState::Failed);
    assert_eq!(
        d.log.iter().map(|a| a.status).collect::<Vec<_>>(),
        vec![Some(500), Some(500), None]
    );
}
