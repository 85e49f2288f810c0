//! The phone's own state for the edge's routing and the console: battery and charging
//! (`termux-battery-status`), network type and SIM state (`termux-telephony-deviceinfo`), signal
//! (`termux-telephony-cellinfo`) and free storage. Read on a timer, not per request: a Termux:API
//! call takes about a second. Only these fields are kept; the rest of what the programs print
//! (device ids, operator names) is dropped at once.

use crate::app::App;
use crate::config::DeviceConfig;
use crate::unix_now;
use otp_shared::wire::DeviceHealth;
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::debug;

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(app.cfg.device.interval_secs);
    loop {
        let reading = read(&app.cfg.device, &app.cfg.db).await;
        *app.device.lock().unwrap() = Some(reading);
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// One reading. A program that is missing, slow or says nothing usable leaves its fields unknown.
pub async fn read(cfg: &DeviceConfig, db: &Path) -> DeviceHealth {
    let timeout = Duration::from_secs(cfg.timeout_secs);
    let (battery, telephony, cells) = tokio::join!(
        json_of(&cfg.battery_program, timeout),
        json_of(&cfg.telephony_program, timeout),
        json_of(&cfg.cellinfo_program, timeout),
    );
    let mut h = DeviceHealth {
        checked_at: unix_now(),
        free_storage_mb: free_mb(db),
        ..Default::default()
    };
    if let Some(b) = battery {
        apply_battery(&mut h, &b);
    }
    if let Some(t) = telephony {
        apply_telephony(&mut h, &t);
    }
    if let Some(c) = cells {
        apply_cells(&mut h, &c);
    }
    h
}

fn apply_battery(h: &mut DeviceHealth, b: &Value) {
    h.battery_percent = b["percentage"].as_u64().map(|p| p.min(100) as u8);
    let plugged = b["plugged"].as_str().map(|p| p != "UNPLUGGED");
    let status = b["status"].as_str().map(|s| s == "CHARGING" || s == "FULL");
    h.charging = match (plugged, status) {
        (Some(p), Some(s)) => Some(p || s),
        (p, s) => p.or(s),
    };
}

fn apply_telephony(h: &mut DeviceHealth, t: &Value) {
    let text = |k: &str| t[k].as_str().map(|s| s.to_ascii_lowercase());
    h.network_type = text("network_type");
    h.sim_state = text("sim_state");
}

/// The registered cell's signal (the strongest if several say registered).
fn apply_cells(h: &mut DeviceHealth, cells: &Value) {
    let best = cells
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["registered"].as_bool().unwrap_or(false))
        .max_by_key(|c| c["level"].as_i64().unwrap_or(-1));
    match best {
        Some(c) => {
            h.signal_level = c["level"].as_u64().map(|l| l.min(4) as u8);
            h.signal_dbm = c["dbm"].as_i64().map(|d| d as i32);
        }
        // The program answered, and no cell is registered: no signal at all.
        None if cells.is_array() => h.signal_level = Some(0),
        None => {}
    }
}

async fn json_of(program: &str, timeout: Duration) -> Option<Value> {
    if program.is_empty() {
        return None;
    }
    let child = tokio::process::Command::new(program)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn();
    let child = match child {
        Ok(c) => c,
        Err(e) => {
            debug!(%program, error = %e, "device reading unavailable");
            return None;
        }
    };
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) if out.status.success() => serde_json::from_slice(&out.stdout).ok(),
        _ => {
            debug!(%program, "device reading failed or timed out");
            None
        }
    }
}

/// Free space (for an unprivileged user) on the file system holding the database, in MiB.
fn free_mb(db: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let dir = db
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64) / (1024 * 1024))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn readings_take_only_what_routing_needs() {
        let mut h = DeviceHealth::default();
        apply_battery(
            &mut h,
            &json!({"health": "GOOD", "percentage": 12, "plugged": "UNPLUGGED", "status": "DISCHARGING", "temperature": 30.1}),
        );
        assert_eq!((h.battery_percent, h.charging), (Some(12), Some(false)));
        apply_battery(
            &mut h,
            &json!({"percentage": 80, "plugged": "PLUGGED_USB", "status": "CHARGING"}),
        );
        assert_eq!((h.battery_percent, h.charging), (Some(80), Some(true)));
        apply_telephony(
            &mut h,
            &json!({"network_type": "LTE", "sim_state": "ready", "device_id": "358240051111110"}),
        );
        assert_eq!(h.network_type.as_deref(), Some("lte"));
        assert!(!format!("{h:?}").contains("358240051111110"));
        apply_cells(
            &mut h,
            &json!([{"type": "lte", "registered": false, "level": 4}, {"type": "lte", "registered": true, "level": 2, "dbm": -101}]),
        );
        assert_eq!((h.signal_level, h.signal_dbm), (Some(2), Some(-101)));
        apply_cells(&mut h, &json!([]));
        assert_eq!(h.signal_level, Some(0));
    }

    #[tokio::test]
    async fn a_missing_program_leaves_its_fields_unknown() {
        let cfg = DeviceConfig {
            battery_program: "/nonexistent/termux-battery-status".into(),
            telephony_program: String::new(),
            cellinfo_program: "/nonexistent/cells".into(),
            ..Default::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let h = read(&cfg, &dir.path().join("gw.db")).await;
        assert_eq!((h.battery_percent, h.signal_level), (None, None));
        assert!(h.free_storage_mb.is_some());
        assert!(h.checked_at > 0);
    }
}
