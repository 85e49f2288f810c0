use super::*;
use hmac::Mac;
use sha2::Digest;

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const NOW: u64 = 1_764_000_000;
const GW: &str = "phone-1";

fn route<'a>(method: &'a str, path: &'a str) -> Route<'a> {
    Route::new(method, path, GW)
}

fn keys() -> Keys {
    Keys::from_secret(SECRET).unwrap()
}

fn sample() -> SendRequest {
    SendRequest {
        id: "msg_1".into(),
        kind: MessageKind::Otp,
        to: "+14155550123".into(),
        text: "Your code is 123456".into(),
        expires_at: NOW + 300,
        sim_slot: None,
        tenant_id: "t_abc".into(),
        request_id: "req_1".into(),
        share_weight: None,
    }
}

fn sealed() -> SealedRequest {
    seal_json(
        &keys(),
        route("POST", PATH_SEND),
        NOW,
        [7; 16],
        [9; 12],
        &sample(),
    )
}

fn lookup<'a>(req: &'a SealedRequest) -> impl Fn(&str) -> Option<&'a str> + 'a {
    move |name| {
        req.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn open_at(
    req: &SealedRequest,
    method: &str,
    path: &str,
    now: u64,
) -> Result<Option<Vec<u8>>, WireError> {
    let mut guard = MemoryReplayGuard::new(DEFAULT_WINDOW_SECS);
    open(
        &keys(),
        route(method, path),
        lookup(req),
        &req.body,
        now,
        DEFAULT_WINDOW_SECS,
        &mut guard,
    )
}

fn set_header(req: &mut SealedRequest, name: &str, value: String) {
    req.headers.iter_mut().find(|(k, _)| *k == name).unwrap().1 = value;
}

#[test]
fn round_trip_returns_the_plaintext() {
    let req = sealed();
    let plain = open_at(&req, "POST", PATH_SEND, NOW + 10).unwrap().unwrap();
    let back: SendRequest = serde_json::from_slice(&plain).unwrap();
    assert_eq!(back, sample());
}

#[test]
fn body_does_not_contain_the_plaintext() {
    let body = String::from_utf8(sealed().body).unwrap();
    assert!(!body.contains("4155550123"));
    assert!(!body.contains("123456"));
    assert!(body.starts_with("{\"v\":1,"));
}

#[test]
fn empty_body_round_trips_as_none() {
    let req = seal(
        &keys(),
        route("GET", "/v1/messages/msg_1"),
        NOW,
        [1; 16],
        [2; 12],
        None,
    );
    assert!(req.body.is_empty());
    assert_eq!(
        open_at(&req, "GET", "/v1/messages/msg_1", NOW).unwrap(),
        None
    );
}

#[test]
fn signature_matches_the_documented_formula() {
    let req = sealed();
    let h = lookup(&req);
    let mac_key = derive(SECRET.as_bytes(), b"otp-sms/v1/mac");
    let mut mac = <HmacSha256 as Mac>::new_from_slice(&mac_key).unwrap();
    let s = format!(
        "POST\n/v1/send\n{}\n{}\n{}\nphone-1",
        h(HEADER_TIMESTAMP).unwrap(),
        h(HEADER_NONCE).unwrap(),
        h(HEADER_CONTENT_SHA256).unwrap()
    );
    mac.update(s.as_bytes());
    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(h(HEADER_SIGNATURE).unwrap(), expected);
    assert_eq!(
        h(HEADER_CONTENT_SHA256).unwrap(),
        hex::encode(Sha256::digest(&req.body))
    );
    assert_eq!(h(HEADER_NONCE).unwrap(), "BwcHBwcHBwcHBwcHBwcHBw");
}

#[test]
fn subkeys_differ_and_weak_secrets_are_refused() {
    let k = keys();
    assert_ne!(k.mac, k.enc);
    assert_eq!(Keys::from_secret("short").unwrap_err(), WeakSecret);
    assert!(format!("{k:?}").contains("redacted"));
}

#[test]
fn each_missing_header_is_unsigned() {
    for name in [
        HEADER_TIMESTAMP,
        HEADER_NONCE,
        HEADER_CONTENT_SHA256,
        HEADER_SIGNATURE,
        HEADER_GATEWAY,
    ] {
        let mut req = sealed();
        req.headers.retain(|(k, _)| *k != name);
        assert_eq!(
            open_at(&req, "POST", PATH_SEND, NOW),
            Err(WireError::Unsigned),
            "{name}"
        );
    }
    let mut req = sealed();
    set_header(&mut req, HEADER_NONCE, "short".into());
    assert_eq!(
        open_at(&req, "POST", PATH_SEND, NOW),
        Err(WireError::Unsigned)
    );
}

#[test]
fn tampered_signature_is_bad_signature() {
    let mut req = sealed();
    let sig = lookup(&req)(HEADER_SIGNATURE).unwrap().to_string();
    let flipped = format!(
        "{}{}",
        &sig[..sig.len() - 1],
        if sig.ends_with('0') { '1' } else { '0' }
    );
    set_header(&mut req, HEADER_SIGNATURE, flipped);
    assert_eq!(
        open_at(&req, "POST", PATH_SEND, NOW),
        Err(WireError::BadSignature)
    );
    set_header(
        &mut req,
        HEADER_SIGNATURE,
        sig.trim_start_matches("v1=").to_string(),
    );
    assert_eq!(
        open_at(&req, "POST", PATH_SEND, NOW),
        Err(WireError::BadSignature)
    );
}

#[test]
fn wrong_key_is_bad_signature() {
    let req = sealed();
    let other = Keys::from_secret("ffffffffffffffffffffffffffffffffffffffffffff").unwrap();
    let mut guard = MemoryReplayGuard::new(300);
    let got = open(
        &other,
        route("POST", PATH_SEND),
        lookup(&req),
        &req.body,
        NOW,
        300,
        &mut guard,
    );
    assert_eq!(got, Err(WireError::BadSignature));
}

#[test]
fn tampered_headers_are_bad_signature() {
    let mut req = sealed();
    set_header(&mut req, HEADER_TIMESTAMP, (NOW + 1).to_string());
    assert_eq!(
        open_at(&req, "POST", PATH_SEND, NOW),
        Err(WireError::BadSignature)
    );
    let mut req = sealed();
    set_header(&mut req, HEADER_NONCE, b64url(&[8; 16]));
    assert_eq!(
        open_at(&req, "POST", PATH_SEND, NOW),
        Err(WireError::BadSignature)
    );
    let mut req = sealed();
    set_header(
        &mut req,
        HEADER_CONTENT_SHA256,
        hex::encode(Sha256::digest(b"other")),
    );
    assert_eq!(
        open_at(&req, "POST", PATH_SEND, NOW),
        Err(WireError::BadSignature)
    );
}

#[test]
fn headers_are_checked_before_and_without_the_body() {
    let req = sealed();
    let k = keys();
    let signed = verify_headers(&k, route("POST", PATH_SEND), lookup(&req), NOW, 300).unwrap();
    assert_eq!(signed.nonce, lookup(&req)(HEADER_NONCE).unwrap());
    assert_eq!(
        signed.check_body(b"other").unwrap_err(),
        WireError::BadContentHash
    );
    let signed = verify_headers(&k, route("POST", PATH_SEND), lookup(&req), NOW, 300).unwrap();
    assert!(signed
        .check_body(&req.body)
        .unwrap()
        .open()
        .unwrap()
        .is_some());
    // the window is a header check: a stale request is refused whatever its body
    assert_eq!(
        verify_headers(&k, route("POST", PATH_SEND), lookup(&req), NOW + 301, 300).unwrap_err(),
        WireError::StaleTimestamp
    );
}

#[test]
fn a_request_for_another_gateway_is_refused() {
    let k = keys();
    let req = sealed();
    assert_eq!(lookup(&req)(HEADER_GATEWAY), Some(GW));
    let mut guard = MemoryReplayGuard::new(300);
    let for_phone_2 = Route::new("POST", PATH_SEND, "phone-2");
    let got = open(
        &k,
        for_phone_2,
        lookup(&req),
        &req.body,
        NOW,
        300,
        &mut guard,
    );
    assert_eq!(got, Err(WireError::WrongGateway));
    // relabelled for phone-2: the signature covers the id
    let mut relabelled = sealed();
    set_header(&mut relabelled, HEADER_GATEWAY, "phone-2".into());
    let got = open(
        &k,
        for_phone_2,
        lookup(&relabelled),
        &relabelled.body,
        NOW,
        300,
        &mut guard,
    );
    assert_eq!(got, Err(WireError::BadSignature));
    // re-signed for phone-2 with the same ciphertext: the AEAD covers the id too
    let mut resigned = sealed();
    let content = hex::encode(Sha256::digest(&resigned.body));
    let nonce = lookup(&resigned)(HEADER_NONCE).unwrap().to_string();
    let sig = mac_of(
        &k,
        &signing_string(for_phone_2, &NOW.to_string(), &nonce, &content),
    )
    .finalize()
    .into_bytes();
    set_header(
        &mut resigned,
        HEADER_SIGNATURE,
        format!("v1={}", hex::encode(sig)),
    );
    set_header(&mut resigned, HEADER_GATEWAY, "phone-2".into());
    let got = open(
        &k,
        for_phone_2,
        lookup(&resigned),
        &resigned.body,
        NOW,
        300,
        &mut guard,
    );
    assert_eq!(got, Err(WireError::BadCiphertext));
}

#[test]
fn signed_replies_bind_the_request_nonce_status_and_body() {
    let k = keys();
    let body = br#"{"id":"msg_1","state":"queued"}"#;
    let sig = sign_reply(&k, "nonce-a", 202, body);
    assert_eq!(verify_reply(&k, "nonce-a", 202, Some(&sig), body), Ok(()));
    // the documented formula
    let mac_key = derive(SECRET.as_bytes(), b"otp-sms/v1/mac");
    let mut mac = <HmacSha256 as Mac>::new_from_slice(&mac_key).unwrap();
    mac.update(format!("reply\nnonce-a\n202\n{}", hex::encode(Sha256::digest(body))).as_bytes());
    assert_eq!(
        sig,
        format!("v1={}", hex::encode(mac.finalize().into_bytes()))
    );
    let bad = Err(WireError::BadSignature);
    assert_eq!(verify_reply(&k, "nonce-b", 202, Some(&sig), body), bad);
    assert_eq!(verify_reply(&k, "nonce-a", 503, Some(&sig), body), bad);
    assert_eq!(verify_reply(&k, "nonce-a", 202, Some(&sig), b"{}"), bad);
    assert_eq!(verify_reply(&k, "nonce-a", 202, Some("v1=zz"), body), bad);
    let other = Keys::from_secret("ffffffffffffffffffffffffffffffffffffffffffff").unwrap();
    assert_eq!(verify_reply(&other, "nonce-a", 202, Some(&sig), body), bad);
    assert_eq!(
        verify_reply(&k, "nonce-a", 202, None, body),
        Err(WireError::Unsigned)
    );
}

#[test]
fn tampered_body_is_bad_content_hash() {
    let mut req = sealed();
    let last = req.body.len() - 3;
    req.body[last] ^= 1;
    assert_eq!(
        open_at(&req, "POST", PATH_SEND, NOW),
        Err(WireError::BadContentHash)
    );
}

#[test]
fn wrong_route_is_bad_signature() {
    let req = sealed();
    assert_eq!(
        open_at(&req, "POST", PATH_KILL_SWITCH, NOW),
        Err(WireError::BadSignature)
    );
    assert_eq!(
        open_at(&req, "PUT", PATH_SEND, NOW),
        Err(WireError::BadSignature)
    );
}

#[test]
fn timestamps_outside_the_window_are_stale() {
    let req = sealed();
    assert!(open_at(&req, "POST", PATH_SEND, NOW + 300).is_ok());
    assert!(open_at(&req, "POST", PATH_SEND, NOW - 300).is_ok());
    assert_eq!(
        open_at(&req, "POST", PATH_SEND, NOW + 301),
        Err(WireError::StaleTimestamp)
    );
    assert_eq!(
        open_at(&req, "POST", PATH_SEND, NOW - 301),
        Err(WireError::StaleTimestamp)
    );
}

#[test]
fn replayed_nonce_is_refused_by_the_guard() {
    let req = sealed();
    let mut guard = MemoryReplayGuard::new(300);
    let k = keys();
    assert!(open(
        &k,
        route("POST", PATH_SEND),
        lookup(&req),
        &req.body,
        NOW,
        300,
        &mut guard
    )
    .is_ok());
    let again = open(
        &k,
        route("POST", PATH_SEND),
        lookup(&req),
        &req.body,
        NOW + 1,
        300,
        &mut guard,
    );
    assert_eq!(again, Err(WireError::ReplayedNonce));
    // forgotten only after 2 x window
    assert!(!guard.remember(lookup(&req)(HEADER_NONCE).unwrap(), NOW, NOW + 600));
    assert!(guard.remember(lookup(&req)(HEADER_NONCE).unwrap(), NOW, NOW + 601));
}

/// Ciphertext from another route or time, re-signed with valid headers, must not decrypt: the AAD binds it.
#[test]
fn ciphertext_moved_to_another_route_or_time_is_bad_ciphertext() {
    let k = keys();
    let original = sealed();
    let resign = |method: &str, path: &str, ts: u64| {
        let nonce = b64url(&[3; 16]);
        let content = hex::encode(Sha256::digest(&original.body));
        let sig = hex::encode(
            mac_of(
                &k,
                &signing_string(route(method, path), &ts.to_string(), &nonce, &content),
            )
            .finalize()
            .into_bytes(),
        );
        SealedRequest {
            headers: vec![
                (HEADER_TIMESTAMP, ts.to_string()),
                (HEADER_NONCE, nonce),
                (HEADER_CONTENT_SHA256, content),
                (HEADER_SIGNATURE, format!("v1={sig}")),
                (HEADER_GATEWAY, GW.to_string()),
            ],
            body: original.body.clone(),
        }
    };
    let moved = resign("POST", PATH_KILL_SWITCH, NOW);
    assert_eq!(
        open_at(&moved, "POST", PATH_KILL_SWITCH, NOW),
        Err(WireError::BadCiphertext)
    );
    let later = resign("POST", PATH_SEND, NOW + 5);
    assert_eq!(
        open_at(&later, "POST", PATH_SEND, NOW + 5),
        Err(WireError::BadCiphertext)
    );
}

#[test]
fn malformed_envelopes_are_bad_envelope() {
    let k = keys();
    for body in [
        &b"not json"[..],
        br#"{"v":2,"n":"AAAAAAAAAAAAAAAA","c":"AAAA"}"#,
        br#"{"v":1,"n":"AAAA","c":"AAAA"}"#,
    ] {
        let plain = seal(&k, route("POST", PATH_SEND), NOW, [4; 16], [0; 12], None);
        // re-sign with the odd body so only the envelope is wrong
        let content = hex::encode(Sha256::digest(body));
        let nonce = plain.headers[1].1.clone();
        let sig = hex::encode(
            mac_of(
                &k,
                &signing_string(route("POST", PATH_SEND), &NOW.to_string(), &nonce, &content),
            )
            .finalize()
            .into_bytes(),
        );
        let req = SealedRequest {
            headers: vec![
                (HEADER_TIMESTAMP, NOW.to_string()),
                (HEADER_NONCE, nonce),
                (HEADER_CONTENT_SHA256, content),
                (HEADER_SIGNATURE, format!("v1={sig}")),
                (HEADER_GATEWAY, GW.to_string()),
            ],
            body: body.to_vec(),
        };
        assert_eq!(
            open_at(&req, "POST", PATH_SEND, NOW),
            Err(WireError::BadEnvelope)
        );
    }
}

#[test]
fn error_codes_are_stable() {
    let all = [
        (WireError::Unsigned, "unsigned"),
        (WireError::BadSignature, "bad_signature"),
        (WireError::BadContentHash, "bad_content_hash"),
        (WireError::StaleTimestamp, "stale_timestamp"),
        (WireError::ReplayedNonce, "replayed_nonce"),
        (WireError::BadEnvelope, "bad_envelope"),
        (WireError::BadCiphertext, "bad_ciphertext"),
        (WireError::WrongGateway, "wrong_gateway"),
    ];
    for (e, code) in all {
        assert_eq!(e.code(), code);
    }
}

#[test]
fn messages_use_the_documented_json() {
    let v = serde_json::to_value(sample()).unwrap();
    assert_eq!(v["kind"], "otp");
    assert_eq!(v["sim_slot"], serde_json::Value::Null);
    let report = StatusReport {
        id: "msg_1".into(),
        state: MessageState::Sent,
        attempts: 1,
        error: None,
        at: NOW,
        gateway_id: "phone-1".into(),
        class: None,
    };
    assert_eq!(
        serde_json::to_string(&report).unwrap(),
        r#"{"id":"msg_1","state":"sent","attempts":1,"error":null,"at":1764000000,"gateway_id":"phone-1"}"#
    );
    let batch = serde_json::to_value(StatusBatch {
        reports: vec![report.clone()],
    })
    .unwrap();
    assert_eq!(batch["reports"][0]["state"], "sent");
    assert_eq!(batch.as_object().unwrap().len(), 1);
    let debug = format!("{:?}", sample());
    assert!(!debug.contains("4155550123") && !debug.contains("123456"));
    assert!(MessageKind::Otp.priority() < MessageKind::Direct.priority());
    assert!(MessageKind::Direct.priority() < MessageKind::Notification.priority());
    let ks: KillSwitchCommand = serde_json::from_str(r#"{"engaged":true}"#).unwrap();
    assert_eq!(ks.reason, None);
}

#[test]
fn a_failure_class_travels_with_a_failed_report_and_older_ones_still_parse() {
    let failed = StatusReport {
        id: "msg_1".into(),
        state: MessageState::Failed,
        attempts: 3,
        error: Some("generic_failure".into()),
        at: NOW,
        gateway_id: "phone-1".into(),
        class: Some(FailureClass::GenericFailure),
    };
    let v = serde_json::to_value(&failed).unwrap();
    assert_eq!(v["class"], "generic_failure");
    let old: StatusReport = serde_json::from_str(
        r#"{"id":"m","state":"failed","attempts":1,"error":"exit_status_1","at":1,"gateway_id":"p"}"#,
    )
    .unwrap();
    assert_eq!(old.class, None);
    for c in [
        FailureClass::LimitExceeded,
        FailureClass::NoService,
        FailureClass::GenericFailure,
        FailureClass::NotPermitted,
        FailureClass::NoCapacity,
        FailureClass::Canceled,
        FailureClass::Unknown,
        FailureClass::Uncertain,
    ] {
        assert_eq!(FailureClass::parse(c.as_str()), Some(c));
        assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        assert_eq!(c.certainly_unsent(), c != FailureClass::Uncertain);
    }
    // An older gateway's health (no device, SIMs or recent sends) still reads.
    let h: Health = serde_json::from_str(
        r#"{"status":"ok","version":"0.1.0","queue_depth":0,"kill_switch":false,"last_send":"none","capacity":{"per_sim_window":25,"used":0}}"#,
    )
    .unwrap();
    assert!(h.device.is_none() && h.sims.is_empty() && h.recent_sends.is_none());
    assert_eq!(cancel_path("msg_1"), "/v1/messages/msg_1/cancel");
}

#[test]
fn a_sim_at_a_budget_says_which() {
    let mut sim = SimHealth {
        daily_limit: Some(2),
        daily_used: 1,
        monthly_recipients_limit: Some(5),
        monthly_recipients_used: 5,
        ..Default::default()
    };
    assert_eq!(sim.limit_reached(), Some("monthly_recipients"));
    sim.daily_used = 2;
    assert_eq!(sim.limit_reached(), Some("daily"));
    assert!(sim.at_limit());
    assert!(!SimHealth::default().at_limit());
}
