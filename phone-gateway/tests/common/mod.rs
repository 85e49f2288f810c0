//! Test harness: runs the real `phone-gateway` binary with a recording fake `termux-sms-send` first on PATH.
#![allow(dead_code)]

use otp_shared::wire::{self, Health, Keys, SendRequest, StatusReport};
use rand::RngCore;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SECRET: &str = "test-secret-0123456789abcdefghijklmnopqrstuvwxyz";
/// The test gateway's id (its config's `gateway_id`).
pub const GATEWAY_ID: &str = "phone-test";

/// The stand-in for Termux's `termux-sms-send`. Appends each call's argv (fields split by 0x1f, calls by
/// 0x1e, first field the time in ns) to calls.log; on success also to sent.log. Control files beside it:
/// `fail_count` (fail that many times), `fail_always`, `sleep` (seconds to take).
const FAKE_SMS: &str = r#"#!/bin/bash
d="$(cd "$(dirname "$0")" && pwd)"
rec() { local f="$1"; shift; { printf '%s\x1f' "$(date +%s%N)" "$@"; printf '\x1e'; } >> "$f"; }
rec "$d/calls.log" "$@"
if [ -f "$d/sleep" ]; then sleep "$(cat "$d/sleep")"; fi
if [ -f "$d/fail_always" ]; then echo "fake: failing" >&2; exit 1; fi
if [ -f "$d/fail_count" ]; then
  n=$(cat "$d/fail_count")
  if [ "$n" -gt 0 ]; then echo $((n - 1)) > "$d/fail_count"; echo "fake: failing ($n left)" >&2; exit 1; fi
fi
# Android's result as a Termux:API build that waits for it would print it: `fail_with` for every
# send, `fail_with_slot_N` for sends on SIM slot N (exit status 1, the text on stderr).
slot=""; prev=""
for a in "$@"; do [ "$prev" = "-s" ] && slot="$a"; prev="$a"; done
if [ -n "$slot" ] && [ -f "$d/fail_with_slot_$slot" ]; then cat "$d/fail_with_slot_$slot" >&2; exit 1; fi
if [ -f "$d/fail_with" ]; then cat "$d/fail_with" >&2; exit 1; fi
# What Termux:API printed on stdout with exit status 0 (its Google Play build refuses that way).
if [ -f "$d/stdout" ]; then cat "$d/stdout"; exit 0; fi
rec "$d/sent.log" "$@"
"#;

/// Stand-ins for the Termux:API readings: each prints its control file (`battery.json`,
/// `deviceinfo.json`, `cellinfo.json` beside it) or a healthy default.
const FAKE_READINGS: &[(&str, &str, &str)] = &[
    (
        "termux-battery-status",
        "battery.json",
        r#"{"health":"GOOD","percentage":90,"plugged":"PLUGGED_AC","status":"CHARGING","temperature":25.0}"#,
    ),
    (
        "termux-telephony-deviceinfo",
        "deviceinfo.json",
        r#"{"network_type":"lte","sim_state":"ready","data_state":"connected"}"#,
    ),
    (
        "termux-telephony-cellinfo",
        "cellinfo.json",
        r#"[{"type":"lte","registered":true,"level":3,"dbm":-95}]"#,
    ),
];

pub struct Call {
    pub at_ns: u128,
    pub args: Vec<String>,
}

pub struct Gateway {
    pub dir: tempfile::TempDir,
    pub base: String,
    pub child: Option<Child>,
    config_extra: String,
    /// Open-file limit (soft and hard) for the gateway process, if set.
    nofile: Option<u64>,
    pub client: reqwest::Client,
    pub keys: Keys,
}

impl Gateway {
    /// Starts a gateway whose config is the test defaults plus `extra` TOML (tables allowed after top keys).
    pub fn start(extra: &str) -> Gateway {
        Self::start_limited(extra, None)
    }

    /// [`Gateway::start`] with the process's open-file limit set to `nofile`.
    pub fn start_limited(extra: &str, nofile: Option<u64>) -> Gateway {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let fake = bin.join("termux-sms-send");
        std::fs::write(&fake, FAKE_SMS).unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        for (program, control, default) in FAKE_READINGS {
            let p = bin.join(program);
            std::fs::write(
                &p,
                format!(
                    "#!/bin/bash\nd=\"$(cd \"$(dirname \"$0\")\" && pwd)\"\nif [ -f \"$d/{control}\" ]; then cat \"$d/{control}\"; else echo '{default}'; fi\n"
                ),
            )
            .unwrap();
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
        let mut g = Gateway {
            dir,
            base: String::new(),
            child: None,
            config_extra: extra.to_string(),
            nofile,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            keys: Keys::from_secret(SECRET).unwrap(),
        };
        g.spawn();
        g
    }

    pub fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// Base test config (fast pacing) deep-merged with the test's own TOML.
    fn config_text(&self) -> String {
        let base = format!(
            r#"gateway_id = "{GATEWAY_ID}"
secret = "{SECRET}"
listen = "127.0.0.1:0"
db = "{db}"
log = "phone_gateway=debug,info"
{FAST}"#,
            db = self.dir.path().join("gw.db").display(),
        );
        let mut table: toml::Table = base.parse().unwrap();
        let extra: toml::Table = self.config_extra.parse().expect("test config");
        merge(&mut table, extra);
        toml::to_string(&table).unwrap()
    }

    fn spawn(&mut self) {
        let cfg = self.dir.path().join("gw.toml");
        std::fs::write(&cfg, self.config_text()).unwrap();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("gateway.log"))
            .unwrap();
        let path = format!(
            "{}:{}",
            self.bin_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_phone-gateway"));
        if let Some(n) = self.nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe and touches only this child.
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n as libc::rlim_t,
                        rlim_max: n as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let mut child = cmd
            .arg("--config")
            .arg(&cfg)
            .env("PATH", path)
            .env_remove("RUST_LOG")
            .env_remove("PHONE_GATEWAY_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("phone-gateway listening on ")
            .unwrap_or_else(|| panic!("gateway did not start: {line:?}\n{}", self.log()));
        self.base = addr.to_string();
        self.child = Some(child);
    }

    /// kill -9, then start again on the same database.
    pub fn kill9_and_restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap(); // SIGKILL
            c.wait().unwrap();
        }
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Resident memory of the gateway process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }

    /// File descriptors the gateway process holds open.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    /// host:port the gateway listens on.
    pub fn addr(&self) -> String {
        let base = self.base.trim_start_matches("https://");
        base.trim_start_matches("http://").to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("gateway.log")).unwrap_or_default()
    }

    pub fn control(&self, name: &str, value: &str) {
        std::fs::write(self.bin_dir().join(name), value).unwrap();
    }

    pub fn clear_control(&self, name: &str) {
        let _ = std::fs::remove_file(self.bin_dir().join(name));
    }

    pub fn calls(&self) -> Vec<Call> {
        read_calls(&self.bin_dir().join("calls.log"))
    }

    pub fn sent(&self) -> Vec<Call> {
        read_calls(&self.bin_dir().join("sent.log"))
    }

    /// Sends a signed request; returns status and JSON body. Checks the reply's signature as the
    /// edge does: every answer but a 401 must be signed to the request's nonce, a 401 never.
    pub async fn signed(&self, method: &str, path: &str, plaintext: Option<&[u8]>) -> (u16, Value) {
        let sealed = seal_now(&self.keys, method, path, plaintext);
        self.signed_raw(method, path, &sealed).await
    }

    /// Sends an already sealed request, checking the reply's signature like [`Gateway::signed`].
    pub async fn signed_raw(
        &self,
        method: &str,
        path: &str,
        sealed: &wire::SealedRequest,
    ) -> (u16, Value) {
        let (status, sig, body) = self
            .exchange(method, path, &sealed.headers, sealed.body.clone())
            .await;
        let check = wire::verify_reply(&self.keys, sealed.nonce(), status, sig.as_deref(), &body);
        if status == 401 {
            assert_eq!(sig, None, "a 401 must not be signed");
        } else {
            assert_eq!(
                check,
                Ok(()),
                "reply to {method} {path} ({status}) not signed"
            );
        }
        (status, json_of(body))
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, Value) {
        let (status, _, body) = self.exchange(method, path, headers, body).await;
        (status, json_of(body))
    }

    /// One HTTP exchange: status, reply signature header, body bytes.
    pub async fn exchange(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (u16, Option<String>, Vec<u8>) {
        let mut req = self
            .client
            .request(method.parse().unwrap(), format!("{}{}", self.base, path));
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.body(body).send().await.unwrap();
        let status = resp.status().as_u16();
        let sig = resp
            .headers()
            .get(wire::HEADER_REPLY_SIGNATURE)
            .map(|v| v.to_str().unwrap().to_string());
        (status, sig, resp.bytes().await.unwrap().to_vec())
    }

    pub async fn send(&self, msg: &SendRequest) -> (u16, Value) {
        self.signed(
            "POST",
            wire::PATH_SEND,
            Some(&serde_json::to_vec(msg).unwrap()),
        )
        .await
    }

    pub async fn status(&self, id: &str) -> Option<StatusReport> {
        let (code, body) = self.signed("GET", &wire::message_path(id), None).await;
        match code {
            200 => Some(serde_json::from_value(body).unwrap()),
            404 => None,
            _ => panic!("status {id}: {code} {body}"),
        }
    }

    /// The full health, as the edge sees it (signed request, signed reply).
    pub async fn health(&self) -> Health {
        let (code, body) = self.signed("GET", wire::PATH_HEALTH, None).await;
        assert_eq!(code, 200, "{body}");
        serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("health {body}: {e}"))
    }

    /// What anyone gets from a bare `GET /health`: the raw text.
    pub async fn liveness(&self) -> String {
        let resp = self
            .client
            .get(format!("{}{}", self.base, wire::PATH_HEALTH))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }

    /// `POST /v1/messages/{id}/cancel`.
    pub async fn cancel(&self, id: &str) -> (u16, Value) {
        self.signed("POST", &wire::cancel_path(id), None).await
    }

    pub async fn kill_switch(&self, engaged: bool) -> (u16, Value) {
        let body = serde_json::json!({"engaged": engaged, "reason": "test"}).to_string();
        self.signed("POST", wire::PATH_KILL_SWITCH, Some(body.as_bytes()))
            .await
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn json_of(body: Vec<u8>) -> Value {
    let text = String::from_utf8(body).unwrap();
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

fn read_calls(path: &Path) -> Vec<Call> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split('\x1e')
        .filter(|r| !r.is_empty())
        .map(|r| {
            let mut fields: Vec<String> = r.split('\x1f').map(str::to_string).collect();
            fields.pop(); // trailing separator
            let at_ns = fields.remove(0).parse().unwrap();
            Call {
                at_ns,
                args: fields,
            }
        })
        .collect()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn seal_now(
    keys: &Keys,
    method: &str,
    path: &str,
    plaintext: Option<&[u8]>,
) -> wire::SealedRequest {
    seal_at(keys, method, path, plaintext, now())
}

pub fn seal_at(
    keys: &Keys,
    method: &str,
    path: &str,
    plaintext: Option<&[u8]>,
    ts: u64,
) -> wire::SealedRequest {
    seal_for(
        keys,
        wire::Route::new(method, path, GATEWAY_ID),
        plaintext,
        ts,
    )
}

/// Seals for any route, gateway id included.
pub fn seal_for(
    keys: &Keys,
    route: wire::Route,
    plaintext: Option<&[u8]>,
    ts: u64,
) -> wire::SealedRequest {
    let mut n16 = [0u8; 16];
    let mut n12 = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut n16);
    rand::thread_rng().fill_bytes(&mut n12);
    wire::seal(keys, route, ts, n16, n12, plaintext)
}

pub fn msg(id: &str, kind: &str, to: &str, text: &str) -> SendRequest {
    SendRequest {
        id: id.into(),
        kind: otp_shared::wire::MessageKind::parse(kind).unwrap(),
        to: to.into(),
        text: text.into(),
        expires_at: now() + 600,
        sim_slot: None,
        tenant_id: "t_test".into(),
        request_id: format!("req_{id}"),
        share_weight: None,
    }
}

/// Polls `cond` every 50 ms until it holds; panics with `what` after `secs`.
pub async fn wait_for<F, Fut>(secs: u64, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The SIM slot (argv after -s) of each recorded call; None without `-s`.
pub fn slots(calls: &[Call]) -> Vec<Option<u8>> {
    calls
        .iter()
        .map(|c| {
            c.args
                .iter()
                .position(|a| a == "-s")
                .map(|i| c.args[i + 1].parse().unwrap())
        })
        .collect()
}

/// The numbers (argv after -n) of recorded calls.
pub fn numbers(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .map(|c| {
            let i = c.args.iter().position(|a| a == "-n").expect("-n");
            c.args[i + 1].clone()
        })
        .collect()
}

/// Fast pacing for tests: 3 per 2 s per SIM, tiny gaps, quick retries, no auto trip.
pub const FAST: &str = r#"
[pacing]
per_sim_limit = 3
phone_limit = 0
window_secs = 2
min_delay_ms = 0
jitter_ms = 20

[sender]
timeout_secs = 20
max_attempts = 4
backoff_base_ms = 100
backoff_max_ms = 400

[kill_switch]
max_sends_per_minute = 1000
max_consecutive_failures = 100
max_failure_ratio = 0.0

[device]
interval_secs = 1
"#;
