//! The counts of sends and checks are durable before their answers (`usage::tally_now`), and
//! concurrent requests of one isolate share the hand-over (a group commit): no count lost, one
//! call for every request that waited. Natively over the real emulator.

mod support;

use std::sync::atomic::Ordering::Relaxed;

use futures_util::future::join_all;
use otp_edge::native::NativePlatform;
use otp_edge::platform::Platform;
use otp_edge::service::app::App;
use otp_edge::service::ops::usage;
use otp_edge::service::repo::Repo;
use otp_edge::store::Firestore;

fn setup() -> (App<NativePlatform>, Firestore, u32) {
    let cfg = support::config(&support::unique("tally"));
    let db = Firestore::new(&cfg);
    (
        App::new(cfg.clone(), NativePlatform::new(&cfg)),
        db,
        cfg.quota_shards,
    )
}

async fn sent_today(app: &App<NativePlatform>, db: &Firestore, shards: u32, tenant: &str) -> i64 {
    let now = app.platform.now_ms();
    let totals = Repo::new(db, &app.platform.http, now, shards)
        .event_totals(tenant, now)
        .await
        .unwrap();
    totals["events"]["otp_sent"].as_i64().unwrap_or(0)
}

#[tokio::test]
async fn each_request_alone_hands_its_counts_over_before_it_returns() {
    let (app, db, shards) = setup();
    let tenant = support::unique("t");
    let items = vec![(tenant.clone(), "otp_sent".to_string())];
    for n in 1..=3 {
        usage::tally_now(&app, &items, app.platform.now_ms()).await;
        assert_eq!(sent_today(&app, &db, shards, &tenant).await, n);
    }
    assert_eq!(app.platform.tallies.load(Relaxed), 3);
}

#[tokio::test]
async fn concurrent_requests_share_one_hand_over_and_lose_no_count() {
    let (app, db, shards) = setup();
    let tenant = support::unique("t");
    let items = vec![(tenant.clone(), "otp_sent".to_string())];
    let now = app.platform.now_ms();
    join_all((0..20).map(|_| usage::tally_now(&app, &items, now))).await;
    // The first request hands over its own count; the 19 that arrived meanwhile share the next call.
    assert_eq!(app.platform.tallies.load(Relaxed), 2);
    assert_eq!(sent_today(&app, &db, shards, &tenant).await, 20);
}
