//! Gateway wire protocol v1 (see docs/design.md): message types, request signing and the AEAD envelope.
//!
//! Pure: no clock, no randomness, no I/O, so it builds for wasm32 as well. Callers pass the timestamp and
//! the random nonces. Replay protection needs memory, so it is the receiver's job: [`verify`] checks
//! everything stateless, the receiver checks the nonce (see [`ReplayGuard`] / [`MemoryReplayGuard`]),
//! then [`Verified::open`] decrypts. [`open`] does all three in the documented order.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

pub const PROTOCOL_VERSION: u8 = 1;
pub const HEADER_TIMESTAMP: &str = "X-Otp-Timestamp";
pub const HEADER_NONCE: &str = "X-Otp-Nonce";
pub const HEADER_CONTENT_SHA256: &str = "X-Otp-Content-Sha256";
pub const HEADER_SIGNATURE: &str = "X-Otp-Signature";
pub const HEADER_GATEWAY: &str = "X-Otp-Gateway";
pub const HEADER_REQUEST_ID: &str = "X-Request-Id";
/// On every gateway answer to an authenticated request: see [`sign_reply`].
pub const HEADER_REPLY_SIGNATURE: &str = "X-Otp-Reply-Signature";
pub const SIGNATURE_PREFIX: &str = "v1=";

/// Default accepted clock skew, seconds either side.
pub const DEFAULT_WINDOW_SECS: u64 = 300;
/// Shortest accepted secret text (32 random bytes as hex or base64url are longer than this).
pub const MIN_SECRET_LEN: usize = 32;

pub const PATH_SEND: &str = "/v1/send";
pub const PATH_KILL_SWITCH: &str = "/v1/kill-switch";
pub const PATH_HEALTH: &str = "/health";
pub const PATH_MESSAGES_PREFIX: &str = "/v1/messages/";
/// Callback route on the edge, appended to the edge base URL.
pub const PATH_STATUS_CALLBACK: &str = "/internal/gateway/status";
/// Inbound SMS from a gateway to the edge, appended to the edge base URL.
pub const PATH_INBOUND_CALLBACK: &str = "/internal/gateway/inbound";
/// A gateway's own Prometheus metrics (signed GET, signed reply).
pub const PATH_METRICS: &str = "/metrics";
/// The last lines of the gateway's log, for support (signed, like everything but bare `/health`).
pub const PATH_LOGS: &str = "/logs";
/// How many lines `GET /logs` answers at most.
pub const LOG_LINES_MAX: usize = 200;

pub fn message_path(id: &str) -> String {
    format!("{PATH_MESSAGES_PREFIX}{id}")
}

/// Suffix of `POST /v1/messages/{id}/cancel` (signed, empty body): takes a message the phone has
/// not started sending out of its queue, so the edge may hand it to another phone.
pub const CANCEL_SUFFIX: &str = "/cancel";

pub fn cancel_path(id: &str) -> String {
    format!("{PATH_MESSAGES_PREFIX}{id}{CANCEL_SUFFIX}")
}

/// `POST /v1/send/held` (signed, a [`SendRequest`] body): the phone takes the message like
/// `/v1/send` but keeps it unsent until the edge releases it. The first half of moving a queued
/// message from one phone to another: the edge takes it back from the first phone only once the
/// second holds it, and releases it only once the first has given it up.
pub const PATH_SEND_HELD: &str = "/v1/send/held";
/// A held message not released within this many seconds is failed by its phone as `canceled`
/// (`hold_lapsed`): never sent, so the edge may place it again.
pub const HOLD_SECS: u64 = 60;

/// The `error` a held message's status shows until it is released.
pub const ERR_HELD: &str = "held";

/// Suffix of `POST /v1/messages/{id}/release` (signed, empty body): a held message may go.
pub const RELEASE_SUFFIX: &str = "/release";

pub fn release_path(id: &str) -> String {
    format!("{PATH_MESSAGES_PREFIX}{id}{RELEASE_SUFFIX}")
}

/// Suffix of `POST /v1/messages/{id}/fence` (signed, empty body): asked after a hand-off whose
/// answer was lost. A message the phone has is reported (200, a [`StatusReport`]); an unknown id is
/// fenced off (410 `fenced`): the phone records it as failed (`canceled`), so a copy of the request
/// still on its way is refused as a duplicate, and the edge may give the message to another phone.
pub const FENCE_SUFFIX: &str = "/fence";

pub fn fence_path(id: &str) -> String {
    format!("{PATH_MESSAGES_PREFIX}{id}{FENCE_SUFFIX}")
}

/// Unpadded base64url out; padded or unpadded accepted in.
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub fn b64url(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

// ---------------------------------------------------------------------------------------------------------
// Keys

/// The two subkeys derived from one gateway secret, so the MAC and the cipher never share a key.
#[derive(Clone)]
pub struct Keys {
    mac: [u8; 32],
    enc: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gateway secret must be at least {MIN_SECRET_LEN} characters (32 random bytes as hex or base64url)")]
pub struct WeakSecret;

impl Keys {
    /// Derives the keys from the secret text; its UTF-8 bytes are the input key material.
    pub fn from_secret(secret: &str) -> Result<Keys, WeakSecret> {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_LEN {
            return Err(WeakSecret);
        }
        Ok(Keys {
            mac: derive(secret.as_bytes(), b"otp-sms/v1/mac"),
            enc: derive(secret.as_bytes(), b"otp-sms/v1/enc"),
        })
    }
}

fn derive(secret: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret).expect("hmac accepts any key length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

/// What a request is and whom it is for: the parts that both its signature and its AEAD bind, so a
/// request cannot be moved to another route, time, or gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// The gateway the request is exchanged with: the target of an edge request, the sender of a
    /// callback. Travels as `X-Otp-Gateway`.
    pub gateway_id: &'a str,
}

impl<'a> Route<'a> {
    pub fn new(method: &'a str, path: &'a str, gateway_id: &'a str) -> Self {
        Route {
            method,
            path,
            gateway_id,
        }
    }
}

fn signing_string(route: Route, timestamp: &str, nonce: &str, content_sha256: &str) -> String {
    let Route {
        method,
        path,
        gateway_id,
    } = route;
    format!("{method}\n{path}\n{timestamp}\n{nonce}\n{content_sha256}\n{gateway_id}")
}

fn aad(route: Route, timestamp: &str) -> String {
    let Route {
        method,
        path,
        gateway_id,
    } = route;
    format!("{method}\n{path}\n{timestamp}\n{gateway_id}")
}

fn mac_of(keys: &Keys, data: &str) -> HmacSha256 {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(&keys.mac).expect("32-byte key");
    mac.update(data.as_bytes());
    mac
}

// ---------------------------------------------------------------------------------------------------------
// Sealing

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    v: u8,
    n: String,
    c: String,
}

/// A request ready to send: the auth headers (with `X-Otp-Gateway`; add `X-Request-Id` yourself)
/// and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRequest {
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl SealedRequest {
    /// The header nonce: what the receiver's signed reply is bound to ([`verify_reply`]).
    pub fn nonce(&self) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| *k == HEADER_NONCE)
            .map(|(_, v)| v.as_str())
            .expect("seal always sets the nonce")
    }
}

/// Signs (and, with a plaintext, encrypts) one request. `header_nonce` and `aead_nonce` must be fresh
/// random bytes for every call; `timestamp` is unix seconds.
pub fn seal(
    keys: &Keys,
    route: Route,
    timestamp: u64,
    header_nonce: [u8; 16],
    aead_nonce: [u8; 12],
    plaintext: Option<&[u8]>,
) -> SealedRequest {
    let ts = timestamp.to_string();
    let body = match plaintext {
        None => Vec::new(),
        Some(msg) => {
            let cipher = ChaCha20Poly1305::new(Key::from_slice(&keys.enc));
            let aad = aad(route, &ts);
            let ct = cipher
                .encrypt(
                    Nonce::from_slice(&aead_nonce),
                    Payload {
                        msg,
                        aad: aad.as_bytes(),
                    },
                )
                .expect("chacha20poly1305 encryption cannot fail for in-memory sizes");
            let env = Envelope {
                v: PROTOCOL_VERSION,
                n: b64url(&aead_nonce),
                c: b64url(&ct),
            };
            serde_json::to_vec(&env).expect("envelope serialises")
        }
    };
    let nonce = b64url(&header_nonce);
    let content = hex::encode(Sha256::digest(&body));
    let sig = hex::encode(
        mac_of(keys, &signing_string(route, &ts, &nonce, &content))
            .finalize()
            .into_bytes(),
    );
    SealedRequest {
        headers: vec![
            (HEADER_TIMESTAMP, ts),
            (HEADER_NONCE, nonce),
            (HEADER_CONTENT_SHA256, content),
            (HEADER_SIGNATURE, format!("{SIGNATURE_PREFIX}{sig}")),
            (HEADER_GATEWAY, route.gateway_id.to_string()),
        ],
        body,
    }
}

/// [`seal`] for a JSON message.
pub fn seal_json<T: Serialize>(
    keys: &Keys,
    route: Route,
    timestamp: u64,
    header_nonce: [u8; 16],
    aead_nonce: [u8; 12],
    message: &T,
) -> SealedRequest {
    let plaintext = serde_json::to_vec(message).expect("wire messages serialise");
    seal(
        keys,
        route,
        timestamp,
        header_nonce,
        aead_nonce,
        Some(&plaintext),
    )
}

// ---------------------------------------------------------------------------------------------------------
// Signed replies

/// `X-Otp-Reply-Signature` = `v1=` + hex HMAC-SHA256(mac_key, "reply\n{request_nonce}\n{status}\n{hex
/// sha256(body)}"): binds a reply to the request it answers, so a party in the middle can neither
/// forge an answer nor swap one (a refusal that would make the edge try another phone, say).
pub fn sign_reply(keys: &Keys, request_nonce: &str, status: u16, body: &[u8]) -> String {
    let sig = mac_of(keys, &reply_string(request_nonce, status, body))
        .finalize()
        .into_bytes();
    format!("{SIGNATURE_PREFIX}{}", hex::encode(sig))
}

/// Checks a reply's `X-Otp-Reply-Signature` (`signature`: the header, if present) against the
/// nonce of the request it answers. Missing: `unsigned`; wrong: `bad_signature`.
pub fn verify_reply(
    keys: &Keys,
    request_nonce: &str,
    status: u16,
    signature: Option<&str>,
    body: &[u8],
) -> Result<(), WireError> {
    let sig = signature.ok_or(WireError::Unsigned)?.trim();
    let sig = sig
        .strip_prefix(SIGNATURE_PREFIX)
        .and_then(|h| hex::decode(h).ok())
        .ok_or(WireError::BadSignature)?;
    mac_of(keys, &reply_string(request_nonce, status, body))
        .verify_slice(&sig)
        .map_err(|_| WireError::BadSignature)
}

fn reply_string(request_nonce: &str, status: u16, body: &[u8]) -> String {
    let content = hex::encode(Sha256::digest(body));
    format!("reply\n{request_nonce}\n{status}\n{content}")
}

// ---------------------------------------------------------------------------------------------------------
// Opening

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

// ---------------------------------------------------------------------------------------------------------
// Messages

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Otp,
    Direct,
    Notification,
}

impl MessageKind {
    /// Lower sends first: otp > direct > notification.
    pub fn priority(self) -> u8 {
        match self {
            MessageKind::Otp => 0,
            MessageKind::Direct => 1,
            MessageKind::Notification => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Otp => "otp",
            MessageKind::Direct => "direct",
            MessageKind::Notification => "notification",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "otp" => Some(MessageKind::Otp),
            "direct" => Some(MessageKind::Direct),
            "notification" => Some(MessageKind::Notification),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageState {
    Queued,
    Sending,
    Sent,
    Failed,
    Expired,
}

impl MessageState {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Queued => "queued",
            MessageState::Sending => "sending",
            MessageState::Sent => "sent",
            MessageState::Failed => "failed",
            MessageState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(MessageState::Queued),
            "sending" => Some(MessageState::Sending),
            "sent" => Some(MessageState::Sent),
            "failed" => Some(MessageState::Failed),
            "expired" => Some(MessageState::Expired),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            MessageState::Sent | MessageState::Failed | MessageState::Expired
        )
    }
}

/// `POST /v1/send` plaintext. `id` is the idempotency key on the gateway.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    pub id: String,
    pub kind: MessageKind,
    pub to: String,
    pub text: String,
    /// Unix seconds after which the message must not be sent.
    pub expires_at: u64,
    #[serde(default)]
    pub sim_slot: Option<u8>,
    pub tenant_id: String,
    pub request_id: String,
    /// The tenant's weight in the phone's fair share of its pacing window; absent = 1 (an equal
    /// share). Gateways that predate it ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_weight: Option<u16>,
}

/// Keeps the number and text out of logs.
impl std::fmt::Debug for SendRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendRequest")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("to", &"<redacted>")
            .field("text", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .field("sim_slot", &self.sim_slot)
            .field("tenant_id", &self.tenant_id)
            .field("request_id", &self.request_id)
            .field("share_weight", &self.share_weight)
            .finish()
    }
}

/// 202 reply to `POST /v1/send` (plain JSON; never the number or text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendAccepted {
    pub id: String,
    pub state: MessageState,
    pub queue_depth: u64,
    pub duplicate: bool,
}

/// Delivery state of one message: reply to `GET /v1/messages/{id}` and body of the status callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub id: String,
    pub state: MessageState,
    pub attempts: u32,
    pub error: Option<String>,
    /// Unix seconds of the state change.
    pub at: u64,
    pub gateway_id: String,
    /// Why a `failed` message failed, as far as the phone can tell (absent from older gateways
    /// and on every other state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<FailureClass>,
}

/// What a failed send means, classified from what `termux-sms-send` printed and how it ended.
/// Every class but `uncertain` says the SMS certainly did not leave this phone, so the edge may
/// give an OTP to another phone while it is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// Android's RESULT_ERROR_LIMIT_EXCEEDED: the SIM (or the app) hit a sending limit; it rests.
    LimitExceeded,
    /// No service, radio off or radio not available: the phone cannot reach the network.
    NoService,
    /// RESULT_ERROR_GENERIC_FAILURE: often a SIM out of credit; a run of them rests the SIM.
    GenericFailure,
    /// Sending is not permitted here (Termux:API's Google Play build, a missing SMS permission).
    NotPermitted,
    /// The SIM budgets and rests leave this phone no SIM that can send it before its deadline.
    NoCapacity,
    /// The edge took it back before it was sent (to hand it to another phone).
    Canceled,
    /// A failure the program's output does not explain.
    Unknown,
    /// It may have been sent (the program timed out, or the gateway stopped while it ran): never
    /// send it again, anywhere.
    Uncertain,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::LimitExceeded => "limit_exceeded",
            FailureClass::NoService => "no_service",
            FailureClass::GenericFailure => "generic_failure",
            FailureClass::NotPermitted => "not_permitted",
            FailureClass::NoCapacity => "no_capacity",
            FailureClass::Canceled => "canceled",
            FailureClass::Unknown => "unknown",
            FailureClass::Uncertain => "uncertain",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            FailureClass::LimitExceeded,
            FailureClass::NoService,
            FailureClass::GenericFailure,
            FailureClass::NotPermitted,
            FailureClass::NoCapacity,
            FailureClass::Canceled,
            FailureClass::Unknown,
            FailureClass::Uncertain,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// The SMS certainly did not leave the phone.
    pub fn certainly_unsent(self) -> bool {
        self != FailureClass::Uncertain
    }
}

/// Reply to `POST /v1/messages/{id}/cancel`: `canceled` when the message was still queued and is
/// now failed (`canceled`), else its state, untouched (a send already started is never stopped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelResult {
    pub id: String,
    pub canceled: bool,
    pub state: MessageState,
}

/// Reply to `POST /v1/messages/{id}/release`: `released` when the held message may now be sent (or
/// already was released), else its state (a hold that lapsed is `failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseResult {
    pub id: String,
    pub released: bool,
    pub state: MessageState,
}

/// Most reports in one status callback.
pub const MAX_REPORTS_PER_BATCH: usize = 16;

/// Body of the status callback (`POST {edge}/internal/gateway/status`): up to
/// [`MAX_REPORTS_PER_BATCH`] reports, oldest first, all from the signing gateway. Only state
/// changes after the hand-off are reported (sending, sent, failed, expired): the 202 of
/// `POST /v1/send` already said queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusBatch {
    pub reports: Vec<StatusReport>,
}

/// Most inbound SMS in one callback.
pub const MAX_INBOUND_PER_BATCH: usize = 16;

/// One SMS the phone received, as the gateway forwards it. `seq` is the gateway's own durable
/// sequence number: the edge makes it the record's id, so a repeat of it is recognised.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundSms {
    pub seq: u64,
    /// The sender as the phone shows it: usually E.164, possibly a short code or a name.
    pub from: String,
    pub text: String,
    /// Unix seconds when the gateway first saw it.
    pub received_at: u64,
    /// The phone's own row id (`termux-sms-list` `_id`), for tracing.
    #[serde(default)]
    pub sms_id: i64,
}

/// Keeps the sender and text out of logs.
impl std::fmt::Debug for InboundSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundSms")
            .field("seq", &self.seq)
            .field("from", &"<redacted>")
            .field("text", &"<redacted>")
            .field("received_at", &self.received_at)
            .field("sms_id", &self.sms_id)
            .finish()
    }
}

/// Body of `POST {edge}/internal/gateway/inbound`: up to [`MAX_INBOUND_PER_BATCH`] messages,
/// oldest first, signed and encrypted like every callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundBatch {
    pub messages: Vec<InboundSms>,
}

/// `POST /v1/kill-switch` plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitchCommand {
    pub engaged: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Reply to `POST /v1/kill-switch`: the effective state after the command (a file flag may keep it on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitchState {
    pub engaged: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Reply to a bare (unsigned) `GET /health`: that the gateway is up, nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Liveness {
    pub status: String,
    pub version: String,
}

/// Reply to a signed `GET /health` (never file paths, numbers or texts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
    pub queue_depth: u64,
    pub kill_switch: bool,
    #[serde(default)]
    pub kill_switch_reason: Option<String>,
    /// "sent", "failed" or "none".
    pub last_send: String,
    pub capacity: Capacity,
    /// Battery, network and storage, from Termux:API (absent from older gateways).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceHealth>,
    /// Each SIM the gateway sends with, and what its budgets leave.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sims: Vec<SimHealth>,
    /// How the last send attempts went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent_sends: Option<RecentSends>,
    /// Hand-offs of a message id this phone already had, since it started (each one a second
    /// send the id stopped).
    #[serde(default)]
    pub duplicates: u64,
}

/// The phone itself, as Termux:API last reported it. `None`: not known (the program is missing
/// or said nothing usable).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceHealth {
    pub battery_percent: Option<u8>,
    /// Plugged in (AC, USB or wireless).
    pub charging: Option<bool>,
    /// Data network type as Android names it (`lte`, `nr`, `umts`, `unknown`...).
    pub network_type: Option<String>,
    /// Signal level 0 (none) to 4 (great) of the registered cell.
    pub signal_level: Option<u8>,
    pub signal_dbm: Option<i32>,
    /// The default SIM's state (`ready`, `absent`, `pin_required`...).
    pub sim_state: Option<String>,
    /// Free space where the queue lives, in MiB.
    pub free_storage_mb: Option<u64>,
    /// Unix seconds of the reading.
    pub checked_at: u64,
}

/// One SIM's budgets: the pacing window, the day's cap, the plan's distinct recipients, and
/// whether it rests (a limit or a run of failures).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimHealth {
    /// The slot (`None`: the phone's default SIM).
    pub slot: Option<u8>,
    pub window_limit: u32,
    pub window_used: u32,
    /// Sends per calendar day (None: no cap).
    pub daily_limit: Option<u32>,
    pub daily_used: u32,
    /// Unix seconds when the day's count starts again.
    pub day_resets_at: u64,
    /// Distinct recipients per plan period (None: no cap).
    pub monthly_recipients_limit: Option<u32>,
    pub monthly_recipients_used: u32,
    /// Unix seconds when the plan period starts again.
    pub plan_resets_at: u64,
    /// Unix seconds until which the SIM rests, and why (a failure class).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resting_until: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest_reason: Option<FailureClass>,
    /// Generic failures in a row on this SIM.
    pub generic_failures: u32,
}

impl SimHealth {
    /// No more sends today or no new recipient this period.
    pub fn at_limit(&self) -> bool {
        self.daily_limit.is_some_and(|l| self.daily_used >= l)
            || self
                .monthly_recipients_limit
                .is_some_and(|l| self.monthly_recipients_used >= l)
    }

    /// `Some(name)`: the SIM is out of this budget ("daily" or "monthly_recipients").
    pub fn limit_reached(&self) -> Option<&'static str> {
        if self.daily_limit.is_some_and(|l| self.daily_used >= l) {
            Some("daily")
        } else if self
            .monthly_recipients_limit
            .is_some_and(|l| self.monthly_recipients_used >= l)
        {
            Some("monthly_recipients")
        } else {
            None
        }
    }
}

/// The last send attempts (at most 20): how many failed, and the current run of failures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentSends {
    pub attempts: u32,
    pub failed: u32,
    pub consecutive_failures: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// Sends allowed per SIM per pacing window.
    pub per_sim_window: u32,
    /// Sends in the current window, all SIMs together.
    pub used: u32,
}

/// `{"error":{"code":..,"message":..}}` body shared by gateway and edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        mac.update(
            format!("reply\nnonce-a\n202\n{}", hex::encode(Sha256::digest(body))).as_bytes(),
        );
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
}
