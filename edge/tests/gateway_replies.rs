//! What the edge makes of a gateway's answer: only an answer the gateway signed for this very
//! request counts. An unsigned or wrongly signed refusal could come from anyone in the middle (and
//! hide a message the phone queued), so it leaves the message `unknown` rather than sending it to
//! another phone. Against a stand-in gateway on a real socket that checks the request with
//! `otp_shared::wire` and answers as each case says.

use otp_edge::config::GatewayConfig;
use otp_edge::native::NativePlatform;
use otp_edge::service::fleet::gateway::GatewayLink;
use otp_edge::service::fleet::gateway::{hand_off, Dispatch};
use otp_shared::wire::{self, Keys, MessageKind, SendRequest};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SECRET: &str = "gateway-secret-0123456789abcdefghijklmnop";

#[derive(Clone, Copy, Debug)]
enum Answer {
    /// 202, signed to the request's nonce.
    SignedAccept,
    /// 503 kill_switch, signed.
    SignedRefusal,
    /// 503 kill_switch with no signature.
    UnsignedRefusal,
    /// 202 signed to some other nonce (an answer replayed from another request).
    AcceptSignedForAnotherRequest,
    /// The full health, signed.
    SignedHealth,
    /// The full health, unsigned (what anyone in the middle could make up).
    UnsignedHealth,
}

const HEALTH: &str = r#"{"status":"ok","version":"0.1.0","queue_depth":2,"kill_switch":false,"kill_switch_reason":null,"last_send":"sent","capacity":{"per_sim_window":25,"used":3}}"#;

struct Stand {
    url: String,
    answer: Arc<Mutex<Answer>>,
    /// How a fence (`POST /v1/messages/{id}/fence`) is answered, signed: 200 (it has the message)
    /// or 410 (fenced). None: as `answer` says.
    fence: Arc<Mutex<Option<u16>>>,
    /// The path and check of each request received, by the stand-in with its own id.
    checks: Arc<Mutex<Vec<Checked>>>,
}

/// A request's path and whether it was signed for its target.
type Checked = (String, Result<(), String>);

impl Stand {
    /// Hand-offs received (fences are not).
    fn sends(&self) -> usize {
        self.checks
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == wire::PATH_SEND)
            .count()
    }
}

const STATUS: &str = r#"{"id":"msg_1","state":"queued","attempts":0,"error":null,"at":1764000000,"gateway_id":"phone-a"}"#;

async fn stand_in(id: &'static str) -> Stand {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let answer = Arc::new(Mutex::new(Answer::SignedAccept));
    let fence = Arc::new(Mutex::new(None));
    let checks = Arc::new(Mutex::new(Vec::new()));
    let (a, c, f) = (answer.clone(), checks.clone(), fence.clone());
    tokio::spawn(async move {
        let keys = Keys::from_secret(SECRET).unwrap();
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let (head, body) = read_request(&mut s).await;
            let header = |name: &str| {
                head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim())
                })
            };
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let (method, path) = {
                let mut line = head.lines().next().unwrap_or("").split(' ');
                (
                    line.next().unwrap_or("").to_string(),
                    line.next().unwrap_or("").to_string(),
                )
            };
            let route = wire::Route::new(&method, &path, id);
            let check = wire::verify(&keys, route, header, &body, now, 300)
                .map(|_| ())
                .map_err(|e| e.code().to_string());
            c.lock().unwrap().push((path.clone(), check));
            let nonce = header(wire::HEADER_NONCE).unwrap_or("").to_string();
            let fenced = *f.lock().unwrap();
            if let (true, Some(status)) = (path.ends_with(wire::FENCE_SUFFIX), fenced) {
                let reply = if status == 200 {
                    STATUS
                } else {
                    r#"{"error":{"code":"fenced","message":"never had it"}}"#
                };
                let sig = wire::sign_reply(&keys, &nonce, status, reply.as_bytes());
                let out = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{}: {sig}\r\n\r\n{reply}",
                    reply.len(),
                    wire::HEADER_REPLY_SIGNATURE
                );
                s.write_all(out.as_bytes()).await.unwrap();
                continue;
            }
            let (status, reply) = match *a.lock().unwrap() {
                Answer::SignedAccept | Answer::AcceptSignedForAnotherRequest => (
                    202,
                    r#"{"id":"msg_1","state":"queued","queue_depth":1,"duplicate":false}"#,
                ),
                Answer::SignedRefusal | Answer::UnsignedRefusal => (
                    503,
                    r#"{"error":{"code":"kill_switch","message":"stopped"}}"#,
                ),
                Answer::SignedHealth | Answer::UnsignedHealth => (200, HEALTH),
            };
            let signature = match *a.lock().unwrap() {
                Answer::UnsignedRefusal | Answer::UnsignedHealth => None,
                Answer::AcceptSignedForAnotherRequest => Some(wire::sign_reply(
                    &keys,
                    "AAAAAAAAAAAAAAAAAAAAAA",
                    status,
                    reply.as_bytes(),
                )),
                _ => Some(wire::sign_reply(&keys, &nonce, status, reply.as_bytes())),
            };
            let mut out = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                reply.len()
            );
            if let Some(sig) = signature {
                out.push_str(&format!("{}: {sig}\r\n", wire::HEADER_REPLY_SIGNATURE));
            }
            out.push_str("\r\n");
            out.push_str(reply);
            s.write_all(out.as_bytes()).await.unwrap();
        }
    });
    Stand {
        url,
        answer,
        fence,
        checks,
    }
}

async fn read_request(s: &mut tokio::net::TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.unwrap();
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            let mut body = buf[end + 4..].to_vec();
            while body.len() < len {
                let n = s.read(&mut chunk).await.unwrap();
                body.extend_from_slice(&chunk[..n]);
            }
            return (head, body);
        }
    }
}

fn gateway(id: &str, url: &str) -> GatewayLink {
    let cfg = GatewayConfig {
        id: id.into(),
        url: url.into(),
        secret: SECRET.into(),
        sim_slot: None,
        numbers: Default::default(),
    };
    GatewayLink {
        keys: Keys::from_secret(&cfg.secret).ok(),
        cfg,
        also: Vec::new(),
    }
}

fn platform() -> NativePlatform {
    let cfg = otp_edge::config::Config::from_lookup(|k| {
        (k == "OTP_HMAC_SECRET").then(|| "test-secret-0123456789-abcdefghijklmnop".into())
    })
    .unwrap();
    NativePlatform::new(&cfg)
}

fn message() -> SendRequest {
    SendRequest {
        id: "msg_1".into(),
        kind: MessageKind::Otp,
        to: "+14155550123".into(),
        text: "Your code is 123456".into(),
        expires_at: 4_000_000_000,
        sim_slot: None,
        tenant_id: "t_1".into(),
        request_id: "req_1".into(),
        share_weight: None,
    }
}

#[tokio::test]
async fn only_an_answer_signed_for_the_request_decides_where_a_message_goes() {
    let stand = stand_in("phone-1").await;
    let gateways = [gateway("phone-1", &stand.url)];
    let p = platform();
    let order: Vec<&GatewayLink> = gateways.iter().collect();
    let cases = [
        (Answer::SignedAccept, "queued"),
        (Answer::SignedRefusal, "refused"),
        (Answer::UnsignedRefusal, "unknown"),
        (Answer::AcceptSignedForAnotherRequest, "unknown"),
    ];
    for (answer, want) in cases {
        *stand.answer.lock().unwrap() = answer;
        let got = match hand_off(&p, &order, 5_000, &message()).await {
            Dispatch::Queued { .. } => "queued",
            Dispatch::Refused { .. } => "refused",
            Dispatch::Unknown { .. } => "unknown",
        };
        assert_eq!(got, want, "{answer:?}");
    }
    // every request named its target and was signed for it; each ambiguous answer was followed
    // by a fence to the same phone
    assert_eq!(stand.sends(), cases.len());
    let checks = stand.checks.lock().unwrap();
    assert_eq!(checks.len(), cases.len() + 2, "{checks:?}");
    assert!(checks.iter().all(|(_, c)| c.is_ok()), "{checks:?}");
}

#[tokio::test]
async fn an_unsigned_refusal_never_sends_the_message_to_a_second_phone() {
    let (a, b) = (stand_in("phone-a").await, stand_in("phone-b").await);
    *a.answer.lock().unwrap() = Answer::UnsignedRefusal;
    *b.answer.lock().unwrap() = Answer::UnsignedRefusal;
    let gateways = [gateway("phone-a", &a.url), gateway("phone-b", &b.url)];
    let order: Vec<&GatewayLink> = gateways.iter().collect();
    let got = hand_off(&platform(), &order, 5_000, &message()).await;
    assert!(matches!(got, Dispatch::Unknown { .. }), "{got:?}");
    assert_eq!(
        a.sends() + b.sends(),
        1,
        "the message went to a second phone"
    );
}

#[tokio::test]
async fn after_an_ambiguous_answer_only_the_phone_s_signed_fence_decides() {
    let (a, b) = (stand_in("phone-a").await, stand_in("phone-b").await);
    let gateways = [gateway("phone-a", &a.url), gateway("phone-b", &b.url)];
    let order: Vec<&GatewayLink> = gateways.iter().collect();
    *a.answer.lock().unwrap() = Answer::UnsignedRefusal;
    // phone-a has it: it stays there, and phone-b is never asked.
    *a.fence.lock().unwrap() = Some(200);
    let got = hand_off(&platform(), &order, 5_000, &message()).await;
    assert_eq!(
        got,
        Dispatch::Queued {
            gateway_id: "phone-a".into(),
            duplicate: true
        }
    );
    assert_eq!(b.sends(), 0);
    // phone-a never had it and now never will: phone-b may have it.
    *a.fence.lock().unwrap() = Some(410);
    let got = hand_off(&platform(), &order, 5_000, &message()).await;
    assert!(
        matches!(&got, Dispatch::Queued { gateway_id, .. } if gateway_id == "phone-b"),
        "{got:?}"
    );
    assert_eq!((a.sends(), b.sends()), (2, 1));
}

#[tokio::test]
async fn the_probe_asks_for_the_signed_health_and_believes_only_a_signed_answer() {
    let stand = stand_in("phone-1").await;
    let g = gateway("phone-1", &stand.url);
    let p = platform();
    *stand.answer.lock().unwrap() = Answer::SignedHealth;
    let probe = otp_edge::service::fleet::gateway::probe(&p, &g, 3_000).await;
    assert!(probe.reachable, "{probe:?}");
    let health = probe.health.expect("health");
    assert_eq!((health.queue_depth, health.capacity.used), (2, 3));

    *stand.answer.lock().unwrap() = Answer::UnsignedHealth;
    let probe = otp_edge::service::fleet::gateway::probe(&p, &g, 3_000).await;
    assert!(!probe.reachable && probe.health.is_none(), "{probe:?}");
    assert!(probe.error.unwrap().contains("unsigned"));
    // the probe's requests were signed GETs of /health for this gateway
    let checks = stand.checks.lock().unwrap();
    assert_eq!(checks.len(), 2);
    assert!(checks.iter().all(|(_, c)| c.is_ok()), "{checks:?}");
}
