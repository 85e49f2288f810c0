//! Outbound HTTP as on Android, where a static binary finds neither /etc/resolv.conf nor a CA store:
//! names go through the gateway's own stub resolver (a DNS server on loopback, written here, stands in
//! for the name server Termux's resolv.conf names) and TLS roots come from a CA bundle file (as
//! Termux's `$PREFIX/etc/tls/cert.pem`), on top of the bundled ones. The far end is a real gateway
//! serving its own TLS.

mod common;

use common::*;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;

/// A name server that knows one name (A: `ip`, AAAA: none) and answers NXDOMAIN for every other;
/// it records the names it was asked.
async fn name_server(name: &'static str, ip: [u8; 4]) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let q = &buf[..n];
            // the question's name (labels from offset 12) and type
            let (mut i, mut labels) = (12, Vec::new());
            while q[i] != 0 {
                let len = q[i] as usize;
                labels.push(String::from_utf8_lossy(&q[i + 1..i + 1 + len]).to_string());
                i += 1 + len;
            }
            let qtype = u16::from_be_bytes([q[i + 1], q[i + 2]]);
            let asked_name = labels.join(".");
            log.lock().unwrap().push(asked_name.clone());
            let mut r = q.to_vec();
            r[2] = 0x81;
            let known = asked_name.eq_ignore_ascii_case(name);
            r[3] = if known { 0x80 } else { 0x83 };
            if known && qtype == 1 {
                r[7] = 1;
                r.extend([0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4]);
                r.extend(ip);
            }
            let _ = sock.send_to(&r, from).await;
        }
    });
    (addr, asked)
}

#[tokio::test]
async fn names_resolve_through_the_stub_resolver_and_roots_come_from_the_bundle() {
    let cert = rcgen::generate_simple_self_signed(vec!["edge.test".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let gw = Gateway::start(&format!(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        cert_file.display(),
        key_file.display()
    ));
    let port = gw.base.rsplit(':').next().unwrap().to_string();
    let (dns, asked) = name_server("edge.test", [127, 0, 0, 1]).await;

    let vars = |bundle: bool| {
        let mut m = HashMap::from([
            ("PHONE_GATEWAY_DNS".to_string(), dns.to_string()),
            ("PREFIX".to_string(), dir.path().display().to_string()),
        ]);
        if bundle {
            m.insert("SSL_CERT_FILE".into(), cert_file.display().to_string());
        }
        m
    };
    let client = |bundle: bool| {
        let env = vars(bundle);
        phone_gateway::net::client_builder_with(&move |k| env.get(k).cloned())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };

    let url = format!("https://edge.test:{port}/health");
    let r = client(true)
        .get(&url)
        .send()
        .await
        .expect("resolved and trusted");
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("\"status\":\"ok\""));
    assert!(asked.lock().unwrap().iter().any(|n| n == "edge.test"));

    // without the bundle the certificate is not trusted (the bundled roots do not know it)
    let e = client(false).get(&url).send().await.unwrap_err();
    assert!(e.is_connect(), "{e:?}");

    // a name the server does not know fails as such, quickly (no second server, no retry)
    let e = client(true)
        .get(format!("https://nowhere.test:{port}/health"))
        .send()
        .await
        .unwrap_err();
    assert!(format!("{e:?}").contains("no such name"), "{e:?}");
}
