//! Delivery reports: drains the outbox in order, POSTing each signed StatusReport to
//! `{edge_url}/internal/gateway/status` until the edge answers 2xx. Survives restarts (the outbox is in SQLite).

use crate::app::App;
use crate::{backoff_ms, unix_ms, unix_now};
use otp_shared::wire::{self, Keys, HEADER_REQUEST_ID, PATH_STATUS_CALLBACK};
use rand::RngCore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{debug, warn};

/// The callback URL and the path that is signed (the edge sees the full path).
pub fn callback_target(edge_url: &str) -> Result<(reqwest::Url, String), String> {
    let url = reqwest::Url::parse(&format!(
        "{}{}",
        edge_url.trim_end_matches('/'),
        PATH_STATUS_CALLBACK
    ))
    .map_err(|e| format!("bad edge_url: {e}"))?;
    let path = url.path().to_string();
    Ok((url, path))
}

pub fn sign_report(
    keys: &Keys,
    gateway_id: &str,
    path: &str,
    report_json: &[u8],
    now: u64,
) -> wire::SealedRequest {
    let mut header_nonce = [0u8; 16];
    let mut aead_nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut header_nonce);
    rand::thread_rng().fill_bytes(&mut aead_nonce);
    wire::seal(
        keys,
        wire::Route::new("POST", path, gateway_id),
        now,
        header_nonce,
        aead_nonce,
        Some(report_json),
    )
}

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let Some(edge) = app.cfg.edge_url.clone() else {
        return;
    };
    let (url, path) = match callback_target(&edge) {
        Ok(t) => t,
        Err(e) => return warn!(error = %e, "delivery reports disabled"),
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(app.cfg.reports.timeout_secs))
        .build()
        .expect("http client");
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        let items = match app.store.call(|s| s.outbox_head(16)).await {
            Ok(items) => items,
            Err(e) => {
                warn!(error = %e, "outbox read failed");
                Vec::new()
            }
        };
        let mut pause = if items.is_empty() {
            Duration::from_secs(5)
        } else {
            Duration::ZERO
        };
        for item in items {
            let sealed = sign_report(
                &app.keys,
                &app.cfg.gateway_id,
                &path,
                item.report.as_bytes(),
                unix_now(),
            );
            let mut req = client
                .post(url.clone())
                .header(HEADER_REQUEST_ID, &item.request_id);
            for (k, v) in sealed.headers {
                req = req.header(k, v);
            }
            let result = req
                .header("content-type", "application/json")
                .body(sealed.body)
                .send()
                .await;
            match result {
                Ok(resp) if resp.status().is_success() => {
                    failures = 0;
                    debug!(seq = item.seq, "status report delivered");
                    let seq = item.seq;
                    if let Err(e) = app.store.call(move |s| s.outbox_delivered(seq)).await {
                        warn!(error = %e, "cannot mark report delivered");
                    }
                }
                other => {
                    failures += 1;
                    let why = match other {
                        Ok(resp) => format!("status {}", resp.status()),
                        Err(e) => e.without_url().to_string(),
                    };
                    let cfg = &app.cfg.reports;
                    let delay = backoff_ms(cfg.backoff_base_ms, cfg.backoff_max_ms, failures);
                    warn!(seq = item.seq, attempts = item.attempts + 1, error = %why, retry_in_ms = delay, "status report not accepted");
                    let (seq, next) = (item.seq, unix_ms() + delay as i64);
                    if let Err(e) = app.store.call(move |s| s.outbox_failed(seq, next)).await {
                        warn!(error = %e, "cannot record the failed report attempt");
                    }
                    // strict order: the same head report is retried before any later one
                    pause = Duration::from_millis(delay);
                    break;
                }
            }
        }
        if pause.is_zero() {
            continue;
        }
        tokio::select! {
            _ = app.wake_reports.notified(), if failures == 0 => {}
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_path_keeps_the_edge_prefix() {
        assert_eq!(
            callback_target("http://127.0.0.1:9/").unwrap().1,
            "/internal/gateway/status"
        );
        let (url, path) = callback_target("https://edge.example/api").unwrap();
        assert_eq!(path, "/api/internal/gateway/status");
        assert_eq!(
            url.as_str(),
            "https://edge.example/api/internal/gateway/status"
        );
    }
}
