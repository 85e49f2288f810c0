//! Delivery reports: drains the outbox in order, up to `wire::MAX_REPORTS_PER_BATCH` reports per
//! request, each batch one signed, encrypted `StatusBatch` POSTed to
//! `{edge_url}/internal/gateway/status`, until the edge answers 2xx (then the whole batch is done).
//! Survives restarts: the outbox is in SQLite.

use crate::app::App;
use crate::callback::{self, Lane};
use crate::store::{OutboxItem, Store};
use otp_shared::wire::{StatusBatch, StatusReport, MAX_REPORTS_PER_BATCH, PATH_STATUS_CALLBACK};
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::error;

pub async fn run(app: Arc<App>, stop: watch::Receiver<bool>) {
    let Some(edge) = app.cfg.edge_url.clone() else {
        return;
    };
    let lane = Lane {
        what: "status reports",
        callback_path: PATH_STATUS_CALLBACK,
        batch_size: MAX_REPORTS_PER_BATCH,
        idle: Duration::from_secs(5),
        wake: |app| &app.wake_reports,
        head: Store::outbox_head,
        seq: |i| i.seq,
        attempts: |i| i.attempts,
        body: batch,
        done: Store::outbox_delivered,
        failed: Store::outbox_failed,
    };
    callback::drain(app, &edge, lane, stop).await
}

/// One batch of the outbox's reports and its request id.
fn batch(items: &[OutboxItem]) -> Option<(String, StatusBatch)> {
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
        return None;
    }
    // One report keeps its message's request id; a batch spans several, so it gets its own.
    let request_id = match items {
        [one] => one.request_id.clone(),
        _ => format!("gwb_{:016x}", rand::thread_rng().gen::<u64>()),
    };
    Some((request_id, StatusBatch { reports }))
}
