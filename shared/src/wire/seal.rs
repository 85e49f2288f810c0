//! Sealing: a request signed and encrypted for its receiver.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::Mac;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::*;

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Envelope {
    pub(super) v: u8,
    pub(super) n: String,
    pub(super) c: String,
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
