//! Wiring: binds the listener, starts the server, sender, reporter and cleanup tasks over one
//! [`App`], and stops them in order on SIGTERM/SIGINT.

use crate::app::App;
use crate::config::Config;
use crate::{cleanup, device, inbound, reports, sender, server};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};

pub async fn run(cfg: Config) -> Result<(), String> {
    let tls = server::tls::acceptor(&cfg.tls)?;
    let app = Arc::new(App::open(cfg)?);
    let listener = tokio::net::TcpListener::bind(&app.cfg.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", app.cfg.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let depth = app
        .store
        .call(|s| Ok(s.depth()))
        .await
        .map_err(|e| e.to_string())?;
    info!(%addr, tls = tls.is_some(), queue_depth = depth, gateway_id = %app.cfg.gateway_id, reports = app.cfg.edge_url.is_some(), "phone-gateway started");
    // A machine-readable line for supervisors and tests (port 0 picks a free port).
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("phone-gateway listening on {scheme}://{addr}");
    if let Err(e) = std::io::stdout().flush() {
        warn!(error = %e, "cannot write the listening line to stdout");
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let server_task = tokio::spawn(server::serve(app.clone(), listener, tls, stop_rx.clone()));
    let sender_task = tokio::spawn(sender::run(app.clone(), stop_rx.clone()));
    let reports_task = tokio::spawn(reports::run(app.clone(), stop_rx.clone()));
    let cleanup_task = tokio::spawn(cleanup::run(app.clone(), stop_rx.clone()));
    let inbox_task = tokio::spawn(inbound::poll(app.clone(), stop_rx.clone()));
    let forward_task = tokio::spawn(inbound::forward(app.clone(), stop_rx.clone()));
    let device_task = tokio::spawn(device::run(app.clone(), stop_rx.clone()));
    let register_task = tokio::spawn(crate::enrol::register_at_start(app.clone()));

    shutdown_signal().await;
    info!("shutting down: finishing the send in progress");
    // Every receiver lives in a task spawned above, so the send reaches them.
    stop_tx.send_replace(true);
    let grace = Duration::from_secs(app.cfg.sender.timeout_secs + 5);
    if tokio::time::timeout(grace, sender_task).await.is_err() {
        warn!("the send in progress did not finish in time");
    }
    if tokio::time::timeout(Duration::from_secs(5), reports_task)
        .await
        .is_err()
    {
        warn!("the report in flight did not finish in time");
    }
    server_task.abort();
    cleanup_task.abort();
    inbox_task.abort();
    forward_task.abort();
    device_task.abort();
    register_task.abort();
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
