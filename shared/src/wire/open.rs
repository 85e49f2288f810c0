//! Opening: verify a signed request, check its nonce, decrypt it.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::Mac;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use subtle::ConstantTimeEq;

use super::*;

/// Why a request was refused. Every variant is an authentication failure (HTTP 401 on the receiver).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("missing or malformed authentication headers")]
    Unsigned,
    #[error("signature does not match")]
    BadSignature,
    #[error("body does not match X-Otp-Content-Sha256")]
    BadContentHash,
    #[error("timestamp outside the accepted window")]
    StaleTimestamp,
    #[error("nonce already used")]
    ReplayedNonce,
    #[error("body is not a v1 envelope")]
    BadEnvelope,
    #[error("ciphertext does not decrypt for this route and time")]
    BadCiphertext,
    #[error("request is for another gateway")]
    WrongGateway,
}

impl WireError {
    /// Stable machine-readable code for JSON errors and logs.
    pub fn code(&self) -> &'static str {
        match self {
            WireError::Unsigned => "unsigned",
            WireError::BadSignature => "bad_signature",
            WireError::BadContentHash => "bad_content_hash",
            WireError::StaleTimestamp => "stale_timestamp",
            WireError::ReplayedNonce => "replayed_nonce",
            WireError::BadEnvelope => "bad_envelope",
            WireError::BadCiphertext => "bad_ciphertext",
            WireError::WrongGateway => "wrong_gateway",
        }
    }
}

/// A request whose auth headers passed: present, for this gateway, signed over the declared body
/// hash, timestamp in the window. The body is not read yet: check it with
/// [`SignedHeaders::check_body`].
#[derive(Debug)]
pub struct SignedHeaders<'a> {
    keys: &'a Keys,
    route: Route<'a>,
    timestamp_text: String,
    content_sha256: String,
    pub timestamp: u64,
    /// The header nonce (base64url text); single use within 2 x window.
    pub nonce: String,
}

/// A request whose signature, timestamp and body hash passed. Check the nonce, then [`Verified::open`].
#[derive(Debug)]
pub struct Verified<'a> {
    keys: &'a Keys,
    route: Route<'a>,
    body: &'a [u8],
    timestamp_text: String,
    pub timestamp: u64,
    /// The header nonce (base64url text); single use within 2 x window.
    pub nonce: String,
}

/// The checks that need only the headers, in order: unsigned, wrong_gateway, bad_signature,
/// stale_timestamp. A receiver runs them before it reads the body, so an unauthenticated sender
/// cannot make it wait for (or buffer) one. `route.gateway_id` is the receiver's own id (gateway)
/// or the sender's (edge, from `X-Otp-Gateway`). `header` looks a header up by its canonical name
/// (match case-insensitively).
pub fn verify_headers<'a, 'h>(
    keys: &'a Keys,
    route: Route<'a>,
    header: impl Fn(&str) -> Option<&'h str>,
    now: u64,
    window_secs: u64,
) -> Result<SignedHeaders<'a>, WireError> {
    let ts = header(HEADER_TIMESTAMP).ok_or(WireError::Unsigned)?.trim();
    let nonce = header(HEADER_NONCE).ok_or(WireError::Unsigned)?.trim();
    let content = header(HEADER_CONTENT_SHA256)
        .ok_or(WireError::Unsigned)?
        .trim();
    let sig = header(HEADER_SIGNATURE).ok_or(WireError::Unsigned)?.trim();
    let gateway = header(HEADER_GATEWAY).ok_or(WireError::Unsigned)?.trim();
    let nonce_ok = B64.decode(nonce).map(|b| b.len() == 16).unwrap_or(false);
    if ts.is_empty() || !nonce_ok || content.len() != 64 {
        return Err(WireError::Unsigned);
    }
    if gateway != route.gateway_id {
        return Err(WireError::WrongGateway);
    }
    let sig = sig
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(WireError::BadSignature)?;
    let sig = hex::decode(sig).map_err(|_| WireError::BadSignature)?;
    mac_of(keys, &signing_string(route, ts, nonce, content))
        .verify_slice(&sig)
        .map_err(|_| WireError::BadSignature)?;
    let timestamp: u64 = ts.parse().map_err(|_| WireError::StaleTimestamp)?;
    if timestamp.abs_diff(now) > window_secs {
        return Err(WireError::StaleTimestamp);
    }
    Ok(SignedHeaders {
        keys,
        route,
        timestamp_text: ts.to_string(),
        content_sha256: content.to_ascii_lowercase(),
        timestamp,
        nonce: nonce.to_string(),
    })
}

impl<'a> SignedHeaders<'a> {
    /// The last stateless check, once the body is read: bad_content_hash.
    pub fn check_body(self, body: &'a [u8]) -> Result<Verified<'a>, WireError> {
        let actual = hex::encode(Sha256::digest(body));
        if !bool::from(actual.as_bytes().ct_eq(self.content_sha256.as_bytes())) {
            return Err(WireError::BadContentHash);
        }
        Ok(Verified {
            keys: self.keys,
            route: self.route,
            body,
            timestamp_text: self.timestamp_text,
            timestamp: self.timestamp,
            nonce: self.nonce,
        })
    }
}

/// [`verify_headers`] then [`SignedHeaders::check_body`], for a receiver that already has the body.
pub fn verify<'a, 'h>(
    keys: &'a Keys,
    route: Route<'a>,
    header: impl Fn(&str) -> Option<&'h str>,
    body: &'a [u8],
    now: u64,
    window_secs: u64,
) -> Result<Verified<'a>, WireError> {
    verify_headers(keys, route, header, now, window_secs)?.check_body(body)
}

impl Verified<'_> {
    /// Decrypts the body: `Ok(None)` for an empty body (GET), else the plaintext bytes.
    pub fn open(&self) -> Result<Option<Vec<u8>>, WireError> {
        if self.body.is_empty() {
            return Ok(None);
        }
        let env: Envelope =
            serde_json::from_slice(self.body).map_err(|_| WireError::BadEnvelope)?;
        if env.v != PROTOCOL_VERSION {
            return Err(WireError::BadEnvelope);
        }
        let nonce = B64.decode(&env.n).map_err(|_| WireError::BadEnvelope)?;
        if nonce.len() != 12 {
            return Err(WireError::BadEnvelope);
        }
        let ct = B64.decode(&env.c).map_err(|_| WireError::BadEnvelope)?;
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.keys.enc));
        let aad = aad(self.route, &self.timestamp_text);
        cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ct,
                    aad: aad.as_bytes(),
                },
            )
            .map(Some)
            .map_err(|_| WireError::BadCiphertext)
    }
}

/// Nonce memory of a receiver. Keep each nonce for at least 2 x window.
pub trait ReplayGuard {
    /// Records `nonce`; returns false if it was already seen (a replay).
    fn remember(&mut self, nonce: &str, timestamp: u64, now: u64) -> bool;
}

/// In-memory [`ReplayGuard`] for a single process.
#[derive(Debug, Default)]
pub struct MemoryReplayGuard {
    window_secs: u64,
    seen: HashMap<String, u64>,
}

impl MemoryReplayGuard {
    pub fn new(window_secs: u64) -> Self {
        MemoryReplayGuard {
            window_secs,
            seen: HashMap::new(),
        }
    }
}

impl ReplayGuard for MemoryReplayGuard {
    fn remember(&mut self, nonce: &str, timestamp: u64, now: u64) -> bool {
        let keep = 2 * self.window_secs;
        self.seen.retain(|_, ts| ts.saturating_add(keep) >= now);
        if self.seen.contains_key(nonce) {
            return false;
        }
        self.seen.insert(nonce.to_string(), timestamp);
        true
    }
}

/// Full check in the documented order (verify, replay, decrypt).
pub fn open<'h>(
    keys: &Keys,
    route: Route,
    header: impl Fn(&str) -> Option<&'h str>,
    body: &[u8],
    now: u64,
    window_secs: u64,
    replay: &mut dyn ReplayGuard,
) -> Result<Option<Vec<u8>>, WireError> {
    let verified = verify(keys, route, header, body, now, window_secs)?;
    if !replay.remember(&verified.nonce, verified.timestamp, now) {
        return Err(WireError::ReplayedNonce);
    }
    verified.open()
}
