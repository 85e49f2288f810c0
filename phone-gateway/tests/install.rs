//! install.sh with stub `pkg`, `sv` and `cargo` (the stub cargo installs the binary built for these
//! tests, through `--from-source`). The release path (download, checksum, real runit, updates) is
//! tested end to end in tests/e2e/test_install.py.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
        };
        let stubs = env.path("stubs");
        std::fs::create_dir_all(&stubs).unwrap();
        let log = env.path("stub-calls.log");
        let record = |name: &str, extra: &str| {
            let p = stubs.join(name);
            std::fs::write(
                &p,
                format!(
                    "#!/bin/sh\necho \"{name} $* SVDIR=$SVDIR\" >> '{}'\n{extra}",
                    log.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        };
        record("pkg", "");
        record("sv", "");
        // `cargo install ... --root R`: put the already built gateway in R/bin
        record(
            "cargo",
            &format!(
                "root=''\nwhile [ $# -gt 0 ]; do [ \"$1\" = --root ] && root=\"$2\"; shift; done\nmkdir -p \"$root/bin\" && cp '{}' \"$root/bin/phone-gateway\"\n",
                env!("CARGO_BIN_EXE_phone-gateway")
            ),
        );
        env
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn run(&self, args: &[&str]) -> (bool, String) {
        self.run_in(args, &[])
    }

    /// [`Env::run`] with more environment (what Termux sets, say).
    fn run_in(&self, args: &[&str], vars: &[(&str, &str)]) -> (bool, String) {
        // At run time, as `cargo test` gives it: a binary from a cache restored elsewhere has the old path.
        let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), PathBuf::from);
        let script = crate_dir.join("../install.sh");
        let mut cmd = Command::new("bash");
        cmd.arg(script)
            .args(args)
            .env("PKG", self.path("stubs/pkg"))
            .env("SV", self.path("stubs/sv"))
            .env("CARGO", self.path("stubs/cargo"))
            // No `pm` unless a test writes one: off Termux there is none.
            .env("PM", self.path("stubs/pm"))
            .env("PREFIX", self.path("prefix"))
            .env("HOME", self.path("home"))
            // the stub `sv` starts nothing, so there is no gateway to wait for
            .env("INSTALL_HEALTH_SECS", "0")
            .env_remove("GATEWAY_HOME")
            .env_remove("PHONE_GATEWAY_SECRET")
            .env_remove("TERMUX_VERSION")
            .env_remove("TERMUX_APK_RELEASE")
            .env_remove("TERMUX_APP__APK_RELEASE");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn stub_calls(&self) -> String {
        std::fs::read_to_string(self.path("stub-calls.log")).unwrap_or_default()
    }
}

#[test]
fn dry_run_prints_every_step_and_changes_nothing() {
    let env = Env::new();
    // the default: the release's binary, no compiler
    let (ok, out) = env.run(&["--dry-run", "--gateway-id", "phone-7"]);
    assert!(ok, "{out}");
    let pkg = env.path("stubs/pkg");
    assert!(
        out.contains(&format!(
            "+ {} install -y termux-api termux-services curl cloudflared",
            pkg.display()
        )),
        "{out}"
    );
    assert!(
        out.contains("/SHA256SUMS and phone-gateway-linux-"),
        "{out}"
    );
    assert!(!out.contains("install --locked --path"), "{out}");
    // --from-source: today's build on the phone
    let (ok, out) = env.run(&["--dry-run", "--from-source", "--gateway-id", "phone-7"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "+ {} install -y rust termux-api sqlite termux-services cloudflared",
            pkg.display()
        )),
        "{out}"
    );
    assert!(out.contains("install --locked --path"), "{out}");
    assert!(out.contains("termux-wake-lock"), "{out}");
    assert!(
        out.contains(&format!(
            "+ {} up phone-gateway",
            env.path("stubs/sv").display()
        )),
        "{out}"
    );
    assert!(out.contains("wrangler secret put GATEWAY_SECRETS"), "{out}");
    assert!(out.contains("{\"phone-7\":"), "{out}");
    // the recommended tunnel by default: Cloudflare's, with TLS
    // ... run as a supervised service (a quick tunnel until a named tunnel's token is given)
    assert!(
        out.contains("exec cloudflared tunnel --no-autoupdate --url http://127.0.0.1:8787"),
        "{out}"
    );
    assert!(out.contains("--tunnel-token"), "{out}");
    assert!(out.contains("\"url\":\"https://"), "{out}");
    assert!(!out.contains("http://<"), "{out}");
    assert_eq!(env.stub_calls(), "", "a stub ran during --dry-run");
    assert!(
        !env.path("home").exists() && !env.path("prefix").exists(),
        "dry run wrote files"
    );
}

#[test]
fn install_writes_config_secret_and_service_and_keeps_the_secret_on_rerun() {
    let env = Env::new();
    let (ok, out) = env.run(&[
        "--from-source",
        "--gateway-id",
        "phone-9",
        "--edge-url",
        "https://edge.example.test",
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("config ok"),
        "the installed binary rejected the generated config: {out}"
    );

    let calls = env.stub_calls();
    let prefix = env.path("prefix");
    assert!(
        calls.contains("pkg install -y rust termux-api sqlite termux-services cloudflared"),
        "{calls}"
    );
    assert!(
        calls.contains(&format!(
            "sv up phone-gateway SVDIR={}/var/service",
            prefix.display()
        )),
        "{calls}"
    );

    let home = env.path("home/.phone-gateway");
    let secret = std::fs::read_to_string(home.join("secret"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(secret.len(), 43, "32 bytes as unpadded base64url");
    assert!(secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let mode = |p: &Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions())
            & 0o777
    };
    assert_eq!(mode(&home.join("secret")), 0o600);
    assert_eq!(mode(&home.join("gateway.toml")), 0o600);
    assert!(
        out.contains(&format!("{{\"phone-9\":\"{secret}\"}}")),
        "wrangler value missing: {out}"
    );

    let config = std::fs::read_to_string(home.join("gateway.toml")).unwrap();
    assert!(
        config.contains("gateway_id = \"phone-9\"")
            && config.contains("edge_url = \"https://edge.example.test\"")
    );
    assert!(
        !config.contains(&secret),
        "secret should live in the secret file only"
    );

    let run = std::fs::read_to_string(prefix.join("var/service/phone-gateway/run")).unwrap();
    assert!(run.contains("termux-wake-lock"));
    assert!(run.contains(&format!(
        "exec \"{}/bin/phone-gateway\" --config",
        prefix.display()
    )));
    assert_eq!(mode(&prefix.join("var/service/phone-gateway/run")), 0o755);
    assert!(prefix.join("var/service/phone-gateway/log/run").exists());

    let (ok, out) = env.run(&["--from-source", "--gateway-id", "phone-9"]);
    assert!(ok, "{out}");
    assert_eq!(
        std::fs::read_to_string(home.join("secret")).unwrap().trim(),
        secret,
        "re-run replaced the secret"
    );
}

#[test]
fn a_raw_tcp_tunnel_gets_the_gateways_own_tls_or_a_warning() {
    let env = Env::new();
    let cert = rcgen::generate_simple_self_signed(vec!["phone.example.test".into()]).unwrap();
    let (cert_file, key_file) = (env.path("cert.pem"), env.path("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
    let (ok, out) = env.run(&[
        "--from-source",
        "--tunnel",
        "portmap",
        "--hostname",
        "phone.example.test",
        "--tls-cert",
        cert_file.to_str().unwrap(),
        "--tls-key",
        key_file.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    assert!(
        out.contains("config ok"),
        "the binary refused the TLS config: {out}"
    );
    assert!(
        out.contains("\"url\":\"https://phone.example.test:"),
        "{out}"
    );
    assert!(!env.stub_calls().contains("cloudflared"));
    let tls = env.path("home/.phone-gateway/tls");
    let config = std::fs::read_to_string(env.path("home/.phone-gateway/gateway.toml")).unwrap();
    assert!(config.contains(&format!("cert_file = \"{}/cert.pem\"", tls.display())));
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(tls.join("key.pem"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // without a certificate: plain HTTP, said plainly
    let (ok, out) = Env::new().run(&["--dry-run", "--tunnel", "portmap"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("\"url\":\"http://<your-portmap-host>"),
        "{out}"
    );
    assert!(out.contains("WARNING: plain HTTP"), "{out}");
    let (ok, out) = Env::new().run(&["--dry-run", "--tls-cert", "c.pem"]);
    assert!(!ok && out.contains("go together"), "{out}");
}

/// A stand-in for Android's `pm` that lists Termux:API as installed by `installer` (None: not
/// installed at all).
fn fake_pm(env: &Env, installer: Option<&str>) {
    let line = installer
        .map(|i| format!("echo 'package:com.termux.api  installer={i}'"))
        .unwrap_or_default();
    let p = env.path("stubs/pm");
    std::fs::write(&p, format!("#!/bin/sh\n{line}\n")).unwrap();
    std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

#[test]
fn termux_api_from_the_play_store_is_refused_and_from_f_droid_or_github_accepted() {
    let play = [("TERMUX_APP__APK_RELEASE", "GOOGLE_PLAY_STORE")];
    let env = Env::new();
    let (ok, out) = env.run_in(&["--dry-run"], &play);
    assert!(!ok, "{out}");
    assert!(
        out.contains("Google Play build") && out.contains("no longer permitted"),
        "{out}"
    );
    assert!(out.contains("F-Droid") && out.contains("GitHub"), "{out}");
    assert!(
        !out.contains("== 1/6"),
        "nothing installed after the refusal: {out}"
    );
    // An older Termux names its build in TERMUX_VERSION.
    let (ok, _) = env.run_in(
        &["--dry-run"],
        &[("TERMUX_VERSION", "googleplay.2024.01.01")],
    );
    assert!(!ok);
    // Android says who installed the add-on.
    fake_pm(&env, Some("com.android.vending"));
    let (ok, out) = env.run_in(&["--dry-run"], &[("TERMUX_VERSION", "0.118.1")]);
    assert!(
        !ok && out.contains("installed from the Google Play Store"),
        "{out}"
    );
    fake_pm(&env, None);
    let (ok, out) = env.run_in(&["--dry-run"], &[("TERMUX_APK_RELEASE", "F_DROID")]);
    assert!(!ok && out.contains("not installed"), "{out}");
    fake_pm(&env, Some("org.fdroid.fdroid"));
    let (ok, out) = env.run_in(&["--dry-run"], &[("TERMUX_APK_RELEASE", "F_DROID")]);
    assert!(
        ok && out.contains("Termux:API: the F-Droid build (it can send SMS)"),
        "{out}"
    );
    let (ok, out) = env.run_in(&["--dry-run"], &[("TERMUX_APP__APK_RELEASE", "GITHUB")]);
    assert!(ok && out.contains("the GitHub build"), "{out}");
    // The operator may insist.
    let (ok, out) = env.run_in(&["--dry-run", "--skip-api-check"], &play);
    assert!(ok && out.contains("skipped (--skip-api-check)"), "{out}");
    // Off Termux (these tests, a CI machine) there is nothing to check.
    let (ok, out) = Env::new().run(&["--dry-run"]);
    assert!(ok && out.contains("not running in Termux"), "{out}");
}

#[test]
fn unknown_options_are_refused() {
    let env = Env::new();
    let (ok, out) = env.run(&["--bogus"]);
    assert!(!ok);
    assert!(out.contains("unknown option --bogus"));
    let (ok, _) = env.run(&["--dry-run", "--gateway-id", "bad id!"]);
    assert!(!ok);
    let (ok, _) = env.run(&["--dry-run", "--tunnel", "ngrok"]);
    assert!(!ok);
}
