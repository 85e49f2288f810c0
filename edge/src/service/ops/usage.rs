//! The isolate's analytics counts: every request adds its events here, and they are committed
//! at most once per flush interval (`analytics` says which documents and fields).

use super::analytics::SHARDS;
use crate::platform::Platform;
use crate::service::app::App;
use crate::store::Write;

/// Adds a request's events to the isolate's counts.
pub fn count<P: Platform>(app: &App<P>, items: &[(String, String)], now_ms: i64) {
    if items.is_empty() {
        return;
    }
    if let Ok(mut c) = app.counters.lock() {
        c.buffer.add(items, now_ms);
    }
}

/// Commits the counts gathered so far, no sooner than one flush interval after the last
/// flush; callers that find a flush already waiting leave their counts to it. A failed commit
/// puts the counts back for the next flush.
pub async fn flush_counters<P: Platform>(app: &App<P>) {
    let wait = {
        let Ok(mut c) = app.counters.lock() else {
            return;
        };
        if c.scheduled || c.buffer.is_empty() {
            return;
        }
        c.scheduled = true;
        let due = c.last_flush_ms + app.cfg.counter_flush_ms as i64;
        (due - app.platform.now_ms()).max(0) as u64
    };
    if wait > 0 {
        app.platform.sleep(wait).await;
    }
    let docs = {
        let Ok(mut c) = app.counters.lock() else {
            return;
        };
        c.scheduled = false;
        c.last_flush_ms = app.platform.now_ms();
        c.buffer.take(app.random_below(SHARDS))
    };
    if docs.is_empty() {
        return;
    }
    let writes: Vec<Write> = docs
        .iter()
        .map(|(path, fields)| {
            let f: Vec<(&str, i64)> = fields.iter().map(|(k, n)| (k.as_str(), *n)).collect();
            Write::increments(path.clone(), &f)
        })
        .collect();
    if let Err(e) = app.repo().commit_chunked(writes).await {
        app.platform.log(
            &serde_json::json!({"level": "warn", "event": "counter_flush_failed", "error": e.to_string()})
                .to_string(),
        );
        if let Ok(mut c) = app.counters.lock() {
            c.buffer.restore(docs);
        }
    }
}
