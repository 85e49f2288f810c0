//! Signed replies: a gateway answer bound to the request it answers.

use hmac::Mac;
use sha2::{Digest, Sha256};

use super::*;

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

pub(super) fn reply_string(request_nonce: &str, status: u16, body: &[u8]) -> String {
    let content = hex::encode(Sha256::digest(body));
    format!("reply\n{request_nonce}\n{status}\n{content}")
}
