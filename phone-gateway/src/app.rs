//! Wiring: opens the store, recovers from a crash, starts the server, sender, reporter and cleanup.

use crate::config::Config;
use crate::kill_switch::{self, KillSwitch};
use crate::pacing::Pacer;
use crate::store::{Store, StoreHandle};
use crate::{reports, sender, server, unix_ms, unix_now};
use otp_shared::wire::Keys;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tracing::{info, warn};

/// State shared by the tasks.
pub struct App {
    pub cfg: Config,
    pub keys: Keys,
    pub store: StoreHandle,
    pub kill: KillSwitch,
    pub pacer: Mutex<Pacer>,
    pub wake_sender: Notify,
    pub wake_reports: Notify,
    /// "sent", "failed" or "none".
    pub last_send: Mutex<&'static str>,
}

impl App {
    /// Trips (Some) or clears (None) the command/auto kill switch, durably first.
    pub async fn set_kill(&self, reason: Option<String>) -> Result<(), crate::store::StoreError> {
        let persisted = reason.clone();
        self.store
            .call(move |s| s.set_meta(kill_switch::META_KEY, persisted.as_deref()))
            .await?;
        self.kill.set(reason);
        self.wake_sender.notify_one();
        Ok(())
    }
}

pub async fn run(cfg: Config) -> Result<(), String> {
    let keys =
        Keys::from_secret(cfg.secret.as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
    if let Some(dir) = cfg.db.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut store = Store::open(
        &cfg.db,
        cfg.queue.synchronous,
        &cfg.gateway_id,
        cfg.edge_url.is_some(),
        cfg.queue.max_depth,
    )
    .map_err(|e| format!("cannot open {}: {e}", cfg.db.display()))?;

    let interrupted = store
        .recover_interrupted(unix_now())
        .map_err(|e| e.to_string())?;
    for id in &interrupted {
        warn!(message_id = %id, "gateway stopped while this message was being sent; not resending, marked failed (send_uncertain)");
    }
    let mut pacer = Pacer::new(
        cfg.pacing.clone(),
        cfg.sender.sim_slots.clone(),
        cfg.sender.default_sim,
    );
    let keep_ms = ((cfg.pacing.window_secs as i64) * 1000).max(60_000);
    pacer.load(
        &store
            .send_log_since(unix_ms() - keep_ms)
            .map_err(|e| e.to_string())?,
    );
    let persisted_kill = store
        .get_meta(kill_switch::META_KEY)
        .map_err(|e| e.to_string())?;
    if let Some(reason) = &persisted_kill {
        warn!(%reason, "kill switch engaged from before the restart");
    }
    let depth = store.depth();

    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;

    let app = Arc::new(App {
        kill: KillSwitch::new(&cfg.kill_switch, persisted_kill),
        keys,
        store: StoreHandle::spawn(store),
        pacer: Mutex::new(pacer),
        wake_sender: Notify::new(),
        wake_reports: Notify::new(),
        last_send: Mutex::new("none"),
        cfg,
    });
    info!(%addr, queue_depth = depth, gateway_id = %app.cfg.gateway_id, reports = app.cfg.edge_url.is_some(), "phone-gateway started");
    // a machine-readable line for supervisors and tests (port 0 picks a free port)
    println!("phone-gateway listening on http://{addr}");
    let _ = std::io::stdout().flush();

    let (stop_tx, stop_rx) = watch::channel(false);
    let server_task = tokio::spawn(server::serve(app.clone(), listener, stop_rx.clone()));
    let sender_task = tokio::spawn(sender::run(app.clone(), stop_rx.clone()));
    let reports_task = tokio::spawn(reports::run(app.clone(), stop_rx.clone()));
    let cleanup_task = tokio::spawn(cleanup(app.clone(), stop_rx.clone()));

    shutdown_signal().await;
    info!("shutting down: finishing the send in progress");
    let _ = stop_tx.send(true);
    let grace = Duration::from_secs(app.cfg.sender.timeout_secs + 5);
    let _ = tokio::time::timeout(grace, sender_task).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), reports_task).await;
    server_task.abort();
    cleanup_task.abort();
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

async fn cleanup(app: Arc<App>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_secs(app.cfg.queue.cleanup_interval_secs.max(1));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let retention = app.cfg.queue.retention_secs;
        let nonce_keep = 2 * app.cfg.auth.window_secs;
        let log_keep = ((app.cfg.pacing.window_secs as i64) * 1000).max(60_000);
        match app
            .store
            .call(move |s| s.cleanup(unix_now(), retention, nonce_keep, log_keep))
            .await
        {
            Ok(n) if n > 0 => info!(deleted = n, "cleaned up finished messages"),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "cleanup failed"),
        }
    }
}
