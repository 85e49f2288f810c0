//! The fair share of a phone's pacing window, with the real binary: one tenant's flood cannot take
//! the window from another tenant's codes, a tenant over its share is refused `no_capacity` for
//! what it could not send in time, and OTPs still go before direct messages.

mod common;

use common::*;
use otp_shared::wire::{MessageState, SendRequest};

fn of(tenant: &str, m: SendRequest) -> SendRequest {
    SendRequest {
        tenant_id: tenant.into(),
        ..m
    }
}

/// Ten sends per ten minutes, one every 300 ms: OTPs living two minutes cannot wait for the
/// window to roll.
const TIGHT: &str = "[pacing]\nper_sim_limit = 10\nphone_limit = 10\nwindow_secs = 600\nmin_delay_ms = 300\njitter_ms = 0\n";

fn otp(tenant: &str, id: &str, to: &str) -> SendRequest {
    of(
        tenant,
        SendRequest {
            expires_at: now() + 120,
            ..msg(id, "otp", to, "code 123456")
        },
    )
}

#[tokio::test]
async fn a_flooding_tenant_leaves_room_for_another_tenants_codes() {
    let gw = Gateway::start(TIGHT);
    // Tenant A floods: 30 OTPs, then 30 direct messages (a day to live).
    let mut taken = 0;
    let mut refused = 0;
    for i in 0..30 {
        let (code, body) = gw
            .send(&otp(
                "t_flood",
                &format!("a{i}"),
                &format!("+1415201{i:04}"),
            ))
            .await;
        match (code, body["error"]["code"].as_str()) {
            (202, _) => taken += 1,
            (503, Some("no_capacity")) => refused += 1,
            other => panic!("{other:?} {body}"),
        }
    }
    // A may use 8 of the 10 places (80%): its OTPs beyond that are refused at once (the edge
    // tries another phone), not queued to expire.
    assert_eq!((taken, refused), (8, 22));
    for i in 0..30 {
        let direct = SendRequest {
            expires_at: now() + 86_400,
            ..of(
                "t_flood",
                msg(
                    &format!("d{i}"),
                    "direct",
                    &format!("+1415200{i:04}"),
                    "promo",
                ),
            )
        };
        assert_eq!(gw.send(&direct).await.0, 202);
    }
    // Tenant B's codes arrive during the flood: each is taken and sent at once.
    for i in 0..2 {
        let (code, body) = gw
            .send(&otp(
                "t_quiet",
                &format!("b{i}"),
                &format!("+1415202{i:04}"),
            ))
            .await;
        assert_eq!(code, 202, "{body}");
    }
    wait_for(20, "both of B's codes sent", || async {
        for id in ["b0", "b1"] {
            if gw.status(id).await.unwrap().state != MessageState::Sent {
                return false;
            }
        }
        true
    })
    .await;
    // The window is spent: A's 8 OTPs and B's 2; A's direct messages wait for it to roll.
    wait_for(20, "ten sends", || async { gw.sent().len() == 10 }).await;
    let sent = numbers(&gw.sent());
    assert!(
        sent.iter().all(|n| !n.starts_with("+1415200")),
        "a direct message went out of A's share: {sent:?}"
    );
    assert_eq!(gw.status("d0").await.unwrap().state, MessageState::Queued);
}

#[tokio::test]
async fn a_quiet_tenant_goes_before_a_busy_one_in_the_queue() {
    // One send every 400 ms, window wide open: only the order matters here.
    let gw = Gateway::start(
        "[pacing]\nper_sim_limit = 1000\nphone_limit = 1000\nwindow_secs = 600\nmin_delay_ms = 400\njitter_ms = 0\n",
    );
    for i in 0..12 {
        let (code, _) = gw
            .send(&otp("t_busy", &format!("a{i}"), &format!("+1415203{i:04}")))
            .await;
        assert_eq!(code, 202);
    }
    // Once the busy tenant is under way, the quiet one's code is queued behind nine of its.
    wait_for(10, "busy tenant sending", || async { gw.sent().len() >= 2 }).await;
    assert_eq!(gw.send(&otp("t_quiet", "q0", "+14152049999")).await.0, 202);
    wait_for(20, "quiet code sent", || async {
        gw.status("q0").await.unwrap().state == MessageState::Sent
    })
    .await;
    let order = numbers(&gw.sent());
    let at = order.iter().position(|n| n == "+14152049999").unwrap();
    // It went next (or the one after, if a send was starting as it came), not after the queue.
    assert!(at <= 4, "quiet tenant's code was number {at} in {order:?}");
}
