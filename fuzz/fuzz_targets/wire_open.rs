//! otp_shared::wire on hostile input: `verify` + `open` must never panic, and the round trip holds.
//!
//! Three shapes of input:
//! - `Raw`: arbitrary headers and body under a fixed key (the parsing paths before the MAC).
//! - `Sealed`: a request made by `seal`, then optionally tampered with. Untampered and within the window it
//!   must open to the plaintext exactly once (the replay guard refuses the second try); a tampered one must
//!   be refused with the error the documented check order gives.
//! - `Resigned`: an arbitrary body signed correctly by a second, independent implementation of the signing
//!   rule in docs/design.md, so the envelope parser and the AEAD see arbitrary bytes behind a valid MAC.
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use otp_shared::wire::{self, Keys, MemoryReplayGuard, WireError};
use sha2::{Digest, Sha256};

const SECRETS: [&str; 2] = [
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "  q7Zr0aT2nW9xYk4cV1bN8mL3pS6dF5gH0jK2eR7tU9w  ",
];
/// In the order `seal` writes them.
const HEADER_NAMES: [&str; 5] = [
    wire::HEADER_TIMESTAMP,
    wire::HEADER_NONCE,
    wire::HEADER_CONTENT_SHA256,
    wire::HEADER_SIGNATURE,
    wire::HEADER_GATEWAY,
];
/// The gateway every request is sealed for and every receiver is.
const GATEWAY: &str = "phone-1";

#[derive(Debug, Arbitrary)]
enum Input {
    Raw { headers: Vec<(u8, String)>, body: Vec<u8>, method: String, path: String, now: u64, window: u16 },
    Sealed { req: Req, tamper: Tamper },
    Resigned { req: Req, body: Vec<u8> },
}

#[derive(Debug, Arbitrary)]
struct Req {
    secret: bool,
    get: bool,
    path: String,
    timestamp: u64,
    skew: i16,
    window: u16,
    header_nonce: [u8; 16],
    aead_nonce: [u8; 12],
    plaintext: Option<Vec<u8>>,
}

#[derive(Debug, Arbitrary)]
enum Tamper {
    None,
    Header { which: u8, value: String },
    Drop { which: u8 },
    BodyByte { pos: u16, xor: u8 },
    Receiver { method: Option<String>, path: Option<String>, gateway: Option<String> },
    OtherKey,
}

impl Req {
    fn keys(&self) -> Keys {
        Keys::from_secret(SECRETS[self.secret as usize]).expect("fixed secrets are long enough")
    }
    fn method(&self) -> &'static str {
        if self.get { "GET" } else { "POST" }
    }
    fn now(&self) -> u64 {
        self.timestamp.saturating_add_signed(self.skew as i64)
    }
    fn in_window(&self) -> bool {
        self.timestamp.abs_diff(self.now()) <= self.window as u64
    }
}

fn lookup<'h>(headers: &'h [(String, String)]) -> impl Fn(&str) -> Option<&'h str> {
    move |name| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn owned(headers: &[(&'static str, String)]) -> Vec<(String, String)> {
    headers.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn open_once(
    keys: &Keys,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    now: u64,
    window: u64,
) -> Result<Option<Vec<u8>>, WireError> {
    let mut guard = MemoryReplayGuard::new(window);
    let route = wire::Route::new(method, path, GATEWAY);
    wire::open(keys, route, lookup(headers), body, now, window, &mut guard)
}

/// The signing rule of docs/design.md, written again without otp_shared::wire.
fn sign_independently(secret: &str, method: &str, path: &str, ts: u64, nonce: &[u8; 16], body: &[u8]) -> Vec<(String, String)> {
    let hmac = |key: &[u8], data: &[u8]| {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        m.update(data);
        m.finalize().into_bytes()
    };
    let mac_key = hmac(secret.trim().as_bytes(), b"otp-sms/v1/mac");
    let nonce = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(nonce);
    let content = hex::encode(Sha256::digest(body));
    let signed = format!("{method}\n{path}\n{ts}\n{nonce}\n{content}\n{GATEWAY}");
    let sig = hex::encode(hmac(&mac_key, signed.as_bytes()));
    vec![
        (wire::HEADER_TIMESTAMP.into(), ts.to_string()),
        (wire::HEADER_NONCE.into(), nonce),
        (wire::HEADER_CONTENT_SHA256.into(), content),
        (wire::HEADER_SIGNATURE.into(), format!("v1={sig}")),
        (wire::HEADER_GATEWAY.into(), GATEWAY.into()),
    ]
}

fuzz_target!(|input: Input| match input {
    Input::Raw { headers, body, method, path, now, window } => {
        let keys = Keys::from_secret(SECRETS[0]).unwrap();
        let headers: Vec<(String, String)> =
            headers.into_iter().map(|(i, v)| (HEADER_NAMES[i as usize % 5].to_string(), v)).collect();
        let r = open_once(&keys, &method, &path, &headers, &body, now, window as u64);
        // Without the key nothing can be forged, so only the refusals before the MAC are possible.
        assert!(
            matches!(r, Err(WireError::Unsigned | WireError::WrongGateway | WireError::BadSignature)),
            "{r:?}"
        );
    }
    Input::Sealed { req, tamper } => sealed(req, tamper),
    Input::Resigned { req, body } => {
        let keys = req.keys();
        let headers = sign_independently(SECRETS[req.secret as usize], req.method(), &req.path, req.timestamp, &req.header_nonce, &body);
        let r = open_once(&keys, req.method(), &req.path, &headers, &body, req.now(), req.window as u64);
        if !req.in_window() {
            assert_eq!(r, Err(WireError::StaleTimestamp));
        } else if body.is_empty() {
            assert_eq!(r, Ok(None));
        } else {
            // An arbitrary body cannot carry a valid AEAD tag for this key.
            assert!(matches!(r, Err(WireError::BadEnvelope | WireError::BadCiphertext)), "{r:?}");
        }
    }
});

fn sealed(req: Req, tamper: Tamper) {
    let keys = req.keys();
    let (method, now, window) = (req.method(), req.now(), req.window as u64);
    let route = wire::Route::new(method, &req.path, GATEWAY);
    let sealed = wire::seal(&keys, route, req.timestamp, req.header_nonce, req.aead_nonce, req.plaintext.as_deref());
    let mut headers = owned(&sealed.headers);
    let mut body = sealed.body.clone();
    let mut recv_method = method.to_string();
    let mut recv_path = req.path.clone();
    let mut recv_gateway = GATEWAY.to_string();
    let mut recv_keys = keys.clone();

    // What the documented check order must answer for this tampering; None = must open.
    let expected: Option<WireError> = match tamper {
        Tamper::None => None,
        Tamper::Header { which, value } => {
            let i = which as usize % 5;
            let old = headers[i].1.clone();
            headers[i].1 = value.clone();
            let (old_t, new_t) = (old.trim(), value.trim());
            // Hex is case-insensitive, so an upper-cased signature is the same signature.
            let same = old_t == new_t || (i == 3 && old_t.eq_ignore_ascii_case(new_t) && new_t.starts_with("v1="));
            if same {
                None
            } else if i == 4 {
                Some(WireError::WrongGateway)
            } else {
                Some(WireError::BadSignature)
            }
        }
        Tamper::Drop { which } => {
            headers.remove(which as usize % 5);
            Some(WireError::Unsigned)
        }
        Tamper::BodyByte { pos, xor } => {
            if body.is_empty() || xor == 0 {
                None
            } else {
                let p = pos as usize % body.len();
                body[p] ^= xor;
                // The window is a header check: it comes before the body's hash.
                Some(if req.in_window() { WireError::BadContentHash } else { WireError::StaleTimestamp })
            }
        }
        Tamper::Receiver { gateway: Some(g), .. } if g.trim() != GATEWAY => {
            recv_gateway = g;
            Some(WireError::WrongGateway)
        }
        Tamper::Receiver { method: m, path: p, .. } => {
            if let Some(m) = m {
                recv_method = m;
            }
            if let Some(p) = p {
                recv_path = p;
            }
            // The MAC and the AAD bind the text "METHOD\nPATH", so only that joined text has to differ
            // (HTTP cannot put a newline in a method or path).
            if format!("{recv_method}\n{recv_path}") == format!("{method}\n{}", req.path) {
                None
            } else {
                Some(WireError::BadSignature)
            }
        }
        Tamper::OtherKey => {
            recv_keys = Keys::from_secret(SECRETS[!req.secret as usize]).unwrap();
            Some(WireError::BadSignature)
        }
    };

    let mut guard = MemoryReplayGuard::new(window);
    let recv_route = wire::Route::new(&recv_method, &recv_path, &recv_gateway);
    let first = wire::open(&recv_keys, recv_route, lookup(&headers), &body, now, window, &mut guard);
    match expected {
        None if req.in_window() => {
            assert_eq!(first, Ok(req.plaintext.clone()), "round trip");
            let again = wire::open(&recv_keys, recv_route, lookup(&headers), &body, now, window, &mut guard);
            assert_eq!(again, Err(WireError::ReplayedNonce));
        }
        None => assert_eq!(first, Err(WireError::StaleTimestamp)),
        Some(WireError::BadSignature) => {
            // A changed header can also make it malformed (unsigned) before the MAC is checked; it must not
            // open, and a changed method or path must never reach the cipher.
            assert!(matches!(first, Err(WireError::Unsigned | WireError::BadSignature)), "{first:?}");
        }
        Some(e) => assert_eq!(first, Err(e)),
    }
}
