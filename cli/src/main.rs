//! `otpctl`: the admin API from a shell. Prints JSON; exits 1 with the API's error code on failure.

use std::io::{BufRead, Write};

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(name = "otpctl", version, about = "Administer an otp-sms deployment")]
struct Cli {
    /// Base URL of the API.
    #[arg(long, env = "OTP_URL")]
    url: String,
    /// An admin key (every command but those of a tenant's own: webhooks, messages).
    #[arg(long, env = "OTP_ADMIN_KEY", hide_env_values = true)]
    key: Option<String>,
    /// A tenant's API key, for the tenant's own commands (webhooks, messages).
    #[arg(long, env = "OTP_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Tenants: list, create, get, update, suspend, resume, renew, rotate-key, delete.
    #[command(subcommand)]
    Tenants(Tenants),
    /// API keys: create another admin key (shown once), list admin keys, revoke any key.
    #[command(subcommand)]
    Keys(Keys),
    /// Analytics over a date range: sends, verifications, conversion and delivery rates, errors,
    /// latency; by day, week or month also end users (active, new, returning) and a weekday x hour
    /// heatmap of sends.
    Analytics {
        #[arg(long, value_parser = ["hour", "day", "week", "month"], default_value = "day")]
        granularity: String,
        /// First date (or time), ISO 8601.
        #[arg(long)]
        from: String,
        /// Last date (or time), ISO 8601.
        #[arg(long)]
        to: String,
        #[arg(long)]
        tenant: Option<String>,
        /// Print only the weekday x hour heatmap of sends (UTC) as a text table.
        #[arg(long)]
        heatmap: bool,
    },
    /// Conversion (codes sent, delivered, verified; time to verify p50/p90) by SIM, phone,
    /// country, prefix, template or tenant; by SIM or phone, each phone's conversion standing.
    Conversion {
        #[arg(long, value_parser = ["sim", "gateway", "country", "prefix", "template", "tenant"], default_value = "sim")]
        by: String,
        #[arg(long, value_parser = ["hour", "day", "month"], default_value = "day")]
        granularity: String,
        /// First date (or time), ISO 8601; default today.
        #[arg(long)]
        from: Option<String>,
        /// Last date (or time), ISO 8601; default today.
        #[arg(long)]
        to: Option<String>,
        /// One tenant's figures instead of the service's.
        #[arg(long)]
        tenant: Option<String>,
        /// Most rows (1 to 500).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Phones: live state, health-check history, and each phone's own kill switch.
    #[command(subcommand)]
    Gateways(Gateways),
    /// Run the scheduled job now (notices, expiry, retention, gateway checks, and the fleet's
    /// minute: stuck messages, canaries, phone standings, alerts).
    Cron,
    /// Usage counts, global or for one tenant.
    Usage {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// The audit log, newest first.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Stop (on) or restart (off) sending, globally or for one tenant.
    KillSwitch {
        #[arg(value_parser = ["on", "off"])]
        state: String,
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Geo permissions: the service-wide relaxations of the high-risk range deny, or one
    /// tenant's allowlist and relaxations.
    #[command(subcommand)]
    Geo(Geo),
    /// The fraud guard: a tenant's level, its blocks (show), lifting them.
    #[command(subcommand)]
    Fraud(Fraud),
    /// Back up every collection to a JSON-lines file.
    Export {
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Restore a JSON-lines backup.
    Import {
        #[arg(long = "in")]
        input: std::path::PathBuf,
    },
    /// The scheduled backups in R2: list, take one now, show a manifest, restore a day.
    #[command(subcommand)]
    Backups(Backups),
    /// A tenant's webhook endpoints, their deliveries and replays (with OTP_API_KEY).
    #[command(subcommand)]
    Webhooks(Webhooks),
    /// A tenant's messages, newest first (with OTP_API_KEY); --inbound for the replies it got.
    Messages {
        #[arg(long)]
        inbound: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Inbound SMS of a tenant, or (without --tenant) those no tenant could be found for.
    Inbound {
        #[arg(long)]
        tenant: Option<String>,
    },
    /// A tenant's opt-out list: list, add, remove.
    #[command(subcommand)]
    Optouts(Optouts),
    /// Operator alerts: where they go, the incidents, a test.
    #[command(subcommand)]
    Alerts(Alerts),
    /// Prometheus metrics of the service, or of one phone (--gateway).
    Metrics {
        #[arg(long)]
        gateway: Option<String>,
    },
    /// The exactly-once check of the last day's messages: how they ended (sent, failed, expired,
    /// pending), violations (sent twice, failed without a reason, never final) and the second
    /// sends each phone refused. Exits 1 on any violation.
    Invariants,
}

#[derive(Subcommand)]
enum Webhooks {
    List,
    /// Register an endpoint; prints its signing secret (shown once).
    Create {
        #[arg(long)]
        url: String,
        /// Event types, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    Get {
        id: String,
    },
    Update {
        id: String,
        #[arg(long)]
        url: Option<String>,
        #[arg(long, value_delimiter = ',')]
        events: Vec<String>,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        #[arg(long)]
        disable: bool,
    },
    Delete {
        id: String,
    },
    /// Deliveries with every attempt, newest first.
    Deliveries {
        id: String,
        #[arg(long, value_parser = ["pending", "delivered", "failed"])]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Send deliveries again: these event ids, or every failed one since a time.
    Replay {
        id: String,
        #[arg(long = "event")]
        events: Vec<String>,
        #[arg(long, required_unless_present = "events")]
        since: Option<String>,
    },
}

#[derive(Subcommand)]
enum Optouts {
    List {
        #[arg(long)]
        tenant: String,
    },
    Add {
        #[arg(long)]
        tenant: String,
        phone: String,
    },
    /// Remove an entry by its id (as `list` shows it).
    Remove { id: String },
}

#[derive(Subcommand)]
enum Alerts {
    /// The channels and the latest incidents.
    Get,
    /// Set the channels; --no-phone / --no-webhook / --no-emails remove one.
    Set {
        #[arg(long, conflicts_with = "no_phone")]
        phone: Option<String>,
        #[arg(long)]
        no_phone: bool,
        #[arg(long, conflicts_with = "no_webhook")]
        webhook_url: Option<String>,
        #[arg(long)]
        no_webhook: bool,
        /// Email recipients, comma separated (replaces the list).
        #[arg(long, conflicts_with = "no_emails", value_delimiter = ',')]
        emails: Option<Vec<String>>,
        #[arg(long)]
        no_emails: bool,
    },
    /// Send a test alert to every channel.
    Test,
}

#[derive(Subcommand)]
enum Geo {
    /// The high-risk ranges and which are relaxed for every tenant.
    Show,
    /// Relax these ranges for every tenant (comma separated; empty: deny them all again).
    Set {
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        allowed_ranges: Vec<String>,
    },
    /// One tenant's geo permissions (each option replaces that list; `--countries ""` allows
    /// every country again).
    Tenant {
        id: String,
        /// ISO 3166 alpha-2 codes, comma separated.
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        countries: Option<Vec<String>>,
        #[arg(long, value_delimiter = ',', num_args = 0..)]
        allowed_ranges: Option<Vec<String>>,
    },
}

#[derive(Subcommand)]
enum Fraud {
    /// A tenant's level, blocks in force and busiest prefixes.
    Show { tenant: String },
    /// Set a tenant's level (off, standard, strict).
    Level {
        tenant: String,
        #[arg(value_parser = ["off", "standard", "strict"])]
        level: String,
    },
    /// Lift one block (`--key p:+33612`) or all of a tenant's.
    Lift {
        tenant: String,
        #[arg(long)]
        key: Option<String>,
    },
}

/// A comma-separated list as given, without empty items (`--countries ""` is an empty list).
fn list(items: Vec<String>) -> Vec<String> {
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[derive(Subcommand)]
enum Keys {
    /// A new admin key, shown once.
    Create {
        #[arg(long, default_value = "otpctl")]
        label: String,
        /// owner (default), operator, support or billing.
        #[arg(long)]
        role: Option<String>,
        /// The key stops working after this many days (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Admin keys: prefix, label, role, status, end time (never the key).
    List,
    /// Stop a key (admin or tenant) by its prefix, the part after `otp_sk_`/`otp_ak_`.
    Revoke { prefix: String },
    /// Replace an admin key by a new one of the same role (shown once).
    Rotate {
        prefix: String,
        /// The old key works this many seconds more (default: it stops now).
        #[arg(long)]
        grace_secs: Option<u32>,
    },
    /// Another key for a tenant, limited to some scopes (shown once).
    CreateTenantKey {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "otpctl")]
        label: String,
        /// Comma-separated: send, verify, read, manage (default: all).
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
    },
}

#[derive(Subcommand)]
enum Gateways {
    /// Every phone now: reachable, queue, pacing capacity, kill switch, battery, signal, storage,
    /// each SIM's budgets and rest, recent sends, why it is routed last, a missed canary, open alerts.
    Status,
    /// Health checks recorded by the scheduled job, newest first.
    Checks {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Set or clear one phone's own kill switch (a signed command to the phone).
    KillSwitch {
        id: String,
        #[arg(long, conflicts_with = "clear", required_unless_present = "clear")]
        set: bool,
        #[arg(long)]
        clear: bool,
        #[arg(long)]
        reason: Option<String>,
    },
    /// The last lines of one phone's log (fetched signed from the phone; numbers masked).
    Logs {
        id: String,
        #[arg(long, default_value_t = 50)]
        lines: usize,
    },
    /// A one-time enrolment token (shown once) and the command a phone runs to join the fleet.
    EnrolToken {
        /// The id the phone gets (default: a generated one).
        #[arg(long)]
        id: Option<String>,
        #[arg(long, default_value = "")]
        label: String,
        /// How long the token works (60 s to 7 days; default 1 hour).
        #[arg(long)]
        ttl_secs: Option<u64>,
    },
    /// Enrolment tokens (by hash prefix): open, used, expired or revoked.
    EnrolTokens,
    /// Revoke an enrolment token no phone has used (ID: its hash prefix, as `enrol-tokens` lists it).
    RevokeToken { id: String },
    /// Phones that enrolled themselves: URL, numbers, version, status (never a key).
    Enrolled,
    /// Take an enrolled phone out of the fleet for good; its keys are erased.
    Retire { id: String },
    /// Give an enrolled phone a new key (pushed to it signed; the old one works 10 more minutes).
    RotateKey { id: String },
}

#[derive(Subcommand)]
enum Backups {
    /// The days in the backup bucket (R2), newest first, and whether each is complete.
    List,
    /// Take today's backup now (the scheduled job takes one a day by itself).
    Run,
    /// A day's manifest: documents per collection, parts and their SHA-256.
    Show { day: String },
    /// Write a day's backup back into the store, part by part, with progress.
    Restore { day: String },
}

#[derive(Subcommand)]
enum Tenants {
    List,
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        quota: i64,
        #[arg(long)]
        expires: Option<String>,
        #[arg(long)]
        contact_phone: Option<String>,
        /// Settings as JSON, e.g. '{"word_count":2}'.
        #[arg(long)]
        settings: Option<String>,
    },
    Get {
        id: String,
    },
    Update {
        id: String,
        #[arg(long)]
        quota: Option<i64>,
        #[arg(long)]
        expires: Option<String>,
        #[arg(long)]
        contact_phone: Option<String>,
        #[arg(long)]
        settings: Option<String>,
    },
    Suspend {
        id: String,
    },
    Resume {
        id: String,
    },
    Renew {
        id: String,
        #[arg(long)]
        quota: i64,
        #[arg(long)]
        expires: Option<String>,
    },
    RotateKey {
        id: String,
        #[arg(long, default_value_t = 86_400)]
        grace_secs: i64,
    },
    Delete {
        id: String,
    },
}

struct Api {
    url: String,
    key: String,
    http: reqwest::blocking::Client,
}

impl Api {
    /// The same deployment with another key.
    fn with_key(&self, key: &str) -> Api {
        Api {
            url: self.url.clone(),
            key: key.to_string(),
            http: self.http.clone(),
        }
    }

    /// A text answer (metrics), or the API's error.
    fn text(&self, path: &str) -> Result<String, String> {
        let resp = self
            .http
            .get(format!("{}{}", self.url.trim_end_matches('/'), path))
            .bearer_auth(&self.key)
            .send()
            .map_err(|e| format!("request failed: {e}"))?;
        let ok = resp.status().is_success();
        let body = resp.text().map_err(|e| format!("unreadable answer: {e}"))?;
        if ok {
            return Ok(body);
        }
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        Err(format!(
            "{}: {}",
            v["error"]["code"].as_str().unwrap_or("error"),
            v["error"]["message"].as_str().unwrap_or("")
        ))
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(m, format!("{}{}", self.url.trim_end_matches('/'), path))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().map_err(|e| format!("request failed: {e}"))?;
        let v: Value = resp.json().map_err(|e| format!("unreadable answer: {e}"))?;
        if v["success"] == true {
            Ok(v["data"].clone())
        } else {
            Err(format!(
                "{}: {}",
                v["error"]["code"].as_str().unwrap_or("error"),
                v["error"]["message"].as_str().unwrap_or("")
            ))
        }
    }
}

fn settings(raw: &Option<String>) -> Result<Option<Value>, String> {
    raw.as_deref()
        .map(|s| serde_json::from_str(s).map_err(|e| format!("--settings is not JSON: {e}")))
        .transpose()
}

fn enc(s: &str) -> String {
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

fn run(cli: Cli) -> Result<Value, String> {
    let base = Api {
        url: cli.url,
        key: String::new(),
        http: reqwest::blocking::Client::new(),
    };
    // A tenant's own commands take its API key; every other one an admin key.
    if matches!(cli.cmd, Cmd::Webhooks(_) | Cmd::Messages { .. }) {
        let key = cli
            .api_key
            .ok_or("this command needs a tenant key: --api-key or OTP_API_KEY")?;
        return tenant_run(&base.with_key(&key), cli.cmd);
    }
    let key = cli
        .key
        .ok_or("this command needs an admin key: --key or OTP_ADMIN_KEY")?;
    let api = base.with_key(&key);
    match cli.cmd {
        Cmd::Tenants(t) => match t {
            Tenants::List => {
                let mut all = Vec::new();
                let mut cursor: Option<String> = None;
                loop {
                    let q = cursor
                        .as_deref()
                        .map(|c| format!("&cursor={}", enc(c)))
                        .unwrap_or_default();
                    let page = api.call("GET", &format!("/v1/admin/tenants?limit=200{q}"), None)?;
                    all.extend(page["items"].as_array().cloned().unwrap_or_default());
                    match page["next_cursor"].as_str() {
                        Some(c) => cursor = Some(c.to_string()),
                        None => break,
                    }
                }
                Ok(Value::Array(all))
            }
            Tenants::Create {
                name,
                quota,
                expires,
                contact_phone,
                settings: s,
            } => {
                let mut body = json!({"name": name, "quota": quota});
                if let Some(e) = expires {
                    body["expires_at"] = json!(e);
                }
                if let Some(p) = contact_phone {
                    body["contact_phone"] = json!(p);
                }
                if let Some(s) = settings(&s)? {
                    body["settings"] = s;
                }
                api.call("POST", "/v1/admin/tenants", Some(body))
            }
            Tenants::Get { id } => api.call("GET", &format!("/v1/admin/tenants/{id}"), None),
            Tenants::Update {
                id,
                quota,
                expires,
                contact_phone,
                settings: s,
            } => {
                let mut body = json!({});
                if let Some(q) = quota {
                    body["quota"] = json!(q);
                }
                if let Some(e) = expires {
                    body["expires_at"] = json!(e);
                }
                if let Some(p) = contact_phone {
                    body["contact_phone"] = json!(p);
                }
                if let Some(s) = settings(&s)? {
                    body["settings"] = s;
                }
                api.call("PATCH", &format!("/v1/admin/tenants/{id}"), Some(body))
            }
            Tenants::Suspend { id } => {
                api.call("POST", &format!("/v1/admin/tenants/{id}/suspend"), None)
            }
            Tenants::Resume { id } => {
                api.call("POST", &format!("/v1/admin/tenants/{id}/resume"), None)
            }
            Tenants::Renew { id, quota, expires } => api.call(
                "POST",
                &format!("/v1/admin/tenants/{id}/renew"),
                Some(json!({"quota": quota, "expires_at": expires})),
            ),
            Tenants::RotateKey { id, grace_secs } => api.call(
                "POST",
                &format!("/v1/admin/tenants/{id}/rotate-key"),
                Some(json!({"grace_secs": grace_secs})),
            ),
            Tenants::Delete { id } => api.call("DELETE", &format!("/v1/admin/tenants/{id}"), None),
        },
        Cmd::Keys(Keys::Create {
            label,
            role,
            expires_in_days,
        }) => api.call(
            "POST",
            "/v1/admin/keys",
            Some(json!({"label": label, "role": role, "expires_in_days": expires_in_days})),
        ),
        Cmd::Keys(Keys::Rotate { prefix, grace_secs }) => api.call(
            "POST",
            &format!("/v1/admin/keys/{}/rotate", enc(&prefix)),
            Some(json!({"grace_secs": grace_secs})),
        ),
        Cmd::Keys(Keys::CreateTenantKey {
            tenant,
            label,
            scopes,
        }) => api.call(
            "POST",
            &format!("/v1/admin/tenants/{}/keys", enc(&tenant)),
            Some(json!({"label": label, "scopes": scopes})),
        ),
        Cmd::Keys(Keys::List) => api.call("GET", "/v1/admin/keys", None),
        Cmd::Keys(Keys::Revoke { prefix }) => api.call(
            "POST",
            &format!("/v1/admin/keys/{}/revoke", enc(&prefix)),
            None,
        ),
        Cmd::Analytics {
            granularity,
            from,
            to,
            tenant,
            heatmap,
        } => {
            let t = tenant
                .map(|t| format!("&tenant_id={}", enc(&t)))
                .unwrap_or_default();
            let d = api.call(
                "GET",
                &format!(
                    "/v1/admin/analytics?granularity={granularity}&from={}&to={}{t}",
                    enc(&from),
                    enc(&to)
                ),
                None,
            )?;
            if heatmap {
                Ok(Value::String(heatmap_table(&d["total"]["heatmap"])))
            } else {
                Ok(d)
            }
        }
        Cmd::Conversion {
            by,
            granularity,
            from,
            to,
            tenant,
            limit,
        } => {
            let mut q = format!("by={by}&granularity={granularity}&limit={limit}");
            for (k, v) in [("from", from), ("to", to), ("tenant_id", tenant)] {
                if let Some(v) = v {
                    q.push_str(&format!("&{k}={}", enc(&v)));
                }
            }
            api.call("GET", &format!("/v1/admin/conversion?{q}"), None)
        }
        Cmd::Gateways(Gateways::Status) => api.call("GET", "/v1/admin/gateways", None),
        Cmd::Gateways(Gateways::Checks { limit }) => api.call(
            "GET",
            &format!("/v1/admin/gateways/checks?limit={limit}"),
            None,
        ),
        Cmd::Gateways(Gateways::KillSwitch {
            id,
            set,
            clear: _,
            reason,
        }) => api.call(
            "POST",
            &format!("/v1/admin/gateways/{}/kill-switch", enc(&id)),
            Some(json!({"engaged": set, "reason": reason})),
        ),
        Cmd::Gateways(Gateways::Logs { id, lines }) => {
            let d = api.call(
                "GET",
                &format!("/v1/admin/gateways/{}/logs?lines={lines}", enc(&id)),
                None,
            )?;
            let text: String = d["lines"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l.as_str())
                .map(|l| format!("{l}\n"))
                .collect();
            Ok(Value::String(text))
        }
        Cmd::Backups(b) => match b {
            Backups::List => api.call("GET", "/v1/admin/backups", None),
            Backups::Run => api.call("POST", "/v1/admin/backups/run", None),
            Backups::Show { day } => {
                api.call("GET", &format!("/v1/admin/backups/{}", enc(&day)), None)
            }
            Backups::Restore { day } => restore_day(&api, &day),
        },
        Cmd::Gateways(Gateways::EnrolToken {
            id,
            label,
            ttl_secs,
        }) => api.call(
            "POST",
            "/v1/admin/gateways/enrolments",
            Some(
                json!({"gateway_id": id, "label": label, "ttl_secs": ttl_secs,
                        "edge_url": api.url.trim_end_matches('/')}),
            ),
        ),
        Cmd::Gateways(Gateways::EnrolTokens) => {
            api.call("GET", "/v1/admin/gateways/enrolments", None)
        }
        Cmd::Gateways(Gateways::RevokeToken { id }) => api.call(
            "POST",
            &format!("/v1/admin/gateways/enrolments/{}/revoke", enc(&id)),
            None,
        ),
        Cmd::Gateways(Gateways::Enrolled) => api.call("GET", "/v1/admin/gateways/enrolled", None),
        Cmd::Gateways(Gateways::Retire { id }) => api.call(
            "POST",
            &format!("/v1/admin/gateways/{}/retire", enc(&id)),
            None,
        ),
        Cmd::Gateways(Gateways::RotateKey { id }) => api.call(
            "POST",
            &format!("/v1/admin/gateways/{}/rotate-key", enc(&id)),
            None,
        ),
        Cmd::Cron => api.call("POST", "/v1/admin/cron/run", None),
        Cmd::Usage { tenant } => api.call(
            "GET",
            &format!(
                "/v1/admin/usage{}",
                tenant
                    .map(|t| format!("?tenant_id={}", enc(&t)))
                    .unwrap_or_default()
            ),
            None,
        ),
        Cmd::Audit { limit, tenant } => api.call(
            "GET",
            &format!(
                "/v1/admin/audit?limit={limit}{}",
                tenant
                    .map(|t| format!("&tenant_id={}", enc(&t)))
                    .unwrap_or_default()
            ),
            None,
        ),
        Cmd::KillSwitch { state, tenant } => api.call(
            "POST",
            "/v1/admin/kill-switch",
            Some(json!({"engaged": state == "on", "tenant_id": tenant})),
        ),
        Cmd::Geo(g) => match g {
            Geo::Show => api.call("GET", "/v1/admin/geo", None),
            Geo::Set { allowed_ranges } => api.call(
                "PUT",
                "/v1/admin/geo",
                Some(json!({"allowed_ranges": list(allowed_ranges)})),
            ),
            Geo::Tenant {
                id,
                countries,
                allowed_ranges,
            } => {
                let mut geo = json!({});
                if let Some(c) = countries {
                    geo["allowed_countries"] = json!(list(c));
                }
                if let Some(r) = allowed_ranges {
                    geo["allowed_ranges"] = json!(list(r));
                }
                let t = api.call(
                    "PATCH",
                    &format!("/v1/admin/tenants/{}", enc(&id)),
                    Some(json!({"settings": {"geo": geo}})),
                )?;
                Ok(json!({"id": t["id"], "geo": t["settings"]["geo"]}))
            }
        },
        Cmd::Fraud(f) => match f {
            Fraud::Show { tenant } => api.call(
                "GET",
                &format!("/v1/admin/tenants/{}/fraud", enc(&tenant)),
                None,
            ),
            Fraud::Level { tenant, level } => {
                let t = api.call(
                    "PATCH",
                    &format!("/v1/admin/tenants/{}", enc(&tenant)),
                    Some(json!({"settings": {"fraud_guard": level}})),
                )?;
                Ok(json!({"id": t["id"], "fraud_guard": t["settings"]["fraud_guard"]}))
            }
            Fraud::Lift { tenant, key } => api.call(
                "POST",
                &format!("/v1/admin/tenants/{}/fraud/lift", enc(&tenant)),
                Some(json!({"key": key})),
            ),
        },
        Cmd::Export { out } => export(&api, &out),
        Cmd::Import { input } => import(&api, &input),
        Cmd::Inbound { tenant } => api.call(
            "GET",
            &format!(
                "/v1/admin/inbound{}",
                tenant
                    .map(|t| format!("?tenant_id={}", enc(&t)))
                    .unwrap_or_default()
            ),
            None,
        ),
        Cmd::Optouts(o) => match o {
            Optouts::List { tenant } => api.call(
                "GET",
                &format!("/v1/admin/optouts?tenant_id={}", enc(&tenant)),
                None,
            ),
            Optouts::Add { tenant, phone } => api.call(
                "POST",
                "/v1/admin/optouts",
                Some(json!({"tenant_id": tenant, "phone": phone})),
            ),
            Optouts::Remove { id } => {
                api.call("DELETE", &format!("/v1/admin/optouts/{}", enc(&id)), None)
            }
        },
        Cmd::Alerts(a) => match a {
            Alerts::Get => api.call("GET", "/v1/admin/alerts", None),
            Alerts::Set {
                phone,
                no_phone,
                webhook_url,
                no_webhook,
                emails,
                no_emails,
            } => {
                let mut body = json!({});
                if no_phone {
                    body["phone"] = Value::Null;
                } else if let Some(p) = phone {
                    body["phone"] = json!(p);
                }
                if no_webhook {
                    body["webhook_url"] = Value::Null;
                } else if let Some(u) = webhook_url {
                    body["webhook_url"] = json!(u);
                }
                if no_emails {
                    body["emails"] = json!([]);
                } else if let Some(e) = emails {
                    body["emails"] = json!(e);
                }
                api.call("PATCH", "/v1/admin/alerts", Some(body))
            }
            Alerts::Test => api.call("POST", "/v1/admin/alerts/test", None),
        },
        Cmd::Metrics { gateway } => {
            let path = match gateway {
                Some(g) => format!("/v1/admin/gateways/{}/metrics", enc(&g)),
                None => "/v1/admin/metrics".into(),
            };
            api.text(&path).map(Value::String)
        }
        Cmd::Invariants => {
            let v = invariants(&api.text("/v1/admin/metrics")?);
            if v["ok"] == true {
                Ok(v)
            } else {
                Err(format!("exactly-once is broken: {v}"))
            }
        }
        Cmd::Webhooks(_) | Cmd::Messages { .. } => unreachable!("tenant commands run above"),
    }
}

/// The exactly-once families of the metrics text, as JSON (see `otpctl invariants`).
fn invariants(metrics: &str) -> Value {
    let mut out = serde_json::json!({"final": {}, "violations": {}, "phone_duplicates": {}});
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        let Some((name, labels)) = series.split_once('{') else {
            continue;
        };
        let label = labels
            .trim_end_matches('}')
            .split_once("=\"")
            .map(|(_, v)| v.trim_end_matches('"').to_string())
            .unwrap_or_default();
        let section = match name {
            "otp_messages_final" => "final",
            "otp_messages_invariant_violations" => "violations",
            "otp_gateway_duplicate_sends_total" => "phone_duplicates",
            _ => continue,
        };
        out[section][label] = value.into();
    }
    let broken: u64 = out["violations"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    out["ok"] = (broken == 0 && out["final"].as_object().is_some_and(|m| !m.is_empty())).into();
    out
}

/// The commands run with a tenant's own key.
fn tenant_run(api: &Api, cmd: Cmd) -> Result<Value, String> {
    match cmd {
        Cmd::Messages { inbound, limit } => api.call(
            "GET",
            &format!(
                "/v1/messages?limit={limit}&direction={}",
                if inbound { "inbound" } else { "outbound" }
            ),
            None,
        ),
        Cmd::Webhooks(w) => match w {
            Webhooks::List => api.call("GET", "/v1/webhooks", None),
            Webhooks::Create {
                url,
                events,
                description,
            } => {
                let mut body = json!({"url": url});
                if !events.is_empty() {
                    body["events"] = json!(events);
                }
                if let Some(d) = description {
                    body["description"] = json!(d);
                }
                api.call("POST", "/v1/webhooks", Some(body))
            }
            Webhooks::Get { id } => api.call("GET", &format!("/v1/webhooks/{}", enc(&id)), None),
            Webhooks::Update {
                id,
                url,
                events,
                enable,
                disable,
            } => {
                let mut body = json!({});
                if let Some(u) = url {
                    body["url"] = json!(u);
                }
                if !events.is_empty() {
                    body["events"] = json!(events);
                }
                if enable || disable {
                    body["enabled"] = json!(enable);
                }
                api.call("PATCH", &format!("/v1/webhooks/{}", enc(&id)), Some(body))
            }
            Webhooks::Delete { id } => {
                api.call("DELETE", &format!("/v1/webhooks/{}", enc(&id)), None)
            }
            Webhooks::Deliveries { id, state, limit } => api.call(
                "GET",
                &format!(
                    "/v1/webhooks/{}/deliveries?limit={limit}{}",
                    enc(&id),
                    state.map(|s| format!("&state={s}")).unwrap_or_default()
                ),
                None,
            ),
            Webhooks::Replay { id, events, since } => {
                let body = if events.is_empty() {
                    json!({"since": since})
                } else {
                    json!({"event_ids": events})
                };
                api.call(
                    "POST",
                    &format!("/v1/webhooks/{}/replay", enc(&id)),
                    Some(body),
                )
            }
        },
        _ => Err("not a tenant command".into()),
    }
}

fn spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {pos} documents").expect("template"),
    );
    bar.set_message(what.to_string());
    bar
}

fn export(api: &Api, out: &std::path::Path) -> Result<Value, String> {
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?,
    );
    let collections = api.call("GET", "/v1/admin/export", None)?["collections"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let bar = spinner("exporting");
    let mut n = 0u64;
    for c in collections {
        let c = c.as_str().unwrap_or_default().to_string();
        let mut cursor: Option<String> = None;
        loop {
            let q = cursor
                .as_deref()
                .map(|c| format!("&cursor={}", enc(c)))
                .unwrap_or_default();
            let page = api.call(
                "GET",
                &format!("/v1/admin/export?collection={c}&limit=300{q}"),
                None,
            )?;
            for item in page["items"].as_array().into_iter().flatten() {
                writeln!(file, "{item}").map_err(|e| e.to_string())?;
                n += 1;
                bar.set_position(n);
            }
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
    }
    file.flush().map_err(|e| e.to_string())?;
    bar.finish_and_clear();
    Ok(json!({"exported": n, "file": out.display().to_string()}))
}

fn import(api: &Api, input: &std::path::Path) -> Result<Value, String> {
    let file = std::fs::File::open(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let lines: Vec<Value> = std::io::BufReader::new(file)
        .lines()
        .filter_map(|l| l.ok().filter(|l| !l.trim().is_empty()))
        .map(|l| serde_json::from_str(&l).map_err(|e| format!("bad line: {e}")))
        .collect::<Result<_, _>>()?;
    let bar = ProgressBar::new(lines.len() as u64);
    let mut written = 0u64;
    for chunk in lines.chunks(200) {
        let d = api.call("POST", "/v1/admin/import", Some(json!({"items": chunk})))?;
        written += d["written"].as_u64().unwrap_or(0);
        bar.set_position(written);
    }
    bar.finish_and_clear();
    Ok(json!({"imported": written}))
}

/// Restores a day's backup part by part (each checked against the manifest by the edge), with a
/// progress bar over the documents.
fn restore_day(api: &Api, day: &str) -> Result<Value, String> {
    let m = api.call("GET", &format!("/v1/admin/backups/{}", enc(day)), None)?;
    let parts: Vec<Value> = m["parts"].as_array().cloned().unwrap_or_default();
    let bar = ProgressBar::new(m["documents"].as_u64().unwrap_or(0));
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} documents, {msg}").expect("template"),
    );
    let mut restored = 0u64;
    for (i, p) in parts.iter().enumerate() {
        let key = p["key"].as_str().unwrap_or_default();
        bar.set_message(format!("part {}/{}", i + 1, parts.len()));
        let d = api.call(
            "POST",
            &format!("/v1/admin/backups/{}/restore", enc(day)),
            Some(json!({"part": key})),
        )?;
        restored += d["restored"].as_u64().unwrap_or(0);
        bar.set_position(restored);
        // Progress for scripts and logs too (the bar draws only on a terminal).
        eprintln!(
            "restored {key}: {restored}/{} documents",
            bar.length().unwrap_or(0)
        );
    }
    bar.finish_and_clear();
    Ok(json!({"day": day, "parts": parts.len(), "restored": restored, "sha256": m["sha256"]}))
}

fn main() {
    let cli = Cli::parse();
    match run(cli) {
        // Metrics are text: printed as they are.
        Ok(Value::String(text)) => print!("{text}"),
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default()),
        Err(e) => {
            eprintln!("otpctl: {e}");
            std::process::exit(1);
        }
    }
}

/// The heatmap (7 rows Monday..Sunday of 24 hourly counts, UTC) as a text table.
fn heatmap_table(grid: &Value) -> String {
    let mut out = String::from("UTC  ");
    for h in 0..24 {
        out.push_str(&format!("{h:>5}"));
    }
    out.push('\n');
    for (day, row) in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        .iter()
        .zip(grid.as_array().into_iter().flatten())
    {
        out.push_str(&format!("{day:<5}"));
        for v in row.as_array().into_iter().flatten() {
            out.push_str(&format!("{:>5}", v.as_i64().unwrap_or(0)));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invariants_read_the_metrics() {
        let text = "# TYPE otp_messages_final gauge\notp_messages_final{outcome=\"sent\"} 12\n\
            otp_messages_final{outcome=\"failed\"} 1\n\
            otp_messages_invariant_violations{kind=\"sent_twice\"} 0\n\
            otp_gateway_duplicate_sends_total{gateway=\"phone-1\"} 2\n";
        let v = invariants(text);
        assert_eq!(v["final"]["sent"], 12);
        assert_eq!(v["phone_duplicates"]["phone-1"], 2);
        assert_eq!(v["ok"], true);
        let broken = invariants(&text.replace("sent_twice\"} 0", "sent_twice\"} 1"));
        assert_eq!(broken["ok"], false);
    }

    #[test]
    fn parses_commands_and_env() {
        let cli = Cli::try_parse_from([
            "otpctl", "--url", "http://x", "--key", "k", "tenants", "create", "--name", "Acme",
            "--quota", "10",
        ])
        .unwrap();
        assert!(matches!(
            cli.cmd,
            Cmd::Tenants(Tenants::Create { quota: 10, .. })
        ));
        assert!(Cli::try_parse_from([
            "otpctl",
            "--url",
            "u",
            "--key",
            "k",
            "kill-switch",
            "maybe"
        ])
        .is_err());
    }

    #[test]
    fn geo_lists_are_comma_separated_and_may_be_empty() {
        let cli = Cli::try_parse_from([
            "otpctl",
            "--url",
            "u",
            "--key",
            "k",
            "geo",
            "tenant",
            "t_1",
            "--countries",
            "FR,US",
        ])
        .unwrap();
        let Cmd::Geo(Geo::Tenant {
            countries,
            allowed_ranges,
            ..
        }) = cli.cmd
        else {
            panic!("geo tenant");
        };
        assert_eq!(list(countries.unwrap()), ["FR", "US"]);
        assert!(allowed_ranges.is_none());
        let cli = Cli::try_parse_from([
            "otpctl",
            "--url",
            "u",
            "--key",
            "k",
            "geo",
            "set",
            "--allowed-ranges",
            "",
        ])
        .unwrap();
        assert!(
            matches!(cli.cmd, Cmd::Geo(Geo::Set { allowed_ranges }) if list(allowed_ranges.clone()).is_empty())
        );
    }

    #[test]
    fn settings_must_be_json() {
        assert!(settings(&Some("{\"word_count\":2}".into()))
            .unwrap()
            .is_some());
        assert!(settings(&Some("nope".into())).is_err());
    }
}
