//! The gateway's own TLS, for raw-TCP tunnels: a self-signed certificate made here, a client that
//! trusts it, a signed send over it; no plain HTTP on the same port, no talking to a stranger.

mod common;

use common::*;
use std::time::Duration;

#[tokio::test]
async fn a_signed_send_over_the_gateways_own_tls() {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let mut gw = Gateway::start(&format!(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        cert_file.display(),
        key_file.display()
    ));
    assert!(gw.base.starts_with("https://127.0.0.1:"), "{}", gw.base);

    // A client that does not know the certificate refuses to talk.
    let stranger = gw.client.get(format!("{}/health", gw.base)).send().await;
    assert!(stranger.is_err(), "an unknown certificate was accepted");
    // Plain HTTP on the TLS port gets nowhere.
    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("{}/health", gw.base.replace("https://", "http://")))
        .send()
        .await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));

    gw.client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let (code, body) = gw
        .send(&msg("tls1", "otp", "+14152000901", "over tls"))
        .await;
    assert_eq!(code, 202, "{body}");
    wait_for(30, "sent", || async { gw.sent().len() == 1 }).await;
    assert_eq!(numbers(&gw.sent()), ["+14152000901"]);
}
