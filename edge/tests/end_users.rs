//! End-user counts natively against the emulator: several isolates seeing the same number's
//! verification at once count it once per period (its marker's commit is guarded by the version
//! read, and carries the increments), and a later day counts it again as returning, not new.

mod support;

use futures_util::future::join_all;
use otp_edge::native::NativePlatform;
use otp_edge::platform::Platform;
use otp_edge::service::app::App;
use otp_edge::service::ops::analytics::Granularity;
use otp_edge::service::ops::end_users::{self, PERIODS};
use serde_json::Value;

async fn figures(app: &App<NativePlatform>, at: i64) -> Vec<(i64, i64)> {
    let periods: Vec<String> = PERIODS.iter().map(|g| g.period(at)).collect();
    app.repo()
        .counter_totals("t_race", &periods)
        .await
        .unwrap()
        .into_iter()
        .map(|m| {
            let n = |k: &str| m.get(k).and_then(Value::as_i64).unwrap_or(0);
            (n("users_active"), n("users_new"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_verifications_count_a_number_once_per_period() {
    let cfg = support::config("end-users-race");
    let app = App::new(cfg.clone(), NativePlatform::new(&cfg));
    let now = app.platform.now_ms();
    let tenant: otp_shared::ids::TenantId = "t_race".into();
    // Eight isolates see the first verification of one number at once.
    join_all((0..8).map(|_| end_users::seen(&app, &tenant, "slot0123456789abcdef", now))).await;
    // Day, week and month: one active, one new.
    assert_eq!(figures(&app, now).await, vec![(1, 1); 3]);

    // Eight more the next day... and a second number the same day, once.
    let next_day = now + 86_400_000;
    let racers = (0..8).map(|_| end_users::seen(&app, &tenant, "slot0123456789abcdef", next_day));
    let other = end_users::seen(&app, &tenant, "slotzzzzzzzzzzzzzzzz", next_day);
    futures_util::future::join(join_all(racers), other).await;
    let day = figures(&app, next_day).await[0];
    assert_eq!(day, (2, 1), "two active that day: one returning, one new");
    // The week and month holding both days: each number active once, both new once.
    if Granularity::Week.period(now) == Granularity::Week.period(next_day) {
        assert_eq!(figures(&app, next_day).await[1], (2, 2));
    }
    if Granularity::Month.period(now) == Granularity::Month.period(next_day) {
        assert_eq!(figures(&app, next_day).await[2], (2, 2));
    }
}
