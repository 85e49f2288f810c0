//! The phone's side of self-enrolment, shared by the edge and the gateway: the public enrolment
//! exchange (a one-time token for an id and a secret), the signed re-registration of a phone's
//! URL, and the signed key change the edge pushes to a phone. The protocol is described in
//! docs/design.md ("Phones that enrol themselves").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Public: a phone presents its one-time token (plain JSON over HTTPS; the token is the secret).
pub const PATH_ENROL: &str = "/v1/gateways/enrol";
/// Signed by the phone with its own key (a callback, like delivery reports).
pub const PATH_REGISTER: &str = "/internal/gateway/register";
/// Signed by the edge with the phone's current key; the body (encrypted) carries the new secret.
pub const PATH_KEY: &str = "/v1/key";

/// Enrolment tokens start with this, so a pasted token is recognisable.
pub const TOKEN_PREFIX: &str = "otp_et_";

/// How long each side keeps accepting a phone's previous key after a key change: other isolates
/// may still hold the old one, and an answer may be lost.
pub const KEY_GRACE_SECS: u64 = 600;

/// What a phone sends to enrol.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
    /// The phone's public URL (its tunnel), if it has one yet; `register` sets it later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 300)]
    pub url: Option<String>,
    /// At most 8. The SIMs' own numbers, by slot (`"0"`, `"1"`) or `"default"` (E.164): the canaries use them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(schema_with = numbers_schema)]
    pub numbers: BTreeMap<String, String>,
    /// The gateway's version.
    #[serde(default)]
    #[schema(max_length = 40)]
    pub version: String,
}

/// `numbers`: a map of at most [`MAX_NUMBERS`] numbers, as the edge checks it.
fn numbers_schema() -> utoipa::openapi::Object {
    use utoipa::openapi::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
        .max_properties(Some(MAX_NUMBERS))
        .description(Some("At most 8. The SIMs' own numbers, by slot (`\"0\"`, `\"1\"`) or `\"default\"` (E.164): the canaries use them."))
        .build()
}

/// How many SIM numbers a phone may give when it enrols.
pub const MAX_NUMBERS: usize = 8;

/// What the edge answers an enrolment: who the phone is now, and its secret (shown this once;
/// the edge keeps it sealed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Enrolled {
    pub gateway_id: String,
    pub secret: String,
}

/// A phone's signed re-registration: its new URL (a quick tunnel's changes on every restart),
/// and what it is now.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub url: String,
    #[serde(default)]
    pub version: String,
    /// Unset: the numbers stay as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<BTreeMap<String, String>>,
}

/// The key change the edge pushes (inside the encrypted body of a request signed with the
/// phone's current key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyChange {
    pub secret: String,
}

/// The phone's answer to a key change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct KeyChanged {
    /// False when the phone already had this key (a retry after a lost answer).
    pub changed: bool,
}

/// A public URL a phone can be reached at: `http(s)://host[:port][/path]`, no spaces, no
/// credentials, at most 300 characters.
pub fn url_ok(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    url.len() <= 300
        && !host.is_empty()
        && !host.contains('@')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Whether `reported` is older than `latest` (dotted numbers, a leading `v` and any `-suffix`
/// ignored; a version that cannot be read is never called old).
pub fn is_older(reported: &str, latest: &str) -> bool {
    fn parts(v: &str) -> Option<Vec<u64>> {
        let v = v.trim().trim_start_matches('v');
        let v = v.split(['-', '+']).next()?;
        v.split('.').map(|p| p.parse().ok()).collect()
    }
    match (parts(reported), parts(latest)) {
        (Some(mut a), Some(mut b)) => {
            let n = a.len().max(b.len());
            a.resize(n, 0);
            b.resize(n, 0);
            a < b
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_a_phone_may_register() {
        assert!(url_ok("https://abc.trycloudflare.com"));
        assert!(url_ok("http://127.0.0.1:8080"));
        assert!(url_ok("https://x.portmap.io:41234/gw"));
        assert!(!url_ok("ftp://x"));
        assert!(!url_ok("https://"));
        assert!(!url_ok("https://user:pw@evil.example"));
        assert!(!url_ok("https://a b"));
        assert!(!url_ok(&format!("https://{}", "a".repeat(300))));
    }

    #[test]
    fn versions_compare_by_number() {
        assert!(is_older("0.1.0", "0.2.0"));
        assert!(is_older("0.9.9", "0.10.0"));
        assert!(is_older("v1.2", "1.2.1"));
        assert!(!is_older("1.2.0", "1.2"));
        assert!(!is_older("0.3.0", "0.2.9"));
        assert!(!is_older("dev", "0.2.0"));
        assert!(!is_older("0.2.0-rc1", "0.2.0"));
    }
}
