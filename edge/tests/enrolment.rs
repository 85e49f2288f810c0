//! Enrolment tokens natively against the emulator: revocations racing enrolments with one token
//! never let both take effect. All of them read the token before any commits (one task polls them
//! together), so only the version guard on each commit keeps a revocation from erasing an
//! enrolment that committed first, or an enrolment from spending a revoked token.

mod support;

use futures_util::future::{join, join_all};
use otp_edge::error::ErrorCode;
use otp_edge::native::NativePlatform;
use otp_edge::platform::Platform;
use otp_edge::service::app::App;
use otp_edge::service::ctx::Ctx;
use otp_edge::service::fleet::enrol;
use otp_shared::enrol::EnrolRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocations_racing_enrolments_with_one_token_never_both_take_effect() {
    let cfg = support::config(&support::unique("enrol-race"));
    let app = App::new(cfg.clone(), NativePlatform::new(&cfg));
    let ctx = Ctx::new(
        "req_race".into(),
        app.platform.now_ms(),
        "203.0.113.9".into(),
    );
    let (mut enrolled_rounds, mut revoked_rounds) = (0, 0);
    for round in 0..6 {
        let (token, _) =
            enrol::create_enrol_token(&app, &ctx, "op", None, format!("round {round}"), None)
                .await
                .unwrap();
        let sha = enrol::token_sha256(&token);
        let request = || EnrolRequest {
            token: token.clone(),
            ..Default::default()
        };
        let enrols = join_all((0..3).map(|_| enrol::enrol(&app, &ctx, request())));
        let revokes =
            join_all((0..3).map(|_| enrol::revoke_enrol_token(&app, &ctx, "op", &sha[..12])));
        let (enrols, revokes) = join(enrols, revokes).await;
        let stored = app
            .repo()
            .get_enrol_token(&sha)
            .await
            .unwrap()
            .unwrap()
            .value;
        let won: Vec<_> = enrols.iter().filter_map(|e| e.as_ref().ok()).collect();
        match won.as_slice() {
            [phone] => {
                // The phone has it: every revocation is refused, and the token says so.
                let refused: Vec<ErrorCode> = revokes
                    .iter()
                    .map(|r| r.as_ref().unwrap_err().code)
                    .collect();
                assert!(
                    refused.iter().all(|c| *c == ErrorCode::Conflict),
                    "{refused:?}"
                );
                assert!(stored.used_at.is_some() && stored.revoked_at.is_none());
                assert_eq!(stored.enrolled.as_deref(), Some(phone.gateway_id.as_str()));
                enrolled_rounds += 1;
            }
            [] => {
                // Revoked: no phone, and the enrolments say why.
                assert!(revokes.iter().all(Result::is_ok));
                assert!(stored.revoked_at.is_some() && stored.used_at.is_none());
                for e in &enrols {
                    let code = e.as_ref().unwrap_err().code;
                    assert!(
                        matches!(code, ErrorCode::EnrolTokenRevoked | ErrorCode::Conflict),
                        "{code:?}"
                    );
                }
                revoked_rounds += 1;
            }
            more => panic!("{} phones enrolled with one token", more.len()),
        }
    }
    println!("rounds enrolled: {enrolled_rounds}, revoked: {revoked_rounds}");
}
