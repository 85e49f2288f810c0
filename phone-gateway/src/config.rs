//! Gateway configuration: a TOML file plus `PHONE_GATEWAY_*` environment overrides.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("invalid config: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("invalid value for {0}: {1:?}")]
    Env(&'static str, String),
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Sent as `X-Otp-Gateway` on callbacks so the edge knows which secret to use.
    pub gateway_id: String,
    /// Shared secret text (32+ random bytes as hex or base64url). Prefer `secret_file` or the env var.
    pub secret: Option<String>,
    pub secret_file: Option<PathBuf>,
    pub listen: String,
    pub db: PathBuf,
    /// Base URL of the edge; status reports go to `{edge_url}/internal/gateway/status`. Unset = disabled.
    pub edge_url: Option<String>,
    /// This phone's public URL (its tunnel). Set on an enrolled phone, the gateway registers it
    /// with the edge at start-up (`enrol.rs`), so a new tunnel URL needs no redeploy.
    pub public_url: Option<String>,
    /// Default tracing filter (RUST_LOG wins when set).
    pub log: String,
    /// The file the gateway's log lands in (it writes to stderr; runit's svlogd rotates it), whose
    /// last lines the edge may fetch for support (signed `GET /logs`). Unset: Termux's
    /// `$PREFIX/var/log/sv/phone-gateway/current`, where install.sh's log service writes it.
    pub log_file: Option<PathBuf>,
    pub auth: AuthConfig,
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub queue: QueueConfig,
    pub sender: SenderConfig,
    pub pacing: PacingConfig,
    pub fair_share: FairShareConfig,
    pub kill_switch: KillSwitchConfig,
    pub reports: ReportsConfig,
    pub inbound: InboundConfig,
    /// Per-SIM daily caps, distinct-recipient caps and rests (`budget.rs`).
    pub budget: BudgetConfig,
    /// Battery, network and storage readings (`device.rs`).
    pub device: DeviceConfig,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("gateway_id", &self.gateway_id)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("listen", &self.listen)
            .field("db", &self.db)
            .field("edge_url", &self.edge_url)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Accepted clock skew either side, seconds. Nonces are kept 2 x this.
    pub window_secs: u64,
    pub max_body_bytes: usize,
}

/// Limits that keep a hostile client from tying the phone up (see README, "Connections").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// A connection must deliver a request's headers this soon (also closes idle keep-alives).
    pub header_timeout_ms: u64,
    /// A signed request's whole body must arrive this soon after its headers.
    pub body_timeout_ms: u64,
    /// Connections served at once; lowered at start-up to fit the open-file limit.
    pub max_connections: usize,
}

/// TLS on the listener: both files, or neither (plain HTTP, e.g. behind cloudflared).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain. Relative paths are relative to the database directory.
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    Full,
    Normal,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Unfinished messages allowed before `queue_full`.
    pub max_depth: u64,
    /// Finished messages are deleted after this long.
    pub retention_secs: u64,
    pub cleanup_interval_secs: u64,
    /// FULL (default): a commit survives power loss, so an acknowledged message is never lost.
    pub synchronous: Synchronous,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SenderConfig {
    /// `termux-sms-send` or a path to it; looked up on PATH.
    pub program: String,
    pub timeout_secs: u64,
    /// Total attempts per message, the first included.
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// SIM slots to use (`-s`). Empty = the phone's default SIM, no `-s` unless a request names a slot.
    pub sim_slots: Vec<u8>,
    /// Slot for messages that name none; unset = round-robin over `sim_slots`.
    pub default_sim: Option<u8>,
    /// A timed-out `termux-sms-send` may still have sent; by default it is not retried (see docs).
    pub retry_on_timeout: bool,
    /// Log instead of running the program (development only).
    pub simulate: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PacingConfig {
    /// Sends per SIM per window (Android allows 30 per 30 min per app by default).
    pub per_sim_limit: u32,
    /// Sends for the whole phone per window (Android's limit is per app); 0 = no phone-wide limit.
    pub phone_limit: u32,
    pub window_secs: u64,
    /// Fixed gap between two sends, plus a random 0..jitter_ms.
    pub min_delay_ms: u64,
    pub jitter_ms: u64,
}

/// How the pacing window is shared between tenants (see `fair_share`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FairShareConfig {
    /// The most of the window one tenant may take, in percent (100 = no ceiling: a phone that
    /// serves one tenant).
    pub tenant_max_percent: u32,
}

impl Default for FairShareConfig {
    fn default() -> Self {
        FairShareConfig {
            tenant_max_percent: 80,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KillSwitchConfig {
    /// Present = stop sending. Relative paths are relative to the database directory.
    pub file: PathBuf,
    /// Trip when more sends than this were started in the last 60 s.
    pub max_sends_per_minute: u32,
    /// Trip after this many failed attempts in a row.
    pub max_consecutive_failures: u32,
    /// Trip when at least this share of the last `failure_window` attempts failed (0 = off): failures
    /// mixed with successes (a SIM that is being throttled) never make a run.
    pub max_failure_ratio: f64,
    pub failure_window: u32,
}

/// What a SIM may send beyond the pacing window: its plan's daily cap and distinct recipients per
/// month, and how long it rests after a limit or a run of failures. `[budget]` holds the defaults
/// for every SIM; `[[budget.sims]]` entries override them for one slot.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// Sends per calendar day (the plan's time zone); 0 = no cap.
    pub daily_limit: u32,
    /// Distinct recipients per plan period; 0 = no cap.
    pub monthly_recipients: u32,
    /// Day of the month (1-28) the plan period starts again.
    pub plan_reset_day: u8,
    /// The plan's time zone, as minutes east of UTC: when its days and months start.
    pub utc_offset_minutes: i32,
    /// A SIM that got LIMIT_EXCEEDED rests this long (Android's window is 30 minutes).
    pub limit_rest_secs: u64,
    /// Generic failures in a row on one SIM before it rests (0 = never).
    pub generic_failures_to_rest: u32,
    /// How long such a SIM rests (it is often out of credit: an operator must look).
    pub generic_rest_secs: u64,
    pub sims: Vec<SimBudget>,
}

/// One slot's own caps; unset fields take `[budget]`'s.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimBudget {
    pub slot: u8,
    pub daily_limit: Option<u32>,
    pub monthly_recipients: Option<u32>,
    pub plan_reset_day: Option<u8>,
}

/// The Termux:API programs the gateway reads the phone's state with. An empty program name turns
/// that reading off.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeviceConfig {
    pub interval_secs: u64,
    pub timeout_secs: u64,
    pub battery_program: String,
    pub telephony_program: String,
    pub cellinfo_program: String,
}

/// Received SMS: the inbox is read with `termux-sms-list` and new messages go to the edge.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InboundConfig {
    /// Off by default: it needs Termux:API's SMS read permission, and an `edge_url`.
    pub enabled: bool,
    /// `termux-sms-list` or a path to it; looked up on PATH.
    pub program: String,
    pub poll_secs: u64,
    /// Messages asked for per call (`-l`); older pages follow (`-o`) while all are new.
    pub page_size: u32,
    pub max_pages: u32,
    pub timeout_secs: u64,
    /// On the very first start, forward what the inbox already holds (default: only what comes).
    pub forward_existing: bool,
    /// Forwarded SMS are forgotten after this long (their ids stay covered by the cursor).
    pub retention_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    pub timeout_secs: u64,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            gateway_id: "phone-1".into(),
            secret: None,
            secret_file: None,
            listen: "127.0.0.1:8787".into(),
            db: PathBuf::from("phone-gateway.db"),
            edge_url: None,
            public_url: None,
            log: "info".into(),
            log_file: None,
            auth: AuthConfig::default(),
            server: ServerConfig::default(),
            tls: TlsConfig::default(),
            queue: QueueConfig::default(),
            sender: SenderConfig::default(),
            pacing: PacingConfig::default(),
            fair_share: FairShareConfig::default(),
            kill_switch: KillSwitchConfig::default(),
            reports: ReportsConfig::default(),
            inbound: InboundConfig::default(),
            budget: BudgetConfig::default(),
            device: DeviceConfig::default(),
        }
    }
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig {
            daily_limit: 0,
            monthly_recipients: 0,
            plan_reset_day: 1,
            utc_offset_minutes: 0,
            limit_rest_secs: 1800,
            generic_failures_to_rest: 3,
            generic_rest_secs: 3600,
            sims: Vec::new(),
        }
    }
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            interval_secs: 60,
            timeout_secs: 15,
            battery_program: "termux-battery-status".into(),
            telephony_program: "termux-telephony-deviceinfo".into(),
            cellinfo_program: "termux-telephony-cellinfo".into(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            window_secs: otp_shared::wire::DEFAULT_WINDOW_SECS,
            max_body_bytes: 64 * 1024,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_timeout_ms: 10_000,
            body_timeout_ms: 10_000,
            max_connections: 128,
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_depth: 100_000,
            retention_secs: 7 * 24 * 3600,
            cleanup_interval_secs: 600,
            synchronous: Synchronous::Full,
        }
    }
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            program: "termux-sms-send".into(),
            timeout_secs: 60,
            max_attempts: 3,
            backoff_base_ms: 5_000,
            backoff_max_ms: 300_000,
            sim_slots: Vec::new(),
            default_sim: None,
            retry_on_timeout: false,
            simulate: false,
        }
    }
}

impl Default for PacingConfig {
    fn default() -> Self {
        PacingConfig {
            per_sim_limit: 25,
            phone_limit: 25,
            window_secs: 1800,
            min_delay_ms: 3_000,
            jitter_ms: 2_000,
        }
    }
}

impl Default for KillSwitchConfig {
    fn default() -> Self {
        KillSwitchConfig {
            file: PathBuf::from("STOP"),
            max_sends_per_minute: 20,
            max_consecutive_failures: 5,
            max_failure_ratio: 0.5,
            failure_window: 20,
        }
    }
}

impl Default for InboundConfig {
    fn default() -> Self {
        InboundConfig {
            enabled: false,
            program: "termux-sms-list".into(),
            poll_secs: 10,
            page_size: 50,
            max_pages: 10,
            timeout_secs: 30,
            forward_existing: false,
            retention_secs: 7 * 24 * 3600,
        }
    }
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            timeout_secs: 15,
            backoff_base_ms: 1_000,
            backoff_max_ms: 300_000,
        }
    }
}

/// Reads the file (if given), applies env overrides from `env`, validates.
pub fn load(
    path: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut cfg = match path {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).map_err(|e| ConfigError::Read(p.to_path_buf(), e))?;
            toml::from_str(&text)?
        }
        None => Config::default(),
    };
    apply_env(&mut cfg, env)?;
    if cfg.secret.is_none() {
        if let Some(file) = &cfg.secret_file {
            let text =
                std::fs::read_to_string(file).map_err(|e| ConfigError::Read(file.clone(), e))?;
            cfg.secret = Some(text.trim().to_string());
        }
    }
    validate(&mut cfg)?;
    Ok(cfg)
}

fn apply_env(cfg: &mut Config, env: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    fn parse<T: std::str::FromStr>(name: &'static str, v: String) -> Result<T, ConfigError> {
        v.trim().parse().map_err(|_| ConfigError::Env(name, v))
    }
    fn flag(name: &'static str, v: String) -> Result<bool, ConfigError> {
        match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" | "" => Ok(false),
            _ => Err(ConfigError::Env(name, v)),
        }
    }
    if let Some(v) = env("PHONE_GATEWAY_SECRET") {
        cfg.secret = Some(v.trim().to_string());
    }
    if let Some(v) = env("PHONE_GATEWAY_SECRET_FILE") {
        cfg.secret_file = Some(v.into());
    }
    if let Some(v) = env("PHONE_GATEWAY_ID") {
        cfg.gateway_id = v;
    }
    if let Some(v) = env("PHONE_GATEWAY_LISTEN") {
        cfg.listen = v;
    }
    if let Some(v) = env("PHONE_GATEWAY_DB") {
        cfg.db = v.into();
    }
    if let Some(v) = env("PHONE_GATEWAY_EDGE_URL") {
        cfg.edge_url = if v.trim().is_empty() { None } else { Some(v) };
    }
    if let Some(v) = env("PHONE_GATEWAY_PUBLIC_URL") {
        cfg.public_url = if v.trim().is_empty() {
            None
        } else {
            Some(v.trim().to_string())
        };
    }
    if let Some(v) = env("PHONE_GATEWAY_LOG") {
        cfg.log = v;
    }
    if let Some(v) = env("PHONE_GATEWAY_LOG_FILE") {
        cfg.log_file = Some(v.into());
    }
    if cfg.log_file.is_none() {
        cfg.log_file =
            env("PREFIX").map(|p| PathBuf::from(p).join("var/log/sv/phone-gateway/current"));
    }
    if let Some(v) = env("PHONE_GATEWAY_SIMULATE") {
        cfg.sender.simulate = flag("PHONE_GATEWAY_SIMULATE", v)?;
    }
    if let Some(v) = env("PHONE_GATEWAY_SMS_PROGRAM") {
        cfg.sender.program = v;
    }
    if let Some(v) = env("PHONE_GATEWAY_KILL_FILE") {
        cfg.kill_switch.file = v.into();
    }
    if let Some(v) = env("PHONE_GATEWAY_INBOUND") {
        cfg.inbound.enabled = flag("PHONE_GATEWAY_INBOUND", v)?;
    }
    if let Some(v) = env("PHONE_GATEWAY_SMS_LIST_PROGRAM") {
        cfg.inbound.program = v;
    }
    if let Some(v) = env("PHONE_GATEWAY_WINDOW_SECS") {
        cfg.auth.window_secs = parse("PHONE_GATEWAY_WINDOW_SECS", v)?;
    }
    Ok(())
}

fn validate(cfg: &mut Config) -> Result<(), ConfigError> {
    let bad = |m: &str| Err(ConfigError::Invalid(m.to_string()));
    match &cfg.secret {
        None => return bad("no secret: set `secret`, `secret_file` or PHONE_GATEWAY_SECRET"),
        Some(s) if otp_shared::wire::Keys::from_secret(s).is_err() => {
            return bad("secret too short: use 32+ random bytes as hex or base64url")
        }
        _ => {}
    }
    if !otp_shared::ids::is_plain_id(&cfg.gateway_id) {
        return bad("gateway_id must be 1-64 characters of A-Z a-z 0-9 _ -");
    }
    if cfg
        .public_url
        .as_deref()
        .is_some_and(|u| !otp_shared::enrol::url_ok(u))
    {
        return bad("public_url must be an http(s) URL without spaces or credentials");
    }
    let srv = &cfg.server;
    if srv.header_timeout_ms == 0 || srv.body_timeout_ms == 0 || srv.max_connections == 0 {
        return bad(
            "server.header_timeout_ms, body_timeout_ms and max_connections must be positive",
        );
    }
    if cfg.sender.max_attempts == 0 {
        return bad("sender.max_attempts must be at least 1");
    }
    if cfg.pacing.per_sim_limit == 0 || cfg.pacing.window_secs == 0 {
        return bad("pacing.per_sim_limit and pacing.window_secs must be positive");
    }
    if !(1..=100).contains(&cfg.fair_share.tenant_max_percent) {
        return bad("fair_share.tenant_max_percent must be 1 to 100");
    }
    if let Some(d) = cfg.sender.default_sim {
        if !cfg.sender.sim_slots.is_empty() && !cfg.sender.sim_slots.contains(&d) {
            return bad("sender.default_sim must be one of sender.sim_slots");
        }
    }
    validate_budget(cfg)?;
    if cfg.device.interval_secs == 0 || cfg.device.timeout_secs == 0 {
        return bad("device.interval_secs and device.timeout_secs must be positive");
    }
    if let Some(url) = &cfg.edge_url {
        if reqwest::Url::parse(url).is_err() {
            return bad("edge_url is not a valid URL");
        }
    }
    if cfg.inbound.enabled && (cfg.inbound.poll_secs == 0 || cfg.inbound.page_size == 0) {
        return bad("inbound.poll_secs and inbound.page_size must be positive");
    }
    if cfg.tls.cert_file.is_some() != cfg.tls.key_file.is_some() {
        return bad("tls.cert_file and tls.key_file go together: set both or neither");
    }
    let dir = cfg
        .db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    for path in [
        Some(&mut cfg.kill_switch.file),
        cfg.tls.cert_file.as_mut(),
        cfg.tls.key_file.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        if path.is_relative() {
            *path = dir.join(&*path);
        }
    }
    Ok(())
}

fn validate_budget(cfg: &Config) -> Result<(), ConfigError> {
    let bad = |m: String| Err(ConfigError::Invalid(m));
    let b = &cfg.budget;
    let days =
        std::iter::once(b.plan_reset_day).chain(b.sims.iter().filter_map(|s| s.plan_reset_day));
    for d in days {
        if !(1..=28).contains(&d) {
            // 29-31 do not exist every month; a plan that renews then renews on the 1st here.
            return bad(format!("budget plan_reset_day {d} must be 1-28"));
        }
    }
    if b.utc_offset_minutes.abs() > 14 * 60 {
        return bad("budget.utc_offset_minutes must be within -840..840".into());
    }
    let mut seen = std::collections::HashSet::new();
    for s in &b.sims {
        if !seen.insert(s.slot) {
            return bad(format!("budget.sims lists slot {} twice", s.slot));
        }
        let slots = &cfg.sender.sim_slots;
        if !slots.is_empty() && !slots.contains(&s.slot) {
            return bad(format!(
                "budget.sims slot {} is not one of sender.sim_slots",
                s.slot
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn file_values_and_env_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.toml");
        std::fs::write(
            &path,
            format!(
                "gateway_id = \"p9\"\nsecret = \"{SECRET}\"\ndb = \"/data/gw.db\"\n[pacing]\nper_sim_limit = 3\nwindow_secs = 2\n[sender]\nsim_slots = [0, 1]\n"
            ),
        )
        .unwrap();
        let cfg = load(
            Some(&path),
            env_of(&[
                ("PHONE_GATEWAY_LISTEN", "0.0.0.0:9000"),
                ("PHONE_GATEWAY_SIMULATE", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.gateway_id, "p9");
        assert_eq!(cfg.listen, "0.0.0.0:9000");
        assert!(cfg.sender.simulate);
        assert_eq!(cfg.pacing.per_sim_limit, 3);
        assert_eq!(cfg.pacing.min_delay_ms, 3_000);
        assert_eq!(cfg.sender.sim_slots, vec![0, 1]);
        assert_eq!(cfg.kill_switch.file, PathBuf::from("/data/STOP"));
        assert!(!format!("{cfg:?}").contains(SECRET));
    }

    #[test]
    fn secret_is_required_and_must_be_long() {
        assert!(matches!(
            load(None, env_of(&[])),
            Err(ConfigError::Invalid(_))
        ));
        assert!(matches!(
            load(None, env_of(&[("PHONE_GATEWAY_SECRET", "short")])),
            Err(ConfigError::Invalid(_))
        ));
        assert!(load(None, env_of(&[("PHONE_GATEWAY_SECRET", SECRET)])).is_ok());
        let bad_id = env_of(&[
            ("PHONE_GATEWAY_SECRET", SECRET),
            ("PHONE_GATEWAY_ID", "phone 1"),
        ]);
        assert!(matches!(load(None, bad_id), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn unknown_keys_and_bad_env_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.toml");
        std::fs::write(&path, "secrett = \"x\"\n").unwrap();
        assert!(matches!(
            load(Some(&path), env_of(&[])),
            Err(ConfigError::Parse(_))
        ));
        let err = load(
            None,
            env_of(&[
                ("PHONE_GATEWAY_SECRET", SECRET),
                ("PHONE_GATEWAY_SIMULATE", "maybe"),
            ]),
        );
        assert!(matches!(err, Err(ConfigError::Env(..))));
    }

    #[test]
    fn per_sim_budgets_override_the_defaults_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.toml");
        let write = |text: &str| {
            std::fs::write(&path, format!("secret = \"{SECRET}\"\n{text}")).unwrap();
        };
        write(
            "[sender]\nsim_slots = [0, 1]\n[budget]\ndaily_limit = 100\n[[budget.sims]]\nslot = 1\ndaily_limit = 20\nmonthly_recipients = 99\nplan_reset_day = 15\n",
        );
        let cfg = load(Some(&path), env_of(&[])).unwrap();
        assert_eq!(cfg.budget.daily_limit, 100);
        assert_eq!(cfg.budget.sims[0].monthly_recipients, Some(99));
        assert_eq!(cfg.budget.generic_failures_to_rest, 3);
        for bad in [
            "[budget]\nplan_reset_day = 31\n",
            "[sender]\nsim_slots = [0]\n[[budget.sims]]\nslot = 1\n",
            "[[budget.sims]]\nslot = 0\n[[budget.sims]]\nslot = 0\n",
        ] {
            write(bad);
            assert!(
                matches!(load(Some(&path), env_of(&[])), Err(ConfigError::Invalid(_))),
                "{bad}"
            );
        }
    }
}
