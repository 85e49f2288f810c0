//! API keys: `otp_<role>_<prefix>_<secret>`. The prefix (public, 12 base32 chars) names the stored
//! record; the secret is 32 random bytes shown once. Only SHA-256 of the whole key is stored: a key
//! is high-entropy, so a fast hash is enough and lookups stay cheap.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::platform::Platform;

const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Tenant,
    Admin,
}

impl Role {
    fn tag(self) -> &'static str {
        match self {
            Role::Tenant => "sk",
            Role::Admin => "ak",
        }
    }
}

/// A freshly made key: `plain` is returned to the caller once and then forgotten.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub plain: String,
    pub prefix: String,
    pub sha256: String,
}

pub fn generate<P: Platform>(p: &P, role: Role) -> NewKey {
    let mut raw = [0u8; 12];
    p.fill_random(&mut raw);
    let prefix: String = raw
        .iter()
        .map(|b| ALPHABET[(b & 31) as usize] as char)
        .collect();
    let mut secret = [0u8; 32];
    p.fill_random(&mut secret);
    let plain = format!(
        "otp_{}_{}_{}",
        role.tag(),
        prefix,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
    );
    let sha256 = sha256_hex(&plain);
    NewKey {
        plain,
        prefix,
        sha256,
    }
}

/// The lookup prefix of a presented key, if it has our shape.
pub fn prefix_of(key: &str) -> Option<&str> {
    let mut parts = key.splitn(4, '_');
    let (otp, tag, prefix, secret) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let prefix_ok = prefix.len() == 12 && prefix.bytes().all(|b| ALPHABET.contains(&b));
    let secret_ok = (40..=64).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (otp == "otp" && matches!(tag, "sk" | "ak") && prefix_ok && secret_ok).then_some(prefix)
}

pub fn sha256_hex(data: &str) -> String {
    hex::encode(Sha256::digest(data.as_bytes()))
}

/// Constant-time comparison of two hex hashes.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Constant-time comparison of a presented key with a stored hash.
pub fn matches(presented: &str, stored_sha256: &str) -> bool {
    hashes_equal(&sha256_hex(presented), stored_sha256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_parsing_accepts_only_our_shape() {
        let k = format!("otp_sk_{}_{}", "abcdefghjkmn", "x".repeat(43));
        assert_eq!(prefix_of(&k), Some("abcdefghjkmn"));
        assert_eq!(prefix_of("otp_sk_short_xxx"), None);
        assert_eq!(prefix_of("Bearer nonsense"), None);
        assert_eq!(prefix_of(&k.replace("_sk_", "_zz_")), None);
        // Characters outside the alphabets are refused before any lookup.
        assert_eq!(
            prefix_of(&format!("otp_sk_abcdefghjkm/_{}", "x".repeat(43))),
            None
        );
        assert_eq!(
            prefix_of(&format!("otp_sk_ABCDEFGHJKMN_{}", "x".repeat(43))),
            None
        );
        assert_eq!(
            prefix_of(&format!("otp_sk_abcdefghjkmn_{}", "x%".repeat(21))),
            None
        );
    }

    #[test]
    fn hash_matching_is_exact() {
        let h = sha256_hex("otp_sk_key");
        assert!(matches("otp_sk_key", &h));
        assert!(!matches("otp_sk_kez", &h));
    }
}
