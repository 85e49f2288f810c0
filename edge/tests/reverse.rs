//! Reverse verification natively over the real emulator: two SMS carrying the words, forwarded at
//! the same moment, approve the verification once (the approval is guarded by the version read);
//! the loser is kept as a plain SMS. The end-to-end cases run through the real gateway in
//! `tests/e2e/test_reverse.py`.

mod support;

use otp_edge::config::Config;
use otp_edge::native::NativePlatform;
use otp_edge::platform::Platform;
use otp_edge::service::app::App;
use otp_edge::service::ctx::{Ctx, FirstCommit};
use otp_edge::service::messaging::inbound;
use otp_edge::service::model::{Tenant, VerificationStatus};
use otp_edge::service::otp::reverse;
use otp_shared::phone::Phone;
use otp_shared::wire::InboundSms;

const SECRET_1: &str = "reverse-secret-one-0123456789abcdefghijklm";
const SECRET_2: &str = "reverse-secret-two-0123456789abcdefghijklm";

fn app() -> App<NativePlatform> {
    let (host, project) = (support::emulator().to_string(), support::unique("reverse"));
    let cfg = Config::from_lookup(move |k| match k {
        "OTP_HMAC_SECRET" => Some("test-secret-0123456789-abcdefghijklmnop".into()),
        "FIRESTORE_EMULATOR_HOST" => Some(host.clone()),
        "FIRESTORE_PROJECT" => Some(project.clone()),
        "FLEET_CACHE_MS" => Some("0".into()),
        "CANARY_INTERVAL_MIN" => Some("0".into()),
        "GATEWAYS" => Some(
            r#"[{"id":"phone-1","url":"http://127.0.0.1:9","numbers":{"default":"+14155550101"}},
                {"id":"phone-2","url":"http://127.0.0.1:9","numbers":{"default":"+447911123456"}}]"#
                .into(),
        ),
        "GATEWAY_SECRETS" => Some(format!(
            r#"{{"phone-1":"{SECRET_1}","phone-2":"{SECRET_2}"}}"#
        )),
        _ => None,
    })
    .unwrap();
    let platform = NativePlatform::new(&cfg);
    App::new(cfg, platform)
}

fn ctx(app: &App<NativePlatform>, id: &str) -> Ctx {
    Ctx::new(id.into(), app.platform.now_ms(), "127.0.0.1".into())
}

fn sms(seq: u64, from: &str, text: &str) -> InboundSms {
    InboundSms {
        seq,
        from: from.into(),
        text: text.into(),
        received_at: 1_764_064_800,
        sms_id: seq as i64,
    }
}

#[tokio::test]
async fn two_texts_at_once_approve_once_and_the_other_is_kept_as_a_plain_sms() {
    let app = app();
    let tenant = Tenant::new(
        format!("t_{}", support::unique("rv").replace('-', "")),
        "Reverse".into(),
        0,
    );
    let user = Phone::parse("+14155550188").unwrap();
    let start = ctx(&app, "req_start");
    let started = reverse::start(&app, &start, &tenant, &user, &FirstCommit::of(&start))
        .await
        .unwrap();
    // A US number is given the US phone of the pool.
    let target = started.verification.reverse.clone().unwrap();
    assert_eq!(
        (target.gateway_id.as_str(), target.number.as_str()),
        ("phone-1", "+14155550101")
    );
    let shouted = started.text.to_uppercase();
    let (c1, c2) = (ctx(&app, "req_in_1"), ctx(&app, "req_in_2"));
    let (s1, s2) = (
        sms(1, user.as_str(), &started.text),
        sms(2, user.as_str(), &shouted),
    );
    let phone: otp_shared::ids::GatewayId = "phone-1".into();
    let (a, b) = tokio::join!(
        inbound::receive_inbound(&app, &c1, &phone, &s1),
        inbound::receive_inbound(&app, &c2, &phone, &s2),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(!a.duplicate && !b.duplicate, "{a:?} {b:?}");
    let approving: Vec<_> = [&a, &b]
        .into_iter()
        .filter(|r| r.tenant_id.as_deref() == Some(tenant.id.as_str()))
        .collect();
    assert_eq!(approving.len(), 1, "one approval: {a:?} {b:?}");
    let slot = app.secrets.verification_slot(&tenant.id, user.as_str());
    let (v, _) = app.repo().get_verification(&slot).await.unwrap().unwrap();
    assert_eq!((v.status, v.checks), (VerificationStatus::Approved, 1));
    assert_eq!(v.id, started.verification.id);
    // The words are nowhere in clear: not on the verification, not in the pointer's key.
    // (A single list word may occur by chance inside a field name or a hash: what is checked is
    // the words together, as said or normalised, and each word as a value of its own.)
    let stored = serde_json::to_string(&v).unwrap();
    let joined: String = started.text.split_whitespace().collect();
    assert!(
        !stored.contains(&started.text),
        "the words stored in {stored}"
    );
    assert!(
        !stored.to_lowercase().contains(&joined.to_lowercase()),
        "the words stored in {stored}"
    );
    for w in started.text.split_whitespace() {
        assert!(
            !stored.contains(&format!("\"{w}\"")),
            "{w} stored in {stored}"
        );
    }
    // The same text once more (a new SMS) approves nothing and is kept as a plain SMS.
    let again = inbound::receive_inbound(
        &app,
        &ctx(&app, "req_in_3"),
        &"phone-1".into(),
        &sms(3, user.as_str(), &started.text),
    )
    .await
    .unwrap();
    assert_eq!((again.duplicate, again.tenant_id), (false, None));
}
