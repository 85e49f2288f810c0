//! The isolate's analytics counts: every request adds its events here, and they are handed to
//! their durable holder (`Platform::tally`) after the answer, or before it for a request that
//! counted a send or a check (`analytics` says which documents and fields).

use crate::platform::Platform;
use crate::service::app::App;
use crate::service::ops::analytics::{counter_increments, SHARDS};

/// Adds a request's events to the isolate's counts.
pub fn count<P: Platform>(app: &App<P>, items: &[(String, String)], now_ms: i64) {
    if items.is_empty() {
        return;
    }
    if let Ok(mut c) = app.counters.lock() {
        c.buffer.add(items, now_ms);
    }
}

/// Times a flush tries to hand counts over before it leaves them to the next one.
const TALLY_TRIES: u32 = 3;

/// Hands the counts gathered so far to their durable holder (which adds them to the store
/// within `COUNTER_FLUSH_MS`). One flush at a time per isolate: a flush already running takes
/// what arrives meanwhile before it ends, so every count is handed over within the work left
/// after some request's answer (`waitUntil`), which an eviction waits for. Counts the holder
/// could not take stay for the next flush.
pub async fn flush_counters<P: Platform>(app: &App<P>) {
    let mut failures = 0;
    loop {
        let docs = {
            let Ok(mut c) = app.counters.lock() else {
                return;
            };
            if c.flushing || c.buffer.is_empty() {
                return;
            }
            c.flushing = true;
            c.buffer.take(app.random_below(SHARDS))
        };
        let handed = app.platform.tally(docs.clone()).await;
        let Ok(mut c) = app.counters.lock() else {
            return;
        };
        c.flushing = false;
        if let Err(e) = handed {
            c.buffer.restore(docs);
            failures += 1;
            if failures >= TALLY_TRIES {
                drop(c);
                app.platform.log(
                    &serde_json::json!({"level": "warn", "event": "counter_flush_failed", "error": e})
                        .to_string(),
                );
                return;
            }
        }
    }
}

/// Makes a request's counts durable before it is answered (those of sends and checks: a
/// crash right after the answer must not lose them). If the holder cannot take them now,
/// they wait in the isolate for the flush after the answer.
pub async fn tally_now<P: Platform>(app: &App<P>, items: &[(String, String)], now_ms: i64) {
    if items.is_empty() {
        return;
    }
    let docs = counter_increments(items, now_ms, app.random_below(SHARDS));
    if app.platform.tally(docs).await.is_err() {
        count(app, items, now_ms);
    }
}
