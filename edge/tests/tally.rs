//! The counts of sends and checks are durable before their answers (`usage::tally_now`): each
//! call hands them over itself. Natively over the real emulator. (A group commit across the
//! requests of an isolate is not possible on Workers: a request that waits on a promise another
//! request resolves is cancelled as hung, so each request makes its own call.)

mod support;

use std::sync::atomic::Ordering::Relaxed;

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
