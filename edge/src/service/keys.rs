//! API keys: `otp_<role>_<prefix>_<secret>`. The prefix (public, 12 base32 chars) names the stored
//! record; the secret is 32 random bytes shown once. Only SHA-256 of the whole key is stored: a key
//! is high-entropy, so a fast hash is enough and lookups stay cheap.

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::platform::Platform;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
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
    (otp == "otp" && matches!(tag, "sk" | "ak") && prefix.len() == 12 && secret.len() >= 40)
        .then_some(prefix)
}

pub fn sha256_hex(data: &str) -> String {
    hex::encode(Sha256::digest(data.as_bytes()))
}

/// Constant-time comparison of a presented key with a stored hash.
pub fn matches(presented: &str, stored_sha256: &str) -> bool {
    sha256_hex(presented)
        .as_bytes()
        .ct_eq(stored_sha256.as_bytes())
        .into()
}

/// The key from `Authorization: Bearer <key>` or the seed's `x-api-key`.
pub fn presented_key(authorization: Option<&str>, x_api_key: Option<&str>) -> Option<String> {
    if let Some(a) = authorization {
        let mut it = a.splitn(2, ' ');
        if let (Some(scheme), Some(token)) = (it.next(), it.next()) {
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
                return Some(token.trim().to_string());
            }
            // Twilio SDKs send Basic AccountSid:AuthToken; the API key stands in for the token.
            if scheme.eq_ignore_ascii_case("basic") {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(token.trim())
                    .ok()
                    .and_then(|d| String::from_utf8(d).ok());
                if let Some(password) = decoded
                    .as_deref()
                    .and_then(|t| t.split_once(':'))
                    .map(|(_, p)| p)
                    .filter(|p| !p.is_empty())
                {
                    return Some(password.to_string());
                }
            }
        }
    }
    x_api_key
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
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
    }

    #[test]
    fn hash_matching_is_exact() {
        let h = sha256_hex("otp_sk_key");
        assert!(matches("otp_sk_key", &h));
        assert!(!matches("otp_sk_kez", &h));
    }

    #[test]
    fn bearer_wins_over_x_api_key() {
        assert_eq!(
            presented_key(Some("Bearer abc"), Some("def")).as_deref(),
            Some("abc")
        );
        assert_eq!(
            presented_key(Some("Basic abc"), Some("def")).as_deref(),
            Some("def")
        );
        assert_eq!(presented_key(None, Some("  ")), None);
        assert_eq!(
            presented_key(Some("Basic QUN4OnNlY3JldA=="), None).as_deref(),
            Some("secret")
        );
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
