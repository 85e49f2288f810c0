//! Sending through the real binary: exact argv, authentication failures, idempotency, validation,
//! priority, expiry, status and health.

mod common;

use common::*;
use otp_shared::wire::{self, Keys, MessageState, HEADER_SIGNATURE, HEADER_TIMESTAMP};

#[tokio::test]
async fn signed_send_runs_termux_sms_send_with_the_exact_number_and_text() {
    let gw = Gateway::start("");
    let text = "Your code is 482913. Don't share it — \"really\" $HOME";
    let (code, body) = gw.send(&msg("m1", "otp", "+14155550123", text)).await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["id"], "m1");
    assert_eq!(body["state"], "queued");
    assert_eq!(body["duplicate"], false);
    assert!(!body.to_string().contains("4155550123"));

    let mut pinned = msg("m2", "direct", "+447400123456", "slot one");
    pinned.sim_slot = Some(1);
    assert_eq!(gw.send(&pinned).await.0, 202);

    wait_for(30, "two SMS recorded", || async { gw.sent().len() == 2 }).await;
    let sent = gw.sent();
    assert_eq!(sent[0].args, ["-n", "+14155550123", text]);
    assert_eq!(sent[1].args, ["-n", "+447400123456", "-s", "1", "slot one"]);

    wait_for(10, "m2 marked sent", || async {
        gw.status("m2").await.unwrap().state == MessageState::Sent
    })
    .await;
    let st = gw.status("m1").await.unwrap();
    assert_eq!(
        (st.state, st.attempts, st.gateway_id.as_str()),
        (MessageState::Sent, 1, "phone-test")
    );
    let health = gw.health().await;
    assert_eq!(health.last_send, "sent");
    assert_eq!(health.queue_depth, 0);
    assert!(
        !gw.log().contains("4155550123"),
        "number leaked into the log"
    );
    assert!(!gw.log().contains("482913"), "text leaked into the log");
}

#[tokio::test]
async fn forged_stale_replayed_and_unsigned_requests_are_rejected_and_nothing_is_sent() {
    let mut gw = Gateway::start("");
    let body_of =
        |id: &str, to: &str| serde_json::to_vec(&msg(id, "otp", to, "code 111111")).unwrap();
    let expect = |got: (u16, serde_json::Value), code: &str| {
        assert_eq!(got.0, 401, "{code}: {}", got.1);
        assert_eq!(got.1["error"]["code"], code, "{}", got.1);
        assert!(got.1["error"]["message"].is_string());
    };

    // unsigned: plain JSON, no headers
    expect(
        gw.raw("POST", wire::PATH_SEND, &[], body_of("u1", "+14152000001"))
            .await,
        "unsigned",
    );

    // tampered body (same headers)
    let mut sealed = seal_now(
        &gw.keys,
        "POST",
        wire::PATH_SEND,
        Some(&body_of("t1", "+14152000002")),
    );
    let n = sealed.body.len() - 5;
    sealed.body[n] ^= 0x01;
    expect(
        gw.raw("POST", wire::PATH_SEND, &sealed.headers, sealed.body)
            .await,
        "bad_content_hash",
    );

    // tampered signature
    let mut sealed = seal_now(
        &gw.keys,
        "POST",
        wire::PATH_SEND,
        Some(&body_of("t2", "+14152000003")),
    );
    for (k, v) in sealed.headers.iter_mut() {
        if *k == HEADER_SIGNATURE {
            *v = format!("v1={}", "0".repeat(64));
        }
    }
    expect(
        gw.raw("POST", wire::PATH_SEND, &sealed.headers, sealed.body)
            .await,
        "bad_signature",
    );

    // signed with another secret
    let other = Keys::from_secret("another-secret-another-secret-another-secret").unwrap();
    let sealed = seal_now(
        &other,
        "POST",
        wire::PATH_SEND,
        Some(&body_of("t3", "+14152000004")),
    );
    expect(
        gw.raw("POST", wire::PATH_SEND, &sealed.headers, sealed.body)
            .await,
        "bad_signature",
    );

    // signed for another route
    let sealed = seal_now(
        &gw.keys,
        "POST",
        wire::PATH_KILL_SWITCH,
        Some(&body_of("t4", "+14152000005")),
    );
    expect(
        gw.raw("POST", wire::PATH_SEND, &sealed.headers, sealed.body)
            .await,
        "bad_signature",
    );

    // stale: outside the 300 s window either way
    for ts in [now() - 400, now() + 400] {
        let sealed = seal_at(
            &gw.keys,
            "POST",
            wire::PATH_SEND,
            Some(&body_of("s1", "+14152000006")),
            ts,
        );
        expect(
            gw.raw("POST", wire::PATH_SEND, &sealed.headers, sealed.body)
                .await,
            "stale_timestamp",
        );
    }
    // a timestamp header edited into the window breaks the signature
    let mut sealed = seal_at(
        &gw.keys,
        "POST",
        wire::PATH_SEND,
        Some(&body_of("s2", "+14152000007")),
        now() - 400,
    );
    for (k, v) in sealed.headers.iter_mut() {
        if *k == HEADER_TIMESTAMP {
            *v = now().to_string();
        }
    }
    expect(
        gw.raw("POST", wire::PATH_SEND, &sealed.headers, sealed.body)
            .await,
        "bad_signature",
    );

    // replay: the first is accepted, the exact same request again is not (also after a restart)
    let sealed = seal_now(
        &gw.keys,
        "POST",
        wire::PATH_SEND,
        Some(&body_of("r1", "+14152000008")),
    );
    let first = gw.signed_raw("POST", wire::PATH_SEND, &sealed).await;
    assert_eq!(first.0, 202, "{}", first.1);
    expect(
        gw.raw(
            "POST",
            wire::PATH_SEND,
            &sealed.headers,
            sealed.body.clone(),
        )
        .await,
        "replayed_nonce",
    );
    wait_for(30, "r1 sent", || async { gw.sent().len() == 1 }).await;
    gw.restart();
    expect(
        gw.raw(
            "POST",
            wire::PATH_SEND,
            &sealed.headers,
            sealed.body.clone(),
        )
        .await,
        "replayed_nonce",
    );

    // signed GET / kill-switch need signatures too
    expect(
        gw.raw("GET", "/v1/messages/r1", &[], vec![]).await,
        "unsigned",
    );
    expect(
        gw.raw(
            "POST",
            wire::PATH_KILL_SWITCH,
            &[],
            br#"{"engaged":true}"#.to_vec(),
        )
        .await,
        "unsigned",
    );
    assert!(!gw.health().await.kill_switch);

    // a final marker: once it is sent, everything before it has had its chance
    assert_eq!(
        gw.send(&msg("marker", "otp", "+14159999999", "marker"))
            .await
            .0,
        202
    );
    wait_for(30, "marker sent", || async {
        gw.sent()
            .iter()
            .any(|c| c.args.contains(&"+14159999999".to_string()))
    })
    .await;
    assert_eq!(numbers(&gw.calls()), ["+14152000008", "+14159999999"]);
}

#[tokio::test]
async fn an_edge_clock_off_by_minutes_either_way_is_still_accepted() {
    let gw = Gateway::start("");
    // The edge's clock 4 minutes behind, then 4 minutes ahead of the phone's: inside the 300 s window.
    for (id, to, ts) in [
        ("skew-behind", "+14152000601", now() - 240),
        ("skew-ahead", "+14152000602", now() + 240),
    ] {
        let body = serde_json::to_vec(&msg(id, "otp", to, "code 444444")).unwrap();
        let sealed = seal_at(&gw.keys, "POST", wire::PATH_SEND, Some(&body), ts);
        let (code, reply) = gw.signed_raw("POST", wire::PATH_SEND, &sealed).await;
        assert_eq!(code, 202, "{id}: {reply}");
    }
    wait_for(30, "both sent", || async { gw.sent().len() == 2 }).await;
    assert_eq!(numbers(&gw.sent()), ["+14152000601", "+14152000602"]);
}

#[tokio::test]
async fn the_same_id_twice_is_accepted_once_and_sent_once() {
    let gw = Gateway::start("");
    let m = msg("dup1", "otp", "+14152000101", "code 222222");
    let (c1, b1) = gw.send(&m).await;
    let (c2, b2) = gw.send(&m).await;
    assert_eq!((c1, b1["duplicate"].as_bool()), (202, Some(false)));
    assert_eq!((c2, b2["duplicate"].as_bool()), (202, Some(true)), "{b2}");
    assert_eq!(
        gw.send(&msg("after", "otp", "+14152000102", "x")).await.0,
        202
    );
    wait_for(30, "both sent", || async { gw.sent().len() == 2 }).await;
    // resubmitting after it was sent reports the final state, still no second SMS
    wait_for(10, "dup1 sent", || async {
        gw.status("dup1").await.unwrap().state == MessageState::Sent
    })
    .await;
    let (c3, b3) = gw.send(&m).await;
    assert_eq!(
        (c3, b3["duplicate"].as_bool(), b3["state"].as_str()),
        (202, Some(true), Some("sent"))
    );
    assert_eq!(numbers(&gw.calls()), ["+14152000101", "+14152000102"]);
}

#[tokio::test]
async fn invalid_requests_get_clear_errors_and_are_not_queued() {
    let gw = Gateway::start("[sender]\nsim_slots = [0, 1]\n");
    let cases = [
        (
            msg("bad1", "otp", "4155550123", "x"),
            400,
            "invalid_request",
        ),
        (msg("bad2", "otp", "+1abc", "x"), 400, "invalid_request"),
        // shared phone rules: an unassigned country code, a North American exchange starting 0-1,
        // and a formatted number (the gateway sends exactly what the edge validated, so only
        // canonical E.164 is taken)
        (
            msg("bad7", "otp", "+99912345678", "x"),
            400,
            "invalid_request",
        ),
        (
            msg("bad8", "otp", "+14150000201", "x"),
            400,
            "invalid_request",
        ),
        (
            msg("bad9", "otp", "+1 415 555 0123", "x"),
            400,
            "invalid_request",
        ),
        // the edge's type rule: a London landline and a US premium-rate number get no SMS
        (
            msg("landline", "otp", "+442079460000", "x"),
            422,
            "phone_not_mobile",
        ),
        (
            msg("premium", "direct", "+19005550123", "x"),
            422,
            "phone_not_mobile",
        ),
        // shared plain-id rule for every id
        (
            otp_shared::wire::SendRequest {
                tenant_id: "t.dotted".into(),
                ..msg("bad10", "otp", "+14152000205", "x")
            },
            400,
            "invalid_request",
        ),
        (
            msg(&"x".repeat(65), "otp", "+14152000206", "x"),
            400,
            "invalid_request",
        ),
        (
            msg("bad3", "otp", "+14152000201", " "),
            400,
            "invalid_request",
        ),
        (
            msg("bad 4", "otp", "+14152000202", "x"),
            400,
            "invalid_request",
        ),
        (
            otp_shared::wire::SendRequest {
                sim_slot: Some(5),
                ..msg("bad5", "otp", "+14152000203", "x")
            },
            400,
            "invalid_request",
        ),
        (
            otp_shared::wire::SendRequest {
                expires_at: now() - 1,
                ..msg("bad6", "otp", "+14152000204", "x")
            },
            422,
            "already_expired",
        ),
    ];
    for (m, status, code) in cases {
        let (got, body) = gw.send(&m).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{}: {body}",
            m.id
        );
        assert!(
            !body.to_string().contains("555200"),
            "error echoes the number: {body}"
        );
    }
    let (got, body) = gw
        .signed("POST", wire::PATH_SEND, Some(br#"{"id":"x"}"#))
        .await;
    assert_eq!(
        (got, body["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let (got, body) = gw.raw("DELETE", wire::PATH_SEND, &[], vec![]).await;
    assert_eq!(
        (got, body["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (got, _) = gw.raw("GET", "/nope", &[], vec![]).await;
    assert_eq!(got, 404);
    assert_eq!(gw.health().await.queue_depth, 0);
    assert!(gw.status("bad6").await.is_none());
}

#[tokio::test]
async fn otp_goes_before_direct_before_notification() {
    let gw = Gateway::start("");
    gw.control("sleep", "0.8");
    assert_eq!(
        gw.send(&msg("first", "notification", "+14152000300", "first"))
            .await
            .0,
        202
    );
    wait_for(10, "first send started", || async { gw.calls().len() == 1 }).await;
    // all three queue while the first send is running
    for (id, kind, to) in [
        ("n", "notification", "+14152000301"),
        ("d", "direct", "+14152000302"),
        ("o", "otp", "+14152000303"),
    ] {
        assert_eq!(gw.send(&msg(id, kind, to, id)).await.0, 202);
    }
    gw.clear_control("sleep");
    wait_for(30, "all four sent", || async { gw.sent().len() == 4 }).await;
    assert_eq!(
        numbers(&gw.sent()),
        [
            "+14152000300",
            "+14152000303",
            "+14152000302",
            "+14152000301"
        ]
    );
}

#[tokio::test]
async fn an_expired_otp_is_never_sent() {
    let gw = Gateway::start("");
    // Busy longer than the short one lives; it keeps over a second of life on arrival, so the
    // gateway takes it (it could go out in time) and then expires it unsent.
    gw.control("sleep", "3");
    assert_eq!(
        gw.send(&msg("busy", "otp", "+14152000400", "busy")).await.0,
        202
    );
    wait_for(10, "first send started", || async { gw.calls().len() == 1 }).await;
    let short = otp_shared::wire::SendRequest {
        expires_at: now() + 2,
        ..msg("short", "otp", "+14152000401", "code 333333")
    };
    assert_eq!(gw.send(&short).await.0, 202);
    wait_for(30, "short expired", || async {
        gw.status("short").await.unwrap().state == MessageState::Expired
    })
    .await;
    gw.clear_control("sleep");
    assert_eq!(
        gw.send(&msg("later", "otp", "+14152000402", "later"))
            .await
            .0,
        202
    );
    wait_for(30, "later sent", || async { gw.sent().len() == 2 }).await;
    assert_eq!(numbers(&gw.calls()), ["+14152000400", "+14152000402"]);
    let st = gw.status("short").await.unwrap();
    assert_eq!((st.attempts, st.error.as_deref()), (0, Some("expired")));
}

#[tokio::test]
async fn a_phone_that_cannot_send_before_expiry_refuses_and_queues_nothing() {
    let gw = Gateway::start("[pacing]\nper_sim_limit = 1\nwindow_secs = 3600\n");
    let otp = |id: &str, to: &str| otp_shared::wire::SendRequest {
        expires_at: now() + 120,
        ..msg(id, "otp", to, "code 123456")
    };
    assert_eq!(gw.send(&otp("a", "+14152000500")).await.0, 202);
    // One send per hour: a second OTP would wait an hour and expire first.
    let (code, body) = gw.send(&otp("b", "+14152000501")).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (503, Some("no_capacity")),
        "{body}"
    );
    assert!(gw.status("b").await.is_none());
    // Between the pacer's charge and the row's `sending` mark, "a" counts twice (by design: an
    // estimate never counts a send zero times), which would push "c" past two windows.
    wait_for(10, "a sent", || async {
        gw.status("a").await.unwrap().state == MessageState::Sent
    })
    .await;
    // A message that may wait for the window to roll is still taken.
    let later = otp_shared::wire::SendRequest {
        expires_at: now() + 7200,
        ..msg("c", "direct", "+14152000502", "hello")
    };
    assert_eq!(gw.send(&later).await.0, 202);
    assert_eq!(numbers(&gw.sent()), ["+14152000500"]);
    assert_eq!(gw.status("c").await.unwrap().state, MessageState::Queued);
}

#[tokio::test]
async fn bare_health_says_only_that_it_is_up_and_the_state_needs_a_signature() {
    let gw = Gateway::start("[pacing]\nper_sim_limit = 7\n");
    std::fs::write(gw.dir.path().join("STOP"), "").unwrap();
    // Anyone: liveness and version, nothing about the queue, the switch or the files.
    let text = gw.liveness().await;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
    // The edge: everything, signed; the kill switch's reason without a path.
    let h = gw.health().await;
    assert_eq!((h.status.as_str(), h.queue_depth), ("ok", 0));
    assert_eq!(h.capacity.per_sim_window, 7);
    assert_eq!(h.last_send, "none");
    assert!(h.kill_switch);
    let reason = h.kill_switch_reason.unwrap();
    assert_eq!(reason, "file flag present");
    assert!(!reason.contains(gw.dir.path().to_str().unwrap()));
    // Signature headers that do not verify get nothing.
    let forged = seal_for(
        &Keys::from_secret("another-secret-another-secret-another-secret").unwrap(),
        wire::Route::new("GET", wire::PATH_HEALTH, GATEWAY_ID),
        None,
        now(),
    );
    let (code, body) = gw.signed_raw("GET", wire::PATH_HEALTH, &forged).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (401, Some("bad_signature"))
    );
    assert!(!text.contains(SECRET));
}

#[tokio::test]
async fn every_answer_after_authentication_is_signed_and_spends_the_nonce() {
    let gw = Gateway::start("");
    // Refused after authentication (invalid): signed (checked by `signed_raw`) and the nonce is
    // spent, so the same request again is a replay (401, unsigned), not a second signed refusal
    // someone could pass off as the answer to a later request.
    let bad = serde_json::to_vec(&msg("x", "otp", "+1abc", "x")).unwrap();
    let sealed = seal_now(&gw.keys, "POST", wire::PATH_SEND, Some(&bad));
    assert_eq!(gw.signed_raw("POST", wire::PATH_SEND, &sealed).await.0, 400);
    let again = gw.signed_raw("POST", wire::PATH_SEND, &sealed).await;
    assert_eq!(
        (again.0, again.1["error"]["code"].as_str()),
        (401, Some("replayed_nonce"))
    );

    // The same for a refusal by the kill switch.
    assert_eq!(gw.kill_switch(true).await.0, 200);
    let body = serde_json::to_vec(&msg("ks", "otp", "+14152000701", "x")).unwrap();
    let sealed = seal_now(&gw.keys, "POST", wire::PATH_SEND, Some(&body));
    let first = gw.signed_raw("POST", wire::PATH_SEND, &sealed).await;
    assert_eq!(
        (first.0, first.1["error"]["code"].as_str()),
        (503, Some("kill_switch"))
    );
    assert_eq!(gw.signed_raw("POST", wire::PATH_SEND, &sealed).await.0, 401);

    // A reply is bound to its request: the signature of one answer does not fit another's nonce.
    let ok = sealed_send(&gw, "bound");
    assert_eq!(gw.kill_switch(false).await.0, 200);
    let (status, sig, reply) = gw
        .exchange("POST", wire::PATH_SEND, &ok.headers, ok.body.clone())
        .await;
    assert_eq!(status, 202);
    let other_nonce = seal_now(&gw.keys, "GET", "/x", None);
    assert_eq!(
        wire::verify_reply(
            &gw.keys,
            other_nonce.nonce(),
            status,
            sig.as_deref(),
            &reply
        ),
        Err(wire::WireError::BadSignature)
    );
}

fn sealed_send(gw: &Gateway, id: &str) -> wire::SealedRequest {
    let body = serde_json::to_vec(&msg(id, "otp", "+14152000702", "x")).unwrap();
    seal_now(&gw.keys, "POST", wire::PATH_SEND, Some(&body))
}

#[tokio::test]
async fn a_request_for_another_gateway_is_refused() {
    let gw = Gateway::start("");
    let body = serde_json::to_vec(&msg("elsewhere", "otp", "+14152000801", "x")).unwrap();
    // sealed for phone-other (another phone that happens to share this secret)
    let route = wire::Route::new("POST", wire::PATH_SEND, "phone-other");
    let sealed = seal_for(&gw.keys, route, Some(&body), now());
    let (code, reply) = gw.signed_raw("POST", wire::PATH_SEND, &sealed).await;
    assert_eq!(
        (code, reply["error"]["code"].as_str()),
        (401, Some("wrong_gateway"))
    );
    // relabelled for this gateway: the signature covers the id
    let mut relabelled = sealed.clone();
    for (k, v) in relabelled.headers.iter_mut() {
        if *k == wire::HEADER_GATEWAY {
            *v = GATEWAY_ID.to_string();
        }
    }
    let (code, reply) = gw.signed_raw("POST", wire::PATH_SEND, &relabelled).await;
    assert_eq!(
        (code, reply["error"]["code"].as_str()),
        (401, Some("bad_signature"))
    );
    assert!(gw.status("elsewhere").await.is_none());
}
