//! Gateway wire protocol v1 (see docs/design.md): message types, request signing and the AEAD envelope.
//!
//! Pure: no clock, no randomness, no I/O, so it builds for wasm32 as well. Callers pass the timestamp and
//! the random nonces. Replay protection needs memory, so it is the receiver's job: [`verify`] checks
//! everything stateless, the receiver checks the nonce (see [`ReplayGuard`] / [`MemoryReplayGuard`]),
//! then [`Verified::open`] decrypts. [`open`] does all three in the documented order.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::Hmac;
use sha2::Sha256;

mod health;
mod keys;
mod messages;
mod open;
mod reply;
mod seal;
#[cfg(test)]
mod tests;

pub use health::*;
pub use keys::*;
pub use messages::*;
pub use open::*;
pub use reply::*;
pub use seal::*;

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
pub(super) const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub fn b64url(bytes: &[u8]) -> String {
    B64.encode(bytes)
}
