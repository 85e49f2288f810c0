//! Pacing, retries, crash safety and the kill switch, against the real binary.

mod common;

use common::*;
use otp_shared::wire::MessageState;

/// Tolerance for process start-up between the gateway's clock and the fake's `date` (not a speed claim).
const START_SLACK_NS: u128 = 300_000_000;

#[tokio::test]
async fn pacing_holds_under_a_burst_and_everything_is_delivered_later() {
    let gw = Gateway::start(""); // 3 per 2 s
    let n = 9;
    for i in 0..n {
        let (code, body) = gw
            .send(&msg(
                &format!("b{i}"),
                "otp",
                &format!("+1415200050{i}"),
                "burst",
            ))
            .await;
        assert_eq!(code, 202, "{body}");
    }
    // while draining, the gateway never reports more than the limit in use
    let mut max_used = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while gw.sent().len() < n {
        max_used = max_used.max(gw.health().await.capacity.used);
        assert!(std::time::Instant::now() < deadline, "burst not delivered");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(max_used <= 3, "used {max_used} > limit");
    let times: Vec<u128> = gw.calls().iter().map(|c| c.at_ns).collect();
    assert_eq!(times.len(), n, "no retries expected");
    // any 4 consecutive sends span at least the 2 s window
    for w in times.windows(4) {
        assert!(
            w[3] - w[0] + START_SLACK_NS >= 2_000_000_000,
            "4 sends within {} ms",
            (w[3] - w[0]) / 1_000_000
        );
    }
    let mut got = numbers(&gw.sent());
    got.sort();
    let want: Vec<String> = (0..n).map(|i| format!("+1415200050{i}")).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn a_failing_termux_sms_send_is_retried_then_gives_up_at_the_limit() {
    let gw = Gateway::start("");
    gw.control("fail_count", "2");
    assert_eq!(
        gw.send(&msg("flaky", "otp", "+14152000600", "retry me"))
            .await
            .0,
        202
    );
    wait_for(30, "flaky sent", || async {
        gw.status("flaky").await.unwrap().state == MessageState::Sent
    })
    .await;
    assert_eq!(gw.calls().len(), 3);
    assert_eq!(gw.sent().len(), 1);
    assert_eq!(gw.status("flaky").await.unwrap().attempts, 3);

    gw.control("fail_always", "");
    assert_eq!(
        gw.send(&msg("broken", "otp", "+14152000601", "never"))
            .await
            .0,
        202
    );
    wait_for(30, "broken failed", || async {
        gw.status("broken").await.unwrap().state == MessageState::Failed
    })
    .await;
    let st = gw.status("broken").await.unwrap();
    assert_eq!(
        (st.attempts, st.error.as_deref()),
        (4, Some("exit_status_1"))
    );
    assert_eq!(gw.calls().len(), 3 + 4);
    assert_eq!(gw.health().await.last_send, "failed");
}

#[tokio::test]
async fn kill_9_mid_queue_loses_no_acknowledged_message_and_sends_none_twice() {
    let mut gw = Gateway::start("");
    gw.control("sleep", "0.4");
    let n = 8;
    let ids: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(
            gw.send(&msg(id, "otp", &format!("+1415200070{i}"), "crash test"))
                .await
                .0,
            202
        );
    }
    // kill while the second send is running: it is 'sending' in the database and the fake is mid-call
    wait_for(30, "second send running", || async {
        gw.calls().len() == 2 && gw.sent().len() == 1
    })
    .await;
    gw.kill9_and_restart();
    gw.clear_control("sleep");

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let states = loop {
        let mut states = Vec::new();
        for id in &ids {
            states.push(gw.status(id).await.expect("acknowledged message lost"));
        }
        if states.iter().all(|s| s.state.is_final()) {
            break states;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all final: {states:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    // the interrupted call's fake finishes on its own; give it its sleep
    wait_for(10, "orphaned fake done", || async {
        gw.sent().len() == gw.calls().len()
    })
    .await;

    let calls = numbers(&gw.calls());
    for i in 0..n {
        let num = format!("+1415200070{i}");
        assert!(
            calls.iter().filter(|c| **c == num).count() <= 1,
            "{num} sent twice: {calls:?}"
        );
    }
    let uncertain: Vec<_> = states
        .iter()
        .filter(|s| s.state == MessageState::Failed)
        .collect();
    assert_eq!(uncertain.len(), 1, "{states:?}");
    assert_eq!(uncertain[0].id, "k1");
    assert_eq!(uncertain[0].error.as_deref(), Some("send_uncertain"));
    assert!(
        states
            .iter()
            .all(|s| s.state == MessageState::Sent || s.id == "k1"),
        "{states:?}"
    );
    assert_eq!(
        calls.len(),
        n,
        "each message called exactly once: {calls:?}"
    );
    assert!(gw.log().contains("send_uncertain"));
}

#[tokio::test]
async fn kill_switch_file_stops_sending_and_keeps_the_queue() {
    let gw = Gateway::start("");
    let stop = gw.dir.path().join("STOP"); // default: beside the database
    gw.control("sleep", "0.5");
    for i in 0..4 {
        assert_eq!(
            gw.send(&msg(
                &format!("f{i}"),
                "otp",
                &format!("+1415200080{i}"),
                "stop test"
            ))
            .await
            .0,
            202
        );
    }
    wait_for(10, "first send running", || async { gw.calls().len() == 1 }).await;
    std::fs::write(&stop, "").unwrap();
    let h = gw.health().await;
    assert!(
        h.kill_switch
            && h.kill_switch_reason
                .as_deref()
                .unwrap()
                .contains("file flag"),
        "{h:?}"
    );
    wait_for(10, "running send finished", || async {
        gw.sent().len() == 1
    })
    .await;
    // new sends are refused while stopped
    let (code, body) = gw.send(&msg("f9", "otp", "+14152000809", "refused")).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (503, Some("kill_switch"))
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        gw.calls().len(),
        1,
        "sent while the kill switch was engaged"
    );
    wait_for(10, "queue kept", || async {
        gw.health().await.queue_depth == 3
    })
    .await;

    std::fs::remove_file(&stop).unwrap();
    gw.clear_control("sleep");
    wait_for(30, "queue drained after release", || async {
        gw.sent().len() == 4
    })
    .await;
    assert!(!gw.health().await.kill_switch);
}

#[tokio::test]
async fn signed_kill_switch_command_stops_survives_restart_and_resumes() {
    let mut gw = Gateway::start("");
    gw.control("sleep", "0.5");
    for i in 0..3 {
        assert_eq!(
            gw.send(&msg(
                &format!("c{i}"),
                "otp",
                &format!("+1415200090{i}"),
                "cmd test"
            ))
            .await
            .0,
            202
        );
    }
    wait_for(10, "first send running", || async { gw.calls().len() == 1 }).await;
    let (code, body) = gw.kill_switch(true).await;
    assert_eq!(
        (code, body["engaged"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    wait_for(10, "running send finished", || async {
        gw.sent().len() == 1
    })
    .await;
    wait_for(10, "first marked sent", || async {
        gw.status("c0").await.unwrap().state == MessageState::Sent
    })
    .await;
    gw.restart();
    let h = gw.health().await;
    assert!(h.kill_switch, "kill switch lost on restart: {h:?}");
    assert!(h.kill_switch_reason.unwrap().contains("command"));
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(gw.calls().len(), 1);
    assert_eq!(gw.health().await.queue_depth, 2);

    gw.clear_control("sleep");
    let (code, body) = gw.kill_switch(false).await;
    assert_eq!(
        (code, body["engaged"].as_bool()),
        (200, Some(false)),
        "{body}"
    );
    wait_for(30, "queue drained after release", || async {
        gw.sent().len() == 3
    })
    .await;
}

#[tokio::test]
async fn consecutive_failures_trip_the_kill_switch_automatically() {
    let gw =
        Gateway::start("[sender]\nmax_attempts = 1\n[kill_switch]\nmax_consecutive_failures = 2\n");
    gw.control("fail_always", "");
    for i in 0..3 {
        assert_eq!(
            gw.send(&msg(
                &format!("a{i}"),
                "otp",
                &format!("+1415200100{i}"),
                "auto"
            ))
            .await
            .0,
            202
        );
    }
    wait_for(30, "auto trip", || async { gw.health().await.kill_switch }).await;
    let h = gw.health().await;
    assert!(
        h.kill_switch_reason
            .as_deref()
            .unwrap()
            .contains("consecutive"),
        "{h:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(gw.calls().len(), 2);
    assert_eq!(gw.status("a2").await.unwrap().state, MessageState::Queued);
}

#[tokio::test]
async fn send_rate_ceiling_trips_the_kill_switch() {
    let gw =
        Gateway::start("[pacing]\nper_sim_limit = 100\n[kill_switch]\nmax_sends_per_minute = 2\n");
    for i in 0..3 {
        assert_eq!(
            gw.send(&msg(
                &format!("r{i}"),
                "otp",
                &format!("+1415200110{i}"),
                "rate"
            ))
            .await
            .0,
            202
        );
    }
    wait_for(30, "rate trip", || async { gw.health().await.kill_switch }).await;
    assert!(gw
        .health()
        .await
        .kill_switch_reason
        .unwrap()
        .contains("per minute"));
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert_eq!(gw.calls().len(), 2);
}
