//! A phone that nobody can knock over: slow, idle and unauthenticated clients against the real
//! binary. Figures (RSS, descriptors, time of the send) are printed for the README.

mod common;

use common::*;
use otp_shared::wire;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the edge allows a gateway to answer a send (GATEWAY_TIMEOUT_MS).
const EDGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads until the server closes or `limit` passes; what it said and whether it closed in time.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Opens `n` connections that say nothing, and `n` that send a request line and then one header
/// byte every 300 ms, forever (until the gateway closes them or the test ends).
async fn flood(addr: &str, n: usize) -> (Vec<TcpStream>, Vec<tokio::task::JoinHandle<()>>) {
    let mut idle = Vec::new();
    let mut trickling = Vec::new();
    for _ in 0..n {
        idle.push(TcpStream::connect(addr).await.unwrap());
        let mut s = TcpStream::connect(addr).await.unwrap();
        trickling.push(tokio::spawn(async move {
            if s.write_all(b"POST /v1/send HTTP/1.1\r\nX-Slow: ")
                .await
                .is_err()
            {
                return;
            }
            loop {
                tokio::time::sleep(Duration::from_millis(300)).await;
                if s.write_all(b"a").await.is_err() {
                    return;
                }
            }
        }));
    }
    (idle, trickling)
}

#[tokio::test]
async fn five_hundred_idle_and_trickling_connections_cannot_stop_a_signed_send() {
    let gw = Gateway::start("[server]\nmax_connections = 64\n");
    let (rss_before, fds_before) = (gw.rss_kib(), gw.open_fds());
    let (_idle, trickling) = flood(&gw.addr(), 250).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_during, fds_during) = (gw.rss_kib(), gw.open_fds());

    let started = Instant::now();
    let (code, body) = tokio::time::timeout(
        EDGE_TIMEOUT,
        gw.send(&msg("under-siege", "otp", "+14152009000", "code 909090")),
    )
    .await
    .expect("the send answered within the edge's time-out");
    let took = started.elapsed();
    assert_eq!(code, 202, "{body}");
    wait_for(30, "the SMS went out", || async { gw.sent().len() == 1 }).await;
    eprintln!(
        "500 hostile connections: RSS {rss_before} -> {rss_during} KiB, fds {fds_before} -> \
         {fds_during}, signed send answered in {} ms",
        took.as_millis()
    );
    // 64 slots, plus as many waiting and a few evicted ones still closing
    assert!(
        fds_during <= fds_before + 2 * 64 + 16,
        "descriptors {fds_before} -> {fds_during}: connections are not capped"
    );
    assert!(
        rss_during <= rss_before + 64 * 1024,
        "RSS {rss_before} -> {rss_during} KiB"
    );
    for t in trickling {
        t.abort();
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let gw = Gateway::start("[server]\nheader_timeout_ms = 500\n");
    let mut s = TcpStream::connect(gw.addr()).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(closed, "the gateway kept a half-sent request open");
    assert!(started.elapsed() < Duration::from_secs(3));
    // an idle connection (a keep-alive left open) goes the same way
    let mut idle = TcpStream::connect(gw.addr()).await.unwrap();
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(closed, "the gateway kept an idle connection open");
}

#[tokio::test]
async fn an_unsigned_request_is_refused_before_its_body_arrives() {
    let gw = Gateway::start("");
    let mut s = TcpStream::connect(gw.addr()).await.unwrap();
    // announces 60 KB and sends none of it
    s.write_all(b"POST /v1/send HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n")
        .await
        .unwrap();
    let (reply, _) = read_until_closed(&mut s, Duration::from_secs(3)).await;
    assert!(reply.starts_with("HTTP/1.1 401"), "{reply:?}");
    assert!(reply.contains("\"unsigned\""), "{reply}");
}

#[tokio::test]
async fn a_signed_request_whose_body_trickles_is_cut_off_at_its_deadline() {
    let gw = Gateway::start("[server]\nbody_timeout_ms = 1000\n");
    let body = serde_json::to_vec(&msg("slow", "otp", "+14152009001", "code 1")).unwrap();
    let sealed = seal_now(&gw.keys, "POST", wire::PATH_SEND, Some(&body));
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n",
        wire::PATH_SEND,
        sealed.body.len()
    );
    for (k, v) in &sealed.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut s = TcpStream::connect(gw.addr()).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(&sealed.body[..sealed.body.len() / 2])
        .await
        .unwrap();
    let started = Instant::now();
    let (reply, _) = read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply:?}");
    assert!(reply.contains("body_timeout"), "{reply}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(gw.status("slow").await.is_none(), "nothing was queued");
}

#[tokio::test]
async fn connections_cannot_use_up_the_descriptors_the_sender_needs() {
    // A small open-file limit and a connection cap far above it: the gateway fits the cap to the
    // limit, so hostile connections cannot starve `accept` nor `termux-sms-send` of descriptors.
    let gw = Gateway::start_limited("[server]\nmax_connections = 1000\n", Some(100));
    let (_idle, trickling) = flood(&gw.addr(), 150).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(gw.open_fds() < 100);
    let (code, body) = tokio::time::timeout(
        EDGE_TIMEOUT,
        gw.send(&msg("low-limit", "otp", "+14152009002", "code 2")),
    )
    .await
    .expect("the send answered within the edge's time-out");
    assert_eq!(code, 202, "{body}");
    wait_for(30, "the SMS went out", || async { gw.sent().len() == 1 }).await;
    assert!(!gw.health().await.kill_switch);
    for t in trickling {
        t.abort();
    }
}
