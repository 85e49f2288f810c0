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

/// What an admin key may do. Keys made before roles existed, and the bootstrap key, are owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AdminRole {
    /// Everything, and alone: admin keys, backups and restores, deleting tenants.
    #[default]
    Owner,
    /// Runs the service: tenants, phones, kill switches, alerts, opt-outs.
    Operator,
    /// Reads what helps answer a customer: tenants, logs, phones, alerts (changes nothing).
    Support,
    /// Reads tenants, usage, analytics and the audit log (changes nothing).
    Billing,
}

impl AdminRole {
    pub const ALL: [AdminRole; 4] = [
        AdminRole::Owner,
        AdminRole::Operator,
        AdminRole::Support,
        AdminRole::Billing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AdminRole::Owner => "owner",
            AdminRole::Operator => "operator",
            AdminRole::Support => "support",
            AdminRole::Billing => "billing",
        }
    }

    pub fn parse(s: &str) -> Option<AdminRole> {
        AdminRole::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What a tenant key may do. A key without stored scopes (every key made before scopes existed,
/// and a tenant's first key) has them all.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send codes (and resend them) and direct messages.
    Send,
    /// Check codes.
    Verify,
    /// Read: status, usage, analytics, the message log, webhooks, opt-outs.
    Read,
    /// Change the account: webhooks, opt-outs, key rotation.
    Manage,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Send, Scope::Verify, Scope::Read, Scope::Manage];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Send => "send",
            Scope::Verify => "verify",
            Scope::Read => "read",
            Scope::Manage => "manage",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// A key's scopes as given by a caller: known names, at least one, each once (sorted); the full
/// set is stored as none (so a full key stays full when scopes are added later).
pub fn parse_scopes(names: &[String]) -> Result<Vec<Scope>, String> {
    if names.is_empty() {
        return Err("scopes must name at least one of send, verify, read, manage".into());
    }
    let mut out = Vec::new();
    for n in names {
        let s = Scope::parse(n.trim())
            .ok_or_else(|| format!("scopes: {n:?} is not one of send, verify, read, manage"))?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.sort();
    if out.len() == Scope::ALL.len() {
        out.clear();
    }
    Ok(out)
}

/// Whether a key with `stored` scopes (none = all) may act with `needed`.
pub fn allows(stored: &[Scope], needed: Scope) -> bool {
    stored.is_empty() || stored.contains(&needed)
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
    fn scopes_parse_strictly_and_the_full_set_is_stored_as_none() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_scopes(&names(&["verify", "send", "send"])),
            Ok(vec![Scope::Send, Scope::Verify])
        );
        assert_eq!(
            parse_scopes(&names(&["manage", "read", "verify", "send"])),
            Ok(vec![])
        );
        assert!(parse_scopes(&names(&[])).is_err());
        assert!(parse_scopes(&names(&["admin"]))
            .unwrap_err()
            .contains("\"admin\""));
        assert!(allows(&[], Scope::Manage));
        assert!(allows(&[Scope::Send], Scope::Send));
        assert!(!allows(&[Scope::Send], Scope::Verify));
    }

    #[test]
    fn roles_read_and_write_their_names() {
        for r in AdminRole::ALL {
            assert_eq!(AdminRole::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        assert_eq!(AdminRole::parse("root"), None);
        assert_eq!(AdminRole::default(), AdminRole::Owner);
    }

    #[test]
    fn hash_matching_is_exact() {
        let h = sha256_hex("otp_sk_key");
        assert!(matches("otp_sk_key", &h));
        assert!(!matches("otp_sk_kez", &h));
    }
}
