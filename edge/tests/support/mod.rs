//! One Firestore emulator per test binary, stopped when the binary exits. Tests use their own
//! project id, so they never see each other's documents.

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use otp_edge::config::Config;

const EMULATOR: &str =
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud_firestore_emulator";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The emulator's address, starting it on first use. A start that dies or stays silent (a port
/// taken between choosing it and the JVM binding it) is retried on another port, and its output is
/// printed, so a failure says why.
pub fn emulator() -> &'static str {
    static EMU: OnceLock<String> = OnceLock::new();
    EMU.get_or_init(|| {
        for attempt in 1..=3 {
            if let Some(host) = start_emulator(attempt) {
                return host;
            }
        }
        panic!("emulator did not start in 3 attempts (their output is above)")
    })
}

fn start_emulator(attempt: u32) -> Option<String> {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let log = std::env::temp_dir().join(format!(
        "otp-edge-emulator-{}-{attempt}.log",
        std::process::id()
    ));
    // Statics are never dropped, so a watcher in the emulator's own process group ends the
    // group (java included) once this test binary has exited, or once the emulator has.
    let script = format!(
        "{EMULATOR} start --host=127.0.0.1 --port={port} >'{}' 2>&1 & emu=$!; trap 'kill 0' EXIT; \
         while kill -0 {} 2>/dev/null && kill -0 $emu 2>/dev/null; do sleep 1; done",
        log.display(),
        std::process::id()
    );
    let mut watcher: Child = Command::new("bash")
        .args(["-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("the Firestore emulator (see scripts/setup.sh)");
    let host = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if answers(&host) {
            // Its output is only needed when it fails.
            let _ = std::fs::remove_file(&log);
            // Reaped by a thread of its own: it outlives every test of the binary by design.
            std::thread::spawn(move || watcher.wait());
            return Some(host);
        }
        let exited = matches!(watcher.try_wait(), Ok(Some(_)));
        if exited || Instant::now() >= deadline {
            let _ = Command::new("kill")
                .args(["--", &format!("-{}", watcher.id())])
                .status();
            let _ = watcher.wait();
            let out = std::fs::read_to_string(&log).unwrap_or_default();
            eprintln!(
                "the emulator on port {port} {} (attempt {attempt}); its output:\n{out}",
                if exited {
                    "exited"
                } else {
                    "did not answer in 60 s"
                }
            );
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The emulator answers `GET /` with 200 once it serves requests.
fn answers(host: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(host) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET / HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.ends_with(b"200")
}

pub fn config(project: &str) -> Config {
    let host = emulator().to_string();
    let project = project.to_string();
    Config::from_lookup(move |k| match k {
        "OTP_HMAC_SECRET" => Some("test-secret-0123456789-abcdefghijklmnop".into()),
        "FIRESTORE_EMULATOR_HOST" => Some(host.clone()),
        "FIRESTORE_PROJECT" => Some(project.clone()),
        _ => None,
    })
    .unwrap()
}

pub fn unique(prefix: &str) -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{n}")
}
