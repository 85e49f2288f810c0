//! The phone's half of self-enrolment (see `otp_shared::enrol`):
//! - `phone-gateway enrol --edge URL --token TOKEN`: presents the one-time token, writes the
//!   secret it gets to a file only the user can read, and writes the gateway id, the secret
//!   file and the edge URL into the config (other settings are kept).
//! - `phone-gateway register --url URL`: tells the edge the phone's new public URL, signed with
//!   its key. A gateway with `public_url` set does this itself at start-up (retrying until the
//!   edge answers), so a tunnel whose URL changes only has to restart it with the new URL.

use crate::callback;
use crate::config::Config;
use crate::unix_now;
use otp_shared::enrol::{EnrolRequest, Enrolled, Registration, PATH_ENROL, PATH_REGISTER};
use otp_shared::wire::{Keys, HEADER_REQUEST_ID};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tracing::{info, warn};

/// What `phone-gateway enrol` was asked.
#[derive(Debug, Clone)]
pub struct EnrolArgs {
    pub edge: String,
    pub token: String,
    pub config: PathBuf,
    /// Where the secret goes (default: `gateway.secret` beside the config).
    pub secret_file: Option<PathBuf>,
    pub url: Option<String>,
    pub numbers: BTreeMap<String, String>,
    /// Enrol again even if the config already names a secret file that exists.
    pub force: bool,
}

/// `SLOT=+E164` (or `default=+E164`) from the command line.
pub fn parse_number(s: &str) -> Result<(String, String), String> {
    let (slot, number) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: use SLOT=+E164, e.g. 0=+14155550101"))?;
    Ok((slot.trim().to_string(), number.trim().to_string()))
}

/// The edge's JSON error, as `code: message`.
fn edge_error(status: reqwest::StatusCode, body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match (v["error"]["code"].as_str(), v["error"]["message"].as_str()) {
        (Some(code), Some(msg)) => format!("{code}: {msg}"),
        _ => format!("the edge answered {status}"),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Enrols this phone; returns its id. Nothing is written unless the edge accepted the token.
pub async fn enrol(args: &EnrolArgs) -> Result<String, String> {
    let secret_file = args.secret_file.clone().unwrap_or_else(|| {
        args.config
            .parent()
            .unwrap_or(Path::new("."))
            .join("gateway.secret")
    });
    let existing = std::fs::read_to_string(&args.config).unwrap_or_default();
    if !args.force {
        if let Some(named) = top_level_value(&existing, "secret_file") {
            if Path::new(&named).exists() {
                return Err(format!(
                    "{} is enrolled already (secret_file {named} exists); pass --force to enrol it again",
                    args.config.display()
                ));
            }
        }
    }
    let edge = args.edge.trim_end_matches('/');
    let body = EnrolRequest {
        token: args.token.trim().to_string(),
        url: args.url.clone(),
        numbers: args.numbers.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
    };
    let resp = client()
        .post(format!("{edge}{PATH_ENROL}"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).expect("serialises"))
        .send()
        .await
        .map_err(|e| format!("cannot reach the edge at {edge}: {}", e.without_url()))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(edge_error(status, &text));
    }
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let enrolled: Enrolled =
        serde_json::from_value(v["data"].clone()).map_err(|e| format!("unreadable answer: {e}"))?;
    write_secret(&secret_file, &enrolled.secret)?;
    let mut set = vec![
        ("gateway_id", enrolled.gateway_id.clone()),
        ("secret_file", absolute(&secret_file).display().to_string()),
        ("edge_url", edge.to_string()),
    ];
    if let Some(url) = &args.url {
        set.push(("public_url", url.clone()));
    }
    let text = with_top_level(&existing, &set);
    write_atomic(&args.config, text.as_bytes(), 0o600)?;
    Ok(enrolled.gateway_id)
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Writes `secret` to `path` (mode 0600) atomically: a crash leaves the old file or the new one.
pub fn write_secret(path: &Path, secret: &str) -> Result<(), String> {
    write_atomic(path, format!("{}\n", secret.trim()).as_bytes(), 0o600)
}

fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(d) = dir {
        std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        if let Some(d) = dir {
            std::fs::File::open(d)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(|e| {
        std::fs::remove_file(&tmp).ok();
        format!("cannot write {}: {e}", path.display())
    })
}

/// The value of a top-level `key = "value"` line (before the first table), if any.
fn top_level_value(toml_text: &str, key: &str) -> Option<String> {
    let table: toml::Table = toml_text.parse().ok()?;
    table.get(key)?.as_str().map(str::to_string)
}

/// `toml_text` with these top-level keys set: their old lines (before the first table) are
/// dropped and the new ones put first, so comments and every other setting stay as they were.
fn with_top_level(toml_text: &str, set: &[(&str, String)]) -> String {
    let mut out = String::from("# Written by `phone-gateway enrol`.\n");
    for (k, v) in set {
        out.push_str(&format!("{k} = {}\n", toml::Value::String(v.clone())));
    }
    let mut in_table = false;
    for line in toml_text.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            in_table = true;
        }
        let key = t.split('=').next().unwrap_or("").trim();
        let replaced =
            !in_table && t.contains('=') && (set.iter().any(|(k, _)| *k == key) || key == "secret");
        if !replaced && !t.starts_with("# Written by `phone-gateway enrol`") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Registers `url` as this phone's address, signed with `keys`.
pub async fn register(cfg: &Config, keys: &Keys, url: &str) -> Result<(), String> {
    let edge = cfg
        .edge_url
        .as_deref()
        .ok_or("edge_url is not set: enrol first")?;
    let (target, path) = callback::target(edge, PATH_REGISTER)?;
    let body = Registration {
        url: url.trim().to_string(),
        version: env!("CARGO_PKG_VERSION").into(),
        numbers: None,
    };
    let sealed = callback::seal(keys, &cfg.gateway_id, &path, &body, unix_now());
    let mut req = client()
        .post(target)
        .header(HEADER_REQUEST_ID, format!("reg_{}", unix_now()))
        .header("content-type", "application/json");
    for (k, v) in sealed.headers {
        req = req.header(k, v);
    }
    let resp = req
        .body(sealed.body)
        .send()
        .await
        .map_err(|e| format!("cannot reach the edge: {}", e.without_url()))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    Err(edge_error(status, &text))
}

/// At start-up with `public_url` set: registers it, retrying with back-off while the edge
/// cannot be reached or is busy, giving up on a refusal (it would not change by retrying).
pub async fn register_at_start(app: std::sync::Arc<crate::app::App>) {
    let (Some(url), Some(_)) = (app.cfg.public_url.clone(), app.cfg.edge_url.as_ref()) else {
        return;
    };
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        match register(&app.cfg, &app.keys.current(), &url).await {
            Ok(()) => return info!(%url, "registered the public URL with the edge"),
            Err(e) if e.starts_with("cannot reach") || e.contains("unavailable") => {
                let wait = crate::backoff_ms(1_000, 60_000, attempt);
                warn!(error = %e, retry_in_ms = wait, "could not register the public URL");
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            Err(e) => return warn!(error = %e, "the edge refused the public URL"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrolment_sets_the_identity_and_keeps_the_rest() {
        let before = "gateway_id = \"phone-1\"\nsecret = \"x\"\n# a comment\nlisten = \"127.0.0.1:1\"\n[pacing]\nwindow_secs = 60\ngateway_id = \"not top level\"\n";
        let after = with_top_level(
            before,
            &[
                ("gateway_id", "ph_1".into()),
                ("secret_file", "/d/gateway.secret".into()),
            ],
        );
        let t: toml::Table = after.parse().unwrap();
        assert_eq!(t["gateway_id"].as_str(), Some("ph_1"));
        assert_eq!(t["secret_file"].as_str(), Some("/d/gateway.secret"));
        assert!(
            t.get("secret").is_none(),
            "an inline secret would override the file"
        );
        assert_eq!(t["listen"].as_str(), Some("127.0.0.1:1"));
        assert_eq!(t["pacing"]["gateway_id"].as_str(), Some("not top level"));
        assert!(after.contains("# a comment"));
        // enrolling again does not pile up headers or keys
        let again = with_top_level(&after, &[("gateway_id", "ph_2".into())]);
        assert_eq!(again.matches("# Written by").count(), 1);
        assert_eq!(again.matches("gateway_id = \"ph_").count(), 1);
    }

    #[test]
    fn the_secret_file_is_private_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("gw.secret");
        write_secret(&p, "one").unwrap();
        write_secret(&p, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two\n");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn numbers_parse_as_slot_equals_number() {
        assert_eq!(
            parse_number("0=+14155550101").unwrap(),
            ("0".into(), "+14155550101".into())
        );
        assert!(parse_number("+14155550101").is_err());
    }
}
