//! Keys: the two subkeys of a gateway secret, and what a signature and its AEAD bind.

use hmac::Mac;

use super::*;

/// The two subkeys derived from one gateway secret, so the MAC and the cipher never share a key.
#[derive(Clone)]
pub struct Keys {
    pub(super) mac: [u8; 32],
    pub(super) enc: [u8; 32],
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

pub(super) fn derive(secret: &[u8], label: &[u8]) -> [u8; 32] {
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

pub(super) fn signing_string(
    route: Route,
    timestamp: &str,
    nonce: &str,
    content_sha256: &str,
) -> String {
    let Route {
        method,
        path,
        gateway_id,
    } = route;
    format!("{method}\n{path}\n{timestamp}\n{nonce}\n{content_sha256}\n{gateway_id}")
}

pub(super) fn aad(route: Route, timestamp: &str) -> String {
    let Route {
        method,
        path,
        gateway_id,
    } = route;
    format!("{method}\n{path}\n{timestamp}\n{gateway_id}")
}

pub(super) fn mac_of(keys: &Keys, data: &str) -> HmacSha256 {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(&keys.mac).expect("32-byte key");
    mac.update(data.as_bytes());
    mac
}
