//! Fleet reliability on one phone, against the real binary with Termux:API stand-ins: SIM budgets
//! (daily cap, distinct recipients per plan period, durable across restarts), failures classified
//! from what `termux-sms-send` prints (a limit rests the SIM and traffic moves to the other one; a
//! run of generic failures rests it; the Play Store build's refusal is no send), deadlines, the
//! edge's cancel, and the device health the edge routes by.

mod common;

use common::*;
use otp_shared::wire::{self, FailureClass, MessageState};

const TWO_SIMS: &str = "[sender]\nsim_slots = [0, 1]\n";

async fn wait_final(gw: &Gateway, id: &str) -> otp_shared::wire::StatusReport {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let st = gw.status(id).await.unwrap();
        if st.state.is_final() {
            return st;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{id} not final: {st:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn to(i: u32) -> String {
    format!("+1415300{i:04}")
}

#[tokio::test]
async fn a_sim_at_its_daily_cap_is_passed_over_and_then_the_phone_says_no_capacity() {
    let mut gw = Gateway::start(&format!(
        "{TWO_SIMS}[[budget.sims]]\nslot = 0\ndaily_limit = 2\n[[budget.sims]]\nslot = 1\ndaily_limit = 1\n"
    ));
    for i in 0..3 {
        let (code, body) = gw
            .send(&msg(&format!("d{i}"), "otp", &to(i), "daily"))
            .await;
        assert_eq!(code, 202, "{body}");
        wait_final(&gw, &format!("d{i}")).await;
    }
    let mut used = slots(&gw.sent());
    used.sort();
    assert_eq!(used, [Some(0), Some(0), Some(1)]);
    let (code, body) = gw.send(&msg("d3", "otp", &to(3), "over")).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (503, Some("no_capacity"))
    );
    let sims = gw.health().await.sims;
    assert_eq!(
        sims.iter()
            .map(|s| (s.slot, s.daily_used, s.daily_limit))
            .collect::<Vec<_>>(),
        [(Some(0), 2, Some(2)), (Some(1), 1, Some(1))]
    );
    assert!(sims.iter().all(|s| s.at_limit() && s.day_resets_at > now()));
    // The counts are durable: a restart does not reopen the day.
    gw.restart();
    let (code, _) = gw.send(&msg("d4", "otp", &to(4), "over")).await;
    assert_eq!(code, 503);
    assert_eq!(gw.calls().len(), 3);
}

#[tokio::test]
async fn the_distinct_recipient_cap_refuses_new_numbers_and_keeps_serving_known_ones() {
    let mut gw = Gateway::start("[budget]\nmonthly_recipients = 2\nplan_reset_day = 1\n");
    for (id, n) in [("a1", 1), ("b1", 2), ("a2", 1)] {
        assert_eq!(gw.send(&msg(id, "otp", &to(n), "month")).await.0, 202);
        wait_final(&gw, id).await;
    }
    let (code, body) = gw.send(&msg("c1", "otp", &to(3), "new number")).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (503, Some("no_capacity"))
    );
    let sim = gw.health().await.sims[0].clone();
    assert_eq!(
        (sim.monthly_recipients_used, sim.monthly_recipients_limit),
        (2, Some(2))
    );
    assert!(sim.plan_resets_at > now());
    gw.restart();
    assert_eq!(
        gw.send(&msg("c2", "otp", &to(3), "new number")).await.0,
        503
    );
    assert_eq!(gw.send(&msg("a3", "otp", &to(1), "known")).await.0, 202);
    wait_final(&gw, "a3").await;
    assert_eq!(numbers(&gw.sent()), [to(1), to(2), to(1), to(1)]);
    // Only keyed hashes of the recipients are kept, never the numbers.
    let db = std::fs::read(gw.dir.path().join("gw.db")).unwrap();
    let digits = to(3).into_bytes();
    assert!(!db.windows(digits.len()).any(|w| w == digits.as_slice()));
}

#[tokio::test]
async fn limit_exceeded_rests_the_sim_and_traffic_moves_to_the_other_sim() {
    let gw = Gateway::start(TWO_SIMS);
    gw.control("fail_with_slot_0", "RESULT_ERROR_LIMIT_EXCEEDED");
    for i in 0..4 {
        assert_eq!(
            gw.send(&msg(&format!("l{i}"), "otp", &to(i), "limit"))
                .await
                .0,
            202
        );
    }
    for i in 0..4 {
        let st = wait_final(&gw, &format!("l{i}")).await;
        assert_eq!(st.state, MessageState::Sent, "l{i}: {st:?}");
    }
    // One attempt on SIM 0, which then rests; everything went out on SIM 1.
    assert_eq!(
        slots(&gw.calls()).iter().filter(|s| **s == Some(0)).count(),
        1
    );
    assert_eq!(slots(&gw.sent()), [Some(1); 4]);
    let h = gw.health().await;
    let sim0 = &h.sims[0];
    assert_eq!(sim0.rest_reason, Some(FailureClass::LimitExceeded));
    assert!(sim0.resting_until.unwrap() > now() + 1700);
    assert!(!h.kill_switch, "a SIM's limit does not stop the phone");
}

#[tokio::test]
async fn three_generic_failures_in_a_row_rest_the_sim_and_the_message_fails_with_its_class() {
    let gw = Gateway::start("");
    gw.control("fail_with", "RESULT_ERROR_GENERIC_FAILURE");
    assert_eq!(gw.send(&msg("g1", "otp", &to(1), "credit?")).await.0, 202);
    let st = wait_final(&gw, "g1").await;
    // max_attempts is 4, but the third failure rested the only SIM: no retry could go in time.
    assert_eq!(
        (st.state, st.attempts, st.class, st.error.as_deref()),
        (
            MessageState::Failed,
            3,
            Some(FailureClass::GenericFailure),
            Some("generic_failure")
        )
    );
    let h = gw.health().await;
    assert_eq!(h.sims[0].rest_reason, Some(FailureClass::GenericFailure));
    assert_eq!(h.sims[0].generic_failures, 3);
    assert_eq!(h.recent_sends.unwrap().consecutive_failures, 3);
    // While it rests the phone takes nothing it could not send: the edge goes elsewhere.
    let (code, body) = gw.send(&msg("g2", "otp", &to(2), "next")).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (503, Some("no_capacity"))
    );
}

#[tokio::test]
async fn a_limit_on_the_only_sim_fails_the_message_at_once_and_the_queue_behind_it_too() {
    let gw = Gateway::start("");
    gw.control("fail_with", "RESULT_ERROR_LIMIT_EXCEEDED");
    gw.control("sleep", "0.5");
    assert_eq!(gw.send(&msg("x1", "otp", &to(1), "first")).await.0, 202);
    wait_for(10, "first attempt running", || async {
        !gw.calls().is_empty()
    })
    .await;
    assert_eq!(gw.send(&msg("x2", "otp", &to(2), "behind")).await.0, 202);
    let first = wait_final(&gw, "x1").await;
    assert_eq!(
        (first.attempts, first.class),
        (1, Some(FailureClass::LimitExceeded))
    );
    let behind = wait_final(&gw, "x2").await;
    assert_eq!(
        (behind.state, behind.attempts, behind.class),
        (MessageState::Failed, 0, Some(FailureClass::NoCapacity))
    );
    assert_eq!(gw.calls().len(), 1);
}

#[tokio::test]
async fn no_service_is_retried_then_reported_with_its_class() {
    let gw = Gateway::start("");
    gw.control("fail_with", "RESULT_ERROR_NO_SERVICE");
    assert_eq!(gw.send(&msg("n1", "otp", &to(1), "radio")).await.0, 202);
    let st = wait_final(&gw, "n1").await;
    assert_eq!((st.attempts, st.class), (4, Some(FailureClass::NoService)));
    assert!(gw.health().await.sims[0].resting_until.is_none());
}

#[tokio::test]
async fn a_play_store_termux_api_that_prints_an_error_is_a_failure_not_a_send() {
    let gw = Gateway::start("");
    gw.control(
        "stdout",
        r#"{"error":"Sending SMS is no longer permitted by Google"}"#,
    );
    assert_eq!(gw.send(&msg("p1", "otp", &to(1), "play")).await.0, 202);
    let st = wait_final(&gw, "p1").await;
    assert_eq!(
        (st.state, st.attempts, st.class),
        (MessageState::Failed, 1, Some(FailureClass::NotPermitted))
    );
    assert!(gw.sent().is_empty());
    assert_eq!(gw.health().await.last_send, "failed");
}

#[tokio::test]
async fn a_message_past_its_deadline_is_never_sent() {
    let gw = Gateway::start("");
    gw.control("sleep", "3");
    assert_eq!(gw.send(&msg("slow", "otp", &to(1), "slow")).await.0, 202);
    wait_for(10, "the slow send running", || async {
        !gw.calls().is_empty()
    })
    .await;
    let mut late = msg("late", "otp", &to(2), "must not go late");
    late.expires_at = now() + 2;
    assert_eq!(gw.send(&late).await.0, 202);
    let st = wait_final(&gw, "late").await;
    assert_eq!((st.state, st.attempts), (MessageState::Expired, 0));
    assert_eq!(numbers(&gw.calls()), [to(1)]);
}

#[tokio::test]
async fn cancel_takes_back_a_message_not_yet_started_and_never_one_being_sent() {
    let gw = Gateway::start("");
    gw.control("sleep", "2");
    assert_eq!(gw.send(&msg("busy", "otp", &to(1), "busy")).await.0, 202);
    wait_for(10, "busy is sending", || async { !gw.calls().is_empty() }).await;
    assert_eq!(
        gw.send(&msg("waiting", "otp", &to(2), "waiting")).await.0,
        202
    );
    let (code, body) = gw.cancel("waiting").await;
    assert_eq!(
        (code, body["canceled"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    let (code, body) = gw.cancel("busy").await;
    assert_eq!(
        (code, body["canceled"].as_bool(), body["state"].as_str()),
        (200, Some(false), Some("sending"))
    );
    assert_eq!(gw.cancel("nope").await.0, 404);
    let st = wait_final(&gw, "waiting").await;
    assert_eq!(st.class, Some(FailureClass::Canceled));
    assert_eq!(wait_final(&gw, "busy").await.state, MessageState::Sent);
    assert_eq!(numbers(&gw.calls()), [to(1)]);
}

#[tokio::test]
async fn a_held_message_goes_only_once_released_and_a_fenced_id_never() {
    let gw = Gateway::start("");
    let held = msg("held", "otp", &to(1), "held");
    let (code, body) = gw
        .signed(
            "POST",
            wire::PATH_SEND_HELD,
            Some(&serde_json::to_vec(&held).unwrap()),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let st = gw.status("held").await.unwrap();
    assert_eq!(
        (st.state, st.error.as_deref()),
        (MessageState::Queued, Some(wire::ERR_HELD))
    );
    // Held: a message behind it goes, it does not.
    assert_eq!(gw.send(&msg("after", "otp", &to(2), "after")).await.0, 202);
    wait_final(&gw, "after").await;
    assert_eq!(numbers(&gw.calls()), [to(2)]);
    let (code, body) = gw.signed("POST", &wire::release_path("held"), None).await;
    assert_eq!(
        (code, body["released"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    assert_eq!(wait_final(&gw, "held").await.state, MessageState::Sent);
    assert_eq!(numbers(&gw.calls()), [to(2), to(1)]);
    assert_eq!(
        gw.signed("POST", &wire::release_path("nope"), None).await.0,
        404
    );

    // A fence: the phone's state of a message it has; an unknown id is fenced off for good.
    let (code, body) = gw.signed("POST", &wire::fence_path("held"), None).await;
    assert_eq!(
        (code, body["state"].as_str()),
        (200, Some("sent")),
        "{body}"
    );
    let (code, body) = gw.signed("POST", &wire::fence_path("late"), None).await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (410, Some("fenced")),
        "{body}"
    );
    let (code, body) = gw.send(&msg("late", "otp", &to(3), "late")).await;
    assert_eq!(
        (code, body["duplicate"].as_bool(), body["state"].as_str()),
        (202, Some(true), Some("failed")),
        "{body}"
    );
    assert_eq!(gw.health().await.duplicates, 1);
    assert_eq!(
        numbers(&gw.calls()),
        [to(2), to(1)],
        "the fenced id never went"
    );
}

#[tokio::test]
async fn health_reports_battery_signal_storage_sims_and_recent_sends() {
    let gw = Gateway::start(TWO_SIMS);
    gw.control(
        "battery.json",
        r#"{"health":"GOOD","percentage":8,"plugged":"UNPLUGGED","status":"DISCHARGING"}"#,
    );
    gw.control(
        "cellinfo.json",
        r#"[{"type":"lte","registered":false,"level":4}]"#,
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let device = loop {
        let d = gw.health().await.device;
        if d.as_ref().is_some_and(|d| d.battery_percent == Some(8)) {
            break d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no low-battery reading: {d:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let d = device.unwrap();
    assert_eq!(d.charging, Some(false));
    assert_eq!(d.signal_level, Some(0), "no registered cell is no signal");
    assert_eq!(
        (d.network_type.as_deref(), d.sim_state.as_deref()),
        (Some("lte"), Some("ready"))
    );
    assert!(d.free_storage_mb.unwrap() > 0);
    gw.control("fail_with_slot_0", "RESULT_ERROR_GENERIC_FAILURE");
    assert_eq!(gw.send(&msg("h1", "otp", &to(1), "h")).await.0, 202);
    wait_final(&gw, "h1").await;
    let h = gw.health().await;
    let recent = h.recent_sends.unwrap();
    assert_eq!(
        (recent.attempts, recent.failed, recent.consecutive_failures),
        (2, 1, 0)
    );
    assert_eq!(
        h.sims.iter().map(|s| s.slot).collect::<Vec<_>>(),
        [Some(0), Some(1)]
    );
    assert_eq!(h.sims[0].generic_failures, 1);
    assert_eq!(h.sims[1].window_used, 1);
}
