//! Configuration read from the worker's vars and secrets (or the process environment natively).
//! Parsing lives here so a bad value fails loudly at start-up with the variable's name.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct GatewayConfig {
    pub id: String,
    pub url: String,
    /// Filled from `GATEWAY_SECRETS`, never from the public `GATEWAYS` var.
    #[serde(default, skip_serializing)]
    pub secret: String,
    /// SIM slot to ask for, if the phone has several.
    #[serde(default)]
    pub sim_slot: Option<u8>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub firestore_project: String,
    pub firestore_emulator_host: Option<String>,
    pub service_account_json: Option<String>,
    /// Key for the HMAC of stored OTP codes.
    pub otp_secret: String,
    pub gateways: Vec<GatewayConfig>,
    pub gateway_timeout_ms: u32,
    /// An admin key accepted without a stored record, so a fresh deployment can create the first
    /// tenants. Compared by hash, like every key.
    pub bootstrap_admin_key: Option<String>,
    /// `KILL_SWITCH=on` stops all sending at the edge, whatever the stored switch says.
    pub kill_switch: bool,
    pub quota_shards: u32,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How long one Firestore call may take before the store counts as unavailable.
    pub store_timeout_ms: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Config {
    /// `get` looks a name up among vars and secrets.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let otp_secret = get("OTP_HMAC_SECRET").ok_or_else(|| {
            ConfigError("OTP_HMAC_SECRET is not set (wrangler secret put OTP_HMAC_SECRET)".into())
        })?;
        if otp_secret.len() < 16 {
            return Err(ConfigError(
                "OTP_HMAC_SECRET must be at least 16 characters".into(),
            ));
        }
        let mut gateways: Vec<GatewayConfig> = match get("GATEWAYS") {
            Some(raw) => serde_json::from_str(&raw).map_err(|e| {
                ConfigError(format!("GATEWAYS is not a JSON list of {{id,url}}: {e}"))
            })?,
            None => Vec::new(),
        };
        let secrets: std::collections::HashMap<String, String> = match get("GATEWAY_SECRETS") {
            Some(raw) => serde_json::from_str(&raw).map_err(|e| {
                ConfigError(format!(
                    "GATEWAY_SECRETS is not a JSON object of id -> secret: {e}"
                ))
            })?,
            None => Default::default(),
        };
        for g in &mut gateways {
            g.url = g.url.trim_end_matches('/').to_string();
            g.secret = secrets.get(&g.id).cloned().ok_or_else(|| {
                ConfigError(format!(
                    "GATEWAY_SECRETS has no secret for gateway {:?}",
                    g.id
                ))
            })?;
        }
        // A secret shared by two phones would let one answer, or report, in the other's name.
        for (i, a) in gateways.iter().enumerate() {
            if let Some(b) = gateways[i + 1..].iter().find(|b| b.secret == a.secret) {
                return Err(ConfigError(format!(
                    "GATEWAY_SECRETS: gateways {:?} and {:?} have the same secret; give each its own",
                    a.id, b.id
                )));
            }
        }
        let num = |name: &str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                Some(v) => v
                    .parse()
                    .map_err(|_| ConfigError(format!("{name} must be a whole number, got {v:?}"))),
                None => Ok(default),
            }
        };
        Ok(Config {
            firestore_project: get("FIRESTORE_PROJECT").unwrap_or_else(|| "otp-sms-local".into()),
            firestore_emulator_host: get("FIRESTORE_EMULATOR_HOST"),
            service_account_json: get("GOOGLE_SERVICE_ACCOUNT_JSON"),
            otp_secret,
            gateways,
            gateway_timeout_ms: num("GATEWAY_TIMEOUT_MS", 5_000)? as u32,
            bootstrap_admin_key: get("ADMIN_BOOTSTRAP_KEY"),
            kill_switch: matches!(get("KILL_SWITCH").as_deref(), Some("on" | "true" | "1")),
            quota_shards: num("QUOTA_SHARDS", 8)?.clamp(1, 64) as u32,
            max_body_bytes: num("MAX_BODY_BYTES", 16 * 1024)? as usize,
            store_timeout_ms: num("STORE_TIMEOUT_MS", 10_000)?.clamp(100, 60_000) as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn reads_gateways_with_their_secrets() {
        let c = Config::from_lookup(env(&[
            ("OTP_HMAC_SECRET", "0123456789abcdef0123"),
            ("GATEWAYS", r#"[{"id":"p1","url":"http://127.0.0.1:9/"}]"#),
            ("GATEWAY_SECRETS", r#"{"p1":"s3cret"}"#),
        ]))
        .unwrap();
        assert_eq!(c.gateways[0].url, "http://127.0.0.1:9");
        assert_eq!(c.gateways[0].secret, "s3cret");
        assert_eq!(c.quota_shards, 8);
    }

    #[test]
    fn names_the_missing_secret() {
        let e = Config::from_lookup(env(&[
            ("OTP_HMAC_SECRET", "0123456789abcdef0123"),
            ("GATEWAYS", r#"[{"id":"p1","url":"x"}]"#),
        ]))
        .unwrap_err();
        assert!(e.0.contains("p1"), "{e}");
        let e = Config::from_lookup(env(&[])).unwrap_err();
        assert!(e.0.contains("OTP_HMAC_SECRET"));
    }

    #[test]
    fn refuses_two_gateways_with_one_secret() {
        let e = Config::from_lookup(env(&[
            ("OTP_HMAC_SECRET", "0123456789abcdef0123"),
            (
                "GATEWAYS",
                r#"[{"id":"p1","url":"x"},{"id":"p2","url":"y"},{"id":"p3","url":"z"}]"#,
            ),
            (
                "GATEWAY_SECRETS",
                r#"{"p1":"s3cret-a","p2":"s3cret-b","p3":"s3cret-a"}"#,
            ),
        ]))
        .unwrap_err();
        assert!(e.0.contains("\"p1\"") && e.0.contains("\"p3\""), "{e}");
        assert!(!e.0.contains("s3cret"), "the error names the secret: {e}");
    }

    #[test]
    fn rejects_non_numeric_limits() {
        let e = Config::from_lookup(env(&[
            ("OTP_HMAC_SECRET", "0123456789abcdef0123"),
            ("QUOTA_SHARDS", "many"),
        ]))
        .unwrap_err();
        assert!(e.0.contains("QUOTA_SHARDS"));
    }
}
