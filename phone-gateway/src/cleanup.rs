//! Periodic deletion of what is no longer needed: finished messages past retention, nonces past
//! twice the timestamp window, attempt-log rows the pacer no longer looks at; then a WAL
//! checkpoint, so a scrubbed text or number survives in no file longer than one interval.

use crate::app::{send_log_keep_ms, App};
use crate::{unix_ms, unix_now};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};

pub async fn run(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(app.cfg.queue.cleanup_interval_secs.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let now = unix_now();
        let finished_before = now.saturating_sub(app.cfg.queue.retention_secs);
        let nonces_before = now.saturating_sub(2 * app.cfg.auth.window_secs);
        let log_before_ms = unix_ms() - send_log_keep_ms(&app.cfg);
        let inbox_before = now.saturating_sub(app.cfg.inbound.retention_secs);
        // Budgets count only the current day and plan period.
        let (day, period) = app.capacity.lock().unwrap().budgets.horizon(unix_ms());
        let result = app
            .store
            .call(move |s| {
                s.prune_nonces(nonces_before)?;
                s.prune_send_log(log_before_ms)?;
                s.inbox_prune(inbox_before)?;
                s.prune_sim_usage(day, period)?;
                s.delete_finished(finished_before)
            })
            .await;
        match result {
            Ok(n) if n > 0 => info!(deleted = n, "cleaned up finished messages"),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "cleanup failed"),
        }
        // Texts and numbers scrubbed since the last round may still sit in WAL frames.
        if let Err(e) = app.store.checkpoint().await {
            warn!(error = %e, "checkpoint failed");
        }
    }
}
