//! Configuration read from the worker's vars and secrets (or the process environment natively).
//! Parsing lives here so a bad value fails at start-up with the variable's name. Error texts name
//! variables, never their values: a secret must not reach a log or a caller through a parse error.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct GatewayConfig {
    pub id: otp_shared::ids::GatewayId,
    pub url: String,
    /// Filled from `GATEWAY_SECRETS`, never from the public `GATEWAYS` var.
    #[serde(default, skip_serializing)]
    pub secret: String,
    /// SIM slot to ask for, if the phone has several.
    #[serde(default)]
    pub sim_slot: Option<u8>,
    /// The phone's own numbers, by SIM slot (`"0"`, `"1"`) or `"default"` for the phone's default
    /// SIM: the canaries text them (E.164). Without two numbers in the fleet, no canaries.
    #[serde(default)]
    pub numbers: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub firestore_project: String,
    pub firestore_emulator_host: Option<String>,
    /// Where the Firestore REST API is (`FIRESTORE_BASE_URL`, e.g. `https://firestore.googleapis.com/v1`,
    /// the default). Authentication stays the service account's: the tests point it at a local
    /// front of the emulator that checks the issued tokens.
    pub firestore_base_url: Option<String>,
    pub service_account_json: Option<String>,
    /// Input key material for the code HMAC and sealing keys (HKDF, see `service::secrets`).
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
    /// How long an isolate trusts what it read about a key, its tenant and the stored kill switch.
    pub auth_cache_ms: i64,
    /// Analytics counters are summed in the isolate and committed at most this often.
    pub counter_flush_ms: u64,
    /// `WRITE_HEAT=on`: count the store's writes per document (`store::heat`) for the scale
    /// simulation; local runs only.
    pub write_heat: bool,
    /// Failed key lookups one client address may cause per minute before it is refused unread.
    pub auth_failures_per_minute: u32,
    /// The phone fleet's reliability settings (`service::fleet`).
    pub fleet: FleetConfig,
    /// Tenant webhooks: delivery, retries and when a failing endpoint is disabled.
    pub webhooks: WebhookConfig,
    /// The scheduled backup to R2 (`service::ops::backup`).
    pub backup: BackupConfig,
    /// Where operator alerts go when the stored channels cannot be read (the store is down and
    /// this isolate never read them): a Slack/Discord-compatible webhook.
    pub alert_webhook_url: Option<String>,
    /// The sender of alert emails (`ALERT_EMAIL_FROM`, an address of a domain on the account's
    /// Email Routing); they go through the `send_email` binding `ALERT_EMAIL`.
    pub alert_email_from: String,
    /// Phones that enrol themselves (`service::fleet::enrol`).
    pub enrol: EnrolConfig,
}

/// Self-enrolled phones: how long an isolate trusts its list of them, what the console calls the
/// newest gateway release, and the installer the enrolment command downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolConfig {
    /// How long an isolate reuses the enrolled phones it read (`ROSTER_CACHE_MS`); the isolate
    /// that enrols, re-registers, retires or rotates forgets its copy at once.
    pub roster_cache_ms: i64,
    /// The newest phone-gateway release (`GATEWAY_LATEST_VERSION`, e.g. `0.3.0`): the console
    /// marks phones that report an older one. Unset: no phone is marked.
    pub latest_gateway_version: Option<String>,
    /// The raw `install.sh` URL the console's enrolment command pipes to bash
    /// (`INSTALL_SCRIPT_URL`).
    pub install_script_url: String,
}

/// Where the enrolment command fetches the installer when `INSTALL_SCRIPT_URL` is not set.
pub const DEFAULT_INSTALL_SCRIPT_URL: &str =
    "https://raw.githubusercontent.com/otp-sms/otp-sms/main/install.sh";

/// How the scheduled job looks after the phones (`service::fleet`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetConfig {
    /// A message with no final state and no change for this long is asked about (`STUCK_AFTER_MS`).
    pub stuck_after_ms: i64,
    /// Canaries go round the fleet this often; 0 = never (`CANARY_INTERVAL_MIN`).
    pub canary_interval_ms: i64,
    /// A canary not received within this is missed (`CANARY_TIMEOUT_SECS`).
    pub canary_timeout_ms: i64,
    /// How long an isolate routes by the phones' standing it read (`FLEET_CACHE_MS`).
    pub cache_ms: i64,
    /// The conversion window a SIM is judged over, in hours of counters: the current hour and the
    /// ones before it (`CONVERSION_WINDOW_HOURS`, default 2, 1 to 24).
    pub conversion_window_hours: u32,
    /// Codes a SIM must have sent in the window before its conversion is judged
    /// (`CONVERSION_MIN_CODES`, default 20).
    pub conversion_min_codes: u32,
    /// A judged SIM converting below this percentage of the pool's median is routed last
    /// (`CONVERSION_BELOW_PERCENT`, default 50).
    pub conversion_below_percent: u32,
}

/// The scheduled backup (`service::ops::backup`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupConfig {
    /// Complete days kept in the bucket (`BACKUP_KEEP_DAYS`, default 7); 0 turns backups off.
    pub keep_days: u32,
    /// Store pages (up to 300 documents each) one scheduled run exports (`BACKUP_PAGES_PER_RUN`,
    /// default 20): each is a subrequest or more, and the free plan allows 50 per invocation.
    pub pages_per_run: u32,
}

/// How tenant webhooks are delivered (`service::webhooks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Waits before each retry after a failed attempt (seconds); the first attempt is at once.
    /// Default: Standard Webhooks' schedule, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (a day+).
    pub retry_secs: Vec<u64>,
    /// An endpoint whose attempts have all failed for this long is disabled.
    pub disable_after_secs: u64,
    /// One attempt's limit; a slow endpoint costs the deferred work this much at most.
    pub timeout_ms: u32,
    /// Plain `http://` endpoint URLs (development and tests); production wants `https://`.
    pub allow_http: bool,
    /// How long an isolate reuses what it read of a tenant's endpoints.
    pub cache_ms: i64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            retry_secs: vec![5, 300, 1800, 7200, 18_000, 36_000, 36_000],
            disable_after_secs: 86_400,
            timeout_ms: 10_000,
            allow_http: false,
            cache_ms: 10_000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shortest accepted server secret and bootstrap admin key (256 bits of base64 is 43 characters;
/// 32 is the floor the docs have always asked for).
pub const MIN_SECRET_CHARS: usize = 32;

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
        if otp_secret.chars().count() < MIN_SECRET_CHARS {
            return Err(ConfigError(format!(
                "OTP_HMAC_SECRET must be at least {MIN_SECRET_CHARS} characters"
            )));
        }
        let bootstrap_admin_key = get("ADMIN_BOOTSTRAP_KEY");
        if bootstrap_admin_key
            .as_ref()
            .is_some_and(|k| k.chars().count() < MIN_SECRET_CHARS)
        {
            return Err(ConfigError(format!(
                "ADMIN_BOOTSTRAP_KEY must be at least {MIN_SECRET_CHARS} characters"
            )));
        }
        let mut gateways: Vec<GatewayConfig> = match get("GATEWAYS") {
            Some(raw) => serde_json::from_str(&raw).map_err(|_| {
                ConfigError("GATEWAYS is not a JSON list of {\"id\",\"url\"} objects".into())
            })?,
            None => Vec::new(),
        };
        let secrets: std::collections::HashMap<String, String> = match get("GATEWAY_SECRETS") {
            Some(raw) => serde_json::from_str(&raw).map_err(|_| {
                ConfigError("GATEWAY_SECRETS is not a JSON object of gateway id -> secret".into())
            })?,
            None => Default::default(),
        };
        let mut seen_ids = std::collections::HashSet::new();
        let mut seen_secrets = std::collections::HashSet::new();
        for g in &mut gateways {
            if !otp_shared::ids::is_plain_id(&g.id) || !seen_ids.insert(g.id.clone()) {
                return Err(ConfigError(format!(
                    "GATEWAYS: gateway id {:?} is empty, not plain, or listed twice",
                    g.id
                )));
            }
            g.url = g.url.trim_end_matches('/').to_string();
            g.secret = secrets.get(g.id.as_str()).cloned().ok_or_else(|| {
                ConfigError(format!(
                    "GATEWAY_SECRETS has no secret for gateway {:?}",
                    g.id
                ))
            })?;
            for (sim, number) in &g.numbers {
                let sim_ok = sim == "default" || sim.parse::<u8>().is_ok_and(|s| s <= 7);
                let canonical =
                    otp_shared::phone::Phone::parse(number).is_ok_and(|p| p.as_str() == number);
                if !sim_ok || !canonical {
                    return Err(ConfigError(format!(
                        "GATEWAYS: gateway {:?} numbers need \"default\" or a slot 0-7 as keys and E.164 numbers",
                        g.id
                    )));
                }
            }
            // A shared secret would let one phone's reports pass as another's.
            if !seen_secrets.insert(g.secret.clone()) {
                return Err(ConfigError(format!(
                    "GATEWAY_SECRETS: gateway {:?} has the same secret as another gateway",
                    g.id
                )));
            }
        }
        let num = |name: &str, default: u64| -> Result<u64, ConfigError> {
            match get(name) {
                Some(v) => v
                    .parse()
                    .map_err(|_| ConfigError(format!("{name} must be a whole number"))),
                None => Ok(default),
            }
        };
        Ok(Config {
            firestore_project: get("FIRESTORE_PROJECT").unwrap_or_else(|| "otp-sms-local".into()),
            firestore_emulator_host: get("FIRESTORE_EMULATOR_HOST"),
            firestore_base_url: match get("FIRESTORE_BASE_URL") {
                Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
                    Some(u.trim_end_matches('/').to_string())
                }
                Some(_) => {
                    return Err(ConfigError(
                        "FIRESTORE_BASE_URL must be an http(s) URL such as https://firestore.googleapis.com/v1".into(),
                    ))
                }
                None => None,
            },
            service_account_json: get("GOOGLE_SERVICE_ACCOUNT_JSON"),
            otp_secret,
            gateways,
            gateway_timeout_ms: num("GATEWAY_TIMEOUT_MS", 5_000)? as u32,
            bootstrap_admin_key,
            kill_switch: matches!(get("KILL_SWITCH").as_deref(), Some("on" | "true" | "1")),
            quota_shards: num("QUOTA_SHARDS", 8)?.clamp(1, 64) as u32,
            max_body_bytes: num("MAX_BODY_BYTES", 16 * 1024)? as usize,
            store_timeout_ms: num("STORE_TIMEOUT_MS", 10_000)?.clamp(100, 60_000) as u32,
            auth_cache_ms: num("AUTH_CACHE_MS", 2_000)?.min(60_000) as i64,
            write_heat: matches!(get("WRITE_HEAT").as_deref(), Some("on" | "true" | "1")),
            counter_flush_ms: num("COUNTER_FLUSH_MS", 1_000)?.min(60_000),
            auth_failures_per_minute: num("AUTH_FAILURES_PER_MINUTE", 30)?.clamp(1, 1_000_000)
                as u32,
            webhooks: WebhookConfig {
                retry_secs: match get("WEBHOOK_RETRY_SECS") {
                    Some(v) => v
                        .split(',')
                        .map(|s| s.trim().parse::<u64>())
                        .collect::<Result<Vec<_>, _>>()
                        .ok()
                        .filter(|l| !l.is_empty() && l.len() <= 20)
                        .ok_or_else(|| {
                            ConfigError(
                                "WEBHOOK_RETRY_SECS must be a comma-separated list of 1 to 20 whole numbers".into(),
                            )
                        })?,
                    None => WebhookConfig::default().retry_secs,
                },
                disable_after_secs: num("WEBHOOK_DISABLE_AFTER_SECS", 86_400)?,
                timeout_ms: num("WEBHOOK_TIMEOUT_MS", 10_000)?.clamp(100, 30_000) as u32,
                allow_http: matches!(get("WEBHOOK_ALLOW_HTTP").as_deref(), Some("on" | "true" | "1")),
                cache_ms: num("WEBHOOK_CACHE_MS", 10_000)?.min(300_000) as i64,
            },
            alert_webhook_url: get("ALERT_WEBHOOK_URL"),
            alert_email_from: get("ALERT_EMAIL_FROM")
                .unwrap_or_else(|| "otp-sms-alerts@localhost.localdomain".into()),
            backup: BackupConfig {
                keep_days: num("BACKUP_KEEP_DAYS", 7)?.min(366) as u32,
                pages_per_run: num("BACKUP_PAGES_PER_RUN", 20)?.clamp(1, 500) as u32,
            },
            fleet: FleetConfig {
                stuck_after_ms: num("STUCK_AFTER_MS", 60_000)?.clamp(1_000, 86_400_000) as i64,
                canary_interval_ms: num("CANARY_INTERVAL_MIN", 240)?.min(7 * 24 * 60) as i64
                    * 60_000,
                canary_timeout_ms: num("CANARY_TIMEOUT_SECS", 600)?.clamp(5, 86_400) as i64 * 1000,
                cache_ms: num("FLEET_CACHE_MS", 30_000)?.min(600_000) as i64,
                conversion_window_hours: num("CONVERSION_WINDOW_HOURS", 2)?.clamp(1, 24) as u32,
                conversion_min_codes: num("CONVERSION_MIN_CODES", 20)?.clamp(1, 100_000) as u32,
                conversion_below_percent: num("CONVERSION_BELOW_PERCENT", 50)?.clamp(1, 100)
                    as u32,
            },
            enrol: EnrolConfig {
                roster_cache_ms: num("ROSTER_CACHE_MS", 10_000)?.min(600_000) as i64,
                latest_gateway_version: get("GATEWAY_LATEST_VERSION"),
                install_script_url: get("INSTALL_SCRIPT_URL")
                    .unwrap_or_else(|| DEFAULT_INSTALL_SCRIPT_URL.to_string()),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

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
            ("OTP_HMAC_SECRET", SECRET),
            ("GATEWAYS", r#"[{"id":"p1","url":"http://127.0.0.1:9/"}]"#),
            ("GATEWAY_SECRETS", r#"{"p1":"s3cret"}"#),
        ]))
        .unwrap();
        assert_eq!(c.gateways[0].url, "http://127.0.0.1:9");
        assert_eq!(c.gateways[0].secret, "s3cret");
        assert_eq!(c.quota_shards, 8);
    }

    #[test]
    fn gateway_numbers_and_fleet_settings() {
        let c = Config::from_lookup(env(&[
            ("OTP_HMAC_SECRET", SECRET),
            (
                "GATEWAYS",
                r#"[{"id":"p1","url":"x","numbers":{"0":"+14155550100","1":"+14155550101"}}]"#,
            ),
            ("GATEWAY_SECRETS", r#"{"p1":"s3cret"}"#),
            ("STUCK_AFTER_MS", "5000"),
            ("CANARY_INTERVAL_MIN", "0"),
        ]))
        .unwrap();
        assert_eq!(c.gateways[0].numbers["1"], "+14155550101");
        assert_eq!(c.fleet.stuck_after_ms, 5000);
        assert_eq!(c.fleet.canary_interval_ms, 0);
        assert_eq!(c.fleet.canary_timeout_ms, 600_000);
        let e = Config::from_lookup(env(&[
            ("OTP_HMAC_SECRET", SECRET),
            (
                "GATEWAYS",
                r#"[{"id":"p1","url":"x","numbers":{"sim2":"+14155550100"}}]"#,
            ),
            ("GATEWAY_SECRETS", r#"{"p1":"s3cret"}"#),
        ]))
        .unwrap_err();
        assert!(e.0.contains("numbers"), "{e}");
    }

    #[test]
    fn firestore_base_url_must_be_a_url() {
        let c = Config::from_lookup(env(&[
            ("OTP_HMAC_SECRET", SECRET),
            ("FIRESTORE_BASE_URL", "http://127.0.0.1:9/v1/"),
        ]))
        .unwrap();
        assert_eq!(
            c.firestore_base_url.as_deref(),
            Some("http://127.0.0.1:9/v1")
        );
        let e = Config::from_lookup(env(&[
            ("OTP_HMAC_SECRET", SECRET),
            ("FIRESTORE_BASE_URL", "firestore.googleapis.com"),
        ]))
        .unwrap_err();
        assert!(e.0.contains("FIRESTORE_BASE_URL"), "{e}");
    }

    #[test]
    fn names_the_missing_secret() {
        let e = Config::from_lookup(env(&[
            ("OTP_HMAC_SECRET", SECRET),
            ("GATEWAYS", r#"[{"id":"p1","url":"x"}]"#),
        ]))
        .unwrap_err();
        assert!(e.0.contains("p1"), "{e}");
        let e = Config::from_lookup(env(&[])).unwrap_err();
        assert!(e.0.contains("OTP_HMAC_SECRET"));
    }

    #[test]
    fn short_secrets_are_refused() {
        let e = Config::from_lookup(env(&[("OTP_HMAC_SECRET", "0123456789abcdef")])).unwrap_err();
        assert!(e.0.contains("at least 32"), "{e}");
        let e = Config::from_lookup(env(&[
            ("OTP_HMAC_SECRET", SECRET),
            ("ADMIN_BOOTSTRAP_KEY", "admin"),
        ]))
        .unwrap_err();
        assert!(e.0.contains("ADMIN_BOOTSTRAP_KEY"), "{e}");
    }

    #[test]
    fn two_gateways_may_not_share_a_secret() {
        let e = Config::from_lookup(env(&[
            ("OTP_HMAC_SECRET", SECRET),
            (
                "GATEWAYS",
                r#"[{"id":"p1","url":"x"},{"id":"p2","url":"y"}]"#,
            ),
            (
                "GATEWAY_SECRETS",
                r#"{"p1":"same-secret","p2":"same-secret"}"#,
            ),
        ]))
        .unwrap_err();
        assert!(e.0.contains("p2") && e.0.contains("same secret"), "{e}");
        assert!(
            !e.0.contains("same-secret"),
            "the secret itself is never in the text"
        );
    }

    #[test]
    fn parse_errors_never_echo_the_value() {
        // A malformed secrets var must not put its content (a secret) into the error.
        let e = Config::from_lookup(env(&[
            ("OTP_HMAC_SECRET", SECRET),
            ("GATEWAY_SECRETS", r#"{"p1": "hunter2-very-secret" oops}"#),
        ]))
        .unwrap_err();
        assert!(
            e.0.contains("GATEWAY_SECRETS") && !e.0.contains("hunter2"),
            "{e}"
        );
        let e = Config::from_lookup(env(&[
            ("OTP_HMAC_SECRET", SECRET),
            ("QUOTA_SHARDS", "many"),
        ]))
        .unwrap_err();
        assert!(e.0.contains("QUOTA_SHARDS") && !e.0.contains("many"));
    }
}
