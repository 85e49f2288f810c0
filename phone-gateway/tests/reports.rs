//! Delivery reports reach a local HTTP receiver standing in for the edge, signed and encrypted per
//! wire v1, in batches (`StatusBatch`), in order, each state change after the hand-off once.

mod common;

use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use otp_shared::wire::{self, Keys, MemoryReplayGuard, MessageState, StatusBatch, StatusReport};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Received {
    reports: Vec<StatusReport>,
    /// Reports per accepted request.
    batches: Vec<usize>,
    rejected: Vec<String>,
    /// Answer 503 to this many requests first, to exercise the retry.
    fail_first: usize,
    requests: usize,
}

/// A tiny edge: verifies each callback with `otp_shared::wire` and records the report.
async fn start_receiver(bind: &str, fail_first: usize) -> (String, Arc<Mutex<Received>>) {
    let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(Mutex::new(Received {
        fail_first,
        ..Default::default()
    }));
    let guard = Arc::new(Mutex::new(MemoryReplayGuard::new(300)));
    let keys = Keys::from_secret(SECRET).unwrap();
    let st = state.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (st, guard, keys) = (st.clone(), guard.clone(), keys.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (st, guard, keys) = (st.clone(), guard.clone(), keys.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.unwrap().to_bytes();
                            let header =
                                |n: &str| parts.headers.get(n).and_then(|v| v.to_str().ok());
                            // the receiver knows the sender by its id, and checks it signed it
                            let route = wire::Route::new(
                                parts.method.as_str(),
                                parts.uri.path(),
                                GATEWAY_ID,
                            );
                            let opened = wire::open(
                                &keys,
                                route,
                                header,
                                &body,
                                now(),
                                300,
                                &mut *guard.lock().unwrap(),
                            );
                            let mut s = st.lock().unwrap();
                            s.requests += 1;
                            let status = if s.requests <= s.fail_first {
                                503
                            } else if header(wire::HEADER_GATEWAY) != Some(GATEWAY_ID) {
                                s.rejected.push("missing gateway id".into());
                                401
                            } else {
                                match opened {
                                    Ok(Some(plain)) => {
                                        let batch: StatusBatch =
                                            serde_json::from_slice(&plain).unwrap();
                                        s.batches.push(batch.reports.len());
                                        s.reports.extend(batch.reports);
                                        200
                                    }
                                    Ok(None) => 400,
                                    Err(e) => {
                                        s.rejected.push(e.code().to_string());
                                        401
                                    }
                                }
                            };
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .body(Full::new(Bytes::from("{}")))
                                    .unwrap(),
                            )
                        }
                    },
                );
                // a connection the gateway drops mid-way is its business
                let _closed = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), state)
}

fn states_of(r: &Received, id: &str) -> Vec<MessageState> {
    r.reports
        .iter()
        .filter(|x| x.id == id)
        .map(|x| x.state)
        .collect()
}

#[tokio::test]
async fn signed_status_reports_reach_the_edge_in_order_with_retries() {
    let (edge, received) = start_receiver("127.0.0.1:0", 2).await;
    let gw = Gateway::start(&format!(
        "edge_url = \"{edge}\"\n[reports]\nbackoff_base_ms = 50\nbackoff_max_ms = 200\n"
    ));
    gw.control("sleep", "3");
    assert_eq!(
        gw.send(&msg("rep1", "otp", "+14152001200", "report me"))
            .await
            .0,
        202
    );
    wait_for(10, "first send running", || async { gw.calls().len() == 1 }).await;
    let short = otp_shared::wire::SendRequest {
        expires_at: now() + 2,
        ..msg("rep2", "otp", "+14152001201", "expire me")
    };
    assert_eq!(gw.send(&short).await.0, 202);

    wait_for(30, "sending, sent and expired reports", || async {
        let r = received.lock().unwrap();
        states_of(&r, "rep1") == [MessageState::Sending, MessageState::Sent]
            && states_of(&r, "rep2") == [MessageState::Expired]
    })
    .await;
    let r = received.lock().unwrap();
    assert!(r.rejected.is_empty(), "receiver rejected: {:?}", r.rejected);
    assert!(
        r.requests >= r.batches.len() + 2,
        "the two 503s were retried"
    );
    let sent = r
        .reports
        .iter()
        .find(|x| x.id == "rep1" && x.state == MessageState::Sent)
        .unwrap();
    assert_eq!(
        (
            sent.attempts,
            sent.gateway_id.as_str(),
            sent.error.as_deref()
        ),
        (1, "phone-test", None)
    );
    assert_eq!(r.reports.len(), 3, "each report delivered once");
}

#[tokio::test]
async fn undelivered_reports_survive_a_restart() {
    // the edge is down (nothing listens) while the message is sent
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let mut gw = Gateway::start(&format!("edge_url = \"http://127.0.0.1:{port}\"\n[reports]\nbackoff_base_ms = 50\nbackoff_max_ms = 100\n"));
    assert_eq!(
        gw.send(&msg("rep3", "otp", "+14152001300", "later report"))
            .await
            .0,
        202
    );
    wait_for(30, "rep3 sent", || async {
        gw.status("rep3").await.unwrap().state == MessageState::Sent
    })
    .await;
    gw.kill9();

    // the edge comes up on that port; the restarted gateway delivers the stored reports
    let (_, received) = start_receiver(&format!("127.0.0.1:{port}"), 0).await;
    gw.restart();
    wait_for(30, "stored reports delivered", || async {
        states_of(&received.lock().unwrap(), "rep3") == [MessageState::Sending, MessageState::Sent]
    })
    .await;
}

#[tokio::test]
async fn reports_that_waited_go_out_together_in_one_request() {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    // the edge is away while five messages are sent (ten reports pile up)
    let gw = Gateway::start(&format!(
        "edge_url = \"http://127.0.0.1:{port}\"\n[reports]\nbackoff_base_ms = 100\nbackoff_max_ms = 200\n"
    ));
    for i in 0..5 {
        let id = format!("pile{i}");
        let to = format!("+1415200130{i}");
        assert_eq!(gw.send(&msg(&id, "otp", &to, "x")).await.0, 202);
    }
    wait_for(60, "all five sent", || async { gw.sent().len() == 5 }).await;
    wait_for(10, "all five recorded", || async {
        gw.status("pile4").await.unwrap().state == MessageState::Sent
    })
    .await;
    let (_, received) = start_receiver(&format!("127.0.0.1:{port}"), 0).await;
    wait_for(30, "the ten reports delivered", || async {
        received.lock().unwrap().reports.len() == 10
    })
    .await;
    let r = received.lock().unwrap();
    assert_eq!(r.batches, [10], "one request for all ten");
    for i in 0..5 {
        let id = format!("pile{i}");
        assert_eq!(
            states_of(&r, &id),
            [MessageState::Sending, MessageState::Sent]
        );
    }
}
