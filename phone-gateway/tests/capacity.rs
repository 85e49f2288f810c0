//! The phone's capacity (pacing, fair share, SIM budgets) under its one lock, driven through the
//! sender's own steps on a real store: a send is charged when it begins, and given back when it
//! does not, as when the edge's cancel wins the race for the row between the pick and the start.

mod common;

use common::msg;
use otp_shared::wire::MessageState;
use phone_gateway::app::App;
use phone_gateway::capacity::Next;
use phone_gateway::{sender, unix_ms, unix_now};

/// One send per window on the phone's one SIM, daily and monthly caps on: any charge left behind
/// shows as a closed window or a spent budget.
fn app(dir: &tempfile::TempDir) -> App {
    let toml = format!(
        "gateway_id = \"phone-1\"\nsecret = \"{}\"\ndb = \"{}\"\n\
         [pacing]\nper_sim_limit = 1\nphone_limit = 1\nwindow_secs = 3600\nmin_delay_ms = 0\njitter_ms = 0\n\
         [budget]\ndaily_limit = 5\nmonthly_recipients = 5\n",
        "s".repeat(40),
        dir.path().join("queue.db").display()
    );
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, toml).unwrap();
    let cfg = phone_gateway::config::load(Some(&path), |_| None).expect("config");
    App::open(cfg).expect("app")
}

/// The next message the sender would send now, with its SIM and recipient tag.
async fn pick(app: &App) -> Option<(phone_gateway::store::Queued, Option<u8>, String)> {
    let now_ms = unix_ms();
    let heads = app
        .store
        .call(move |s| s.ready_heads(now_ms))
        .await
        .unwrap();
    let next = app
        .capacity
        .lock()
        .unwrap()
        .next(heads, &app.recipient_key, now_ms, |_, _| false);
    match next {
        Next::Send { msg, sim, tag } => Some((*msg, sim, tag)),
        _ => None,
    }
}

/// (pacing window used, the tenant's share used, the SIM's sends today, its recipients this plan period)
fn charged(app: &App, tenant: &str) -> (u32, u32, u32, u32) {
    let now = unix_ms();
    let mut c = app.capacity.lock().unwrap();
    let health = c.budgets.health(None, now);
    (
        c.pacer.used(now),
        c.fair.used(tenant, now),
        health.daily_used,
        health.monthly_recipients_used,
    )
}

#[tokio::test]
async fn a_cancel_that_wins_the_race_leaves_no_charge_behind() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir);
    let first = msg("m1", "otp", "+14155550101", "code one");
    app.store
        .call(move |s| s.enqueue(&first, unix_now()))
        .await
        .unwrap();
    let (m, sim, tag) = pick(&app).await.expect("m1 may go now");
    assert_eq!(m.id, "m1");
    // The edge cancels it after the sender picked it and before the send began.
    let canceled = app
        .store
        .call(|s| s.cancel("m1", unix_now()))
        .await
        .unwrap();
    assert_eq!(canceled, Some((true, MessageState::Failed)));
    let begun = sender::begin(&app, &m, sim, &tag, unix_ms()).await.unwrap();
    assert!(begun.is_none(), "a canceled message does not begin");
    assert_eq!(
        charged(&app, "t_test"),
        (0, 0, 0, 0),
        "nothing stays charged"
    );
    // The window it would have used is open: the next message goes at once, and is charged.
    let second = msg("m2", "otp", "+14155550102", "code two");
    app.store
        .call(move |s| s.enqueue(&second, unix_now()))
        .await
        .unwrap();
    let (m, sim, tag) = pick(&app).await.expect("the window is still free");
    assert_eq!(m.id, "m2");
    let started = sender::begin(&app, &m, sim, &tag, unix_ms())
        .await
        .unwrap()
        .expect("m2 begins");
    assert_eq!(started.attempts, 1);
    assert_eq!(charged(&app, "t_test"), (1, 1, 1, 1));
    // That one send fills the one-per-window pacing: nothing else may go now.
    let third = msg("m3", "otp", "+14155550103", "code three");
    app.store
        .call(move |s| s.enqueue(&third, unix_now()))
        .await
        .unwrap();
    assert!(pick(&app).await.is_none(), "the window is spent");
}

#[tokio::test]
async fn a_charge_is_given_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let app = app(&dir);
    let now = unix_ms();
    let charge = app
        .capacity
        .lock()
        .unwrap()
        .charge("t_a", None, "tag-1", now, 0);
    assert!(charge.counted.new_recipient);
    assert_eq!(charged(&app, "t_a"), (1, 1, 1, 1));
    app.capacity.lock().unwrap().refund(&charge);
    assert_eq!(charged(&app, "t_a"), (0, 0, 0, 0));
    // A recipient already counted this period stays counted when a second send to it is refunded.
    let kept = app
        .capacity
        .lock()
        .unwrap()
        .charge("t_a", None, "tag-1", now, 0);
    let again = app
        .capacity
        .lock()
        .unwrap()
        .charge("t_a", None, "tag-1", now + 1, 0);
    assert!(kept.counted.new_recipient && !again.counted.new_recipient);
    app.capacity.lock().unwrap().refund(&again);
    assert_eq!(charged(&app, "t_a"), (1, 1, 1, 1));
}
