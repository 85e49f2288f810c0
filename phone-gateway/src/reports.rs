//! Delivery reports: drains the outbox in order, up to `wire::MAX_REPORTS_PER_BATCH` reports per
//! request, each batch one signed, encrypted `StatusBatch` POSTed to
//! `{edge_url}/internal/gateway/status`, until the edge answers 2xx (then the whole batch is done).
//! Survives restarts: the outbox is in SQLite.

use crate::app::App;
use crate::callback;
use crate::store::OutboxItem;
use crate::{backoff_ms, unix_ms};
use otp_shared::wire::{StatusBatch, StatusReport, MAX_REPORTS_PER_BATCH, PATH_STATUS_CALLBACK};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{debug, error, warn};

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let Some(edge) = app.cfg.edge_url.clone() else {
        return;
    };
    let (url, path) = match callback::target(&edge, PATH_STATUS_CALLBACK) {
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
        let items = match app
            .store
            .call(|s| s.outbox_head(MAX_REPORTS_PER_BATCH))
            .await
        {
            Ok(items) => items,
            Err(e) => {
                warn!(error = %e, "outbox read failed");
                Vec::new()
            }
        };
        let pause = if items.is_empty() {
            Duration::from_secs(5)
        } else {
            let seqs: Vec<i64> = items.iter().map(|i| i.seq).collect();
            match deliver(&app, &client, &url, &path, &items).await {
                Ok(()) => {
                    failures = 0;
                    debug!(reports = seqs.len(), "status reports delivered");
                    if let Err(e) = app.store.call(move |s| s.outbox_delivered(&seqs)).await {
                        warn!(error = %e, "cannot mark reports delivered");
                    }
                    continue;
                }
                Err(why) => {
                    failures += 1;
                    let cfg = &app.cfg.reports;
                    let delay = backoff_ms(cfg.backoff_base_ms, cfg.backoff_max_ms, failures);
                    warn!(reports = seqs.len(), attempts = items[0].attempts + 1, error = %why, retry_in_ms = delay, "status reports not accepted");
                    let next = unix_ms() + delay as i64;
                    if let Err(e) = app.store.call(move |s| s.outbox_failed(&seqs, next)).await {
                        warn!(error = %e, "cannot record the failed report attempt");
                    }
                    // strict order: the same head is retried before anything later
                    Duration::from_millis(delay)
                }
            }
        };
        tokio::select! {
            _ = app.wake_reports.notified(), if failures == 0 => {}
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

/// POSTs one batch; Ok once the edge answered 2xx.
async fn deliver(
    app: &App,
    client: &reqwest::Client,
    url: &reqwest::Url,
    path: &str,
    items: &[OutboxItem],
) -> Result<(), String> {
    let mut reports = Vec::with_capacity(items.len());
    for item in items {
        match serde_json::from_str::<StatusReport>(&item.report) {
            Ok(r) => reports.push(r),
            // Written by this program, so never expected; sending the rest beats blocking forever.
            Err(e) => {
                error!(seq = item.seq, error = %e, "unreadable report in the outbox; dropped")
            }
        }
    }
    if reports.is_empty() {
        return Ok(());
    }
    let batch = StatusBatch { reports };
    // One report keeps its message's request id; a batch spans several, so it gets its own.
    let request_id = match items {
        [one] => one.request_id.clone(),
        _ => format!("gwb_{:016x}", rand::thread_rng().gen::<u64>()),
    };
    callback::post(app, client, (url, path), request_id, &batch).await
}
