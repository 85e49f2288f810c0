//! Authentication natively over the real emulator: failed key lookups from one address are limited
//! before any read, a repeated bad key costs nothing, and a malformed key never counts.

mod support;

use otp_edge::config::Config;
use otp_edge::error::ErrorCode;
use otp_edge::native::NativePlatform;
use otp_edge::platform::Platform;
use otp_edge::service::app::App;
use otp_edge::service::ctx::Ctx;
use otp_edge::service::tenants::auth;

fn app(limit: u32) -> App<NativePlatform> {
    let (host, project) = (support::emulator().to_string(), support::unique("auth"));
    let cfg = Config::from_lookup(move |k| match k {
        "OTP_HMAC_SECRET" => Some("test-secret-0123456789-abcdefghijklmnop".into()),
        "FIRESTORE_EMULATOR_HOST" => Some(host.clone()),
        "FIRESTORE_PROJECT" => Some(project.clone()),
        "AUTH_FAILURES_PER_MINUTE" => Some(limit.to_string()),
        // The repeats below must fall inside one cached answer whatever the machine's speed
        // (the default 2 s was outrun under load): the rule tested is the cache, not its length.
        "AUTH_CACHE_MS" => Some("60000".into()),
        _ => None,
    })
    .unwrap();
    let platform = NativePlatform::new(&cfg);
    App::new(cfg, platform)
}

fn fake_key(i: usize) -> String {
    let p = "abcdefghjkmn";
    format!("otp_sk_{}{}_{}", &p[i % 12..], &p[..i % 12], "A".repeat(43))
}

#[tokio::test]
async fn failed_lookups_are_limited_per_address_before_any_read() {
    let app = app(3);
    let ctx = |ip: &str| Ctx::new("req_auth".into(), app.platform.now_ms(), ip.into());
    let mut codes = Vec::new();
    for i in 0..6 {
        codes.push(
            auth::authenticate(&app, &fake_key(i), &ctx("10.0.0.1"))
                .await
                .unwrap_err()
                .code,
        );
    }
    assert_eq!(&codes[..3], &[ErrorCode::Unauthorized; 3], "{codes:?}");
    assert_eq!(&codes[3..], &[ErrorCode::RateLimited; 3], "{codes:?}");
    // Another address is not affected.
    let e = auth::authenticate(&app, &fake_key(7), &ctx("10.0.0.2"))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthorized);
}

#[tokio::test]
async fn a_repeated_bad_key_or_a_malformed_one_is_not_counted() {
    let app = app(2);
    let ctx = || Ctx::new("req_auth".into(), app.platform.now_ms(), "10.0.0.3".into());
    for _ in 0..5 {
        let e = auth::authenticate(&app, &fake_key(1), &ctx())
            .await
            .unwrap_err();
        assert_eq!(
            e.code,
            ErrorCode::Unauthorized,
            "the cached answer is repeated, not counted"
        );
    }
    for _ in 0..5 {
        let e = auth::authenticate(&app, "otp_sk_x/../_y", &ctx())
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Unauthorized);
    }
    assert_eq!(
        auth::authenticate(&app, &fake_key(2), &ctx())
            .await
            .unwrap_err()
            .code,
        ErrorCode::Unauthorized
    );
    assert_eq!(
        auth::authenticate(&app, &fake_key(3), &ctx())
            .await
            .unwrap_err()
            .code,
        ErrorCode::RateLimited
    );
}
