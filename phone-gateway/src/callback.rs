//! Posting to the edge's gateway callbacks (delivery reports, received SMS): the URL and the path
//! that is signed, one signed, encrypted POST that counts as done only on a 2xx, and the loop that
//! drains a durable SQLite lane through it in order.

use crate::app::App;
use crate::store::{Store, StoreError};
use crate::{backoff_ms, unix_ms, unix_now};
use otp_shared::wire::{self, Keys, HEADER_REQUEST_ID};
use rand::RngCore;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tracing::{debug, warn};

/// A table of items for one callback, drained oldest first in batches; a batch stays at the head
/// (retried with back-off) until the edge accepts it, so the order holds.
pub struct Lane<T, B> {
    /// What the items are, for the logs ("status reports").
    pub what: &'static str,
    pub callback_path: &'static str,
    pub batch_size: usize,
    /// How long to sleep when the lane is empty and nobody wakes it.
    pub idle: Duration,
    pub wake: fn(&App) -> &Notify,
    pub head: fn(&Store, usize) -> Result<Vec<T>, StoreError>,
    pub seq: fn(&T) -> i64,
    pub attempts: fn(&T) -> u32,
    /// The request id and the body for a batch; None when nothing in it can be sent (then it is done).
    pub body: fn(&[T]) -> Option<(String, B)>,
    pub done: fn(&mut Store, &[i64]) -> Result<(), StoreError>,
    pub failed: fn(&mut Store, &[i64], i64) -> Result<(), StoreError>,
}

/// Drains `lane` to `{edge_url}{callback_path}` until `stop`.
pub async fn drain<T, B>(
    app: Arc<App>,
    edge_url: &str,
    lane: Lane<T, B>,
    mut stop: watch::Receiver<bool>,
) where
    T: Send + 'static,
    B: Serialize,
{
    let (url, path) = match target(edge_url, lane.callback_path) {
        Ok(t) => t,
        Err(e) => return warn!(error = %e, what = lane.what, "callbacks disabled"),
    };
    let client = crate::net::client_builder()
        .timeout(Duration::from_secs(app.cfg.reports.timeout_secs))
        .build()
        .expect("http client");
    let (head, done, failed, limit) = (lane.head, lane.done, lane.failed, lane.batch_size);
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        let items = match app.store.call(move |s| head(s, limit)).await {
            Ok(items) => items,
            Err(e) => {
                warn!(error = %e, what = lane.what, "cannot read the head of the lane");
                Vec::new()
            }
        };
        let pause = if items.is_empty() {
            lane.idle
        } else {
            let seqs: Vec<i64> = items.iter().map(lane.seq).collect();
            let posted = match (lane.body)(&items) {
                Some((request_id, body)) => {
                    post(&app, &client, (&url, &path), request_id, &body).await
                }
                None => Ok(()),
            };
            match posted {
                Ok(()) => {
                    failures = 0;
                    debug!(
                        items = seqs.len(),
                        what = lane.what,
                        "delivered to the edge"
                    );
                    if let Err(e) = app.store.call(move |s| done(s, &seqs)).await {
                        warn!(error = %e, what = lane.what, "cannot mark delivered");
                    }
                    continue;
                }
                Err(why) => {
                    failures += 1;
                    let cfg = &app.cfg.reports;
                    let delay = backoff_ms(cfg.backoff_base_ms, cfg.backoff_max_ms, failures);
                    warn!(items = seqs.len(), what = lane.what, attempts = (lane.attempts)(&items[0]) + 1, error = %why, retry_in_ms = delay, "not accepted by the edge");
                    let next = unix_ms() + delay as i64;
                    if let Err(e) = app.store.call(move |s| failed(s, &seqs, next)).await {
                        warn!(error = %e, what = lane.what, "cannot record the failed attempt");
                    }
                    Duration::from_millis(delay)
                }
            }
        };
        tokio::select! {
            _ = (lane.wake)(&app).notified(), if failures == 0 => {}
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => {}
        }
    }
}

/// The callback URL and the path that is signed (the edge sees the full path, prefix included).
pub fn target(edge_url: &str, callback_path: &str) -> Result<(reqwest::Url, String), String> {
    let url = reqwest::Url::parse(&format!(
        "{}{}",
        edge_url.trim_end_matches('/'),
        callback_path
    ))
    .map_err(|e| format!("bad edge_url: {e}"))?;
    let path = url.path().to_string();
    Ok((url, path))
}

/// Seals `body` for the edge, from this gateway, with fresh nonces.
pub fn seal<T: Serialize>(
    keys: &Keys,
    gateway_id: &str,
    path: &str,
    body: &T,
    now: u64,
) -> wire::SealedRequest {
    let mut header_nonce = [0u8; 16];
    let mut aead_nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut header_nonce);
    rand::thread_rng().fill_bytes(&mut aead_nonce);
    let route = wire::Route::new("POST", path, gateway_id);
    wire::seal_json(keys, route, now, header_nonce, aead_nonce, body)
}

/// POSTs `body` sealed; Ok once the edge answered 2xx.
pub async fn post<T: Serialize>(
    app: &App,
    client: &reqwest::Client,
    (url, path): (&reqwest::Url, &str),
    request_id: String,
    body: &T,
) -> Result<(), String> {
    let sealed = seal(
        &app.keys.current(),
        &app.cfg.gateway_id,
        path,
        body,
        unix_now(),
    );
    let mut req = client
        .post(url.clone())
        .header(HEADER_REQUEST_ID, request_id)
        .header("content-type", "application/json");
    for (k, v) in sealed.headers {
        req = req.header(k, v);
    }
    match req.body(sealed.body).send().await {
        Ok(resp) if resp.status().is_success() => Ok(()),
        Ok(resp) => Err(format!("status {}", resp.status())),
        Err(e) => Err(e.without_url().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_path_keeps_the_edge_prefix() {
        let path = wire::PATH_STATUS_CALLBACK;
        assert_eq!(target("http://127.0.0.1:9/", path).unwrap().1, path);
        let (url, signed) = target("https://edge.example/api", path).unwrap();
        assert_eq!(signed, format!("/api{path}"));
        assert_eq!(url.as_str(), format!("https://edge.example/api{path}"));
    }
}
