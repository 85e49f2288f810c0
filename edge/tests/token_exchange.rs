//! Service-account auth: the RS256 assertion is signed correctly, exchanged at the token URI
//! (a local HTTP server standing in for Google's), and the token is cached until near expiry.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use otp_edge::native::ReqwestClient;
use otp_edge::store::auth::{Claims, TokenSource, SCOPE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rsa_key_pair(dir: &std::path::Path) -> (String, String) {
    let key = dir.join("key.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    (
        std::fs::read_to_string(&key).unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// Answers each POST with a token after checking the grant and the assertion's signature.
async fn token_server(public_pem: String, exchanges: Arc<AtomicUsize>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/token", listener.local_addr().unwrap());
    let audience = uri.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let public_pem = public_pem.clone();
            let exchanges = exchanges.clone();
            let audience = audience.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16384];
                let mut len = 0;
                loop {
                    let n = sock.read(&mut buf[len..]).await.unwrap();
                    len += n;
                    let text = String::from_utf8_lossy(&buf[..len]).to_string();
                    if let Some(h) = text.find("\r\n\r\n") {
                        let cl: usize = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap())
                            })
                            .unwrap_or(0);
                        if len >= h + 4 + cl || n == 0 {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&buf[..len]).to_string();
                let body = &text[text.find("\r\n\r\n").unwrap() + 4..];
                let form: std::collections::HashMap<_, _> =
                    body.split('&').filter_map(|p| p.split_once('=')).collect();
                assert_eq!(
                    form["grant_type"],
                    "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                );
                let mut v = Validation::new(Algorithm::RS256);
                v.set_audience(&[audience.as_str()]);
                let claims = jsonwebtoken::decode::<Claims>(
                    form["assertion"],
                    &DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap(),
                    &v,
                )
                .expect("assertion verifies with the public key")
                .claims;
                assert_eq!(claims.iss, "svc@proj.iam.gserviceaccount.com");
                assert_eq!(claims.sub, claims.iss);
                assert_eq!(claims.scope, SCOPE);
                assert_eq!(claims.exp - claims.iat, 3600);
                let n = exchanges.fetch_add(1, Ordering::SeqCst) + 1;
                let reply = format!("{{\"access_token\":\"token-{n}\",\"expires_in\":3600,\"token_type\":\"Bearer\"}}");
                let resp = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}", reply.len());
                sock.write_all(resp.as_bytes()).await.unwrap();
            });
        }
    });
    uri
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn signs_exchanges_and_caches_the_token() {
    let dir = std::env::temp_dir().join(format!("otp-token-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (private_pem, public_pem) = rsa_key_pair(&dir);
    let exchanges = Arc::new(AtomicUsize::new(0));
    let uri = token_server(public_pem, exchanges.clone()).await;
    let sa = serde_json::json!({"client_email": "svc@proj.iam.gserviceaccount.com", "private_key": private_pem, "token_uri": uri});
    let ts = TokenSource::from_json(&sa.to_string()).unwrap();
    let http = ReqwestClient::default();
    let now = now_ms();

    assert_eq!(ts.token(&http, now).await.unwrap(), "token-1");
    assert_eq!(
        ts.token(&http, now + 30 * 60_000).await.unwrap(),
        "token-1",
        "cached for most of the hour"
    );
    assert_eq!(exchanges.load(Ordering::SeqCst), 1);
    // Within five minutes of expiry a fresh token is fetched.
    assert_eq!(ts.token(&http, now + 56 * 60_000).await.unwrap(), "token-2");
    assert_eq!(exchanges.load(Ordering::SeqCst), 2);
    // A token the store refused is forgotten (an older one's refusal changes nothing).
    ts.forget("token-1");
    assert_eq!(ts.token(&http, now + 57 * 60_000).await.unwrap(), "token-2");
    ts.forget("token-2");
    assert_eq!(ts.token(&http, now + 57 * 60_000).await.unwrap(), "token-3");
    assert_eq!(exchanges.load(Ordering::SeqCst), 3);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_bad_key_is_reported_not_panicked() {
    let sa = serde_json::json!({"client_email": "svc@x", "private_key": "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n"});
    assert!(TokenSource::from_json(&sa.to_string()).is_err());
    assert!(TokenSource::from_json("{}").is_err());
}
